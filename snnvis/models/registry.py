"""Encoder registry: architecture name -> builder.

An encoder module registers its class with ``@register_encoder("name")``; every module
of ``snnvis.models`` is imported on first lookup, so a new architecture is one module
plus one ``snnvis/conf/model/<config>.yaml`` whose ``name`` selects it::

    _target_: snnvis.models.registry.build_encoder
    name: sew_resnet
    spiking: true
    ...

An encoder outside ``snnvis.models`` needs no registration: its config's ``_target_`` names
the class (``_target_: mypackage.toy.ToyEncoder``; ``name`` is then only a label). Either way
the class declares its tiny test settings in ``TINY`` (:func:`tiny_overrides`).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from typing import Any

from .core import EncoderCore

__all__ = ["ENCODERS", "available_encoders", "build_encoder", "encoder_class", "register_encoder", "tiny_overrides"]

ENCODERS: dict[str, Callable[..., EncoderCore]] = {}
_loaded = False


def register_encoder(name: str) -> Callable[[Callable[..., EncoderCore]], Callable[..., EncoderCore]]:
    """Class decorator: make ``build_encoder(name, **cfg)`` build this encoder."""

    def register(builder: Callable[..., EncoderCore]) -> Callable[..., EncoderCore]:
        if name in ENCODERS and ENCODERS[name] is not builder:
            raise ValueError(f"encoder name {name!r} is registered twice")
        ENCODERS[name] = builder
        return builder

    return register


def _load_all() -> None:
    global _loaded
    if not _loaded:
        package = importlib.import_module(__package__)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{__package__}.{info.name}")
        _loaded = True


def available_encoders() -> list[str]:
    """Registered architecture names."""
    _load_all()
    return sorted(ENCODERS)


def build_encoder(name: str, **cfg: Any) -> EncoderCore:
    """Build the encoder registered as ``name`` from its config keys (Hydra ``_target_``), with the
    config's ``weights`` file loaded (:mod:`snnvis.models.weights`)."""
    _load_all()
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; expected one of {sorted(ENCODERS)}")
    core = ENCODERS[name](**cfg)
    core.name = core.name or name
    from .weights import apply_configured_weights

    return apply_configured_weights(core)


def encoder_class(model_cfg: Any) -> type[EncoderCore]:
    """The encoder class a ``snnvis/conf/model`` entry builds: the registered ``name`` when its
    ``_target_`` is :func:`build_encoder` (or absent), else the class ``_target_`` names."""
    target = model_cfg.get("_target_") if hasattr(model_cfg, "get") else None
    if target in (None, f"{__name__}.build_encoder"):
        _load_all()
        name = model_cfg["name"]
        if name not in ENCODERS:
            raise ValueError(f"unknown encoder {name!r}; expected one of {sorted(ENCODERS)}")
        return ENCODERS[name]
    from hydra.utils import get_class

    return get_class(target)


def tiny_overrides(model_cfg: Any) -> list[str]:
    """Hydra overrides (``model.key=value``) shrinking the encoder of ``model_cfg`` to its ``TINY`` settings."""
    return [
        f"model.{key}={json.dumps(value, separators=(',', ':'))}"
        for key, value in encoder_class(model_cfg).TINY.items()
    ]

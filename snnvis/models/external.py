"""Bring your own model: any ``torch.nn.Module`` as an encoder (``model=external``).

``snnvis-score model=external model.factory=my_pkg.module:make_model 'model.layers=[layer2,layer4]'``
calls ``make_model(**model.factory_kwargs)`` and scores the named submodules (names as in
``named_modules()``) through the same capture, ceilings, held-out layer choice and reports as a
built-in encoder. ``factory`` is ``package.module:function`` or ``path/to/file.py:function``.

Time is laid out as for the built-in encoders (:class:`~snnvis.models.timing.TimeConfig`): stimuli
are preprocessed by ``model.input`` (size, channels, mean/std), a static image lasts
``time.static_steps`` steps, each frame of a sequence ``time.steps_per_frame``.

- A **spiking** module (one holding spikingjelly memory modules, e.g. neurons; ``spiking: auto``
  detects it) is reset with ``functional.reset_net`` before every batch and run for those steps:
  once on ``(T, B, C, H, W)`` when every spikingjelly layer is in multi-step mode (``'m'``), else
  step by step on ``(B, C, H, W)``.
- A **non-spiking** module runs once per frame on ``(B, C, H, W)``; its output is repeated over the
  frame's steps, which is what a built-in ReLU twin computes, at a fraction of the cost.

A layer's activity is its module's output as ``(T, B, features)``; layers have no membrane
potential here (``kind=spikes`` only). ``model.weights=PATH`` loads a state dict of the module.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from spikingjelly.activation_based import base, functional
from torch import nn

from .core import AREAS, EncoderCore, LayerSpec
from .registry import register_encoder

__all__ = ["ExternalEncoder", "load_factory"]


def load_factory(spec: str) -> Callable[..., nn.Module]:
    """The callable ``package.module:function`` (or ``path/to/file.py:function``) names."""
    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"model.factory must be 'package.module:function' or 'file.py:function', got {spec!r}")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise ValueError(f"model.factory: no such file {module_name!r}")
        loader = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ValueError(f"model.factory: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"model.factory: {module_name!r} has no callable {attr!r}")
    return factory


class _Tap(nn.Module):
    """Identity that receives a layer's activity as (T_call, B, ...), so capture hooks see that layout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _tap_key(layer: str) -> str:
    return layer.replace(".", "__")


def _step_modes(net: nn.Module) -> set[str]:
    return {m.step_mode for m in net.modules() if isinstance(m, base.StepModule)}


@register_encoder("external")
class ExternalEncoder(EncoderCore):
    """A user ``nn.Module`` (``self.net``) with candidate layers ``layers``; see the module docstring.

    ``areas``: the visual area each layer models (default: spread from V1 to IT by depth).
    ``spiking``: ``"auto"`` (detect spikingjelly memory modules), or true/false to assert it.
    ``neuron``: unused (the module has its own neurons).
    """

    def __init__(
        self,
        *,
        factory: str | None = None,
        layers: Sequence[str] | None = None,
        areas: Sequence[str] | None = None,
        factory_kwargs: Mapping[str, Any] | None = None,
        spiking: bool | str = "auto",
        **common,
    ) -> None:
        super().__init__(**common)
        if not factory:
            raise ValueError("model=external needs model.factory=package.module:function (returning the nn.Module)")
        net = load_factory(factory)(**dict(factory_kwargs or {}))
        if not isinstance(net, nn.Module):
            raise ValueError(f"model.factory {factory!r} returned a {type(net).__name__}, not a torch.nn.Module")
        self.net = net
        detected = any(isinstance(m, base.MemoryModule) for m in net.modules())
        if spiking != "auto" and bool(spiking) != detected:
            what = "has spikingjelly memory modules" if detected else "has no spikingjelly memory modules"
            raise ValueError(f"model.spiking={spiking} but the module {what}; use model.spiking=auto")
        self.spiking = detected
        modes = _step_modes(net)
        if detected and modes == {"s", "m"}:
            raise ValueError("the module mixes single- and multi-step layers; set one with functional.set_step_mode")
        self.multi_step = detected and modes == {"m"}
        names = [str(n) for n in (layers or [])]
        if not names:
            raise ValueError("model=external needs model.layers=[...]: submodule names of the model to score")
        modules = dict(net.named_modules())
        unknown = [n for n in names if n not in modules or n == ""]
        if unknown:
            shown = [n for n in modules if n][:12]
            raise ValueError(f"model.layers {unknown} are not submodules of the model; some of its names: {shown}")
        if areas is not None and (len(areas) != len(names) or any(a not in AREAS for a in areas)):
            raise ValueError(f"model.areas must give one of {list(AREAS)} per layer ({len(names)}), got {list(areas)}")
        n = len(names)
        self.layer_areas = list(areas) if areas is not None else [AREAS[round(3 * i / max(n - 1, 1))] for i in range(n)]
        self.layer_names = names
        self.taps = nn.ModuleDict({_tap_key(name): _Tap() for name in names})

    def _hooks(self, repeat: int) -> list:
        """Forward hooks passing each layer's output to its tap as (steps, B, ...), for one call."""

        def hook(module, inputs, output, tap):
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"layer {type(module).__name__} returns a {type(output).__name__}, not a tensor")
            tap(output if self.multi_step else output.unsqueeze(0).expand(repeat, *output.shape))

        modules = dict(self.net.named_modules())
        return [
            modules[name].register_forward_hook(functools.partial(hook, tap=self.taps[_tap_key(name)]))
            for name in self.layer_names
        ]

    def forward(self, stimuli: torch.Tensor) -> torch.Tensor:
        """(B, F, C, H, W) -> the module's output over time (T, B, ...), T = ``time.n_steps(F)``."""
        repeat = 1 if self.spiking else self.time.n_steps(stimuli.shape[1]) // stimuli.shape[1]
        handles = self._hooks(repeat)
        try:
            return self._run(self.stimulus(stimuli), repeat)
        finally:
            for handle in handles:
                handle.remove()

    def _run(self, x: torch.Tensor, repeat: int) -> torch.Tensor:
        if self.spiking:
            functional.reset_net(self.net)
            x_seq = self.time.expand(x)
            if self.multi_step:
                return self.net(x_seq)
            return torch.stack([self.net(x_t) for x_t in x_seq])
        outs = [self.net(x[:, f]) for f in range(x.shape[1])]
        return torch.cat([o.unsqueeze(0).expand(repeat, *o.shape) for o in outs])

    def candidate_layers(self) -> list[LayerSpec]:
        return [
            LayerSpec(name, depth, area, self.taps[_tap_key(name)])
            for depth, (name, area) in enumerate(zip(self.layer_names, self.layer_areas))
        ]

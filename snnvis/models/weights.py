"""Encoder weights from local files (``model.weights=PATH``).

:func:`load_weights` reads ``PATH`` and loads it into a built encoder core. Three layouts:

``snnvis``       a ``snnvis-train`` or ``snnvis-pretrain`` checkpoint (``checkpoints/*.pt``, or a
                 run dir: its ``checkpoints/best.pt``): the ``core.`` entries of its ``model``
                 state dict; readouts (``readouts.``) and a classification head (``head.``) are
                 not part of the core and are left out. A bare core state dict also loads.
``resnet``       a ResNet in the torchvision / spikingjelly model-zoo key layout (``conv1``,
                 ``bn1``, ``layer<i>.<j>.conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample.0/1``,
                 spikingjelly's neuron parameters ``sn1``/``sn2``/``downsample_sn``; ``fc`` is the
                 classifier and is left out), into a ``sew_resnet`` core (SNN or twin): the stem
                 takes ``conv1``/``bn1``, stage ``i`` takes ``layer<i+1>``. A spikingjelly
                 SEW-ResNet (``spikingjelly.activation_based.model.sew_resnet``) then computes
                 exactly what the snnvis SEW-ResNet with the same neuron and connect function
                 computes. The twin is a SEW network with ReLUs (ReLU before the residual sum
                 and on the projection shortcut), so torchvision weights load into its layers
                 but do not reproduce torchvision's ResNet function (ReLU after the sum).
``external``     a state dict of a user model (``model=external``) in its own key layout.

Wrapped dicts (``{"model": ...}`` or ``{"state_dict": ...}``, as training scripts save them) and
DistributedDataParallel's ``module.`` prefix are unwrapped first. A file that does not fit the
core is a :class:`~snnvis.errors.UserError` naming the missing and unexpected keys on one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from snnvis.errors import UserError

__all__ = ["apply_configured_weights", "core_entries", "load_weights", "read_state", "resnet_to_sew"]

KEY = "model.weights"
_SHOWN = 4  # keys named per list in an error line
_RESNET_BLOCK = re.compile(r"^layer(\d+)\.(\d+)\.(.+)$")
_BLOCK_PARTS = {
    "conv1.weight": "conv1.0.weight",
    "conv2.weight": "conv2.0.weight",
    "downsample.0.weight": "downsample.0.0.weight",
}
_BLOCK_PREFIXES = {
    "bn1.": "conv1.1.",
    "bn2.": "conv2.1.",
    "downsample.1.": "downsample.0.1.",
    "sn1.": "sn1.",
    "sn2.": "sn2.",
    "downsample_sn.": "downsample.1.",
}
_STEM_PREFIXES = {"conv1.": "stem.conv.0.", "bn1.": "stem.conv.1.", "sn1.": "stem.sn."}


def checkpoint_file(path: str | Path, key: str = KEY) -> Path:
    """``path`` itself, or ``checkpoints/best.pt`` of a run dir; UserError (about ``key``) when missing."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "best.pt"
    if not path.is_file():
        raise UserError(key, "no such file (give a .pt file or a run dir with checkpoints/best.pt)", path)
    return path


def read_state(path: str | Path, key: str = KEY) -> tuple[dict[str, torch.Tensor], bool]:
    """The state dict in ``path`` and whether it is a snnvis model's (``core.`` entries)."""
    path = checkpoint_file(path, key)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file is the user's input
        raise UserError(key, f"cannot be read as a torch file ({' '.join(str(err).split())[:120]})", path) from None
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(key, f"holds a {type(obj).__name__}, not a state dict (names -> tensors)", path)
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    is_snnvis = any(k.startswith("core.") for k in state)
    return (core_entries(state) if is_snnvis else state), is_snnvis


def core_entries(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``core.`` entries of a snnvis model's state dict, prefix removed (and ``torch.compile``'s
    ``_orig_mod.``); readouts and heads are left out."""
    out = {}
    for key, value in state.items():
        if key.startswith("core."):
            key = key[len("core.") :]
            out[key.removeprefix("_orig_mod.")] = value
    return out


def is_resnet_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` has the torchvision / spikingjelly ResNet keys (``conv1``, ``layer1.*``)."""
    return "conv1.weight" in state and any(k.startswith("layer1.") for k in state)


def resnet_to_sew(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str], list[str]]:
    """ResNet-layout keys -> snnvis ``sew_resnet`` core keys; returns (mapped state, new key -> file
    key, file keys with no place). ``fc.*`` (the classifier) is dropped."""
    mapped, origin, unplaced = {}, {}, []
    for key, value in state.items():
        new = None
        if key.startswith("fc."):
            continue
        match = _RESNET_BLOCK.match(key)
        if match:
            stage, block, part = int(match.group(1)) - 1, match.group(2), match.group(3)
            inner = _BLOCK_PARTS.get(part)
            if inner is None:
                inner = next(
                    (new_p + part[len(p) :] for p, new_p in _BLOCK_PREFIXES.items() if part.startswith(p)), None
                )
            if inner is not None and stage >= 0:
                new = f"stages.{stage}.{block}.{inner}"
        else:
            new = next((new_p + key[len(p) :] for p, new_p in _STEM_PREFIXES.items() if key.startswith(p)), None)
        if new is None:
            unplaced.append(key)
        else:
            mapped[new], origin[new] = value, key
    return mapped, origin, unplaced


def _listing(what: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN]) + (f", ... ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")
    return f"{len(keys)} {what} ({shown})"


def _fit(module: nn.Module, state: dict[str, torch.Tensor], origin: dict[str, str], unplaced: list[str]) -> list[str]:
    """Why ``state`` does not load into ``module`` strictly (empty: it fits); unexpected keys are
    named as in the file (``origin``: model key -> file key)."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = unplaced + [origin.get(k, k) for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(_listing("missing keys", missing))
    if unexpected:
        problems.append(_listing("unexpected keys", unexpected))
    if shapes:
        problems.append(_listing("shape mismatches (file vs model)", shapes))
    return problems


def load_weights(core: nn.Module, path: str | Path, key: str = KEY) -> str:
    """Load the weights in ``path`` into ``core`` (strictly); returns the layout it was read as.
    ``key`` is the config key errors name (``model.weights``, or ``checkpoint``).

    Raises:
        UserError: unreadable file, or weights that do not fit ``core`` (one line listing the
            missing and unexpected keys and shape mismatches).
    """
    file = checkpoint_file(path, key)
    state, is_snnvis = read_state(file, key)
    target, origin, unplaced = core, {}, []
    net = getattr(core, "net", None)  # an external model: its own layout loads into the user module
    if is_snnvis:
        layout = "snnvis checkpoint"
    elif is_resnet_layout(state):
        from .sew_resnet import SEWResNet

        if not isinstance(core, SEWResNet):
            raise UserError(
                key,
                f"holds a ResNet (torchvision / spikingjelly layout), which loads only into a sew_resnet "
                f"encoder, not {type(core).__name__}",
                file,
            )
        state, origin, unplaced = resnet_to_sew(state)
        layout = "ResNet (torchvision / spikingjelly SEW-ResNet)"
    elif isinstance(net, nn.Module) and not any(k.startswith("net.") for k in state):
        target, layout = net, "external model"
    else:
        layout = "encoder state dict"
    problems = _fit(target, state, origin, unplaced)
    if problems:
        name = getattr(core, "name", None) or type(core).__name__
        raise UserError(key, f"{layout} does not fit the {name} encoder: " + "; ".join(problems), file)
    target.load_state_dict(state, strict=True)
    return layout


def apply_configured_weights(core: nn.Module) -> nn.Module:
    """Load ``core.weights_file`` (the config's ``weights``) into ``core`` once; returns ``core``."""
    path = getattr(core, "weights_file", None)
    if path and not getattr(core, "_weights_loaded", False):
        load_weights(core, path)
        core._weights_loaded = True
    return core

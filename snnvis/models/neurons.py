"""Spiking neurons (spikingjelly 2.0) and their ReLU twins.

All encoders get their nonlinearities from :func:`make_neuron`: a spikingjelly
``IFNode``/``LIFNode``/``ParametricLIFNode`` in multi-step mode (``step_mode='m'``,
input and output ``(T, batch, ...)``) when ``spiking`` is true, ``nn.ReLU`` otherwise.
The ReLU twin has no parameters; a PLIF neuron has one (its learnable time constant),
so only PLIF networks differ from their twins in parameter count, by one per neuron layer.

Neuron config keys (a mapping, e.g. the ``neuron`` section of a model config):

``type``          ``if`` | ``lif`` | ``plif``
``tau``           membrane time constant in steps (> 1; initial value for PLIF; unused by IF)
``v_threshold``   firing threshold
``v_reset``       a number: hard reset to it; ``null``: soft reset (subtract the threshold)
``surrogate``     class name in ``spikingjelly.activation_based.surrogate`` (ATan, Sigmoid, ...)
``alpha``         surrogate sharpness; ``null`` keeps the surrogate's default
``detach_reset``  detach the reset path from the graph
``decay_input``   LIF/PLIF: whether the input is scaled by 1/tau
``backend``       ``auto`` | ``torch`` | ``triton`` | ``cuda`` (``cupy``: alias of ``cuda``; see below)

Backends. spikingjelly 2.0 has no per-module ``backend`` argument: a neuron runs the
torch reference on CPU, and on CUDA the implementation bound for its neuron type in this
process (``SJ_<TYPE>_CUDA_IMPLEMENTATION``: native ``cuda`` kernels, ``triton`` kernels
or ``torch``). ``auto`` lets spikingjelly choose in its own order (cuda, triton, torch);
an explicit name requests that implementation. spikingjelly 2.0 dropped its CuPy kernels;
``cupy`` is accepted as an alias of their successor, the native ``cuda`` kernels.
:func:`set_backend_for` applies the request once the device is known, checks it with a
small forward and backward on that device, and falls back to ``torch`` with a one-time
warning when the kernel is unavailable (triton not installed, native kernels not built,
or a surrogate without a fused kernel). The binding is per process and per neuron type,
so one process should not mix different explicit requests for the same type.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from torch import nn

__all__ = [
    "BACKENDS",
    "NEURON_TYPES",
    "SPIKING_NEURONS",
    "NeuronConfig",
    "canonical_backend",
    "make_neuron",
    "membrane_potential",
    "neuron_type_of",
    "set_backend_for",
]

NEURON_TYPES: dict[str, type[neuron.BaseNode]] = {
    "if": neuron.IFNode,
    "lif": neuron.LIFNode,
    "plif": neuron.ParametricLIFNode,
}
SPIKING_NEURONS = tuple(NEURON_TYPES.values())
BACKENDS = ("auto", "torch", "triton", "cuda")
_BACKEND_ALIASES = {"cupy": "cuda"}

# spikingjelly 2.0 operator package of each neuron type (spikingjelly._ops.<package>).
_OPS_PACKAGE = {"if": "if_", "lif": "lif", "plif": "plif"}
_warned: set[tuple[str, str, str]] = set()


@dataclass(frozen=True)
class NeuronConfig:
    """Validated neuron settings; see the module docstring for the meaning of each key."""

    type: str = "lif"
    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: float | None = 0.0
    surrogate: str = "ATan"
    alpha: float | None = None
    detach_reset: bool = True
    decay_input: bool = True
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.type not in NEURON_TYPES:
            raise ValueError(f"unknown neuron type {self.type!r}; expected one of {sorted(NEURON_TYPES)}")
        object.__setattr__(self, "backend", canonical_backend(self.backend))
        if self.type != "if" and not float(self.tau) > 1.0:
            raise ValueError(f"neuron tau must be > 1 (in steps), got {self.tau}")
        surrogate_class(self.surrogate)  # raises on an unknown name

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | NeuronConfig | None) -> NeuronConfig:
        """Build from a config mapping; unknown keys raise ValueError."""
        if isinstance(cfg, NeuronConfig):
            return cfg
        cfg = dict(cfg or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"unknown neuron config keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**cfg)


def canonical_backend(name: str) -> str:
    """``name`` as one of :data:`BACKENDS` (``cupy`` -> ``cuda``); ValueError if unknown."""
    name = _BACKEND_ALIASES.get(name, name)
    if name not in BACKENDS:
        raise ValueError(f"unknown neuron backend {name!r}; expected one of {list(BACKENDS) + list(_BACKEND_ALIASES)}")
    return name


def surrogate_class(name: str) -> type[surrogate.SurrogateFunctionBase]:
    """The spikingjelly surrogate class called ``name`` (e.g. ``"ATan"``)."""
    cls = getattr(surrogate, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, surrogate.SurrogateFunctionBase)) or (
        cls is surrogate.SurrogateFunctionBase
    ):
        valid = sorted(
            n
            for n, c in vars(surrogate).items()
            if isinstance(c, type)
            and issubclass(c, surrogate.SurrogateFunctionBase)
            and c is not surrogate.SurrogateFunctionBase
        )
        raise ValueError(f"unknown surrogate {name!r}; expected one of {valid}")
    return cls


def make_neuron(spiking: bool, cfg: Mapping[str, Any] | NeuronConfig | None = None) -> nn.Module:
    """One neuron layer: a multi-step spikingjelly node, or ``nn.ReLU`` when not spiking.

    Input and output are ``(T, batch, ...)`` for both. The config is validated in both
    cases, so a twin rejects the same bad config as its SNN.
    """
    cfg = NeuronConfig.from_mapping(cfg)
    if not spiking:
        return nn.ReLU()
    sg_cls = surrogate_class(cfg.surrogate)
    sg = sg_cls() if cfg.alpha is None else sg_cls(alpha=float(cfg.alpha))
    common = dict(
        v_threshold=float(cfg.v_threshold),
        v_reset=None if cfg.v_reset is None else float(cfg.v_reset),
        surrogate_function=sg,
        detach_reset=bool(cfg.detach_reset),
        step_mode="m",
    )
    if cfg.type == "if":
        node = neuron.IFNode(**common)
    elif cfg.type == "lif":
        node = neuron.LIFNode(tau=float(cfg.tau), decay_input=bool(cfg.decay_input), **common)
    else:
        node = neuron.ParametricLIFNode(init_tau=float(cfg.tau), decay_input=bool(cfg.decay_input), **common)
    node.requested_backend = cfg.backend
    return node


def neuron_type_of(node: nn.Module) -> str:
    """``"if"``, ``"lif"`` or ``"plif"`` for a spikingjelly node built by :func:`make_neuron`."""
    for name, cls in NEURON_TYPES.items():
        if type(node) is cls:
            return name
    raise ValueError(f"{type(node).__name__} is not a supported spiking neuron")


def membrane_potential(
    node: nn.Module, x_seq: torch.Tensor, v_before: torch.Tensor | float, v_seq: torch.Tensor
) -> torch.Tensor:
    """Membrane potential before firing and reset, ``H[t]``, for one call of ``node``.

    ``x_seq`` (T, batch, ...) is the call's input, ``v_before`` the node's state before the
    call (a float right after a reset) and ``v_seq`` (T, batch, ...) the post-reset
    potentials the node stored with ``store_v_seq=True``. ``H[t]`` is the charge equation
    applied to ``V[t-1]`` and ``X[t]``: IF ``V + X``; LIF/PLIF the leaky integration
    (``spikingjelly.activation_based.functional.lif_charge``; PLIF with tau = 1/sigmoid(w)).
    """
    v0 = torch.as_tensor(v_before, dtype=x_seq.dtype, device=x_seq.device).expand_as(x_seq[0])
    v_prev = torch.cat([v0.unsqueeze(0), v_seq[:-1].to(x_seq.dtype)], dim=0)
    kind = neuron_type_of(node)
    if kind == "if":
        return v_prev + x_seq
    tau = node.tau if kind == "lif" else 1.0 / node.w.sigmoid()
    return functional.lif_charge(x_seq, v_prev, tau, node.decay_input, node.v_reset)


def _backend_requests(model: nn.Module, override: str | None) -> dict[str, tuple[str, nn.Module]]:
    """Neuron type -> (requested backend, one example node); conflicting requests raise."""
    requests: dict[str, tuple[str, nn.Module]] = {}
    for m in model.modules():
        if isinstance(m, SPIKING_NEURONS):
            kind = neuron_type_of(m)
            backend = override or getattr(m, "requested_backend", "auto")
            if kind in requests and requests[kind][0] != backend:
                raise ValueError(
                    f"{kind} neurons request both {requests[kind][0]!r} and {backend!r}; spikingjelly 2.0 binds "
                    "one implementation per neuron type and process"
                )
            requests.setdefault(kind, (backend, m))
    return requests


def _request_cuda_implementation(kind: str, backend: str) -> None:
    """Ask spikingjelly to bind ``backend`` for neuron type ``kind`` on CUDA.

    spikingjelly 2.0 reads ``SJ_<TYPE>_CUDA_IMPLEMENTATION`` when its operator package is
    first imported and caches the binding per device; it has no public setter, so an
    already-imported package gets its request updated and its cached bindings cleared.
    """
    os.environ[f"SJ_{kind.upper()}_CUDA_IMPLEMENTATION"] = backend
    ops = sys.modules.get(f"spikingjelly._ops.{_OPS_PACKAGE[kind]}")
    selection = getattr(ops, "_selection", None)
    if selection is None or selection._requested == backend:
        return
    with selection._lock:
        selection._requested = backend
        selection._selections.clear()
        selection._compiled_selections.clear()


def _has_fused_surrogate(node: nn.Module) -> bool:
    """Whether spikingjelly has a fused CUDA kernel for the node's surrogate."""
    from spikingjelly._ops.surrogate import _surrogate_spec

    return _surrogate_spec(node.surrogate_function) is not None


def _probe(node: nn.Module, device: torch.device) -> None:
    """A forward and backward through a copy of ``node`` on ``device``; raises on failure."""
    probe = copy.deepcopy(node).to(device)
    probe.reset()
    x = torch.full((3, 2, 4), 0.7, device=device, requires_grad=True)
    probe(x).sum().backward()
    torch.cuda.synchronize(device)


def _warn_once(kind: str, backend: str, message: str) -> None:
    key = (kind, backend, message)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def set_backend_for(model: nn.Module, device: torch.device | str, backend: str | None = None) -> dict[str, str]:
    """Bind the spiking-neuron implementation for ``model`` on ``device``.

    Call after ``model.to(device)``. ``backend`` (one of :data:`BACKENDS`, or ``cupy``)
    overrides the backend every node was configured with; ``None`` keeps the configured
    ones. Returns neuron type -> implementation actually used
    (``"torch"``, ``"triton"`` or ``"cuda"``); on CPU every type runs ``"torch"``. On CUDA a
    requested implementation that fails a probe forward/backward falls back to ``"torch"``
    with a one-time RuntimeWarning; ``auto`` warns once when spikingjelly finds no kernel.
    """
    device = torch.device(device)
    requests = _backend_requests(model, None if backend is None else canonical_backend(backend))
    if device.type != "cuda":
        return {kind: "torch" for kind in requests}
    bound = {}
    for kind, (requested, node) in requests.items():
        _request_cuda_implementation(kind, requested)
        try:
            _probe(node, device)
            implementation = functional.neuron_implementation(kind, device)
        except Exception as err:  # any failing kernel (missing, unbuildable, unsupported) -> torch
            _warn_once(
                kind,
                requested,
                f"{kind} neurons: {requested!r} implementation unavailable on {device} ({err}); using torch",
            )
            _request_cuda_implementation(kind, "torch")
            bound[kind] = "torch"
            continue
        name = implementation["implementation"]
        if name != "torch" and not _has_fused_surrogate(node):
            name = "torch"
            _warn_once(
                kind,
                requested,
                f"{kind} neurons: surrogate {type(node.surrogate_function).__name__} has no "
                "fused CUDA kernel; spikingjelly runs the torch reference",
            )
        elif name == "torch" and requested == "auto":
            _warn_once(
                kind,
                requested,
                f"{kind} neurons: no fused CUDA kernel on {device} ({implementation['unavailable']}); using torch",
            )
        bound[kind] = name
    return bound

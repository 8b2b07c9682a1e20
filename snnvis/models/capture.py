"""Record layer activity of an encoder with forward hooks.

:func:`capture_activations` runs stimuli through a core and returns, for each candidate
layer (:meth:`~snnvis.models.core.EncoderCore.candidate_layers`), a (T, batch, features)
tensor:

``kind="spikes"``    the layer's output: a block's output as the next block sees it (for a
                     SEW block ``g(A, S)``, which can exceed 1), else the neuron's spikes
                     (ReLU outputs for a twin);
``kind="membrane"``  the potential the layer's neuron compares with its threshold, before
                     reset (:func:`~snnvis.models.neurons.membrane_potential`); for a ReLU
                     twin the ReLU's input (its pre-activation). Only for layers whose
                     output is a neuron's output (:attr:`LayerSpec.membrane_module`);
                     others raise ValueError.

With ``projection_dim`` each layer's features are projected on the fly by a fixed
Gaussian random matrix (features -> projection_dim, entries N(0, 1/projection_dim)),
determined by ``seed`` and the layer name, so batches of one stimulus set are projected
consistently and the full feature maps are never kept. The model's train/eval mode is
left as it is: call ``.eval()`` first for batch-independent BatchNorm.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from .core import EncoderCore, LayerSpec
from .neurons import SPIKING_NEURONS, membrane_potential

__all__ = ["GaussianProjection", "capture_activations", "layer_hooks", "select_layers"]

KINDS = ("spikes", "membrane")


class GaussianProjection:
    """Seeded random projection (N, in_features) -> (N, out_features).

    The matrix is built in row blocks of ``block_rows`` input features, block ``j`` drawn
    from a generator seeded by ``sha256(seed, name, j)``, so it depends only on
    ``(seed, name, in_features, out_features)``. It is cached when it has at most
    ``cache_limit`` entries and regenerated block by block on each call otherwise.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        seed: int,
        name: str,
        block_rows: int = 4096,
        cache_limit: int = 1 << 26,
    ):
        self.in_features, self.out_features = in_features, out_features
        self.seed, self.name, self.block_rows = seed, name, block_rows
        self._cached = None
        if in_features * out_features <= cache_limit:
            self._cached = torch.cat([self._block(j) for j in range(self._n_blocks())])

    def _n_blocks(self) -> int:
        return -(-self.in_features // self.block_rows)

    def _block(self, j: int) -> torch.Tensor:
        digest = hashlib.sha256(f"{self.seed}:{self.name}:{j}".encode()).digest()
        generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
        rows = min(self.block_rows, self.in_features - j * self.block_rows)
        return torch.randn(rows, self.out_features, generator=generator) / self.out_features**0.5

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._cached is not None:
            return x @ self._cached.to(x)
        out = x.new_zeros(x.shape[0], self.out_features)
        for j in range(self._n_blocks()):
            rows = slice(j * self.block_rows, (j + 1) * self.block_rows)
            out += x[:, rows] @ self._block(j).to(x)
        return out


def _resolve_core(model_or_core: nn.Module) -> EncoderCore:
    core = getattr(model_or_core, "core", model_or_core)
    core = getattr(core, "_orig_mod", core)  # a torch.compile'd core
    if not isinstance(core, EncoderCore):
        raise TypeError(f"expected an EncoderCore or a model with .core, got {type(model_or_core).__name__}")
    return core


def select_layers(core: EncoderCore, layers: Sequence[str] | None) -> list[LayerSpec]:
    """The candidate layers named in ``layers`` (all when None); ValueError for unknown names."""
    specs = core.candidate_layers()
    if layers is None:
        return specs
    by_name = {spec.name: spec for spec in specs}
    unknown = [name for name in layers if name not in by_name]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; candidate layers are {list(by_name)}")
    return [by_name[name] for name in layers]


@contextlib.contextmanager
def layer_hooks(
    specs: Sequence[LayerSpec], kind: str = "spikes", projection_dim: int | None = None, seed: int = 0
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Hook the layers in ``specs`` while the block runs; yields name -> list of (T_call, B, features) chunks.

    A layer called once per step (recurrent encoders) contributes one chunk per call.
    Hooks are removed and neuron settings restored on exit.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown activation kind {kind!r}; expected one of {list(KINDS)}")
    records: dict[str, list[torch.Tensor]] = {spec.name: [] for spec in specs}
    projections: dict[str, GaussianProjection] = {}
    handles, restore = [], []

    def store(name: str, value: torch.Tensor) -> None:
        flat = value.detach().flatten(2)
        if projection_dim is not None:
            t, b, n = flat.shape
            if name not in projections:
                projections[name] = GaussianProjection(n, projection_dim, seed, name)
            flat = projections[name](flat.reshape(t * b, n)).reshape(t, b, projection_dim)
        records[name].append(flat)

    if kind == "membrane":
        missing = [spec.name for spec in specs if spec.membrane_module is None]
        if missing:
            raise ValueError(
                f"layers {missing} are block outputs, not a neuron's output: they have no membrane "
                "potential; use kind='spikes' or layers that are neuron outputs"
            )
    for spec in specs:
        module, name = (spec.module if kind == "spikes" else spec.membrane_module), spec.name
        if kind == "spikes":
            handles.append(module.register_forward_hook(lambda m, inp, out, name=name: store(name, out)))
        elif isinstance(module, SPIKING_NEURONS):
            restore.append((module, module.store_v_seq))
            module.store_v_seq = True
            before: dict[str, object] = {}

            def pre(m, inp, before=before):
                before["v"] = m.v.detach().clone() if isinstance(m.v, torch.Tensor) else m.v

            def post(m, inp, out, name=name, before=before):
                store(name, membrane_potential(m, inp[0], before["v"], m.v_seq))

            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        elif isinstance(module, nn.ReLU):
            handles.append(module.register_forward_hook(lambda m, inp, out, name=name: store(name, inp[0])))
        else:
            raise ValueError(f"layer {name!r} is a {type(module).__name__}, not a neuron: it has no membrane potential")
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in restore:
            module.store_v_seq = flag


@torch.no_grad()
def capture_activations(
    model_or_core: nn.Module,
    stimuli: torch.Tensor,
    layers: Sequence[str] | None = None,
    kind: str = "spikes",
    projection_dim: int | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Layer name -> activity (T, batch, features) for ``stimuli`` (batch, frames, C, H, W).

    ``layers``: candidate-layer names (default: all). ``kind``: ``"spikes"`` or
    ``"membrane"``. ``projection_dim``: project features to this many dimensions with
    the seeded Gaussian matrix of each layer.
    """
    core = _resolve_core(model_or_core)
    specs = select_layers(core, layers)
    with layer_hooks(specs, kind, projection_dim, seed) as records:
        core(stimuli)
    return {name: torch.cat(chunks) for name, chunks in records.items()}

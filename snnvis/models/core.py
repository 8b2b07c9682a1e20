"""Base class of every encoder (the shared core of a neural-response model) and its layer specs.

An :class:`EncoderCore` maps stimuli ``(batch, frames, C, H, W)`` to feature maps
``(T, batch, C', H', W')`` over ``T`` simulation steps. It owns the stimulus
preprocessing (:class:`~snnvis.models.input.StimulusInput`), the time layout
(:class:`~snnvis.models.timing.TimeConfig`) and the neuron settings; subclasses build
their layers with :meth:`EncoderCore.make_neuron` (so ``spiking: false`` swaps every
neuron for ``nn.ReLU``) and implement :meth:`encode` and :meth:`candidate_layers`.
Every forward starts from reset neuron states, so independent stimuli never share state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from spikingjelly.activation_based import functional
from torch import nn

from .input import StimulusInput
from .neurons import SPIKING_NEURONS, NeuronConfig, make_neuron
from .timing import TimeConfig

__all__ = ["AREAS", "EncoderCore", "LayerSpec", "build_section"]

AREAS = ("V1", "V2", "V4", "IT")


@dataclass(frozen=True)
class LayerSpec:
    """A layer offered for comparison with recordings.

    ``name``: unique within the encoder. ``depth``: position along the feedforward
    hierarchy (0 = closest to the input). ``area``: the visual area it is meant to
    model (V1, V2, V4 or IT). ``module``: the module whose output is the layer's
    activity. For a block (a residual block, a recurrent area) that is the block's
    output, the tensor the next block (or the readout) receives, not an inner neuron.
    ``neuron``: the neuron layer whose membrane potential is the layer's
    ``kind="membrane"`` activity; only set where the block's output is that neuron's
    output unchanged. When ``module`` is itself a neuron (spikingjelly node or its
    ``nn.ReLU`` twin) it is used; otherwise the layer has no membrane potential (e.g.
    a SEW block's ``A + S``).
    """

    name: str
    depth: int
    area: str
    module: nn.Module
    neuron: nn.Module | None = None

    @property
    def membrane_module(self) -> nn.Module | None:
        """The neuron whose membrane potential stands for this layer, or None."""
        if self.neuron is not None:
            return self.neuron
        return self.module if isinstance(self.module, SPIKING_NEURONS + (nn.ReLU,)) else None


def build_section(section: str, factory: Callable[..., Any], cfg: Mapping[str, Any] | None) -> Any:
    """``factory(**cfg)``, with a ValueError naming ``section`` for keys it does not take."""
    cfg = dict(cfg or {})
    accepted = set(inspect.signature(factory).parameters)
    unknown = sorted(set(cfg) - accepted)
    if unknown:
        raise ValueError(f"unknown {section} config keys {unknown}; expected a subset of {sorted(accepted)}")
    return factory(**cfg)


class EncoderCore(nn.Module):
    """Stimuli (B, F, C, H, W) -> features (T, B, C', H', W').

    ``spiking``: spikingjelly neurons (True) or their ReLU twins (False).
    ``name``: the config's ``name``, kept as a label (the registry consumes it otherwise).
    ``neuron``/``input``/``time``: config sections for
    :class:`~snnvis.models.neurons.NeuronConfig`,
    :class:`~snnvis.models.input.StimulusInput` and
    :class:`~snnvis.models.timing.TimeConfig`.
    ``weights``: a file of weights loaded once the encoder is built
    (:mod:`snnvis.models.weights`); None: the seeded random initialisation.
    """

    #: Config keys (under ``model.``) that shrink this encoder to a few channels, for tests and
    #: benchmarks; see :func:`snnvis.models.registry.tiny_overrides`. Input size and steps are the caller's.
    TINY: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        *,
        name: str | None = None,
        spiking: bool = True,
        neuron: Mapping[str, Any] | None = None,
        input: Mapping[str, Any] | None = None,
        time: Mapping[str, Any] | None = None,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        self.weights_file = None if weights is None else str(weights)
        self.name = name  # the config's name (a label) when its _target_ is the class itself
        self.spiking = bool(spiking)
        self.neuron_cfg = NeuronConfig.from_mapping(neuron)
        self.stimulus = build_section("input", StimulusInput, input)
        self.time = build_section("time", TimeConfig, time)

    @property
    def dt_ms(self) -> float:
        """Duration of one simulation step (ms)."""
        return self.time.dt_ms

    @property
    def steps_per_frame(self) -> int:
        """Steps each frame of a sequence is shown for."""
        return self.time.steps_per_frame

    @property
    def static_steps(self) -> int:
        """Steps a static image is shown for."""
        return self.time.static_steps

    @property
    def in_channels(self) -> int:
        return self.stimulus.in_channels

    @property
    def input_size(self) -> int:
        return self.stimulus.size

    def make_neuron(self) -> nn.Module:
        """A fresh neuron layer (spiking node or ReLU) with this encoder's settings."""
        return make_neuron(self.spiking, self.neuron_cfg)

    def neurons(self) -> list[nn.Module]:
        """Every neuron layer of the encoder (spikingjelly nodes, or ReLUs for a twin)."""
        kinds = SPIKING_NEURONS + (nn.ReLU,)
        return [m for m in self.modules() if isinstance(m, kinds)]

    def forward(self, stimuli: torch.Tensor) -> torch.Tensor:
        """(B, F, C, H, W) uint8 or float -> (T, B, C', H', W'), T = ``time.n_steps(F)``."""
        functional.reset_net(self)
        return self.encode(self.time.expand(self.stimulus(stimuli)))

    def encode(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Preprocessed input (T, B, in_channels, size, size) -> (T, B, C', H', W')."""
        raise NotImplementedError

    def candidate_layers(self) -> list[LayerSpec]:
        """Layers offered for comparison with recordings, in depth order."""
        raise NotImplementedError

    @torch.no_grad()
    def output_shape(self) -> tuple[int, int, int]:
        """(C', H', W') of the output, from a dry run on one static image at the input size.

        Runs in eval mode and restores every submodule's mode and the neuron states after.
        """
        modes = {m: m.training for m in self.modules()}
        self.eval()
        try:
            device = next(self.parameters()).device
            probe = torch.zeros(1, 1, self.in_channels, self.input_size, self.input_size, device=device)
            out = self(probe)
        finally:
            for m, training in modes.items():
                m.training = training
            functional.reset_net(self)
        return tuple(out.shape[2:])

"""The full neural-response model: one shared encoder core and one readout per session."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .core import EncoderCore
from .readouts import Readout, build_readout
from .registry import build_encoder
from .timing import step_window_matrix
from .weights import apply_configured_weights

__all__ = ["NeuralEncoderModel", "build_model", "calibrate_batchnorm", "count_params", "plain_config"]


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if ``trainable_only``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def plain_config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config (dict or OmegaConf DictConfig) as a plain dict without Hydra's ``_target_``-style keys."""
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in cfg.items() if not (k.startswith("_") and k.endswith("_"))}


class NeuralEncoderModel(nn.Module):
    """Shared core + per-session readouts: stimuli (B, F, C, H, W) -> responses (B, n_bins, n_neurons).

    ``readouts`` maps session ids to readouts; :meth:`add_session` adds one sized from the
    core's output shape (found by a dry run at the configured input size).
    """

    def __init__(self, core: EncoderCore, readouts: nn.ModuleDict | None = None) -> None:
        super().__init__()
        self.core = core
        self.readouts = readouts if readouts is not None else nn.ModuleDict()
        self._core_shape: tuple[int, int, int] | None = None

    @property
    def core_output_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the core's output at the configured input size."""
        if self._core_shape is None:
            self._core_shape = self.core.output_shape()
        return self._core_shape

    def add_session(self, session_id: str, n_neurons: int, readout_cfg: Mapping[str, Any]) -> Readout:
        """Build and register the readout of ``session_id`` from ``readout_cfg`` (``name`` + keys)."""
        if not isinstance(session_id, str) or not session_id or "." in session_id:
            raise ValueError(f"session id must be a non-empty string without '.', got {session_id!r}")
        if session_id in self.readouts:
            raise ValueError(f"session {session_id!r} already has a readout")
        device = next(self.core.parameters()).device
        if "_target_" in readout_cfg:  # a snnvis/conf/readout entry (``_partial_``): Hydra builds it
            from hydra.utils import instantiate

            readout = instantiate(readout_cfg)(in_shape=self.core_output_shape, n_neurons=n_neurons)
        else:
            readout = build_readout(in_shape=self.core_output_shape, n_neurons=n_neurons, **plain_config(readout_cfg))
        self.readouts[session_id] = readout.to(device)
        return readout

    def rates(self, stimuli: torch.Tensor, session: str) -> torch.Tensor:
        """Per-step predicted rates (T, B, n_neurons) of ``session``'s neurons."""
        if session not in self.readouts:
            raise KeyError(f"no readout for session {session!r}; known: {sorted(self.readouts)}")
        return self.readouts[session](self.core(stimuli))

    def forward(self, stimuli: torch.Tensor, session: str, bin_matrix: torch.Tensor | None = None) -> torch.Tensor:
        """Responses (B, n_bins, n_neurons) of ``session`` to ``stimuli`` (B, F, C, H, W).

        ``bin_matrix`` (n_bins, T) maps steps to time bins (see
        :func:`~snnvis.models.readouts.time_bin_matrix`). Without it, a static image
        (F = 1) gives one bin averaging ``time.static_window_steps`` and a sequence
        gives one bin per step.
        """
        rates = self.rates(stimuli, session)
        n_steps = rates.shape[0]
        if bin_matrix is None:
            if stimuli.shape[1] != 1:
                return rates.transpose(0, 1)
            bin_matrix = step_window_matrix(n_steps, *self.core.time.static_window())
        if bin_matrix.dim() != 2 or bin_matrix.shape[1] != n_steps:
            raise ValueError(f"bin_matrix must be (n_bins, {n_steps}) for this stimulus, got {tuple(bin_matrix.shape)}")
        return torch.einsum("kt,tbn->bkn", bin_matrix.to(rates), rates)

    def regularizer(self, session: str) -> torch.Tensor:
        """The readout regularizer of ``session``."""
        return self.readouts[session].regularizer()


def build_model(
    model_cfg: Mapping[str, Any], readout_cfg: Mapping[str, Any], sessions: Mapping[str, int]
) -> NeuralEncoderModel:
    """Core from ``model_cfg`` (a ``snnvis/conf/model`` entry), one readout per session.

    ``sessions`` maps session id -> number of recorded neurons; ``readout_cfg`` is a
    ``snnvis/conf/readout`` entry. Seed beforehand (``snnvis.utils.seed_everything``) for
    reproducible initialisation.
    """
    if "_target_" in model_cfg:  # a snnvis/conf/model entry: Hydra builds what its _target_ names
        from hydra.utils import instantiate

        core = apply_configured_weights(instantiate(model_cfg))  # a class _target_ loads here
    else:
        core = build_encoder(**plain_config(model_cfg))
    model = NeuralEncoderModel(core)
    for session_id, n_neurons in sessions.items():
        model.add_session(session_id, n_neurons, readout_cfg)
    return model


def calibrate_batchnorm(
    core: nn.Module, batches: Sequence[torch.Tensor] | Iterator[torch.Tensor], device: torch.device | str = "cpu"
) -> int:
    """Set every BatchNorm's running statistics to the average batch statistics over ``batches``.

    An untrained network keeps BatchNorm's initial running statistics (mean 0, variance
    1), with which a deep untrained SNN is silent in eval mode. This recomputes them
    from stimuli alone (no neural data), then returns the core to eval mode. Returns the
    number of BatchNorm layers updated (0: nothing to do).
    """
    norms = [m for m in core.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    core.train()
    try:
        for batch in batches:
            core(batch.to(device))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        core.eval()
    return len(norms)

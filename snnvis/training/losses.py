"""Training losses on predicted rates (B, n_bins, n_neurons) and recorded responses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def poisson_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Poisson negative log-likelihood per bin, averaged over bins, neurons and stimuli.

    Equals ``F.poisson_nll_loss(pred, target, log_input=False, full=False, eps=eps)``:
    ``pred - target * log(pred + eps)``. PSTH targets are scored bin by bin.
    """
    return (pred - target * torch.log(pred + eps)).mean()


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred, target)


LOSSES = {"poisson": poisson_loss, "mse": mse_loss}


def get_loss(name: str):
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]

"""A classification head on an encoder core, and the classifier (core + head) that task
pretraining trains.

:class:`TaskClassifier` keeps the encoder under ``core`` exactly as
:class:`~snnvis.models.NeuralEncoderModel` does, so the ``core.*`` entries of its state dict
are those of a ``snnvis-train`` model's core.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn

from snnvis.config import build
from snnvis.errors import UserError

__all__ = ["ClassifierHead", "TaskClassifier", "build_classifier"]


NORMS = ("layer", "batch", "none")


class ClassifierHead(nn.Module):
    """Features (T, B, C, H, W) -> logits (B, n_classes): the mean over time (an SNN's rate; a
    twin's steps are equal) and space, a normalisation of the pooled features, optional
    dropout, then a linear layer.

    ``norm``: ``layer`` (LayerNorm over the channels, per sample; the default), ``batch``
    (BatchNorm1d) or ``none``. An SNN's pooled rates are small (a few percent at
    initialisation), so without a normalisation its head learns far more slowly than the twin's.
    """

    def __init__(self, in_features: int, n_classes: int, dropout: float = 0.0, norm: str = "layer") -> None:
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"head.dropout must be in [0, 1), got {dropout}")
        if norm not in NORMS:
            raise ValueError(f"head.norm must be one of {', '.join(NORMS)}, got {norm!r}")
        n = int(in_features)
        self.norm = {"layer": nn.LayerNorm(n), "batch": nn.BatchNorm1d(n), "none": nn.Identity()}[norm]
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(n, int(n_classes))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() < 3:
            raise ValueError(f"features must be (T, B, C, ...), got shape {tuple(features.shape)}")
        pooled = features.float().mean(dim=0)
        if pooled.dim() > 2:
            pooled = pooled.flatten(2).mean(dim=2)
        return self.fc(self.dropout(self.norm(pooled)))


class TaskClassifier(nn.Module):
    """Stimuli (B, F, C, H, W) -> logits (B, n_classes) through ``core`` and ``head``."""

    def __init__(self, core: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.core = core
        self.head = head

    def forward(self, stimuli: torch.Tensor) -> torch.Tensor:
        return self.head(self.core(stimuli))


def build_classifier(cfg: DictConfig, n_classes: int) -> TaskClassifier:
    """The encoder of ``cfg.model`` with the head of ``cfg.head`` (``_partial_``, called with the
    core's output channels and ``n_classes``)."""
    core = build(cfg.model, "model")
    try:
        in_features = core.output_shape()[0]
    except (RuntimeError, ValueError) as err:
        raise UserError("model config", " ".join(str(err).split())[:200]) from None
    return TaskClassifier(core, build(cfg.head, "head", in_features, n_classes))

"""Typed schemas of the ``trainer`` and ``data`` config sections, and the value checks.

The dataclasses are stored in Hydra's ConfigStore (``register()``) and merged under the
YAML files of ``snnvis/conf/trainer`` and ``snnvis/conf/data`` (their defaults lists name them), so
a wrong type (``trainer.max_epochs=abc``), a typo key (``trainer.max_epoch=2``) or a string
where a list belongs (``data.recordings=/a.h5``) fails at composition. Ranges that a type
cannot express (``max_epochs >= 1``, ``lr > 0``, ...) are checked by :func:`check_values`
before a run touches its run dir.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig

from snnvis.errors import UserError
from snnvis.training.losses import LOSSES

SCHEMA_GROUP = "schema"
TARGETS = ("rate", "temporal", "psth")
PROTOCOLS = ("independent", "stream", "movie")


@dataclass
class TrainerSchema:
    max_epochs: int = 30
    lr: float = 2.0e-3
    weight_decay: float = 0.0
    loss: str = "poisson"
    patience: int = 5
    device: str = "auto"
    threads: int | None = None
    amp: Any = "auto"
    channels_last: Any = "auto"
    compile: bool = False
    resume: bool = False
    skip_finished: bool = True
    tensorboard: bool = True
    progress: Any = "auto"
    grad_clip: float | None = 10.0
    ensemble: int = 1
    freeze_core: bool = False


@dataclass
class DataSchema:
    recordings: list[str] = field(default_factory=list)
    response: str | None = None
    target: str = "rate"
    image_size: int = 64
    batch_size: int = 32
    latency_ms: float = 0.0
    # target=psth (snnvis/training/psth.py): how stimuli are shown, which response set gives the
    # per-presentation counts scored as pearson_r, the temporal readout's filter length (steps)
    protocol: str | None = None
    count_response: str | None = None
    count_loss: bool = False  # also train on the per-presentation counts (as mean rates in their windows)
    temporal_taps: int = 8
    neuron_taps: int = 1  # a per-neuron causal filter on the drive (1: none)
    latency_search: bool = True  # after each epoch: each neuron's latency by grid search on the training split
    temporal_profile: bool = False  # a learned per-neuron factor on each recorded bin (stimulus-independent)
    shape_loss: float = 0.0  # weight of 1 - r over each (stimulus, neuron)'s recorded bins, added to the loss
    crop: str | None = None


def register() -> None:
    """Store the schemas as ``schema/trainer`` and ``schema/data`` (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(group=SCHEMA_GROUP, name="trainer", node=TrainerSchema)
    cs.store(group=SCHEMA_GROUP, name="data", node=DataSchema)


def _fail(key: str, why: str) -> None:
    raise UserError(key, why)


def check_values(cfg: DictConfig) -> None:
    """UserError for the first out-of-range value of the trainer and data sections."""
    check_trainer(cfg.trainer)
    d = cfg.data
    if d.target not in TARGETS:
        _fail("data.target", f"must be one of {', '.join(TARGETS)}, got {d.target!r}")
    if d.batch_size < 1:
        _fail("data.batch_size", f"must be a positive integer, got {d.batch_size!r}")
    if not math.isfinite(d.latency_ms) or d.latency_ms < 0:
        _fail("data.latency_ms", f"must be a finite number >= 0, got {d.latency_ms!r}")
    if not d.recordings:
        _fail("data.recordings", "no recordings selected")
    if d.get("protocol") is not None and d.protocol not in PROTOCOLS:
        _fail("data.protocol", f"must be null (the recording's) or one of {', '.join(PROTOCOLS)}, got {d.protocol!r}")
    if d.get("temporal_taps", 1) < 1:
        _fail("data.temporal_taps", f"must be a positive integer, got {d.temporal_taps!r}")


def check_trainer(t: DictConfig) -> None:
    """UserError for the first out-of-range value of a ``trainer`` section (also ``snnvis-pretrain``'s)."""
    for key in ("max_epochs", "patience"):
        if not isinstance(t[key], int) or isinstance(t[key], bool) or t[key] < 1:
            _fail(f"trainer.{key}", f"must be a positive integer, got {t[key]!r}")
    if not (isinstance(t.lr, (int, float)) and math.isfinite(t.lr) and t.lr > 0):
        _fail("trainer.lr", f"must be a positive number, got {t.lr!r}")
    if not (math.isfinite(t.weight_decay) and t.weight_decay >= 0):
        _fail("trainer.weight_decay", f"must be >= 0, got {t.weight_decay!r}")
    if t.get("grad_clip") is not None and not t.grad_clip >= 0:
        _fail("trainer.grad_clip", f"must be >= 0 or null, got {t.grad_clip!r}")
    if t.threads is not None and t.threads < 1:
        _fail("trainer.threads", f"must be a positive integer or null (torch's default), got {t.threads!r}")
    if t.loss not in LOSSES:
        _fail("trainer.loss", f"unknown loss {t.loss!r}; choose one of {', '.join(sorted(LOSSES))}")
    n = t.get("ensemble", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        _fail("trainer.ensemble", f"must be a positive integer (members), got {n!r}")

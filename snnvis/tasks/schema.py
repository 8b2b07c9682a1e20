"""Typed schema of the ``data`` section of ``snnvis-pretrain`` and its value checks.

Stored in Hydra's ConfigStore as ``schema/task_data`` (``register()``) and merged under the
files of ``snnvis/conf/task_data``, so a wrong type or a typo key fails at composition;
ranges are checked by :func:`check_task_values` before a run touches its run dir.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from omegaconf import DictConfig

from snnvis.errors import UserError
from snnvis.tasks.datasets import KINDS
from snnvis.training.schema import SCHEMA_GROUP, check_trainer


@dataclass
class TaskDataSchema:
    root: str | None = None
    kind: str = "imagefolder"
    clip_len: int = 8
    frame_stride: int = 1
    batch_size: int = 16
    num_workers: int = 0
    size: int = 64
    scale: list[float] = field(default_factory=lambda: [0.35, 1.0])
    ratio: list[float] = field(default_factory=lambda: [0.75, 4 / 3])
    flip: bool = True
    crop_fraction: float = 0.875


def register() -> None:
    """Store the schema as ``schema/task_data`` (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group=SCHEMA_GROUP, name="task_data", node=TaskDataSchema)


def _positive(d: DictConfig, key: str) -> None:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise UserError(f"data.{key}", f"must be a positive integer, got {v!r}")


def check_task_values(cfg: DictConfig) -> None:
    """UserError for the first out-of-range value of the trainer and data sections."""
    check_trainer(cfg.trainer)
    d = cfg.data
    if not d.root:
        raise UserError("data.root", "not set; pass data.root=DIR (with DIR/train/<class>/ and DIR/val/<class>/)")
    if d.kind not in KINDS:
        raise UserError("data.kind", f"must be one of {', '.join(KINDS)}, got {d.kind!r}")
    for key in ("clip_len", "frame_stride", "batch_size", "size"):
        _positive(d, key)
    if d.num_workers < 0:
        raise UserError("data.num_workers", f"must be >= 0, got {d.num_workers!r}")
    for key, upper in (("scale", 1.0), ("ratio", math.inf)):
        v = list(d[key])
        if len(v) != 2 or not 0 < v[0] <= v[1] <= upper:
            raise UserError(f"data.{key}", f"must be [min, max] with 0 < min <= max <= {upper}, got {v}")
    if not 0 < d.crop_fraction <= 1:
        raise UserError("data.crop_fraction", f"must be in (0, 1], got {d.crop_fraction!r}")

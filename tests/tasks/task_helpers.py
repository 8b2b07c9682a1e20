"""Shared helpers of the snnvis-pretrain tests (imported as ``task_helpers``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

# A core small enough for a few CPU epochs over a few hundred images in seconds.
TINY = [
    "model=sew_resnet_tiny",
    "model.input.size=32",
    "data.size=16",
    "model.input.size=16",
    "model.widths=[8,16,16]",
    "model.stem_width=8",
    "data.batch_size=16",
    "trainer.tensorboard=false",
    "trainer.progress=false",
    "trainer.threads=1",
    "trainer.device=cpu",
]


def compose_pretrain(overrides: list[str]):
    """``snnvis/conf/pretrain.yaml`` composed as ``snnvis-pretrain`` composes it."""
    from snnvis.config import compose
    from snnvis.tasks.schema import register

    register()
    return compose("pretrain", overrides)


def pretrain_cli(args: list[str], timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    """``python -m snnvis.cli.pretrain`` (what the ``snnvis-pretrain`` console script runs)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "snnvis.cli.pretrain", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def comparable(metrics: dict) -> dict:
    """metrics.json without the values that differ between identical runs (timings)."""
    m = json.loads(json.dumps(metrics))
    m["run"].pop("wall_s")
    for row in m["history"]:
        row.pop("epoch_s")
        row.pop("images_per_s")
    return m


def write_clip_folders(root: Path, n_per_class: int = 6, frames: int = 6, size: int = 20) -> Path:
    """root/{train,val}/{bright,dark}/<clip>/<frame>.png: a bright or dark square on noise whose
    frames differ (so the frame order is visible in the data)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls, level in (("bright", 220), ("dark", 30)):
            for c in range(n_per_class):
                d = root / split / cls / f"clip{c:02d}"
                d.mkdir(parents=True)
                for t in range(frames):
                    img = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
                    o = 2 + t
                    img[o : o + 8, o : o + 8] = level
                    Image.fromarray(img).save(d / f"frame{t}.png")
    return root

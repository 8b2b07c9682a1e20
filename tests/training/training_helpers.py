"""Shared helpers of the snnvis-train tests (imported as ``training_helpers``; fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "snnvis" / "conf"
VENV_BIN = Path(sys.executable).parent

# A core small enough that an epoch over ~200 stimuli takes well under a second.
TINY = [
    "model.input.size=16",
    "model.input.in_channels=1",
    "model.input.mean=[0.5]",
    "model.input.std=[0.25]",
    "model.widths=[4,8,8]",
    "model.stem_width=4",
    "model.time.static_steps=2",
    "data.batch_size=16",
    "trainer.max_epochs=3",
    "trainer.patience=10",
    "trainer.tensorboard=false",
    "trainer.progress=false",
    "trainer.threads=1",
    "trainer.device=cpu",
    "baseline=false",
]


def compose_train(overrides: list[str], return_hydra_config: bool = False):
    """``snnvis/conf/train.yaml`` composed with ``overrides`` (Hydra's compose API, no subprocess)."""
    from snnvis.config import compose  # registers the typed sections and ${snnvis_uid:}, as snnvis-train does

    return compose("train", overrides, return_hydra_config=return_hydra_config)


def write_synthetic(path: Path, **kwargs) -> Path:
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.synthetic import SynthConfig, generate_recording

    write_recording(path, generate_recording(SynthConfig(**kwargs)))
    return path


def recordings_override(paths) -> str:
    return "data.recordings=[" + ",".join(str(p) for p in paths) + "]"


def train_cli(args: list[str], cwd: Path = ROOT, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    """Run the ``snnvis-train`` console script of this venv."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [str(VENV_BIN / "snnvis-train"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **popen,
    )


def comparable(metrics: dict) -> dict:
    """metrics.json without the values that legitimately differ between identical runs (times)."""
    m = json.loads(json.dumps(metrics))
    m["run"].pop("wall_s")
    for key in ("wall_s", "train_s", "seconds_per_image"):
        m.get("compute", {}).pop(key, None)
    return m

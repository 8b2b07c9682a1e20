"""Fixtures for the scoring tests: tiny models, synthetic and imported recordings.

Recordings are written once per module; tests/conftest.py runs every test on one thread.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snnvis.config import compose
from snnvis.recordings.format import write_recording
from snnvis.recordings.synthetic import SynthConfig, generate_recording, simulate

ROOT = Path(__file__).resolve().parents[2]
# sew_resnet_tiny shrunk further: 4/8/8 channels, 32x32 input, 3 steps per image
TINY = [
    "model=sew_resnet_tiny",
    "model.stem_width=4",
    "model.widths=[4,8,8]",
    "model.input.size=32",
    "model.time.static_steps=3",
]


def compose_score(*overrides: str):
    """``snnvis/conf/score.yaml`` composed with the tiny model and ``overrides``."""
    return compose("score", [*TINY, "progress=false", *overrides])


@pytest.fixture(name="compose_score")
def _compose_score():
    return compose_score


SYNTH = SynthConfig(n_stimuli=300, n_neurons=24, n_repeats=8, size=32, seed=3, rate_range=(4.0, 20.0))


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """(path, Simulation) of a static synthetic V1 recording with trials and ground truth."""
    path = write_recording(tmp_path_factory.mktemp("synth") / "synth.h5", generate_recording(SYNTH))
    return path, simulate(SYNTH)


@pytest.fixture(scope="session")
def cowley(imported) -> Path:
    """Cowley V4 session 210305, imported once for every scoring test module that reads it."""
    return imported("cowley2023_v4", "210305")


@pytest.fixture(scope="module")
def kriegeskorte(imported) -> Path:
    return imported("kriegeskorte2008_it")

"""Fixtures for the snnvis-train tests: one CPU thread and tiny synthetic recordings.

torch with 2 threads on a shared 2-core machine is far slower than with 1, so every test
here runs torch single-threaded (and subprocess runs pass ``trainer.threads=1``).
Helpers and constants are in ``training_helpers.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training_helpers import write_synthetic


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_recordings(tmp_path_factory) -> list[Path]:
    """Two small static synthetic sessions of different sizes (so the SessionCycler restarts one)."""
    d = tmp_path_factory.mktemp("synth_tiny")
    return [write_synthetic(d / "a.h5", n_stimuli=200, n_neurons=8, n_repeats=4, size=16, seed=1, recording_id="a",
                            rate_range=(0.5, 4.0)),
            write_synthetic(d / "b.h5", n_stimuli=120, n_neurons=6, n_repeats=4, size=16, seed=2, recording_id="b",
                            rate_range=(0.5, 4.0))]

"""Fixtures for the snnvis-train tests: tiny synthetic recordings.

Tests run torch single-threaded (tests/conftest.py); subprocess runs pass ``trainer.threads=1``.
Helpers and constants are in ``training_helpers.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import write_synthetic


@pytest.fixture(scope="session")
def tiny_recordings(tmp_path_factory) -> list[Path]:
    """Two small static synthetic sessions of different sizes (so the SessionCycler restarts one)."""
    d = tmp_path_factory.mktemp("synth_tiny")
    return [
        write_synthetic(
            d / "a.h5",
            n_stimuli=200,
            n_neurons=8,
            n_repeats=4,
            size=16,
            seed=1,
            recording_id="a",
            rate_range=(0.5, 4.0),
        ),
        write_synthetic(
            d / "b.h5",
            n_stimuli=120,
            n_neurons=6,
            n_repeats=4,
            size=16,
            seed=2,
            recording_id="b",
            rate_range=(0.5, 4.0),
        ),
    ]

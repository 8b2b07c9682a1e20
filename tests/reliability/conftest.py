"""Fixtures for the reliability tests: tiny synthetic recordings, the snnvis-train app run
in-process (fast: no interpreter and torch start-up per case) or as the real console
script. Byte-level snapshots and the error-line check are in reliability_helpers.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import TINY, recordings_override, write_synthetic  # noqa: E402


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("reliability_rec")
    return write_synthetic(
        d / "a.h5", n_stimuli=160, n_neurons=8, n_repeats=4, size=16, seed=1, recording_id="a", rate_range=(0.5, 4.0)
    )


@pytest.fixture
def train_args(tiny_recording) -> list[str]:
    return [*TINY, recordings_override([tiny_recording]), "trainer.max_epochs=2"]


@pytest.fixture
def train_app(monkeypatch, capsys):
    """``train_app(args) -> (exit code, stdout, stderr)``: snnvis-train's ``main`` in this process."""
    import logging

    from snnvis.cli import train as cli

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def call(args: list[str]):
        monkeypatch.setattr(sys, "argv", ["snnvis-train", *args])
        monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # main() sets it; monkeypatch restores it
        capsys.readouterr()
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    yield call
    root.handlers[:] = handlers  # Hydra's handlers write to capsys's streams, closed after the test
    root.setLevel(level)

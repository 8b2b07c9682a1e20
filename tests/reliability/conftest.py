"""Fixtures for the reliability tests: tiny synthetic recordings, the snnvis-train app run
in-process (fast: no interpreter and torch start-up per case) or as the real console
script, and byte-level snapshots of run dirs.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import TINY, recordings_override, write_synthetic  # noqa: E402


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden files, .hydra/ and logs included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("snnvis: error:")]


def assert_one_error(stderr: str, expected_start: str) -> None:
    """stderr is exactly one line, the ``snnvis: error:`` line, and it starts as expected."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == error_lines(stderr) and len(lines) == 1, stderr
    assert lines[0].startswith(expected_start), lines[0]
    assert "Traceback" not in stderr


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("reliability_rec")
    return write_synthetic(d / "a.h5", n_stimuli=160, n_neurons=8, n_repeats=4, size=16, seed=1, recording_id="a",
                           rate_range=(0.5, 4.0))


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
        monkeypatch.setenv("HYDRA_FULL_ERROR", "0")   # main() sets it; monkeypatch restores it
        capsys.readouterr()
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    yield call
    root.handlers[:] = handlers   # Hydra's handlers write to capsys's streams, closed after the test
    root.setLevel(level)

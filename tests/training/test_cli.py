"""The ``snnvis-train`` console script: user errors, skipping finished runs, resuming safely."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from training_helpers import TINY, compose_train, recordings_override, train_cli

from snnvis.recordings.root import data_root
from snnvis.training import loop


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("snnvis: error:")]


def _digests(run_dir):
    """sha1 of every output file except Hydra's own .hydra/ and log (rewritten by each launch)."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log"
    }


def test_missing_recording_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nowhere" / "session.h5"
    out = train_cli([*TINY, f"data.recordings=[{missing}]", f"hydra.run.dir={tmp_path / 'run'}"])
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"snnvis: error: recording in {missing}: file not found (a path is taken as given; "
        f"the presets' data root is {data_root()}, set by $SNNVIS_DATA or paths.data)"
    ]
    assert "Traceback" not in out.stdout + out.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.loss=huber", "snnvis: error: trainer.loss: unknown loss 'huber'"),
        ("model.time.static_steps=0", "snnvis: error: model config: time.static_steps must be a positive integer"),
    ],
)
def test_bad_config_value_is_a_user_error(tmp_path, tiny_recordings, override, message):
    """In-process: the loop raises UserError, which the CLI prints as one line with exit 2."""
    from snnvis.errors import UserError

    cfg = compose_train([*TINY, recordings_override(tiny_recordings), override])
    with pytest.raises(UserError) as err:
        loop.run(cfg, tmp_path)
    assert err.value.message.startswith(message)


@pytest.fixture
def finished_run(tmp_path, tiny_recordings):
    """A finished tiny run (in-process, so the CLI calls below are the only subprocesses)."""
    args = [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=2"]
    run_dir = tmp_path / "run"
    metrics = loop.run(compose_train(args), run_dir, model_label="sew_resnet_tiny")
    return args, run_dir, metrics


def test_same_config_twice_is_skipped(finished_run):
    args, run_dir, metrics = finished_run
    before = _digests(run_dir)
    start = time.time()
    out = train_cli([*args, f"hydra.run.dir={run_dir}"])
    assert out.returncode == 0, out.stderr
    assert "skipping" in out.stdout and metrics["run"]["config_hash"] in out.stdout
    assert "epoch" not in out.stdout  # nothing was trained
    assert _digests(run_dir) == before  # and nothing was rewritten
    assert time.time() - start < 60


def test_resume_with_a_different_config_is_refused(finished_run):
    args, run_dir, _ = finished_run
    before = _digests(run_dir)
    out = train_cli([*args, "trainer.lr=5e-3", "trainer.resume=true", f"hydra.run.dir={run_dir}"])
    assert out.returncode == 2
    assert _error_lines(out.stderr) == [
        f"snnvis: error: trainer.resume in {run_dir / 'checkpoints' / 'last.pt'}: "
        "the checkpoint was written by a different config (optimizer.lr: 0.002 -> 0.005, trainer.lr: 0.002 -> 0.005)"
    ]
    assert "Traceback" not in out.stderr
    assert _digests(run_dir) == before  # checkpoints, metrics and predictions untouched
    assert (
        json.loads((run_dir / "metrics.json").read_text())["run"]["config_hash"]
        == finished_run[2]["run"]["config_hash"]
    )


def test_module_entry_point_runs_the_app():
    """``python -m snnvis.cli.train`` (and so ``torchrun -m snnvis.cli.train``) is the app, not a no-op."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "snnvis.cli.train", "--cfg", "job", "trainer.lr=0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "lr: 0.5" in out.stdout


def test_run_log_file_holds_what_stdout_shows_once(tmp_path, tiny_recordings):
    """Hydra's train.log gets the run dir, one line per epoch (as many as log.csv has rows) and the
    result; stdout shows each of them exactly once (the console log handler does not repeat them)."""
    import csv

    run_dir = tmp_path / "run"
    out = train_cli([*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"])
    assert out.returncode == 0, out.stderr
    log_lines = (run_dir / "train.log").read_text().splitlines()
    n_epochs = len(list(csv.DictReader((run_dir / "log.csv").open())))
    assert n_epochs == 2
    for needle in (f"in {run_dir}", *(f"epoch {e:3d}" for e in range(1, n_epochs + 1)), "held-out median r"):
        assert sum(needle in line for line in log_lines) == 1, needle
        assert sum(needle in line for line in out.stdout.splitlines()) == 1, needle

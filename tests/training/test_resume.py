"""A run interrupted mid-epoch and resumed with ``trainer.resume=true`` ends exactly like an
uninterrupted one: same test metrics, same predictions, same training log.

Two interruptions: an exception raised inside the 3rd epoch (in-process), and a real
SIGKILL of an ``snnvis-train`` process after its 2nd checkpoint.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
from training_helpers import ROOT, TINY, VENV_BIN, comparable, compose_train, recordings_override, train_cli

from snnvis.training import epochs, loop

EPOCHS = 4
# a label equal to the one snnvis-train gives (the model config's name), so in-process and CLI runs compare
LABEL = "sew_resnet_tiny"


def _overrides(recordings, *extra):
    # the Gaussian readout draws its read-out positions from torch's RNG in training, so an
    # exact resume needs the RNG states from the checkpoint, not only the weights and shuffles
    return [
        *TINY,
        recordings_override(recordings),
        "readout=gaussian",
        f"trainer.max_epochs={EPOCHS}",
        "trainer.patience=100",
        *extra,
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_recordings):
    """Run A: EPOCHS epochs without interruption (in-process)."""
    import torch

    before = torch.get_num_threads()
    run_dir = tmp_path_factory.mktemp("run_a")
    metrics = loop.run(compose_train(_overrides(tiny_recordings)), run_dir, model_label=LABEL)
    torch.set_num_threads(before)
    return run_dir, metrics


def _log_rows(run_dir):
    return list(csv.DictReader((run_dir / "log.csv").open()))


def _without_timing(rows):
    return [{k: v for k, v in r.items() if k not in ("epoch_s", "images_per_s")} for r in rows]


def _predictions(run_dir):
    with h5py.File(run_dir / "predictions.h5", "r") as f:
        return {f"{s}/{k}": f[s][k][()] for s in f for k in ("prediction", "stimulus_index")}


def assert_same_run(a_dir, a_metrics, b_dir):
    b_metrics = json.loads((b_dir / "metrics.json").read_text())
    assert comparable(b_metrics) == comparable(a_metrics)
    pa, pb = _predictions(a_dir), _predictions(b_dir)
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    assert _without_timing(_log_rows(b_dir)) == _without_timing(_log_rows(a_dir))


def test_uninterrupted_run_is_sane(uninterrupted):
    run_dir, metrics = uninterrupted
    assert metrics["validation"]["epochs_trained"] == EPOCHS
    assert metrics["model"]["name"] == LABEL and metrics["model"]["spiking"] is True
    assert metrics["data"]["sessions"]["a"]["n_neurons"] == 8
    assert metrics["test"]["overall"]["n_neurons"] == 14
    assert [int(r["epoch"]) for r in _log_rows(run_dir)] == list(range(1, EPOCHS + 1))
    # the epochs differ (training happens), so equal logs below are not trivially equal
    assert len({r["train_loss"] for r in _log_rows(run_dir)}) == EPOCHS


def test_exception_mid_epoch_then_resume(tmp_path, tiny_recordings, uninterrupted, monkeypatch, capsys):
    cfg = compose_train(_overrides(tiny_recordings))
    real_step = epochs.train_step
    steps_in_epoch_3 = []

    def crashing_step(*args, **kwargs):
        if (tmp_path / "log.csv").is_file() and len(_log_rows(tmp_path)) == 2:  # 2 checkpoints: in epoch 3
            steps_in_epoch_3.append(1)
            if len(steps_in_epoch_3) == 5:
                raise RuntimeError("simulated crash")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(epochs, "train_step", crashing_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        loop.run(cfg, tmp_path, model_label=LABEL)
    monkeypatch.setattr(epochs, "train_step", real_step)
    assert not (tmp_path / "metrics.json").exists()

    resumed = loop.run(compose_train(_overrides(tiny_recordings, "trainer.resume=true")), tmp_path, model_label=LABEL)
    assert "resuming" in capsys.readouterr().out
    assert comparable(resumed) == comparable(uninterrupted[1])
    assert_same_run(*uninterrupted, tmp_path)


def test_restart_without_resume_starts_over(tmp_path, tiny_recordings, uninterrupted, capsys):
    """A run dir with checkpoints but resume=false trains from scratch (and still matches A)."""
    import shutil

    shutil.copytree(uninterrupted[0] / "checkpoints", tmp_path / "checkpoints")
    metrics = loop.run(compose_train(_overrides(tiny_recordings)), tmp_path, model_label=LABEL)
    assert "starting over" in capsys.readouterr().out
    assert comparable(metrics) == comparable(uninterrupted[1])


def test_sigkill_then_resume(tmp_path, tiny_recordings, uninterrupted):
    run_dir = tmp_path / "run_b"
    args = _overrides(tiny_recordings, f"hydra.run.dir={run_dir}")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [str(VENV_BIN / "snnvis-train"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = run_dir / "log.csv"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if log.is_file() and len(_log_rows(run_dir)) >= 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None and time.time() >= deadline:
            proc.kill()
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == -signal.SIGKILL, output
    assert not (run_dir / "metrics.json").exists()
    killed_rows = _log_rows(run_dir)

    out = train_cli([*args, "trainer.resume=true"])
    assert out.returncode == 0, out.stdout + out.stderr
    resumed_after = int(out.stdout.split("after epoch")[1].split()[0])
    assert 2 <= resumed_after < EPOCHS, out.stdout
    assert_same_run(*uninterrupted, run_dir)
    # the epochs before the kill were restored from the checkpoint, not trained again
    assert _log_rows(run_dir)[:resumed_after] == killed_rows[:resumed_after]

"""A pretraining run interrupted mid-run and resumed with ``trainer.resume=true`` ends exactly like
an uninterrupted one (same metrics, same per-epoch log, same weights): an exception in the 3rd
epoch (in-process) and a SIGKILL of the CLI after its 2nd checkpoint."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from task_helpers import ROOT, TINY, comparable, compose_pretrain, pretrain_cli

from snnvis.tasks import loop
from snnvis.training import checkpoint

EPOCHS = 4
LABEL = "sew_resnet_tiny"


def _overrides(root, *extra):
    return [*TINY, f"data.root={root}", f"trainer.max_epochs={EPOCHS}", *extra]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, digits_small):
    run_dir = tmp_path_factory.mktemp("pretrain_a")
    return run_dir, loop.run(compose_pretrain(_overrides(digits_small)), run_dir, model_label=LABEL)


def _rows(run_dir):
    return [
        {k: v for k, v in r.items() if k not in ("epoch_s", "images_per_s")}
        for r in csv.DictReader((run_dir / "log.csv").open())
    ]


def _assert_same(a_dir, a_metrics, b_dir, b_metrics):
    assert comparable(b_metrics) == comparable(a_metrics)
    assert _rows(b_dir) == _rows(a_dir)
    a, b = (checkpoint.load(d / "checkpoints" / "best.pt")["model"] for d in (a_dir, b_dir))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_exception_mid_run_then_resume(tmp_path, digits_small, uninterrupted, monkeypatch, capsys):
    assert len({r["train_loss"] for r in uninterrupted[1]["history"]}) == EPOCHS  # epochs differ
    real = loop.train_epoch
    calls = []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        loop.run(compose_pretrain(_overrides(digits_small)), tmp_path, model_label=LABEL)
    monkeypatch.setattr(loop, "train_epoch", real)
    assert not (tmp_path / "metrics.json").exists() and len(_rows(tmp_path)) == 2

    resumed = loop.run(compose_pretrain(_overrides(digits_small, "trainer.resume=true")), tmp_path, model_label=LABEL)
    assert "resuming" in capsys.readouterr().out
    _assert_same(*uninterrupted, tmp_path, resumed)


def test_resume_refuses_another_config(tmp_path, digits_small, uninterrupted):
    import shutil

    from snnvis.errors import UserError

    shutil.copytree(uninterrupted[0] / "checkpoints", tmp_path / "checkpoints")
    with pytest.raises(UserError, match="written by a different config"):
        loop.run(compose_pretrain(_overrides(digits_small, "trainer.resume=true", "trainer.lr=1e-3")), tmp_path)


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path, digits_small, uninterrupted):
    import json

    run_dir = tmp_path / "run_b"
    args = [*_overrides(digits_small), f"hydra.run.dir={run_dir}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snnvis.cli.pretrain", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 180
    try:
        while time.time() < deadline and proc.poll() is None:
            if (run_dir / "log.csv").is_file() and len(_rows(run_dir)) >= 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None and time.time() >= deadline:
            proc.kill()
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == -signal.SIGKILL, output
    assert not (run_dir / "metrics.json").exists()
    out = pretrain_cli([*args, "trainer.resume=true"])
    assert out.returncode == 0, out.stdout + out.stderr
    after = int(out.stdout.split("after epoch")[1].split()[0])
    assert 2 <= after < EPOCHS, out.stdout
    _assert_same(*uninterrupted, run_dir, json.loads((run_dir / "metrics.json").read_text()))


def test_loader_workers_change_nothing(tmp_path, digits_small, uninterrupted):
    """Each sample's augmentation is seeded by (seed, epoch, index): 2 worker processes give the
    run of the in-process loader (and the same config hash, so the finished run is skipped)."""
    cfg = compose_pretrain(_overrides(digits_small, "data.num_workers=2", "trainer.skip_finished=false"))
    assert comparable(loop.run(cfg, tmp_path, model_label=LABEL)) == comparable(uninterrupted[1])

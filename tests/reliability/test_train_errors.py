"""snnvis-train's bad inputs: each is one ``snnvis: error:`` line and exit 2, and an existing
run dir is left byte-identical."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from reliability_helpers import assert_one_error, snapshot
from training_helpers import CONFIGS, VENV_BIN, compose_train, train_cli

from snnvis.training import epochs, loop


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_recording):
    from training_helpers import TINY, recordings_override

    args = [*TINY, recordings_override([tiny_recording]), "trainer.max_epochs=2"]
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    loop.run(compose_train(args), run_dir, model_label="sew_resnet_tiny")
    return args, run_dir


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=nonexistent", f"snnvis: error: model=nonexistent in {CONFIGS}/model: no such config (choose one of "),
        ("readout=nonexistent", f"snnvis: error: readout=nonexistent in {CONFIGS}/readout: no such config"),
        ("trainer.max_epoch=2", "snnvis: error: trainer.max_epoch: unknown key; did you mean trainer.max_epochs?"),
        (
            "trainer.max_epochs=abc",
            "snnvis: error: trainer.max_epochs: Value 'abc' of type 'str' could not be converted to Integer",
        ),
        ("trainer.max_epochs=-3", "snnvis: error: trainer.max_epochs: must be a positive integer, got -3"),
        ("trainer.lr=0", "snnvis: error: trainer.lr: must be a positive number, got 0.0"),
        ("trainer.lr=-1e-3", "snnvis: error: trainer.lr: must be a positive number, got -0.001"),
        ("data.batch_size=0", "snnvis: error: data.batch_size: must be a positive integer, got 0"),
        ("trainer.threads=-2", "snnvis: error: trainer.threads: must be a positive integer or null"),
        ("data.target=foo", "snnvis: error: data.target: must be one of rate, temporal, psth, got 'foo'"),
        ("data.recordings=/a.h5", "snnvis: error: data.recordings: must be a list, e.g. data.recordings=[a.h5,b.h5]"),
        ("model._target_=does.not.Exist", "snnvis: error: model._target_: cannot import 'does.not.Exist'"),
        ("readout._target_=snnvis.models.readouts.nope", "snnvis: error: readout._target_: cannot import "),
        ("optimizer._target_=torch.optim.Nope", "snnvis: error: optimizer._target_: cannot import 'torch.optim.Nope'"),
        ("+optimizer.lrr=1", "snnvis: error: optimizer: AdamW.__init__() got an unexpected keyword argument 'lrr'"),
        ("scheduler=nonexistent", f"snnvis: error: scheduler=nonexistent in {CONFIGS}/scheduler: no such config"),
        ("loss._target_=snnvis.training.losses.nope", "snnvis: error: loss._target_: cannot import "),
        ("optimizer=null", "snnvis: error: overrides: a config group cannot be set to null here; drop it with ~GROUP"),
    ],
)
def test_bad_config_is_one_line(finished, train_app, override, message):
    args, run_dir = finished
    before = snapshot(run_dir)
    code, out, err = train_app([*args, override, f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(err, message)
    assert snapshot(run_dir) == before


def test_the_console_script_prints_the_same_line(finished):
    args, run_dir = finished
    before = snapshot(run_dir)
    out = train_cli([*args, "trainer.max_epoch=2", f"hydra.run.dir={run_dir}"])
    assert out.returncode == 2
    assert_one_error(out.stderr, "snnvis: error: trainer.max_epoch: unknown key; did you mean trainer.max_epochs?")
    assert snapshot(run_dir) == before


@pytest.fixture
def copy_of(finished, tmp_path):
    args, run_dir = finished
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return args, target


def test_truncated_last_checkpoint_on_resume(copy_of, train_app):
    args, run_dir = copy_of
    last = run_dir / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    (run_dir / "metrics.json").unlink()  # an unfinished run
    before = snapshot(run_dir)
    code, _, err = train_app([*args, "trainer.resume=true", f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(err, f"snnvis: error: checkpoint in {last}: cannot be read (")
    assert "truncated or corrupt" in err
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(
    "content, why",
    [('{"run": {"config_hash": ', "not valid JSON"), ("[1, 2]\n", "not a metrics object (top level is list)")],
)
def test_corrupt_metrics_json_on_rerun(copy_of, train_app, content, why):
    args, run_dir = copy_of
    (run_dir / "metrics.json").write_text(content)
    before = snapshot(run_dir)
    code, _, err = train_app([*args, f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(err, f"snnvis: error: metrics.json in {run_dir / 'metrics.json'}: {why}")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("below", [False, True])
def test_run_dir_is_a_regular_file(tmp_path, finished, train_app, below):
    args, _ = finished
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a run dir\n")
    run_dir = blocker / "run" if below else blocker
    before = snapshot(tmp_path)
    code, _, err = train_app([*args, f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(err, "snnvis: error: hydra.run.dir in ")
    assert "a regular file is in the way of the run directory" in err
    assert snapshot(tmp_path) == before


def test_interrupt_in_process_is_one_line_and_resumable(tmp_path, finished, train_app, monkeypatch):
    """KeyboardInterrupt inside the 2nd epoch: one line, exit 130, the lock released, last.pt of epoch 1."""
    import json

    from snnvis.training import checkpoint

    args, _ = finished
    run_dir = tmp_path / "run"
    args = [*args, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}"]
    real_step, calls = epochs.train_step, []

    def step(*a, **k):
        calls.append(1)
        if (run_dir / "checkpoints" / "last.pt").is_file():
            raise KeyboardInterrupt
        return real_step(*a, **k)

    monkeypatch.setattr(epochs, "train_step", step)
    code, _, err = train_app(args)
    assert code == 130
    assert [line for line in err.splitlines() if line.strip()] == [
        "snnvis: interrupted; checkpoints/last.pt is kept (continue with trainer.resume=true)"
    ]
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["state"]["epoch"] == 1
    assert not (run_dir / ".lock").exists() and not (run_dir / "metrics.json").exists()
    monkeypatch.setattr(epochs, "train_step", real_step)
    code, out, err = train_app([*args, "trainer.resume=true"])
    assert code == 0, err
    assert "resuming" in out
    assert json.loads((run_dir / "metrics.json").read_text())["validation"]["epochs_trained"] == 3


@pytest.mark.slow
def test_ctrl_c_is_one_line_and_leaves_a_resumable_run(tmp_path, finished):
    import json

    args, _ = finished
    run_dir = tmp_path / "run"
    args = [*args, "trainer.max_epochs=12", "trainer.patience=100", f"hydra.run.dir={run_dir}"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [str(VENV_BIN / "snnvis-train"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while not (run_dir / "checkpoints" / "last.pt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip() and "WARNING" not in line]
    assert lines == ["snnvis: interrupted; checkpoints/last.pt is kept (continue with trainer.resume=true)"]
    assert not (run_dir / "metrics.json").exists() and not (run_dir / ".lock").exists()
    out = train_cli([*args, "trainer.resume=true"])
    assert out.returncode == 0, out.stderr
    assert "resuming" in out.stdout
    assert json.loads((run_dir / "metrics.json").read_text())["validation"]["epochs_trained"] == 12

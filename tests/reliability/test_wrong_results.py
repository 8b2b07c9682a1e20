"""Cases where snnvis-train or snnvis-score used to write or print a wrong result and exit 0.

Each test reproduces the case, then checks the exit code, the single ``snnvis: error:``
line and that every file that existed before is byte-identical afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess

import h5py
import numpy as np
import pytest
from reliability_helpers import assert_one_error, snapshot
from training_helpers import VENV_BIN, comparable, compose_train, train_cli, write_synthetic

from snnvis.training import loop
from snnvis.training.rundir import RunDirLock

LABEL = "sew_resnet_tiny"


def _popen(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen(
        [str(VENV_BIN / "snnvis-train"), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# 1. concurrent runs --------------------------------------------------------------------------


def test_a_locked_run_dir_is_refused_naming_the_holder(tmp_path, train_args, train_app):
    run_dir = tmp_path / "run"
    loop.run(compose_train(train_args), run_dir, model_label=LABEL)
    with RunDirLock(run_dir):  # this process holds the run dir, as a running snnvis-train would
        before = snapshot(run_dir)
        code, out, err = train_app([*train_args, "seed=1", f"hydra.run.dir={run_dir}"])
        assert code == 2
        assert_one_error(
            err, f"snnvis: error: run dir in {run_dir}: in use by another snnvis process (pid {os.getpid()})"
        )
        assert snapshot(run_dir) == before
    assert not (run_dir / ".lock").exists()


def test_a_dead_holders_lock_file_is_not_stale(tmp_path, train_args):
    """A lock file left by a killed process (its pid inside, no flock held) does not block."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("999999\n")
    metrics = loop.run(compose_train(train_args), run_dir, model_label=LABEL)
    assert metrics["validation"]["epochs_trained"] == 2
    assert not (run_dir / ".lock").exists()


@pytest.mark.slow
def test_two_processes_one_run_dir_one_is_refused(tmp_path, train_args):
    run_dir = tmp_path / "run"
    args = [a for a in train_args if not a.startswith("trainer.max_epochs")] + ["trainer.max_epochs=12"]
    procs = [_popen([*args, f"seed={s}", f"hydra.run.dir={run_dir}"], tmp_path) for s in (0, 1)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    winner = next(i for i, r in enumerate(results) if r[0] == 0)
    loser = results[1 - winner]
    assert_one_error(
        loser[2], f"snnvis: error: run dir in {run_dir}: in use by another snnvis process (pid {procs[winner].pid})"
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["run"]["seed"] == winner
    assert metrics["validation"]["epochs_trained"] == 12


@pytest.mark.slow
def test_two_processes_default_run_dirs_do_not_collide(tmp_path, train_args):
    procs = [_popen([*train_args, f"seed={s}", f"name=concurrent{''}"], tmp_path) for s in (0, 1)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.communicate()
    dirs = sorted((tmp_path / "outputs" / "concurrent").iterdir())
    assert len(dirs) == 2
    by_seed = {json.loads((d / "metrics.json").read_text())["run"]["seed"]: d for d in dirs}
    assert sorted(by_seed) == [0, 1]
    for seed, d in by_seed.items():
        solo = loop.run(
            compose_train([*train_args, f"seed={seed}", "name=concurrent"]), tmp_path / f"solo{seed}", model_label=LABEL
        )
        assert comparable(json.loads((d / "metrics.json").read_text())) == comparable(solo)


# 2. a refused rerun rewrote .hydra/config.yaml, and scoring trusted it ---------------------------


@pytest.fixture(scope="module")
def finished_cli_run(tmp_path_factory, tiny_recording):
    from training_helpers import TINY, recordings_override

    train_args = [*TINY, recordings_override([tiny_recording]), "trainer.max_epochs=2"]
    run_dir = tmp_path_factory.mktemp("cli_run") / "run"
    out = train_cli([*train_args, f"hydra.run.dir={run_dir}"])
    assert out.returncode == 0, out.stderr
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    return run_dir


def test_refused_rerun_leaves_every_file_byte_identical(finished_cli_run, train_args, train_app):
    run_dir = finished_cli_run
    before = snapshot(run_dir)
    # a twin resuming the SNN's checkpoint: refused, and .hydra/config.yaml still says spiking: true
    code, _, err = train_app([*train_args, "model.spiking=false", "trainer.resume=true", f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(
        err,
        f"snnvis: error: trainer.resume in {run_dir / 'checkpoints' / 'last.pt'}: "
        "the checkpoint was written by a different config",
    )
    assert snapshot(run_dir) == before


def test_scoring_uses_the_config_saved_in_the_checkpoint(finished_cli_run, tmp_path):
    """Editing (or overwriting) the run dir's YAML does not change the model that is scored."""
    import shutil

    from omegaconf import OmegaConf

    from snnvis.evaluation.activations import load_encoder

    run_dir = tmp_path / "run"
    shutil.copytree(finished_cli_run, run_dir)
    yaml = run_dir / ".hydra" / "config.yaml"
    cfg = OmegaConf.load(yaml)
    cfg.model.spiking, cfg.seed = False, 7
    OmegaConf.save(cfg, yaml)
    core, info = load_encoder(None, run_dir)
    assert info.spiking is True and core.spiking is True and info.seed == 0


def test_refused_score_leaves_an_existing_score_dir_byte_identical(tmp_path, finished_cli_run):
    score_dir = tmp_path / "score"
    (score_dir / ".hydra").mkdir(parents=True)
    (score_dir / ".hydra" / "config.yaml").write_text("checkpoint: earlier\n")
    (score_dir / "scores.csv").write_text("layer,score\nblock1,0.5\n")
    before = snapshot(score_dir)
    missing = tmp_path / "nope.h5"
    proc = subprocess.run(
        [
            str(VENV_BIN / "snnvis-score"),
            f"checkpoint={finished_cli_run}",
            f"recordings=[{missing}]",
            f"hydra.run.dir={score_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 2
    assert_one_error(proc.stderr, "snnvis: error:")
    assert snapshot(score_dir) == before


# 3. max_epochs=0 / patience=0 over a finished run ----------------------------------------------


@pytest.mark.parametrize(
    "override, key", [("trainer.max_epochs=0", "trainer.max_epochs"), ("trainer.patience=0", "trainer.patience")]
)
def test_zero_epochs_over_a_finished_run_is_refused(tmp_path, train_args, train_app, override, key):
    run_dir = tmp_path / "run"
    loop.run(compose_train(train_args), run_dir, model_label=LABEL)
    before = snapshot(run_dir)
    code, _, err = train_app([*train_args, override, f"hydra.run.dir={run_dir}"])
    assert code == 2
    assert_one_error(err, f"snnvis: error: {key}: must be a positive integer, got 0")
    assert snapshot(run_dir) == before


def test_starting_over_removes_the_previous_runs_outputs(tmp_path, train_args):
    run_dir = tmp_path / "run"
    first = loop.run(compose_train([*train_args, "trainer.max_epochs=3"]), run_dir, model_label=LABEL)
    assert first["validation"]["epochs_trained"] == 3
    stale = run_dir / "checkpoints" / "stale.pt"
    stale.write_bytes(b"from the earlier run")
    second = loop.run(compose_train([*train_args, "trainer.max_epochs=1"]), run_dir, model_label=LABEL)
    assert second["validation"]["epochs_trained"] == 1
    assert not stale.exists()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert [row.split(",")[0] for row in (run_dir / "log.csv").read_text().splitlines()[1:]] == ["1"]
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".replaced")]
    # a run killed while it moved the old outputs aside left them in .replaced-<pid>: cleared next time
    (run_dir / ".replaced-12345" / "checkpoints").mkdir(parents=True)
    loop.run(compose_train([*train_args, "trainer.max_epochs=2"]), run_dir, model_label=LABEL)
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".replaced")]


# 4. a regenerated recording at the same path ---------------------------------------------------


def test_a_regenerated_recording_is_a_changed_run(tmp_path, capsys):
    from training_helpers import TINY, recordings_override

    rec = write_synthetic(tmp_path / "r.h5", n_stimuli=120, n_neurons=6, n_repeats=3, size=16, seed=3, recording_id="r")
    args = [*TINY, recordings_override([rec]), "trainer.max_epochs=1"]
    run_dir = tmp_path / "run"
    first = loop.run(compose_train(args), run_dir, model_label=LABEL)
    write_synthetic(rec, n_stimuli=120, n_neurons=9, n_repeats=3, size=16, seed=3, recording_id="r")
    capsys.readouterr()
    second = loop.run(compose_train(args), run_dir, model_label=LABEL)
    assert "skipping" not in capsys.readouterr().out
    assert first["run"]["config_hash"] != second["run"]["config_hash"]
    assert (first["test"]["overall"]["n_neurons"], second["test"]["overall"]["n_neurons"]) == (6, 9)
    import hashlib

    assert second["data"]["sessions"]["r"]["sha256"] == hashlib.sha256(rec.read_bytes()).hexdigest()
    capsys.readouterr()
    third = loop.run(compose_train(args), run_dir, model_label=LABEL)  # unchanged file: skipped
    assert "skipping" in capsys.readouterr().out and third == second


# 5. diverged and silent models --------------------------------------------------------------


def test_non_finite_loss_stops_with_one_line_naming_the_epoch(tmp_path, train_args, train_app):
    run_dir = tmp_path / "run"
    code, _, err = train_app(
        [*train_args, "trainer.lr=1e12", "trainer.grad_clip=null", "model.spiking=false", f"hydra.run.dir={run_dir}"]
    )
    assert code == 2
    assert_one_error(err, f"snnvis: error: training in {run_dir}: the loss became nan in epoch 1, so training stopped")
    assert not (run_dir / "metrics.json").exists()


def test_nan_predictions_are_failures_not_r_zero():
    from scipy.stats import pearsonr

    from snnvis.training.metrics import neuron_metrics, summarize

    rng = np.random.default_rng(0)
    target = rng.poisson(3.0, size=(40, 1, 4)).astype(float)
    pred = target + rng.normal(0, 2.0, size=target.shape)
    pred[:, :, 1] = np.nan  # diverged
    pred[5, 0, 2] = np.inf  # one non-finite value is enough
    pred[:, :, 3] = 0.25  # silent: constant
    m = neuron_metrics(pred, target, None)
    np.testing.assert_allclose(m["pearson_r"][0], pearsonr(pred[:, 0, 0], target[:, 0, 0])[0])
    assert np.isnan(m["pearson_r"][1]) and np.isnan(m["pearson_r"][2])
    assert m["pearson_r"][3] == 0.0
    s = summarize(m, n_boot=10)
    assert (s["n_neurons"], s["n_failed"], s["n_silent"]) == (4, 2, 1)
    assert s["silent_fraction"] == 0.25 and s["failed_fraction"] == 0.5
    assert s["pearson_r_median"] == pytest.approx(np.median([m["pearson_r"][0], 0.0]))


def test_a_silent_model_is_reported_as_silent(tmp_path, train_args, train_app):
    """The tiny SNN is silent on these stimuli: r = 0, counted, and said so in metrics.json and the summary."""
    run_dir = tmp_path / "run"
    code, out, err = train_app([*train_args, f"hydra.run.dir={run_dir}"])
    assert code == 0, err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with h5py.File(run_dir / "predictions.h5", "r") as f:
        pred = f["a/prediction"][()]
    silent = int((np.ptp(pred.reshape(-1, pred.shape[-1]), axis=0) == 0).sum())
    assert silent > 0  # otherwise this test checks nothing
    overall = metrics["test"]["overall"]
    assert overall["n_silent"] == silent and overall["silent_fraction"] == silent / pred.shape[-1]
    assert metrics["test"]["sessions"]["a"]["n_silent"] == silent and overall["n_failed"] == 0
    assert f"({silent} silent)" in out
    assert "silent" in out.splitlines()[0]  # the epoch line

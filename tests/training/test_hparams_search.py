"""Optuna searches (snnvis/conf/hparams_search): equal budgets, validation-only objective, resumable study."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta

import optuna
import pytest
from omegaconf import OmegaConf
from training_helpers import TINY, VENV_BIN, compose_train, recordings_override

from snnvis.errors import UserError
from snnvis.outputs import read_metrics
from snnvis.training import search

# TINY without the keys a search must own (its sweep dir) and with a 2-trial budget.
SEARCH = [a for a in TINY if not a.startswith("trainer.threads")] + ["search.n_trials=2", "trainer.max_epochs=1"]


def _search_cmd(family: str, sweep_dir, recordings) -> list[str]:
    return [
        str(VENV_BIN / "snnvis-train"),
        "-m",
        f"hparams_search={family}",
        *SEARCH,
        recordings_override(recordings),
        f"hydra.sweep.dir={sweep_dir}",
    ]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")


def _states(db) -> list[tuple[int, str, float | None]]:
    if not db.is_file():
        return []
    with sqlite3.connect(db) as con:
        try:
            rows = con.execute(
                "SELECT trials.number, trials.state, trial_values.value FROM trials "
                "LEFT JOIN trial_values USING (trial_id) ORDER BY trials.number"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return rows


def _trial_dirs(sweep_dir):
    return sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))


def test_both_families_get_the_same_budget_and_a_validation_objective(tmp_path):
    snn, twin = (
        compose_train([f"hparams_search={f}", f"hydra.sweep.dir={tmp_path / f}"], return_hydra_config=True)
        for f in ("v4_snn", "v4_twin")
    )
    for cfg, spiking in ((snn, True), (twin, False)):
        assert cfg.model.spiking is spiking
        assert cfg.optimized_metric == "validation.pearson_r_median"
        sw = cfg.hydra.sweeper
        assert sw.direction == "maximize" and sw._target_.endswith("OptunaSweeper")
        family = "v4_snn" if spiking else "v4_twin"
        assert sw.storage == f"sqlite:///{tmp_path / family / 'optuna.db'}"  # in the sweep dir
        assert sw.study_name == cfg.name == f"hparams_{family}"
        assert sw.n_trials == cfg.search.n_trials  # no study file yet: the whole budget
    assert snn.search.n_trials == twin.search.n_trials
    assert OmegaConf.to_container(snn.trainer) == OmegaConf.to_container(twin.trainer)
    assert (snn.hydra.sweeper.params["model.spiking"], twin.hydra.sweeper.params["model.spiking"]) == ("true", "false")
    shared = {k: v for k, v in twin.hydra.sweeper.params.items() if k != "model.spiking"}
    assert {k: snn.hydra.sweeper.params[k] for k in shared} == shared  # the same ranges for the shared knobs
    spiking_knobs = set(snn.hydra.sweeper.params) - set(shared)
    assert {"model.time.static_steps", "model.neuron.type", "model.neuron.surrogate"} <= spiking_knobs


def test_trials_left_counts_finished_trials_and_fails_the_interrupted_one(tmp_path):
    storage = search.study_storage(str(tmp_path / "sweep"))
    assert search.trials_left(storage, "s", 5) == 5  # no file yet
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    for value in (0.1, 0.2, 0.3):
        study.tell(study.ask(), value)
    study.ask()  # left running, as by a killed search
    assert search.mark_interrupted(storage, "s", before=datetime.now() - timedelta(hours=1)) == 0  # started later
    assert search.trials_left(storage, "s", 5) == 2  # (this process's own running trial stays running)
    assert search.mark_interrupted(storage, "s", before=datetime.now() + timedelta(seconds=1)) == 1
    states = [t.state for t in optuna.load_study(study_name="s", storage=storage).trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3 and states[-1] == optuna.trial.TrialState.FAIL
    assert search.trials_left(storage, "s", 2) == 0
    assert search.trials_left(storage, "other", 4) == 4


def test_objective_is_a_validation_value_only():
    cfg = OmegaConf.create({"optimized_metric": "validation.pearson_r_median"})
    assert search.objective(cfg, {"validation": {"pearson_r_median": 0.25}}) == 0.25
    assert search.objective(cfg, {"validation": {"pearson_r_median": None}}) == search.NO_SCORE  # silent model
    with pytest.raises(UserError, match="validation key"):
        search.objective(OmegaConf.create({"optimized_metric": "test.overall.pearson_r_median"}), {})


def test_snn_search_runs_two_trials_on_validation_r(tmp_path, tiny_recordings):
    sweep = tmp_path / "snn"
    out = subprocess.run(
        _search_cmd("v4_snn", sweep, tiny_recordings), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _states(sweep / "optuna.db")
    assert [s for _, s, _ in rows] == ["COMPLETE", "COMPLETE"]
    dirs = _trial_dirs(sweep)
    assert len(dirs) == 2
    # each trial reported its best checkpoint's validation median r (a silent model scores NO_SCORE's floor or 0)
    reported = sorted(v for _, _, v in rows)
    recorded = sorted(
        search.NO_SCORE if (v := read_metrics(d / "metrics.json")["validation"]["pearson_r_median"]) is None else v
        for d in dirs
    )
    assert reported == pytest.approx(recorded)
    table = search.best_table([sweep])
    assert "| SNN | 2 |" in table and "model.neuron.type=" in table


def test_killed_search_resumes_without_redoing_finished_trials(tmp_path, tiny_recordings):
    sweep = tmp_path / "twin"
    db = sweep / "optuna.db"
    cmd = _search_cmd("v4_twin", sweep, tiny_recordings)
    proc = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 240
        while not any(s == "COMPLETE" for _, s, _ in _states(db)):
            assert proc.poll() is None, "the search ended before it was killed"
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = _states(db)
    done = [(n, v) for n, s, v in first if s == "COMPLETE"]
    assert len(done) == 1
    first_dirs = {d: (d / "metrics.json").read_bytes() for d in _trial_dirs(sweep)}
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = _states(db)
    assert [(n, v) for n, s, v in rows if s == "COMPLETE"][: len(done)] == done  # kept, not redone
    assert sum(s == "COMPLETE" for _, s, _ in rows) == 2  # the budget, in total
    assert all(s in ("COMPLETE", "FAIL") for _, s, _ in rows)  # a trial the kill interrupted is marked failed
    dirs = _trial_dirs(sweep)
    assert len(dirs) == 2 and all((d / "metrics.json").read_bytes() == b for d, b in first_dirs.items())
    assert search.trials_left(f"sqlite:///{db}", "hparams_v4_twin", 2) == 0  # started again, it would run none


def test_v4_best_trains_both_families_on_all_eight_cowley_sessions():
    cfg = compose_train(["experiment=v4_best"], return_hydra_config=True)
    sessions = [p.rsplit("/", 1)[-1] for p in cfg.data.recordings]
    assert sessions == [f"{s}.h5" for s in "190925 190927 190928 190929 210224 210305 210322 210621".split()]
    assert cfg.hydra.sweeper.params["model.spiking"] == "true,false" and cfg.trainer.threads == 1
    for family, spiking in (("v4_snn", "true"), ("v4_twin", "false")):  # a search on it keeps one family
        searched = compose_train(["experiment=v4_best", f"hparams_search={family}"], return_hydra_config=True)
        assert searched.hydra.sweeper.params["model.spiking"] == spiking
        assert list(searched.data.recordings) == list(cfg.data.recordings)

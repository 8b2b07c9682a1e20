"""``snnvis-score checkpoint=<run>`` writes ``<run>/scores/``, where ``snnvis-report`` finds the
scores and ``--score`` keeps them while the scoring config is the same; an untrained model's
scores keep their own ``outputs/score/<timestamp>/``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snnvis.config import compose
from snnvis.reporting.score import HASH_FILE, SCORE_DIR, score_runs, scores_dir_of
from snnvis.reporting.sweep import find_sweep
from snnvis.training import loop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from training_helpers import TINY, compose_train, recordings_override, write_synthetic  # noqa: E402

BIN = Path(sys.executable).parent
SCORE = ["metrics=[rsa]", "n_boot=0", "projection_dim=32", "bn_calibration_stimuli=32", "progress=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch run in a sweep folder, on one small synthetic session with images."""
    d = tmp_path_factory.mktemp("next_to_run")
    rec = write_synthetic(d / "s.h5", n_stimuli=120, n_neurons=6, n_repeats=4, size=16, seed=4, recording_id="s")
    run = d / "sweep" / "run"
    loop.run(compose_train([*TINY, recordings_override([rec]), "trainer.max_epochs=1"]), run)
    return run, rec


def test_score_dir_is_next_to_a_run_else_timestamped(trained, tmp_path):
    run, _ = trained
    for checkpoint in (run, run / "checkpoints" / "best.pt"):
        cfg = compose("score", [f"checkpoint={checkpoint}"], return_hydra_config=True)
        assert Path(cfg.hydra.run.dir) == run / SCORE_DIR
    untrained = compose("score", [], return_hydra_config=True).hydra.run.dir
    assert untrained.startswith("outputs/score/") and untrained != compose("score", []).get("checkpoint")
    # another .pt file, or a folder that is no training run: not next to a run
    assert scores_dir_of(run / "checkpoints" / "last.pt") is None and scores_dir_of(tmp_path) is None


def test_cli_scores_land_in_the_run_and_report_keeps_them(trained):
    run, rec = trained
    out = subprocess.run(
        [str(BIN / "snnvis-score"), f"checkpoint={run}", f"recordings=[{rec}]", *SCORE],
        capture_output=True,
        text=True,
        cwd=run.parent,  # anywhere: the output dir follows the checkpoint
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    scores = run / SCORE_DIR
    assert {"scores.csv", "scores.json", "score.log", HASH_FILE} <= {p.name for p in scores.iterdir()}
    rows = list(csv.DictReader((scores / "scores.csv").open()))
    assert rows and {r["metric"] for r in rows} == {"rsa"} and {r["source"] for r in rows} != {"untrained"}
    assert f"wrote {scores / 'scores.csv'}" in (scores / "score.log").read_text()
    assert not (run.parent / "outputs").exists()
    # snnvis-report sees them as the run's scores ...
    sweep = find_sweep(run.parent)
    assert [(p, owner.dir) for p, owner, _ in sweep.scores] == [(scores / "scores.csv", run)]
    # ... and --score with the same scoring config keeps them; another config rescores
    before = (scores / "scores.csv").read_bytes()
    notes = []
    assert score_runs(sweep.runs, SCORE, log=notes.append) == []
    assert (scores / "scores.csv").read_bytes() == before and "kept" in notes[0]
    other = [*SCORE[1:], "metrics=[cka]"]
    assert score_runs(sweep.runs, other, log=notes.append) == [scores / "scores.csv"]
    assert {r["metric"] for r in csv.DictReader((scores / "scores.csv").open())} == {"cka"}
    assert json.loads((scores / HASH_FILE).read_text())["overrides"] == other

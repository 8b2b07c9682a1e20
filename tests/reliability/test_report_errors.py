"""snnvis-report on hostile input: each bad case is one ``snnvis: error:`` line and exit 2 with every
pre-existing file byte-identical; rescoring follows the scoring config's hash; incomplete runs are
listed; figures no longer produced leave report/."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from training_helpers import TINY as TRAINING_TINY

ROOT = Path(__file__).resolve().parents[2]
# The training tests' tiny core, trained for one epoch only.
TINY = ["trainer.max_epochs=1" if o.startswith("trainer.max_epochs=") else o for o in TRAINING_TINY]
SCORE = ["n_boot=0", "device=cpu", "progress=false", "projection_dim=64"]


def _cli(name: str, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [str(Path(sys.executable).parent / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def report(capsys):
    """``report(args)``: snnvis-report run in this process -> CompletedProcess (returncode, stdout, stderr)."""
    from snnvis.cli.report import main

    def run(args: list[str]) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            main(args)
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(["snnvis-report", *args], code, out.out, out.err)

    return run


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_error_line(res: subprocess.CompletedProcess, *parts: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert err.startswith("snnvis: error: ") and "\n" not in err and "Traceback" not in err, err
    for part in parts:
        assert part in err, err
    return err


def _fake_run(path: Path, spiking: bool, seed: int = 0) -> Path:
    """A finished run (metrics.json, predictions.h5) without training."""
    rng = np.random.default_rng(seed + 10 * spiking)
    path.mkdir(parents=True)
    summary = {"n_neurons": 4, "pearson_r_median": 0.3, "pearson_r_mean": 0.3}
    (path / "metrics.json").write_text(
        json.dumps(
            {
                "test": {"overall": summary},
                "model": {"name": "tiny", "spiking": spiking, "n_params": 10},
                "run": {"seed": seed, "config_hash": f"h{seed}{spiking}"},
            }
        )
    )
    resp = np.random.default_rng(1).poisson(3.0, size=(6, 1, 4)).astype(np.float32)
    with h5py.File(path / "predictions.h5", "w") as f:
        g = f.create_group("s1")
        g["prediction"], g["response"], g["stimulus_index"] = resp + rng.normal(size=resp.shape), resp, np.arange(6)
        g.create_dataset(
            "neuron_ids", data=np.array([f"n{i}" for i in range(4)], dtype=object), dtype=h5py.string_dtype()
        )
        g.create_dataset("areas", data=np.array(["V4"] * 4, dtype=object), dtype=h5py.string_dtype())
        g["metrics/pearson_r"] = rng.uniform(0, 0.5, 4)
    return path


def _scores_csv(path: Path, model: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "model": model,
            "spiking": True,
            "seed": 0,
            "recording": "src/s1",
            "layer": layer,
            "depth": d,
            "area": "V4",
            "metric": "rsa",
            "split": "test",
            "score": 0.1 * d,
            "chosen": d == 1,
        }
        for d, layer in enumerate(("stem", "stage1"))
    ]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def fake_sweep(tmp_path) -> Path:
    root = tmp_path / "sweep"
    for spiking in (True, False):
        _fake_run(root / f"run_{spiking}", spiking)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny trained run (1 epoch) on a small synthetic recording, in ``<tmp>/sweep/run``."""
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.synthetic import SynthConfig, generate_recording

    d = tmp_path_factory.mktemp("report_score")
    rec = d / "synth.h5"
    write_recording(
        rec,
        generate_recording(
            SynthConfig(
                n_stimuli=120, n_neurons=6, n_repeats=4, size=16, seed=3, recording_id="r", rate_range=(0.5, 4.0)
            )
        ),
    )
    res = _cli("snnvis-train", [*TINY, f"data.recordings=[{rec}]", f"hydra.run.dir={d / 'sweep' / 'run'}"])
    assert res.returncode == 0, res.stderr[-2000:]
    return d / "sweep"


# ---------------------------------------------------------------------------------------


def test_out_under_a_regular_file(fake_sweep, tmp_path, report):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("user data\n")
    before = _snapshot(tmp_path)
    res = report([str(fake_sweep), "--out", str(blocker / "report")])
    _one_error_line(res, "--out", str(blocker), "regular file")
    res = report([str(fake_sweep), "--out", str(blocker)])
    _one_error_line(res, "--out", str(blocker), "regular file")
    assert _snapshot(tmp_path) == before


def test_score_reruns_when_the_score_config_changes(trained, report):
    run = trained / "run"
    res = report([str(trained), "--score", "metrics=[rsa]", *SCORE])
    assert res.returncode == 0, res.stderr[-2000:]
    scores = run / "scores" / "scores.csv"
    first = scores.read_bytes()
    assert {r["metric"] for r in csv.DictReader(first.decode().splitlines())} == {"rsa"}
    res = report([str(trained), "--score", "metrics=[rsa]", *SCORE])  # same config: kept
    assert res.returncode == 0 and "scored" not in res.stdout, res.stdout
    assert scores.read_bytes() == first
    res = report([str(trained), "--score", "metrics=[cka]", *SCORE])  # newer than best.pt, other config
    assert res.returncode == 0, res.stderr[-2000:]
    assert {r["metric"] for r in csv.DictReader(scores.read_text().splitlines())} == {"cka"}
    assert "scored run" in res.stdout


def test_score_with_a_bogus_metric_is_exit_2(trained, report):
    res = report([str(trained), "--score", "metrics=[rsa]", *SCORE])
    assert res.returncode == 0, res.stderr[-2000:]
    before = _snapshot(trained)
    res = report([str(trained), "--score", "metrics=[bogus]", *SCORE])
    _one_error_line(res, "metrics", "bogus")
    res = report([str(trained), "--score", "n_boot=abc"])
    _one_error_line(res, "--score", "n_boot")
    assert _snapshot(trained) == before


def test_run_without_metrics_json_is_listed_as_incomplete(fake_sweep, tmp_path, report):
    broken = fake_sweep / "run_killed"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (broken / "checkpoints").mkdir()
    (broken / "checkpoints" / "last.pt").write_bytes(b"\x00" * 16)
    before = _snapshot(fake_sweep)
    res = report([str(fake_sweep), "--out", str(tmp_path / "out")])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "incomplete: run_killed (no metrics.json)" in res.stdout
    assert "run_killed" in (tmp_path / "out" / "report.html").read_text()
    assert _snapshot(fake_sweep) == before
    only_broken = tmp_path / "only_broken"
    (only_broken / "run" / ".hydra").mkdir(parents=True)
    (only_broken / "run" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    before = _snapshot(tmp_path)
    res = report([str(only_broken), "--out", str(tmp_path / "out2")])
    _one_error_line(res, "sweep directory", "no finished runs", "1 incomplete")
    assert _snapshot(tmp_path) == before


def test_figures_no_longer_produced_are_removed(fake_sweep, tmp_path, report):
    out = tmp_path / "out"
    _scores_csv(fake_sweep / "extra" / "scores.csv", "other_model")
    res = report([str(fake_sweep), "--out", str(out)])
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "b_heatmap_other_model_snn.png").is_file() and (out / "b_heatmap_other_model_snn.pdf").is_file()
    (out / "my_notes.txt").write_text("kept\n")  # not the report's: never touched
    (fake_sweep / "extra" / "scores.csv").unlink()
    res = report([str(fake_sweep), "--out", str(out)])
    assert res.returncode == 0, res.stderr[-2000:]
    assert not list(out.glob("b_heatmap_*")), sorted(p.name for p in out.iterdir())
    assert (out / "a_prediction_accuracy.png").is_file() and (out / "my_notes.txt").read_text() == "kept\n"
    assert "b_heatmap" not in (out / "report.html").read_text()

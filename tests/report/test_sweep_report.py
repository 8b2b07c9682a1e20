"""A real sweep end to end: snnvis-train -m (+sweep=snn_vs_dnn, narrowed to 2 models x 2 seeds
on one imported Cowley V4 session, tiny inputs, 1 epoch) through submitit's local launcher,
then snnvis-report --score, then the same sweep again, which must skip every finished run."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnvis.cli.report import main as report_main

EXE = Path(sys.executable).parent / "snnvis-train"
MODELS = ("sew_resnet_tiny",)
SEEDS = (0, 1)


def _sweep(recording: Path, sweep_dir: Path, launcher: str | None) -> subprocess.CompletedProcess:
    cmd = [
        str(EXE),
        "-m",
        "+sweep=snn_vs_dnn",
        f"model={','.join(MODELS)}",
        f"seed={','.join(map(str, SEEDS))}",
        f"data.recordings=[{recording}]",
        "model.input.size=16",
        "trainer.max_epochs=1",
        "baseline=false",
        "trainer.tensorboard=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    if launcher:
        cmd.append(f"hydra/launcher={launcher}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1"}
    proc = subprocess.run(cmd, cwd=sweep_dir.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def sweep(imported, tmp_path_factory):
    if not EXE.is_file():
        pytest.skip(f"{EXE} not installed (pip install -e .)")
    root = tmp_path_factory.mktemp("sweep")
    recording = imported("cowley2023_v4", "210305")
    sweep_dir = root / "snn_vs_dnn"
    t0 = time.time()
    _sweep(recording, sweep_dir, "submitit_local")  # the Slurm launcher's code path, run locally
    return recording, sweep_dir, time.time() - t0


def _run_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))


@pytest.mark.timeout(900)
def test_sweep_report_and_skip(sweep, tmp_path):
    recording, sweep_dir, first_s = sweep
    runs = _run_dirs(sweep_dir)
    assert len(runs) == len(MODELS) * 2 * len(SEEDS)
    # stable run directories named by the swept values (paths left out of the name)
    names = {p.name for p in runs}
    assert all("data.recordings" not in n and "sweep" not in n for n in names)
    assert any("model.spiking=True" in n and "seed=1" in n for n in names)

    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exit_:
        report_main([str(sweep_dir), "--out", str(out), "--score", "metrics=[rsa]", "n_boot=0"])
    assert exit_.value.code == 0

    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    paired = [r for r in rows if r["section"] == "paired"]
    rows = [r for r in rows if r["section"] != "paired"]
    runs_in_csv = {r["run_dir"] for r in rows}
    assert runs_in_csv == {p.name for p in runs}
    combos = {(r["model"], r["spiking"], r["seed"]) for r in rows if r["source"] == "metrics.json"}
    assert combos == {(m, s, str(k)) for m in MODELS for s in ("True", "False") for k in SEEDS}
    n_test = 0
    for run in runs_in_csv:
        mine = [r for r in rows if r["run_dir"] == run]
        expected = {
            (lvl, key, m)
            for lvl, key in (("overall", "all"), ("area", "V4"), ("session", "210305"))
            for m in ("pearson_r_median", "pearson_r_mean")
        }
        found = {(r["level"], r["key"], r["metric"]) for r in mine if r["section"] == "test"}
        assert found >= expected and {(lvl, key) for lvl, key, _ in found} == {(lvl, key) for lvl, key, _ in expected}
        n_test += len(found)
        assert {r["metric"] for r in mine if r["section"] == "run"} >= {"wall_s", "n_params"}
        scores = [r for r in mine if r["source"] == "scores.csv"]
        assert len(scores) == 4 * 2  # 4 layers x (selection, test), RSA on V4
        assert {r["split"] for r in scores} == {"selection", "test"} and {r["area"] for r in scores} == {"V4"}
        assert sum(r["chosen"] == "True" for r in scores) == 2
        (run_seed,) = {r["seed"] for r in mine if r["source"] == "metrics.json"}
        assert {r["seed"] for r in scores} == {run_seed}  # the training seed, not the scoring seed
        validation = json.loads((sweep_dir / run / "metrics.json").read_text())["validation"]
        n_validation = sum(not isinstance(v, (dict, list)) for v in validation.values())
        assert sum(r["section"] == "validation" for r in mine) == n_validation >= 3
        n_test += n_validation
    assert len(rows) == n_test + len(runs) * (3 + 8)  # test + validation, run, scores rows
    # the paired SNN - twin statistics: per model, 6 rows overall and 6 for the session, over both seeds
    assert len(paired) == len(MODELS) * 6 * 2
    diff = [r for r in paired if r["metric"] == "pearson_r_diff_mean"]
    assert {r["seed"] for r in diff} == {" ".join(map(str, SEEDS))} and all(0 < float(r["p_value"]) <= 1 for r in diff)

    figures = sorted(out.glob("*.png"))
    stems = {p.stem for p in figures}
    assert "a_prediction_accuracy" in stems
    assert any(s.startswith("b_heatmap_sew_resnet_tiny_") for s in stems)
    page = (out / "report.html").read_text()
    for png in figures:
        for path in (png, png.with_suffix(".pdf")):
            assert path.stat().st_size > 1000, path
        assert f'src="{png.name}"' in page
    assert len(re.findall(r"<img ", page)) == len(figures)
    assert "http" not in page  # self-contained

    # The same sweep again (basic launcher, same run dirs): nothing is retrained.
    before = {p: (p / "metrics.json").stat().st_mtime_ns for p in runs}
    t0 = time.time()
    proc = _sweep(recording, sweep_dir, None)
    again_s = time.time() - t0
    assert proc.stdout.count("already finished with this config") == len(runs), proc.stdout
    assert not re.search(r"^epoch +\d", proc.stdout, re.M)  # no training epoch logged
    assert {p: (p / "metrics.json").stat().st_mtime_ns for p in runs} == before
    assert _run_dirs(sweep_dir) == runs
    print(f"first sweep {first_s:.0f} s, relaunch {again_s:.0f} s")

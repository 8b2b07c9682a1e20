"""The paired SNN − twin table of the run summary and of snnvis-report, from hand-made runs' predictions.h5."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import stats

from snnvis.cli.report import main as report_main
from snnvis.training.summary import paired_table

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = {"s1": (30, 8), "s2": (20, 5)}  # session: (test stimuli, neurons)


def _run(
    path: Path,
    spiking: bool,
    seed: int,
    noise: float,
    ids: dict | None = None,
    stimuli: dict | None = None,
    model: str = "tiny",
) -> Path:
    """A finished run: predictions = signal + noise (fresh per run) for recorded responses shared by all runs."""
    path.mkdir(parents=True)
    rng = np.random.default_rng([1000 * seed + spiking, len(model)])
    summary = {"n_neurons": 13, "pearson_r_median": 0.3, "pearson_r_mean": 0.3}
    (path / "metrics.json").write_text(
        json.dumps(
            {
                "test": {"overall": summary},
                "model": {"name": model, "spiking": spiking, "n_params": 10},
                "run": {"seed": seed, "config_hash": f"h{seed}{spiking}"},
            }
        )
    )
    with h5py.File(path / "predictions.h5", "w") as f:
        for k, (n_stim, n_neur) in SESSIONS.items():
            data = np.random.default_rng(len(k) * 7 + n_stim)  # the recording: the same for every run
            signal = data.normal(size=(n_stim, 1, n_neur))
            g = f.create_group(k)
            g["response"] = signal + data.normal(size=signal.shape)
            g["prediction"] = signal + noise * rng.normal(size=signal.shape)
            g["stimulus_index"] = (stimuli or {}).get(k, np.arange(n_stim) * 3)
            names = (ids or {}).get(k, [f"{k}n{i}" for i in range(n_neur)])
            g.create_dataset("neuron_ids", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
            g.create_dataset("areas", data=np.array(["V4"] * n_neur, dtype=object), dtype=h5py.string_dtype())
            g["metrics/pearson_r"] = np.zeros(n_neur)
    return path


def _summary(*args: str) -> subprocess.CompletedProcess:
    """``python -m snnvis.training.summary ARGS``."""
    cmd = [sys.executable, "-m", "snnvis.training.summary", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _direct_difference(root: Path, seeds, a: str = "True_{}", b: str = "False_{}") -> float:
    """mean over neurons of (mean over seeds of r_A - r_B), each r from scipy; ``a``, ``b``: run dir names."""
    diffs = []
    for k in SESSIONS:
        per_seed = []
        for s in seeds:
            r = {}
            for side in (a, b):
                with h5py.File(root / side.format(s) / "predictions.h5") as f:
                    p, y = f[k]["prediction"][:, 0], f[k]["response"][:, 0]
                r[side] = np.array([stats.pearsonr(p[:, n], y[:, n])[0] for n in range(p.shape[1])])
            per_seed.append(r[a] - r[b])
        diffs.append(np.mean(per_seed, axis=0))
    return float(np.mean(np.concatenate(diffs)))


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    for seed in (0, 1, 2):
        _run(root / f"True_{seed}", True, seed, noise=0.6)
        _run(root / f"False_{seed}", False, seed, noise=1.5)
    return root


def test_summary_paired_table(sweep):
    text = paired_table([sweep], n_boot=300, n_perm=500)
    lines = text.splitlines()
    assert "swapped per seed × stimulus" in lines[0] and "bootstrap seeds × neurons × stimuli" in lines[0]
    assert "Test: paired SNN − twin difference" in text
    overall, s1, s2 = (line.split("|")[1:-1] for line in lines[2:5])
    assert [c.strip() for c in overall[:4]] == ["tiny", "3", "13", "50"]
    assert [c.strip() for c in s1[:4]] == ["tiny / s1", "3", "8", "30"]
    diff, ci = overall[6].split("[")
    assert float(diff) == pytest.approx(_direct_difference(sweep, (0, 1, 2)), abs=5e-4)
    lo, hi = (float(x) for x in ci.strip(" ]").split(","))
    assert 0 < lo < float(diff) < hi  # a clear, real advantage of the less noisy model
    assert overall[8].strip() == "≤ 0.002"  # no swap of 500 reaches the observed difference
    assert overall[9].strip() == "0.25"  # 3 seeds, all favouring the SNN: 2 of 8 patterns


def test_summary_cli_prints_both_tables_and_skips_unpaired(sweep):
    _run(sweep / "True_7", True, 7, noise=0.6)  # no twin for seed 7
    res = _summary(str(sweep))
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("| tiny |") == 7 + 1 and "SNN vs DNN twin, paired" in res.stdout  # runs + paired
    assert "seed(s) [7] have no SNN/twin partner" in res.stderr


def _replace_twin(sweep: Path, tmp_path: Path, **change) -> None:
    (sweep / "False_1").rename(tmp_path / "old")
    _run(sweep / "False_1", False, 1, noise=1.5, **change)


@pytest.mark.parametrize(
    "change,why",
    [
        ({"ids": {"s2": ["s2n0", "s2n1", "s2n2", "s2n3", "other"]}}, "session s2: 2 neuron id(s) in only one run"),
        ({"ids": {"s1": [f"s1n{i}" for i in range(8)][::-1]}}, "session s1: neuron ids in a different order"),
        ({"stimuli": {"s1": np.arange(30) * 3 + 1}}, "session s1: test stimulus indices differ"),
    ],
)
def test_summary_refuses_a_mismatched_pair(sweep, tmp_path, change, why):
    _replace_twin(sweep, tmp_path, **change)
    res = _summary(str(sweep))
    assert res.returncode == 2
    err = res.stderr.strip()
    assert err.startswith("snnvis: error: SNN/twin pairing in ") and "False_1" in err and why in err
    assert "\n" not in err


def test_report_refuses_a_mismatched_pair_and_touches_nothing(sweep, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        report_main([str(sweep), "--out", str(out)])
    assert e.value.code == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"results.csv", "report.html", "a_prediction_accuracy.png"} <= set(before)
    _replace_twin(sweep, tmp_path, stimuli={"s1": np.arange(30) * 3 + 1})
    with pytest.raises(SystemExit) as e:
        report_main([str(sweep), "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnvis: error: SNN/twin pairing in ") and "False_1" in err
    assert "session s1: test stimulus indices differ" in err and "\n" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_model_pair_table_pairs_models_within_each_family(sweep):
    """--compare fb,tiny: fb − tiny per family over the seeds both have, the same statistic as SNN − twin."""
    for seed in (0, 1, 2):
        _run(sweep / f"fb_True_{seed}", True, seed, noise=1.0, model="fb")
        _run(sweep / f"fb_False_{seed}", False, seed, noise=0.8, model="fb")
    _run(sweep / "fb_True_5", True, 5, noise=1.0, model="fb")  # no tiny SNN of seed 5
    res = _summary(str(sweep), "--compare", "fb,tiny")
    assert res.returncode == 0, res.stderr
    out = res.stdout.split("fb vs tiny within each family, paired")[1]
    assert "Test: paired fb − tiny difference" in out and "swapping fb and tiny predictions" in out
    rows = {line.split("|")[1].strip(): line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"family", "SNN", "DNN twin", "SNN / s1", "DNN twin / s2"}
    assert "mean Δr fb − tiny" in rows["family"][6] and "seed(s) [5] have no fb/tiny partner" in res.stderr
    for family, a, b, sign in (("SNN", "fb_True_{}", "True_{}", -1), ("DNN twin", "fb_False_{}", "False_{}", 1)):
        assert rows[family][1].strip() == "3"
        diff = float(rows[family][6].split("[")[0])
        assert diff == pytest.approx(_direct_difference(sweep, (0, 1, 2), a, b), abs=5e-4)
        assert (
            np.sign(diff) == sign
        )  # fb is noisier than the tiny SNN (1.0 vs 0.6), less noisy than its twin (0.8 vs 1.5)
    bad = _summary(str(sweep), "--compare", "fb,nope")
    assert bad.returncode == 2 and "no run of model 'nope'" in bad.stderr and "['fb', 'tiny']" in bad.stderr

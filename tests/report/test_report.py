"""snnvis-report on hand-made runs (no training): tidy rows, labels, PSTH figure for temporal
predictions, heatmaps from a scores.csv, errors; and the sweep configs' composition."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnvis.cli.report import main
from snnvis.config import compose
from snnvis.reporting import RESULT_COLUMNS, find_sweep, make_report


def _summary(rng, n):
    med = float(rng.uniform(0.1, 0.5))
    return {
        "n_neurons": n,
        "pearson_r_median": med,
        "pearson_r_mean": med + 0.01,
        "pearson_r_median_ci95": [med - 0.05, med + 0.05],
    }


def _fake_run(
    path: Path,
    model: str,
    spiking: bool,
    seed: int,
    n_bins: int = 1,
    n_neurons: int = 6,
    overrides: list[str] | None = None,
) -> Path:
    rng = np.random.default_rng(seed + 10 * spiking)
    path.mkdir(parents=True)
    summaries = {
        "overall": _summary(rng, n_neurons),
        "V1": _summary(rng, n_neurons),
        "sessions": {"s1": _summary(rng, n_neurons)},
    }
    metrics = {
        "test": summaries,
        "baseline": summaries,  # ridge on the untrained core, same layout
        "validation": {"best_epoch": 3, "pearson_r_mean": float("-inf") if spiking else 0.2, "epochs_trained": 4},
        "model": {"name": "sew_resnet", "spiking": spiking, "n_params": 1000, "n_params_with_readouts": 1100},
        "data": {"sessions": {"s1": {"recording": "nowhere/s1.h5", "response_set": "frame_counts"}}, "target": "x"},
        "run": {"seed": seed, "wall_s": 1.5, "config_hash": f"h{seed}{int(spiking)}"},
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / ".hydra").mkdir()
    (path / ".hydra" / "overrides.yaml").write_text(
        "\n".join(f"- {o}" for o in (overrides or [f"model={model}", f"model.spiking={spiking}", f"seed={seed}"]))
    )
    # the same recorded test responses in every run (SNN and twin, all seeds), as in a real sweep
    resp = np.random.default_rng(99).poisson(3.0, size=(5, n_bins, n_neurons)).astype(np.float32)
    with h5py.File(path / "predictions.h5", "w") as f:
        g = f.create_group("s1")
        g["prediction"] = resp + rng.normal(0, 1, resp.shape).astype(np.float32)
        g["response"] = resp
        g["stimulus_index"] = np.arange(5)
        g.create_dataset(
            "neuron_ids", data=np.array([f"n{i}" for i in range(n_neurons)], dtype=object), dtype=h5py.string_dtype()
        )
        g.create_dataset("areas", data=np.array(["V1"] * n_neurons, dtype=object), dtype=h5py.string_dtype())
        g["metrics/pearson_r"] = rng.uniform(-0.1, 0.6, n_neurons)
    return path


def _scores_csv(path: Path, spiking: bool):
    rows = []
    for depth, layer in enumerate(("stem", "stage1", "stage2")):
        for split in ("selection", "test"):
            rows.append(
                {
                    "model": "sew_resnet",
                    "spiking": spiking,
                    "seed": 0,
                    "recording": "src/s1",
                    "layer": layer,
                    "depth": depth,
                    "area": "V1",
                    "metric": "rsa",
                    "split": split,
                    "score": 0.1 * depth,
                    "ceiling": 0.5,
                    "ceiling_lower": 0.4,
                    "normalized": 0.2 * depth,
                    "ci_low": 0.0,
                    "ci_high": 0.3,
                    "chosen": layer == "stage2",
                    "n_neurons": 6,
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def temporal_sweep(tmp_path):
    root = tmp_path / "sweep"
    for spiking in (True, False):
        for seed in (0, 1):
            run = _fake_run(root / f"m_{spiking}_{seed}", "cornet_rt", spiking, seed, n_bins=11)
            if seed == 0:
                _scores_csv(run / "score" / "scores.csv", spiking)
    _scores_csv(root / "untrained" / "scores.csv", True)  # a scoring run outside any training run
    return root


def test_report_tables_and_figures(temporal_sweep, tmp_path):
    rep = make_report(temporal_sweep, tmp_path / "out", log=lambda *_: None)
    with open(rep.results_csv, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == RESULT_COLUMNS
        rows = list(reader)
    per_run = 2 * 3 * 2 + 3 + 3  # (test, baseline) x (overall, V1, s1) x 2 metrics; validation; run facts
    paired = 6 * 2  # 6 paired statistics, overall and for session s1
    assert len(rows) == 4 * per_run + 3 * 6 + paired
    assert {r["section"] for r in rows} == {"test", "baseline", "validation", "run", "scores", "paired"}
    diff = next(
        r for r in rows if r["section"] == "paired" and r["metric"] == "pearson_r_diff_mean" and r["level"] == "overall"
    )
    assert diff["seed"] == "0 1" and diff["n"] == "6" and "swapping" in diff["test"]
    assert 0 < float(diff["p_value"]) <= 1
    assert float(diff["ci_low"]) <= float(diff["value"]) <= float(diff["ci_high"])
    ci = [r for r in rows if r["metric"] == "pearson_r_median"]
    assert all(r["ci_low"] and r["ci_high"] for r in ci)
    assert {r["model"] for r in rows if r["source"] == "metrics.json"} == {"cornet_rt"}
    assert [
        r["value"]
        for r in rows
        if r["section"] == "validation" and r["metric"] == "pearson_r_mean" and r["spiking"] == "True"
    ] == ["", ""]  # -inf: no finite value
    owned = [r for r in rows if r["source"] == "scores.csv" and r["run_dir"].startswith("m_")]
    assert {r["model"] for r in owned} == {"cornet_rt"} and {r["config_hash"] for r in owned} == {"h01", "h00"}
    stems = sorted(f.stem.name for f in rep.figures)
    assert stems == [
        "a_prediction_accuracy",
        "b_heatmap_cornet_rt_snn",
        "b_heatmap_cornet_rt_twin",
        "b_heatmap_sew_resnet_snn",
        "c_psth_cornet_rt_snn",
        "c_psth_cornet_rt_twin",
    ]
    for f in rep.figures:
        for ext in (".png", ".pdf"):
            assert f.stem.with_suffix(ext).stat().st_size > 1000
    page = rep.html.read_text()
    assert page.count("<img ") == 6 and "results.csv" in page and "SNN − twin" in page
    assert "swapping SNN and twin" in page


def test_labels_include_varying_overrides(tmp_path):
    root = tmp_path / "sweep"
    for size in (16, 32):
        for spiking in (True, False):
            _fake_run(
                root / f"r{size}{spiking}",
                "sew_resnet_tiny",
                spiking,
                0,
                overrides=[
                    "model=sew_resnet_tiny",
                    f"model.spiking={spiking}",
                    "seed=0",
                    f"model.input.size={size}",
                    "trainer.max_epochs=1",
                ],
            )
    labels = sorted({r.label for r in find_sweep(root).runs})
    assert labels == ["sew_resnet_tiny[model.input.size=16]", "sew_resnet_tiny[model.input.size=32]"]


def test_errors_are_one_line(tmp_path, capsys):
    for args, why in (([str(tmp_path / "missing")], "not found"), ([str(tmp_path)], "no runs found")):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("snnvis: error: sweep directory") and why in err and "\n" not in err
    bad = tmp_path / "run"
    bad.mkdir()
    (bad / "metrics.json").write_text("{not json")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnvis: error: metrics.json in ") and "not valid JSON" in err and "\n" not in err
    assert not out.exists()  # nothing written
    (bad / "metrics.json").write_text('{"test": {}}')
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(out)])
    assert "missing or bad entry" in capsys.readouterr().err


def test_bad_predictions_leave_existing_report_untouched(tmp_path, capsys):
    root = tmp_path / "sweep"
    for spiking in (True, False):
        _fake_run(root / f"r{spiking}", "cornet_z", spiking, 0)
    out = tmp_path / "out"
    make_report(root, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (root / "rTrue" / "predictions.h5").write_bytes(b"not hdf5")
    with pytest.raises(SystemExit) as e:
        main([str(root), "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("snnvis: error: predictions.h5 in ") and "rTrue" in err and "\n" not in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".out.tmp-*"))


@pytest.mark.parametrize("sweep,n_jobs", [("snn_vs_dnn", 24), ("recurrence", 12)])
def test_sweep_configs_compose(sweep, n_jobs):
    for launcher, target in (
        ("joblib_local", "JoblibLauncher"),
        ("slurm", "SlurmLauncher"),
        ("submitit_local", "LocalLauncher"),
    ):
        cfg = compose("train", [f"+sweep={sweep}", f"hydra/launcher={launcher}"], return_hydra_config=True)
        assert cfg.hydra.launcher._target_.endswith(target)
    params = cfg.hydra.sweeper.params
    sizes = [len(str(v).split(",")) for v in params.values()]
    assert int(np.prod(sizes)) == n_jobs
    assert cfg.name == sweep and cfg.hydra.sweep.dir == f"multirun/{sweep}"
    assert "data.recordings" in cfg.hydra.job.config.override_dirname.exclude_keys
    for model in str(params.model).split(","):
        c = compose("train", [f"+sweep={sweep}", f"model={model}", "model.spiking=false"])
        assert c.model.spiking is False
        if sweep == "recurrence":  # the recorded protocol (experiment=v1_psth) on the seven V1 sessions
            assert c.data.target == "psth" and c.data.protocol is None and len(c.data.recordings) == 7
            assert c.model.stem_stride == 2 and c.model.stem_pool is True
            assert c.trainer.threads == 1  # the same run dirs and hashes whichever launcher runs them
        else:
            assert len(c.data.recordings) == 8 and c.data.target == "rate"

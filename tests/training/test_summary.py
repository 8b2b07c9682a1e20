"""``python -m snnvis.training.summary``: one table row per finished run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnvis.training.metrics import group_summaries
from snnvis.training.summary import find_runs, table


def _metrics(name, spiking, r, baseline_r=None, lookup_r=None):
    n = len(r)

    def summary(values):
        return group_summaries({"pearson_r": np.asarray(values, dtype=float)}, np.full(n, "V4"), np.full(n, "s"))

    m = {"test": summary(r), "model": {"name": name, "spiking": spiking, "n_params": 1234}, "run": {"seed": 0}}
    if baseline_r is not None:
        m["baseline"] = summary(baseline_r)
    if lookup_r is not None:
        m["baseline_lookup"] = summary(lookup_r)
    return m


def test_table_has_one_row_per_run_including_a_silent_snn(tmp_path):
    runs = {
        "twin": _metrics(
            "sew_resnet_tiny", False, [0.2, 0.4, 0.6], baseline_r=[0.1, 0.1, 0.3], lookup_r=[0.0, 0.05, 0.2]
        ),
        "snn": _metrics("sew_resnet_tiny", True, [np.nan, np.nan, np.nan]),
    }  # no finite r: a silent SNN
    for sub, m in runs.items():
        (tmp_path / "sweep" / sub).mkdir(parents=True)
        (tmp_path / "sweep" / sub / "metrics.json").write_text(json.dumps(m))
    assert len(find_runs([tmp_path / "sweep"])) == 2
    assert find_runs([tmp_path / "sweep" / "snn"]) == [tmp_path / "sweep" / "snn" / "metrics.json"]
    rows = table([tmp_path / "sweep"]).splitlines()
    assert len(rows) == 4
    snn, twin = (r.split("|")[1:-1] for r in rows[2:])
    assert [c.strip() for c in twin[:5]] == ["sew_resnet_tiny", "False", "0", "1,234", "3"]
    assert twin[5].strip().startswith("0.400 [") and twin[6].strip() == "0.400"
    assert twin[9].strip().startswith("0.100 [") and twin[10].strip().startswith("0.050 [")
    assert [c.strip() for c in snn[5:]] == ["-", "-", "-", "-", "-", "-"]


def test_markdown_table_alignment():
    from snnvis.utils import markdown_table

    assert markdown_table(["a", "b"], [[1, "x"]], align="lr") == "| a | b |\n|---|---:|\n| 1 | x |"
    assert markdown_table(["a"], []).splitlines()[1] == "|---|"
    with pytest.raises(ValueError, match="2 columns for 3"):
        markdown_table(["a", "b", "c"], [], align="lr")


def test_time_course_table_pairs_each_neuron_with_the_baseline(tmp_path):
    from scipy.stats import wilcoxon

    from snnvis.outputs.predictions import SessionPredictions, write_predictions
    from snnvis.training.summary import time_course_rows

    rng = np.random.default_rng(0)
    tc = {s: rng.uniform(0.4, 0.9, n) for s, n in (("a", 12), ("b", 9))}
    base = {s: v - rng.normal(0.05, 0.02, len(v)) for s, v in tc.items()}  # the model 0.05 above
    sessions = {}
    for s, n in (("a", 12), ("b", 9)):
        sessions[s] = SessionPredictions(
            stimulus_index=np.arange(4), prediction=np.zeros((4, 3, n)), response=np.zeros((4, 3, n)),
            neuron_ids=np.array([f"{s}{k}" for k in range(n)]), areas=np.array(["V1"] * n),
            metrics={"psth_time_course_r": tc[s], "psth_baseline_time_course_r": base[s]},
        )  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    write_predictions(run / "predictions.h5", sessions)
    (run / "metrics.json").write_text(json.dumps(_metrics("sew_resnet_tiny", False, [0.1, 0.2])))
    rows = time_course_rows([tmp_path], n_boot=200)
    assert [r[3] for r in rows] == ["all", "a", "b"] and [r[4] for r in rows] == [21, 12, 9]
    d = np.concatenate([tc["a"] - base["a"], tc["b"] - base["b"]])
    assert rows[0][5] == f"{np.median(np.concatenate(list(tc.values()))):.3f}"
    mean, ci = rows[0][7].split(" [")
    lo, hi = (float(x) for x in ci.rstrip("]").split(", "))
    assert float(mean) == pytest.approx(d.mean(), abs=5e-4) and lo < d.mean() < hi and lo > 0
    assert rows[0][8] == f"{wilcoxon(d).pvalue:.2g}"

"""The output files' writers and readers (snnvis.outputs): what is written, checked with json /
h5py / csv directly, and the schema version check on read (one-line errors from the CLI)."""

from __future__ import annotations

import csv
import json

import h5py
import numpy as np
import pytest

from snnvis.errors import UserError
from snnvis.outputs import (
    SCORE_COLUMNS,
    SessionPredictions,
    load_results,
    read_metrics,
    read_predictions,
    read_scores,
    write_metrics,
    write_predictions,
    write_results,
    write_scores,
)

METRICS = {"test": {"overall": {"pearson_r_median": 0.25, "n_neurons": 3}}, "model": {"name": "m", "spiking": True}}


def test_metrics_json_round_trip_and_version(tmp_path):
    path = tmp_path / "metrics.json"
    written = write_metrics(path, {**METRICS, "schema_version": 7})  # the writer's own version wins
    on_disk = json.loads(path.read_text())
    assert on_disk == {"schema_version": 1, **METRICS} == written
    assert list(on_disk)[0] == "schema_version"
    assert read_metrics(path) == on_disk
    path.write_text(json.dumps(METRICS))  # written before versions were recorded: the version-1 layout
    assert read_metrics(path) == METRICS


@pytest.mark.parametrize(
    "version, why",
    [
        (2, r"schema_version 2 is newer than this snnvis reads \(1\); upgrade snnvis"),
        ("one", "is not an integer; re-run"),
        (0, "unknown"),
    ],
)
def test_metrics_json_unknown_version_is_refused(tmp_path, version, why):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"schema_version": version, **METRICS}))
    with pytest.raises(UserError, match=why) as e:
        read_metrics(path)
    assert "\n" not in str(e.value)


def _session(rng, n_stim=4, n_bins=2, n_neurons=3) -> SessionPredictions:
    return SessionPredictions(
        stimulus_index=np.arange(n_stim) * 3,
        prediction=rng.normal(size=(n_stim, n_bins, n_neurons)).astype(np.float32),
        response=rng.normal(size=(n_stim, n_bins, n_neurons)).astype(np.float32),
        neuron_ids=np.array([f"n{i}" for i in range(n_neurons)]),
        areas=np.array(["V1", "V4", "V4"][:n_neurons]),
        metrics={"pearson_r": rng.uniform(size=n_neurons), "feve": rng.uniform(size=n_neurons)},
        flags={"silent": np.array([False, True, False][:n_neurons])},
        recording="rec.h5",
        response_set="counts",
    )


def test_predictions_h5_round_trip_against_h5py(tmp_path):
    rng = np.random.default_rng(0)
    sessions = {"s1": _session(rng), "s0": _session(rng, n_stim=5)}
    path = tmp_path / "predictions.h5"
    write_predictions(path, sessions)
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == 1 and list(f) == ["s0", "s1"]
        g = f["s1"]
        assert np.array_equal(g["prediction"][()], sessions["s1"].prediction)
        assert np.array_equal(g["metrics/feve"][()], sessions["s1"].metrics["feve"])
        assert np.array_equal(g["silent"][()], sessions["s1"].flags["silent"])
        assert list(g["neuron_ids"].asstr()[()]) == ["n0", "n1", "n2"] and g.attrs["response_set"] == "counts"
    back = read_predictions(path)
    for sid, s in sessions.items():
        b = back[sid]
        for name in ("stimulus_index", "prediction", "response", "neuron_ids", "areas"):
            assert np.array_equal(getattr(b, name), getattr(s, name)), name
        assert b.metrics.keys() == s.metrics.keys() and b.flags.keys() == s.flags.keys()
        assert all(np.array_equal(b.metrics[k], s.metrics[k]) for k in s.metrics)
        assert (b.recording, b.response_set) == ("rec.h5", "counts")
    only = read_predictions(path, ("neuron_ids",))["s0"]
    assert only.prediction is None and only.metrics == {} and list(only.neuron_ids) == ["n0", "n1", "n2"]


def test_predictions_h5_versions_and_damage(tmp_path):
    path = tmp_path / "predictions.h5"
    write_predictions(path, {"s": _session(np.random.default_rng(1))})
    with h5py.File(path, "a") as f:
        del f.attrs["schema_version"]  # written before versions were recorded
    assert list(read_predictions(path)) == ["s"]
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = 3
    with pytest.raises(UserError, match="schema_version 3 is newer"):
        read_predictions(path)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = 1
        del f["s/response"]
    with pytest.raises(UserError, match="cannot read"):
        read_predictions(path)
    assert read_predictions(path, ("prediction",))["s"].response is None  # not asked for: not needed


def _score_row(i: int) -> dict:
    return {c: "" for c in SCORE_COLUMNS if c != "schema_version"} | {
        "model": "m",
        "spiking": i % 2 == 0,
        "seed": 0,
        "layer": f"l{i}",
        "metric": "rsa",
        "score": 0.1 * i,
        "ceiling": None,
        "extra_key": "x",
    }


def test_scores_csv_layout_and_version(tmp_path):
    path = tmp_path / "scores.csv"
    rows = [_score_row(i) for i in range(3)]
    write_scores(path, rows)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        got = list(reader)
    assert reader.fieldnames == [*SCORE_COLUMNS, "extra_key"] and SCORE_COLUMNS[-1] == "schema_version"
    assert [r["schema_version"] for r in got] == ["1"] * 3
    assert [float(r["score"]) for r in got] == [0.1 * i for i in range(3)] and got[0]["ceiling"] == ""
    assert read_scores(path, ("layer", "score")) == got
    df = load_results(path)
    assert df.attrs["kind"] == "scores" and list(df["schema_version"]) == [1.0] * 3
    with path.open("w", newline="") as fh:  # the same table, one row claiming a newer layout
        w = csv.DictWriter(fh, fieldnames=list(reader.fieldnames))
        w.writeheader()
        w.writerows([got[0], {**got[1], "schema_version": "2"}, got[2]])
    for read in (lambda: read_scores(path), lambda: load_results(path)):
        with pytest.raises(UserError, match="schema_version 2 is newer"):
            read()


def test_tables_without_version_column_read_as_version_1(tmp_path):
    path = tmp_path / "results.csv"
    write_results(
        path, [{"section": "test", "metric": "pearson_r_median", "value": 1 / 3}], ["section", "metric", "value"]
    )
    with path.open(newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["section", "metric", "value", "schema_version"],
            ["test", "pearson_r_median", "0.333333", "1"],
        ]
    path.write_text("section,metric,value\ntest,pearson_r_median,0.5\n")
    df = load_results(path)
    assert df.attrs["kind"] == "results" and df["value"].tolist() == [0.5]


def test_newer_metrics_json_is_one_line_from_the_report_cli(tmp_path, capsys):
    from snnvis.cli.report import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"schema_version": 2, **METRICS}))
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"snnvis: error: metrics.json in {run / 'metrics.json'}: schema_version 2 is newer")
    assert "\n" not in err and not (tmp_path / "out").exists()

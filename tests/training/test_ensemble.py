"""Ensembles (trainer.ensemble=N): the average prediction of the members is scored once, as one model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from training_helpers import TINY, compose_train, recordings_override

from snnvis.outputs import read_metrics, read_predictions
from snnvis.training import loop
from snnvis.training.ensemble import score_members
from snnvis.training.summary import find_runs, table


@pytest.fixture(scope="module")
def args(tiny_recordings):
    return [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=2", "model.spiking=false"]


def test_ensemble_of_identical_members_equals_the_member(tmp_path, args):
    single = tmp_path / "single"
    one = loop.run(compose_train(args), single, model_label="sew_resnet_tiny")
    ens_dir = tmp_path / "ensemble"
    ens_dir.mkdir()
    scored = score_members(compose_train(args), [single] * 3, ens_dir, torch.device("cpu"))
    assert scored["test"] == one["test"]  # every summary and CI, exactly
    assert scored["validation"]["pearson_r_median"] == one["validation"]["pearson_r_median"]
    a, b = read_predictions(single / "predictions.h5"), read_predictions(ens_dir / "predictions.h5")
    for sid in a:
        np.testing.assert_array_equal(b[sid].prediction, a[sid].prediction)
        np.testing.assert_array_equal(b[sid].metrics["pearson_r"], a[sid].metrics["pearson_r"])
    assert scored["ensemble"]["n_members"] == 3 and scored["ensemble"]["seeds"] == [0, 0, 0]


def test_ensemble_of_two_seeds_is_scored_from_the_averaged_predictions(tmp_path, args):
    run_dir = tmp_path / "run"
    m = loop.run(compose_train([*args, "trainer.ensemble=2", "seed=3"]), run_dir, model_label="sew_resnet_tiny")
    members = [read_predictions(run_dir / "members" / str(k) / "predictions.h5") for k in range(2)]
    ens = read_predictions(run_dir / "predictions.h5")
    assert m["ensemble"]["seeds"] == [3, 4]
    assert not np.array_equal(members[0]["a"].prediction, members[1]["a"].prediction)  # different members
    rs = []
    for sid, s in ens.items():
        manual = (members[0][sid].prediction.astype(np.float64) + members[1][sid].prediction) / 2
        np.testing.assert_array_equal(s.prediction, manual.astype(np.float32))
        pred, resp = s.prediction.reshape(len(s.prediction), -1), s.response.reshape(len(s.response), -1)
        r = [stats.pearsonr(pred[:, j], resp[:, j])[0] for j in range(pred.shape[1])]
        np.testing.assert_allclose(s.metrics["pearson_r"], r, atol=1e-6)
        rs += r
    assert m["test"]["overall"]["pearson_r_median"] == pytest.approx(np.median(rs), abs=1e-6)
    assert m["test"]["overall"]["n_neurons"] == len(rs)
    # each member's own scores sit beside the ensemble's, as its own metrics.json has them
    for k in range(2):
        own = read_metrics(run_dir / "members" / str(k) / "metrics.json")
        assert m["ensemble"]["members"][str(k)]["test"] == own["test"]["overall"]
        assert own["run"]["seed"] == 3 + k
    assert m["model"]["n_params"] == 2 * m["model"]["n_params_per_member"]
    assert m["compute"]["sops_per_image"] == 0  # a twin: every layer is analog
    assert (
        m["compute"]["synops_per_image"]
        == m["compute"]["macs_per_image"]
        == sum(
            read_metrics(run_dir / "members" / str(k) / "metrics.json")["compute"]["macs_per_image"] for k in range(2)
        )
    )
    assert find_runs([tmp_path]) == [run_dir / "metrics.json"]  # summaries list the ensemble, not its members
    assert "| sew_resnet_tiny (ensemble of 2) | False | 3 |" in table([tmp_path])
    # a second launch finds the finished ensemble and trains nothing
    again = loop.run(compose_train([*args, "trainer.ensemble=2", "seed=3"]), run_dir, model_label="sew_resnet_tiny")
    assert again == read_metrics(run_dir / "metrics.json")

"""The typed metric interface: every metric's ``prepare`` returns a frozen :class:`Prepared`
of its family, and a new metric written against :class:`Metric` is scored by
:class:`LayerScorer` like the built-in ones."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import pearsonr

from snnvis.evaluation import METRICS, LayerScorer, Metric, Prepared, Result, Target, build_metrics
from snnvis.evaluation.metrics import GramSide, RDMSide, RegressionSide, ResponseSide
from snnvis.models import LayerSpec
from snnvis.similarity import rdm


def _target(seed: int = 0, n: int = 30, neurons: int = 6, repeats: int = 4) -> Target:
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n, neurons))
    trials = truth[:, None] + 0.5 * rng.standard_normal((n, repeats, neurons))
    return Target("rec", "V1", "counts", trials.mean(1), trials, n_units=neurons)


def test_prepare_returns_the_family_dataclass():
    target, idx = _target(), np.arange(0, 30, 2)
    families = {"rsa": RDMSide, "cka": GramSide, "svcca": ResponseSide, "ridge": RegressionSide, "pls": RegressionSide}
    assert set(families) == set(METRICS)
    for metric in build_metrics(list(METRICS), n_boot=0):
        prep = metric.prepare(target, idx)
        assert type(prep) is families[metric.name] and isinstance(prep, Prepared)
        assert prep.n_neurons == 6 and isinstance(prep.ceiling_kind, str)
        with pytest.raises(dataclasses.FrozenInstanceError):
            prep.n_neurons = 1
    rsa, cka, _, ridge, _ = build_metrics(list(METRICS), n_boot=0)
    # the data each family compares with, against independent computations
    no_trials = Target("rec", "V1", "counts", target.responses, None, n_units=6)
    np.testing.assert_allclose(rsa.prepare(no_trials, idx).rdms[0], rdm(target.responses[idx]))
    factor = cka.prepare(target, idx).Y
    np.testing.assert_allclose(factor @ factor.T, target.responses[idx] @ target.responses[idx].T, atol=1e-10)
    assert ridge.prepare(target, idx).reliability.shape == (6,) and ridge.prepare(no_trials, idx).reliability is None
    assert rsa.prepare(target, idx).ceiling > 0 and np.isnan(rsa.prepare(no_trials, idx).ceiling)


@dataclass(frozen=True, eq=False, kw_only=True)
class _FirstNeuron(Prepared):
    y: np.ndarray


class _Pearson(Metric[_FirstNeuron]):
    """Pearson r of the first feature with the first neuron (a toy metric)."""

    name = "first_r"

    def prepare(self, target, idx):
        return _FirstNeuron(n_neurons=1, ceiling_kind="toy ceiling", y=target.responses[idx, 0])

    def selection(self, X, prep):
        return Result(float(np.corrcoef(X[:, 0], prep.y)[0, 1]), n_neurons=prep.n_neurons)

    def test(self, X_fit, prep_fit, X, prep):
        return self.selection(X, prep)


def test_a_new_metric_is_scored_through_the_interface():
    target = _target(1)
    splits = {"selection": np.arange(0, 20), "test": np.arange(20, 30)}
    X = (target.responses + np.random.default_rng(2).standard_normal(target.responses.shape)).astype(np.float32)
    rows = LayerScorer([target], [_Pearson()], splits).score(LayerSpec("l", 0, "V1", None), X)
    assert [(r.metric, r.split) for r in rows] == [("first_r", "selection"), ("first_r", "test")]
    for row in rows:
        idx = splits[row.split]
        assert row.score == pytest.approx(pearsonr(X[idx, 0], target.responses[idx, 0])[0], rel=1e-5)
        assert row.ceiling_kind == "toy ceiling" and row.n_stimuli == len(idx)


def test_an_incomplete_metric_cannot_be_built():
    class NoTest(Metric):
        name = "no_test"

        def prepare(self, target, idx):
            return Prepared(n_neurons=0)

        def selection(self, X, prep):
            return Result(0.0)

    with pytest.raises(TypeError, match="abstract"):
        NoTest()

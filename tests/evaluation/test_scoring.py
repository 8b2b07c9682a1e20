"""Layer × area scoring on a synthetic population with known ground truth: held-out layer
choice, ground truth beats noise, ceilings and intervals."""

from __future__ import annotations

import numpy as np
import pytest

from snnvis.errors import UserError
from snnvis.evaluation import LayerScorer, Target, build_metrics, choose_layers, stimulus_splits, targets_from_recording
from snnvis.evaluation.targets import _reference_sets
from snnvis.models import LayerSpec
from snnvis.recordings.recording import Recording
from snnvis.similarity import rdm

FAST = {"ridge": {"alphas": [0.01, 0.1, 1.0, 10.0, 100.0]}}


def noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def spec(name: str, depth: int) -> LayerSpec:
    return LayerSpec(name, depth, "V1", None)


@pytest.fixture(scope="module")
def data(synth):
    rec = Recording(synth[0])
    truth = rec.mean("ground_truth_rate")[:, 0, :].astype(np.float32)  # (stimuli, neurons) noiseless rates
    return rec, truth, targets_from_recording(rec), stimulus_splits(rec)


def score(layers: dict[str, np.ndarray], targets, splits, metrics=("rsa", "cka", "ridge"), n_boot=100):
    scorer = LayerScorer(targets, build_metrics(metrics, FAST, n_boot=n_boot, seed=0), splits)
    rows = []
    for depth, (name, features) in enumerate(layers.items()):
        rows += scorer.score(spec(name, depth), features)
    return rows


def get(rows, layer, metric, split):
    (row,) = [r for r in rows if r.layer == layer and r.metric == metric and r.split == split]
    return row


def test_targets_and_splits(data):
    rec, _, targets, splits = data
    (target,) = targets
    assert (target.area, target.name) == ("V1", "counts")
    assert target.responses.shape == (300, 24) and target.trials.shape == (300, 8, 24)
    assert len(splits["selection"]) + len(splits["test"]) == 300
    assert not set(splits["selection"]) & set(splits["test"])
    np.testing.assert_array_equal(splits["test"], rec.split("test"))


def test_layer_choice_is_held_out(data):
    """Layer 'early' is the true rate on the selection stimuli and noise on the test
    stimuli; 'late' is a noisy copy of the rate everywhere. The held-out choice is 'early'
    and reports its (poor) test score, while the max over layers on the test data would
    pick 'late'."""
    rec, truth, targets, splits = data
    sel, test = splits["selection"], splits["test"]
    early = noise(truth.shape, 1)
    early[sel] = truth[sel]
    late = truth + 1.0 * truth.std(0) * noise(truth.shape, 2)
    rows = score({"early": early, "late": late}, targets, splits)
    best = {b["metric"]: b for b in choose_layers(rows, "held_out")}
    for metric in ("rsa", "cka", "ridge"):
        e_sel, l_sel = get(rows, "early", metric, "selection"), get(rows, "late", metric, "selection")
        e_test, l_test = get(rows, "early", metric, "test"), get(rows, "late", metric, "test")
        assert e_sel.score > l_sel.score + 0.2 and l_test.score > e_test.score + 0.2, metric
        b = best[metric]
        assert b["layer"] == "early" and b["score"] == e_test.score and b["selection_score"] == e_sel.score
        assert b["selection"] == "held_out (chosen on train+validation)" and b["n_stimuli"] == len(test)
        assert e_test.chosen and e_sel.chosen and not l_test.chosen
    optimistic = {b["metric"]: b for b in choose_layers(rows, "max_on_test")}
    for metric in ("rsa", "cka", "ridge"):
        assert optimistic[metric]["layer"] == "late"
        assert optimistic[metric]["score"] == get(rows, "late", metric, "test").score
        assert optimistic[metric]["selection"] == "max_on_test (optimistic)"
    assert {r.selection for r in rows} == {"max_on_test (optimistic)"}
    with pytest.raises(UserError, match="selection"):
        choose_layers(rows, "best")


def test_ground_truth_beats_noise(data):
    rec, truth, targets, splits = data
    rows = score(
        {"truth": truth, "noise": noise((300, 50), 3)}, targets, splits, metrics=("rsa", "cka", "svcca", "ridge", "pls")
    )
    for metric in ("rsa", "cka", "svcca", "ridge", "pls"):
        t, n = get(rows, "truth", metric, "test"), get(rows, "noise", metric, "test")
        assert t.score > n.score + 0.3, metric
        assert abs(n.score) < (0.45 if metric == "cka" else 0.25), metric  # biased linear CKA is > 0 for noise
        for r in (t, n):
            assert -1 <= r.score <= 1 and r.ci_low <= r.score <= r.ci_high, (metric, r)
            assert r.n_stimuli == len(splits["test"]) and r.n_neurons == 24
    # ceilings from the 8 repeats; the noiseless rate reaches them
    rsa = get(rows, "truth", "rsa", "test")
    assert 0 < rsa.ceiling_lower < rsa.ceiling < rsa.ceiling_upper < 1 and "noise ceiling" in rsa.ceiling_kind
    assert rsa.ceiling_lower < rsa.score < rsa.ceiling_upper and rsa.normalized == pytest.approx(
        rsa.score / rsa.ceiling
    )
    cka = get(rows, "truth", "cka", "test")
    assert 0 < cka.ceiling < 1 and cka.normalized == pytest.approx(cka.score / cka.ceiling)
    for metric in ("ridge", "pls"):
        reg = get(rows, "truth", metric, "test")
        assert 0.5 < reg.ceiling < 1 and "Spearman-Brown" in reg.ceiling_kind
        assert 0.85 < reg.normalized < 1.15, (metric, reg.normalized)  # r / sqrt(reliability) ~ 1
    assert get(rows, "truth", "svcca", "test").ceiling != get(rows, "truth", "svcca", "test").ceiling  # NaN
    # a silent layer scores NaN instead of failing, and is never chosen
    rows = score({"silent": np.zeros((300, 10), np.float32), "truth": truth}, targets, splits, n_boot=0)
    assert all(np.isnan(r.score) for r in rows if r.layer == "silent")
    assert {b["layer"] for b in choose_layers(rows)} == {"truth"}


def test_reference_rdm_set_ceiling(data):
    rec, truth, _, splits = data
    clean = rdm(truth.astype(np.float64))
    subjects = np.stack([rdm(truth + 0.5 * noise(truth.shape, s) * truth.std(0)) for s in range(4)])
    target = Target("synth", "IT", "brain", rdms=subjects)
    single = Target("synth", "IT", "one", rdms=clean[None], n_units=24)
    rows = score({"truth": truth, "noise": noise((300, 30), 4)}, [target, single], splits, metrics=("rsa", "ridge"))
    assert {r.metric for r in rows} == {"rsa"}  # regression needs neurons
    t = get([r for r in rows if r.target == "brain"], "truth", "rsa", "test")
    assert 0 < t.ceiling_lower < t.ceiling <= 1 and t.score > 0.5 and "4 subject RDMs" in t.ceiling_kind
    o = get([r for r in rows if r.target == "one"], "truth", "rsa", "test")
    assert o.score == pytest.approx(1.0) and np.isnan(o.ceiling) and o.n_neurons == 24
    assert _reference_sets(
        ["human_IT", "human_IT_A_session1", "human_IT_A_session2", "human_IT_B_session1", "monkey_IT"]
    ) == {"human_IT": [["human_IT_A_session1", "human_IT_A_session2"], ["human_IT_B_session1"]], "monkey_IT": []}


def test_metric_errors():
    with pytest.raises(UserError, match="unknown metric"):
        build_metrics(["rsa", "brainscore"])
    with pytest.raises(UserError, match="no metric"):
        build_metrics([])
    with pytest.raises(UserError, match="metric_options.rsa"):
        build_metrics(["rsa"], {"rsa": {"bogus": 1}})


def test_held_out_fits_match_references():
    """The fit-on-selection / predict-test helpers scoring relies on."""
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.linear_model import Ridge as SkRidge

    from snnvis.similarity import predictivity, svcca
    from snnvis.similarity.cca import svcca_transform
    from snnvis.similarity.regression import pls_fit_predict, ridge_fit_predict

    rng = np.random.default_rng(0)
    X, X_new = rng.standard_normal((60, 12)), rng.standard_normal((15, 12))
    Y = X @ rng.standard_normal((12, 4)) + rng.standard_normal((60, 4))
    np.testing.assert_allclose(
        ridge_fit_predict(X, Y, X_new, [3.0]), SkRidge(alpha=3.0).fit(X, Y).predict(X_new), atol=1e-10
    )
    reference = PLSRegression(3, scale=False, max_iter=10000, tol=1e-14).fit(X, Y).predict(X_new)
    np.testing.assert_allclose(pls_fit_predict(X, Y, X_new, 3), reference, atol=1e-5)
    u, v = svcca_transform(X, Y, X, Y, k=4)  # applied to the training stimuli: in-sample SVCCA
    np.testing.assert_allclose(predictivity(u, v).r, svcca(X, Y, k=4).correlations, atol=1e-10)

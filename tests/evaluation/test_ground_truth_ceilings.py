"""The synthetic generator's ground truth against the ceilings: the noise-free rates reach
a normalised score of 1 (the CI contains 1) for RSA, CKA and regression, and a model with
independent noise of the signal's variance lands where the noise-free comparison says."""

from __future__ import annotations

import numpy as np
import pytest

from snnvis.evaluation import LayerScorer, Target, build_metrics
from snnvis.models import LayerSpec
from snnvis.recordings.synthetic import SynthConfig, expected_ceiling, simulate
from snnvis.similarity import bootstrap_ci, cka, compare_rdms, correct_r, mean_reliability, predictivity, rdm
from snnvis.similarity.regression import ridge_fit_predict

ALPHAS = [1e-3, 1e-2, 0.1, 1.0]
CFG = SynthConfig(n_stimuli=450, n_neurons=40, n_repeats=8, size=32, seed=5, rate_range=(2.0, 10.0))


@pytest.fixture(scope="module")
def scored():
    sim = simulate(CFG)
    rates = sim.rates[:, 0, :]
    trials = sim.counts[:, :, 0, :].astype(np.float64)
    target = Target("synth", "V1", "counts", trials.mean(1), trials, n_units=CFG.n_neurons)
    perm = np.random.default_rng(0).permutation(len(rates))
    splits = {"selection": np.sort(perm[150:]), "test": np.sort(perm[:150])}
    half = rates + np.random.default_rng(1).standard_normal(rates.shape) * rates.std(0)
    scorer = LayerScorer(
        [target], build_metrics(["rsa", "cka", "ridge"], {"ridge": {"alphas": ALPHAS}}, n_boot=200, seed=0), splits
    )
    rows = {}
    for name, X in (("truth", rates), ("half", half)):
        for r in scorer.score(LayerSpec(name, 0, "V1", None), X.astype(np.float32)):
            if r.split == "test":
                rows[name, r.metric] = r
    return rates, trials, half, splits, rows


def test_ground_truth_normalised_score_is_one(scored):
    rates, trials, _, splits, rows = scored
    for metric in ("rsa", "cka"):
        r = rows["truth", metric]
        assert r.normalized_ci_low <= 1 <= r.normalized_ci_high, (metric, r)
        assert r.normalized == pytest.approx(1.0, abs=0.02), metric
    rsa = rows["truth", "rsa"]
    assert rsa.ceiling_lower < rsa.score < rsa.ceiling_upper
    # regression: the ridge map from the true rates loses a little to its fit; the
    # normalised score is the fitted prediction's correlation with the noise-free rate
    sel, te = splits["selection"], splits["test"]
    total = np.sqrt(rates[sel].var(0).sum())
    pred = ridge_fit_predict(rates[sel] / total, trials.mean(1)[sel], rates[te] / total, ALPHAS)
    reg = rows["truth", "ridge"]
    assert reg.normalized == pytest.approx(np.median(predictivity(pred, rates[te]).r), abs=0.01)
    assert reg.normalized > 0.98 and reg.ceiling == pytest.approx(np.median(expected_ceiling(rates[te], 8)), abs=0.02)
    # the noise-free rate itself as the prediction: median r / sqrt(reliability), CI over neurons, contains 1
    rel = mean_reliability(trials[te])
    corrected = correct_r(predictivity(rates[te], trials[te].mean(1)).r, rel)
    _, lo, hi = bootstrap_ci(np.nanmedian, corrected, n_boot=500, seed=0)
    assert lo <= 1 <= hi


def test_half_noise_model_lands_where_theory_says(scored):
    rates, trials, half, splits, rows = scored
    sel, te = splits["selection"], splits["test"]
    theory = {
        "rsa": compare_rdms(rdm(half[te]), rdm(rates[te]), "spearman"),
        "cka": cka(half[te], rates[te], "linear"),
    }
    total = np.sqrt(half[sel].var(0).sum())
    pred = ridge_fit_predict(half[sel] / total, trials.mean(1)[sel], half[te] / total, ALPHAS)
    theory["ridge"] = np.median(predictivity(pred, rates[te]).r)
    for metric, value in theory.items():
        r = rows["half", metric]
        assert r.normalized_ci_low <= value <= r.normalized_ci_high, (metric, value, r)
        assert r.normalized < 0.85, metric
    # per neuron, independent noise of the signal's variance gives corr 1/sqrt(2) with the truth
    rel = mean_reliability(trials[te])
    corrected = correct_r(predictivity(half[te], trials[te].mean(1)).r, rel)
    _, lo, hi = bootstrap_ci(np.nanmedian, corrected, n_boot=500, seed=0)
    assert lo <= 1 / np.sqrt(2) <= hi


def test_silent_stimuli_are_scored_not_dropped(scored):
    """An SNN-like layer silent on 30% of the stimuli and its twin: both are scored on every
    test stimulus, the silent fraction is reported, and silence costs the SNN layer RSA."""
    rates, trials, _, splits, _ = scored
    target = Target("synth", "V1", "counts", trials.mean(1), trials, n_units=CFG.n_neurons)
    scorer = LayerScorer([target], build_metrics(["rsa"], n_boot=50, seed=0), splits)
    silent = np.random.default_rng(2).random(len(rates)) < 0.3
    snn = np.where(silent[:, None], 0.0, rates).astype(np.float32)
    rows = {
        (name, r.split): r
        for name, X in (("snn", snn), ("twin", rates.astype(np.float32)))
        for r in scorer.score(LayerSpec(name, 0, "V1", None), X)
    }
    for split, idx in splits.items():
        s, t = rows["snn", split], rows["twin", split]
        assert s.n_stimuli == t.n_stimuli == len(idx)
        assert s.silent_fraction == pytest.approx(silent[idx].mean()) and t.silent_fraction == 0.0
        assert np.isfinite(s.score) and s.score < t.score - 0.1
        assert np.isfinite(s.ci_low) or split == "selection"

"""Ceilings computed on the same data as the score: RSA against fold RDMs over several
partitions (rsatoolbox bounds), CKA against the trial mean, the reliability of a mean of
unequal repeat counts, and constant (silent) patterns in correlation RDMs."""

from __future__ import annotations

import numpy as np
import pytest
from rsatoolbox.inference import boot_noise_ceiling, eval_fixed
from rsatoolbox.model import ModelFixed
from rsatoolbox.rdm import RDMs

from snnvis.similarity import (
    cka,
    cka_ceiling,
    compare_rdms,
    expected_ceiling,
    hsic,
    mean_reliability,
    partition_noise_ceiling,
    partition_rdms,
    rdm,
    rdms_from_folds,
    silent_fraction,
    split_half_reliability,
)
from snnvis.similarity.rdm import upper_triangle


def _population(rng, n=60, p=30, repeats=6, noise=2.0):
    truth = rng.normal(size=(n, 4)) @ rng.normal(size=(4, p)) + 0.5 * rng.normal(size=(n, p))
    return truth, truth[:, None, :] + noise * rng.normal(size=(n, repeats, p))


def test_partition_bounds_and_score_match_rsatoolbox():
    rng = np.random.default_rng(0)
    truth, trials = _population(rng)
    folds = partition_rdms(trials, n_folds=3, n_partitions=4, seed=1)
    assert folds.shape == (4, 3, 60, 60)
    np.testing.assert_allclose(folds[0], rdms_from_folds(trials, 3, seed=1), atol=1e-12)  # first draw
    lower, upper, expected = partition_noise_ceiling(folds, "spearman")
    bounds = [boot_noise_ceiling(RDMs(upper_triangle(f)), method="spearman") for f in folds]
    assert lower == pytest.approx(np.mean([b[0] for b in bounds]), abs=1e-10)
    assert upper == pytest.approx(np.mean([b[1] for b in bounds]), abs=1e-10)
    # the score is rsatoolbox's eval_fixed: the mean similarity to every fold RDM
    model = rdm(truth)
    data = RDMs(upper_triangle(folds.reshape(-1, 60, 60)))
    reference = eval_fixed(ModelFixed("truth", RDMs(upper_triangle(model)[None])), data, method="spearman")
    score = np.mean(compare_rdms(model, folds.reshape(-1, 60, 60), "spearman"))
    assert score == pytest.approx(float(np.mean(reference.evaluations)), abs=1e-10)
    # two folds: rsatoolbox's lower bound is the similarity of the pair, the expected ceiling its root
    two = partition_rdms(trials, n_folds=2, n_partitions=1, seed=2)
    lo, _, ex = partition_noise_ceiling(two, "pearson")
    assert ex == pytest.approx(np.sqrt(lo), abs=1e-12)


def test_true_model_lands_on_the_expected_rsa_ceiling():
    """Over many simulated experiments the true RDM's mean similarity to the fold RDMs
    lies between rsatoolbox's bounds and equals the expected ceiling; scoring the true RDM
    against the RDM of all repeats instead (the former mismatch) gives a higher value. (At
    lower SNR the expected ceiling stays unbiased on average but gets noisy: the square
    root of a pair similarity near 0.)"""
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(40, 50))
    scores, expected, lowers, uppers, against_mean = [], [], [], [], []
    for _ in range(20):
        trials = truth[:, None, :] + 2.0 * rng.normal(size=(40, 8, 50))
        folds = partition_rdms(trials, 2, 5, seed=int(rng.integers(1000)))
        lo, up, ex = partition_noise_ceiling(folds, "pearson")
        scores.append(np.mean(compare_rdms(rdm(truth), folds.reshape(-1, 40, 40), "pearson")))
        against_mean.append(compare_rdms(rdm(truth), rdm(trials.mean(1)), "pearson"))
        expected.append(ex), lowers.append(lo), uppers.append(up)
    assert np.mean(lowers) < np.mean(scores) < np.mean(uppers)
    assert np.mean(scores) / np.mean(expected) == pytest.approx(1.0, abs=0.02)
    assert np.mean(against_mean) > np.mean(scores) + 0.05


def test_cka_ceiling_matches_closed_form():
    """Population linear CKA of T with Ybar = T + noise (variance s2 / R per feature) is
    ||S|| / ||S + s2/R I|| (S the covariance of T across stimuli); the ceiling estimates it
    and the normalised true model is 1."""
    rng = np.random.default_rng(4)
    n, p, R, s = 400, 20, 5, 1.5
    truth = rng.normal(size=(n, 3)) @ rng.normal(size=(3, p)) + 0.7 * rng.normal(size=(n, p))
    trials = truth[:, None, :] + s * rng.normal(size=(n, R, p))
    cov = np.cov(truth.T, bias=True)
    closed = np.linalg.norm(cov) / np.linalg.norm(cov + s**2 / R * np.eye(p))
    for kind in ("linear_unbiased", "linear"):
        c = cka_ceiling(trials, kind=kind, n_splits=10)
        assert c == pytest.approx(closed, abs=0.01), kind
        assert cka(truth, trials.mean(1), kind) / c == pytest.approx(1.0, abs=0.01), kind
    # the former ceiling, CKA between two half means, is far lower than the true model's score
    halves = trials[:, :2].mean(1), trials[:, 2:4].mean(1)
    assert cka(*halves, "linear") < cka(truth, trials.mean(1), "linear") - 0.05
    # hsic is the numerator of cka
    x, y = truth[:50, :5], trials[:50, 0, :7]
    for kind in ("linear", "linear_unbiased"):
        assert hsic(x, y, kind) / np.sqrt(hsic(x, x, kind) * hsic(y, y, kind)) == pytest.approx(cka(x, y, kind))
    with pytest.raises(ValueError, match=">= 2 valid repeats"):
        t = trials.copy()
        t[0, 1:] = np.nan
        cka_ceiling(t)


def test_mean_reliability_with_unequal_repeats():
    """Equal repeats: exactly the Spearman-Brown split-half reliability. Stimuli with one
    or two repeats (duplicated images): the closed form s2 / (s2 + n2 <1/n>)."""
    rng = np.random.default_rng(5)
    trials = rng.normal(size=(200, 1, 10)) + rng.normal(size=(200, 6, 10))
    np.testing.assert_allclose(mean_reliability(trials, seed=3), split_half_reliability(trials, seed=3), atol=1e-12)
    n, neurons, s2, n2 = 4000, 8, 1.0, 1.5
    signal = np.sqrt(s2) * rng.normal(size=(n, 1, neurons))
    trials = signal + np.sqrt(n2) * rng.normal(size=(n, 2, neurons))
    trials[n // 4 :, 1] = np.nan  # a quarter of the stimuli duplicated
    inv_n = 0.25 / 2 + 0.75 / 1
    expected = s2 / (s2 + n2 * inv_n)
    rel = mean_reliability(trials, n_splits=2)
    assert np.median(rel) == pytest.approx(expected, abs=0.03)
    # and it is the squared correlation of the trial mean with the signal
    mean = np.nanmean(trials, 1)
    r2 = [np.corrcoef(mean[:, k], signal[:, 0, k])[0, 1] ** 2 for k in range(neurons)]
    assert np.median(rel) == pytest.approx(np.median(r2), abs=0.03)
    # the plain Spearman-Brown value (reliability of a 2-copy mean) would overstate it
    assert np.median(split_half_reliability(trials, n_splits=2)) > expected + 0.1


def test_constant_patterns_keep_their_rows():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(6, 9))
    x[1], x[4] = 0.0, 3.0  # silent and constant stimuli
    d = rdm(x)
    assert np.isfinite(d).all()
    np.testing.assert_array_equal(d[1, [0, 2, 3, 5]], 1.0)
    assert d[1, 4] == 0.0 and d[4, 1] == 0.0
    keep = [0, 2, 3, 5]
    reference = 1 - np.corrcoef(x[keep])
    np.testing.assert_allclose(d[np.ix_(keep, keep)], reference, atol=1e-12)
    assert silent_fraction(x) == pytest.approx(2 / 6)
    assert expected_ceiling(np.stack([d, d + 0.01 * rng.random(d.shape)]), "spearman") > 0.9

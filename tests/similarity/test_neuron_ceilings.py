"""Single-neuron reliability and noise-corrected metrics on data with known truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnvis.similarity import correct_r, feve, noise_corrected_r2, normalize, pearson_ceiling, split_half_reliability
from snnvis.similarity.ceilings import fold_means


def _r2er_reference(x, y):
    """Transcription of Pospisil & Bair's ``r2er_n2m`` for x (m,) and y (n repeats, m)."""
    n, m = y.shape
    sig2_hat = np.mean(np.var(y, 0, ddof=1))
    x_ms = x - x.mean()
    y_ms = y.mean(0) - y.mean(0).mean()
    xy2 = np.sum(x_ms * y_ms) ** 2
    x2, y2 = np.sum(x_ms**2), np.sum(y_ms**2)
    return (xy2 - sig2_hat / n * x2) / (x2 * y2 - (m - 1) * sig2_hat / n * x2)


def _simulate_r2er(rng, r2er, n_sims, n_stim=40, n_rep=6, sigma=1.0, dyn_range=40.0):
    """Model cosine tuning and neurons whose mean tuning has squared correlation r2er with
    it (the simulation design of Pospisil & Bair); returns pred (stim, sims) and trials
    (stim, repeats, sims)."""
    s = np.linspace(0, 2 * np.pi, n_stim, endpoint=False)
    x = np.cos(s)
    mu = np.cos(s + np.arccos(np.sqrt(r2er)))
    mu = np.sqrt(dyn_range) * mu / np.linalg.norm(mu)
    trials = mu[:, None, None] + sigma * rng.normal(size=(n_stim, n_rep, n_sims))
    return np.repeat(x[:, None], n_sims, 1), trials


def test_split_half_reliability_matches_theory():
    """E[reliability] = s2 / (s2 + n2 / R) for signal variance s2, noise n2, R repeats."""
    rng = np.random.default_rng(0)
    s2, n2, repeats = 1.0, 4.0, 10
    signal = np.sqrt(s2) * rng.normal(size=(300, 1, 60))  # 60 neurons = simulations
    trials = signal + np.sqrt(n2) * rng.normal(size=(300, repeats, 60))
    rel = split_half_reliability(trials, n_splits=10, seed=0)
    theory = s2 / (s2 + n2 / repeats)
    assert abs(rel.mean() - theory) < 4 * rel.std() / np.sqrt(len(rel))
    np.testing.assert_array_equal(rel, split_half_reliability(trials, n_splits=10, seed=0))
    np.testing.assert_allclose(pearson_ceiling(trials, n_splits=10, seed=0), np.sqrt(rel))


def test_split_half_reliability_with_nan_padding_matches_theory():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(300, 1, 60))
    trials = signal + 2.0 * rng.normal(size=(300, 12, 60))
    trials[::2, 10:] = np.nan  # half the stimuli have only 10 repeats
    rel = split_half_reliability(trials, n_splits=10, seed=0)
    # Each half holds 5 or 6 repeats: the corrected value lies between the 10- and 12-repeat
    # reliabilities.
    assert 1 / (1 + 4 / 10) - 0.02 < rel.mean() < 1 / (1 + 4 / 12) + 0.02


def test_fold_means_use_disjoint_equal_valid_repeats():
    trials = np.arange(2 * 7 * 1, dtype=float).reshape(2, 7, 1)
    trials[1, 5:] = np.nan  # 5 valid repeats -> 2 per half
    halves = fold_means(torch.as_tensor(trials), 2, np.random.default_rng(0)).numpy()
    assert halves.shape == (2, 2, 1)
    total = trials[0, :, 0].sum()
    assert 3 * (halves[0, 0, 0] + halves[1, 0, 0]) <= total  # 3 + 3 of 7 repeats used
    assert halves[0, 0, 0] != halves[1, 0, 0]
    assert np.all(np.isin(2 * halves[:, 1, 0], [a + b for a in trials[1, :5, 0] for b in trials[1, :5, 0] if a != b]))


def test_noise_corrected_r2_equals_reference_estimator():
    rng = np.random.default_rng(2)
    pred, trials = _simulate_r2er(rng, 0.6, n_sims=5)
    ours = noise_corrected_r2(pred, trials)
    ref = [_r2er_reference(pred[:, k], trials[:, :, k].T) for k in range(5)]
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


@pytest.mark.parametrize("nan_padding", [False, True])
def test_noise_corrected_r2_is_unbiased_where_naive_r2_is_not(nan_padding):
    rng = np.random.default_rng(3)
    truth = 0.7
    pred, trials = _simulate_r2er(rng, truth, n_sims=3000)  # ratio estimator: needs SNR
    if nan_padding:
        trials[::3, 3:] = np.nan  # a third of the stimuli keep 3 repeats
    est = noise_corrected_r2(pred, trials)
    assert abs(est.mean() - truth) < min(0.01, 4 * est.std() / np.sqrt(len(est)))
    naive = np.array([np.corrcoef(pred[:, k], np.nanmean(trials[:, :, k], 1))[0, 1] ** 2 for k in range(200)])
    assert naive.mean() < truth - 0.05


def test_feve_matches_definition_and_limits():
    rng = np.random.default_rng(4)
    mu = rng.normal(size=(50, 200))  # 200 neurons
    trials = mu[:, None, :] + 0.7 * rng.normal(size=(50, 8, 200))
    trials[:5, 6:, :] = np.nan
    pred = mu + 0.3 * rng.normal(size=mu.shape)
    ours = feve(pred, trials)
    k = 3
    y = trials[:, :, k]
    valid = ~np.isnan(y)
    sig2 = np.mean([np.var(row[~np.isnan(row)], ddof=1) for row in y])
    mse = np.mean((y - pred[:, k : k + 1])[valid] ** 2)
    expected = 1 - (mse - sig2) / (np.var(y[valid], ddof=1) - sig2)
    assert ours[k] == pytest.approx(expected, rel=1e-10)
    assert feve(mu, trials).mean() == pytest.approx(1.0, abs=0.01)  # perfect model
    constant = np.broadcast_to(np.nanmean(trials, (0, 1)), mu.shape)
    assert feve(constant, trials).mean() == pytest.approx(0.0, abs=0.02)


def test_correction_helpers():
    r = np.array([0.5, 0.4, 0.3])
    rel = np.array([0.25, 0.0, -0.1])
    out = correct_r(r, rel)
    assert out[0] == pytest.approx(1.0) and np.isnan(out[1]) and np.isnan(out[2])
    np.testing.assert_allclose(normalize(r, np.array([0.5, 0.8, 1.0])), [1.0, 0.5, 0.3])


def test_shape_validation():
    with pytest.raises(ValueError, match="stimuli, repeats, neurons"):
        split_half_reliability(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pred must have shape"):
        feve(np.zeros((4, 2)), np.zeros((4, 3, 5)))

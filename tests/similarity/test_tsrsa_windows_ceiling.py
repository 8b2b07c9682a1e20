"""TSRSA over windows, its neuron split-half ceiling and RSA per bin, against a scipy loop
and latent-trajectory data with known structure."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from snnvis.similarity import rsa_per_bin, tsrsa_split_half_ceiling, tsrsa_windows


def _ref_tsrsa(a, b):
    iu = np.triu_indices(a.shape[0], 1)
    return spearmanr((1 - np.corrcoef(a))[iu], (1 - np.corrcoef(b))[iu])[0]


def _latent(seed, frames=60, k=5, neurons=40, noise=0.3):
    g = np.random.default_rng(seed)
    truth = np.cumsum(g.normal(size=(frames, k)), 0) @ g.normal(size=(k, neurons))
    return truth, truth + noise * truth.std() * g.normal(size=truth.shape)


def test_windows_match_a_scipy_loop():
    g = np.random.default_rng(0)
    a, b = g.normal(size=(23, 7)), g.normal(size=(23, 9))
    ref = [_ref_tsrsa(a[s : s + 6], b[s : s + 6]) for s in range(0, 23 - 6 + 1, 4)]
    np.testing.assert_allclose(tsrsa_windows(a, b, 6, 4, per_window=True), ref, atol=1e-12)
    assert tsrsa_windows(a, b, 6, 4) == pytest.approx(np.mean(ref), abs=1e-12)
    assert tsrsa_windows(a, b) == pytest.approx(_ref_tsrsa(a, b), abs=1e-12)  # one window
    batch = tsrsa_windows(np.stack([a, a]), np.stack([b[:, :7], a]), 6, 4, per_window=True)
    ref7 = [_ref_tsrsa(a[s : s + 6], b[s : s + 6, :7]) for s in range(0, 23 - 6 + 1, 4)]
    np.testing.assert_allclose(batch[0], ref7, atol=1e-12)
    np.testing.assert_allclose(batch[1], 1.0, atol=1e-12)
    as_torch = tsrsa_windows(torch.as_tensor(a), torch.as_tensor(b), 6, 4)
    assert float(as_torch) == pytest.approx(np.mean(ref), abs=1e-12)


def test_rsa_per_bin_matches_a_scipy_loop():
    g = np.random.default_rng(1)
    model, neural = g.normal(size=(8, 5, 6)), g.normal(size=(8, 5, 4))
    ref = [_ref_tsrsa(model[:, t], neural[:, t]) for t in range(5)]
    np.testing.assert_allclose(rsa_per_bin(model, neural), ref, atol=1e-12)


def test_ceiling_is_the_mean_spearman_brown_corrected_split_half():
    _, data = _latent(2, neurons=21, noise=1.0)
    gen = np.random.default_rng(7)
    ref = []
    for _ in range(5):
        p = gen.permutation(21)
        r = np.mean([_ref_tsrsa(data[s : s + 20, p[:10]], data[s : s + 20, p[10:20]]) for s in (0, 20, 40)])
        ref.append(2 * r / (1 + r))
    assert tsrsa_split_half_ceiling(data, 20, n_splits=5, seed=7) == pytest.approx(np.mean(ref), abs=1e-12)


def test_ceiling_tracks_reliability_and_the_ground_truth_scores_near_it():
    truth, _ = _latent(3, neurons=400, noise=0.0)
    assert tsrsa_split_half_ceiling(truth, 20) > 0.99  # noise-free, many neurons: 1
    assert tsrsa_windows(truth, truth, 20) == pytest.approx(1.0)  # the data itself: 1
    ceilings = [tsrsa_split_half_ceiling(_latent(3, noise=s)[1], 20) for s in (0.3, 1.0, 3.0)]
    assert ceilings[0] > ceilings[1] > ceilings[2]
    ratios = []
    for seed in range(4):
        truth, data = _latent(seed, noise=0.3)
        ratios.append(tsrsa_windows(truth, data, 20) / tsrsa_split_half_ceiling(data, 20))
    assert 0.85 < np.mean(ratios) < 1.15


def test_bad_windows_and_populations_are_refused():
    x = np.zeros((10, 6))
    with pytest.raises(ValueError, match="window"):
        tsrsa_windows(x, x, 2)
    with pytest.raises(ValueError, match="window"):
        tsrsa_windows(x, x, 11)
    with pytest.raises(ValueError, match="neurons >= 4"):
        tsrsa_split_half_ceiling(np.zeros((10, 3)))

"""Percentile bootstrap over stimuli/conditions and neurons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rsatoolbox.rdm import RDMs, compare
from scipy.spatial.distance import squareform

from snnvis.similarity import bootstrap_ci, compare_rdms, predictivity, subsample_conditions

RSA_NAMES = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}


def test_deterministic_under_seed_and_interval_contains_estimate():
    x = np.random.default_rng(0).normal(size=50)
    first = bootstrap_ci(np.mean, x, n_boot=300, seed=3)
    assert first == bootstrap_ci(np.mean, x, n_boot=300, seed=3)
    assert first != bootstrap_ci(np.mean, x, n_boot=300, seed=4)
    estimate, lo, hi = first
    assert estimate == x.mean() and lo < estimate < hi


def test_coverage_of_the_mean_of_a_normal_sample():
    rng = np.random.default_rng(1)
    covered = []
    for i in range(200):
        _, lo, hi = bootstrap_ci(np.mean, rng.normal(size=40), n_boot=300, ci=0.9, seed=i)
        covered.append(lo <= 0.0 <= hi)
    assert 0.82 <= np.mean(covered) <= 0.96  # nominal 0.9, binomial sd 0.02


@pytest.mark.parametrize("method", list(RSA_NAMES))
def test_condition_resampling_matches_rsatoolbox_subsample_pattern(method):
    rng = np.random.default_rng(2)
    a, b = rng.random(45), rng.random(45)  # 10 conditions
    idx = np.array([0, 0, 3, 5, 5, 5, 7, 8, 9, 2])  # duplicates -> NaN self-pairs
    ours = compare_rdms(subsample_conditions(squareform(a), idx), subsample_conditions(squareform(b), idx), method)
    ref = compare(
        RDMs(a[None]).subsample_pattern("index", idx), RDMs(b[None]).subsample_pattern("index", idx), RSA_NAMES[method]
    )[0, 0]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_rdm_bootstrap_and_neuron_bootstrap():
    rng = np.random.default_rng(3)
    truth = rng.random(190)
    a = squareform(truth + 0.1 * rng.random(190))
    b = squareform(truth + 0.1 * rng.random(190))
    est, lo, hi = bootstrap_ci(lambda x, y: compare_rdms(x, y), a, b, axis=(-2, -1), n_boot=100)
    assert est == compare_rdms(a, b) and lo <= est <= hi
    pred, Y = rng.normal(size=(30, 12)), rng.normal(size=(30, 12))
    Y += pred
    est, lo, hi = bootstrap_ci(lambda p, y: predictivity(p, y).median, pred, Y, axis=1, n_boot=100)
    assert lo <= est <= hi
    # One spec per array: resample pred's stimuli, pass Y unchanged.
    est, lo, hi = bootstrap_ci(lambda p, y: p.mean() - y.mean(), pred, Y, axis=[0, None], n_boot=50)
    assert lo <= est <= hi
    with pytest.raises(ValueError, match="share one length"):
        bootstrap_ci(lambda p, y: 0.0, pred, Y[:5], axis=0)


def test_torch_in_torch_out():
    x = torch.randn(40, dtype=torch.float64)
    est, lo, hi = bootstrap_ci(torch.mean, x, n_boot=100, seed=0)
    assert all(isinstance(v, torch.Tensor) for v in (est, lo, hi))
    np_est, np_lo, np_hi = bootstrap_ci(np.mean, x.numpy(), n_boot=100, seed=0)
    assert lo.item() == pytest.approx(np_lo) and hi.item() == pytest.approx(np_hi)

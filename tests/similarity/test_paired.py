"""Paired SNN-vs-twin statistics against scipy and a simulation with a known true difference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from snnvis.similarity.paired import (
    PairingError,
    check_pairing,
    hierarchical_bootstrap,
    paired_comparison,
    pearson_r,
    per_neuron_difference,
    sign_flip_pvalue,
    swap_pvalue,
)


def _population(rng, n_seeds=3, n_stim=60, n_neurons=40, tau_a=0.8, tau_b=1.2, sigma=(0.5, 2.0)):
    """Responses = signal + sigma_n * noise; model X predicts signal + tau_X * noise (fresh per seed).
    The population r of a neuron is 1 / sqrt((1 + sigma^2)(1 + tau^2))."""
    signal = rng.normal(size=(n_stim, 1, n_neurons))
    sig = rng.uniform(*sigma, n_neurons)
    resp = signal + sig * rng.normal(size=signal.shape)
    pred_a = signal + tau_a * rng.normal(size=(n_seeds, *signal.shape))
    pred_b = signal + tau_b * rng.normal(size=(n_seeds, *signal.shape))
    return pred_a, pred_b, resp


def _true_difference(tau_a, tau_b, sigma=(0.5, 2.0)):
    """E over sigma ~ U(lo, hi) of rho_a - rho_b, in closed form (the integral of 1/sqrt(1+s^2) is asinh)."""
    lo, hi = sigma
    mean_inv = (np.arcsinh(hi) - np.arcsinh(lo)) / (hi - lo)
    return mean_inv * (1 / np.sqrt(1 + tau_a**2) - 1 / np.sqrt(1 + tau_b**2))


def test_pearson_r_matches_scipy_and_handles_constants():
    rng = np.random.default_rng(0)
    pred, resp = rng.normal(size=(2, 7, 3, 4)), rng.normal(size=(2, 7, 3, 4))
    r = pearson_r(pred, resp)
    ref = [[stats.pearsonr(pred[k, :, :, n].ravel(), resp[k, :, :, n].ravel())[0] for n in range(4)] for k in range(2)]
    np.testing.assert_allclose(r, ref, atol=1e-12)
    pred[0, :, :, 0] = 1.0  # silent prediction: r = 0
    resp[1, :, :, 1] = 2.0  # constant response: nothing to predict
    pred[1, 0, 0, 2] = np.nan  # a diverged prediction is never r = 0
    r = pearson_r(pred, resp)
    assert r[0, 0] == 0.0 and np.isnan(r[1, 1]) and np.isnan(r[1, 2])


def test_check_pairing_refuses_other_neurons_or_stimuli():
    check_pairing(["a", "b"], np.array(["a", "b"], dtype=object), [3, 5], np.array([3, 5]))
    with pytest.raises(PairingError, match="1 neuron id"):
        check_pairing(["a", "b"], ["a", "b", "c"], [3, 5], [3, 5])
    with pytest.raises(PairingError, match="different order"):
        check_pairing(["a", "b"], ["b", "a"], [3, 5], [3, 5])
    with pytest.raises(PairingError, match="stimulus indices differ"):
        check_pairing(["a", "b"], ["a", "b"], [3, 5], [3, 6])


@pytest.mark.parametrize("n", [8, 11])
def test_exact_sign_flip_equals_scipy_permutation_test(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(0.4, 0.2, n), rng.normal(0.3, 0.2, n)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        vectorized=True,
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert sign_flip_pvalue(a - b, n_perm=10**6) == pytest.approx(ref.pvalue, abs=1e-12)


def test_monte_carlo_sign_flip_is_close_to_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.35, 0.2, 60), rng.normal(0.3, 0.2, 60)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        vectorized=True,
        permutation_type="samples",
        n_resamples=20000,
        alternative="two-sided",
        random_state=0,
    )
    p = sign_flip_pvalue(a - b, n_perm=20000)
    assert 0.02 < ref.pvalue < 0.9
    assert p == pytest.approx(ref.pvalue, abs=0.015)


def test_neuron_level_bootstrap_matches_scipy_bootstrap():
    rng = np.random.default_rng(2)
    pred_a, pred_b, resp = _population(rng, n_seeds=1, n_neurons=50)
    d = per_neuron_difference(pearson_r(pred_a, resp), pearson_r(pred_b, resp))
    lo, hi, boot = hierarchical_bootstrap([(pred_a, pred_b, resp)], n_boot=4000, levels=("neurons",))
    ref = stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.08 * width)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.08 * width)
    assert np.std(boot) == pytest.approx(ref.standard_error, rel=0.08)


def test_all_levels_widen_the_interval():
    rng = np.random.default_rng(3)
    sessions = [_population(rng, n_neurons=30), _population(rng, n_neurons=20, n_stim=40)]
    lo_n, hi_n, _ = hierarchical_bootstrap(sessions, n_boot=400, levels=("neurons",))
    lo, hi, _ = hierarchical_bootstrap(sessions, n_boot=400)
    assert hi - lo > hi_n - lo_n


def _seeded_population(rng, n_seeds=3, n_stim=60, n_neurons=40, tau_a=0.8, tau_b=1.2, seed_sd=0.25, shared=0.5):
    """As :func:`_population`, but each training seed has its own quality (tau_X * exp(seed_sd * z),
    shared by all neurons) and half of the prediction error is shared by all neurons of a stimulus:
    seeds, neurons and stimuli all add variance, as in real runs."""
    signal = rng.normal(size=(n_stim, 1, n_neurons))
    resp = signal + rng.uniform(0.5, 2.0, n_neurons) * rng.normal(size=signal.shape)

    def pred(tau):
        tau_k = tau * np.exp(seed_sd * rng.normal(size=(n_seeds, 1, 1, 1)))
        err = np.sqrt(shared) * rng.normal(size=(n_seeds, n_stim, 1, 1)) + np.sqrt(1 - shared) * rng.normal(
            size=(n_seeds, *signal.shape)
        )
        return signal + tau_k * err

    return pred(tau_a), pred(tau_b), resp


def _seeded_truth(tau_a, tau_b, seed_sd, n=400_000):
    """E[rho_a - rho_b] over neurons and seeds, integrated numerically (Monte Carlo, s.e. ~1e-4)."""
    rng = np.random.default_rng(12345)
    inv = 1 / np.sqrt(1 + rng.uniform(0.5, 2.0, n) ** 2)
    za, zb = (t * np.exp(seed_sd * rng.normal(size=n)) for t in (tau_a, tau_b))
    return float(np.mean(inv * (1 / np.sqrt(1 + za**2) - 1 / np.sqrt(1 + zb**2))))


def test_ci_covers_the_true_difference_at_about_the_nominal_rate():
    """100 simulated experiments (3 seeds x 40 neurons x 60 test stimuli) with a known true difference:
    the seeds x neurons x stimuli bootstrap covers it at about 95 %; resampling neurons alone does not."""
    truth = _seeded_truth(0.8, 1.2, 0.25)
    rng = np.random.default_rng(4)
    covered, covered_neurons_only, estimates = [], [], []
    for i in range(100):
        sessions = [_seeded_population(rng)]
        lo_h, hi_h, boot = hierarchical_bootstrap(sessions, n_boot=150, seed=i)
        d = per_neuron_difference(pearson_r(sessions[0][0], sessions[0][2]), pearson_r(sessions[0][1], sessions[0][2]))
        lo, hi = np.percentile(d[rng.integers(0, d.size, (500, d.size))].mean(1), [2.5, 97.5])
        covered.append(lo_h <= truth <= hi_h)
        covered_neurons_only.append(lo <= truth <= hi)
        estimates.append(np.mean(d))
    assert abs(np.mean(estimates) - truth) < 0.1 * truth  # the estimate is about unbiased
    assert 0.86 <= np.mean(covered) <= 0.99, np.mean(covered)
    assert np.mean(covered_neurons_only) < 0.7, np.mean(covered_neurons_only)


def test_seed_swap_is_the_exact_sign_flip_of_per_seed_differences():
    """Swapping whole runs of seed k flips the sign of its mean difference D_k: scipy's exact paired
    permutation test on the per-seed mean r of SNN and twin is the reference."""
    rng = np.random.default_rng(6)
    sessions = [_seeded_population(rng, n_seeds=5, tau_a=0.9, tau_b=1.1)]
    a, b, resp = sessions[0]
    ra, rb = pearson_r(a, resp).mean(axis=1), pearson_r(b, resp).mean(axis=1)
    ref = stats.permutation_test(
        (ra, rb),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        vectorized=True,
        permutation_type="samples",
        n_resamples=np.inf,
    )
    p = swap_pvalue(sessions, "seeds")
    assert p == pytest.approx(ref.pvalue, abs=1e-12) and p >= 2 / 2**5  # 5 seeds: 32 patterns


def test_stimulus_swap_holds_its_level_when_errors_are_shared_and_the_neuron_sign_flip_does_not():
    """Null (same model quality), half of each model's error shared by the neurons of a stimulus."""
    rng = np.random.default_rng(8)
    p_swap, p_flip = [], []
    for i in range(120):
        sessions = [_seeded_population(rng, n_stim=40, n_neurons=30, tau_a=1.0, tau_b=1.0, seed_sd=0.0)]
        p_swap.append(swap_pvalue(sessions, "stimuli", n_perm=99, seed=i))
        a, b, resp = sessions[0]
        p_flip.append(sign_flip_pvalue(per_neuron_difference(pearson_r(a, resp), pearson_r(b, resp)), n_perm=999))
    assert np.mean(np.asarray(p_swap) < 0.05) <= 0.1, np.mean(np.asarray(p_swap) < 0.05)
    assert np.mean(np.asarray(p_flip) < 0.05) > 0.1, np.mean(np.asarray(p_flip) < 0.05)


def test_p_values_are_uniform_under_the_null_and_small_under_a_difference():
    rng = np.random.default_rng(5)
    null = [
        paired_comparison(
            [_population(rng, n_stim=40, n_neurons=20, tau_a=1.0, tau_b=1.0)], n_boot=1, n_perm=99, seed=i
        ).p_value
        for i in range(150)
    ]
    assert stats.kstest(null, "uniform").pvalue > 0.01
    assert 0.01 <= np.mean(np.asarray(null) < 0.05) <= 0.1
    res = paired_comparison([_population(rng, tau_a=0.5, tau_b=1.5)], n_boot=200, n_perm=999)
    assert res.n_seeds == 3 and res.n_neurons == 40 and res.n_stimuli == 60
    assert res.p_value < 0.01 and res.ci_low > 0 and res.r_a_median > res.r_b_median
    assert res.p_value_seeds == pytest.approx(0.25)  # 3 seeds, all favouring A: 2 of 8 patterns

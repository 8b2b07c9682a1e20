"""Time-course r, FEVE on PSTHs and the mean-time-course baseline, against scipy/numpy
references and synthetic PSTHs with known structure."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from snnvis.similarity import mean_time_course_baseline, psth_explainable_fraction, psth_feve, time_course_r

BINS = 30
T = np.arange(BINS)


def _transient(latency=5.0, tau=3.0):
    t = np.clip(T - latency, 0, None)
    return (t / tau) * np.exp(1 - t / tau) + 0.3 * (T >= latency)  # onset peak, then sustained


def test_time_course_r_matches_scipy_per_stimulus_and_average():
    g = np.random.default_rng(0)
    pred, target = g.normal(size=(6, BINS, 4)), g.normal(size=(6, BINS, 4))
    pred[2, :, 1] = 1.0  # constant: no r for this one
    per = time_course_r(pred, target, average=False)
    for s in range(6):
        for n in range(4):
            if (s, n) == (2, 1):
                assert np.isnan(per[s, n])
            else:
                assert per[s, n] == pytest.approx(pearsonr(pred[s, :, n], target[s, :, n])[0], abs=1e-12)
    ref = np.array(
        [np.mean([pearsonr(pred[s, :, n], target[s, :, n])[0] for s in range(6) if (s, n) != (2, 1)]) for n in range(4)]
    )
    np.testing.assert_allclose(time_course_r(pred, target), ref, atol=1e-12)
    torch_r = time_course_r(torch.as_tensor(pred), torch.as_tensor(target))
    np.testing.assert_allclose(torch_r.numpy(), ref, atol=1e-12)


def test_psth_feve_matches_direct_computation():
    g = np.random.default_rng(1)
    s, r, n = 5, 8, 3
    mean = g.gamma(2.0, 2.0, size=(s, BINS, n))
    trials = mean[:, None] + g.normal(size=(s, r, BINS, n))
    trials[0, 7, :, 0] = np.nan  # a missing repeat
    pred = mean + 0.3 * g.normal(size=mean.shape)
    out, explainable = psth_feve(pred, trials), psth_explainable_fraction(trials)
    for k in range(n):
        y = trials[..., k]  # (stimuli, repeats, bins)
        mse = np.nanmean((y - pred[:, None, :, k]) ** 2)
        var_y = np.nanvar(y, ddof=1)
        sig2 = np.mean(np.nanvar(y, axis=1, ddof=1))  # per (stimulus, bin), averaged
        assert out[k] == pytest.approx(1 - (mse - sig2) / (var_y - sig2), rel=1e-10)
        assert explainable[k] == pytest.approx((var_y - sig2) / var_y, rel=1e-10)
    assert np.all(psth_feve(mean, trials) > 0.9)  # the true mean is near 1


def test_baseline_is_the_least_squares_scaled_training_mean():
    g = np.random.default_rng(2)
    train, test = g.gamma(2.0, size=(7, BINS, 3)), g.gamma(2.0, size=(4, BINS, 3))
    pred = mean_time_course_baseline(train, test)
    shape = train.mean(0)
    for s in range(4):
        for n in range(3):
            c, *_ = np.linalg.lstsq(shape[:, n : n + 1], test[s, :, n], rcond=None)
            np.testing.assert_allclose(pred[s, :, n], c[0] * shape[:, n], rtol=1e-10)


def _gain_data(g, n_stim, n_neurons=5, repeats=10, noise=0.3):
    gains = g.gamma(3.0, 1.0, size=(n_stim, n_neurons))
    mean = gains[:, None, :] * _transient()[None, :, None]
    trials = mean[:, None] + noise * g.normal(size=(n_stim, repeats, BINS, n_neurons))
    return mean, trials, gains


def test_shared_transient_gives_a_high_baseline_that_a_gain_model_cannot_beat():
    g = np.random.default_rng(3)
    _, train_trials, _ = _gain_data(g, 20)
    test_mean, test_trials, gains = _gain_data(g, 10)
    recorded = test_trials.mean(1)
    baseline = mean_time_course_baseline(train_trials.mean(1), recorded)
    r_base = time_course_r(baseline, recorded)
    assert np.all(r_base > 0.9)  # the transient alone
    # a model that knows every gain exactly (and even the true shape) only matches it
    gain_model = gains[:, None, :] * _transient()[None, :, None]
    assert np.all(time_course_r(gain_model, recorded) <= r_base + 0.01)
    # with a generic shape (wrong latency) it falls below it
    wrong = gains[:, None, :] * _transient(latency=9.0)[None, :, None]
    assert np.all(time_course_r(wrong, recorded) < r_base - 0.05)
    feve_base, feve_gain = psth_feve(baseline, test_trials), psth_feve(gain_model, test_trials)
    assert np.all(feve_gain <= feve_base + 0.05)


def test_stimulus_specific_shapes_let_the_ground_truth_beat_the_baseline():
    g = np.random.default_rng(4)

    def data(n_stim, repeats=10):
        latency = g.uniform(2, 14, size=(n_stim, 1))
        tau = g.uniform(1.5, 6.0, size=(n_stim, 1))
        t = np.clip(T[None] - latency, 0, None)
        shapes = (t / tau) * np.exp(1 - t / tau)  # (stimuli, bins)
        mean = shapes[:, :, None] * g.gamma(3.0, size=(1, 1, 4))
        return mean, mean[:, None] + 0.2 * g.normal(size=(n_stim, repeats, BINS, 4))

    _, train_trials = data(20)
    test_mean, test_trials = data(10)
    recorded = test_trials.mean(1)
    r_base = time_course_r(mean_time_course_baseline(train_trials.mean(1), recorded), recorded)
    r_truth = time_course_r(test_mean, recorded)
    assert np.all(r_truth > 0.95)
    assert np.all(r_truth > r_base + 0.1)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="stimuli, bins, neurons"):
        time_course_r(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="repeats"):
        psth_feve(np.zeros((2, 5, 3)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="same"):
        mean_time_course_baseline(np.zeros((2, 5, 3)), np.zeros((2, 6, 3)))

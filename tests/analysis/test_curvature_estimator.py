"""Curvature from noisy single trials: validation on trajectories of known curvature."""
from __future__ import annotations

import numpy as np
import pytest

from snnvis.analysis.curvature import (constant_curvature_trajectory, curvature_crossval, curvature_naive,
                                       difference_gram, mean_angle, simulate_recovery, step_snr, subsequences)


def test_subsequences():
    assert [s.tolist() for s in subsequences(11, 1)] == [list(range(11))]
    assert [s.tolist() for s in subsequences(11, 2)] == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9]]
    assert [len(s) for s in subsequences(7, 3)] == [3]          # phases with < 3 frames are dropped
    with pytest.raises(ValueError):
        subsequences(4, 3)


def test_mean_angle_of_known_shapes():
    k = np.arange(12)
    polygon = np.stack([np.cos(2 * np.pi * k / 12), np.sin(2 * np.pi * k / 12)], axis=1)
    assert mean_angle(polygon) == pytest.approx(30.0)
    line = np.outer(np.arange(6), [1.0, 2.0, 3.0])
    assert mean_angle(line) == pytest.approx(0.0, abs=1e-5)
    rng = np.random.default_rng(0)
    for angle in (15.0, 75.0, 140.0):
        assert mean_angle(constant_curvature_trajectory(11, angle, 20, 1.0, rng)) == pytest.approx(angle)
    # frame_step 2 pools the angles of both subsequences (4 + 3 angles for 11 frames)
    x = rng.normal(size=(11, 5))
    expected = (4 * mean_angle(x[0::2]) + 3 * mean_angle(x[1::2])) / 7
    assert mean_angle(x, frame_step=2) == pytest.approx(expected)


def test_difference_gram_is_unbiased_with_missing_entries():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(6, 8))
    v = np.diff(mean, axis=0)
    truth = v @ v.T
    crossval, naive = [], []
    for _ in range(400):
        trials = mean + rng.normal(scale=1.0, size=(10, 6, 8))
        trials[rng.random(trials.shape) < 0.15] = np.nan               # missing entries, per unit
        crossval.append(difference_gram(trials))
        d = np.diff(np.nanmean(trials, axis=0), axis=0)
        naive.append(d @ d.T)
    assert np.abs(np.mean(crossval, axis=0) - truth).max() < 0.1 * np.abs(truth).max()
    bias = np.diag(np.mean(naive, axis=0) - truth)                   # noise inflates naive squared norms
    assert np.all(bias > 1.0)


@pytest.mark.parametrize("angle", [30.0, 60.0, 90.0])
def test_crossval_recovers_curvature_through_poisson_noise(angle):
    """At SNR 3 per step, the naive estimate is inflated; the corrected one is within a few degrees."""
    r = simulate_recovery([angle], n_units=40, n_repeats=40, snr=3.0, n_sim=40, base_rate=20.0, seed=2)
    true, naive, cv = (np.nanmedian(r[k]) for k in ("true", "naive", "crossval"))
    assert naive - true > 5.0
    assert abs(cv - true) < 4.0
    assert np.isnan(r["crossval"]).sum() == 0


def test_naive_is_inflated_towards_120_for_straight_trajectories():
    r = simulate_recovery([0.0], n_units=40, n_repeats=40, snr=1.0, n_sim=30, base_rate=20.0, seed=3)
    true = np.median(r["true"])
    assert true < 10.0
    assert np.median(r["naive"]) > true + 40.0
    assert np.nanmedian(r["crossval"]) < true + 10.0


@pytest.mark.parametrize("angle", [60.0, 90.0, 120.0])
def test_crossval_median_at_recording_snr(angle):
    """At the step SNR of the Hénaff recordings (~0.2-1) the per-sequence spread is wide,
    but the median over sequences stays within 10 deg of the truth."""
    r = simulate_recovery([angle], n_units=40, n_repeats=45, snr=0.3, n_sim=80, seed=4)
    assert abs(np.nanmedian(r["crossval"]) - np.median(r["true"])) < 10.0


def test_frame_step_and_snr():
    rng = np.random.default_rng(5)
    rates = 3.0 + constant_curvature_trajectory(11, 40.0, 30, 1.5, rng)
    trials = rng.poisson(np.broadcast_to(np.clip(rates, 0.05, None), (60,) + rates.shape)).astype(float)
    assert np.isfinite(curvature_crossval(trials, frame_step=2))
    assert step_snr(trials, 2) > step_snr(trials, 1)                 # larger steps resolve better
    batched = np.stack([trials, trials[::-1]])
    assert curvature_naive(batched).shape == (2,)
    assert curvature_crossval(batched)[0] == pytest.approx(float(curvature_crossval(trials)))

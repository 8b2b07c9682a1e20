"""Curvature analysis helpers (frame_step mean angle, naive curvature, step SNR) and the
validation of :func:`snnvis.similarity.curvature_corrected` on simulated Poisson
populations of known curvature, up to the signal-to-noise ratio of the Hénaff recordings.

Properties of the estimator itself (unbiased Gram matrix, missing entries, batches,
frame_step pooling, numpy/torch agreement) are tested in tests/similarity."""

from __future__ import annotations

import numpy as np
import pytest

from snnvis.analysis.curvature import (
    constant_curvature_trajectory,
    curvature_naive,
    mean_angle,
    simulate_recovery,
    step_snr,
)


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


@pytest.mark.parametrize("angle", [30.0, 60.0, 90.0])
def test_corrected_recovers_curvature_through_poisson_noise(angle):
    """At SNR 3 per step, the naive estimate is inflated; the corrected one is within a few degrees
    (non-planar walks, gamma baselines: the simulation harness at a known answer)."""
    r = simulate_recovery([angle], n_units=40, n_repeats=40, snr=3.0, n_sim=40, base_rate=20.0, seed=2)
    true, naive, corrected = (np.nanmedian(r[k]) for k in ("true", "naive", "corrected"))
    assert naive - true > 5.0
    assert abs(corrected - true) < 4.0
    assert np.isnan(r["corrected"]).sum() == 0


def test_naive_is_inflated_towards_120_for_straight_trajectories():
    r = simulate_recovery([0.0], n_units=40, n_repeats=40, snr=1.0, n_sim=30, base_rate=20.0, seed=3)
    true = np.median(r["true"])
    assert true < 10.0
    assert np.median(r["naive"]) > true + 40.0
    assert np.nanmedian(r["corrected"]) < true + 10.0


@pytest.mark.parametrize("angle", [60.0, 90.0, 120.0])
def test_corrected_median_at_recording_snr(angle):
    """At the step SNR of the Hénaff recordings (~0.2-1) the per-sequence spread is wide,
    but the median over sequences stays within 10 deg of the truth."""
    r = simulate_recovery([angle], n_units=40, n_repeats=45, snr=0.3, n_sim=80, seed=4)
    assert abs(np.nanmedian(r["corrected"]) - np.median(r["true"])) < 10.0


def test_step_snr_and_naive_batches():
    rng = np.random.default_rng(5)
    rates = 3.0 + constant_curvature_trajectory(11, 40.0, 30, 1.5, rng)
    trials = rng.poisson(np.broadcast_to(np.clip(rates, 0.05, None), (60,) + rates.shape)).astype(float)
    assert step_snr(trials, 2) > step_snr(trials, 1)  # larger steps resolve better
    batched = np.stack([trials, trials[::-1]])
    assert curvature_naive(batched).shape == (2,)
    assert curvature_naive(batched)[0] == pytest.approx(float(curvature_naive(trials)))

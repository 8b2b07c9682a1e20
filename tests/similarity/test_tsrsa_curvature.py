"""Time-series RSA and trajectory curvature: closed forms and noisy synthetic data."""
from __future__ import annotations

import numpy as np
import pytest

from snnvis.similarity import compare_rdms, curvature, curvature_corrected, rdm, tsrsa


def _embed(points_2d, n_features=50, seed=0, offset=3.0):
    """Place 2-d points in a random plane of an n-dimensional space."""
    basis = np.linalg.qr(np.random.default_rng(seed).normal(size=(n_features, 2)))[0]
    return offset + points_2d @ basis.T


def test_curvature_closed_forms():
    t = np.arange(8.0)
    line = _embed(np.stack([t, 2 * t], 1))
    assert curvature(line) == pytest.approx(0.0, abs=1e-5)
    zigzag = _embed(np.stack([t, 0.5 * (-1) ** t], 1))       # steps (1, +-1): 90 deg turns
    assert curvature(zigzag) == pytest.approx(90.0, abs=1e-9)
    steep = _embed(np.stack([t, 2.0 * (-1) ** t], 1))         # steps (1, +-4)
    assert curvature(steep) == pytest.approx(np.degrees(2 * np.arctan(4.0)), abs=1e-9)
    for n in (6, 12, 40):
        angles = 2 * np.pi * np.arange(n + 1) / n
        circle = _embed(np.stack([np.cos(angles), np.sin(angles)], 1) * 5.0)
        assert curvature(circle) == pytest.approx(360.0 / n, abs=1e-9)


def test_curvature_batch_and_degenerate_input():
    rng = np.random.default_rng(1)
    trajectories = rng.normal(size=(2, 3, 7, 5))
    batch = curvature(trajectories)
    assert batch.shape == (2, 3)
    assert batch[1, 2] == pytest.approx(curvature(trajectories[1, 2]))
    repeated = trajectories[0, 0].copy()
    repeated[3] = repeated[2]
    assert np.isnan(curvature(repeated))
    with pytest.raises(ValueError, match="frames >= 3"):
        curvature(np.zeros((2, 4)))


def _poisson_arc(rng, n_repeats, step_deg=30.0, n_frames=11, n_neurons=100, radius=80.0):
    angles = np.radians(step_deg) * np.arange(n_frames)
    rates = _embed(np.stack([np.cos(angles), np.sin(angles)], 1) * radius, n_neurons,
                   seed=2, offset=20.0)
    rates = np.clip(rates, 0.5, None)
    return rates, rng.poisson(rates, size=(n_repeats, *rates.shape)).astype(float)


def test_corrected_curvature_recovers_truth_where_naive_is_inflated():
    rng = np.random.default_rng(3)
    rates, trials = _poisson_arc(rng, n_repeats=30)
    truth = curvature(rates)
    assert truth == pytest.approx(30.0, abs=1.0)
    naive = curvature(trials.mean(0))
    corrected = curvature_corrected(trials)
    assert naive > truth + 5
    assert abs(corrected - truth) < 3


def test_corrected_curvature_batches_and_handles_nan_repeats():
    rng = np.random.default_rng(4)
    _, trials = _poisson_arc(rng, n_repeats=30)
    truth = curvature(_poisson_arc(rng, 1)[0])
    with_nan = trials.copy()
    with_nan[25:, 4] = np.nan                  # frame 4 missing on the last 5 repeats
    assert abs(curvature_corrected(with_nan) - truth) < 3
    batch = curvature_corrected(np.stack([trials, trials[::-1]]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(batch[1])


def test_tsrsa_compares_frame_rdms_and_averages_sequences():
    rng = np.random.default_rng(5)
    model = rng.normal(size=(3, 9, 20))
    neural = model[..., :12] + 0.5 * rng.normal(size=(3, 9, 12))
    per_sequence = [compare_rdms(rdm(m), rdm(n), "spearman") for m, n in zip(model, neural)]
    assert tsrsa(model[0], neural[0]) == pytest.approx(per_sequence[0])
    assert tsrsa(model, neural) == pytest.approx(np.mean(per_sequence))
    assert tsrsa(model[0], neural[0], "euclidean", "pearson") == pytest.approx(
        compare_rdms(rdm(model[0], "euclidean"), rdm(neural[0], "euclidean"), "pearson"))
    with pytest.raises(ValueError, match="same frames"):
        tsrsa(model[0], neural[0, :8])

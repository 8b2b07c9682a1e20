"""Time-series RSA and trajectory curvature (plain and noise-corrected): closed forms and
noisy synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnvis.similarity import compare_rdms, curvature, curvature_corrected, difference_gram, rdm, subsequences, tsrsa


def _embed(points_2d, n_features=50, seed=0, offset=3.0):
    """Place 2-d points in a random plane of an n-dimensional space."""
    basis = np.linalg.qr(np.random.default_rng(seed).normal(size=(n_features, 2)))[0]
    return offset + points_2d @ basis.T


def test_curvature_closed_forms():
    t = np.arange(8.0)
    line = _embed(np.stack([t, 2 * t], 1))
    assert curvature(line) == pytest.approx(0.0, abs=1e-5)
    zigzag = _embed(np.stack([t, 0.5 * (-1) ** t], 1))  # steps (1, +-1): 90 deg turns
    assert curvature(zigzag) == pytest.approx(90.0, abs=1e-9)
    steep = _embed(np.stack([t, 2.0 * (-1) ** t], 1))  # steps (1, +-4)
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


def test_subsequences():
    assert [s.tolist() for s in subsequences(11, 1)] == [list(range(11))]
    assert [s.tolist() for s in subsequences(11, 2)] == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9]]
    assert [len(s) for s in subsequences(7, 3)] == [3]  # phases with < 3 frames are dropped
    with pytest.raises(ValueError):
        subsequences(4, 3)
    with pytest.raises(ValueError, match="frame_step"):
        subsequences(11, 0)


def test_difference_gram_is_unbiased_with_missing_entries():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(6, 8))
    v = np.diff(mean, axis=0)
    truth = v @ v.T
    crossval, naive = [], []
    for _ in range(400):
        trials = mean + rng.normal(scale=1.0, size=(10, 6, 8))
        trials[rng.random(trials.shape) < 0.15] = np.nan  # missing entries, per unit
        crossval.append(difference_gram(trials))
        d = np.diff(np.nanmean(trials, axis=0), axis=0)
        naive.append(d @ d.T)
    assert np.abs(np.mean(crossval, axis=0) - truth).max() < 0.1 * np.abs(truth).max()
    bias = np.diag(np.mean(naive, axis=0) - truth)  # noise inflates naive squared norms
    assert np.all(bias > 1.0)


def test_corrected_curvature_is_exact_without_noise():
    """Identical repeats: the cross-repeat Gram matrix is exact, and for constant speed and
    turning angle the pooled cosine is the cosine of that angle, at every frame_step."""
    k = np.arange(13)
    polygon = _embed(np.stack([np.cos(2 * np.pi * k / 12), np.sin(2 * np.pi * k / 12)], 1) * 5.0)
    trials = np.broadcast_to(polygon, (3, *polygon.shape))
    np.testing.assert_allclose(
        difference_gram(trials), np.diff(polygon, axis=0) @ np.diff(polygon, axis=0).T, atol=1e-9
    )
    assert curvature_corrected(trials) == pytest.approx(30.0, abs=1e-6)
    assert curvature_corrected(trials, frame_step=2) == pytest.approx(60.0, abs=1e-6)
    assert curvature_corrected(trials, frame_step=3) == pytest.approx(90.0, abs=1e-6)
    with pytest.raises(ValueError, match="repeats >= 2, frames >= 3"):
        curvature_corrected(trials[:1])
    with pytest.raises(ValueError, match="repeats >= 2, frames >= 3"):
        curvature_corrected(trials[:, :2])


def _poisson_arc(rng, n_repeats, step_deg=30.0, n_frames=11, n_neurons=100, radius=80.0):
    angles = np.radians(step_deg) * np.arange(n_frames)
    rates = _embed(np.stack([np.cos(angles), np.sin(angles)], 1) * radius, n_neurons, seed=2, offset=20.0)
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


def test_corrected_curvature_handles_missing_entries():
    rng = np.random.default_rng(4)
    rates, trials = _poisson_arc(rng, n_repeats=30)
    truth = curvature(rates)
    with_nan = trials.copy()
    with_nan[25:, 4] = np.nan  # frame 4 missing on the last 5 repeats
    assert abs(curvature_corrected(with_nan) - truth) < 3
    scattered = trials.copy()
    scattered[rng.random(trials.shape) < 0.1] = np.nan  # 10% of (repeat, frame, unit) entries
    assert abs(curvature_corrected(scattered) - truth) < 3
    lone = trials.copy()
    lone[1:, :, 0] = np.nan  # unit 0 seen on one repeat only: no cross-repeat pair
    assert np.isnan(difference_gram(lone)).all()
    assert np.isnan(curvature_corrected(lone))


def test_corrected_curvature_batches():
    rng = np.random.default_rng(4)
    _, trials = _poisson_arc(rng, n_repeats=30)
    batch = curvature_corrected(np.stack([trials, trials[::-1]]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(batch[1])
    assert batch[0] == pytest.approx(float(curvature_corrected(trials)))
    nested = curvature_corrected(np.stack([np.stack([trials, trials[:, ::-1]])] * 3))
    assert nested.shape == (3, 2) and nested[2, 1] == pytest.approx(float(curvature_corrected(trials[:, ::-1])))


def test_corrected_curvature_pools_phase_shifted_subsequences():
    """frame_step 2 sums the Gram terms of the even- and odd-frame subsequences into one
    ratio (not a mean of two angles), and recovers the curvature at the coarser step."""
    rng = np.random.default_rng(5)
    rates, trials = _poisson_arc(rng, n_repeats=30)
    num = den = 0.0
    for sub in (trials[:, 0::2], trials[:, 1::2]):
        g = difference_gram(sub)
        num += np.diagonal(g, 1).sum()
        den += 0.5 * (np.diagonal(g)[:-1] + np.diagonal(g)[1:]).sum()
    assert curvature_corrected(trials, frame_step=2) == pytest.approx(np.degrees(np.arccos(num / den)), abs=1e-9)
    truth = (4 * curvature(rates[0::2]) + 3 * curvature(rates[1::2])) / 7  # 4 + 3 angles
    assert truth == pytest.approx(60.0, abs=1.0)
    assert abs(curvature_corrected(trials, frame_step=2) - truth) < 3


def test_corrected_curvature_keeps_torch_dtype_and_gradients():
    rng = np.random.default_rng(6)
    _, trials = _poisson_arc(rng, n_repeats=30)
    trials[rng.random(trials.shape) < 0.05] = np.nan
    x = torch.tensor(trials, dtype=torch.float32, requires_grad=True)
    out = curvature_corrected(x, frame_step=2)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == ()
    assert out.item() == pytest.approx(curvature_corrected(trials, frame_step=2), abs=1e-3)
    out.backward()
    observed = ~torch.isnan(x.detach())
    assert torch.isfinite(x.grad[observed]).all() and (x.grad[~observed] == 0).all()


def test_tsrsa_compares_frame_rdms_and_averages_sequences():
    rng = np.random.default_rng(5)
    model = rng.normal(size=(3, 9, 20))
    neural = model[..., :12] + 0.5 * rng.normal(size=(3, 9, 12))
    per_sequence = [compare_rdms(rdm(m), rdm(n), "spearman") for m, n in zip(model, neural)]
    assert tsrsa(model[0], neural[0]) == pytest.approx(per_sequence[0])
    assert tsrsa(model, neural) == pytest.approx(np.mean(per_sequence))
    assert tsrsa(model[0], neural[0], "euclidean", "pearson") == pytest.approx(
        compare_rdms(rdm(model[0], "euclidean"), rdm(neural[0], "euclidean"), "pearson")
    )
    with pytest.raises(ValueError, match="same frames"):
        tsrsa(model[0], neural[0, :8])

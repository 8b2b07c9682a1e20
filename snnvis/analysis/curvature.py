"""Curvature of neural trajectories: analysis helpers around the estimator.

The estimators themselves are pure array functions in :mod:`snnvis.similarity.tsrsa`:
:func:`snnvis.similarity.curvature` (mean angle between successive difference vectors of
a noiseless trajectory) and :func:`snnvis.similarity.curvature_corrected` (noise-corrected
curvature of the mean trajectory from single trials: cross-repeat Gram matrix of the
differences, pooled normalised successive inner product; its module docstring explains
why). This module adds what the Hénaff 2021 reproduction needs on top:

* :func:`mean_angle`: the noiseless curvature pooled over the ``frame_step``
  phase-shifted subsequences (the authors' "dither");
* :func:`curvature_naive`: the biased curvature of the trial average, for comparison;
* :func:`step_snr`: signal-to-noise ratio per frame step, which decides how far a
  per-sequence estimate can be trusted;
* :func:`constant_curvature_trajectory` and :func:`simulate_recovery`: ground truth for
  validating the estimator at the signal-to-noise ratio of real recordings.
"""
from __future__ import annotations

import math

import numpy as np

from snnvis.similarity import curvature as _curvature
from snnvis.similarity import curvature_corrected, difference_gram, subsequences


def mean_angle(trajectory, frame_step: int = 1) -> np.ndarray:
    """Curvature of noiseless trajectories in degrees: the mean angle between successive
    difference vectors, pooled over the angles of all subsequences at ``frame_step``.

    Args:
        trajectory: (..., frames, features).

    Returns:
        (...) float64; NaN where a difference vector is zero.
    """
    x = np.asarray(trajectory, dtype=np.float64)
    subs = subsequences(x.shape[-2], frame_step)
    weights = np.array([len(s) - 2 for s in subs], dtype=np.float64)
    per_sub = np.stack([np.asarray(_curvature(x[..., s, :])) for s in subs], axis=-1)
    return (per_sub * weights).sum(-1) / weights.sum()


def curvature_naive(trials, frame_step: int = 1) -> np.ndarray:
    """Curvature (degrees) of the trial-averaged trajectory (NaN entries ignored): biased by noise."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.asarray(trials, dtype=np.float64), axis=-3)
    return mean_angle(mean, frame_step)


def step_snr(trials, frame_step: int = 1) -> np.ndarray:
    """Signal-to-noise ratio per frame step: mean unbiased squared speed |v_t|^2 over the
    mean noise power of a trial-averaged difference, sum_n var_{t,n}/k_{t,n} + var_{t+1,n}/k_{t+1,n}.

    Returns:
        (...) float64; about 1 or more is needed for per-sequence estimates within ~10 deg.
    """
    x = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = (~np.isnan(x)).sum(axis=-3)
        noise = np.nanvar(x, axis=-3, ddof=1) / k                       # (..., T, N)
    signal, power = [], []
    for s in subsequences(x.shape[-2], frame_step):
        g = difference_gram(x[..., s, :])
        signal.append(np.diagonal(g, axis1=-2, axis2=-1))
        ns = noise[..., s, :].sum(-1)
        power.append(ns[..., :-1] + ns[..., 1:])
    return np.concatenate(signal, -1).mean(-1) / np.concatenate(power, -1).mean(-1)


# ---------------------------------------------------------------------------------------
# Ground truth for validation
# ---------------------------------------------------------------------------------------

def constant_curvature_trajectory(n_frames: int, angle_deg: float, n_dims: int, step: float,
                                  rng: np.random.Generator) -> np.ndarray:
    """A trajectory (n_frames, n_dims) from 0 with unit-free speed ``step`` whose successive
    difference vectors all make the angle ``angle_deg``; each turn is towards a random
    direction orthogonal to the current one (a non-planar walk; requires n_dims >= 2)."""
    if n_dims < 2:
        raise ValueError("n_dims must be >= 2")
    theta = math.radians(angle_deg)
    v = rng.standard_normal(n_dims)
    v /= np.linalg.norm(v)
    steps = [v]
    for _ in range(n_frames - 2):
        u = rng.standard_normal(n_dims)
        u -= (u @ v) * v
        u /= np.linalg.norm(u)
        v = math.cos(theta) * v + math.sin(theta) * u
        steps.append(v)
    return np.vstack([np.zeros(n_dims), np.cumsum(step * np.asarray(steps), axis=0)])


def simulate_recovery(angles_deg, n_units: int, n_repeats: int, snr: float, n_sim: int = 50,
                      n_frames: int = 11, base_rate: float = 1.5, frame_step: int = 1,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Curvature recovered from Poisson trials of trajectories of known curvature.

    Each simulated population has gamma-distributed baseline counts (shape 2, mean
    ``base_rate``); a :func:`constant_curvature_trajectory`, centred on the baseline, is
    added with the speed that gives ``snr`` (see :func:`step_snr`), and rates are clipped
    at 0.02. The ground truth is the mean angle of the clipped rates (clipping bends the
    trajectory when excursions are large compared with ``base_rate``).

    Returns:
        {"angle": (A,), "true", "naive", "corrected": (A, n_sim)} in degrees
        (``corrected`` from :func:`snnvis.similarity.curvature_corrected`).
    """
    rng = np.random.default_rng(seed)
    angles = np.asarray(angles_deg, dtype=np.float64)
    out = {k: np.empty((len(angles), n_sim)) for k in ("true", "naive", "corrected")}
    for i, angle in enumerate(angles):
        for j in range(n_sim):
            base = rng.gamma(2.0, base_rate / 2.0, n_units)
            speed = math.sqrt(snr * 2.0 * base.sum() / n_repeats)
            path = constant_curvature_trajectory(n_frames, angle, n_units, speed, rng)
            rates = np.clip(base + path - path.mean(axis=0), 0.02, None)
            trials = rng.poisson(np.broadcast_to(rates, (n_repeats,) + rates.shape)).astype(np.float64)
            out["true"][i, j] = mean_angle(rates, frame_step)
            out["naive"][i, j] = curvature_naive(trials, frame_step)
            out["corrected"][i, j] = curvature_corrected(trials, frame_step)
    return {"angle": angles, **out}

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
* :func:`constant_curvature_trajectory`, :func:`varying_trajectory` and
  :func:`simulate_recovery`: ground truth for validating the estimators at the
  signal-to-noise ratio of real recordings, with constant or varying turning angle and speed.
"""

from __future__ import annotations

import math

import numpy as np

from snnvis.analysis.curvature_posterior import curvature_posterior
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
        noise = np.nanvar(x, axis=-3, ddof=1) / k  # (..., T, N)
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


def varying_trajectory(angles_deg, speeds, n_dims: int, rng: np.random.Generator) -> np.ndarray:
    """A trajectory (len(speeds) + 1, n_dims) from 0 whose t-th difference vector has length
    ``speeds[t]`` and turns by ``angles_deg[t]`` from the previous one, towards a random
    direction orthogonal to it (a non-planar walk; requires n_dims >= 2)."""
    angles, speeds = np.asarray(angles_deg, dtype=np.float64), np.asarray(speeds, dtype=np.float64)
    if n_dims < 2:
        raise ValueError("n_dims must be >= 2")
    if len(angles) != len(speeds) - 1:
        raise ValueError(f"{len(speeds)} steps need {len(speeds) - 1} angles, got {len(angles)}")
    v = rng.standard_normal(n_dims)
    v /= np.linalg.norm(v)
    steps = [v]
    for angle in angles:
        u = rng.standard_normal(n_dims)
        u -= (u @ v) * v
        u /= np.linalg.norm(u)
        v = math.cos(math.radians(angle)) * v + math.sin(math.radians(angle)) * u
        steps.append(v)
    return np.vstack([np.zeros(n_dims), np.cumsum(speeds[:, None] * np.asarray(steps), axis=0)])


def constant_curvature_trajectory(
    n_frames: int, angle_deg: float, n_dims: int, step: float, rng: np.random.Generator
) -> np.ndarray:
    """A trajectory (n_frames, n_dims) from 0 with unit-free speed ``step`` whose successive
    difference vectors all make the angle ``angle_deg`` (:func:`varying_trajectory` with
    constant angle and speed)."""
    return varying_trajectory(np.full(n_frames - 2, float(angle_deg)), np.full(n_frames - 1, float(step)), n_dims, rng)


def simulate_recovery(
    angles_deg,
    n_units: int,
    n_repeats: int,
    snr: float,
    n_sim: int = 50,
    n_frames: int = 11,
    base_rate: float = 1.5,
    frame_step: int = 1,
    angle_sd: float = 0.0,
    speed_cv: float = 0.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Curvature recovered from Poisson trials of trajectories of known curvature.

    Each simulated population has gamma-distributed baseline counts (shape 2, mean
    ``base_rate``). A :func:`varying_trajectory`, centred on the baseline, is added: its
    turning angles are ``angle`` + ``angle_sd`` x standard normal (clipped to [0, 180]),
    its step lengths lognormal with log-sd ``speed_cv`` (0: constant), scaled so that the
    mean squared step gives ``snr`` (see :func:`step_snr`). Rates are clipped at 0.02. The
    ground truth is the mean angle of the clipped rates (clipping bends the trajectory when
    excursions are large compared with ``base_rate``).

    Returns:
        {"angle": (A,), "true", "naive", "corrected", "posterior", "ci_low", "ci_high",
        "snr": (A, n_sim)}, angles in degrees (``corrected``: the clipped moment estimate
        :func:`snnvis.similarity.curvature_corrected`; ``posterior``: the posterior median of
        :func:`snnvis.analysis.curvature_posterior.curvature_posterior`, with its 95% credible
        interval; ``snr``: :func:`step_snr` of the simulated trials).
    """
    rng = np.random.default_rng(seed)
    angles = np.asarray(angles_deg, dtype=np.float64)
    keys = ("true", "naive", "corrected", "posterior", "ci_low", "ci_high", "snr")
    out = {k: np.empty((len(angles), n_sim)) for k in keys}
    for i, angle in enumerate(angles):
        trials = np.empty((n_sim, n_repeats, n_frames, n_units))
        for j in range(n_sim):
            base = rng.gamma(2.0, base_rate / 2.0, n_units)
            turns = np.clip(angle + angle_sd * rng.standard_normal(n_frames - 2), 0.0, 180.0)
            steps = rng.lognormal(0.0, speed_cv, n_frames - 1) if speed_cv > 0 else np.ones(n_frames - 1)
            steps *= math.sqrt(snr * 2.0 * base.sum() / n_repeats / np.mean(steps**2))
            path = varying_trajectory(turns, steps, n_units, rng)
            rates = np.clip(base + path - path.mean(axis=0), 0.02, None)
            trials[j] = rng.poisson(np.broadcast_to(rates, (n_repeats,) + rates.shape))
            out["true"][i, j] = mean_angle(rates, frame_step)
        out["naive"][i] = curvature_naive(trials, frame_step)
        out["corrected"][i] = curvature_corrected(trials, frame_step)
        post = curvature_posterior(trials, frame_step)
        out["posterior"][i], out["ci_low"][i], out["ci_high"][i] = post["median"], post["ci_low"], post["ci_high"]
        out["snr"][i] = step_snr(trials, frame_step)
    return {"angle": angles, **out}

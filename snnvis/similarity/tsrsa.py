"""Time-series RSA and trajectory curvature.

:func:`tsrsa` compares the geometry of two trajectories through time: an RDM over the
frames of each, compared with :func:`snnvis.similarity.compare_rdms`.

:func:`curvature` is the discrete curvature of a trajectory x_1..x_T (Hénaff et al. 2019,
Nat Neurosci; 2021, Nat Commun): the mean angle between successive difference vectors
v_t = x_{t+1} - x_t. For a straight line it is 0 deg, for a circle sampled at N points
360/N deg. It is the right measure for noiseless trajectories (stimulus pixels, model
activations).

Noise-corrected curvature
-------------------------
For a neural population the trajectory has to be estimated from noisy single trials,
and noise dominates the naive estimate (the curvature of the trial-averaged trajectory):
noise adds a component to every v_t, and since v_t and v_{t+1} share the frame x_{t+1}
with opposite signs, independent noise pushes the naive angle towards 120 deg
(successive differences of i.i.d. points have correlation -1/2), whatever the true
curvature. :func:`curvature_corrected` removes that bias:

1. Every inner product of difference vectors is estimated without bias from pairs of
   *distinct* repeats, unit by unit (:func:`difference_gram`),

       G_ts = sum_n sum_{r != r'} d_{r,t,n} d_{r',s,n} / #pairs_{t,s,n},
       d_{r,t,n} = x_{r,t+1,n} - x_{r,t,n},

   which is unbiased for <v_t, v_s> of the true mean trajectory when trial noise is
   independent across repeats: it is the average over all split-half estimates
   <v_t^A, v_s^B>, computed exactly rather than from random splits. Same-repeat products
   are left out because each carries the noise variance. Missing (NaN) entries are
   skipped per unit: a unit counts the repeat pairs in which both of its differences
   are observed.
2. The curvature is the angle whose cosine is the pooled, normalised successive inner
   product,

       cos(theta) = sum_t G_{t,t+1} / sum_t (G_{t,t} + G_{t+1,t+1}) / 2,

   clipped to [-1, 1]. For a trajectory of constant speed and constant turning angle
   this is exactly the mean angle; in general it is a speed-weighted mean of cos(theta_t),
   pulled towards 0 where successive speeds differ (|v_t| |v_{t+1}| <=
   (|v_t|^2 + |v_{t+1}|^2) / 2). For the natural and synthetic Hénaff sequences it agrees
   with the mean angle within 4 deg in the pixel domain.

Pooling matters. Per-angle ratios G_{t,t+1} / sqrt(G_tt G_{t+1,t+1}) are consistent
only when each difference is resolved well above the noise: at the signal-to-noise
ratio of the Hénaff V1 recordings (about 0.1-0.5 signal power per frame step relative to
the noise power of the trial-averaged difference) their mean is biased upwards by tens
of degrees, because the errors of numerator and denominator are correlated, arccos is
ill-conditioned near cos = 1, and angles with a nonpositive estimated squared norm must
be discarded. The pooled ratio, one numerator and one denominator summed over all steps,
is less biased, but it still saturates: at step SNR ~0.2 the noisy sums violate
Cauchy-Schwarz (N > D) for a sizeable fraction of sequences, which the clip puts at
exactly 0 deg, and D <= 0 leaves others undefined. The Hénaff reproduction therefore
reports :func:`snnvis.analysis.curvature_posterior.curvature_posterior`, which uses the
same N and D with their jackknife covariance and returns a posterior median and credible
interval (:func:`snnvis.analysis.curvature.simulate_recovery` measures both estimators on
trajectories of varying curvature and speed).

``frame_step`` > 1 subsamples every sequence into its ``frame_step`` phase-shifted
subsequences (frames p, p+k, p+2k, ...; :func:`subsequences`) and pools their sums, as
the authors' "dither" analysis does: larger steps have larger differences and therefore
a better signal-to-noise ratio, at a coarser time scale.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._backend import dispatch
from .compare import compare_rdms
from .rdm import rdm


@dispatch("model_traj", "neural_traj")
def tsrsa(model_traj, neural_traj, rdm_method: str = "correlation", compare: str = "spearman"):
    """Time-series RSA between a model and a neural trajectory.

    Args:
        model_traj: (frames, features) or (sequences, frames, features).
        neural_traj: (frames, neurons) or (sequences, frames, neurons), same frames (and
            sequences) as ``model_traj``.
        rdm_method: RDM over frames (:func:`snnvis.similarity.rdm`).
        compare: RDM comparison (:func:`snnvis.similarity.compare_rdms`).

    Returns:
        Scalar similarity; for several sequences, the mean over sequences of the
        per-sequence similarities.
    """
    if (
        model_traj.ndim not in (2, 3)
        or model_traj.ndim != neural_traj.ndim
        or model_traj.shape[:-1] != neural_traj.shape[:-1]
    ):
        raise ValueError(
            "trajectories must both be (frames, features) or (sequences, frames, "
            f"features) with the same frames; got {tuple(model_traj.shape)} and "
            f"{tuple(neural_traj.shape)}"
        )
    return compare_rdms(rdm(model_traj, rdm_method), rdm(neural_traj, rdm_method), compare).mean()


def _angles_deg(cos: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))


@dispatch("trajectory")
def curvature(trajectory):
    """Mean discrete curvature of trajectories, in degrees.

    Args:
        trajectory: (..., frames, features), frames >= 3.

    Returns:
        (...) mean over the frames-2 interior points of the angle between v_t and v_{t+1},
        v_t = x_{t+1} - x_t. NaN if a difference vector is zero (repeated frame: the angle
        is undefined).
    """
    if trajectory.ndim < 2 or trajectory.shape[-2] < 3:
        raise ValueError(f"trajectory must be (..., frames >= 3, features), got {tuple(trajectory.shape)}")
    v = torch.diff(trajectory, dim=-2)
    norm = torch.linalg.vector_norm(v, dim=-1)
    cos = (v[..., 1:, :] * v[..., :-1, :]).sum(-1) / (norm[..., 1:] * norm[..., :-1])
    cos = torch.where((norm[..., 1:] > 0) & (norm[..., :-1] > 0), cos, torch.full_like(cos, math.nan))
    return _angles_deg(cos).mean(-1)


def subsequences(n_frames: int, frame_step: int = 1) -> list[np.ndarray]:
    """Frame indices of the ``frame_step`` phase-shifted subsequences (frames p, p+k,
    p+2k, ... for p = 0..k-1) that have at least 3 frames."""
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    subs = [np.arange(p, n_frames, frame_step) for p in range(frame_step)]
    subs = [s for s in subs if len(s) >= 3]
    if not subs:
        raise ValueError(f"{n_frames} frames at frame_step {frame_step} leave no subsequence of 3 frames")
    return subs


def _difference_gram(trials: torch.Tensor) -> torch.Tensor:
    d = torch.diff(trials, dim=-2)  # (..., R, T-1, N)
    valid = ~torch.isnan(d)
    w = valid.to(d.dtype)
    d = torch.where(valid, d, torch.zeros((), dtype=d.dtype, device=d.device))
    total, count = d.sum(-3), w.sum(-3)  # (..., T-1, N)
    same = torch.einsum("...rtn,...rsn->...tsn", d, d)  # same-repeat products
    same_pairs = torch.einsum("...rtn,...rsn->...tsn", w, w)
    num = total[..., :, None, :] * total[..., None, :, :] - same
    pairs = count[..., :, None, :] * count[..., None, :, :] - same_pairs
    # pairs counts repeat pairs: where it is not positive the unit has no estimate (the
    # clamp only keeps the discarded branch, and its gradient, finite)
    per_unit = torch.where(pairs > 0, num / pairs.clamp_min(1), torch.full_like(num, math.nan))
    return per_unit.sum(-1)


def _check_trials(trials, min_frames: int) -> None:
    if trials.ndim < 3 or trials.shape[-2] < min_frames or trials.shape[-3] < 2:
        raise ValueError(
            f"trials must be (..., repeats >= 2, frames >= {min_frames}, units), got {tuple(trials.shape)}"
        )


@dispatch("trials")
def difference_gram(trials):
    """Unbiased Gram matrix of the successive differences of the mean trajectory.

    G_ts = sum_n sum_{r != r'} d_{r,t,n} d_{r',s,n} / #pairs_{t,s,n}, with
    d_{r,t,n} = x_{r,t+1,n} - x_{r,t,n} (see :mod:`snnvis.similarity.tsrsa`).

    Args:
        trials: (..., repeats, frames, units); NaN marks a missing (repeat, frame, unit)
            entry. Noise must be independent across repeats.

    Returns:
        (..., frames-1, frames-1) estimate of <v_t, v_s>, v_t = E[x_{t+1}] - E[x_t], from
        products of distinct repeats only. NaN where some unit has no pair of distinct
        repeats with both differences t and s.
    """
    _check_trials(trials, 2)
    return _difference_gram(trials)


@dispatch("trials")
def curvature_corrected(trials, frame_step: int = 1):
    """Noise-corrected curvature of the mean trajectory from single trials, in degrees.

    The cross-repeat Gram matrix of the difference vectors (:func:`difference_gram`),
    then the angle of the pooled, normalised successive inner product
    cos = sum_t G_{t,t+1} / sum_t (G_tt + G_{t+1,t+1}) / 2, pooled over the
    ``frame_step`` phase-shifted subsequences (see :mod:`snnvis.similarity.tsrsa` for the
    reasoning and its limits).

    Args:
        trials: (..., repeats, frames, units), e.g. spike counts; NaN marks a missing
            (repeat, frame, unit) entry.
        frame_step: subsample each sequence at this step, frames p, p+k, p+2k, ... for
            every phase p (:func:`subsequences`), and pool all of them.

    Returns:
        (...) degrees. NaN where the pooled squared speed sum_t (G_tt + G_{t+1,t+1}) / 2 is
        not positive (differences not resolved above noise), or where some unit has no
        pair of distinct repeats for a difference (see :func:`difference_gram`).
    """
    _check_trials(trials, 3)
    num = den = torch.zeros((), dtype=trials.dtype, device=trials.device)
    for s in subsequences(trials.shape[-2], frame_step):
        g = _difference_gram(trials.index_select(-2, torch.as_tensor(s, device=trials.device)))
        diag = torch.diagonal(g, dim1=-2, dim2=-1)
        num = num + torch.diagonal(g, offset=1, dim1=-2, dim2=-1).sum(-1)
        den = den + 0.5 * (diag[..., :-1] + diag[..., 1:]).sum(-1)
    resolved = den > 0
    cos = torch.where(resolved, num / torch.where(resolved, den, torch.ones_like(den)), torch.full_like(den, math.nan))
    return _angles_deg(cos)

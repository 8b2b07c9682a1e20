"""Time-series RSA and trajectory curvature.

:func:`tsrsa` compares the geometry of two trajectories through time: an RDM over the
frames of each, compared with :func:`snnvis.similarity.compare_rdms`.

:func:`curvature` is the discrete curvature of a trajectory (Henaff et al. 2019, Nat
Neurosci; 2021, Nat Commun): the mean angle between successive difference vectors
v_t = x_{t+1} - x_t. For a straight line it is 0 deg, for a circle sampled at N points
360/N deg.

:func:`curvature_corrected` removes the bias that trial-to-trial noise adds to the
curvature of a repeat-averaged trajectory (see its docstring).
"""
from __future__ import annotations

import math

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
    if model_traj.ndim not in (2, 3) or model_traj.ndim != neural_traj.ndim \
            or model_traj.shape[:-1] != neural_traj.shape[:-1]:
        raise ValueError("trajectories must both be (frames, features) or (sequences, frames, "
                         f"features) with the same frames; got {tuple(model_traj.shape)} and "
                         f"{tuple(neural_traj.shape)}")
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
        raise ValueError(f"trajectory must be (..., frames >= 3, features), got "
                         f"{tuple(trajectory.shape)}")
    v = torch.diff(trajectory, dim=-2)
    norm = torch.linalg.vector_norm(v, dim=-1)
    cos = (v[..., 1:, :] * v[..., :-1, :]).sum(-1) / (norm[..., 1:] * norm[..., :-1])
    cos = torch.where((norm[..., 1:] > 0) & (norm[..., :-1] > 0), cos,
                      torch.full_like(cos, math.nan))
    return _angles_deg(cos).mean(-1)


@dispatch("trials")
def curvature_corrected(trials):
    """Noise-corrected curvature of the mean trajectory from single trials, in degrees.

    Averaging noisy trials leaves noise in each difference vector, and successive
    differences share a frame, so the naive curvature of the averaged trajectory is
    biased upwards (towards 90 deg for pure noise). Here every inner product between
    difference vectors is replaced by its cross-validated estimate over distinct repeats,

        G_ts = sum_{r != r'} <d_{r,t}, d_{r',s}> / #pairs,   d_{r,t} = x_{r,t+1} - x_{r,t},

    which is unbiased for <v_t, v_s> of the true mean trajectory when trial noise is
    independent across repeats (it is the average over all split-half estimates
    <v_t^A, v_s^B>, computed exactly rather than from random splits). Then

        cos theta_t = G_{t,t+1} / sqrt(G_{t,t} G_{t+1,t+1}),

    clipped to [-1, 1], and the curvature is the mean angle. The ratio is consistent
    (bias O(1/repeats)); an angle is NaN where an unbiased squared norm G_tt is not
    positive (difference not resolved above noise) and such angles are left out of the
    mean. The difference vectors must be resolved above the noise: for nearly straight
    segments (cos close to 1, where arccos is ill-conditioned) at low SNR the per-angle
    estimates are noisy and their mean is biased.

    Args:
        trials: (..., repeats, frames, features), e.g. spike counts; a (repeat, frame)
            pattern containing NaN is treated as missing. At least 2 repeats with valid
            frames t and t+1 are needed for every t.

    Returns:
        (...) corrected mean curvature in degrees.
    """
    if trials.ndim < 3 or trials.shape[-2] < 3 or trials.shape[-3] < 2:
        raise ValueError(f"trials must be (..., repeats >= 2, frames >= 3, features), got "
                         f"{tuple(trials.shape)}")
    d = torch.diff(trials, dim=-2)                                   # (..., R, T-1, F)
    valid = ~torch.isnan(d).any(-1)                                  # (..., R, T-1)
    d = torch.where(valid[..., None], d, torch.zeros((), dtype=d.dtype, device=d.device))
    w = valid.to(d.dtype)
    total = d.sum(-3)                                                # (..., T-1, F)

    def cross(a: slice, b: slice) -> torch.Tensor:
        """Unbiased <v_t, v_s> for the frame pairs (t, s) in zip(range[a], range[b])."""
        same = (d[..., a, :] * d[..., b, :]).sum(-1).sum(-2)         # same-repeat products
        num = (total[..., a, :] * total[..., b, :]).sum(-1) - same
        pairs = w[..., a].sum(-2) * w[..., b].sum(-2) - (w[..., a] * w[..., b]).sum(-2)
        return num / pairs

    whole, head, tail = slice(None), slice(None, -1), slice(1, None)
    sq_norm = cross(whole, whole)
    successive = cross(head, tail)
    den = sq_norm[..., :-1] * sq_norm[..., 1:]
    resolved = (sq_norm[..., :-1] > 0) & (sq_norm[..., 1:] > 0)
    cos = torch.where(resolved, successive / den.clamp_min(0).sqrt(),
                      torch.full_like(den, math.nan))
    return torch.nanmean(_angles_deg(cos), dim=-1)

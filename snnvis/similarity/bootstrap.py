"""Percentile bootstrap confidence intervals over stimuli or neurons.

:func:`bootstrap_ci` resamples one axis (stimuli/conditions or neurons) of its array
arguments with replacement, with the same indices for every array, recomputes a
statistic and returns percentile intervals. RDMs are resampled on both condition axes at
once (:func:`subsample_conditions`): a resample that draws a condition twice creates
pairs of copies of the same condition whose dissimilarity is a trivial zero; as in
rsatoolbox (``RDMs.subsample_pattern``) those entries are set to NaN, and
:func:`snnvis.similarity.compare_rdms` leaves NaN entries out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ._backend import Array, rng, to_numpy

AxisSpec = int | tuple[int, int] | None


def _take(a: Array, idx: np.ndarray, axis: int) -> Array:
    if isinstance(a, torch.Tensor):
        return torch.index_select(a, axis, torch.as_tensor(idx, device=a.device))
    return np.take(np.asarray(a), idx, axis=axis)


def subsample_conditions(rdm: Array, idx: np.ndarray, axes: tuple[int, int] = (-2, -1)) -> Array:
    """RDM(s) restricted to conditions ``idx`` (with repetitions) on both ``axes``.

    Entries pairing two copies of the same condition are set to NaN (the diagonal stays
    0), so that comparisons ignore these trivially zero dissimilarities.
    """
    idx = np.asarray(idx)
    out = _take(_take(rdm, idx, axes[0]), idx, axes[1])
    duplicate = (idx[:, None] == idx[None, :]) & ~np.eye(len(idx), dtype=bool)
    shape = [1] * out.ndim
    shape[axes[0]], shape[axes[1]] = len(idx), len(idx)
    duplicate = duplicate.reshape(shape)
    if isinstance(out, torch.Tensor):
        return out.masked_fill(torch.as_tensor(duplicate, device=out.device), float("nan"))
    return np.where(duplicate, np.nan, out)


def _resample(a: Array, idx: np.ndarray, axis: AxisSpec) -> Array:
    if axis is None:
        return a
    if isinstance(axis, tuple):
        return subsample_conditions(a, idx, axis)
    return _take(a, idx, axis)


def _length(a: Array, axis: AxisSpec) -> int | None:
    if axis is None:
        return None
    if isinstance(axis, tuple):
        if a.shape[axis[0]] != a.shape[axis[1]]:
            raise ValueError(f"axes {axis} of an array of shape {tuple(a.shape)} differ in length")
        return a.shape[axis[0]]
    return a.shape[axis]


def bootstrap_ci(
    fn: Callable[..., Array],
    *arrays: Array,
    axis: AxisSpec | list[AxisSpec] = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
):
    """Percentile bootstrap of ``fn(*arrays)``.

    Args:
        fn: statistic; returns a scalar or an array (intervals are elementwise).
        *arrays: numpy arrays or tensors passed to ``fn``.
        axis: how each array is resampled: an int (that axis), a tuple of two ints
            (square axes resampled jointly, for RDMs ``(-2, -1)``; see
            :func:`subsample_conditions`) or None (passed unchanged). One spec applies to
            every array; a list gives one spec per array. All resampled axes must have
            the same length (stimuli, or neurons), and share the resampling indices.
        n_boot: number of bootstrap resamples.
        ci: coverage of the interval, e.g. 0.95.
        seed: seed of the resampling indices (deterministic).

    Returns:
        (estimate, lo, hi): ``fn`` on the original data and the (1-ci)/2 and (1+ci)/2
        percentiles of the bootstrap distribution (NaN resamples ignored). numpy results
        for numpy statistics, tensors (on the statistic's device) for tensor statistics.
    """
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    axes = axis if isinstance(axis, list) else [axis] * len(arrays)
    if len(axes) != len(arrays):
        raise ValueError(f"axis lists {len(axes)} specs for {len(arrays)} arrays")
    lengths = {_length(a, ax) for a, ax in zip(arrays, axes)} - {None}
    if len(lengths) != 1:
        raise ValueError(f"resampled axes must exist and share one length, got {sorted(lengths)}")
    n = lengths.pop()
    generator = rng(seed)
    estimate = fn(*arrays)
    boot = np.stack(
        [
            np.asarray(to_numpy(fn(*(_resample(a, idx, ax) for a, ax in zip(arrays, axes)))), dtype=np.float64)
            for idx in generator.integers(0, n, size=(n_boot, n))
        ]
    )
    lo, hi = np.nanpercentile(boot, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
    if isinstance(estimate, torch.Tensor):
        return estimate, *(torch.as_tensor(v, dtype=estimate.dtype, device=estimate.device) for v in (lo, hi))
    return estimate, lo, hi

"""Movie perturbations of the TSRSA protocol of Huang et al. 2024 (NeurIPS), as pure functions.

The model sees a perturbed movie and its responses are compared, by
:func:`snnvis.similarity.tsrsa_windows`, with the brain's responses to the original one:

* frame shuffling within windows (:func:`shuffle_frames`, the order from
  :func:`snnvis.analysis.shuffle.shuffle_within_windows`): local temporal structure is
  destroyed while every frame stays in its window; a model whose response follows its
  input scores lower the larger the window, and an intact order (window 1) changes nothing;
* noise frames inserted (:func:`noise_positions`, :func:`insert_noise_frames`): frames
  of pixel noise are put before given positions (or at a given rate); ``keep`` gives the
  positions of the original frames in the new movie, so the model's responses to the
  noise frames are dropped before the comparison (``responses.take(keep, axis)``) and
  what is measured is how the interruption disturbs the responses to the real frames;
* clip length (:func:`truncate`, :func:`subclips`): the same comparison on shorter clips.

Arrays are numpy arrays or torch tensors; the frame axis is ``axis`` (0 for a (frames,
...) movie, 1 for (batch, frames, channels, H, W) stimuli).
"""

from __future__ import annotations

import numpy as np
import torch

from snnvis.analysis.shuffle import shuffle_within_windows


def _take(x, index: np.ndarray, axis: int):
    if isinstance(x, torch.Tensor):
        return x.index_select(axis, torch.as_tensor(index, dtype=torch.long, device=x.device))
    return np.take(np.asarray(x), index, axis=axis)


def shuffle_frames(x, window: int, rng: np.random.Generator, axis: int = 0):
    """Frames of ``x`` shuffled within consecutive windows of ``window`` frames.

    Returns:
        (shuffled x, order) with ``shuffled = x.take(order, axis)``.
    """
    order = shuffle_within_windows(x.shape[axis], window, rng)
    return _take(x, order, axis), order


def noise_positions(n_frames: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """round(rate * n_frames) distinct insertion positions in 0..n_frames, sorted.

    A position p means "a noise frame before original frame p" (p = n_frames: at the end).
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    n = int(round(rate * n_frames))
    return np.sort(rng.choice(n_frames + 1, size=n, replace=False))


def insert_noise_frames(x, positions, rng: np.random.Generator, axis: int = 0):
    """Insert Gaussian pixel-noise frames before the given original positions.

    Each noise frame has i.i.d. normal pixels with the mean and standard deviation of all
    of ``x``'s pixels (same shape as one frame). Repeated positions insert several frames.

    Returns:
        (new x with len(positions) more frames along ``axis``, keep) where ``keep`` are the
        indices of the original frames in the new movie: ``new.take(keep, axis) == x``.
    """
    positions = np.sort(np.asarray(positions, dtype=np.int64))
    n = x.shape[axis]
    if positions.size and (positions.min() < 0 or positions.max() > n):
        raise ValueError(f"insertion positions must be in 0..{n}, got {positions.tolist()}")
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    frame_shape = arr.shape[: axis % arr.ndim] + (len(positions),) + arr.shape[axis % arr.ndim + 1 :]
    noise = rng.normal(arr.mean(), arr.std(), size=frame_shape).astype(arr.dtype, copy=False)
    new = np.insert(arr, positions, noise, axis=axis) if positions.size else arr.copy()
    keep = np.arange(n) + np.searchsorted(positions, np.arange(n), side="right")
    if isinstance(x, torch.Tensor):
        new = torch.as_tensor(new, device=x.device)
    return new, keep


def truncate(x, length: int, start: int = 0, axis: int = 0):
    """Frames ``start .. start + length - 1`` of ``x`` along ``axis``."""
    n = x.shape[axis]
    if length < 1 or start < 0 or start + length > n:
        raise ValueError(f"clip [{start}, {start + length}) does not fit {n} frames")
    return _take(x, np.arange(start, start + length), axis)


def subclips(n_frames: int, length: int, stride: int | None = None) -> list[np.ndarray]:
    """Frame indices of the clips of ``length`` frames every ``stride`` frames (default
    ``length``, non-overlapping; a last partial clip is dropped)."""
    stride = length if stride is None else stride
    if length < 1 or stride < 1 or length > n_frames:
        raise ValueError(f"need 1 <= length <= {n_frames} and stride >= 1, got {length}, {stride}")
    return [np.arange(s, s + length) for s in range(0, n_frames - length + 1, stride)]

"""Sequence perturbations for the TSRSA shuffling experiment (LoRaFB-SNet, NeurIPS 2024):
frames are shuffled within consecutive windows; window 1 leaves the sequence intact."""

from __future__ import annotations

import numpy as np


def shuffle_within_windows(n_frames: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """A frame order (permutation of ``range(n_frames)``) shuffled within windows.

    Frames are cut into consecutive blocks of ``window`` frames (the last one may be
    shorter) and each block is permuted independently, so every frame stays inside its
    block. ``window=1`` returns the identity; ``window >= n_frames`` shuffles everything.
    """
    if n_frames < 0 or window < 1:
        raise ValueError(f"need n_frames >= 0 and window >= 1, got {n_frames}, {window}")
    order = np.arange(n_frames)
    for start in range(0, n_frames, window):
        block = order[start : start + window]
        order[start : start + window] = rng.permutation(block)
    return order

"""The aperture of a recording's frames: the square around the pixels that ever change.

Stimuli shown through an aperture (Hénaff et al. 2021: a circle in 512 px frames) hold the
same grey outside it in every frame. :func:`aperture_box` finds the pixels that vary across
the recording's frames and returns the square bounding them (centred on their bounding box,
grown to a square within the frame); :func:`crop_box` cuts it out. Only pixels are read, never
responses, so the crop is the same for every split.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aperture_box", "crop_box"]


def aperture_box(pixels: np.ndarray) -> tuple[int, int, int]:
    """``(top, left, size)`` of the square around the varying pixels of ``pixels`` (n, F, H, W, C);
    the whole frame (as the largest centred square) when no pixel varies."""
    if pixels.ndim != 5:
        raise ValueError(f"pixels must be (n, frames, H, W, C), got shape {pixels.shape}")
    h, w = pixels.shape[2:4]
    lo = pixels.min(axis=(0, 1)).min(axis=-1)
    hi = pixels.max(axis=(0, 1)).max(axis=-1)
    varies = hi > lo
    if not varies.any():
        size = min(h, w)
        return (h - size) // 2, (w - size) // 2, size
    rows, cols = np.flatnonzero(varies.any(1)), np.flatnonzero(varies.any(0))
    size = min(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1, h, w)
    cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
    top = int(np.clip(round(cy - size / 2), 0, h - size))
    left = int(np.clip(round(cx - size / 2), 0, w - size))
    return top, left, int(size)


def crop_box(pixels: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """``pixels`` (..., H, W, C) cut to the square ``(top, left, size)``."""
    top, left, size = box
    return pixels[..., top : top + size, left : left + size, :]

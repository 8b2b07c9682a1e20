"""Image and clip augmentation on tensors: random resized crop and horizontal flip for training,
resize and center crop for validation.

Every transform takes uint8 or float frames ``(..., C, H, W)`` (one image: ``(1, C, H, W)``; a
clip: ``(F, C, H, W)``, all frames cropped and flipped alike) and returns float frames in
[0, 1] of ``size x size``. Randomness comes from the ``torch.Generator`` passed in, so a sample's
augmentation is a function of its seed alone (exact resume, any number of loader workers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["Augment", "center_crop", "crop_resize", "random_resized_crop_box"]


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def random_resized_crop_box(
    height: int, width: int, scale: Sequence[float], ratio: Sequence[float], gen: torch.Generator
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a crop covering a ``scale`` fraction of the area with aspect ratio
    (w / h) in ``ratio`` (log-uniform), as torchvision's ``RandomResizedCrop`` draws it: ten
    tries, then the largest central crop whose ratio is clamped to ``ratio``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * _uniform(gen, scale[0], scale[1])
        aspect = math.exp(_uniform(gen, *log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=gen))
            left = int(torch.randint(0, width - w + 1, (), generator=gen))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def _float(frames: torch.Tensor) -> torch.Tensor:
    return frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    shape = x.shape
    flat = x.reshape(-1, *shape[-3:])
    down = size[0] < shape[-2] or size[1] < shape[-1]
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=down)
    return out.reshape(*shape[:-2], *size).clamp_(0.0, 1.0)


def crop_resize(frames: torch.Tensor, box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """The ``(top, left, h, w)`` crop of ``frames`` resized to ``size x size`` (bilinear,
    antialiased when shrinking)."""
    top, left, h, w = box
    return _resize(_float(frames)[..., top : top + h, left : left + w], (size, size))


def center_crop(frames: torch.Tensor, size: int, crop_fraction: float = 0.875) -> torch.Tensor:
    """Resize the shorter side to ``round(size / crop_fraction)``, then take the central
    ``size x size`` (the usual ImageNet validation transform: 256 then 224 for 224)."""
    x = _float(frames)
    h, w = x.shape[-2:]
    short = max(size, int(round(size / crop_fraction)))
    nh, nw = (short, max(size, int(round(w * short / h)))) if h <= w else (max(size, int(round(h * short / w))), short)
    x = _resize(x, (nh, nw))
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[..., top : top + size, left : left + size]


class Augment:
    """The transform of one split: ``train=True`` draws a random resized crop (``scale``,
    ``ratio``) and, with ``flip``, a horizontal flip with probability 1/2; ``train=False``
    is :func:`center_crop`."""

    def __init__(
        self,
        size: int,
        train: bool,
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        flip: bool = True,
        crop_fraction: float = 0.875,
    ) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {list(scale)}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {list(ratio)}")
        if not 0 < crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
        self.size, self.train, self.flip, self.crop_fraction = int(size), train, flip, crop_fraction
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def __call__(self, frames: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if not self.train:
            return center_crop(frames, self.size, self.crop_fraction)
        box = random_resized_crop_box(*frames.shape[-2:], self.scale, self.ratio, gen)
        out = crop_resize(frames, box, self.size)
        if self.flip and float(torch.rand((), generator=gen)) < 0.5:
            out = out.flip(-1)
        return out

"""Stimulus preprocessing and the mapping from frames to simulation steps.

Stimuli enter every model as ``(batch, frames, channels, H, W)``, uint8 (0-255) or
float; a static image has ``frames == 1``. :class:`StimulusInput` scales uint8 to [0, 1],
converts the channel count (grey -> RGB by repetition, RGB -> grey by the channel mean),
resizes to the configured square size on the stimulus' device (bilinear, antialiased when
downsampling) and normalises with the configured per-channel mean and std.
:class:`~snnvis.models.timing.TimeConfig` then lays the frames out in time (``TimeConfig.expand``):
a static image is repeated for ``static_steps`` steps; a sequence feeds each frame for
``steps_per_frame`` steps in order, so ``T = frames * steps_per_frame``. Step ``t``
covers ``[t * dt_ms, (t + 1) * dt_ms)`` after stimulus onset.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["StimulusInput"]


class StimulusInput(nn.Module):
    """uint8/float stimuli (B, F, C, H, W) -> normalised float (B, F, in_channels, size, size)."""

    def __init__(
        self,
        size: int = 64,
        in_channels: int = 3,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"input.in_channels must be 1 or 3, got {in_channels}")
        if len(mean) != in_channels or len(std) != in_channels:
            raise ValueError(
                f"input.mean and input.std need {in_channels} values (one per channel), "
                f"got {list(mean)} and {list(std)}"
            )
        if any(s <= 0 for s in std):
            raise ValueError(f"input.std must be positive, got {list(std)}")
        self.size = int(size)
        self.in_channels = int(in_channels)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, stimuli: torch.Tensor) -> torch.Tensor:
        if stimuli.dim() != 5:
            raise ValueError(f"stimuli must be (batch, frames, channels, H, W), got shape {tuple(stimuli.shape)}")
        b, f, c, h, w = stimuli.shape
        x = stimuli.reshape(b * f, c, h, w)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.to(self.mean.dtype)
        if c != self.in_channels:
            if c == 1:
                x = x.expand(-1, self.in_channels, -1, -1)
            elif c == 3 and self.in_channels == 1:
                x = x.mean(dim=1, keepdim=True)
            else:
                raise ValueError(f"cannot convert {c}-channel stimuli to {self.in_channels} channels")
        if (h, w) != (self.size, self.size):
            downsampling = h > self.size or w > self.size
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=downsampling
            )
        x = (x - self.mean) / self.std
        return x.reshape(b, f, self.in_channels, self.size, self.size)

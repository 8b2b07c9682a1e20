"""Stimulus preprocessing and the mapping from frames to simulation steps.

Stimuli enter every model as ``(batch, frames, channels, H, W)``, uint8 (0-255) or
float; a static image has ``frames == 1``. :class:`StimulusInput` scales uint8 to [0, 1],
converts the channel count (grey -> RGB by repetition, RGB -> grey by the channel mean),
resizes to the configured square size on the stimulus' device (bilinear, antialiased when
downsampling) and normalises with the configured per-channel mean and std.
:class:`TimeConfig` then lays the frames out in time (:meth:`TimeConfig.expand`):
a static image is repeated for ``static_steps`` steps; a sequence feeds each frame for
``steps_per_frame`` steps in order, so ``T = frames * steps_per_frame``. Step ``t``
covers ``[t * dt_ms, (t + 1) * dt_ms)`` after stimulus onset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["StimulusInput", "TimeConfig"]


@dataclass(frozen=True)
class TimeConfig:
    """How model steps relate to stimulus time.

    ``dt_ms``: duration of one simulation step. ``steps_per_frame``: steps each frame of a
    sequence is shown for. ``static_steps``: steps a static image is shown for.
    ``static_window_steps``: ``[start, stop)`` steps averaged into the single response
    bin of a static image (``None``: all ``static_steps``).
    """

    dt_ms: float = 10.0
    steps_per_frame: int = 2
    static_steps: int = 4
    static_window_steps: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.dt_ms > 0:
            raise ValueError(f"time.dt_ms must be > 0, got {self.dt_ms}")
        for key in ("steps_per_frame", "static_steps"):
            value = getattr(self, key)
            if int(value) != value or value < 1:
                raise ValueError(f"time.{key} must be a positive integer, got {value}")
        if self.static_window_steps is not None:
            start, stop = (int(v) for v in self.static_window_steps)
            if not 0 <= start < stop <= self.static_steps:
                raise ValueError(
                    f"time.static_window_steps {list(self.static_window_steps)} must satisfy "
                    f"0 <= start < stop <= static_steps ({self.static_steps})"
                )
            object.__setattr__(self, "static_window_steps", (start, stop))

    def n_steps(self, frames: int) -> int:
        """Number of simulation steps for a stimulus with ``frames`` frames."""
        return self.static_steps if frames == 1 else frames * self.steps_per_frame

    def static_window(self) -> tuple[int, int]:
        """``(start, stop)`` steps averaged for a static image."""
        return self.static_window_steps or (0, self.static_steps)

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, frames, C, H, W) -> time-major (T, batch, C, H, W)."""
        frames = x.shape[1]
        x = x.transpose(0, 1)
        if frames == 1:
            return x.expand(self.static_steps, *x.shape[1:])
        return x.repeat_interleave(self.steps_per_frame, dim=0)


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
                f"input.mean and input.std need {in_channels} values (one per channel), got {list(mean)} and {list(std)}"
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
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=downsampling)
        x = (x - self.mean) / self.std
        return x.reshape(b, f, self.in_channels, self.size, self.size)

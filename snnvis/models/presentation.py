"""Presentations as the experiment showed them: each frame for its on-time, then a blank.

A recording's :class:`~snnvis.recordings.protocol.Protocol` says how its stimuli were
shown. :func:`run_presentations` shows them to an encoder core the same way, in steps of
the core's ``time.dt_ms`` (:meth:`Protocol.steps` refuses durations that are not whole
steps), and returns the core's per-step output aligned to each presentation's onset:

- ``independent``: every presentation (``on`` steps of its frame, then ``off`` steps of
  blank) starts from reset state (``spikingjelly.activation_based.functional.reset_net``;
  a recurrent twin starts its recurrence afresh), so a frame's response does not depend
  on what came before. Presentations run as one batch, so the core must be batch
  independent: call it in eval mode (BatchNorm in training mode mixes the batch).
- ``stream``: the presentations in the protocol's recorded ``order`` as one continuous
  stream, state carried across them (one ``encode`` call over the whole stream: history
  and adaptation across presentations are part of the response).
- ``movie``: each stimulus' frames back to back in movie order (``off`` = 0), state
  carried across the frames of a stimulus and reset between stimuli.

The blank is a uniform grey image at the mean pixel value of the stimuli given (all
channels, frames and stimuli; on the 0-1 scale, i.e. uint8 / 255), unless ``blank`` sets
that value. A presentation of something that is not a stimulus of the recording (an
``order`` entry ``(-1, -1)``) shows the blank for its on-time as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from spikingjelly.activation_based import functional

from snnvis.models.timing import time_bin_matrix
from snnvis.recordings.protocol import MODES, Protocol

__all__ = ["Presentations", "blank_level", "presentation_input", "run_presentations"]


@dataclass(frozen=True)
class Presentations:
    """Per-step core output for presentations shown as the protocol says.

    ``outputs`` (n_presentations, on + off, C', H', W'): step 0 is the presentation's onset;
    step ``t`` covers ``[t * dt_ms, (t + 1) * dt_ms)`` after it. ``order`` (n_presentations, 2):
    the (stimulus, frame) of each row, in the order they were shown ((-1, -1): blank).
    """

    outputs: torch.Tensor
    order: np.ndarray
    mode: str
    on_steps: int
    off_steps: int
    dt_ms: float

    def bin_matrix(self, windows_ms, latency_ms: float = 0.0) -> torch.Tensor:
        """(n_windows, on + off) weights mapping each presentation's steps onto recorded windows
        ``[start, end)`` ms after its onset, the model lagging by ``latency_ms``
        (:func:`~snnvis.models.timing.time_bin_matrix`; a readout applies it per presentation)."""
        return time_bin_matrix(self.on_steps + self.off_steps, self.dt_ms, latency_ms, windows_ms)


def blank_level(stimuli: torch.Tensor) -> float:
    """Mean pixel value of ``stimuli`` on the 0-1 scale (uint8 is divided by 255)."""
    level = stimuli.double().mean().item()
    return level / 255.0 if stimuli.dtype == torch.uint8 else level


def presentation_input(frames: torch.Tensor, blank: torch.Tensor, on_steps: int, off_steps: int) -> torch.Tensor:
    """Time-major input (n * (on + off), ..., C, H, W) for preprocessed ``frames`` (n, ..., C, H, W):
    each frame for ``on_steps``, then ``blank`` (broadcast to one frame's shape) for ``off_steps``."""
    if on_steps < 1 or off_steps < 0:
        raise ValueError(f"need on_steps >= 1 and off_steps >= 0, got {on_steps}, {off_steps}")
    on = frames.unsqueeze(1).expand(-1, on_steps, *frames.shape[1:])
    off = blank.to(frames).expand(frames.shape[0], off_steps, *frames.shape[1:])
    return torch.cat([on, off], dim=1).flatten(0, 1)


def _every_frame(n_stimuli: int, n_frames: int) -> np.ndarray:
    """(n_stimuli * n_frames, 2) (stimulus, frame) in index order."""
    s, f = np.meshgrid(np.arange(n_stimuli), np.arange(n_frames), indexing="ij")
    return np.stack([s.ravel(), f.ravel()], axis=1).astype(np.int64)


@torch.no_grad()
def run_presentations(
    core, stimuli: torch.Tensor, protocol: Protocol, mode: str | None = None, blank: float | None = None, file=None
) -> Presentations:
    """Show ``stimuli`` (n_stimuli, n_frames, C, H, W), uint8 or float, to ``core`` as ``protocol`` says.

    ``mode``: ``independent``, ``stream`` or ``movie`` (default: the protocol's). Independent
    and stream presentations follow ``protocol.order`` (independent without an order: every
    (stimulus, frame) in index order); movie shows every stimulus' frames in order.
    ``blank``: the blank's grey level on the 0-1 scale (default :func:`blank_level`).
    Protocol timing errors are :class:`~snnvis.errors.UserError` naming ``file``.
    """
    mode = protocol.mode if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if stimuli.dim() != 5:
        raise ValueError(f"stimuli must be (n_stimuli, n_frames, C, H, W), got shape {tuple(stimuli.shape)}")
    dt_ms = core.time.dt_ms
    on, off = protocol.steps(dt_ms, file)
    n_stimuli, n_frames = stimuli.shape[:2]
    level = blank_level(stimuli) if blank is None else float(blank)
    grey = torch.full((1, 1, *stimuli.shape[2:]), level, device=stimuli.device)
    blank_in = core.stimulus(grey)[0, 0]  # (C, S, S)
    functional.reset_net(core)
    if mode == "movie":
        if off != 0:
            raise ValueError(f"a movie has no blank between frames, but off_ms gives {off} steps")
        x = core.stimulus(stimuli)  # (S, F, C, s, s)
        seq = presentation_input(x.transpose(0, 1), blank_in, on, 0)  # (F * on, S, C, s, s)
        out = core.encode(seq)
        out = out.reshape(n_frames, on, *out.shape[1:]).permute(2, 0, 1, *range(3, out.dim() + 1))
        return Presentations(out.flatten(0, 1), _every_frame(n_stimuli, n_frames), mode, on, 0, dt_ms)
    if mode == "stream" and protocol.order is None:
        raise ValueError("mode 'stream' needs the protocol's presentation order")
    order = _every_frame(n_stimuli, n_frames) if protocol.order is None else np.asarray(protocol.order, np.int64)
    shown = order[:, 0] >= 0
    x = blank_in.expand(len(order), *blank_in.shape).clone()
    if shown.any():
        idx = torch.as_tensor(order[shown], device=stimuli.device)
        picked = stimuli[idx[:, 0], idx[:, 1]].unsqueeze(1)  # (n_shown, 1, C, H, W)
        x[torch.as_tensor(shown, device=stimuli.device)] = core.stimulus(picked)[:, 0]
    steps = presentation_input(x, blank_in, on, off)  # (P * (on + off), C, s, s)
    if mode == "independent":  # a batch of P, each from reset
        out = core.encode(steps.reshape(len(order), on + off, *x.shape[1:]).transpose(0, 1)).transpose(0, 1)
    else:  # one stream, batch of one
        out = core.encode(steps.unsqueeze(1))[:, 0]
        out = out.reshape(len(order), on + off, *out.shape[1:])
    functional.reset_net(core)
    return Presentations(out, order, mode, on, off, dt_ms)

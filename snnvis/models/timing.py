"""Model time: simulation steps, frames, response bins, latency and response windows.

One place defines how a model's simulation steps relate to the stimulus and to the
recorded responses:

- :class:`TimeConfig` (the ``model.time`` config section): ``dt_ms`` per step; a static
  image is shown for ``static_steps``; each frame of a sequence for ``steps_per_frame``.
  Step ``t`` covers ``[t * dt_ms, (t + 1) * dt_ms)`` after stimulus onset.
- :func:`response_window`: the ``[start, stop)`` steps averaged into one response per
  stimulus (the static window of an image, all steps of a sequence);
  :func:`step_window_matrix` is that average as a (1, n_steps) matrix.
- :func:`time_bin_matrix`: (n_bins, n_steps) weights from steps to recorded time windows
  with a latency; :func:`response_bins` builds it for a recording's response set and
  checks the model's frame time against the recording's.
- :func:`frame_means`: per-step activity (T, B, n) -> per-frame means (B, frames, n).

Presentations as the experiment showed them (on-time, then a blank) are built and run
in :mod:`snnvis.models.presentation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "TimeConfig",
    "frame_means",
    "response_bins",
    "response_window",
    "step_window_matrix",
    "time_bin_matrix",
]


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


def step_window_matrix(n_steps: int, start: int, stop: int) -> torch.Tensor:
    """(1, n_steps) weights averaging steps ``[start, stop)``."""
    if not 0 <= start < stop <= n_steps:
        raise ValueError(f"step window [{start}, {stop}) is not within the model's {n_steps} steps")
    m = torch.zeros(1, n_steps)
    m[0, start:stop] = 1.0 / (stop - start)
    return m


def time_bin_matrix(
    n_steps: int,
    dt_ms: float,
    latency_ms: float,
    windows_ms: Any,
    frame_onsets_ms: Sequence[float] | None = None,
    average_over_frames: bool = False,
) -> torch.Tensor:
    """Weights (n_bins, n_steps) mapping per-step model output to recorded time windows.

    Step ``t`` covers ``[t * dt_ms, (t + 1) * dt_ms)`` after stimulus onset; a response
    at time ``tau`` is predicted by the step covering ``tau - latency_ms``. Row ``k`` is
    the average over the steps overlapping window ``k`` (shifted back by the latency),
    weighted by the overlap, so each row sums to 1.

    ``windows_ms`` (n_windows, 2): ``[start, end)`` relative to stimulus onset, or, with
    ``frame_onsets_ms``, relative to each frame's onset. Then ``average_over_frames``
    gives one row per window averaged over frames (n_bins = n_windows, a frame-averaged
    PSTH); otherwise one row per (frame, window), frame-major (n_bins = frames * n_windows).
    A frame-averaged row averages, with equal weights, over the frames whose window
    overlaps the model's steps: a window that starts before its frame's onset (e.g. a
    PSTH from -50 ms) falls before model time 0 for the first frame and is then the
    average over the later frames. A window that overlaps none of the steps (for
    frame-averaged rows: in none of the frames) raises ValueError.
    """
    windows = np.asarray(windows_ms, dtype=np.float64)
    if windows.ndim != 2 or windows.shape[1] != 2 or len(windows) == 0:
        raise ValueError(f"windows_ms must be (n_windows, 2) [start, end) pairs, got shape {windows.shape}")
    if np.any(windows[:, 1] <= windows[:, 0]):
        raise ValueError(f"every window needs end > start, got {windows.tolist()}")
    if n_steps < 1 or dt_ms <= 0:
        raise ValueError(f"need n_steps >= 1 and dt_ms > 0, got {n_steps}, {dt_ms}")
    onsets = [0.0] if frame_onsets_ms is None else [float(o) for o in frame_onsets_ms]
    edges = np.arange(n_steps + 1, dtype=np.float64) * dt_ms
    averaging = frame_onsets_ms is not None and average_over_frames
    rows = np.zeros((len(onsets), len(windows), n_steps))
    covered = np.zeros((len(onsets), len(windows)), dtype=bool)
    for f, onset in enumerate(onsets):
        for k, (start, end) in enumerate(windows):
            lo, hi = onset + start - latency_ms, onset + end - latency_ms
            overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
            if overlap.sum() > 0:
                rows[f, k] = overlap / overlap.sum()
                covered[f, k] = True
            elif not averaging:
                where = "" if frame_onsets_ms is None else f" of frame {f} (onset {onset:g} ms)"
                raise ValueError(
                    f"window {k} [{start:g}, {end:g}) ms{where} maps to model time [{lo:g}, {hi:g}) ms with a "
                    f"{latency_ms:g} ms latency, which none of the {n_steps} steps of {dt_ms:g} ms "
                    f"(model time [0, {n_steps * dt_ms:g}) ms) overlaps: the model does not run long enough"
                )
    if frame_onsets_ms is None:
        matrix = rows[0]
    elif averaging:
        n_covering = covered.sum(axis=0)
        if not n_covering.all():
            k = int(np.argmin(n_covering))
            start, end = windows[k]
            raise ValueError(
                f"window {k} [{start:g}, {end:g}) ms after frame onset maps, with a {latency_ms:g} ms latency, "
                f"to model time that none of the {n_steps} steps of {dt_ms:g} ms (model time "
                f"[0, {n_steps * dt_ms:g}) ms) overlaps in any of the {len(onsets)} frames"
            )
        matrix = rows.sum(axis=0) / n_covering[:, None]
    else:
        matrix = rows.reshape(-1, n_steps)
    return torch.as_tensor(matrix, dtype=torch.float32)


def response_window(time: TimeConfig, n_frames: int) -> tuple[int, int]:
    """``(start, stop)`` steps averaged into one response per stimulus: the static window
    for an image (``n_frames == 1``), all steps for a sequence."""
    if n_frames == 1:
        return time.static_window()
    return 0, time.n_steps(n_frames)


def frame_means(activity: torch.Tensor, time: TimeConfig, n_frames: int) -> torch.Tensor:
    """Per-step activity (T, B, n) of a sequence -> (B, n_frames, n), each frame's steps averaged.

    ValueError unless ``T == n_frames * time.steps_per_frame``.
    """
    T, b, n = activity.shape
    if T != n_frames * time.steps_per_frame:
        raise ValueError(f"{T} steps for {n_frames} frames x {time.steps_per_frame} steps")
    return activity.reshape(n_frames, time.steps_per_frame, b, n).mean(1).transpose(0, 1)


def response_bins(
    time: TimeConfig,
    n_frames: int,
    windows_ms: Any,
    latency_ms: float,
    *,
    frame_aligned: bool = False,
    frame_average: bool = False,
    frame_interval_ms: float = float("nan"),
) -> torch.Tensor:
    """The (n_bins, n_steps) map from a stimulus' simulation steps to a response set's bins.

    ``windows_ms`` are relative to stimulus onset, or with ``frame_aligned`` to each
    frame's onset (then ``frame_average`` averages them over frames). ``frame_interval_ms``:
    the recording's frame-to-frame time; where known it must equal
    ``steps_per_frame * dt_ms``. ValueError otherwise, or when a window falls outside the
    model's steps.
    """
    n_steps = time.n_steps(n_frames)
    kwargs = {}
    if frame_aligned:
        frame_ms = time.steps_per_frame * time.dt_ms
        if np.isfinite(frame_interval_ms) and abs(frame_interval_ms - frame_ms) > 1e-6:
            raise ValueError(
                f"steps_per_frame × dt_ms = {frame_ms} ms but frames are {frame_interval_ms} ms apart in this recording"
            )
        kwargs = {"frame_onsets_ms": np.arange(n_frames) * frame_ms, "average_over_frames": frame_average}
    return time_bin_matrix(n_steps, time.dt_ms, latency_ms, windows_ms, **kwargs)

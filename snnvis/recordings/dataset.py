"""Torch datasets over recordings: (stimulus, response, session) items and balanced batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from snnvis.errors import UserError
from snnvis.recordings.aperture import aperture_box, crop_box
from snnvis.recordings.recording import Recording

CROPS = ("aperture",)
_boxes: dict[tuple[str, float], tuple[int, int, int]] = {}


def recording_crop(rec: Recording, crop: str | None) -> tuple[int, int, int] | None:
    """The ``(top, left, size)`` square ``crop`` names for ``rec``'s frames (None: no crop).
    ``aperture``: the square around the pixels that vary over all the recording's frames."""
    if crop is None:
        return None
    if crop not in CROPS:
        raise UserError("data.crop", f"must be null or one of {', '.join(CROPS)}, got {crop!r}")
    key = (str(rec.path), rec.path.stat().st_mtime)
    if key not in _boxes:
        _boxes[key] = aperture_box(rec.stimuli())
    return _boxes[key]


def resize_uint8(stimuli: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize uint8 (n, frames, C, H, W) to size×size with antialiasing; None keeps the size."""
    if size is None or tuple(stimuli.shape[-2:]) == (size, size):
        return stimuli
    n, f, c, h, w = stimuli.shape
    out = torch.empty((n, f, c, size, size), dtype=torch.uint8)
    for start in range(0, n, 64):  # bounded float memory for large sets
        chunk = stimuli[start : start + 64].reshape(-1, c, h, w).float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + 64] = chunk.round_().clamp_(0, 255).to(torch.uint8).reshape(-1, f, c, size, size)
    return out


class RecordingDataset(Dataset):
    """One split of one recording, held in memory.

    Stimuli are decoded once and cached as uint8 (n, frames, C, H, W), optionally
    cropped first (``crop``: see :func:`recording_crop`) and resized to ``image_size``;
    responses are float32 (n, n_bins, n_neurons) of the chosen response set. Items are
    ``(stimulus, response, session_id)``.
    """

    def __init__(
        self,
        recording: Recording | str,
        split: str | None = None,
        response: str | None = None,
        image_size: int | None = None,
        with_trials: bool = False,
        crop: str | None = None,
    ):
        self.recording = recording if isinstance(recording, Recording) else Recording(recording)
        rec = self.recording
        if not rec.has_pixels:
            raise UserError("recording", "has no images, so it cannot drive a model", rec.path)
        self.response_info = rec.response_info(response)
        self.session = rec.id
        self.indices = rec.split(split) if split else np.arange(rec.n_stimuli)
        self.crop = recording_crop(rec, crop)
        pixels = rec.stimuli(self.indices)  # (n, F, H, W, C)
        if self.crop is not None:
            pixels = np.ascontiguousarray(crop_box(pixels, self.crop))
        pixels = torch.from_numpy(pixels)
        self.stimuli = resize_uint8(pixels.permute(0, 1, 4, 2, 3).contiguous(), image_size)
        self.responses = torch.from_numpy(rec.mean(self.response_info.name, self.indices)).float()
        self.trials = None
        if with_trials and self.response_info.n_repeats:
            self.trials = torch.from_numpy(rec.trials(self.response_info.name, self.indices)).float()

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.stimuli[i], self.responses[i], self.session

    @property
    def n_neurons(self) -> int:
        return self.responses.shape[-1]


@dataclass
class Batch:
    stimuli: torch.Tensor  # uint8 (B, frames, C, H, W)
    responses: torch.Tensor  # float32 (B, n_bins, n_neurons)
    session: str

    def to(self, device, non_blocking: bool = True) -> Batch:
        return Batch(
            self.stimuli.to(device, non_blocking=non_blocking),
            self.responses.to(device, non_blocking=non_blocking),
            self.session,
        )


def collate(items: Sequence[tuple[torch.Tensor, torch.Tensor, str]]) -> Batch:
    """Stack items of ONE session (each session has its own neurons and readout)."""
    sessions = {s for _, _, s in items}
    if len(sessions) != 1:
        raise ValueError(f"a batch must come from one session, got {sorted(sessions)}")
    return Batch(torch.stack([s for s, _, _ in items]), torch.stack([r for _, r, _ in items]), sessions.pop())


class SessionCycler:
    """Batches balanced across sessions.

    Each epoch yields ``n_sessions × max_batches`` batches, cycling through the
    sessions in turn; sessions with fewer batches restart their (reshuffled) loader,
    so every session contributes equally to the shared core's gradient.
    """

    def __init__(
        self,
        datasets: dict[str, RecordingDataset],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        self.datasets, self.seed, self.epoch = datasets, seed, 0
        self.loaders = {}
        for i, (name, ds) in enumerate(datasets.items()):
            gen = torch.Generator().manual_seed(seed * 1000 + i)
            self.loaders[name] = DataLoader(
                ds,
                batch_size=batch_size,
                shuffle=shuffle,
                collate_fn=collate,
                generator=gen,
                drop_last=drop_last and len(ds) > batch_size,
            )
        self.max_batches = max(len(dl) for dl in self.loaders.values())

    def __len__(self) -> int:
        return self.max_batches * len(self.loaders)

    def set_epoch(self, epoch: int) -> None:
        """Re-seed the shuffles so that epoch ``e`` is the same batches whenever it is run."""
        self.epoch = epoch
        for i, dl in enumerate(self.loaders.values()):
            dl.generator.manual_seed(self.seed * 1000 + i + 7919 * epoch)

    def __iter__(self) -> Iterator[Batch]:
        iters = {k: iter(dl) for k, dl in self.loaders.items()}
        for _ in range(self.max_batches):
            for name in self.loaders:
                try:
                    yield next(iters[name])
                except StopIteration:
                    iters[name] = iter(self.loaders[name])
                    yield next(iters[name])

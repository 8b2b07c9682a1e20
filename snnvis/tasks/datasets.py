"""Classification datasets on disk: an ImageFolder layout and a UCF101-style clip layout.

- ``kind: imagefolder``: ``root/{train,val}/<class>/*.{png,jpg,jpeg}`` (as ImageNet is usually
  stored). A sample is one image, ``(1, C, H, W)``: the model shows it for its ``static_steps``.
- ``kind: clips``: ``root/{train,val}/<class>/<clip>`` where a clip is a folder of frame images
  (in name order) or a video file read with PyAV. A sample is ``clip_len`` frames taken every
  ``frame_stride`` frames, ``(clip_len, C, H, W)``: the frames become the model's time axis. A
  training clip starts at a random frame, a validation clip is the central one; a clip shorter
  than that repeats its last frame.

Classes are the sorted sub-folder names of ``train``; ``val`` must have the same ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnvis.errors import UserError
from snnvis.tasks.augment import Augment

__all__ = ["IMAGE_EXTENSIONS", "KINDS", "SPLITS", "VIDEO_EXTENSIONS", "Split", "TaskDataset", "discover"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")
KINDS = ("imagefolder", "clips")
SPLITS = ("train", "val")


@dataclass
class Split:
    """One split's samples: paths (an image, a frame folder or a video file) and class indices."""

    name: str
    classes: list[str]
    paths: list[Path]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.paths)


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS


def _frames(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if _is_image(p)), key=lambda p: _natural_key(p.name))


def _samples(class_dir: Path, kind: str) -> list[Path]:
    entries = sorted(class_dir.iterdir(), key=lambda p: _natural_key(p.name))
    if kind == "imagefolder":
        return [p for p in entries if _is_image(p)]
    return [p for p in entries if (p.is_dir() and _frames(p)) or (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)]


def _what(kind: str) -> str:
    if kind == "imagefolder":
        return f"images ({', '.join(IMAGE_EXTENSIONS)})"
    return "clips (folders of frame images or video files)"


def discover(root: str | Path, kind: str) -> dict[str, Split]:
    """The ``train`` and ``val`` splits under ``root``; one-line UserError for a missing root or
    split, a split without classes, a class without samples, or different classes in the splits."""
    if kind not in KINDS:
        raise UserError("data.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError("data.root", "no such directory", root)
    splits: dict[str, Split] = {}
    for name in SPLITS:
        d = root / name
        if not d.is_dir():
            raise UserError("data.root", f"has no {name}/ folder (expected {name}/<class>/...)", root)
        classes = sorted((p.name for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_natural_key)
        if not classes:
            raise UserError("data.root", f"{name}/ has no class folders (expected {name}/<class>/...)", root)
        paths, labels = [], []
        for label, cls in enumerate(classes):
            found = _samples(d / cls, kind)
            if not found:
                raise UserError("data.root", f"class {cls!r} has no {_what(kind)} in {name}/", root)
            paths += found
            labels += [label] * len(found)
        splits[name] = Split(name, classes, paths, labels)
    train, val = splits["train"].classes, splits["val"].classes
    if train != val:
        only = sorted(set(train) ^ set(val))
        raise UserError(
            "data.root",
            f"train/ and val/ have different classes ({len(train)} and {len(val)}; "
            f"in one only: {', '.join(only[:5])}{' ...' if len(only) > 5 else ''})",
            root,
        )
    return splits


def listing_hash(splits: dict[str, Split]) -> str:
    """sha1 of every sample's path relative to the root, class and size: a dataset that gains,
    loses or rewrites a file is a different run (cheap: no file is read)."""
    h = hashlib.sha1()
    for split in splits.values():
        for p, label in zip(split.paths, split.labels):
            files = _frames(p) if p.is_dir() else [p]
            sizes = ",".join(str(f.stat().st_size) for f in files)
            h.update(f"{split.name}/{label}/{p.parent.name}/{p.name}:{sizes}\n".encode())
    return h.hexdigest()[:16]


def _read_image(path: Path) -> torch.Tensor:
    """(3, H, W) uint8: every image as RGB, so grey, palette and RGB files batch together."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise UserError("image", f"cannot be read ({' '.join(str(err).split())[:120]})", path) from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def _read_video(path: Path, indices: list[int]) -> torch.Tensor:
    """The frames at ``indices`` (sorted, may repeat) of a video file, (n, 3, H, W) uint8."""
    import av

    wanted, frames = set(indices), {}
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    frames[i] = frame.to_ndarray(format="rgb24")
                if i >= max(indices):
                    break
    except (av.error.FFmpegError, ValueError, IndexError) as err:
        raise UserError("video", f"cannot be decoded ({' '.join(str(err).split())[:120]})", path) from None
    if not frames:
        raise UserError("video", "has no frames", path)
    last = frames[max(frames)]
    return torch.from_numpy(np.stack([frames.get(i, last) for i in indices])).permute(0, 3, 1, 2)


def _count_video_frames(path: Path) -> int:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames)
            return sum(1 for _ in container.decode(video=0))
    except (av.error.FFmpegError, ValueError, IndexError) as err:
        raise UserError("video", f"cannot be decoded ({' '.join(str(err).split())[:120]})", path) from None


class TaskDataset(torch.utils.data.Dataset):
    """Samples of one :class:`Split`: ``(frames (F, 3, size, size) float in [0, 1], label)``.

    Sample ``i`` of epoch ``e`` is augmented with a generator seeded by ``(seed, e, i)``
    (:meth:`set_epoch`), so the data a run sees does not depend on workers or on a resume.
    """

    def __init__(
        self, split: Split, kind: str, augment: Augment, seed: int = 0, clip_len: int = 8, frame_stride: int = 1
    ) -> None:
        self.split, self.kind, self.augment = split, kind, augment
        self.seed, self.clip_len, self.frame_stride = int(seed), int(clip_len), int(frame_stride)
        self.epoch = 0
        self._n_frames: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.split)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _generator(self, index: int) -> torch.Generator:
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def _clip_indices(self, n: int, gen: torch.Generator) -> list[int]:
        span = (self.clip_len - 1) * self.frame_stride + 1
        room = max(n - span, 0)
        start = int(torch.randint(0, room + 1, (), generator=gen)) if self.augment.train else room // 2
        return [min(start + k * self.frame_stride, n - 1) for k in range(self.clip_len)]

    def _load(self, index: int, gen: torch.Generator) -> torch.Tensor:
        path = self.split.paths[index]
        if self.kind == "imagefolder":
            return _read_image(path)[None]
        if path.is_dir():
            frames = _frames(path)
            return torch.stack([_read_image(frames[i]) for i in self._clip_indices(len(frames), gen)])
        if index not in self._n_frames:
            self._n_frames[index] = _count_video_frames(path)
        return _read_video(path, self._clip_indices(max(self._n_frames[index], 1), gen))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        gen = self._generator(index)
        frames = self._load(index, gen)
        return self.augment(frames, gen), self.split.labels[index]

"""ImageFolder and clip datasets: discovery, one-line errors for bad layouts, clip frame
selection from frame folders and from video files (PyAV), and per-(seed, epoch, index)
augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from task_helpers import write_clip_folders

from snnvis.errors import UserError
from snnvis.tasks.augment import Augment
from snnvis.tasks.datasets import TaskDataset, discover, listing_hash


def _image(path, value=128, size=12):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


def _folder(root, layout):
    """layout: {split: {class: n_images}}."""
    for split, classes in layout.items():
        for cls, n in classes.items():
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                _image(root / split / cls / f"{i}.png", value=10 * i)
    return root


def test_imagefolder_discovery(tmp_path):
    root = _folder(tmp_path, {"train": {"b": 2, "a": 3}, "val": {"a": 1, "b": 1}})
    (root / "train" / "a" / "notes.txt").write_text("not an image")
    (root / "train" / "a" / "x.JPEG").write_bytes(b"")  # counted by extension, case-insensitive
    splits = discover(root, "imagefolder")
    assert splits["train"].classes == ["a", "b"] and len(splits["train"]) == 6
    assert splits["train"].labels == [0, 0, 0, 0, 1, 1] and len(splits["val"]) == 2
    h = listing_hash(splits)
    _image(root / "val" / "b" / "9.png")
    assert listing_hash(discover(root, "imagefolder")) != h


@pytest.mark.parametrize(
    "layout, message",
    [
        (None, "no such directory"),
        ({"train": {"a": 1}}, "has no val/ folder"),
        ({"train": {}, "val": {"a": 1}}, "train/ has no class folders"),
        ({"train": {"a": 1, "b": 0}, "val": {"a": 1, "b": 1}}, "class 'b' has no images"),
        ({"train": {"a": 1, "b": 1}, "val": {"a": 1, "c": 1}}, "different classes (2 and 2; in one only: b, c)"),
    ],
)
def test_bad_layouts_are_one_line_errors(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout is not None:
        root.mkdir()
        for split in layout:
            (root / split).mkdir()
        _folder(root, layout)
    with pytest.raises(UserError) as err:
        discover(root, "imagefolder")
    assert message in err.value.message and "\n" not in err.value.message
    assert err.value.message.startswith("snnvis: error: data.root in ")


def test_dataset_items_and_seeded_augmentation(tmp_path):
    root = tmp_path / "d"
    for i in range(3):
        img = np.random.default_rng(i).integers(0, 256, (20, 24, 3)).astype(np.uint8)
        (root / "train" / "c").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "train" / "c" / f"{i}.png")
    _folder(root, {"val": {"c": 1}})
    split = discover(root, "imagefolder")["train"]
    ds = TaskDataset(split, "imagefolder", Augment(16, train=True), seed=5)
    x, y = ds[1]
    assert x.shape == (1, 3, 16, 16) and y == 0
    assert torch.equal(ds[1][0], x)  # a function of (seed, epoch, index)
    ds.set_epoch(1)
    assert not torch.equal(ds[1][0], x)
    ds.set_epoch(0)
    assert torch.equal(TaskDataset(split, "imagefolder", Augment(16, train=True), seed=5)[1][0], x)


def _frame_value_dataset(tmp_path, n_frames, clip_len, stride, train):
    root = tmp_path / "clips"
    for split in ("train", "val"):
        d = root / split / "c" / "clip0"
        d.mkdir(parents=True)
        for t in range(n_frames):  # natural order: frame10 after frame9
            _image(d / f"frame{t}.png", value=10 * t)
    split = discover(root, "clips")["train"]
    return TaskDataset(split, "clips", Augment(8, train=train, flip=False), 0, clip_len, stride)


def test_clip_from_frame_folder_takes_strided_frames(tmp_path):
    ds = _frame_value_dataset(tmp_path, n_frames=12, clip_len=4, stride=2, train=False)
    x, _ = ds[0]
    values = (x[:, 0].mean(dim=(1, 2)) * 255).round().tolist()
    assert values == [20.0, 40.0, 60.0, 80.0]  # the central span [2, 4, 6, 8] of frames 0..11
    starts = set()
    ds.augment = Augment(8, train=True, flip=False)
    for epoch in range(30):
        ds.set_epoch(epoch)
        v = (ds[0][0][:, 0].mean(dim=(1, 2)) * 255).round()
        assert torch.equal(v[1:] - v[:-1], torch.full((3,), 20.0))
        starts.add(int(v[0]) // 10)
    assert starts == {0, 1, 2, 3, 4, 5}  # every start that fits a 7-frame span in 12 frames


def test_short_clip_repeats_its_last_frame(tmp_path):
    ds = _frame_value_dataset(tmp_path, n_frames=3, clip_len=5, stride=1, train=True)
    values = (ds[0][0][:, 0].mean(dim=(1, 2)) * 255).round().tolist()
    assert values == [0.0, 10.0, 20.0, 20.0, 20.0]


def test_clip_from_video_file(tmp_path):
    import av

    root = tmp_path / "videos"
    for split in ("train", "val"):
        (root / split / "c").mkdir(parents=True)
        with av.open(str(root / split / "c" / "v.mp4"), "w") as c:
            s = c.add_stream("mpeg4", rate=10)
            s.width = s.height = 32
            s.pix_fmt = "yuv420p"
            for i in range(10):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), format="rgb24")
                for p in s.encode(frame):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    split = discover(root, "clips")["val"]
    x, _ = TaskDataset(split, "clips", Augment(16, train=False), 0, clip_len=4, frame_stride=3)[0]
    assert x.shape == (4, 3, 16, 16)
    values = x.mean(dim=(1, 2, 3)) * 255  # frames 0, 3, 6, 9 (lossy codec: near 0, 60, 120, 180)
    np.testing.assert_allclose(values.numpy(), [0, 60, 120, 180], atol=8)


def test_clip_folders_of_the_pretrain_tests(tmp_path):
    splits = discover(write_clip_folders(tmp_path / "c", n_per_class=2, frames=3), "clips")
    assert splits["val"].classes == ["bright", "dark"] and len(splits["train"]) == 4
    with pytest.raises(UserError, match="has no clips"):
        (tmp_path / "c" / "val" / "empty").mkdir()
        discover(tmp_path / "c", "clips")

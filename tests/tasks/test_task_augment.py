"""Tensor augmentation: shapes and ranges, a flip is an exact mirror, the random resized crop's
area and aspect-ratio distributions (KS tests against the distributions it draws from), the
fallback crop, and the validation center crop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from snnvis.tasks.augment import Augment, center_crop, crop_resize, random_resized_crop_box


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_train_and_val_shapes_and_range():
    img = torch.randint(0, 256, (1, 3, 40, 60), dtype=torch.uint8)
    clip = torch.randint(0, 256, (5, 3, 40, 60), dtype=torch.uint8)
    for aug in (Augment(24, train=True), Augment(24, train=False)):
        for x in (img, clip):
            out = aug(x, _gen(1))
            assert out.shape == (x.shape[0], 3, 24, 24) and out.dtype == torch.float32
            assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_flip_is_a_mirror_of_the_same_crop():
    img = torch.rand(1, 3, 32, 32)
    flipped = 0
    for seed in range(200):
        a = Augment(16, train=True, flip=True)(img, _gen(seed))
        b = Augment(16, train=True, flip=False)(img, _gen(seed))  # same box: the flip is drawn after it
        if torch.equal(a, b.flip(-1)) and not torch.equal(a, b):
            flipped += 1
        else:
            assert torch.equal(a, b)
    assert stats.binomtest(flipped, 200, 0.5).pvalue > 1e-3  # about half of the samples flip


def test_clip_frames_share_one_crop_and_flip():
    frame = torch.rand(3, 30, 30)
    clip = torch.stack([frame, frame * 0.5, frame * 0.25])
    out = Augment(12, train=True)(clip, _gen(3))
    torch.testing.assert_close(out[1], out[0] * 0.5)
    torch.testing.assert_close(out[2], out[0] * 0.25)


def test_crop_area_and_ratio_follow_the_drawn_distributions():
    """Scale (0.1, 0.5) on a square image is always accepted on the first try, so the area
    fraction is uniform on the scale range and log(w/h) uniform on the log ratio range."""
    size, scale, ratio = 400, (0.1, 0.5), (3 / 4, 4 / 3)
    boxes = [random_resized_crop_box(size, size, scale, ratio, _gen(s)) for s in range(2000)]
    area = np.array([h * w / size**2 for _, _, h, w in boxes])
    log_r = np.array([math.log(w / h) for _, _, h, w in boxes])
    assert stats.kstest(area, stats.uniform(scale[0], scale[1] - scale[0]).cdf).pvalue > 1e-3
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    assert stats.kstest(log_r, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    for top, left, h, w in boxes:
        assert 0 <= top <= size - h and 0 <= left <= size - w
    tops = np.array([t / (size - h) for t, _, h, _ in boxes])  # the position is uniform too
    assert stats.kstest(tops, "uniform").pvalue > 1e-3


def test_fallback_is_the_central_crop_with_the_ratio_clamped():
    # a ratio range that a square can never reach within the area range: 10 failed tries
    top, left, h, w = random_resized_crop_box(90, 90, (0.9, 1.0), (3.0, 4.0), _gen(0))
    assert (w, h) == (90, 30) and (top, left) == (30, 0)
    assert random_resized_crop_box(50, 80, (0.99, 1.0), (1.6, 1.6), _gen(0))[2:] in ((50, 80), (49, 79), (50, 79))


def test_crop_resize_takes_the_box():
    x = torch.arange(100.0).reshape(1, 1, 10, 10) / 100
    torch.testing.assert_close(crop_resize(x, (2, 3, 4, 4), 4), x[..., 2:6, 3:7])


def test_center_crop_is_centred_and_resizes_the_short_side():
    ramp = torch.linspace(0, 1, 60).expand(1, 1, 40, 60).contiguous()
    out = center_crop(ramp, 32, crop_fraction=0.875)  # short side 40 -> 37, long 60 -> 56, crop 32
    assert out.shape == (1, 1, 32, 32)
    assert abs(float(out.mean()) - 0.5) < 0.01  # symmetric about the centre column
    torch.testing.assert_close(center_crop(ramp.flip(-1), 32), out.flip(-1))
    full = center_crop(ramp, 40, crop_fraction=1.0)  # no resize of the short side: a plain centre crop
    torch.testing.assert_close(full, ramp[..., :, 10:50])


@pytest.mark.parametrize("bad", [{"scale": (0.5, 0.2)}, {"ratio": (0.0, 1.0)}, {"crop_fraction": 1.5}])
def test_bad_settings(bad):
    with pytest.raises(ValueError):
        Augment(16, train=True, **bad)

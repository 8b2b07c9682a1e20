"""models.timing: the one definition of steps, frames, response windows and bins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnvis.models.timing import TimeConfig, frame_means, response_bins, response_window, time_bin_matrix


def test_response_window_static_and_sequence():
    t = TimeConfig(dt_ms=10, steps_per_frame=3, static_steps=5, static_window_steps=(1, 4))
    assert response_window(t, 1) == (1, 4)
    assert response_window(TimeConfig(static_steps=5), 1) == (0, 5)
    assert response_window(t, 4) == (0, 12)


def test_frame_means_matches_numpy():
    t = TimeConfig(steps_per_frame=3)
    a = torch.randn(4 * 3, 2, 5, generator=torch.Generator().manual_seed(0))
    expected = a.numpy().reshape(4, 3, 2, 5).mean(axis=1).transpose(1, 0, 2)  # (B, frames, n)
    np.testing.assert_allclose(frame_means(a, t, 4).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="12 steps for 3 frames x 3 steps"):
        frame_means(a, t, 3)


def test_response_bins_frame_aligned_is_time_bin_matrix_at_frame_onsets():
    t = TimeConfig(dt_ms=10, steps_per_frame=2)
    windows = [[0, 10], [10, 20]]
    m = response_bins(t, 3, windows, 0.0, frame_aligned=True, frame_interval_ms=20.0)
    ref = time_bin_matrix(6, 10, 0.0, windows, frame_onsets_ms=[0, 20, 40])
    torch.testing.assert_close(m, ref)
    assert m.shape == (6, 6) and torch.equal(m, torch.eye(6))  # each 10 ms bin is one 10 ms step
    with pytest.raises(ValueError, match="frames are 30.0 ms apart"):
        response_bins(t, 3, windows, 0.0, frame_aligned=True, frame_interval_ms=30.0)
    # stimulus-aligned windows ignore the frame interval
    whole = response_bins(t, 1, [[0, 40]], 0.0, frame_interval_ms=30.0)
    torch.testing.assert_close(whole, torch.full((1, 4), 0.25))

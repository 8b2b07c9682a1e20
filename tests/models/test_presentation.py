"""Presentations as presented: on/off steps from the protocol, reset vs carried state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnvis.errors import UserError
from snnvis.models.presentation import blank_level, presentation_input, run_presentations
from snnvis.recordings.protocol import Protocol

TIME = ["model.time.dt_ms=10"]


def _stimuli(n_stimuli=3, n_frames=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n_stimuli, n_frames, 3, size, size), generator=g, dtype=torch.uint8)


@pytest.fixture(params=[("sew_resnet_tiny", True), ("cornet_rt", False)], ids=["lif_snn", "recurrent_twin"])
def core(request, build_core, calibrate):
    name, spiking = request.param
    c = build_core(name, spiking, *TIME)
    return calibrate(c, _stimuli(4, 1).float() / 255)


def test_presentation_input_lays_out_on_then_blank():
    frames = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1) + 1  # frames valued 1, 2, 3
    blank = torch.full((1, 1, 1), -7.0)
    seq = presentation_input(frames, blank, on_steps=3, off_steps=2)
    expected = [1, 1, 1, -7, -7, 2, 2, 2, -7, -7, 3, 3, 3, -7, -7]
    assert seq.flatten().tolist() == expected


def test_steps_follow_the_protocol_and_refuse_non_multiples(build_core):
    core = build_core("sew_resnet_tiny", True, *TIME).eval()
    stim = _stimuli(2, 1)
    out = run_presentations(core, stim, Protocol("independent", 200.0, 100.0))
    assert (out.on_steps, out.off_steps) == (20, 10)
    assert out.outputs.shape[:2] == (2, 30)
    assert out.order.tolist() == [[0, 0], [1, 0]]
    # windows after onset, with a latency: 50-100 ms recorded <- steps 3 and 4 (30-50 ms) at 20 ms latency
    m = out.bin_matrix([[50, 70], [0, 300]], latency_ms=20.0)
    assert m.shape == (2, 30)
    torch.testing.assert_close(m[0], torch.tensor([0.0] * 3 + [0.5, 0.5] + [0.0] * 25))
    torch.testing.assert_close(m[1, :28], torch.full((28,), 1 / 28))
    with pytest.raises(UserError, match="not a whole number"):
        run_presentations(core, stim, Protocol("independent", 205.0, 100.0))
    with pytest.raises(UserError, match="unknown"):
        run_presentations(core, stim, Protocol("independent", 200.0, float("nan")))


def test_blank_is_mean_grey():
    stim = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 1, 2)
    assert blank_level(stim) == pytest.approx(0.5)
    assert blank_level(stim.float() / 255) == pytest.approx(0.5)


def _history_protocol():
    """Frame (0, 0) shown first, then again after two other frames: same frame, another history."""
    return np.array([[0, 0], [1, 1], [2, 0], [0, 0]])


def test_independent_response_does_not_depend_on_what_came_before(core):
    stim = _stimuli()
    protocol = Protocol("stream", 30.0, 20.0, order=_history_protocol())
    out = run_presentations(core, stim, protocol, mode="independent").outputs
    assert out.shape[1] == 5
    torch.testing.assert_close(out[0], out[3], rtol=0, atol=1e-6)
    # and equals the frame shown alone, from reset state
    alone = run_presentations(core, stim[:1, :1], Protocol("independent", 30.0, 20.0), blank=blank_level(stim)).outputs
    torch.testing.assert_close(out[0], alone[0], rtol=1e-5, atol=1e-5)
    assert out[0].abs().sum() > 0  # the model responds at all


def test_stream_carries_state_across_presentations(core):
    stim = _stimuli()
    protocol = Protocol("stream", 30.0, 20.0, order=_history_protocol())
    out = run_presentations(core, stim, protocol).outputs
    assert out.shape[:2] == (4, 5)
    assert not torch.allclose(out[0], out[3], atol=1e-4)  # same frame, another history, another response
    # the first presentation has no history: it matches the independent response
    first = run_presentations(core, stim, protocol, mode="independent").outputs[0]
    torch.testing.assert_close(out[0], first, rtol=1e-5, atol=1e-5)


def test_movie_mode_matches_the_core_forward(core):
    stim = _stimuli(2, 3)
    out = run_presentations(core, stim, Protocol("movie", 10.0 * core.time.steps_per_frame, 0.0))
    assert out.order.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    ref = core(stim)  # (F * steps_per_frame, S, C', H', W')
    got = out.outputs.reshape(2, -1, *out.outputs.shape[2:]).transpose(0, 1)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)

"""Readouts, the step-to-time-bin mapping, and the full model's temporal output."""

import pytest
import torch
import torch.nn.functional as F

from snnvis.models import NeuralEncoderModel, build_readout, time_bin_matrix
from snnvis.models.timing import step_window_matrix


def test_time_bin_matrix_uniform_window_after_latency():
    m = time_bin_matrix(20, dt_ms=10, latency_ms=50, windows_ms=[[50, 150]])
    expected = torch.zeros(1, 20)
    expected[0, :10] = 0.1
    torch.testing.assert_close(m, expected)


def test_time_bin_matrix_partial_overlap_is_weighted():
    # window [5, 25) ms, no latency: step 0 covers half of [0, 10), step 1 all, step 2 half
    m = time_bin_matrix(4, dt_ms=10, latency_ms=0, windows_ms=[[5, 25], [0, 40]])
    torch.testing.assert_close(m, torch.tensor([[0.25, 0.5, 0.25, 0.0], [0.25, 0.25, 0.25, 0.25]]))


def test_time_bin_matrix_frame_aligned():
    # 3 frames of 20 ms (2 steps of 10 ms); window [10, 20) after each frame onset, 10 ms latency
    kwargs = dict(n_steps=6, dt_ms=10, latency_ms=10, windows_ms=[[10, 20], [10, 30]], frame_onsets_ms=[0, 20, 40])
    per_frame = time_bin_matrix(**kwargs)
    assert per_frame.shape == (6, 6)
    torch.testing.assert_close(per_frame[0], torch.tensor([1.0, 0, 0, 0, 0, 0]))  # frame 0, window 0
    torch.testing.assert_close(per_frame[1], torch.tensor([0.5, 0.5, 0, 0, 0, 0]))  # frame 0, window 1
    torch.testing.assert_close(per_frame[2], torch.tensor([0, 0, 1.0, 0, 0, 0]))  # frame 1, window 0
    averaged = time_bin_matrix(**kwargs, average_over_frames=True)
    torch.testing.assert_close(averaged, per_frame.reshape(3, 2, 6).mean(0))
    torch.testing.assert_close(averaged[0], torch.tensor([1.0, 0, 1.0, 0, 1.0, 0]) / 3)


def test_time_bin_matrix_rejects_uncovered_windows():
    with pytest.raises(ValueError, match=r"window 1 \[100, 150\) ms.*does not run long enough"):
        time_bin_matrix(5, dt_ms=10, latency_ms=50, windows_ms=[[50, 100], [100, 150]])
    with pytest.raises(ValueError, match="window 0 .* of frame 2"):
        time_bin_matrix(4, dt_ms=10, latency_ms=0, windows_ms=[[0, 10]], frame_onsets_ms=[0, 20, 40])
    with pytest.raises(ValueError, match="end > start"):
        time_bin_matrix(4, dt_ms=10, latency_ms=0, windows_ms=[[10, 10]])
    with pytest.raises(ValueError, match="n_windows, 2"):
        time_bin_matrix(4, dt_ms=10, latency_ms=0, windows_ms=[0, 10])


@pytest.mark.parametrize("name", ["factorized", "gaussian"])
@pytest.mark.parametrize("nonlinearity", ["elu1", "softplus"])
def test_readout_shapes_positivity_and_regularizer(name, nonlinearity):
    readout = build_readout(name, in_shape=(6, 5, 7), n_neurons=4, nonlinearity=nonlinearity, l1=0.5)
    x = torch.randn(3, 2, 6, 5, 7)
    y = readout(x)
    assert y.shape == (3, 2, 4) and (y > 0).all()
    reg = readout.regularizer()
    assert reg.ndim == 0 and reg > 0
    reg.backward()
    assert readout.features.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="readout expects"):
        readout(torch.randn(3, 2, 6, 5, 8))


def test_factorized_readout_is_spatial_mask_times_features():
    readout = build_readout("factorized", in_shape=(3, 4, 4), n_neurons=2, nonlinearity="softplus", l1=1.0)
    x = torch.randn(2, 5, 3, 4, 4)
    expected = torch.einsum("tbchw,nhw,nc->tbn", x, readout.spatial, readout.features) + readout.bias
    torch.testing.assert_close(readout(x), F.softplus(expected))
    expected_reg = readout.spatial.abs().sum((1, 2)).mean() + readout.features.abs().sum(1).mean()
    torch.testing.assert_close(readout.regularizer(), expected_reg)


def test_gaussian_readout_reads_at_mu_in_eval_and_samples_in_training():
    readout = build_readout("gaussian", in_shape=(2, 5, 5), n_neurons=3, nonlinearity="softplus")
    with torch.no_grad():
        readout.mu.copy_(torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 0.5]]))  # (x, y) in [-1, 1]
    x = torch.randn(2, 4, 2, 5, 5)
    at_mu = x[..., [0, 2, 3], [0, 2, 4]]  # (T, B, C, N): rows y = 0, 2, 3; columns x = 0, 2, 4
    expected = F.softplus(torch.einsum("tbcn,nc->tbn", at_mu, readout.features) + readout.bias)
    torch.testing.assert_close(readout.eval()(x), expected)
    readout.train()
    torch.manual_seed(0)
    a = readout(x)
    assert not torch.allclose(a, expected)
    torch.manual_seed(0)
    torch.testing.assert_close(readout(x), a)  # sampling follows the seed
    same_for_all_steps = readout(x[:1].expand(3, -1, -1, -1, -1))
    torch.testing.assert_close(same_for_all_steps[0], same_for_all_steps[2])


def test_model_applies_bin_matrix_and_static_window(build_core, stimuli):
    core = build_core("cornet_z", True, "model.time.static_steps=4", "model.time.static_window_steps=[1,3]")
    model = NeuralEncoderModel(core.eval())
    model.add_session("s", 3, {"name": "factorized"})
    image, sequence = stimuli(2, 1), stimuli(2, 3)
    rates = model.rates(image, "s")
    assert rates.shape == (4, 2, 3)
    torch.testing.assert_close(model(image, "s"), rates[1:3].mean(0, keepdim=True).transpose(0, 1))
    bins = time_bin_matrix(3, core.dt_ms, 0.0, [[0, 10], [10, 30]])
    seq_rates = model.rates(sequence, "s")
    torch.testing.assert_close(model(sequence, "s", bin_matrix=bins), torch.einsum("kt,tbn->bkn", bins, seq_rates))
    torch.testing.assert_close(model(sequence, "s"), seq_rates.transpose(0, 1))
    with pytest.raises(ValueError, match="bin_matrix must be"):
        model(sequence, "s", bin_matrix=torch.ones(1, 5))
    with pytest.raises(ValueError, match="already has a readout"):
        model.add_session("s", 3, {"name": "factorized"})
    with pytest.raises(ValueError, match="without '.'"):
        model.add_session("a.b", 3, {"name": "factorized"})
    with pytest.raises(ValueError, match="unknown readout"):
        model.add_session("t", 3, {"name": "linear"})
    torch.testing.assert_close(step_window_matrix(4, 1, 3), torch.tensor([[0.0, 0.5, 0.5, 0.0]]))

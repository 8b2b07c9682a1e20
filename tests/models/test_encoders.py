"""Encoders: shapes, SNN/twin equivalence, state handling, gradients, determinism."""

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from spikingjelly.activation_based import base
from torch import nn

from snnvis.models import NeuralEncoderModel, count_params
from snnvis.models.neurons import SPIKING_NEURONS
from snnvis.utils import seed_everything

RECURRENT_TWINS = {"cornet_rt", "lorafb"}  # twins whose output depends on earlier steps


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "dnn"])
def test_shapes_for_images_and_sequences(model_config, spiking, compose_cfg, stimuli):
    cfg = compose_cfg(model_config, f"model.spiking={str(spiking).lower()}")
    model = NeuralEncoderModel(instantiate(cfg.model))
    c, h, w = model.core_output_shape
    for readout in ("factorized", "gaussian"):
        model.add_session(readout, 5, compose_cfg(model_config, readout=readout).readout)
        image = (stimuli(2, 1, size=40) * 255).to(torch.uint8)  # uint8, resized 40 -> 32
        sequence = stimuli(2, 3, size=24)  # float, resized 24 -> 32
        assert model.core(image).shape == (3, 2, c, h, w)  # static_steps = 3
        assert model.core(sequence).shape == (3, 2, c, h, w)  # 3 frames x 1 step
        assert model(image, readout).shape == (2, 1, 5)
        assert model(sequence, readout).shape == (2, 3, 5)
        assert model(sequence, readout, bin_matrix=torch.ones(2, 3) / 3).shape == (2, 2, 5)
        assert (model(image, readout) > 0).all()


def test_snn_and_twin_have_equal_parameter_counts(model_config, compose_cfg):
    counts = {}
    for spiking in (True, False):
        with torch.device("meta"):
            core = instantiate(compose_cfg(model_config, f"model.spiking={str(spiking).lower()}", tiny=False).model)
        counts[spiking] = count_params(core)
    assert counts[True] == counts[False] > 0


def test_plif_adds_one_parameter_per_neuron_layer(build_core):
    snn = build_core("cornet_s", True, "model.neuron.type=plif")
    twin = build_core("cornet_s", False, "model.neuron.type=plif")
    assert count_params(snn) - count_params(twin) == len(snn.neurons())


def test_twin_is_exactly_a_relu_network(model_config, build_core):
    snn, twin = build_core(model_config, True), build_core(model_config, False)
    assert not any(isinstance(m, (base.MemoryModule, *SPIKING_NEURONS)) for m in twin.modules())
    n_relu = sum(isinstance(m, nn.ReLU) for m in twin.modules())
    n_neurons = sum(isinstance(m, SPIKING_NEURONS) for m in snn.modules())
    assert n_relu == n_neurons == len(twin.neurons()) > 0
    assert not any(isinstance(m, nn.ReLU) for m in snn.modules())
    twin.load_state_dict(snn.state_dict())  # identical parameters and buffers, strict
    assert [s.name for s in snn.candidate_layers()] == [s.name for s in twin.candidate_layers()]


def _conv_bn(seq: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Plain eval-mode conv + BatchNorm from a ``conv_norm`` container's weights."""
    conv, bn = seq[0], seq[1]
    y = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding)
    return F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _preprocess(x):
    """The configs' ImageNet normalisation of a static float image (B, 1, 3, H, W) at the model size."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x[:, 0] - mean) / std


def test_sew_twin_equals_plain_torch_forward(build_core, calibrate, stimuli):
    snn = build_core("sew_resnet_tiny", True)
    twin = build_core("sew_resnet_tiny", False)
    twin.load_state_dict(snn.state_dict())
    calibrate(twin, stimuli(4, 1, seed=1))
    x = stimuli(2, 1, seed=2)
    h = F.relu(_conv_bn(twin.stem.conv, _preprocess(x)))
    for stage in twin.stages:
        for block in stage:
            out = F.relu(_conv_bn(block.conv2, F.relu(_conv_bn(block.conv1, h))))
            identity = h if block.downsample is None else F.relu(_conv_bn(block.downsample[0], h))
            h = out + identity
    out = twin(x)
    assert out.shape[0] == 3
    for step in out:  # a feedforward twin repeats the same output at every step
        torch.testing.assert_close(step, h, rtol=1e-5, atol=1e-5)


def test_cornet_z_twin_equals_plain_torch_forward(build_core, calibrate, stimuli):
    twin = calibrate(build_core("cornet_z", False), stimuli(4, 1, seed=1))
    x = stimuli(2, 1, seed=2)
    h = _preprocess(x)
    for block in twin.areas.values():
        h = F.max_pool2d(F.relu(_conv_bn(block.conv, h)), 3, 2, 1)
    for step in twin(x):
        torch.testing.assert_close(step, h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "dnn"])
def test_state_carries_across_frames_and_resets_between_stimuli(
    model_config, spiking, compose_cfg, calibrate, activity, stimuli
):
    cfg = compose_cfg(
        model_config,
        f"model.spiking={str(spiking).lower()}",
        "model.time.static_steps=2",
        "model.time.steps_per_frame=2",
    )
    core = calibrate(instantiate(cfg.model), stimuli(4, 2, seed=1))
    first, second = stimuli(2, 1, seed=2), stimuli(2, 1, seed=3)
    in_sequence = activity(core, torch.cat([first, second], dim=1))[2:]  # the steps showing the second frame
    alone = activity(core, second)  # the second frame as a stimulus of its own, also 2 steps
    torch.testing.assert_close(alone, activity(core, second), rtol=0, atol=0)  # reset between stimuli
    if spiking or cfg.model.name in RECURRENT_TWINS:
        assert not torch.equal(in_sequence, alone)  # state carried over from the first frame
    else:
        torch.testing.assert_close(in_sequence, alone)


def test_gradients_reach_the_first_conv_through_the_surrogate(model_config, build_core, stimuli):
    core = build_core(model_config, True).train()
    core(stimuli(2, 2)).sum().backward()  # the surrogate gradient is non-zero even without spikes
    first_conv = next(m for m in core.modules() if isinstance(m, nn.Conv2d))
    grad = first_conv.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "dnn"])
def test_same_seed_same_model_and_outputs(model_config, spiking, build_core, activity, stimuli):
    outputs = []
    for seed in (123, 123, 124):
        seed_everything(seed)
        outputs.append(activity(build_core(model_config, spiking).train(), stimuli(2, 2)))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    assert not torch.equal(outputs[0], outputs[2])


def test_grey_and_rgb_stimuli_convert_to_the_configured_channels(build_core, stimuli):
    grey = build_core(
        "sew_resnet_tiny", False, "model.input.in_channels=1", "model.input.mean=[0.5]", "model.input.std=[0.25]"
    )
    rgb = stimuli(2, 1)
    assert grey(rgb).shape == grey(rgb.mean(2, keepdim=True)).shape
    torch.testing.assert_close(grey.eval()(rgb), grey(rgb.mean(2, keepdim=True)))
    colour = build_core("sew_resnet_tiny", False).eval()
    one = rgb[:, :, :1]
    torch.testing.assert_close(colour(one), colour(one.expand(-1, -1, 3, -1, -1)))
    with pytest.raises(ValueError, match="batch, frames, channels"):
        colour(rgb[:, 0])

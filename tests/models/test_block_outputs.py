"""Candidate layers are block outputs: each captured layer is exactly what the next block receives.

For every encoder config (tiny), SNN and twin, forward pre-hooks record the input of the
module that consumes each layer (the next block, LoRaFB's feedback fusion of the next
stage, or the next CORnet area); the last layer must equal the core's output, the tensor
the readout sees.
"""

import pytest
import torch

from snnvis.models import capture_activations
from snnvis.models.core import EncoderCore


def _consumers(core: EncoderCore) -> list[torch.nn.Module]:
    """The module whose first input is candidate layer k's output, for k = 0 .. n-2."""
    name = type(core).__name__
    if name in ("SEWResNet", "LoRaFBNet"):
        consumers = []
        for i, stage in enumerate(core.stages):
            first = core.feedback[i] if name == "LoRaFBNet" else stage[0]
            consumers += [first, *list(stage)[1:]]
        return consumers
    return list(core.areas.values())[1:]


def _record_inputs(modules):
    inputs = {id(m): [] for m in modules}
    hooks = [m.register_forward_pre_hook(lambda m, inp: inputs[id(m)].append(inp[0].detach())) for m in modules]
    return inputs, hooks


def _check_block_outputs(core: EncoderCore, x: torch.Tensor) -> None:
    acts = capture_activations(core, x)
    layers = list(acts.values())
    consumers = _consumers(core)
    assert len(consumers) == len(layers) - 1
    inputs, hooks = _record_inputs(consumers)
    try:
        with torch.no_grad():
            out = core(x)
    finally:
        for h in hooks:
            h.remove()
    for k, module in enumerate(consumers):
        received = torch.cat(inputs[id(module)])  # (T, B, C, H, W); one chunk per step if stepped
        torch.testing.assert_close(received.flatten(2), layers[k], rtol=0, atol=0)
    torch.testing.assert_close(out.flatten(2), layers[-1], rtol=0, atol=0)
    assert all(a.abs().sum() > 0 for a in layers), "a silent layer would make the comparison vacuous"


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "twin"])
def test_each_layer_is_the_next_blocks_input_and_the_last_is_the_readouts(
    model_config, spiking, build_core, calibrate, stimuli
):
    core = calibrate(build_core(model_config, spiking), stimuli(6, 2, seed=1))
    _check_block_outputs(core, stimuli(3, 2, seed=2))


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "twin"])
@pytest.mark.parametrize("config_name", ["sew_resnet_tiny", "lorafb_tiny"])
def test_pooled_stem_layer_is_the_pool_output(config_name, spiking, build_core, calibrate, stimuli):
    core = calibrate(build_core(config_name, spiking, "model.stem_pool=true"), stimuli(6, 2, seed=1))
    _check_block_outputs(core, stimuli(3, 2, seed=2))


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "twin"])
@pytest.mark.parametrize("config_name", ["sew_resnet_tiny", "lorafb_tiny"])
def test_sew_layers_are_connect_outputs_not_the_residual_branch(config_name, spiking, build_core, calibrate, stimuli):
    core = calibrate(build_core(config_name, spiking), stimuli(6, 2, seed=1))
    specs = core.candidate_layers()
    assert [s.name for s in specs] == ["stem.out", "stage1.block0.out", "stage2.block0.out", "stage3.block0.out"]
    branch = {}
    hooks = [
        s.module.sn2.register_forward_hook(lambda m, i, o, n=s.name: branch.setdefault(n, []).append(o))
        for s in specs[1:]
    ]
    try:
        acts = capture_activations(core, stimuli(3, 2, seed=2))
    finally:
        for h in hooks:
            h.remove()
    for spec in specs[1:]:
        a = torch.cat(branch[spec.name]).flatten(2)
        assert acts[spec.name].shape == a.shape
        assert not torch.equal(acts[spec.name], a)  # A + S, not A
        torch.testing.assert_close(acts[spec.name] - a >= 0, torch.ones_like(a, dtype=torch.bool))  # S >= 0
    if spiking:
        assert acts["stage1.block0.out"].max() > 1  # ADD of two spike trains reaches 2


def test_block_outputs_have_no_membrane_and_neuron_layers_do(build_core, calibrate, stimuli):
    core = build_core("sew_resnet_tiny", True)
    with pytest.raises(ValueError, match=r"\['stage1.block0.out'\] are block outputs"):
        capture_activations(core, stimuli(1, 1), layers=["stage1.block0.out"], kind="membrane")
    membrane = capture_activations(core, stimuli(1, 1), layers=["stem.out"], kind="membrane")
    assert membrane["stem.out"].shape == capture_activations(core, stimuli(1, 1), layers=["stem.out"])["stem.out"].shape
    pooled = build_core("sew_resnet_tiny", True, "model.stem_pool=true")
    with pytest.raises(ValueError, match="block outputs"):
        capture_activations(pooled, stimuli(1, 1), layers=["stem.out"], kind="membrane")

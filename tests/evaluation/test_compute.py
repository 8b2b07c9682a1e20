"""Compute accounting against closed forms: MACs, SOPs, spike rates, per-image normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from snnvis.config import compose
from snnvis.evaluation.compute import compute_report, count_compute
from snnvis.models import calibrate_batchnorm

TINY = ["model.stem_width=4", "model.widths=[4,8,8]", "model.input.size=32", "model.time.static_steps=3"]


def build(spiking: bool, *overrides: str):
    cfg = compose(None, ["+model=sew_resnet_tiny", *TINY, f"model.spiking={str(spiking).lower()}", *overrides])
    torch.manual_seed(0)
    return instantiate(cfg.model)


def stimuli(batch: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("groups,stride,padding", [(1, 1, 1), (2, 2, 0), (4, 1, 2)])
def test_single_conv_has_the_textbook_mac_count(groups, stride, padding):
    conv = nn.Conv2d(8, 12, kernel_size=(3, 5), stride=stride, padding=padding, groups=groups)
    x = torch.randn(3, 8, 17, 19)
    h_out = (17 + 2 * padding - 3) // stride + 1
    w_out = (19 + 2 * padding - 5) // stride + 1
    expected = 12 * h_out * w_out * (8 // groups) * 3 * 5  # per image
    report = count_compute(conv, x, batch_size=3, spiking=False)
    assert report["layers"]["<root>"]["macs"] == expected
    assert report["total"]["macs"] == expected


@pytest.mark.parametrize("groups,stride", [(1, 2), (4, 2), (8, 1)])
def test_transposed_conv_macs_are_its_input_times_fan_out(groups, stride):
    """LoRaFB's feedback upsampling: with all-ones weights and input and no padding, every
    multiply-accumulate adds 1 to the output, so the output's sum is a direct count of the MACs."""
    conv = nn.ConvTranspose2d(8, 16, 3, stride=stride, groups=groups, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.ones(2, 8, 5, 6)
    direct = int(conv(x).sum()) // 2  # per image
    report = count_compute(conv, x, batch_size=2, spiking=False)
    assert report["layers"]["<root>"]["macs"] == direct == 8 * 5 * 6 * (16 // groups) * 9


def test_linear_macs_and_analog_input_costs_full_macs():
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 7))
    report = count_compute(model, torch.randn(5, 4, 5), batch_size=5, spiking=True)
    layer = report["layers"]["1"]
    assert layer["macs"] == 20 * 7
    assert not layer["input_is_spikes"]  # analog input: dense MACs, no SOPs
    assert layer["sops"] == 0 and layer["analog_macs"] == 140 and report["total"]["synaptic_ops"] == 140


def test_all_ones_spikes_give_sops_equal_macs_and_silence_gives_zero():
    conv = nn.Conv2d(3, 6, 3, padding=1)
    ones = count_compute(conv, torch.ones(2, 3, 10, 10), batch_size=2, spiking=True)["layers"]["<root>"]
    assert ones["input_is_spikes"] and ones["input_rate"] == 1.0
    assert ones["sops"] == ones["macs"] == 6 * 100 * 3 * 9
    zeros = count_compute(conv, torch.zeros(2, 3, 10, 10), batch_size=2, spiking=True)["layers"]["<root>"]
    assert zeros["input_is_spikes"] and zeros["sops"] == 0 and zeros["macs"] == ones["macs"]


def _events(shape, p: float, seed: int) -> torch.Tensor:
    return torch.from_numpy((np.random.default_rng(seed).random(shape) < p).astype(np.float32))


def test_sops_equal_input_events_times_fan_out():
    # 1x1 conv and linear: every event drives exactly fan-out synapses, so MACs x rate is exact
    x = _events((2, 6, 9, 9), 0.3, 1)
    conv = nn.Conv2d(6, 5, 1)
    layer = count_compute(conv, x, batch_size=2, spiking=True)["layers"]["<root>"]
    assert layer["input_rate"] == pytest.approx(float(x.mean()))
    assert layer["sops"] == pytest.approx(float(x.sum()) * 5 / 2)
    v = _events((3, 40), 0.2, 2)
    layer = count_compute(nn.Linear(40, 11), v, batch_size=3, spiking=True)["layers"]["<root>"]
    assert layer["sops"] == pytest.approx(float(v.sum()) * 11 / 3)
    # 3x3 'same' conv: the event-driven count (events reaching each output, a conv with a ones
    # kernel) differs from MACs x rate only by the zero-padded border
    x = _events((1, 4, 64, 64), 0.25, 3)
    conv = nn.Conv2d(4, 8, 3, padding=1)
    layer = count_compute(conv, x, batch_size=1, spiking=True)["layers"]["<root>"]
    direct = nn.functional.conv2d(x, torch.ones(8, 4, 3, 3), padding=1).sum().item()
    assert layer["sops"] == pytest.approx(direct, rel=4 / 64)
    assert layer["sops"] >= direct


def test_twin_and_snn_have_identical_macs_and_twin_has_no_sops():
    x = stimuli()
    snn, twin = build(True), build(False)
    calibrate_batchnorm(snn, [x])
    calibrate_batchnorm(twin, [x])
    r_snn, r_twin = compute_report(snn, x, repeats=1), compute_report(twin, x, repeats=1)
    assert r_snn["total"]["macs"] == r_twin["total"]["macs"] > 0
    assert {k: v["macs"] for k, v in r_snn["layers"].items()} == {k: v["macs"] for k, v in r_twin["layers"].items()}
    assert r_twin["total"]["sops"] == 0 and r_twin["total"]["synaptic_ops"] == r_twin["total"]["macs"]
    # closed form of the first conv (3 -> 4 channels, 3x3, stride 1, 32 px) over T = 3 steps
    stem = r_snn["layers"]["stem.conv.0"]
    assert stem["macs"] == 3 * (4 * 32 * 32) * 3 * 9
    assert not stem["input_is_spikes"] and stem["analog_macs"] == stem["macs"]
    # every later conv of the SNN receives spikes (or SEW ADD sums of spikes)
    later = [v for k, v in r_snn["layers"].items() if k != "stem.conv.0"]
    assert later and all(v["input_is_spikes"] for v in later)
    assert r_snn["total"]["sops"] == pytest.approx(sum(v["macs"] * v["input_rate"] for v in later))
    assert 0 < r_snn["total"]["synaptic_ops"] < r_snn["total"]["macs"]
    assert r_snn["total"]["seconds_per_image"] > 0 and r_snn["steps"] == 3


def test_spike_rate_matches_a_direct_count():
    x = stimuli(batch=3, seed=2)
    snn = build(True)
    calibrate_batchnorm(snn, [x])
    report = compute_report(snn, x, repeats=1)
    outputs = {}
    names = {m: n for n, m in snn.named_modules()}
    hooks = [
        m.register_forward_hook(lambda m, i, o: outputs.__setitem__(names[m], o.detach().clone()))
        for m in snn.neurons()
    ]
    snn.eval()
    with torch.no_grad():
        snn(x)
    for h in hooks:
        h.remove()
    assert set(outputs) == set(report["neurons"])
    for name, out in outputs.items():
        assert set(out.unique().tolist()) <= {0.0, 1.0}
        rec = report["neurons"][name]
        assert rec["rate"] == pytest.approx(out.mean().item())
        assert rec["rate_per_step"] == pytest.approx(out.flatten(1).mean(1).tolist())
        assert rec["neurons_per_image"] == math.prod(out.shape[2:])
    some = [r["rate"] for r in report["neurons"].values()]
    assert any(0 < r < 1 for r in some)  # calibrated: neither silent nor saturated
    # a conv's input rate is the spike rate of the neuron feeding it
    assert report["layers"]["stages.0.0.conv1.0"]["input_rate"] == pytest.approx(report["neurons"]["stem.sn"]["rate"])


def test_counts_are_per_image_independent_of_batch_size():
    snn = build(True)
    x = stimuli(batch=4)
    calibrate_batchnorm(snn, [x])
    a = compute_report(snn, x[:2], repeats=1)["total"]
    b = compute_report(snn, torch.cat([x[:2], x[:2]]), repeats=1)["total"]
    assert a["macs"] == b["macs"]
    assert a["sops"] == pytest.approx(b["sops"]) and a["rate"] == pytest.approx(b["rate"])


def test_compute_report_restores_modes_and_rejects_bad_stimuli():
    snn = build(True)
    snn.train()
    compute_report(snn, stimuli(batch=2), repeats=1)
    assert all(m.training for m in snn.modules())
    with pytest.raises(ValueError, match="stimuli must be"):
        compute_report(snn, torch.rand(2, 3, 32, 32))


def test_real_cowley_images_quickstart_core(cowley):
    from snnvis.recordings.recording import Recording

    pixels = Recording(cowley).stimuli(list(range(8)))  # (N, F, H, W, C) uint8
    x = torch.from_numpy(pixels).permute(0, 1, 4, 2, 3).contiguous()
    reports = {}
    for spiking in (True, False):
        core = build(spiking, "model.stem_stride=2", "model.input.size=48")
        calibrate_batchnorm(core, [x])
        reports[spiking] = compute_report(core, x, repeats=1)
    snn, twin = reports[True]["total"], reports[False]["total"]
    # 48 px, stride-2 stem (3 -> 4 channels, 3x3) over T = 3 steps: the closed form of the first layer
    assert reports[True]["layers"]["stem.conv.0"]["macs"] == 3 * (4 * 24 * 24) * 3 * 9
    assert snn["macs"] == twin["macs"] and twin["synaptic_ops"] == twin["macs"]
    assert snn["analog_macs"] == reports[True]["layers"]["stem.conv.0"]["macs"]
    assert 0 < snn["rate"] < 0.5 and 0 < snn["sops"] and snn["synaptic_ops"] < snn["macs"]

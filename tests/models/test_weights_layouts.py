"""``model.weights=PATH``: snnvis checkpoints, spikingjelly SEW-ResNet and torchvision-layout ResNet
state dicts load into the encoders and give the outputs of the network they came from."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from torch import nn

from snnvis.config import build, compose
from snnvis.errors import UserError
from snnvis.models import NeuralEncoderModel
from snnvis.models.weights import load_weights
from snnvis.recordings.format import write_recording
from snnvis.recordings.synthetic import SynthConfig, generate_recording
from snnvis.training import checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _core(*overrides: str):
    return build(compose("train", list(overrides)).model, "model")


def _perturb(module: nn.Module, seed: int) -> None:
    """Non-default values in every parameter and BatchNorm statistic, so loading them matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
            if name.endswith(".w"):  # PLIF: keep tau = 1 + exp(-w) sensible
                p.clamp_(-1.0, 1.0)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))


def _spikingjelly_sew_resnet(monkeypatch):
    """spikingjelly's model-zoo module; it imports torchvision only to download weights, so a stand-in
    for that one function is enough here (no torchvision in this environment)."""
    import importlib
    import types

    if importlib.util.find_spec("torchvision") is None:
        fake = types.ModuleType("torchvision.models.utils")
        fake.load_state_dict_from_url = None
        for name in ("torchvision", "torchvision.models"):
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        monkeypatch.setitem(sys.modules, "torchvision.models.utils", fake)
    return importlib.import_module("spikingjelly.activation_based.model.sew_resnet")


def test_spikingjelly_sew_resnet18_round_trip(tmp_path, monkeypatch):
    sj_sew = _spikingjelly_sew_resnet(monkeypatch)
    sj = sj_sew.sew_resnet18(
        cnf="ADD",
        spiking_neuron=neuron.ParametricLIFNode,
        init_tau=2.0,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
    )
    functional.set_step_mode(sj, "m")
    _perturb(sj, 1)
    sj.eval()
    path = tmp_path / "sew18.pth"
    torch.save(sj.state_dict(), path)
    core = _core(
        "model=sew_resnet18",
        "model.neuron.type=plif",
        "model.input.size=32",
        "model.time.static_steps=3",
        f"model.weights={path}",
    ).eval()
    stimuli = torch.rand(2, 1, 3, 32, 32)
    ours = core(stimuli)
    features = {}
    sj.layer4.register_forward_hook(lambda m, i, o: features.update(out=o))
    with torch.no_grad():
        functional.reset_net(sj)
        sj(core.time.expand(core.stimulus(stimuli)))
    assert ours.shape == features["out"].shape == (3, 2, 512, 1, 1)
    assert ours.abs().sum() > 0
    torch.testing.assert_close(ours, features["out"], rtol=0, atol=1e-5)
    # the PLIF time constants came from the file
    assert torch.equal(core.stages[3][0].downsample[1].w, sj.layer4[0].downsample_sn.w)


class PlainBlock(nn.Module):
    """A basic block in torchvision's key layout with the twin's arithmetic:
    relu(bn2(conv2(relu(bn1(conv1 x))))) + relu(downsample(x)) (or + x)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return out + (x if self.downsample is None else torch.relu(self.downsample(x)))


class PlainResNet(nn.Module):
    def __init__(self, widths=(8, 16), blocks=(1, 2), stem=8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = stem
        for i, (w, n) in enumerate(zip(widths, blocks), start=1):
            layers = [PlainBlock(cin, w, 1 if i == 1 else 2)] + [PlainBlock(w, w, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layers))
            cin = w
        self.n_layers = len(widths)
        self.fc = nn.Linear(cin, 10)

    def features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, self.n_layers + 1):
            x = getattr(self, f"layer{i}")(x)
        return x


TWIN = [
    "model=sew_resnet18",
    "model.spiking=false",
    "model.stem_width=8",
    "model.widths=[8,16]",
    "model.blocks=[1,2]",
    "model.input.size=32",
    "model.time.static_steps=2",
]


def test_torchvision_layout_into_twin(tmp_path):
    plain = PlainResNet()
    _perturb(plain, 2)
    plain.eval()
    state = plain.state_dict()
    assert {"conv1.weight", "bn1.running_var", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias"} <= set(
        state
    )
    path = tmp_path / "resnet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)  # a DDP training script's file
    core = _core(*TWIN, f"model.weights={path}").eval()
    stimuli = torch.rand(3, 1, 3, 32, 32)
    ours = core(stimuli)
    with torch.no_grad():
        expected = plain.features(core.stimulus(stimuli)[:, 0])
    assert ours.shape[0] == 2
    for step in ours:
        torch.testing.assert_close(step, expected, rtol=1e-5, atol=1e-5)


def test_snnvis_pretrain_checkpoint_drops_head(tmp_path):
    source = _core(*TWIN)
    _perturb(source, 3)
    head = nn.Linear(16, 4)
    state = {**{f"core.{k}": v for k, v in source.state_dict().items()}, "head.fc.weight": head.weight}
    checkpoint.save(tmp_path / "checkpoints" / "best.pt", model=state, kind="pretrain", config={})
    core = _core(*TWIN, f"model.weights={tmp_path}")  # a run dir: its checkpoints/best.pt
    for key, value in source.state_dict().items():
        assert torch.equal(core.state_dict()[key], value), key
    # a snnvis-train model (core + readouts) loads the same way
    model = NeuralEncoderModel(source)
    model.add_session("s1", 5, {"name": "factorized"})
    checkpoint.save(tmp_path / "train.pt", model=model.state_dict())
    fresh = _core(*TWIN)
    assert load_weights(fresh, tmp_path / "train.pt") == "snnvis checkpoint"
    stimuli = torch.rand(2, 1, 3, 32, 32)
    torch.testing.assert_close(fresh.eval()(stimuli), source.eval()(stimuli), rtol=0, atol=0)


def test_mismatch_names_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(PlainResNet(widths=(8, 16, 32), blocks=(1, 1, 1)).state_dict(), path)
    with pytest.raises(UserError) as err:
        _core(*TWIN, f"model.weights={path}")
    message = err.value.message
    assert "\n" not in message and message.startswith("snnvis: error: model.weights in ")
    assert "12 missing keys (stages.1.1.conv1.0.weight" in message  # named as in the encoder
    assert "18 unexpected keys (layer3.0.conv1.weight" in message and "(14 more)" in message  # as in the file
    torch.save(PlainResNet().state_dict(), path)
    with pytest.raises(UserError, match="only into a sew_resnet encoder"):
        _core("model=cornet_z", "model.input.size=32", f"model.weights={path}")
    (tmp_path / "junk.pt").write_text("not a torch file")
    with pytest.raises(UserError, match="cannot be read as a torch file"):
        load_weights(_core(*TWIN), tmp_path / "junk.pt")


def test_wrong_weights_file_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from snnvis.cli import score as score_cli

    path = tmp_path / "wrong.pth"
    torch.save(
        {"fc.weight": torch.zeros(2, 2), "conv1.weight": torch.zeros(4, 3, 3, 3), "layer1.0.x": torch.zeros(1)}, path
    )
    rec = write_recording(tmp_path / "synth.h5", generate_recording(SynthConfig(n_stimuli=40, n_neurons=4)))
    argv = ["snnvis-score", f"recordings=[{rec}]", f"model.weights={path}", f"hydra.run.dir={tmp_path / 'run'}"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        score_cli.main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snnvis: error: model.weights in "), lines
    assert "missing keys" in lines[0] and "unexpected keys (layer1.0.x)" in lines[0]
    assert not (tmp_path / "run" / "scores.csv").exists()

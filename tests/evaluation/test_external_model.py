"""Bring your own model (``model=external``): a plain torch module or a spikingjelly network is scored
through the same capture and pipeline as the built-in encoders, with the same scores.csv columns."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from snnvis.cli import score as score_cli
from snnvis.config import build, compose
from snnvis.errors import UserError
from snnvis.evaluation.activations import load_encoder
from snnvis.evaluation.pipeline import format_table
from snnvis.models import capture_activations

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "external_model.py"
QUICK = ["projection_dim=64", "n_boot=50", "bn_calibration_stimuli=64", "batch_size=100", "progress=false"]


def make_snn(step_mode: str = "m") -> nn.Module:
    """A two-layer spikingjelly network (LIF neurons) in the given step mode."""
    net = nn.Sequential(
        layer.Conv2d(3, 4, 3, stride=2, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Conv2d(4, 6, 3, stride=2, padding=1),
        neuron.LIFNode(tau=2.0),
    )
    functional.set_step_mode(net, step_mode)
    return net


def _external(*overrides: str):
    cfg = compose("score", ["model=external", "model.input.size=16", *overrides])
    return build(cfg.model, "model").eval()


def test_spiking_module_runs_t_steps_from_reset_in_either_step_mode():
    torch.manual_seed(0)
    snn = _external(f"model.factory={__file__}:make_snn", "model.layers=[1,3]", "model.time.static_steps=5")
    assert snn.spiking and snn.multi_step
    stimuli = torch.rand(3, 1, 3, 16, 16)
    acts = capture_activations(snn, stimuli)
    assert acts["1"].shape == (5, 3, 4 * 8 * 8) and acts["3"].shape == (5, 3, 6 * 4 * 4)
    # by hand: reset, then the same image for 5 steps through the network
    x_seq = snn.time.expand(snn.stimulus(stimuli))
    functional.reset_net(snn.net)
    with torch.no_grad():
        expected = snn.net[:2](x_seq)
    torch.testing.assert_close(acts["1"], expected.flatten(2), rtol=0, atol=0)
    assert 0 < acts["1"].mean() < 1 and set(acts["1"].unique().tolist()) <= {0.0, 1.0}
    capture_activations(snn, stimuli)  # a second batch starts from reset state: the same spikes
    torch.testing.assert_close(capture_activations(snn, stimuli)["3"], acts["3"], rtol=0, atol=0)
    single = _external(
        f"model.factory={__file__}:make_snn",
        "+model.factory_kwargs.step_mode=s",
        "model.layers=[1,3]",
        "model.time.static_steps=5",
    )
    single.net.load_state_dict(snn.net.state_dict())
    assert single.spiking and not single.multi_step
    for name, value in capture_activations(single, stimuli).items():
        torch.testing.assert_close(value, acts[name], rtol=0, atol=0)


def test_plain_module_repeats_its_output_over_the_steps():
    ann = _external(f"model.factory={EXAMPLE}:make_model", "model.layers=[relu1,relu2]", "model.time.static_steps=3")
    assert not ann.spiking
    assert [s.area for s in ann.candidate_layers()] == ["V1", "IT"]
    stimuli = torch.rand(2, 1, 3, 16, 16)
    acts = capture_activations(ann, stimuli)
    with torch.no_grad():
        relu2 = ann.net(ann.stimulus(stimuli)[:, 0]).flatten(1)
    assert acts["relu2"].shape == (3, 2, relu2.shape[1])
    for step in acts["relu2"]:
        torch.testing.assert_close(step, relu2, rtol=0, atol=0)
    # a sequence of 2 frames: each frame's output for steps_per_frame steps
    movie = torch.rand(2, 2, 3, 16, 16)
    acts = capture_activations(ann, movie)["relu1"]
    assert acts.shape[0] == 2 * ann.time.steps_per_frame
    with torch.no_grad():
        second = ann.net[:2](ann.stimulus(movie)[:, 1]).flatten(1)
    torch.testing.assert_close(acts[-1], second, rtol=0, atol=0)


def test_bad_external_configs_are_one_line_user_errors():
    base = compose("score", ["model=external"]).model
    cases = {
        "needs model.factory": {},
        "are not submodules": {"factory": f"{EXAMPLE}:make_model", "layers": ["relu9"]},
        "cannot import": {"factory": "no_such_pkg.mod:make", "layers": ["a"]},
        "needs model.layers": {"factory": f"{EXAMPLE}:make_model"},
    }
    for why, keys in cases.items():
        cfg = {**dict(base), **keys}
        with pytest.raises(UserError, match=why) as err:
            load_encoder(cfg)
        assert "\n" not in err.value.message


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_external_model_scored_on_cowley_like_a_builtin_encoder(cowley, tmp_path):
    recordings = f"recordings=[{cowley}]"
    external = compose(
        "score",
        [
            recordings,
            "model=external",
            f"model.factory={EXAMPLE}:make_model",
            "model.layers=[relu1,relu2]",
            "model.input.size=32",
            "metrics=[rsa,ridge]",
            *QUICK,
        ],
    )
    result = score_cli.run(external, tmp_path / "external")
    builtin = compose(
        "score",
        [
            recordings,
            "model=sew_resnet_tiny",
            "model.stem_width=4",
            "model.widths=[4,8,8]",
            "model.input.size=32",
            "model.time.static_steps=2",
            "layers=[stem.out,stage3.block0.out]",
            "metrics=[rsa,ridge]",
            *QUICK,
        ],
    )
    score_cli.run(builtin, tmp_path / "builtin")
    ours, theirs = _rows(tmp_path / "external" / "scores.csv"), _rows(tmp_path / "builtin" / "scores.csv")
    assert list(ours[0]) == list(theirs[0])  # the same columns, in the same order
    assert {(r["layer"], r["metric"], r["split"]) for r in ours} == {
        (layer_name, m, s) for layer_name in ("relu1", "relu2") for m in ("rsa", "ridge") for s in ("selection", "test")
    }
    assert {r["model"] for r in ours} == {"external"} and {r["spiking"] for r in ours} == {"False"}
    assert {r["source"] for r in ours} == {"external"} and {r["checkpoint"] for r in ours} == {f"{EXAMPLE}:make_model"}
    assert {r["n_stimuli"] for r in ours if r["split"] == "test"} == {
        r["n_stimuli"] for r in theirs if r["split"] == "test"
    }
    assert all(math.isfinite(float(r["score"])) for r in ours)
    assert {b["layer"] for b in result.best} <= {"relu1", "relu2"} and len(result.best) == 2
    assert format_table(result).startswith(f"external (non-spiking, external {EXAMPLE}:make_model, seed 0)")

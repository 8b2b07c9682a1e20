"""Activation capture: shapes, membrane vs spikes, seeded projections, hook cleanup."""

import pytest
import torch

from snnvis.models import NeuralEncoderModel, capture_activations
from snnvis.models.capture import GaussianProjection
from snnvis.models.core import AREAS


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "dnn"])
def test_capture_shapes_for_every_candidate_layer(model_config, spiking, build_core, stimuli):
    core = build_core(model_config, spiking).eval()
    specs = core.candidate_layers()
    assert [s.depth for s in specs] == sorted(s.depth for s in specs)
    assert {s.area for s in specs} <= set(AREAS) and specs[0].area == "V1"
    x = stimuli(3, 2)
    acts = capture_activations(NeuralEncoderModel(core), x)  # a model or its core
    assert list(acts) == [s.name for s in specs]
    for spec in specs:
        assert acts[spec.name].shape[:2] == (2, 3)  # (T, batch, features)
    projected = capture_activations(core, x, projection_dim=7)
    assert all(a.shape == (2, 3, 7) for a in projected.values())
    modules = [spec.module for spec in specs] + [spec.membrane_module for spec in specs if spec.membrane_module]
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in modules)


@pytest.mark.parametrize("config_name", ["sew_resnet_tiny", "cornet_rt", "lorafb_tiny"])
def test_membrane_differs_from_spikes_and_explains_them(config_name, build_core, calibrate, stimuli):
    core = calibrate(build_core(config_name, True, "model.neuron.v_reset=null"), stimuli(4, 2, seed=1))
    x = stimuli(2, 2, seed=2)
    neuron_layers = [s.name for s in core.candidate_layers() if s.membrane_module is not None]
    spikes = capture_activations(core, x, layers=neuron_layers)
    membrane = capture_activations(core, x, layers=neuron_layers, kind="membrane")
    for name in spikes:
        assert membrane[name].shape == spikes[name].shape
        assert not torch.equal(membrane[name], spikes[name])
        torch.testing.assert_close(spikes[name], (membrane[name] >= 1.0).float())  # threshold 1
    assert all(not n.store_v_seq for n in core.neurons())


def test_twin_membrane_is_the_relu_input(build_core, stimuli):
    twin = build_core("cornet_s", False).eval()
    x = stimuli(2, 1)
    pre = capture_activations(twin, x, kind="membrane")
    post = capture_activations(twin, x)
    for name in pre:
        assert (pre[name] < 0).any()
        torch.testing.assert_close(post[name], pre[name].clamp_min(0))


def test_projection_is_consistent_across_batches_and_seeded(build_core, stimuli):
    core = build_core("sew_resnet_tiny", True).eval()
    a, b = stimuli(3, 1, seed=1), stimuli(2, 1, seed=2)
    both = capture_activations(core, torch.cat([a, b]), projection_dim=16, seed=5)
    parts = [capture_activations(core, part, projection_dim=16, seed=5) for part in (a, b)]
    for name in both:
        torch.testing.assert_close(both[name], torch.cat([p[name] for p in parts], dim=1), rtol=1e-5, atol=1e-5)
    again = capture_activations(core, a, projection_dim=16, seed=5)
    other = capture_activations(core, a, projection_dim=16, seed=6)
    name = next(iter(again))
    torch.testing.assert_close(again[name], parts[0][name], rtol=0, atol=0)
    assert not torch.allclose(other["stem.out"], again["stem.out"])


def test_gaussian_projection_blocks_and_scale():
    cached = GaussianProjection(1000, 64, seed=0, name="layer", block_rows=300)
    streamed = GaussianProjection(1000, 64, seed=0, name="layer", block_rows=300, cache_limit=0)
    x = torch.randn(5, 1000)
    torch.testing.assert_close(cached(x), streamed(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(GaussianProjection(1000, 64, seed=0, name="other")(x), cached(x))
    norms = GaussianProjection(4000, 512, seed=1, name="n")(torch.eye(4000)[:200]).norm(dim=1)
    assert abs(norms.mean().item() - 1.0) < 0.05  # entries N(0, 1/dim): norms are preserved on average


def test_capture_rejects_unknown_layers_and_kinds(build_core, stimuli):
    core = build_core("cornet_z", True)
    with pytest.raises(ValueError, match="unknown layers"):
        capture_activations(core, stimuli(1, 1), layers=["V3"])
    with pytest.raises(ValueError, match="unknown activation kind"):
        capture_activations(core, stimuli(1, 1), kind="currents")
    assert list(capture_activations(core, stimuli(1, 1), layers=["IT", "V1"])) == ["IT", "V1"]

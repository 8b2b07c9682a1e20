"""Every snnvis/conf/model and snnvis/conf/readout file composes and instantiates; bad configs fail clearly."""

import pytest
import torch
from hydra.utils import instantiate

from snnvis.models import EncoderCore, build_encoder, build_model, count_params
from snnvis.models.readouts import Readout


def test_model_config_composes_and_instantiates(model_config, compose_cfg):
    cfg = compose_cfg(model_config, tiny=False)
    assert cfg.model._target_ == "snnvis.models.registry.build_encoder"
    for key in ("name", "spiking", "neuron", "input", "time"):
        assert key in cfg.model, key
    with torch.device("meta"):  # full size without allocating the weights
        core = instantiate(cfg.model)
    assert isinstance(core, EncoderCore)
    assert core.spiking is True
    assert core.dt_ms > 0 and core.steps_per_frame >= 1 and core.static_steps >= 1
    assert len(core.candidate_layers()) >= 4


def test_readout_config_composes_and_builds(readout_config, compose_cfg):
    cfg = compose_cfg("sew_resnet_tiny", readout=readout_config)
    readout = instantiate(cfg.readout)(in_shape=(8, 4, 4), n_neurons=3)
    assert isinstance(readout, Readout)
    assert readout(torch.randn(2, 5, 8, 4, 4)).shape == (2, 5, 3)


def test_build_model_from_configs(compose_cfg):
    cfg = compose_cfg("cornet_z", readout="gaussian")
    model = build_model(cfg.model, cfg.readout, {"a": 3, "b": 5})
    assert set(model.readouts) == {"a", "b"}
    assert model.readouts["b"].n_neurons == 5
    assert count_params(model) == count_params(model.core) + sum(count_params(r) for r in model.readouts.values())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"neuron": {"type": "izhikevich"}}, "unknown neuron type"),
        ({"neuron": {"surrogate": "NoSuchSurrogate"}}, "unknown surrogate"),
        ({"neuron": {"backend": "opencl"}}, "unknown neuron backend"),
        ({"neuron": {"tau": 0.5}}, "tau must be > 1"),
        ({"neuron": {"taus": 2.0}}, "unknown neuron config keys"),
        ({"input": {"in_channels": 2}}, "in_channels must be 1 or 3"),
        ({"input": {"mean": [0.5]}}, "one per channel"),
        ({"time": {"static_steps": 0}}, "positive integer"),
        ({"time": {"static_window_steps": [2, 9]}}, "static_window_steps"),
        ({"time": {"frames": 3}}, "unknown time config keys"),
        ({"connect": "XOR"}, "unknown SEW connect function"),
        ({"widths": [4, 8], "blocks": [1]}, "equal length"),
    ],
)
def test_bad_config_raises_value_error(change, message):
    cfg = dict(name="sew_resnet", stem_width=4, stem_kernel=3, stem_stride=1, stem_pool=False, widths=[4], blocks=[1])
    cfg.update(change)
    with pytest.raises(ValueError, match=message):
        build_encoder(**cfg)


def test_unknown_encoder_and_cornet_shapes_raise():
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("resnet9000")
    with pytest.raises(ValueError, match="one width per area"):
        build_encoder("cornet_z", widths=[4, 8, 8])
    with pytest.raises(ValueError, match="repeats needs one value"):
        build_encoder("cornet_s", widths=[4, 4, 4, 4], repeats=[1, 1])

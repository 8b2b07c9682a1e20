"""A new encoder is one module + one config: register a toy one that way and train it one epoch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from snnvis.models.registry import encoder_class, tiny_overrides

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent / "training"))  # training_helpers
SEARCH = f"hydra.searchpath=[file://{HERE / 'toy_configs'}]"


def test_toy_encoder_declares_its_tiny_settings():
    from training_helpers import compose_train

    cfg = compose_train([SEARCH, "model=toy"])
    assert encoder_class(cfg.model).__name__ == "ToyEncoder"
    assert tiny_overrides(cfg.model) == ["model.width=2"]
    core = instantiate(compose_train([SEARCH, "model=toy", *tiny_overrides(cfg.model)]).model)
    assert core.conv1[0].out_channels == 2 and core.name == "toy"
    out = core(torch.zeros(2, 1, 3, 16, 16, dtype=torch.uint8))
    assert out.shape == (core.static_steps, 2, 2, core.input_size // 2, core.input_size // 2)


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "twin"])
def test_toy_encoder_trains_one_epoch(tmp_path, spiking):
    from training_helpers import compose_train, recordings_override, write_synthetic

    from snnvis.training import loop

    rec = write_synthetic(
        tmp_path / "toy.h5",
        n_stimuli=80,
        n_neurons=5,
        n_repeats=4,
        size=16,
        seed=3,
        recording_id="toy",
        rate_range=(0.5, 4.0),
    )
    tiny = tiny_overrides(compose_train([SEARCH, "model=toy"]).model)
    cfg = compose_train(
        [
            SEARCH,
            "model=toy",
            *tiny,
            recordings_override([rec]),
            "model.input.size=16",
            "model.time.static_steps=2",
            "data.batch_size=16",
            "trainer.max_epochs=1",
            "trainer.tensorboard=false",
            "trainer.progress=false",
            "trainer.threads=1",
            "trainer.device=cpu",
            "baseline=false",
            f"model.spiking={str(spiking).lower()}",
        ]
    )
    metrics = loop.run(cfg, tmp_path / "run", model_label="toy")
    assert metrics["validation"]["epochs_trained"] == 1
    assert metrics["model"]["encoder"] == "toy" and metrics["model"]["spiking"] is spiking
    assert np.isfinite(metrics["test"]["overall"]["pearson_r_median"])
    if not spiking:  # the twin is not silent after one epoch: its predictions carry signal
        assert metrics["test"]["overall"]["pearson_r_median"] > 0

"""Training recovers simulated neurons with a known ground truth.

A synthetic V1-like LNP population (Gabor filter -> exp -> Poisson, 20 repeats) is
written as a recording; a small model is trained on the noisy trial-averaged counts with
``snnvis.training.loop.run`` and its held-out predictions (predictions.h5) are compared
with the noiseless ground-truth rate of the same test stimuli, which the model never saw.

Measured on one CPU thread (torch 2.13), median r with the ground truth: the DNN twin
0.85 after 12 epochs (~20 s; 0.89 after 16); the tiny SEW-ResNet SNN (T = 4) 0.75 after
16 epochs and 0.84 after 30 (~4-5 min, the slow test); a slimmer SNN (8/16/32 channels,
T = 2) 0.51 after 10 epochs (the default suite's lower bar).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from training_helpers import compose_train, write_synthetic

from snnvis.models import build_model
from snnvis.recordings.recording import Recording
from snnvis.recordings.synthetic import expected_ceiling
from snnvis.training import loop
from snnvis.training.metrics import pearson_per_neuron

SYNTH = dict(n_stimuli=800, n_neurons=20, n_repeats=20, size=32, seed=0, recording_id="synth")
# grey 32 px stimuli at their own size; lr and batch for a few hundred steps in total
COMMON = [
    "model.input.size=32",
    "model.input.in_channels=1",
    "model.input.mean=[0.5]",
    "model.input.std=[0.2]",
    "trainer.lr=1e-2",
    "data.batch_size=16",
    "trainer.device=cpu",
    "trainer.threads=1",
    "trainer.tensorboard=false",
    "trainer.progress=false",
    "baseline=false",
]


@pytest.fixture(scope="module")
def synth_recording(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("synth") / "synth.h5", **SYNTH)


def recovery(recording, run_dir, overrides):
    """Median over neurons of r(test prediction, noiseless ground-truth rate), and the metrics."""
    cfg = compose_train([f"data.recordings=[{recording}]", *COMMON, *overrides])
    metrics = loop.run(cfg, run_dir)
    with h5py.File(run_dir / "predictions.h5", "r") as f:
        pred, idx = f["synth/prediction"][()], f["synth/stimulus_index"][()]
    rec = Recording(recording)
    assert set(idx).isdisjoint(rec.split("train")) and set(idx).isdisjoint(rec.split("validation"))
    truth = rec.mean("ground_truth_rate", idx)
    r = float(np.median(pearson_per_neuron(pred, truth)))
    print(f"spiking={cfg.model.spiking}: median r(test prediction, ground truth) = {r:.3f}")
    return r, metrics


def test_synthetic_recording_has_a_high_ceiling(synth_recording):
    rec = Recording(synth_recording)
    test = rec.split("test")
    ceiling = expected_ceiling(rec.mean("ground_truth_rate", test), SYNTH["n_repeats"])
    assert np.median(ceiling) > 0.95  # so r > 0.8 against the truth is a bar the data allow
    assert len(test) >= 150


def test_twin_with_one_step_equals_twin_with_t_steps():
    """A feedforward twin computes the same thing at every step of a static image, so the
    recovery test below trains it with static_steps=1 at a quarter of the cost."""
    cfgs = [compose_train([*COMMON, "model.spiking=false", f"model.time.static_steps={t}"]) for t in (4, 1)]
    models = []
    for cfg in cfgs:
        torch.manual_seed(0)
        models.append(build_model(cfg.model, cfg.readout, {"s": 5}).train())
    models[1].load_state_dict(models[0].state_dict())
    x = torch.randint(0, 256, (8, 1, 1, 32, 32), dtype=torch.uint8)
    torch.testing.assert_close(models[0](x, "s"), models[1](x, "s"), rtol=1e-5, atol=1e-6)


def test_twin_recovers_ground_truth(synth_recording, tmp_path):
    r, metrics = recovery(
        synth_recording,
        tmp_path,
        ["model.spiking=false", "model.time.static_steps=1", "trainer.max_epochs=12", "trainer.patience=12"],
    )
    assert metrics["model"]["spiking"] is False
    assert r > 0.8, f"median r with the ground truth {r:.3f}"
    # the recorded noisy counts are predicted a little less well than the truth behind them
    assert metrics["test"]["overall"]["pearson_r_median"] < r


def test_snn_learns_ground_truth(synth_recording, tmp_path):
    """Default-suite SNN check at a lower bar: a slim SNN at T = 2, 10 epochs (measured 0.51)."""
    r, metrics = recovery(
        synth_recording,
        tmp_path,
        [
            "model.spiking=true",
            "model.widths=[8,16,32]",
            "model.stem_width=8",
            "model.time.static_steps=2",
            "trainer.max_epochs=10",
            "trainer.patience=10",
        ],
    )
    assert metrics["model"]["spiking"] is True
    assert r > 0.4, f"median r with the ground truth {r:.3f}"


@pytest.mark.slow
def test_snn_recovers_ground_truth(synth_recording, tmp_path):
    """The tiny SEW-ResNet SNN (T = 4) to r > 0.8: 30 epochs, measured 0.84."""
    r, metrics = recovery(
        synth_recording, tmp_path, ["model.spiking=true", "trainer.max_epochs=30", "trainer.patience=30"]
    )
    assert metrics["model"]["spiking"] is True
    assert r > 0.8, f"median r with the ground truth {r:.3f}"

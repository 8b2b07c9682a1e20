"""Training with data.target=psth on the synthetic continuous movie recovers the simulated neurons'
latencies (within one model step) and time courses (r > 0.8 against the noiseless rates)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from training_helpers import compose_train

from snnvis.recordings.format import write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.synthetic_movie import MovieConfig, generate_movie_recording
from snnvis.similarity import time_course_r

DT_MS = 40.0  # one model step per movie frame


def _train(tmp_path, n_clips: int, epochs: int):
    from snnvis.training import loop

    cfg_movie = MovieConfig(
        n_clips=n_clips, clip_frames=40, scene_clips=2, n_neurons=12, n_repeats=20, size=16, frame_ms=DT_MS, seed=0
    )
    path = write_recording(tmp_path / "movie.h5", generate_movie_recording(cfg_movie))
    cfg = compose_train(
        [
            "experiment=v1_psth",
            f"data.recordings=[{path}]",
            "data.response=counts",  # per-frame counts: the movie's time course, one bin per frame
            "data.count_response=null",
            "data.count_loss=false",
            "data.temporal_profile=false",
            "data.shape_loss=0.0",  # the Poisson loss alone: the maximum-likelihood fit of the simulated LNP neurons
            "data.crop=null",
            "data.image_size=16",
            "data.latency_ms=80.0",  # the start of every neuron's latency (the simulated range is 40-120 ms)
            "data.temporal_taps=1",
            "data.neuron_taps=6",
            "data.batch_size=4",
            "model.input.in_channels=1",
            "model.input.mean=[0.5]",
            "model.input.std=[0.25]",
            "model.widths=[8,16]",
            "model.blocks=[1,1]",
            "model.stem_width=8",
            "model.stem_stride=1",
            "model.stem_pool=false",
            f"model.time.dt_ms={DT_MS}",
            "model.spiking=false",
            f"trainer.max_epochs={epochs}",
            f"trainer.patience={epochs}",
            "trainer.lr=0.005",
            "trainer.tensorboard=false",
            "trainer.progress=false",
            "trainer.device=cpu",
            "trainer.threads=1",
        ]
    )
    metrics = loop.run(cfg, tmp_path / "run")
    rec = Recording(path)
    assert rec.protocol.mode == "movie"
    with h5py.File(tmp_path / "run" / "predictions.h5") as f:
        g = f[rec.id]
        latency, pred, idx = g["metrics"]["latency_ms"][()], g["prediction"][()], g["stimulus_index"][()]
    truth = rec.ground_truth()["latency_bins"] * DT_MS
    r = time_course_r(pred, rec.mean("ground_truth_rate", idx))  # against the noiseless rates
    return metrics, latency, truth, r


def test_psth_training_recovers_movie_latencies_and_time_courses(tmp_path):
    metrics, latency, truth, r = _train(tmp_path, n_clips=32, epochs=15)
    assert np.abs(latency - truth).max() <= DT_MS, (latency, truth)
    assert np.median(r) > 0.8, r
    assert metrics["test"]["overall"]["psth_time_course_r_median"] > 0.7  # against the noisy counts


@pytest.mark.slow
def test_psth_training_recovers_movie_time_courses_neuron_by_neuron(tmp_path):
    _, latency, truth, r = _train(tmp_path, n_clips=48, epochs=30)
    assert np.abs(latency - truth).max() <= DT_MS, (latency, truth)
    assert np.median(r) > 0.83 and (r > 0.75).mean() >= 0.9, r

"""TensorBoard gets the run's hparams and final test metrics, read back with TensorBoard's own
EventAccumulator and hparams plugin data (besides the per-epoch scalars)."""

from __future__ import annotations

import json

import pytest
from training_helpers import TINY, compose_train, recordings_override

from snnvis.training.tracking import final_metrics, scalar_knobs


def test_scalar_knobs_flatten_the_config():
    config = {"seed": 3, "model": {"spiking": True, "widths": [4, 8], "time": {"static_steps": 2}}, "scheduler": None}
    config["trainer"] = {"lr": 0.01, "device": "cpu", "loss": "poisson"}
    assert scalar_knobs(config) == {
        "seed": 3,
        "model.spiking": "True",
        "model.time.static_steps": 2,
        "trainer.lr": 0.01,
        "trainer.loss": "poisson",
    }  # lists and nulls are no knobs; trainer.device only changes where a run executes
    metrics = {"test": {"overall": {"pearson_r_median": 0.4, "pearson_r_mean": None}}, "validation": {"best_epoch": 2}}
    assert final_metrics(metrics) == {"test/pearson_r_median": 0.4, "validation/best_epoch": 2.0}


@pytest.fixture(scope="module")
def tb_run(tmp_path_factory, tiny_recordings):
    from snnvis.training.loop import run

    run_dir = tmp_path_factory.mktemp("tb") / "run"
    cfg = compose_train(
        [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=2", "trainer.tensorboard=true", "seed=7"]
    )
    run(cfg, run_dir)
    return run_dir


def test_event_file_holds_hparams_and_test_metrics(tb_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    metrics = json.loads((tb_run / "metrics.json").read_text())
    acc = EventAccumulator(str(tb_run / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert {"train_loss", "val_pearson_r_mean", "test/pearson_r_median", "test/pearson_r_mean"} <= scalars
    assert [e.step for e in acc.Scalars("val_pearson_r_mean")] == [1, 2]
    (median,) = acc.Scalars("test/pearson_r_median")
    assert median.value == pytest.approx(metrics["test"]["overall"]["pearson_r_median"], abs=1e-6)

    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    assert set(content) == {metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG}
    start = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.SESSION_START_INFO_TAG]).session_start_info
    hp = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert hp["seed"] == 7 and hp["trainer.max_epochs"] == 2 and hp["model.spiking"] == "True"
    assert hp["trainer.loss"] == "poisson" and hp["model.stem_width"] == 4
    assert "trainer.device" not in hp and "data.recordings" not in hp
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.EXPERIMENT_TAG]).experiment
    assert "test/pearson_r_median" in {m.name.tag for m in experiment.metric_infos}

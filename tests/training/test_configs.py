"""Every experiment preset composes (Hydra's compose API) to the values it promises."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from training_helpers import CONFIGS, compose_train

from snnvis.models import build_model, count_params
from snnvis.recordings.root import data_root
from snnvis.training.loop import config_hash

EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))

# What each preset must select; a new preset needs an entry here.
EXPECTED = {
    "quickstart": {
        "choices": {
            "model": "sew_resnet_tiny",
            "data": "cowley_v4",
            "readout": "factorized",
            "hydra/launcher": "joblib_local",
        },
        "name": "quickstart",
        "data.target": "rate",
        "model.input.size": 48,
        "model.stem_stride": 2,
        "trainer.threads": 1,
        "trainer.max_epochs": 15,
        "baseline": True,
        "n_recordings": 3,
        "hydra.launcher.n_jobs": 2,
    },
    "v1_sequences": {
        "choices": {"model": "cornet_rt", "data": "henaff_v1", "readout": "factorized"},
        "name": "v1_sequences",
        "data.target": "temporal",
        "data.response": "frame_counts",
        "data.latency_ms": 30.0,
        "model.input.size": 48,
        "baseline": False,
        "n_recordings": 1,
        "frame_ms": 300.0,
    },
    "v1_psth": {
        "choices": {"model": "sew_resnet_tiny", "data": "henaff_v1", "readout": "factorized"},
        "name": "v1_psth",
        "data.target": "psth",
        "data.response": "psth",
        "data.protocol": None,
        "data.count_response": "frame_counts",
        "data.crop": "aperture",
        "model.input.size": 96,
        "model.stem_pool": True,
        "model.time.dt_ms": 25.0,
        "baseline": False,
        "n_recordings": 7,
    },
    "v4_snn_vs_dnn": {
        "choices": {"model": "sew_resnet18", "data": "cowley_v4", "readout": "gaussian"},
        "name": "v4_snn_vs_dnn",
        "data.target": "rate",
        "model.input.size": 112,
        "trainer.max_epochs": 100,
        "baseline": True,
        "n_recordings": 8,
    },
    "v4_best": {
        "choices": {
            "model": "sew_resnet_tiny",
            "data": "cowley_v4",
            "readout": "factorized",
            "hydra/launcher": "joblib_local",
        },
        "name": "v4_best",
        "data.target": "rate",
        "model.input.size": 64,
        "model.stem_stride": 2,
        "trainer.threads": 1,
        "trainer.max_epochs": 16,
        "baseline": True,
        "n_recordings": 8,
    },
}


def test_every_preset_has_expectations():
    assert EXPERIMENTS and sorted(EXPECTED) == EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes(experiment):
    cfg = compose_train([f"experiment={experiment}"], return_hydra_config=True)
    want = EXPECTED[experiment]
    choices = cfg.hydra.runtime.choices
    for group, choice in want["choices"].items():
        assert choices[group] == choice, group
    for key, value in want.items():
        if "." in key or key in ("name", "baseline"):
            assert OmegaConf.select(cfg, key) == value, key
    assert len(cfg.data.recordings) == want["n_recordings"]
    assert all(
        str(p).startswith(f"{data_root()}/{'henaff2021_v1' if choices.data == 'henaff_v1' else 'cowley2023_v4'}/")
        for p in cfg.data.recordings
    )
    assert cfg.data.image_size == cfg.model.input.size  # stimuli cached at the model's size
    assert cfg.model.spiking is True  # the default; the sweep adds the twin
    assert cfg.hydra.sweeper.params["model.spiking"].replace(" ", "") == "true,false"
    if "frame_ms" in want:
        assert cfg.model.time.steps_per_frame * cfg.model.time.dt_ms == want["frame_ms"]
    # the job's config resolves completely (no missing values)
    OmegaConf.to_container(compose_train([f"experiment={experiment}"]), resolve=True, throw_on_missing=True)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_builds_snn_and_twin(experiment):
    """Both sweep points build, with the same parameter count, and hash differently."""
    built, hashes = {}, set()
    for spiking in ("true", "false"):
        cfg = compose_train([f"experiment={experiment}", f"model.spiking={spiking}"])
        hashes.add(config_hash(cfg))
        torch.manual_seed(0)
        model = build_model(cfg.model, cfg.readout, {"s": 3})
        assert model.core.spiking is (spiking == "true")
        assert model.core.input_size == cfg.model.input.size
        built[spiking] = count_params(model)
    assert built["true"] == built["false"]
    assert len(hashes) == 2


def test_launcher_override_composes():
    cfg = compose_train(["experiment=quickstart", "hydra/launcher=slurm"], return_hydra_config=True)
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "slurm"
    assert cfg.hydra.launcher.gpus_per_node == 1


def test_config_hash_ignores_how_a_run_executes():
    base = compose_train(["experiment=quickstart"])
    same = compose_train(
        [
            "experiment=quickstart",
            "trainer.resume=true",
            "trainer.device=cpu",
            "trainer.progress=false",
            "trainer.skip_finished=false",
        ]
    )
    other = compose_train(["experiment=quickstart", "trainer.lr=1e-2"])
    assert config_hash(base) == config_hash(same) != config_hash(other)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_presets_pass_the_typed_schema_and_the_value_checks(experiment):
    """Every preset composes under the trainer/data dataclass schemas and passes check_values."""
    from omegaconf import DictConfig

    from snnvis.training.schema import DataSchema, TrainerSchema, check_values

    cfg = compose_train([f"experiment={experiment}"])
    check_values(cfg)
    for section, schema in (("trainer", TrainerSchema), ("data", DataSchema)):
        node = cfg[section]
        assert isinstance(node, DictConfig) and OmegaConf.get_type(node) is schema
        assert set(node) == set(schema.__dataclass_fields__)


def test_the_run_dir_default_cannot_collide():
    """Microseconds plus a per-process token in the default hydra.run.dir."""
    import re

    cfg = compose_train([], return_hydra_config=True)
    run_dir = OmegaConf.to_container(cfg.hydra.run, resolve=True)["dir"]
    assert re.fullmatch(r"outputs/train/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-\d{6}_[0-9a-f]{8}", run_dir), run_dir

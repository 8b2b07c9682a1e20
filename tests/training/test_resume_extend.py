"""Resume may extend a run: ``trainer.max_epochs``/``trainer.patience`` can change with
``trainer.resume=true``; any other change is refused, naming the key."""

from __future__ import annotations

import csv
import json

import pytest
from training_helpers import TINY, comparable, compose_train, recordings_override

from snnvis.errors import UserError
from snnvis.training import loop
from snnvis.training.identity import config_hash, resume_hash

LABEL = "sew_resnet_tiny"


def _cfg(recordings, *extra):
    return compose_train([*TINY, recordings_override(recordings), "readout=gaussian", "trainer.patience=100", *extra])


def _epochs(run_dir):
    return [int(r["epoch"]) for r in csv.DictReader((run_dir / "log.csv").open())]


def _losses(run_dir):
    return [r["train_loss"] for r in csv.DictReader((run_dir / "log.csv").open())]


def test_extend_two_epochs_to_four_equals_four_epochs(tmp_path, tiny_recordings, capsys):
    straight, extended = tmp_path / "straight", tmp_path / "extended"
    four = loop.run(_cfg(tiny_recordings, "trainer.max_epochs=4", "trainer.patience=50"), straight, model_label=LABEL)
    loop.run(_cfg(tiny_recordings, "trainer.max_epochs=2"), extended, model_label=LABEL)
    assert _epochs(extended) == [1, 2]
    capsys.readouterr()
    cfg = _cfg(tiny_recordings, "trainer.max_epochs=4", "trainer.patience=50", "trainer.resume=true")
    metrics = loop.run(cfg, extended, model_label=LABEL)
    out = capsys.readouterr().out
    assert "resuming" in out and "extended: trainer.max_epochs 2 -> 4, trainer.patience 100 -> 50" in out
    assert _epochs(extended) == [1, 2, 3, 4]
    assert _losses(extended) == _losses(straight)  # bit-identical training history
    assert metrics["validation"]["epochs_trained"] == 4
    assert comparable(metrics) == comparable(four)
    written = json.loads((extended / "metrics.json").read_text())
    assert written["run"]["config_hash"] == four["run"]["config_hash"]  # the extended run is the 4-epoch run


def test_other_changes_are_refused_with_the_key(tmp_path, tiny_recordings):
    loop.run(_cfg(tiny_recordings, "trainer.max_epochs=1"), tmp_path, model_label=LABEL)
    cfg = _cfg(tiny_recordings, "trainer.max_epochs=2", "trainer.lr=0.5", "trainer.resume=true")
    with pytest.raises(UserError, match=r"different config \(.*trainer\.lr: 0\.002 -> 0\.5\)"):
        loop.run(cfg, tmp_path, model_label=LABEL)


def test_resume_hash_ignores_only_the_extending_keys(tiny_recordings):
    base = _cfg(tiny_recordings, "trainer.max_epochs=2")
    longer = _cfg(tiny_recordings, "trainer.max_epochs=9", "trainer.patience=3")
    other = _cfg(tiny_recordings, "trainer.max_epochs=2", "seed=5")
    assert resume_hash(base) == resume_hash(longer) != resume_hash(other)
    assert config_hash(base) != config_hash(longer)  # a finished 2-epoch run is not a 9-epoch run

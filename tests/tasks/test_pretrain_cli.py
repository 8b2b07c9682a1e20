"""snnvis-pretrain: a tiny SNN and its twin learn real digits (val top-1 above chance), clips
reach the model's time axis, the checkpoint contract, skip-finished, and one-line exit-2 errors."""

from __future__ import annotations

import json

import pytest
import torch
from task_helpers import TINY, compose_pretrain, pretrain_cli, write_clip_folders

from snnvis.errors import UserError
from snnvis.tasks import loop
from snnvis.training import checkpoint


def _run(root, run_dir, *extra, label="sew_resnet_tiny"):
    cfg = compose_pretrain([*TINY, f"data.root={root}", *extra])
    return loop.run(cfg, run_dir, model_label=label)


@pytest.mark.parametrize("spiking", [True, False], ids=["snn", "twin"])
def test_tiny_models_learn_digits_above_chance(digits4, tmp_path, spiking):
    metrics = _run(digits4, tmp_path, "trainer.max_epochs=4", f"model.spiking={spiking}")
    val = metrics["val"]
    # 60 held-out images of 4 classes: chance is 0.25; 0.5 is far outside chance (binomial p < 1e-5)
    assert val["top1"] > 0.5, metrics["history"]
    assert val["top5"] == 1.0 and val["top5_k"] == 4  # top-k with k = number of classes
    assert metrics["task"]["n_val"] == 60 and metrics["task"]["n_classes"] == 4
    assert [r["epoch"] for r in metrics["history"]] == [1, 2, 3, 4]
    assert metrics["run"]["kind"] == "pretrain" and metrics["model"]["spiking"] is spiking
    assert json.loads((tmp_path / "metrics.json").read_text())["val"] == val
    best = checkpoint.load(tmp_path / "checkpoints" / "best.pt")
    assert best["score"] == val["top1"] and best["epoch"] == val["best_epoch"]


def test_checkpoint_contract(digits_small, tmp_path):
    """best.pt/last.pt hold the classifier with the encoder under core., like snnvis-train's model."""
    from snnvis.models import build_model

    metrics = _run(digits_small, tmp_path, "trainer.max_epochs=1")
    for name in ("best.pt", "last.pt"):
        ck = checkpoint.load(tmp_path / "checkpoints" / name)
        assert ck["kind"] == "pretrain" and ck["config_hash"] == metrics["run"]["config_hash"]
        assert ck["config"]["data"]["root"] == str(digits_small) and ck["classes"] == ["digit0", "digit1", "digit2"]
        cfg = compose_pretrain([*TINY, f"data.root={digits_small}"])
        train_model = build_model(cfg.model, {"name": "factorized"}, {"s": 3})
        core_keys = {k for k in train_model.state_dict() if k.startswith("core.")}
        keys = set(ck["model"])
        assert {k for k in keys if k.startswith("core.")} == core_keys
        assert keys - core_keys == {"head.fc.weight", "head.fc.bias", "head.norm.weight", "head.norm.bias"}
        train_model.load_state_dict({k: v for k, v in ck["model"].items() if k.startswith("core.")}, strict=False)
        for k in core_keys:
            assert torch.equal(train_model.state_dict()[k], ck["model"][k])
    # model.weights=best.pt builds the pretrained core (in snnvis-train, snnvis-score or a new pretraining)
    from snnvis.config import build

    cfg = compose_pretrain(
        [*TINY, f"data.root={digits_small}", f"model.weights={tmp_path / 'checkpoints' / 'best.pt'}"]
    )
    core, best = build(cfg.model, "model"), checkpoint.load(tmp_path / "checkpoints" / "best.pt")["model"]
    assert all(torch.equal(v, best[f"core.{k}"]) for k, v in core.state_dict().items())


def test_clip_folders_feed_frames_to_the_time_axis(tmp_path, monkeypatch):
    from snnvis.tasks.heads import ClassifierHead

    root = write_clip_folders(tmp_path / "clips", n_per_class=4, frames=6)
    shapes = []
    forward = ClassifierHead.forward
    monkeypatch.setattr(
        ClassifierHead, "forward", lambda self, f: shapes.append(tuple(f.shape[:2])) or forward(self, f)
    )
    metrics = _run(
        root, tmp_path / "run", "task_data=clips", "data.clip_len=3", "data.frame_stride=2", "trainer.max_epochs=1"
    )
    assert metrics["task"]["kind"] == "clips" and metrics["val"]["epochs_trained"] == 1
    assert 0.0 <= metrics["val"]["top1"] <= 1.0 and metrics["task"]["n_train"] == 8
    # (T, B): 3 frames x time.steps_per_frame (2) steps, batches of 8 train and 8 val clips
    assert shapes == [(6, 8), (6, 8)]


def test_finished_run_is_skipped_and_a_changed_dataset_is_not(digits_small, tmp_path, capsys):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(digits_small, root)
    first = _run(root, tmp_path / "run", "trainer.max_epochs=1")
    again = _run(root, tmp_path / "run", "trainer.max_epochs=1", "data.num_workers=0")
    assert "already finished" in capsys.readouterr().out and again == first
    next(iter((root / "val" / "digit0").iterdir())).unlink()  # the dataset changed: a new run
    third = _run(root, tmp_path / "run", "trainer.max_epochs=1")
    assert third["run"]["config_hash"] != first["run"]["config_hash"] and third["task"]["n_val"] == 8


def test_every_model_config_gets_a_head():
    from snnvis.config import CONFIGS
    from snnvis.models.registry import tiny_overrides
    from snnvis.tasks.heads import build_classifier

    # every snnvis encoder (model=external wraps a module the user brings, with no encoder of its own)
    names = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml") if p.stem[0] != "_" and p.stem != "external")
    assert len(names) >= 7
    for name in names:
        for spiking in (True, False):
            base = [f"model={name}", "data.root=x", "model.input.size=16", "model.time.static_steps=2"]
            cfg = compose_pretrain([*base, f"model.spiking={spiking}"])
            cfg = compose_pretrain([*base, f"model.spiking={spiking}", *tiny_overrides(cfg.model)])
            model = build_classifier(cfg, 7)
            logits = model(torch.rand(2, 1, 3, 16, 16))
            assert logits.shape == (2, 7), name
            if spiking:  # the surrogate gradient reaches the core through the head (the twin's is plain autograd)
                logits.sum().backward()
                assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.core.parameters()), name


def test_bad_values_are_user_errors(digits_small, tmp_path):
    with pytest.raises(UserError, match="data.root: not set"):
        loop.run(compose_pretrain(TINY), tmp_path / "a")
    with pytest.raises(UserError, match=r"data.scale: must be \[min, max\]"):
        _run(digits_small, tmp_path / "b", "data.scale=[0.5,0.1]")
    with pytest.raises(UserError, match="trainer.ensemble: is not used by snnvis-pretrain"):
        _run(digits_small, tmp_path / "d", "trainer.ensemble=2")
    with pytest.raises(UserError, match="trainer.lr"):
        _run(digits_small, tmp_path / "c", "trainer.lr=-1")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def _one_error_line(out, *needles):
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snnvis: error: ") and all(n in lines[0] for n in needles), lines


def test_cli_missing_root_exits_2_with_one_line(tmp_path):
    out = pretrain_cli([f"data.root={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path / 'run'}"])
    _one_error_line(out, "data.root in ", "no such directory")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing written


@pytest.mark.slow
def test_cli_other_bad_inputs_exit_2_with_one_line(tmp_path):
    (tmp_path / "data" / "train" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "train" / "cat" / "1.png").write_bytes(b"")
    _one_error_line(pretrain_cli([f"data.root={tmp_path / 'data'}"]), "has no val/ folder")
    _one_error_line(pretrain_cli(["data.roots=/x"]), "data.roots: unknown key; did you mean data.root?")
    _one_error_line(pretrain_cli(["data.root=/x", "model=sew_resnet_tin"]), "model=sew_resnet_tin", "did you mean")

"""``+sweep=task_vs_neural``: each condition sets the frozen core and its weights for the SNN and the
twin; tiny runs of all six cells give the figure's records on the same test stimuli."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from training_helpers import CONFIGS, TINY, compose_train, recordings_override

from snnvis.errors import UserError
from snnvis.figures.task_vs_neural import task_vs_neural
from snnvis.models.weights import core_entries
from snnvis.reporting.task_vs_neural import figure_task_vs_neural, task_vs_neural_records
from snnvis.training import checkpoint, loop

SWEEP = "+sweep=task_vs_neural"


def _cfg(condition: str, family: str, *extra: str):
    return compose_train([SWEEP, f"task_vs_neural.condition={condition}", f"task_vs_neural.family={family}", *extra])


def test_conditions_set_the_core_and_its_weights():
    pre = ["task_vs_neural.pretrained.snn=/p/snn.pt", "task_vs_neural.pretrained.twin=/p/twin"]
    expected = {
        ("untrained", "snn"): (True, True, True, None),
        ("untrained", "twin"): (True, True, False, None),
        ("pretrained", "snn"): (True, False, True, "/p/snn.pt"),
        ("pretrained", "twin"): (True, False, False, "/p/twin"),
        ("neural", "snn"): (False, False, True, None),
        ("neural", "twin"): (False, False, False, None),
    }
    cfg = _cfg("neural", "snn", *pre)
    for (condition, family), (frozen, untrained, spiking, weights) in expected.items():
        cfg.task_vs_neural.condition, cfg.task_vs_neural.family = condition, family  # the interpolations follow
        got = (cfg.trainer.freeze_core, cfg.core.untrained, cfg.model.spiking, cfg.model.weights)
        assert got == (frozen, untrained, spiking, weights), (condition, family)
        assert len(cfg.data.recordings) == 8
    # without a checkpoint the pretrained condition is refused (tested below), not silently a random core
    cfg = _cfg("pretrained", "snn")
    assert cfg.model.weights is None and cfg.core.untrained is False and cfg.trainer.freeze_core is True
    params = OmegaConf.load(CONFIGS / "sweep" / "task_vs_neural.yaml").hydra.sweeper.params
    assert dict(params) == {
        "task_vs_neural.condition": "untrained,pretrained,neural",
        "task_vs_neural.family": "snn,twin",
        "seed": "0,1,2",
    }


def test_tiny_sweep_end_to_end(tiny_recordings, tmp_path):
    data = [*TINY, "trainer.max_epochs=1", recordings_override(tiny_recordings[1:])]
    sweep = tmp_path / "task_vs_neural"
    pretrained = {}
    for family in ("snn", "twin"):
        loop.run(_cfg("neural", family, *data), sweep / f"neural_{family}")
        # stands in for a snnvis-pretrain checkpoint: the core under core., a classification head, kind
        trained = checkpoint.load(sweep / f"neural_{family}" / "checkpoints" / "best.pt")
        core = {k: v for k, v in trained["model"].items() if k.startswith("core.")}
        pretrained[family] = tmp_path / f"pretrain_{family}.pt"
        checkpoint.save(pretrained[family], model={**core, "head.fc.weight": torch.zeros(3, 8)}, kind="pretrain")
    pre = [f"task_vs_neural.pretrained.{f}={p}" for f, p in pretrained.items()]
    with pytest.raises(UserError, match="a frozen core needs trained weights"):
        loop.run(_cfg("pretrained", "snn", *data), tmp_path / "refused")
    for condition in ("untrained", "pretrained"):
        for family in ("snn", "twin"):
            loop.run(_cfg(condition, family, *data, *pre), sweep / f"{condition}_{family}")
    for family in ("snn", "twin"):  # the pretrained core was used as it was, frozen
        start = core_entries(checkpoint.load(pretrained[family])["model"])
        after = core_entries(checkpoint.load(sweep / f"pretrained_{family}" / "checkpoints" / "last.pt")["model"])
        assert all(torch.equal(after[k], v) for k, v in start.items())

    records = task_vs_neural_records(sweep)
    assert sorted((r["condition"], r["spiking"]) for r in records) == sorted(
        (c, s) for c in ("untrained", "pretrained", "neural") for s in (True, False)
    )
    assert all(np.isfinite(r["value"]) and r["ci95"][0] <= r["value"] <= r["ci95"][1] for r in records)
    entries = []
    figure_task_vs_neural(sweep, tmp_path / "figures", entries)
    assert (tmp_path / "figures" / "task_vs_neural.png").is_file() and len(entries) == 1
    lines = (tmp_path / "figures" / "task_vs_neural.csv").read_text().splitlines()
    assert lines[0].startswith("condition,spiking,seed,value,ci95_low,ci95_high") and len(lines) == 7


def test_figure_bars_are_seed_means_in_family_colours():
    rng = np.random.default_rng(0)
    records = [
        {"condition": c, "spiking": s, "seed": seed, "value": float(v), "ci95": None}
        for c, base in (("untrained", 0.1), ("neural", 0.5))
        for s in (True, False)
        for seed, v in enumerate(base + 0.05 * rng.standard_normal(3))
    ]
    fig = task_vs_neural(records)
    bars = fig.axes[0].patches
    assert len(bars) == 4
    heights = [b.get_height() for b in bars]
    means = [
        np.mean([r["value"] for r in records if r["condition"] == c and r["spiking"] == s])
        for c in ("untrained", "neural")
        for s in (True, False)
    ]
    np.testing.assert_allclose(heights, means)
    from matplotlib.colors import to_hex

    assert [to_hex(b.get_facecolor(), keep_alpha=False) for b in bars[:2]] == ["#d95f02", "#1b9e77"]
    assert "CI across seeds" in fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="conditions must be among"):
        task_vs_neural([{**records[0], "condition": "imagenet"}])

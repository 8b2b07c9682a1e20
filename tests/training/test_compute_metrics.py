"""metrics.json → compute: a training run records its core's MACs, synaptic operations, spike rates and time."""

from __future__ import annotations

import pytest
import torch
from training_helpers import TINY, compose_train, recordings_override

from snnvis.evaluation.compute import compute_report
from snnvis.recordings.dataset import collate
from snnvis.training import checkpoint, loop
from snnvis.training.setup import load_sessions, network_for_sessions

# Closed form of the TINY sew_resnet_tiny core (1 -> 4 stem, widths 4, 8, 8, 16 px, T = 2), per step:
# stem 3x3 1->4 at 16x16; stage 1: two 3x3 4->4 at 16x16; stage 2 (stride 2, 8x8): 1x1 4->8,
# 3x3 4->8, 3x3 8->8; stage 3 (4x4): 1x1 8->8, two 3x3 8->8.
STEM = 4 * 16 * 16 * 1 * 9
PER_STEP = STEM + 2 * 4 * 256 * 4 * 9 + 8 * 64 * 4 + 8 * 64 * 4 * 9 + 8 * 64 * 8 * 9 + 8 * 16 * 8 + 2 * 8 * 16 * 8 * 9
STEPS = 2


def test_compute_entry_matches_the_closed_form_and_the_trained_core(tmp_path, tiny_recordings):
    """An SNN; a twin's entry (no SOPs, synaptic ops = MACs) is checked in tests/training/test_ensemble.py."""
    args = [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=1", "model.spiking=true"]
    m = loop.run(compose_train(args), tmp_path, model_label="sew_resnet_tiny")
    c = m["compute"]
    assert c["macs_per_image"] == STEPS * PER_STEP  # the same for an SNN and its twin
    assert c["steps"] == STEPS and c["wall_s"] == m["run"]["wall_s"] and 0 < c["train_s"] <= c["wall_s"]
    # the analog first layer costs its MACs; spike-driven layers cost SOPs
    assert c["analog_macs_per_image"] == STEPS * STEM
    assert c["synops_per_image"] == pytest.approx(c["analog_macs_per_image"] + c["sops_per_image"])
    assert 0 <= c["sops_per_image"] <= c["macs_per_image"] - c["analog_macs_per_image"]
    # spike rates per layer: those of the best checkpoint's core on the same test stimuli
    cfg = compose_train(args)
    sessions = load_sessions(cfg.data)
    model = network_for_sessions(cfg, sessions)
    model.load_state_dict(checkpoint.load_checked(tmp_path / "checkpoints" / "best.pt")["model"])
    ds = sessions[0].splits["test"]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=min(32, len(ds)), collate_fn=collate)))
    rep = compute_report(model.core, batch.stimuli, repeats=1)
    assert c["spike_rate"] == pytest.approx({k: v["rate"] for k, v in rep["neurons"].items()})
    assert set(c["spike_rate"]) == {"stem.sn", *(k for k in rep["neurons"] if k.startswith("stages."))}
    assert all(0.0 <= v <= 1.0 for v in c["spike_rate"].values())

"""Activation extraction: shapes, streaming (batch-size independence), projection, time
reduction, BatchNorm calibration and loading a trained core from a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from snnvis.errors import UserError
from snnvis.evaluation import calibrate_batchnorm, extract_activations, load_encoder, reduce_time, time_window
from snnvis.evaluation.activations import stimulus_batches
from snnvis.models import build_model, capture_activations
from snnvis.recordings.recording import Recording


def tiny_core(compose_score, spiking: bool, rec: Recording):
    cfg = compose_score(f"model.spiking={str(spiking).lower()}")
    core, info = load_encoder(cfg.model, None, seed=0)
    calibrate_batchnorm(core, stimulus_batches(rec, np.arange(64), 32, core.input_size))
    return core, info


@pytest.mark.parametrize("spiking", [True, False])
def test_streaming_is_batch_size_independent(synth, spiking, compose_score):
    rec = Recording(synth[0])
    core, info = tiny_core(compose_score, spiking, rec)
    assert info.spiking is spiking and info.source == "untrained"
    idx = np.arange(37)
    kw = dict(idx=idx, projection_dim=1000, seed=5, device="cpu", progress=False)
    small = {s.name: a for s, a in extract_activations(core, rec, batch_size=5, **kw)}
    whole = {s.name: a for s, a in extract_activations(core, rec, batch_size=64, **kw)}
    names = [s.name for s in core.candidate_layers()]
    assert list(small) == names == ["stem.out", "stage1.block0.out", "stage2.block0.out", "stage3.block0.out"]
    # stem 4x32x32 and stage1 4x32x32 and stage2 8x16x16 are projected to 1000; stage3 (8x8x8 = 512) is kept
    expected = {"stem.out": 1000, "stage1.block0.out": 1000, "stage2.block0.out": 1000, "stage3.block0.out": 512}
    for name in names:
        a, b = small[name], whole[name]
        assert a.dtype == np.float32 and a.shape == (37, 3, expected[name])
        assert a.std(0).max() > 0, f"{name} is silent"
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # the same numbers as capturing everything at once with the same seeded projection
    pixels = torch.from_numpy(rec.stimuli(idx)).permute(0, 1, 4, 2, 3)
    direct = capture_activations(core, pixels, layers=["stem.out", "stage2.block0.out"], projection_dim=1000, seed=5)
    for name, act in direct.items():
        np.testing.assert_allclose(small[name], act.transpose(0, 1).numpy(), rtol=1e-4, atol=1e-4)


def test_time_reduction_and_memory_passes(synth, compose_score):
    rec = Recording(synth[0])
    core, _ = tiny_core(compose_score, True, rec)
    kw = dict(idx=np.arange(20), projection_dim=64, batch_size=8, progress=False)
    full = {s.name: a for s, a in extract_activations(core, rec, **kw)}
    window = time_window(core, rec.n_frames)
    assert window == (0, 3)
    # a budget below one layer's size forces one pass per layer; results are unchanged
    reduced = {s.name: a for s, a in extract_activations(core, rec, window="model", max_memory_mb=1e-6, **kw)}
    for name, act in full.items():
        assert reduced[name].shape == (20, 64)
        np.testing.assert_allclose(reduced[name], reduce_time(act, window), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reduce_time(full["stem.out"], (1, 3)), full["stem.out"][:, 1:3].mean(1))
    with pytest.raises(ValueError):
        reduce_time(full["stem.out"], (2, 9))


def test_untrained_snn_needs_batchnorm_calibration(synth, compose_score):
    rec = Recording(synth[0])
    core, _ = load_encoder(compose_score().model, None, seed=0)
    kw = dict(idx=np.arange(16), projection_dim=None, progress=False)
    silent = {s.name: a for s, a in extract_activations(core, rec, **kw)}
    # initial running statistics; stage1's first block passes the stem's spikes on through its identity skip
    assert all(a.max() == 0 for name, a in silent.items() if name not in ("stem.out", "stage1.block0.out"))
    assert calibrate_batchnorm(core, stimulus_batches(rec, np.arange(64), 32, 32)) > 0
    assert not core.training
    active = {s.name: a for s, a in extract_activations(core, rec, **kw)}
    assert all(0 < a.mean() < 0.5 for a in active.values())


def test_load_encoder_from_training_run(tmp_path, compose_score):
    from snnvis.config import compose

    cfg = compose_score("model.spiking=false")  # the score section is typed: the readout comes on its own
    torch.manual_seed(1)
    model = build_model(cfg.model, compose(None, ["+readout=factorized"]).readout, {"s1": 5})
    with torch.no_grad():
        for p in model.core.parameters():
            p.add_(torch.randn_like(p))
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    OmegaConf.save(
        OmegaConf.create({"model": OmegaConf.to_container(cfg.model), "seed": 1}), run / ".hydra" / "config.yaml"
    )
    torch.save({"model": model.state_dict(), "epoch": 3}, run / "checkpoints" / "best.pt")
    x = torch.rand(2, 1, 3, 32, 32)
    model.core.eval()
    for where in (run, run / "checkpoints" / "best.pt"):
        core, info = load_encoder(None, where, seed=0)  # the architecture comes from the run's config
        assert info.source == "checkpoint" and info.spiking is False and info.checkpoint.endswith("best.pt")
        assert info.seed == 1  # the training run's seed, not the scoring seed
        torch.testing.assert_close(core(x), model.core(x))
    with pytest.raises(UserError, match="not found"):
        load_encoder(cfg.model, tmp_path / "missing", seed=0)
    bigger = compose_score("model.spiking=false", "model.widths=[4,8,16]").model
    OmegaConf.save(OmegaConf.create({"model": OmegaConf.to_container(bigger)}), run / ".hydra" / "config.yaml")
    with pytest.raises(UserError, match="does not fit"):
        load_encoder(None, run, seed=0)


def test_membrane_of_block_outputs_is_refused_with_one_line(synth, compose_score):
    rec = Recording(synth[0])
    core, _ = load_encoder(compose_score().model, None, seed=0)
    kw = dict(idx=np.arange(4), projection_dim=None, progress=False, kind="membrane")
    with pytest.raises(UserError, match=r"\['stage1.block0.out', .*block outputs"):
        next(extract_activations(core, rec, **kw))
    ((spec, act),) = extract_activations(core, rec, layers=["stem.out"], **kw)  # a neuron's output has one
    assert spec.name == "stem.out" and act.shape[:2] == (4, core.static_steps)

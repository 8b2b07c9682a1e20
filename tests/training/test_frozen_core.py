"""Frozen-core transfer: ``trainer.freeze_core=true`` / ``core.frozen=true`` fit only per-session
readouts on a core from ``checkpoint=RUN`` or ``model.weights=PATH``; the core stays bit-identical."""

from __future__ import annotations

import pytest
import torch
from training_helpers import TINY, compose_train, recordings_override

from snnvis.errors import UserError
from snnvis.models.weights import core_entries
from snnvis.training import checkpoint, loop
from snnvis.training.setup import network_for_sessions, optimizer_for
from snnvis.utils import seed_everything


@pytest.fixture(scope="module")
def trained_run(tiny_recordings, tmp_path_factory):
    """A core trained on session ``a`` only (one epoch)."""
    run_dir = tmp_path_factory.mktemp("trained")
    loop.run(compose_train([*TINY, "trainer.max_epochs=1", recordings_override(tiny_recordings[:1])]), run_dir)
    return run_dir


def _core_state(path) -> dict[str, torch.Tensor]:
    return core_entries(checkpoint.load(path)["model"])


@pytest.mark.parametrize("spelling", ["trainer.freeze_core=true checkpoint", "core.frozen=true model.weights"])
def test_new_session_readout_on_a_frozen_core(trained_run, tiny_recordings, tmp_path, spelling):
    switch, source = spelling.split()
    weights = trained_run if source == "checkpoint" else trained_run / "checkpoints" / "best.pt"
    cfg = compose_train(
        [*TINY, "trainer.max_epochs=1", recordings_override(tiny_recordings[1:]), switch, f"{source}={weights}"]
    )
    assert cfg.trainer.freeze_core is True
    metrics = loop.run(cfg, tmp_path)
    before = _core_state(trained_run / "checkpoints" / "best.pt")
    for name in ("best.pt", "last.pt"):
        after = _core_state(tmp_path / "checkpoints" / name)
        assert after.keys() == before.keys()
        for key, value in before.items():  # parameters and buffers (BatchNorm statistics) alike
            assert torch.equal(after[key], value), (name, key)
    assert any("running_mean" in k for k in before)
    # session b was not in the trained run: its readout was fitted, from its random start
    trained = checkpoint.load(tmp_path / "checkpoints" / "last.pt")["model"]
    seed_everything(cfg.seed)
    fresh = network_for_sessions(cfg, loop.load_sessions(cfg.data)).state_dict()
    readout = [k for k in trained if k.startswith("readouts.b.")]
    assert readout and any(not torch.equal(trained[k], fresh[k]) for k in readout)
    assert "test" in metrics


def test_frozen_core_is_left_out_of_the_optimizer(trained_run, tiny_recordings):
    cfg = compose_train(
        [*TINY, recordings_override(tiny_recordings[1:]), "core.frozen=true", f"checkpoint={trained_run}"]
    )
    model = network_for_sessions(cfg, loop.load_sessions(cfg.data))
    opt, _ = optimizer_for(cfg, model)
    in_opt = {id(p) for group in opt.param_groups for p in group["params"]}
    assert in_opt == {id(p) for p in model.readouts.parameters()}
    assert not any(p.requires_grad for p in model.core.parameters())
    model.train()
    assert not any(m.training for m in model.core.modules()) and model.readouts.training


def test_frozen_core_needs_weights(tiny_recordings, tmp_path, trained_run):
    cfg = compose_train([*TINY, recordings_override(tiny_recordings[1:]), "trainer.freeze_core=true"])
    with pytest.raises(UserError, match="a frozen core needs trained weights"):
        loop.run(cfg, tmp_path / "run")
    both = [f"checkpoint={trained_run}", f"model.weights={trained_run}"]
    cfg = compose_train([*TINY, recordings_override(tiny_recordings[1:]), "core.frozen=true", *both])
    with pytest.raises(UserError, match="not both"):
        loop.run(cfg, tmp_path / "run2")
    wide = compose_train([*TINY, "model.widths=[4,8,16]", recordings_override(tiny_recordings[1:]), both[0]])
    with pytest.raises(UserError, match=r"^snnvis: error: checkpoint in .*best.pt: snnvis checkpoint does not fit"):
        loop.run(wide, tmp_path / "run3")


def test_untrained_frozen_core_is_calibrated_and_kept(tiny_recordings, tmp_path):
    cfg = compose_train(
        [
            *TINY,
            "trainer.max_epochs=1",
            recordings_override(tiny_recordings[1:]),
            "core.frozen=true",
            "core.untrained=true",
        ]
    )
    loop.run(cfg, tmp_path)
    seed_everything(cfg.seed)
    start = network_for_sessions(cfg, loop.load_sessions(cfg.data)).core.state_dict()  # random, calibrated
    after = _core_state(tmp_path / "checkpoints" / "last.pt")
    assert all(torch.equal(after[k], v) for k, v in start.items())
    means = [v for k, v in after.items() if k.endswith("running_mean")]
    assert any(m.abs().sum() > 0 for m in means)  # the statistics come from stimuli, not the 0/1 defaults

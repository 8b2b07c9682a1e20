"""Fixtures for the encoder-zoo tests: config composition and tiny encoders.

Every encoder config in ``snnvis/conf/model`` (files starting with ``_`` are shared
partials, not encoders; ``external`` wraps a user's module) can be composed at its real size or shrunk to a tiny variant
(the encoder class' own ``TINY`` settings, 32x32 input, T <= 3) that runs in well under a second. A test taking a
``model_config`` (``readout_config``) argument runs once per file in ``snnvis/conf/model``
(``snnvis/conf/readout``); the helpers are fixtures of the same names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from snnvis.config import compose
from snnvis.models import calibrate_batchnorm
from snnvis.models.registry import tiny_overrides

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "snnvis" / "conf"
# external.yaml wraps a user's module (tests/evaluation/test_external_model.py), not an SNN/twin pair of the zoo
MODEL_CONFIGS = sorted(
    p.stem for p in (CONFIGS / "model").glob("*.yaml") if not p.name.startswith("_") and p.stem != "external"
)
READOUT_CONFIGS = sorted(p.stem for p in (CONFIGS / "readout").glob("*.yaml"))

SMALL_INPUT = ["model.input.size=32", "model.time.static_steps=3", "model.time.steps_per_frame=1"]


def compose_cfg(model: str, *overrides: str, readout: str | None = None, tiny: bool = True):
    """The composed config (``cfg.model``, ``cfg.readout``) for ``snnvis/conf/model/<model>.yaml``."""
    groups = [f"+model={model}"] + ([f"+readout={readout}"] if readout else [])
    cfg = compose(None, groups)
    if tiny:
        cfg = compose(None, groups + tiny_overrides(cfg.model) + SMALL_INPUT + list(overrides))
    elif overrides:
        cfg = compose(None, groups + list(overrides))
    return cfg


def build_core(model: str, spiking: bool = True, *overrides: str, tiny: bool = True):
    """Instantiate the encoder of ``snnvis/conf/model/<model>.yaml`` (tiny by default)."""
    return instantiate(compose_cfg(model, f"model.spiking={str(spiking).lower()}", *overrides, tiny=tiny).model)


@torch.no_grad()
def calibrate(core: nn.Module, stimuli: torch.Tensor) -> nn.Module:
    """Set BatchNorm running statistics from one pass over ``stimuli``, then switch to eval.

    Untrained deep SNNs are silent in eval mode with default running statistics; after
    this, eval mode behaves like training mode on similar inputs (and is batch independent).
    """
    calibrate_batchnorm(core, [stimuli])
    return core


def pytest_generate_tests(metafunc):
    if "model_config" in metafunc.fixturenames:
        metafunc.parametrize("model_config", MODEL_CONFIGS)
    if "readout_config" in metafunc.fixturenames:
        metafunc.parametrize("readout_config", READOUT_CONFIGS)


@pytest.fixture(name="compose_cfg")
def _compose_cfg():
    return compose_cfg


@pytest.fixture(name="build_core")
def _build_core():
    return build_core


@pytest.fixture(name="calibrate")
def _calibrate():
    return calibrate


def activity(core: nn.Module, stimuli: torch.Tensor) -> torch.Tensor:
    """All candidate layers' outputs and the core's output, (T, batch, features)."""
    from snnvis.models import capture_activations

    acts = capture_activations(core, stimuli)
    return torch.cat([*acts.values(), core(stimuli).flatten(2)], dim=2)


@pytest.fixture(name="activity")
def _activity():
    return activity


@pytest.fixture
def stimuli():
    """Factory: random float stimuli (batch, frames, 3, 32, 32) from a fixed generator."""

    def make(batch: int = 2, frames: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
        return torch.rand(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))

    return make

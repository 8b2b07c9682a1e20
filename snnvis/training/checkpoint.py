"""Checkpoints written atomically every epoch, with everything needed to resume exactly."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from snnvis.utils import atomic_path


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, **state) -> None:
    """torch.save to a temporary name, then rename: a killed run never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=False)

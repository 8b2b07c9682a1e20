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


def load_checked(path: Path) -> dict:
    """:func:`load`, with a file that cannot be read as a UserError."""
    from snnvis.errors import UserError

    try:
        return load(path)
    except Exception as err:  # truncated or not a torch file: torch raises several kinds
        raise UserError(
            "checkpoint",
            f"cannot be read ({' '.join(str(err).split())[:120]}); it is truncated "
            "or corrupt: delete it, or rerun without trainer.resume to start over",
            path,
        ) from None


def resume(last: Path, config_hash: str, model, opt, scheduler=None) -> dict:
    """Load ``last`` (``checkpoints/last.pt``) into the model, optimizer, scheduler and RNGs; returns
    the early-stopping state saved with it. UserError if another config wrote it or it does not fit."""
    from snnvis.errors import UserError

    ck = load_checked(last)
    if ck.get("config_hash") != config_hash:
        raise UserError("trainer.resume", "the checkpoint was written by a different config", last)
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ck["scheduler"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise UserError("checkpoint", f"does not fit this model ({str(err).splitlines()[0][:120]})", last) from None
    set_rng_state(ck["rng"])
    return ck["state"]

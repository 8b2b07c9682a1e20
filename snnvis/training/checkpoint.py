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


def resume(last: Path, key: str, model, opt, scheduler=None, config: dict | None = None) -> tuple[dict, dict]:
    """Load ``last`` (``checkpoints/last.pt``) into the model, optimizer, scheduler and RNGs.

    ``key`` is the run's :func:`~snnvis.training.identity.resume_hash`: keys that only extend a run
    (:data:`~snnvis.training.identity.EXTENDS`) may differ. Returns the early-stopping state saved
    with the checkpoint and the config it was written with. UserError if another config wrote it
    (naming the first keys where it differs from ``config``, the current resolved config) or it
    does not fit.
    """
    from snnvis.errors import UserError

    ck = load_checked(last)
    if ck.get("resume_hash") != key:
        changed = _differences(ck.get("config"), config)
        raise UserError("trainer.resume", f"the checkpoint was written by a different config{changed}", last)
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(ck["scheduler"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise UserError("checkpoint", f"does not fit this model ({str(err).splitlines()[0][:120]})", last) from None
    set_rng_state(ck["rng"])
    return ck["state"], ck.get("config") or {}


def _differences(old: dict | None, new: dict | None) -> str:
    """`` (a.b: 1 -> 2, ...)``: the first keys (outside the unhashed and extending ones) where the
    checkpoint's config ``old`` and the current one ``new`` differ; empty when unknown."""
    from snnvis.training.identity import EXTENDS, NOT_HASHED

    if not isinstance(old, dict) or not isinstance(new, dict):
        return ""
    skip = {*NOT_HASHED, *EXTENDS}
    diffs = [d for d in _diff(old, new, "") if d[0] not in skip and not d[0].startswith("paths")]
    if not diffs:
        return ""
    shown = ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in diffs[:3])
    return f" ({shown}{', ...' if len(diffs) > 3 else ''})"


def _diff(a, b, prefix: str) -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}" if not prefix else f"{prefix}.{k}")
        return out
    return [] if a == b else [(prefix, a, b)]

"""What a training run is: the hash of its config and of the content of its recordings.

Two runs with equal hashes compute the same result, so a finished run dir with the same
hash is skipped. The hash covers the resolved config without the keys that only change how
a run executes (:data:`NOT_HASHED`), plus the sha256 of every recording file: a recording
regenerated at the same path is a different run, and the same file under another data root
(``paths.data``) is the same run. A checkpoint can be resumed when its
:func:`resume_hash` matches: the same hash without :data:`EXTENDS`, the keys that only
lengthen a run. The same keys, and the launcher's job count, stay out of run-directory names
(:func:`unnamed_keys`), so one definition serves the hash, resume and the sweep directories.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from snnvis.utils import sha256_file

# Keys that change how a run executes but not what it computes.
NOT_HASHED = ("trainer.resume", "trainer.device", "trainer.progress", "trainer.skip_finished")
# Keys that only lengthen a run: a checkpoint can be resumed with other values (the run is extended).
EXTENDS = ("trainer.max_epochs", "trainer.patience")
# Hydra keys that change neither the result nor the run (left out of run-directory names too).
LAUNCH_ONLY = ("hydra.launcher.n_jobs",)

_CACHE: dict[tuple, str] = {}


def recording_identity(path: str | os.PathLike) -> str:
    """sha256 of a recording file ("missing" when there is none; loading it reports that),
    cached per (path, size, mtime) within a process."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return "missing"
    if not p.is_file():
        return "missing"
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = sha256_file(p)
    return _CACHE[key]


def unnamed_keys(*extra: str) -> list[str]:
    """Override keys left out of a sweep's run-directory names (``${snnvis_unnamed:...}`` in the configs):
    :data:`NOT_HASHED`, :data:`LAUNCH_ONLY` and ``extra``."""
    return [*NOT_HASHED, *LAUNCH_ONLY, *(k for k in extra if k not in NOT_HASHED + LAUNCH_ONLY)]


def config_hash(cfg: DictConfig, leave_out: tuple[str, ...] = ()) -> str:
    """sha1 of the resolved config (without :data:`NOT_HASHED`, ``leave_out``, ``paths`` and the
    recordings' paths) and the recordings' sha256."""
    c = OmegaConf.to_container(cfg, resolve=True)
    for dotted in (*NOT_HASHED, *leave_out):
        *parents, leaf = dotted.split(".")
        node = c
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    c.pop("paths", None)  # where the data live; the files count by their content
    recordings = c.get("data", {}).pop("recordings", None) or []
    c["recordings_sha256"] = [recording_identity(p) for p in recordings] if isinstance(recordings, list) else []
    return hashlib.sha1(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resume_hash(cfg: DictConfig) -> str:
    """:func:`config_hash` without :data:`EXTENDS`: what a checkpoint must match to be resumed."""
    return config_hash(cfg, EXTENDS)


def extension_note(before: dict, now: dict) -> str:
    """``trainer.max_epochs 2 -> 4, ...`` for the :data:`EXTENDS` keys whose values changed since the checkpoint."""
    changes = []
    for dotted in EXTENDS:
        section, key = dotted.split(".")
        old, new = (before.get(section) or {}).get(key), (now.get(section) or {}).get(key)
        if old is not None and old != new:
            changes.append(f"{dotted} {old} -> {new}")
    return ", ".join(changes)

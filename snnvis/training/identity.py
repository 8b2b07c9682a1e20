"""What a training run is: the hash of its config and of the content of its recordings.

Two runs with equal hashes compute the same result, so a finished run dir with the same
hash is skipped and a checkpoint with the same hash can be resumed. The hash covers the
resolved config without the keys that only change how a run executes, plus the sha256 of
every recording file: a recording regenerated at the same path is a different run.
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


def config_hash(cfg: DictConfig) -> str:
    """sha1 of the resolved config (without :data:`NOT_HASHED`) and the recordings' sha256."""
    c = OmegaConf.to_container(cfg, resolve=True)
    for dotted in NOT_HASHED:
        *parents, leaf = dotted.split(".")
        node = c
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    recordings = c.get("data", {}).get("recordings") or []
    c["recordings_sha256"] = [recording_identity(p) for p in recordings] if isinstance(recordings, list) else []
    return hashlib.sha1(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:16]

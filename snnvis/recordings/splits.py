"""Splits keyed by content: every stimulus to train, validation or test without leakage.

The rules are specified in ``recordings/README.md`` ("Splits"); :func:`assign_splits` is
what :func:`snnvis.recordings.format.write_recording` calls.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}
SPLIT_SEED = 0


def _unit_interval(key: str, seed: int) -> float:
    """Map a string key to [0, 1) deterministically (sha1 of seed and key)."""
    import hashlib

    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of_key(key: str, seed: int = SPLIT_SEED, fractions: dict | None = None) -> str:
    """The split a content key belongs to; the same in every session that holds it."""
    fractions = fractions or DEFAULT_FRACTIONS
    u, edge = _unit_interval(key, seed), 0.0
    for name in SPLITS:
        edge += fractions[name]
        if u < edge:
            return name
    return SPLITS[-1]


def quota_splits(groups, seed: int = SPLIT_SEED, fractions: dict | None = None) -> dict[str, str]:
    """Split a small set of groups by quota: ranked by their seeded hash, then cut by fraction.

    With few groups (ten movies, say) independent per-group draws often leave a split
    empty; ranking guarantees every split at least one group when there are three or
    more. The result depends only on the set of groups, so an importer passes the whole
    universe of its source's groups to make it identical in every session.
    """
    fractions = fractions or DEFAULT_FRACTIONS
    ranked = sorted(set(groups), key=lambda g: _unit_interval(f"group:{g}", seed))
    n = len(ranked)
    held = {k: max(1, round(fractions[k] * n)) if n >= 3 else 0 for k in ("test", "validation")}
    out = {}
    for i, g in enumerate(ranked):
        out[g] = "test" if i < held["test"] else "validation" if i < held["test"] + held["validation"] else "train"
    return out


def assign_splits(
    frame_hashes: np.ndarray,
    groups: list[str] | None = None,
    seed: int = SPLIT_SEED,
    fractions: dict | None = None,
    group_universe: list[str] | None = None,
    families: list[str] | None = None,
    train_only: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Assign every stimulus to train/validation/test without leakage.

    Stimuli are joined into components when they share a frame (by content) or an
    explicit group label, and a whole component takes one split, so frames of one
    sequence never straddle splits and duplicates within a session stay together.
    ``families`` (near-duplicate family keys, :mod:`snnvis.recordings.neardup`) join
    stimuli the same way, and then a component without group labels takes the split of
    its smallest family key (the smallest frame hash of its family, unless the family was
    anchored by a file imported earlier).

    - A component without group labels takes the split of its smallest frame hash.
      For static images that is the image's own content hash, so an image gets the same
      split in every session, including sessions imported later.
    - A component with group labels takes the split that :func:`quota_splits` gives its
      groups over ``group_universe`` (default: the groups present); if it holds groups
      of different splits, the most held-out one (test > validation > train).
    - A component holding a ``train_only`` stimulus takes train (a stimulus type that held-out
      scores leave out, ``RecordingData.held_out_kind`` of :mod:`snnvis.recordings.format`);
      the others keep the split the rules above give them.
    """
    frame_hashes = np.asarray(frame_hashes, dtype=object)
    n = frame_hashes.shape[0]
    rank = {name: i for i, name in enumerate(SPLITS)}
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i in range(n):
        keys = list(frame_hashes[i]) + ([f"group:{groups[i]}"] if groups is not None else [])
        keys += [f"family:{families[i]}"] if families is not None else []
        for key in keys:
            parent[find(i)] = find(first.setdefault(key, i))
    root = np.array([find(i) for i in range(n)])
    by_group = quota_splits(group_universe or list(groups), seed, fractions) if groups is not None else {}
    level = np.zeros(n, dtype=int)
    for r in np.unique(root):
        members = np.flatnonzero(root == r)
        if by_group:
            level[members] = max(rank[by_group[groups[i]]] for i in members)
        else:
            keys = [families[i] for i in members] if families else [h for i in members for h in frame_hashes[i]]
            level[members] = rank[split_of_key(min(keys), seed, fractions)]
        if train_only is not None and np.asarray(train_only)[members].any():
            level[members] = rank["train"]
    return {name: np.flatnonzero(level == rank[name]).astype(np.int64) for name in SPLITS}

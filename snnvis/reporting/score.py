"""Scores of a training run, kept next to it: ``<run>/scores/`` (``snnvis-score checkpoint=<run>``
and ``snnvis-report --score`` both write there).

A run's ``scores/scores.csv`` is up to date when ``scores/score_config.json`` holds the hash of
what made it: the resolved scoring config (``snnvis/conf/score.yaml`` with the overrides; keys
that do not change results, :data:`NOT_HASHED`, left out; the recordings by their content), the
run's training config hash and the sha256 of its ``checkpoints/best.pt``. ``snnvis-report
--score`` rescores any other case (no scores, no hash file, another config, a retrained
checkpoint) and keeps the rest. File times play no part.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from snnvis.errors import UserError
from snnvis.utils import atomic_path

SCORE_DIR = "scores"  # where a run's scores go: <run>/scores/
HASH_FILE = "score_config.json"
# Score keys that do not change the scores (also left out of snnvis-score's sweep directory names).
NOT_HASHED = ("device", "progress", "batch_size", "max_memory_mb", "name", "paths")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scores_dir_of(checkpoint) -> Path | None:
    """``<run>/scores`` when ``checkpoint`` is a training run dir (with ``checkpoints/best.pt``) or
    that ``best.pt``; None otherwise (another .pt file, an untrained model, nothing there)."""
    if not checkpoint:
        return None
    p = Path(str(checkpoint))
    if p.is_dir() and (p / "checkpoints" / "best.pt").is_file():
        return p / SCORE_DIR
    if p.name == "best.pt" and p.parent.name == "checkpoints" and p.is_file():
        return p.parent.parent / SCORE_DIR
    return None


def score_hash(cfg, run_dir: Path, config_hash: str) -> str:
    """The identity of a run's scores: scoring config (resolved), training config hash, best.pt content."""
    from omegaconf import OmegaConf

    from snnvis.training.identity import recording_identity

    resolved = OmegaConf.to_container(cfg, resolve=True)
    # the checkpoint counts by its content, not its path; its run's config fixes the architecture
    for key in (*NOT_HASHED, "checkpoint", "model"):
        resolved.pop(key, None)
    resolved["recordings"] = [recording_identity(p) for p in resolved.get("recordings") or []]
    best = Path(run_dir) / "checkpoints" / "best.pt"
    ident = {"score": resolved, "config_hash": config_hash, "best.pt": _sha256(best) if best.is_file() else None}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_hash(scores_dir: Path, key: str, overrides: Sequence[str] = ()) -> None:
    with atomic_path(Path(scores_dir) / HASH_FILE) as tmp:
        tmp.write_text(json.dumps({"hash": key, "overrides": list(overrides)}, indent=2) + "\n")


def record_scores_of_run(cfg, scores_dir: Path, overrides: Sequence[str] = ()) -> bool:
    """After ``snnvis-score`` wrote ``<run>/scores/``: store the score hash there, so that
    ``snnvis-report --score`` with the same scoring config keeps these scores. False (nothing
    written) when the run has no readable ``metrics.json`` to take its config hash from."""
    from snnvis.outputs import METRICS_FILE, read_metrics

    run_dir = Path(scores_dir).parent
    try:
        chash = str(read_metrics(run_dir / METRICS_FILE)["run"]["config_hash"])
    except (UserError, KeyError, TypeError):
        return False
    write_hash(scores_dir, score_hash(cfg, run_dir, chash), overrides)
    return True


def stored_hash(run) -> str | None:
    """The hash in ``<run>/scores/score_config.json`` when ``scores.csv`` is there too, else None."""
    d = run.dir / SCORE_DIR
    try:
        if (d / "scores.csv").is_file():
            return str(json.loads((d / HASH_FILE).read_text())["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def compose_score_config(overrides: Sequence[str]):
    """``snnvis/conf/score.yaml`` with ``overrides``, checked as far as it can be without a model or data:
    composition, the numeric options and the metric names (one line, exit 2, before anything is scored)."""
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from snnvis.config import compose
    from snnvis.evaluation.metrics import build_metrics

    try:
        base = compose("score", overrides)
        OmegaConf.resolve(base)
    except (HydraException, OmegaConfBaseException) as err:
        raise UserError("--score overrides", " ".join(str(err).split())) from None
    for key, kind in (("n_boot", int), ("ci", float), ("seed", int), ("batch_size", int)):
        value = base.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise UserError(
                "--score overrides", f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
            )
    metrics = base.get("metrics")
    names = [metrics] if isinstance(metrics, str) else list(metrics or [])
    options = OmegaConf.to_container(base.get("metric_options") or OmegaConf.create({}), resolve=True)
    build_metrics([str(n) for n in names], options, n_boot=int(base.n_boot), ci=float(base.ci), seed=int(base.seed))
    return base


def score_runs(runs: Sequence, overrides: Sequence[str] = (), log=print) -> list[Path]:
    """Run ``snnvis-score`` on every run's best checkpoint and the run's own recordings, writing
    ``<run>/scores/scores.csv``, unless the run's scores were made by the same config (module docstring).

    Args:
        runs: :class:`snnvis.reporting.sweep.Run` objects.
        overrides: Hydra overrides of ``snnvis/conf/score.yaml`` (e.g. ``metrics=[rsa,ridge]``).

    Returns:
        The scores.csv files written.

    Raises:
        UserError: bad overrides (before any run is scored), or bad input found while scoring.
    """
    from omegaconf import OmegaConf

    from snnvis.evaluation.pipeline import run as score

    base = compose_score_config(overrides)
    written = []
    for r in runs:
        if not (r.dir / "checkpoints" / "best.pt").is_file():
            log(f"snnvis: {r.rel}: no checkpoints/best.pt; not scored")
            continue
        sessions = r.metrics.get("data", {}).get("sessions", {})
        paths = [str(r.resolve(s["recording"])) for s in sessions.values() if "recording" in s]
        if not paths:
            log(f"snnvis: {r.rel}: metrics.json names no recordings; not scored")
            continue
        cfg = OmegaConf.merge(base, {"checkpoint": str(r.dir), "recordings": paths})
        key = score_hash(cfg, r.dir, r.config_hash)
        if stored_hash(r) == key:
            log(f"snnvis: {r.rel}: {SCORE_DIR}/ made by this scoring config; kept")
            continue
        t0 = time.time()
        score(cfg, r.dir / SCORE_DIR)
        write_hash(r.dir / SCORE_DIR, key, overrides)
        log(f"snnvis: scored {r.rel} ({time.time() - t0:.0f} s)")
        written.append(r.dir / SCORE_DIR / "scores.csv")
    return written

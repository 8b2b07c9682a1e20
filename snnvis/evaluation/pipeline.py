"""One ``snnvis-score`` run: a model's layers against recordings, written to ``scores.csv``
and ``scores.json`` in the run directory (see ``snnvis/conf/score.yaml`` for every key).

Everything the user can get wrong (recordings, metrics, layers, the checkpoint, the
device) is checked before the model runs and before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from snnvis.errors import UserError
from snnvis.evaluation.activations import (
    ModelInfo,
    calibrate_batchnorm,
    extract_activations,
    load_encoder,
    prepare_core,
    resolve_device,
    stimulus_batches,
)
from snnvis.evaluation.metrics import build_metrics
from snnvis.evaluation.scorer import LayerScorer, ScoreRow
from snnvis.evaluation.selection import SELECTIONS, choose_layers
from snnvis.evaluation.targets import stimulus_splits, targets_from_recording
from snnvis.models import count_params
from snnvis.models.capture import KINDS
from snnvis.outputs import SCORE_COLUMNS, SCORES_FILE, write_scores
from snnvis.progress import Heartbeat
from snnvis.recordings.recording import Recording
from snnvis.utils import atomic_path

__all__ = ["CSV_COLUMNS", "ScoreRun", "format_table", "run"]

log = logging.getLogger(__name__)
CSV_COLUMNS = SCORE_COLUMNS  # the columns of scores.csv (snnvis.outputs.tables)


@dataclass
class ScoreRun:
    """What a run produced: every row of ``scores.csv``, the best layers of ``scores.json``."""

    model: ModelInfo
    rows: list[ScoreRow]
    best: list[dict]
    skipped: list[str]
    run_dir: Path
    ci: float = 0.95
    selection_key: str = "held_out"

    @property
    def label(self) -> str:
        return SELECTIONS[self.selection_key]


def _recording_label(rec: Recording) -> str:
    return f"{rec.source}/{rec.id}"


def _calibration_batches(
    recs: list[Recording], splits: dict[str, dict], n_total: int, batch_size: int, size: int, seed: int
):
    """Seeded sample of up to ``n_total`` selection stimuli, spread over the recordings."""
    generator = np.random.default_rng(seed)
    per = max(1, n_total // len(recs))
    for rec in recs:
        pool = splits[_recording_label(rec)]["selection"]
        idx = np.sort(generator.choice(pool, size=min(per, len(pool)), replace=False))
        yield from stimulus_batches(rec, idx, batch_size, size)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean(obj), indent=2) + "\n")


def run(cfg: DictConfig | Mapping[str, Any], run_dir: str | Path) -> ScoreRun:
    """Score the configured model on the configured recordings; write ``scores.csv`` and
    ``scores.json`` into ``run_dir`` and return what was written.

    Raises:
        UserError: bad input (recordings, metrics, layers, checkpoint, device, options).
    """
    t_start = time.time()
    if not isinstance(cfg, DictConfig):  # a plain mapping: score.yaml's defaults under it
        from snnvis.config import compose

        cfg = OmegaConf.merge(compose("score"), dict(cfg))
    run_dir = Path(run_dir)
    seed, selection, n_boot, ci = cfg.seed, cfg.selection, cfg.n_boot, cfg.ci
    if selection not in SELECTIONS:
        raise UserError("selection", f"must be one of {sorted(SELECTIONS)}, got {selection!r}")
    if n_boot < 0:
        raise UserError("n_boot", f"must be >= 0, got {n_boot}")
    options = OmegaConf.to_container(cfg.metric_options or OmegaConf.create({}), resolve=True)
    metrics = build_metrics(list(cfg.metrics or []), options, n_boot=n_boot, ci=ci, seed=seed)
    batch_size, projection_dim, kind = cfg.batch_size, cfg.projection_dim, cfg.kind
    if batch_size < 1:
        raise UserError("batch_size", f"must be >= 1, got {batch_size}")
    if projection_dim is not None and projection_dim < 1:
        raise UserError("projection_dim", f"must be a positive integer or null, got {projection_dim!r}")
    if kind not in KINDS:
        raise UserError("kind", f"must be one of {list(KINDS)}, got {kind!r}")
    layers = None if cfg.layers is None else [str(x) for x in cfg.layers]
    bins = cfg.bins

    paths = list(cfg.recordings or [])
    if not paths:
        raise UserError("recordings", "no recordings given (recordings=[path/to/file.h5,...])")
    recs, targets, splits = [], {}, {}
    for p in paths:
        rec = Recording(p)
        label = _recording_label(rec)
        if label in targets:
            raise UserError("recordings", f"recording {label} given twice", p)
        if not rec.has_pixels:
            raise UserError("recording", "has no images: every metric needs model activations to the stimuli", p)
        targets[label] = targets_from_recording(rec, cfg.response, bins)
        if not targets[label]:
            raise UserError("recording", "has neither neurons nor reference RDMs to compare with", p)
        splits[label] = stimulus_splits(rec)
        recs.append(rec)

    checkpoint = cfg.checkpoint
    core, info = load_encoder(cfg.model, checkpoint, seed)
    device = resolve_device(cfg.device)
    if layers is not None:
        names = [s.name for s in core.candidate_layers()]
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise UserError("layers", f"unknown layer(s) {unknown}; this model's candidate layers are {names}")
    core = prepare_core(core, device)
    calibrate = cfg.bn_calibration
    if calibrate == "auto":
        calibrate = info.source == "untrained"
    if calibrate:
        n_cal = cfg.bn_calibration_stimuli
        calibrate_batchnorm(core, _calibration_batches(recs, splits, n_cal, batch_size, core.input_size, seed), device)

    rows: list[ScoreRow] = []
    skipped: list[str] = []
    n_layers = len(layers or core.candidate_layers())
    with Heartbeat(logger=log) if cfg.progress is not False else contextlib.nullcontext() as beat:  # >= 1 line / 30 s
        for r, rec in enumerate(recs):
            label = _recording_label(rec)
            scorer = LayerScorer(targets[label], metrics, splits[label], label)
            skipped += scorer.skipped
            where = f"{label} ({r + 1}/{len(recs)})"
            if beat is not None:
                beat.line(f"snnvis: scoring {where}: {rec.n_stimuli} stimuli, {n_layers} layers")
            for k, (spec, features) in enumerate(
                extract_activations(
                    core,
                    rec,
                    layers=layers,
                    kind=kind,
                    projection_dim=projection_dim,
                    seed=seed,
                    batch_size=batch_size,
                    device=device,
                    window="model",
                    max_memory_mb=cfg.max_memory_mb,
                    progress=cfg.progress,
                    heartbeat=beat,
                )
            ):
                if beat is not None:
                    beat.set(f"{where}: scoring layer {k + 1}/{n_layers} ({spec.name})")
                for row in scorer.score(spec, features):
                    row.extra = {
                        "model": info.name,
                        "spiking": info.spiking,
                        "seed": info.seed,
                        "source": info.source,
                        "checkpoint": info.checkpoint or "",
                        "recording_path": str(rec.path),
                    }
                    rows.append(row)
                del features
    best = choose_layers(rows, selection)

    write_scores(run_dir / SCORES_FILE, [r.as_dict() for r in rows])
    n_params = count_params(core)
    _write_json(
        run_dir / "scores.json",
        {
            "model": {**asdict(info), "n_params": int(n_params)},
            "selection": SELECTIONS[selection],
            "ci": ci,
            "n_boot": n_boot,
            "best": best,
            "recordings": {
                _recording_label(r): {
                    "path": str(r.path),
                    "n_selection": int(len(splits[_recording_label(r)]["selection"])),
                    "n_test": int(len(splits[_recording_label(r)]["test"])),
                    "targets": [
                        {"target": t.name, "area": t.area, "description": t.description}
                        for t in targets[_recording_label(r)]
                    ],
                }
                for r in recs
            },
            "skipped": skipped,
            "settings": {
                "metrics": [m.name for m in metrics],
                "methods": {m.name: m.method for m in metrics},
                "kind": kind,
                "projection_dim": projection_dim,
                "layers": layers,
                "device": str(device),
                "bn_calibration": bool(calibrate),
                "wall_s": time.time() - t_start,
                "torch": torch.__version__,
            },
        },
    )
    return ScoreRun(info, rows, best, skipped, run_dir, ci, selection)


def _num(x: Any, digits: int = 3) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def format_table(result: ScoreRun) -> str:
    """Readable summary: per recording, area × metric -> best layer, score [CI], ceiling, normalised."""
    info = result.model
    kind = "SNN" if info.spiking else "DNN twin"
    if info.source == "external":  # a user module: no twin relation is implied
        kind = "spiking" if info.spiking else "non-spiking"
    src = "untrained" if info.source == "untrained" else f"{info.source} {info.checkpoint}"
    lines = [
        f"{info.name} ({kind}, {src}, seed {info.seed}); layer choice: {result.label}; "
        f"{round(100 * result.ci)}% bootstrap CI on the test stimuli"
    ]
    header = (
        "recording",
        "area",
        "target",
        "metric",
        "best layer",
        f"test score [{round(100 * result.ci)}% CI]",
        "ceiling",
        "normalized",
    )
    table = []
    for b in result.best:
        if b["layer"] is None:
            table.append((b["recording"], b["area"], b["target"], b["metric"], "-", "no finite score", "-", "-"))
            continue
        ceiling = _num(b["ceiling"])
        lower, upper = b.get("ceiling_lower"), b.get("ceiling_upper")
        if lower is not None and upper is not None and np.isfinite(lower) and np.isfinite(upper):
            ceiling = f"{ceiling} [{_num(lower)}-{_num(upper)}]"
        table.append(
            (
                b["recording"],
                b["area"],
                b["target"],
                b["metric"],
                b["layer"],
                f"{_num(b['score'])} [{_num(b['ci_low'])}, {_num(b['ci_high'])}]",
                ceiling,
                _num(b["normalized"]),
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    for r in [header, *table]:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    for note in result.skipped:
        lines.append(f"skipped: {note}")
    return "\n".join(lines)

"""The tidy results table of a sweep (``results.csv``, written by :func:`write_csv`).

``results.csv`` has one row per run × section × level × key × metric; its columns are
:data:`RESULT_COLUMNS` and what each means is :data:`RESULT_COLUMN_MEANINGS` (which
``report.html`` lists too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from snnvis.outputs import write_results
from snnvis.reporting.sweep import Run, Sweep, rel_path

RESULT_COLUMNS = [
    "run_dir",
    "source",
    "model",
    "architecture",
    "spiking",
    "seed",
    "config_hash",
    "section",
    "level",
    "key",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "recording",
    "target",
    "layer",
    "depth",
    "layer_area",
    "area",
    "split",
    "ceiling",
    "ceiling_lower",
    "normalized",
    "selection",
    "chosen",
    "method",
    "ceiling_kind",
    "n_stimuli",
    "score_source",
    "p_value",
    "test",
    "schema_version",
]


RESULT_COLUMN_MEANINGS = [
    ("run_dir", "the run (or scoring) folder, relative to the sweep folder"),
    ("source", "metrics.json, scores.csv, or predictions.h5 (paired rows)"),
    (
        "model",
        "model label: the model config (e.g. sew_resnet_tiny), plus any override other than "
        "model.spiking/seed that differs between the sweep's runs (SNN and twin share it)",
    ),
    ("architecture", "encoder name in the run (model.name)"),
    ("spiking", "True: SNN; False: its DNN twin"),
    ("seed, config_hash", "training seed; hash of the run's resolved config"),
    (
        "section",
        "test / baseline (held-out prediction), validation, run (wall time, parameter counts), scores, "
        "or paired (SNN − twin)",
    ),
    ("level", "overall / area / session for metrics.json rows; layer for scores.csv rows"),
    ("key", "all, the area, the session id, or the layer name"),
    ("metric", "e.g. pearson_r_median, feve_mean, wall_s; for scores the similarity metric (rsa, ridge, ...)"),
    ("value", "the number (empty when not finite)"),
    (
        "ci_low, ci_high",
        "95% bootstrap CI over neurons (metrics.json *_ci95), the scoring CI over stimuli/neurons, or "
        "the paired bootstrap over seeds × neurons × stimuli",
    ),
    ("n", "neurons summarised (metrics.json) or scored (scores.csv)"),
    (
        "recording ... score_source",
        "scores.csv only: recording, target, layer, depth, layer_area, area, split, ceiling, "
        "ceiling_lower, normalized (score / ceiling), selection (how the layer was chosen), chosen, "
        "method, ceiling_kind, n_stimuli, score_source",
    ),
    (
        "p_value, test",
        "section paired only (per model over all its seeds, overall and per session): "
        "pearson_r_diff_mean (SNN − twin, mean over neurons of the seed-averaged per-neuron difference) "
        "with the p-value of SNN/twin swapped per seed × stimulus (test names it); p_value_seeds "
        "(whole runs swapped per seed); pearson_r_diff_median, pearson_r_median_snn/_twin, n_seeds; "
        "seed lists the paired seeds",
    ),
    ("schema_version", "the table's layout version"),
]


def num(x) -> float | None:
    """``x`` as a finite float, else None."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _summary_rows(base: dict, section: str, level: str, key: str, summary: dict) -> list[dict]:
    rows = []
    for name, value in summary.items():
        if name.endswith("_ci95") or name == "n_neurons" or isinstance(value, (dict, list)):
            continue
        ci = summary.get(f"{name}_ci95") or [None, None]
        rows.append(
            {
                **base,
                "section": section,
                "level": level,
                "key": key,
                "metric": name,
                "value": num(value),
                "ci_low": num(ci[0]),
                "ci_high": num(ci[1]),
                "n": summary.get("n_neurons"),
            }
        )
    return rows


def run_rows(run: Run) -> list[dict]:
    """The metrics.json of one run as tidy rows."""
    base = {
        "run_dir": run.rel,
        "source": "metrics.json",
        "model": run.label,
        "architecture": run.architecture,
        "spiking": run.spiking,
        "seed": run.seed,
        "config_hash": run.config_hash,
    }
    rows = []
    for section in ("test", "baseline"):
        s = run.metrics.get(section)
        if not isinstance(s, dict):
            continue
        if isinstance(s.get("overall"), dict):
            rows += _summary_rows(base, section, "overall", "all", s["overall"])
        for key, summ in s.items():
            if key not in ("overall", "sessions") and isinstance(summ, dict):
                rows += _summary_rows(base, section, "area", key, summ)
        for key, summ in (s.get("sessions") or {}).items():
            if isinstance(summ, dict):
                rows += _summary_rows(base, section, "session", key, summ)
    val = run.metrics.get("validation") or {}
    rows += [
        {**base, "section": "validation", "level": "overall", "key": "all", "metric": k, "value": num(v)}
        for k, v in val.items()
        if not isinstance(v, (dict, list))
    ]
    facts = {
        "wall_s": run.metrics["run"].get("wall_s"),
        "n_params": run.metrics["model"].get("n_params"),
        "n_params_with_readouts": run.metrics["model"].get("n_params_with_readouts"),
    }
    rows += [
        {**base, "section": "run", "level": "overall", "key": "all", "metric": k, "value": num(v)}
        for k, v in facts.items()
        if v is not None
    ]
    return rows


def _bool(x) -> bool:
    return str(x).strip().lower() in ("true", "1", "yes")


def score_rows(sweep: Sweep) -> list[dict]:
    """Every scores.csv row as a tidy row (score -> value; model label of the owning run)."""
    rows = []
    for path, owner, table in sweep.scores:
        for r in table:
            rows.append(
                {
                    "run_dir": owner.rel if owner else rel_path(path.parent, sweep.root),
                    "source": "scores.csv",
                    "model": owner.label if owner else r["model"],
                    "architecture": r["model"],
                    "spiking": _bool(r["spiking"]),
                    "seed": owner.seed if owner else int(float(r["seed"])) if num(r["seed"]) is not None else "",
                    "config_hash": owner.config_hash if owner else "",
                    "section": "scores",
                    "level": "layer",
                    "key": r["layer"],
                    "metric": r["metric"],
                    "value": num(r["score"]),
                    "ci_low": num(r.get("ci_low")),
                    "ci_high": num(r.get("ci_high")),
                    "n": r.get("n_neurons", ""),
                    **{
                        c: r.get(c, "")
                        for c in (
                            "recording",
                            "target",
                            "layer",
                            "depth",
                            "layer_area",
                            "area",
                            "split",
                            "selection",
                            "method",
                            "ceiling_kind",
                            "n_stimuli",
                        )
                    },
                    **{c: num(r.get(c)) for c in ("ceiling", "ceiling_lower", "normalized")},
                    "chosen": _bool(r.get("chosen", "")),
                    "score_source": r.get("source", ""),
                }
            )
    return rows


def results_rows(sweep: Sweep, paired: Sequence = ()) -> list[dict]:
    """Every row of results.csv; ``paired``: the :class:`snnvis.training.paired_runs.PairedRow` of the sweep."""
    from snnvis.reporting.paired import paired_csv_rows

    rows = []
    for run in sweep.runs:
        rows += run_rows(run)
    return rows + score_rows(sweep) + paired_csv_rows(paired)


def write_csv(path: Path, rows: list[dict], columns: Sequence[str] = RESULT_COLUMNS) -> Path:
    """``results.csv`` (:func:`snnvis.outputs.write_results`)."""
    return write_results(path, rows, columns)

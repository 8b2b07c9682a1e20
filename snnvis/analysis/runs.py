"""Read training runs (``metrics.json`` + ``predictions.h5``) into plain records for figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.outputs import METRICS_FILE, PREDICTIONS_FILE, read_metrics, read_predictions


def load_accuracy(run_dir: str | Path) -> dict:
    """One run's held-out accuracy per neuron.

    Returns:
        {"run_dir", "model" (config name), "spiking", "seed", "median_r" (metrics.json
        ``test.overall.pearson_r_median``), "neuron_ids" (str, "<session>/<neuron id>"),
        "areas", "pearson_r"} with one entry per neuron in predictions.h5 order.
    """
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir / METRICS_FILE)
    ids, areas, r = [], [], []
    for session, p in read_predictions(run_dir / PREDICTIONS_FILE, ("neuron_ids", "areas", "metrics")).items():
        if "pearson_r" not in p.metrics:
            raise UserError("predictions.h5", f"session {session} has no metrics/pearson_r", run_dir / PREDICTIONS_FILE)
        ids += [f"{session}/{n}" for n in p.neuron_ids]
        areas += list(p.areas)
        r.append(np.asarray(p.metrics["pearson_r"], dtype=np.float64))
    try:
        record = {
            "run_dir": str(run_dir),
            "model": str(metrics["model"]["name"]),
            "spiking": bool(metrics["model"]["spiking"]),
            "seed": int(metrics["run"]["seed"]),
            "median_r": float(metrics["test"]["overall"]["pearson_r_median"] or np.nan),
        }  # null: no finite r
    except (KeyError, ValueError, TypeError) as err:
        raise UserError(METRICS_FILE, f"missing or bad entry {err}", run_dir / METRICS_FILE) from None
    return {
        **record,
        "neuron_ids": np.array(ids, dtype=str),
        "areas": np.array(areas, dtype=str),
        "pearson_r": np.concatenate(r) if r else np.zeros(0),
    }


def load_accuracies(run_dirs) -> list[dict]:
    """:func:`load_accuracy` for each directory."""
    return [load_accuracy(d) for d in run_dirs]

"""Read training runs (``metrics.json`` + ``predictions.h5``) into plain records for figures."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from snnvis.errors import UserError


def load_run(run_dir: str | Path) -> dict:
    """One run's held-out accuracy per neuron.

    Returns:
        {"run_dir", "model" (config name), "spiking", "seed", "median_r" (metrics.json
        ``test.overall.pearson_r_median``), "neuron_ids" (str, "<session>/<neuron id>"),
        "areas", "pearson_r"} with one entry per neuron in predictions.h5 order.
    """
    run_dir = Path(run_dir)
    mpath, ppath = run_dir / "metrics.json", run_dir / "predictions.h5"
    try:
        metrics = json.loads(mpath.read_text())
        ids, areas, r = [], [], []
        with h5py.File(ppath, "r") as f:
            for session in f:
                g = f[session]
                ids += [f"{session}/{n}" for n in g["neuron_ids"].asstr()[()]]
                areas += list(g["areas"].asstr()[()])
                r.append(np.asarray(g["metrics/pearson_r"][()], dtype=np.float64))
        record = {
            "run_dir": str(run_dir),
            "model": str(metrics["model"]["name"]),
            "spiking": bool(metrics["model"]["spiking"]),
            "seed": int(metrics["run"]["seed"]),
            "median_r": float(metrics["test"]["overall"]["pearson_r_median"] or np.nan),
        }  # null: no finite r
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise UserError("training run", f"cannot read metrics.json / predictions.h5 ({err})", run_dir) from None
    return {
        **record,
        "neuron_ids": np.array(ids, dtype=str),
        "areas": np.array(areas, dtype=str),
        "pearson_r": np.concatenate(r) if r else np.zeros(0),
    }


def load_runs(run_dirs) -> list[dict]:
    """:func:`load_run` for each directory."""
    return [load_run(d) for d in run_dirs]

"""Outputs of a training run: metrics.json, log.csv and the test split's predictions.h5."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np

from snnvis.outputs import METRICS_FILE, PREDICTIONS_FILE, Metrics, SessionPredictions, write_metrics, write_predictions
from snnvis.training.metrics import FLAGS, group_summaries, neuron_metrics
from snnvis.utils import atomic_path

log = logging.getLogger(__name__)


def write_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def score_test_split(predictions: dict[str, np.ndarray], sessions, run_dir: Path, seed: int) -> dict:
    """Score each session's test-split ``predictions`` (by session id); write per-neuron values
    to predictions.h5 and return the summaries (the ``test`` entry of metrics.json).

    Neurons with a constant prediction (a silent model) score r = 0 and are counted as
    ``n_silent``; neurons with a non-finite prediction are counted as ``n_failed`` and their
    metrics are NaN (left out of the medians), never 0.
    """
    per_neuron, areas, ids, written = [], [], [], {}
    for s in sessions:
        ds = s.splits["test"]
        pred = predictions[s.id]
        trials = None if ds.trials is None else ds.trials.numpy()
        m = neuron_metrics(pred, ds.responses.numpy(), trials, seed=seed)
        written[s.id] = SessionPredictions(
            stimulus_index=ds.indices,
            prediction=pred,
            response=ds.responses.numpy(),
            neuron_ids=s.recording.neuron_ids,
            areas=s.recording.neuron_areas,
            metrics={k: v for k, v in m.items() if k not in FLAGS},
            flags={k: v for k, v in m.items() if k in FLAGS},
            recording=str(s.recording.path),
            response_set=ds.response_info.name,
        )
        per_neuron.append(m)
        areas.append(s.recording.neuron_areas)
        ids.append(np.full(ds.n_neurons, s.id))
    write_predictions(run_dir / PREDICTIONS_FILE, written)
    keys = sorted({k for m in per_neuron for k in m})
    merged = {k: np.concatenate([m.get(k, np.full(len(m["pearson_r"]), np.nan)) for m in per_neuron]) for k in keys}
    out = group_summaries(merged, np.concatenate(areas), np.concatenate(ids), seed=seed)
    overall = out["overall"]
    if overall.get("n_failed"):
        log.warning(
            "%d of %d neurons have non-finite test predictions (failed; their r is NaN, not 0)",
            overall["n_failed"],
            overall["n_neurons"],
        )
    if overall.get("n_silent"):
        log.warning(
            "%d of %d neurons (%.0f%%) get a constant test prediction (silent model); they score r = 0",
            overall["n_silent"],
            overall["n_neurons"],
            100 * overall["silent_fraction"],
        )
    return out


def lookup_baselines(sessions, seed: int) -> dict:
    """``baseline_lookup``: the pixel-lookup predictor's test r (each test stimulus predicted by
    the responses to its most pixel-similar training stimulus), in the layout of ``test``. A
    high value means near-copies of training stimuli in the test split (leakage), not skill.
    Empty when no session has pixels."""
    try:
        from snnvis.recordings.leakage import lookup_baseline
    except ImportError:  # pragma: no cover - the leakage module ships with the recordings package
        return {}
    rs, areas, ids = [], [], []
    for s in sessions:
        res = lookup_baseline(s.recording, s.splits["test"].response_info.name)
        if res is None:
            continue
        rs.append(np.asarray(res["r"], dtype=np.float64))
        areas.append(s.recording.neuron_areas)
        ids.append(np.full(len(res["r"]), s.id))
    if not rs:
        return {}
    out = group_summaries({"pearson_r": np.concatenate(rs)}, np.concatenate(areas), np.concatenate(ids), seed=seed)
    out["method"] = (
        "each test stimulus predicted by the responses to the training stimulus whose pixels "
        "correlate most with its own (snnvis.recordings.leakage)"
    )
    return {"baseline_lookup": out}


def run_metrics(
    cfg,
    test: dict,
    baselines: dict,
    best: dict,
    state: dict,
    sessions,
    dist,
    device,
    chash: str,
    label: str,
    n_params: int,
    n_params_all: int,
    wall_s: float,
) -> Metrics:
    """The metrics.json record of a finished run (:class:`snnvis.outputs.Metrics`)."""
    import torch

    from snnvis.training.identity import recording_identity

    return {
        "test": test,
        **baselines,
        "validation": {"best_epoch": best["epoch"], "pearson_r_mean": best["score"], "epochs_trained": state["epoch"]},
        "model": {
            "name": label,
            "encoder": cfg.model.name,
            "spiking": bool(cfg.model.spiking),
            "n_params": int(n_params),
            "n_params_with_readouts": int(n_params_all),
        },
        "data": {
            "sessions": {
                s.id: {
                    "recording": str(s.recording.path),
                    "sha256": recording_identity(s.recording.path),
                    "response_set": s.splits["train"].response_info.name,
                    "n_neurons": s.splits["train"].n_neurons,
                    **{f"n_{k}": len(v) for k, v in s.splits.items()},
                }
                for s in sessions
            },
            "n_stimuli": int(sum(len(v) for s in sessions for v in s.splits.values())),
            "target": cfg.data.target,
        },
        "run": {
            "seed": int(cfg.seed),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "world_size": dist.world,
            "wall_s": wall_s,
            "config_hash": chash,
            "torch": torch.__version__,
        },
    }


def finish(
    cfg,
    run_dir: Path,
    model,
    sessions,
    device,
    initial_core,
    state: dict,
    dist,
    chash: str,
    label: str,
    n_params: int,
    wall_s,
) -> dict:
    """After the last epoch: the best checkpoint's test predictions (predictions.h5), the baselines
    and metrics.json; returns the metrics. ``wall_s()`` gives the run's wall time so far."""
    from snnvis.models import count_params
    from snnvis.training import checkpoint
    from snnvis.training.accounting import compute_entry, median_r, validation_predictions, validation_rs
    from snnvis.training.baseline import random_core_baseline
    from snnvis.training.predict import predict

    best = checkpoint.load_checked(run_dir / "checkpoints" / "best.pt")
    model.load_state_dict(best["model"])
    if cfg.data.target == "psth":  # PSTH time course and per-presentation counts (snnvis/training/psth.py)
        from snnvis.training.psth import score_psth_test

        test = score_psth_test(model, sessions, run_dir, device, cfg)
    else:
        preds = {s.id: predict(model, s, "test", device, cfg.trainer.amp, cfg.data.batch_size) for s in sessions}
        test = score_test_split(preds, sessions, run_dir, cfg.seed)
    baselines = {}
    if initial_core is not None:
        baselines["baseline"] = random_core_baseline(initial_core, sessions, device, cfg.data.batch_size, cfg.seed)
    baselines.update(lookup_baselines(sessions, cfg.seed))
    # the best checkpoint's validation median r (a search's objective) and its compute per image
    val = validation_predictions(model, sessions, device, cfg.trainer.amp, cfg.data.batch_size)
    val_median = median_r(validation_rs(val, sessions))
    compute = compute_entry(model.core, sessions, device, wall_s(), sum(r.get("epoch_s", 0.0) for r in state["log"]))
    metrics = run_metrics(
        cfg, test, baselines, best, state, sessions, dist, device, chash, label, n_params, count_params(model), wall_s()
    )
    metrics["validation"]["pearson_r_median"] = val_median
    metrics["compute"] = {**compute, "wall_s": metrics["run"]["wall_s"]}
    written = write_metrics(run_dir / METRICS_FILE, metrics)
    if cfg.trainer.tensorboard:
        from omegaconf import OmegaConf

        from snnvis.training.tracking import write_hparams

        write_hparams(run_dir, OmegaConf.to_container(cfg, resolve=True), written)
    return written

"""What a finished run records beside its test scores: the validation median r of the best
checkpoint (a search's objective) and the compute of its core per image (``metrics.json`` →
``compute``, from :func:`snnvis.evaluation.compute.compute_report`)."""

from __future__ import annotations

import numpy as np
import torch

from snnvis.recordings.dataset import collate
from snnvis.training.metrics import pearson_per_neuron
from snnvis.training.predict import predict

# Stimuli of the first session's test split that the compute count runs on, and its timed passes.
COMPUTE_IMAGES = 32
COMPUTE_REPEATS = 3


def median_r(rs: list[np.ndarray]) -> float | None:
    """Median of the finite per-neuron r of all sessions; None when none is finite (a silent model)."""
    r = np.concatenate(rs) if rs else np.zeros(0)
    return float(np.nanmedian(r)) if np.isfinite(r).any() else None


def validation_rs(predictions: dict[str, np.ndarray], sessions) -> list[np.ndarray]:
    """Per-neuron Pearson r of each session's validation ``predictions`` (by session id)."""
    return [pearson_per_neuron(predictions[s.id], s.splits["validation"].responses.numpy()) for s in sessions]


def validation_predictions(model, sessions, device, amp, batch_size: int) -> dict[str, np.ndarray]:
    return {s.id: predict(model, s, "validation", device, amp, batch_size) for s in sessions}


def compute_entry(core, sessions, device, wall_s: float, train_s: float) -> dict:
    """``metrics.json`` → ``compute`` for a trained ``core``, counted on up to :data:`COMPUTE_IMAGES`
    test stimuli of the first session (eval mode):

    ``macs_per_image`` (dense multiply-accumulates, the same for an SNN and its twin),
    ``synops_per_image`` (an SNN's synaptic operations: spike-driven SOPs plus the analog first
    layer's MACs; a twin's equals its MACs), ``sops_per_image``, ``analog_macs_per_image``,
    ``spike_rate.<layer>`` (fraction of non-zero outputs per step of each neuron layer: spikes for
    an SNN, active ReLUs for a twin), ``mean_spike_rate``, ``steps``, ``seconds_per_image``
    (forward only, on this run's device), ``train_s`` (the epochs' time) and ``wall_s`` (the run's).
    """
    from snnvis.evaluation.compute import compute_report

    ds = sessions[0].splits["test"]
    loader = torch.utils.data.DataLoader(ds, batch_size=min(COMPUTE_IMAGES, len(ds)), collate_fn=collate)
    stimuli = next(iter(loader)).stimuli.to(device)
    rep = compute_report(core, stimuli, repeats=COMPUTE_REPEATS)
    total = rep["total"]
    return {
        "macs_per_image": float(total["macs"]),
        "synops_per_image": float(total["synaptic_ops"]),
        "sops_per_image": float(total["sops"]),
        "analog_macs_per_image": float(total["analog_macs"]),
        "spike_rate": {name: float(v["rate"]) for name, v in rep["neurons"].items()},
        "mean_spike_rate": float(total["rate"]),
        "steps": rep["steps"],
        "images_counted": int(stimuli.shape[0]),
        "seconds_per_image": float(total["seconds_per_image"]),
        "train_s": float(train_s),
        "wall_s": float(wall_s),
    }

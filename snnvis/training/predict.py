"""Predictions of a network for one split, and the validation score early stopping follows."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from snnvis.recordings.dataset import collate
from snnvis.training.metrics import pearson_per_neuron, prediction_flags


def autocast(device: torch.device, amp) -> contextlib.AbstractContextManager:
    use = device.type == "cuda" if amp == "auto" else bool(amp)
    return torch.autocast(device.type, dtype=torch.bfloat16) if use else contextlib.nullcontext()


@torch.no_grad()
def predict(model, session, split: str, device, amp, batch_size: int) -> np.ndarray:
    """(n_stimuli, n_bins, n_neurons) predictions for one split."""
    model.eval()
    ds = session.splits[split]
    bm = None if session.bin_matrix is None else session.bin_matrix.to(device)
    out = []
    for batch in torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate):
        with autocast(device, amp):
            out.append(model(batch.stimuli.to(device), session.id, bin_matrix=bm).float().cpu())
    return torch.cat(out).numpy()


def validation_score(model, sessions, device, amp, batch_size, silent: list | None = None) -> float:
    """Mean per-neuron Pearson r on the validation splits of all sessions; appends the fraction
    of neurons whose prediction is constant (silent) to ``silent`` when given."""
    rs, flags = [], []
    for s in sessions:
        pred = predict(model, s, "validation", device, amp, batch_size)
        rs.append(pearson_per_neuron(pred, s.splits["validation"].responses.numpy()))
        flags.append(prediction_flags(pred)["silent"])
    if silent is not None:
        silent.append(float(np.concatenate(flags).mean()))
    r = np.concatenate(rs)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("-inf")

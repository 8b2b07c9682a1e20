"""Model-side analyses for the reproduction figures: layer trajectories on frame
sequences (curvature, TSRSA under frame shuffling) and layer RDMs on images.

A *model* here is an encoder core in eval mode, either untrained (built from a model
config and a seed; BatchNorm statistics calibrated on the stimuli, without neural data,
as ``snnvis-score`` does) or loaded from a training run (:func:`load_model`).

Per-frame features: a sequence of F frames is fed as one stimulus (state carried across
frames); each layer's activity over the ``steps_per_frame`` steps of a frame is averaged,
giving a trajectory ``(F, features)`` per sequence. Large layers are projected with the
seeded Gaussian matrix of :mod:`snnvis.models.capture` (``projection_dim``), which
preserves distances and angles up to a small distortion.

Which layers the figures show, and the figure data built from these analyses (curvature
deltas, RSA against reference RDMs), are in :mod:`snnvis.reporting.reproduction`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnvis.analysis.shuffle import shuffle_within_windows
from snnvis.evaluation.activations import (
    calibrate_batchnorm,
    extract_activations,
    load_encoder,
    prepare_core,
    stimulus_batches,
)
from snnvis.models import EncoderCore
from snnvis.models.capture import capture_activations
from snnvis.models.timing import frame_means
from snnvis.recordings.recording import Recording
from snnvis.similarity import compare_rdms, rdm


@dataclass
class Model:
    """A core to analyse and how to call it in figures (e.g. ``SNN (untrained)``)."""

    label: str
    core: EncoderCore
    spiking: bool
    trained: bool


def load_model(
    label: str,
    model_cfg: Mapping | None = None,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    calibration: Sequence[tuple[Recording, np.ndarray]] = (),
    batch_size: int = 16,
) -> Model:
    """An untrained core from ``model_cfg`` (BatchNorm calibrated on the stimuli ``idx`` of
    each ``(recording, idx)`` in ``calibration``), or the core of a training run
    (``checkpoint``: the run directory)."""
    core, info = load_encoder(model_cfg, checkpoint, seed)
    core = prepare_core(core, torch.device("cpu"))
    if info.source == "untrained" and calibration:
        batches = (b for rec, idx in calibration for b in stimulus_batches(rec, idx, batch_size, core.input_size))
        calibrate_batchnorm(core, batches)
    return Model(label, core, bool(core.spiking), info.source != "untrained")


@torch.no_grad()
def frame_features(
    core: EncoderCore, stimuli: torch.Tensor, layers: Sequence[str], projection_dim: int | None = 2048, seed: int = 0
) -> dict[str, np.ndarray]:
    """Layer name -> (batch, frames, features): activity averaged over each frame's steps.

    ``stimuli``: (batch, frames, C, H, W), uint8 or float, frames > 1.
    """
    frames = stimuli.shape[1]
    acts = capture_activations(core, stimuli, list(layers), "spikes", projection_dim, seed)
    out = {}
    for name, a in acts.items():  # (T, batch, features)
        try:
            out[name] = frame_means(a.float(), core.time, frames).cpu().numpy()
        except ValueError as err:
            raise ValueError(f"layer {name}: {err}") from None
    return out


def _sequence_keys(rec: Recording, idx: np.ndarray) -> list[tuple[str, str]]:
    return [(str(rec.stimulus_ids[i]), str(rec.frame_hash[i])) for i in idx]


@functools.lru_cache(maxsize=8)
def _load_sequences(path: str, idx: tuple[int, ...], size: int) -> torch.Tensor:
    rec = Recording(path)
    return torch.cat(list(stimulus_batches(rec, np.asarray(idx, dtype=np.int64), 16, size)))


def load_sequences(rec: Recording, idx: Sequence[int], size: int) -> torch.Tensor:
    """uint8 (len(idx), frames, C, size, size) stimuli, read and resized once (cached)."""
    return _load_sequences(str(rec.path), tuple(int(i) for i in idx), int(size))


def sequence_trajectories(
    model: Model,
    stimuli: torch.Tensor,
    layers: Sequence[str],
    orders: np.ndarray | None = None,
    batch_size: int = 8,
    projection_dim: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-frame layer trajectories (sequences, frames, features) of ``stimuli``
    (sequences, frames, C, H, W), e.g. from :func:`load_sequences`.

    ``orders``: optional (sequences, frames) presentation order of each sequence's frames;
    the trajectories are returned in the original frame order (presentation order undone).
    """
    if orders is not None:
        stimuli = stimuli[torch.arange(len(stimuli))[:, None], torch.as_tensor(orders)]
    out: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    for start in range(0, len(stimuli), batch_size):
        feats = frame_features(model.core, stimuli[start : start + batch_size], layers, projection_dim, seed)
        for name, f in feats.items():
            out[name].append(f)
    traj = {name: np.concatenate(v) for name, v in out.items()}
    if orders is not None:
        inverse = np.argsort(orders, axis=1)[:, :, None]
        traj = {name: np.take_along_axis(t, inverse, axis=1) for name, t in traj.items()}
    return traj


# ---------------------------------------------------------------------------------------
# (f) TSRSA as frames are shuffled within windows
# ---------------------------------------------------------------------------------------


def tsrsa_shuffle_scores(
    model: Model,
    recs: Sequence[Recording],
    layers: Sequence[str],
    windows: Sequence[int],
    n_shuffles: int = 3,
    category: str = "natural",
    response: str = "frame_counts",
    seed: int = 0,
    **kwargs,
) -> dict[str, np.ndarray]:
    """TSRSA between model layers and each recording, as the model sees each sequence with
    its frames shuffled within windows (:func:`snnvis.analysis.shuffle.shuffle_within_windows`).

    The model's per-frame trajectory is put back into the original frame order before it
    is compared with the recorded trajectory (repeat-averaged responses per frame of the
    intact sequence), so a model without memory scores the same for every window; only
    state carried across frames (membrane potentials, recurrence) can change the score.
    Sequences with the same id and frames in several recordings are run once, with the
    same shuffles.

    Returns:
        {layer: (len(recs), len(windows))}: per recording, the TSRSA (correlation RDM over
        frames, Spearman; mean over its sequences with a finite value), averaged over
        ``n_shuffles`` draws (one for window 1, the intact order).
    """
    rng = np.random.default_rng(seed)
    selected, unique = [], {}  # unique: sequence key -> (recording number, stimulus index)
    for r_i, rec in enumerate(recs):
        idx = np.array([i for i, s in enumerate(rec.stimulus_ids) if f"/{category}/" in str(s)])
        keys = _sequence_keys(rec, idx)
        selected.append((rec, idx, keys))
        for i, key in zip(idx, keys):
            unique.setdefault(key, (r_i, int(i)))
    keys = list(unique)
    sources = {
        src: [j for j, k in enumerate(keys) if unique[k][0] == src] for src in sorted({v[0] for v in unique.values()})
    }
    stimuli = {
        src: load_sequences(recs[src], [unique[keys[j]][1] for j in rows], model.core.input_size)
        for src, rows in sources.items()
    }
    neural = [rec.mean(response, idx).astype(np.float64) for rec, idx, _ in selected]  # (S, frames, neurons)
    neural_rdms = [np.asarray(rdm(n, "correlation")) for n in neural]
    n_frames = recs[0].n_frames
    scores = {name: np.full((len(recs), len(windows)), np.nan) for name in layers}
    for w_i, window in enumerate(windows):
        draws = 1 if window == 1 else n_shuffles
        per_draw = {name: np.full((draws, len(recs)), np.nan) for name in layers}
        for d in range(draws):
            orders = np.stack([shuffle_within_windows(n_frames, int(window), rng) for _ in keys])
            traj: dict[str, dict] = {name: {} for name in layers}
            for src, rows in sources.items():
                t = sequence_trajectories(model, stimuli[src], layers, orders[rows], **kwargs)
                for name in layers:
                    traj[name].update({keys[j]: t[name][n] for n, j in enumerate(rows)})
            for name in layers:
                for r_i, (_, _, rec_keys) in enumerate(selected):
                    model_traj = np.stack([traj[name][k] for k in rec_keys]).astype(np.float64)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        per_seq = np.asarray(compare_rdms(rdm(model_traj, "correlation"), neural_rdms[r_i], "spearman"))
                    if np.isfinite(per_seq).any():
                        per_draw[name][d, r_i] = np.nanmean(per_seq)
        for name in layers:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                scores[name][:, w_i] = np.nanmean(per_draw[name], axis=0)
    return scores


# ---------------------------------------------------------------------------------------
# (e) layer RDMs
# ---------------------------------------------------------------------------------------


def layer_rdms(
    model: Model,
    rec: Recording,
    layers: Sequence[str] | None = None,
    batch_size: int = 32,
    projection_dim: int | None = 2048,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Layer name -> (n, n) correlation-distance RDM over all stimuli of a static-image
    recording, from the activity averaged over the model's static window."""
    out = {}
    for spec, x in extract_activations(
        model.core,
        rec,
        layers=layers,
        projection_dim=projection_dim,
        seed=seed,
        batch_size=batch_size,
        window="model",
        progress=False,
    ):
        with np.errstate(invalid="ignore", divide="ignore"):
            out[spec.name] = np.asarray(rdm(x.astype(np.float64), "correlation"))
    return out


__all__ = [
    "Model",
    "frame_features",
    "layer_rdms",
    "load_model",
    "load_sequences",
    "sequence_trajectories",
    "tsrsa_shuffle_scores",
]

"""The movie-perturbation protocol of Huang et al. 2024 as one analysis: TSRSA between model
layers and a movie recording, with the neuron split-half ceiling, for the original movie and
each perturbation level (configured in ``snnvis/conf/analysis/tsrsa_perturbations.yaml``, run
with ``snnvis-perturb``).

The recording is a movie in clips (e.g. the Allen natural-movie layout,
:mod:`snnvis.recordings.importers.allen_natural_movie`): stimuli (clips, frames, H, W, C) and
per-frame responses. The brain side is always the repeat-averaged response to the original
movie, (clips, frames, neurons). The model sees each clip from reset, frames back to back
(the movie protocol), and its per-frame features (:func:`snnvis.analysis.models.frame_features`)
are compared frame by frame with the brain's (TSRSA over windows of ``tsrsa.window`` frames,
mean over windows and clips; :func:`snnvis.similarity.tsrsa_windows`):

* ``shuffle`` (level: window in frames; 1 = original): frames shuffled within consecutive
  windows before the model sees them, the model's trajectory put back into movie order before
  the comparison, so a model without state scores exactly as on the original;
* ``noise`` (level: inserted frames per original frame; 0 = original): Gaussian pixel-noise
  frames inserted at random positions of each clip; the responses to them are dropped, so what
  is measured is how the interruptions change the responses to the real frames;
* ``clip_length`` (level: frames; the full clip = original): each clip cut into subclips of
  that many frames, each seen from reset; TSRSA over the whole subclip, model and brain, and
  the ceiling recomputed for that length.

Ceiling: :func:`snnvis.similarity.tsrsa_split_half_ceiling` (random halves of the neurons,
Spearman-Brown corrected), one value per random split; the table gives their mean and the
2.5-97.5 % range over splits (the band of the figure). ``latency_frames`` compares the model at
frame t with the brain at frame t + latency (default 0: bins aligned to frame onsets, as the
Allen importer assumes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnvis.errors import UserError

PERTURBATIONS = ("shuffle", "noise", "clip_length")
FIGURE_STEM = "tsrsa_perturbations"


@dataclass(frozen=True)
class TsrsaSettings:
    """How TSRSA and its ceiling are computed (``tsrsa`` and ``ceiling`` of the config)."""

    window: int | None = None
    stride: int | None = None
    rdm_method: str = "correlation"
    compare: str = "spearman"
    n_splits: int = 20
    latency_frames: int = 0
    seed: int = 0


def _aligned(model_traj: np.ndarray, neural: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    if lag == 0:
        return model_traj, neural
    return model_traj[:, :-lag], neural[:, lag:]


def tsrsa_score(model_traj: np.ndarray, neural: np.ndarray, s: TsrsaSettings, window: int | None = None) -> float:
    """Mean TSRSA over windows and clips; ``window`` overrides ``s.window`` (None: whole clip)."""
    from snnvis.similarity import tsrsa_windows

    a, b = _aligned(np.asarray(model_traj, np.float64), np.asarray(neural, np.float64), s.latency_frames)
    w = s.window if window is None else window
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(tsrsa_windows(a, b, w, s.stride, s.rdm_method, s.compare))


def ceiling_splits(neural: np.ndarray, s: TsrsaSettings, window: int | None = None) -> np.ndarray:
    """(n_splits,) split-half ceilings, one per random split of the neurons."""
    from snnvis.similarity import tsrsa_split_half_ceiling

    b = neural[:, s.latency_frames :] if s.latency_frames else neural
    w = s.window if window is None else window
    return np.array(
        [
            float(tsrsa_split_half_ceiling(b, w, s.stride, 1, s.seed + k, s.rdm_method, s.compare))
            for k in range(s.n_splits)
        ]
    )


def _subclip_window(n_frames: int, length: int, s: TsrsaSettings) -> None:
    if length - s.latency_frames < 3 or length > n_frames:
        raise UserError(
            "perturbations.clip_lengths",
            f"{length} frames: need latency_frames + 3 <= length <= {n_frames} (the clip)",
        )


def _features(model, stimuli: torch.Tensor, layers, cfg, orders=None) -> dict[str, np.ndarray]:
    from snnvis.analysis.models import sequence_trajectories

    return sequence_trajectories(model, stimuli, layers, orders, cfg.batch_size, cfg.projection_dim, cfg.seed)


def perturbation_scores(model, stimuli: torch.Tensor, neural: np.ndarray, layers: Sequence[str], cfg, s) -> list[dict]:
    """Rows (layer, perturbation, level, tsrsa, tsrsa_sd, n_draws) for one model.

    ``stimuli``: uint8 (clips, frames, C, H, W) at the model's input size; ``neural``: (clips,
    frames, neurons) trial-mean responses to the original movie.
    """
    from snnvis.analysis.shuffle import shuffle_within_windows
    from snnvis.evaluation.perturbations import insert_noise_frames, noise_positions, subclips

    p = cfg.perturbations
    n_clips, n_frames = stimuli.shape[:2]
    rng = np.random.default_rng(cfg.seed)
    rows: list[dict] = []

    def add(name, level, values):
        v = np.asarray(values, dtype=np.float64)
        for i, layer in enumerate(layers):
            x = v[:, i]
            sd = float(np.std(x, ddof=1)) if len(x) > 1 else math.nan
            rows.append(
                {"layer": layer, "perturbation": name, "level": float(level), "tsrsa": float(np.mean(x))}
                | {"tsrsa_sd": sd, "n_draws": len(x)}
            )

    original = _features(model, stimuli, layers, cfg)
    base = [tsrsa_score(original[name], neural, s) for name in layers]
    add("original", 0, [base])
    for w in p.shuffle_windows:
        if int(w) == 1:
            add("shuffle", 1, [base])
            continue
        draws = []
        for _ in range(cfg.n_draws):
            orders = np.stack([shuffle_within_windows(n_frames, int(w), rng) for _ in range(n_clips)])
            f = _features(model, stimuli, layers, cfg, orders)
            draws.append([tsrsa_score(f[name], neural, s) for name in layers])
        add("shuffle", w, draws)
    as_float = stimuli.float() / 255.0
    for rate in p.noise_rates:
        if float(rate) == 0:
            add("noise", 0, [base])
            continue
        draws = []
        for _ in range(cfg.n_draws):
            clips, keeps = [], []
            for c in range(n_clips):
                x, keep = insert_noise_frames(as_float[c], noise_positions(n_frames, float(rate), rng), rng, axis=0)
                clips.append(x.clamp(0, 1))
                keeps.append(keep)
            f = _features(model, torch.stack(clips), layers, cfg)
            keep = np.stack(keeps)[:, :, None]  # the real frames' positions in each noisy clip
            draws.append([tsrsa_score(np.take_along_axis(f[n], keep, 1), neural, s) for n in layers])
        add("noise", rate, draws)
    for length in p.clip_lengths:
        length = int(length)
        _subclip_window(n_frames, length, s)
        if length == n_frames:
            add("clip_length", length, [[tsrsa_score(original[n], neural, s, n_frames) for n in layers]])
            continue
        parts = subclips(n_frames, length)
        sub = torch.cat([stimuli[:, idx] for idx in parts])  # (parts * clips, length, ...)
        brain = np.concatenate([neural[:, idx] for idx in parts])
        f = _features(model, sub, layers, cfg)
        add("clip_length", length, [[tsrsa_score(f[n], brain, s, length) for n in layers]])
    return rows


def _settings(cfg) -> TsrsaSettings:
    t, c = cfg.tsrsa, cfg.ceiling
    s = TsrsaSettings(
        None if t.window is None else int(t.window),
        None if t.stride is None else int(t.stride),
        str(t.rdm_method),
        str(t.compare),
        int(c.n_splits),
        int(cfg.latency_frames),
        int(cfg.seed),
    )
    if s.n_splits < 1 or s.latency_frames < 0 or int(cfg.n_draws) < 1:
        raise UserError("config", "need ceiling.n_splits >= 1, n_draws >= 1 and latency_frames >= 0")
    p = cfg.perturbations
    if any(int(w) < 1 for w in p.shuffle_windows) or any(not 0 <= float(r) <= 1 for r in p.noise_rates):
        raise UserError("perturbations", "shuffle_windows must be >= 1 and noise_rates in [0, 1]")
    return s


def _models(cfg, rec) -> list:
    from snnvis.analysis.models import load_model

    if cfg.checkpoints:
        return [load_model(Path(str(c)).name, checkpoint=str(c), seed=int(cfg.seed)) for c in cfg.checkpoints]
    calib = [(rec, np.arange(rec.n_stimuli))]
    out = []
    for spiking in cfg.untrained_spiking:
        m = dict(cfg.model)
        m["spiking"] = bool(spiking)
        out.append(load_model(f"{'SNN' if spiking else 'twin'} (untrained)", m, seed=int(cfg.seed), calibration=calib))
    return out


def analyse(cfg, out_dir: str | Path) -> list[dict]:
    """Run the configured analysis: every model x layer x perturbation level; writes
    ``tsrsa_perturbations.csv`` and the figure (PNG + PDF) into ``out_dir``; returns the rows."""
    from snnvis.analysis.models import load_sequences
    from snnvis.figures import save_figure, tsrsa_perturbations
    from snnvis.outputs import PERTURBATIONS_FILE, write_perturbations
    from snnvis.recordings.recording import Recording
    from snnvis.reporting.reproduction import pick_layers

    s = _settings(cfg)
    if not cfg.recording:
        raise UserError("recording", "no recording given (recording=path/to/movie.h5)")
    rec = Recording(str(cfg.recording))
    if rec.n_frames < 3:
        raise UserError("recording", f"needs clips of >= 3 frames (a movie), has {rec.n_frames}", rec.path)
    neural = rec.mean(cfg.response).astype(np.float64)  # (clips, frames, neurons)
    if neural.ndim != 3 or neural.shape[1] != rec.n_frames:
        raise UserError("response", f"must have one bin per frame, got shape {neural.shape}", rec.path)
    keep = np.isfinite(neural).all(axis=(0, 1))
    neural = neural[:, :, keep]
    if neural.shape[2] < 4:
        raise UserError("recording", "needs >= 4 neurons with a response to every frame (split halves)", rec.path)
    from snnvis.evaluation.perturbations import subclips

    full = rec.n_frames
    ceilings = {None: ceiling_splits(neural, s)}  # shuffle, noise, original: the TSRSA windows of the config
    for length in sorted({int(x) for x in cfg.perturbations.clip_lengths}):
        _subclip_window(full, length, s)
        brain = np.concatenate([neural[:, i] for i in subclips(full, length)])
        ceilings[length] = ceiling_splits(brain, s, length)
    rows = []
    for model in _models(cfg, rec):
        layers = list(cfg.layers) if cfg.layers else [x.name for x in pick_layers(model.core)]
        stimuli = load_sequences(rec, np.arange(rec.n_stimuli), model.core.input_size)
        for r in perturbation_scores(model, stimuli, neural, layers, cfg, s):
            length = int(r["level"]) if r["perturbation"] == "clip_length" else None
            c = ceilings[length]
            mean = float(np.mean(c))
            lo, hi = np.percentile(c, [2.5, 97.5])
            rows.append(
                {
                    "model": model.label,
                    "spiking": model.spiking,
                    "trained": model.trained,
                    **r,
                    "ceiling": mean,
                    "ceiling_lower": float(lo),
                    "ceiling_upper": float(hi),
                    "normalized": r["tsrsa"] / mean if mean > 0 else math.nan,
                    "tsrsa_window": length or s.window or full,
                    "n_clips": rec.n_stimuli,
                    "n_frames": full,
                    "n_neurons": int(neural.shape[2]),
                    "recording": rec.id,
                }
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_perturbations(out_dir / PERTURBATIONS_FILE, rows)
    fig = tsrsa_perturbations(rows, title=f"{rec.id}: {neural.shape[2]} neurons, {rec.n_stimuli} clips of {full}")
    save_figure(fig, out_dir / FIGURE_STEM)
    return rows


__all__ = ["FIGURE_STEM", "PERTURBATIONS", "TsrsaSettings", "analyse", "ceiling_splits", "perturbation_scores"]

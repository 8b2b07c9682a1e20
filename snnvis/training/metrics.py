"""Held-out prediction metrics per neuron, and their summaries by area and session."""

from __future__ import annotations

import numpy as np

from snnvis.similarity import ceilings

# Per-neuron 0/1 flags: summarised as a count and a fraction, not as a median.
FLAGS = ("silent", "failed")


def pearson_per_neuron(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r per neuron over all stimuli and bins. Inputs (n_stimuli, n_bins, n_neurons).

    A constant prediction of a varying response (e.g. from a silent SNN) explains none of
    it and scores 0, so silence cannot drop a neuron from a summary; a neuron whose
    response is constant has nothing to predict and gets NaN, and so does a non-finite
    prediction (a diverged model is a failure, not a silent model).
    """
    p = pred.reshape(-1, pred.shape[-1]).astype(np.float64)
    t = target.reshape(-1, target.shape[-1]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        constant = np.ptp(p, axis=0) == 0  # False for a non-finite prediction (ptp is NaN)
        p = p - p.mean(0)
        t = t - t.mean(0)
        pp, tt = (p * p).sum(0), (t * t).sum(0)
        r = (p * t).sum(0) / np.sqrt(pp * tt)
    return np.where(tt > 0, np.where(constant, 0.0, r), np.nan)  # NaN pp (non-finite prediction) stays NaN


def prediction_flags(pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per neuron, as 0/1 floats: ``silent`` (finite but constant prediction over all stimuli
    and bins) and ``failed`` (any non-finite prediction)."""
    p = pred.reshape(-1, pred.shape[-1])
    failed = ~np.isfinite(p).all(0)
    with np.errstate(invalid="ignore"):
        silent = ~failed & (np.ptp(np.where(np.isfinite(p), p, 0.0), axis=0) == 0)
    return {"silent": silent.astype(np.float64), "failed": failed.astype(np.float64)}


def per_bin_r(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per neuron: the correlation across stimuli within each time bin, averaged over bins."""
    r = np.stack([pearson_per_neuron(pred[:, k : k + 1], target[:, k : k + 1]) for k in range(pred.shape[1])])
    return np.nanmean(r, axis=0) if np.isfinite(r).any() else np.full(pred.shape[-1], np.nan)


def timecourse_r(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per neuron: correlation of the stimulus-averaged time course (PSTH shape) over bins."""
    return (
        pearson_per_neuron(pred.mean(0)[:, None, :], target.mean(0)[:, None, :])
        if pred.shape[1] > 1
        else np.full(pred.shape[-1], np.nan)
    )


def neuron_metrics(pred: np.ndarray, mean: np.ndarray, trials: np.ndarray | None, seed: int = 0) -> dict:
    """All per-neuron metrics for one session's test split.

    ``pred`` and ``mean`` are (n_stimuli, n_bins, n_neurons); ``trials`` is
    (n_stimuli, n_repeats, n_bins, n_neurons), NaN-padded, or None. Noise-corrected
    values treat every (stimulus, bin) as one condition. ``reliability`` is that of the
    repeat mean over all test stimuli (what r is computed against; it corrects
    ``pearson_r_corrected``), ``reliability_split_half`` the Spearman-Brown split-half value
    over the repeated stimuli only (Cowley et al.'s convention).
    """
    out = {"pearson_r": pearson_per_neuron(pred, mean), **prediction_flags(pred)}
    if mean.shape[1] > 1:
        out["per_bin_r"] = per_bin_r(pred, mean)
        out["timecourse_r"] = timecourse_r(pred, mean)
    if trials is not None and trials.shape[1] >= 2:
        n, reps, bins, neurons = trials.shape
        tr = trials.transpose(0, 2, 1, 3).reshape(n * bins, reps, neurons)  # (conditions, repeats, neurons)
        flat_pred = pred.reshape(n * bins, neurons)
        # the reliability of the repeat mean that r is computed against, over all test stimuli: with
        # equal repeat counts the Spearman-Brown split-half value; with duplicated images stored as
        # 2 repeats and the rest as 1 (Cowley 190925) lower, as single copies are noisier
        rel = ceilings.mean_reliability(tr, seed=seed)
        out["reliability"] = rel
        out["reliability_split_half"] = ceilings.split_half_reliability(tr, seed=seed)  # Cowley et al.'s
        with np.errstate(invalid="ignore", divide="ignore"):
            out["pearson_r_corrected"] = np.where(rel > 0, out["pearson_r"] / np.sqrt(rel), np.nan)
        out["r2_er"] = ceilings.noise_corrected_r2(flat_pred, tr)
        out["feve"] = ceilings.feve(flat_pred, tr)
    return out


def summarize(values: dict[str, np.ndarray], n_boot: int = 1000, seed: int = 0) -> dict:
    """Median and mean of every per-neuron metric, with a bootstrap 95% CI of the median over neurons;
    ``n_<flag>`` and ``<flag>_fraction`` for the :data:`FLAGS`."""
    rng = np.random.default_rng(seed)
    out: dict = {"n_neurons": int(len(values["pearson_r"]))}
    for key in FLAGS:
        if key in values:
            v = np.asarray(values[key], dtype=np.float64)
            out[f"n_{key}"] = int(np.nansum(v))
            out[f"{key}_fraction"] = float(np.nanmean(v)) if len(v) else None
    for key, v in values.items():
        if key in FLAGS:
            continue
        v = np.asarray(v, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            out.update({f"{key}_median": None, f"{key}_mean": None})
            continue
        boot = np.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
        out.update(
            {
                f"{key}_median": float(np.median(v)),
                f"{key}_mean": float(v.mean()),
                f"{key}_median_ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
            }
        )
    return out


def group_summaries(per_neuron: dict[str, np.ndarray], areas: np.ndarray, sessions: np.ndarray, seed: int = 0) -> dict:
    """``overall``, one entry per area, and ``sessions.<id>``: the public metrics.json layout."""

    def subset(mask):
        return {k: v[mask] for k, v in per_neuron.items()}

    out = {"overall": summarize(per_neuron, seed=seed)}
    for area in np.unique(areas):
        out[str(area)] = summarize(subset(areas == area), seed=seed)
    out["sessions"] = {str(s): summarize(subset(sessions == s), seed=seed) for s in np.unique(sessions)}
    return out

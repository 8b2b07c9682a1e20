"""Data of the time-axis figures: the recovery of ground-truth temporal kernels on the synthetic
movie (``snnvis-data synth --movie``), and the figure with its CSV.

:func:`fit_kernels` fits, per neuron, a Poisson GLM (log link) of a response on the neuron's
ground-truth spatial drive at lags 0..L-1 (divided by the stored drive s.d.) plus the stored
adaptation state and an intercept; the lag weights are the recovered temporal kernel, in the
units of the ground-truth kernel (the simulation's log rate is ``gain * sum_j h_j s_{t-j} /
drive_std - adapt_weight * a_t + const``, so the weights estimate ``gain * h``). Fitted to the
recorded trials it shows what the data carry; fitted to a model's predicted rates it shows what
the model learned. Latency (:func:`onset_latency`): the first lag whose weight reaches
``threshold`` of the kernel's peak magnitude; the true latency is the stored number of leading
zero bins of each ground-truth kernel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def poisson_glm(X: np.ndarray, y: np.ndarray, l2: float = 1e-6, n_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Weights (features + 1,), intercept last, of the Poisson GLM with log link that minimises
    the mean deviance + ``l2`` / 2 * |w|^2 (intercept not penalised), by Newton's method with
    step halving. ``X`` (samples, features), ``y`` (samples,) >= 0."""
    A = np.column_stack([X, np.ones(len(X))])
    w = np.zeros(A.shape[1])
    w[-1] = np.log(max(float(np.mean(y)), 1e-12))
    pen = np.full(A.shape[1], l2)
    pen[-1] = 0.0
    n = len(y)

    def loss(w):
        eta = A @ w
        return float(np.mean(np.exp(eta) - y * eta) + 0.5 * np.sum(pen * w * w))

    current = loss(w)
    for _ in range(n_iter):
        mu = np.exp(A @ w)
        grad = A.T @ (mu - y) / n + pen * w
        hess = (A * mu[:, None]).T @ A / n + np.diag(pen)
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(w)), grad)
        t = 1.0
        while t > 1e-8:
            trial = w - t * step
            new = loss(trial)
            if new <= current:
                break
            t /= 2
        w, change = trial, current - new
        current = new
        if change < tol:
            break
    return w


def lagged(drive: np.ndarray, n_lags: int) -> np.ndarray:
    """(frames, n_lags): column j is the whole movie's ``drive`` delayed by j frames (zero before
    the movie, when the screen was grey); index its rows for a subset of frames."""
    out = np.zeros((len(drive), n_lags))
    for j in range(n_lags):
        out[j:, j] = drive[: len(drive) - j]
    return out


def onset_latency(kernels: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """(neurons,) first lag (bins) at which |kernel| reaches ``threshold`` of its peak magnitude."""
    k = np.abs(np.asarray(kernels, dtype=np.float64))
    return np.argmax(k >= threshold * k.max(axis=1, keepdims=True), axis=1)


def fit_kernels(rec, responses: np.ndarray | None = None, clips=None, l2: float = 1e-6) -> dict:
    """Recovered kernels of a synthetic movie recording.

    Args:
        rec: a recording written by :func:`snnvis.recordings.synthetic_movie.generate_movie_recording`.
        responses: (clips, [repeats,] frames, neurons) counts or rates of the ``clips`` given
            (default: the recorded trials of every clip).
        clips: indices of the clips ``responses`` belongs to (default: all, in order).
        l2: ridge weight of the GLM.

    Returns:
        ``true`` and ``recovered`` (neurons, lags) kernels (``true`` scaled by each neuron's gain,
        the quantity the GLM estimates), ``true_latency`` (stored), ``recovered_latency``,
        ``adapt_weight`` and its estimate, ``frame_ms``, ``shape_r`` (neurons,).
    """
    gt = rec.ground_truth()
    if "temporal_kernels" not in gt:
        raise ValueError(f"{rec.path} has no /ground_truth/temporal_kernels (not a synthetic movie)")
    clips = np.arange(rec.n_stimuli) if clips is None else np.asarray(clips)
    y = rec.trials(None, clips) if responses is None else np.asarray(responses, dtype=np.float64)
    if y.ndim == 3:
        y = y[:, None]
    n_lags, F = gt["temporal_kernels"].shape[1], rec.n_frames
    frames = (clips[:, None] * F + np.arange(F)).reshape(-1)  # rows of the whole movie's arrays
    y = y.transpose(0, 2, 1, 3).reshape(len(frames), y.shape[1], -1)  # (frames, repeats, neurons)
    rec_k, adapt = [], []
    for k in range(y.shape[2]):
        X = np.column_stack(
            [lagged(gt["spatial_drive"][:, k] / gt["drive_std"][k], n_lags)[frames], gt["adaptation"][frames, k]]
        )
        ok = np.isfinite(y[:, :, k])
        rows = np.nonzero(ok)[0]
        w = poisson_glm(X[rows], y[:, :, k][ok], l2)
        rec_k.append(w[:n_lags])
        adapt.append(-w[n_lags])
    true = gt["temporal_kernels"] * gt["gain"][:, None]
    recovered = np.array(rec_k)
    r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(true, recovered)])
    return {
        "true": true,
        "recovered": recovered,
        "true_latency": gt["latency_bins"].astype(int),
        "recovered_latency": onset_latency(recovered),
        "adapt_weight": gt["adapt_weight"],
        "adapt_weight_fit": np.array(adapt),
        "frame_ms": rec.frame_timing()[1],
        "shape_r": r,
        "neuron_ids": [str(x) for x in rec.neuron_ids],
    }


def figure_kernel_recovery(
    rec, out: Path, entries: list, what: str = "recorded trials", color: str | None = None, **fit
) -> dict:
    """The recovery figure (PNG + PDF) and ``kernel_recovery.csv`` in ``out``; returns the fit.
    ``fit``: arguments of :func:`fit_kernels` (e.g. a model's predicted rates and their clips)."""
    from snnvis.figures.time_axis import kernel_recovery
    from snnvis.outputs import write_results
    from snnvis.reporting.figures import save_entry

    d = fit_kernels(rec, **fit)
    fig = kernel_recovery(
        d["true"],
        d["recovered"],
        d["frame_ms"],
        d["true_latency"],
        d["recovered_latency"],
        d["neuron_ids"],
        **({} if color is None else {"color": color}),
    )
    n = len(d["shape_r"])
    save_entry(
        fig,
        Path(out) / "kernel_recovery",
        entries,
        f"Temporal kernels recovered from the {what} of the synthetic movie",
        f"{rec.id}: {n} LNP neurons with biphasic kernels and adaptation. Black: ground truth (times the "
        "neuron's gain); dashed: the lag weights of a Poisson GLM on the true spatial drive and adaptation. "
        f"Shape r median {np.median(d['shape_r']):.2f}; latency (first lag at 25 % of the peak) within one "
        f"frame for {int(np.sum(np.abs(d['recovered_latency'] - d['true_latency']) <= 1))}/{n} neurons.",
    )
    rows = [
        {
            "neuron": d["neuron_ids"][k],
            "shape_r": float(d["shape_r"][k]),
            "true_latency_frames": int(d["true_latency"][k]),
            "recovered_latency_frames": int(d["recovered_latency"][k]),
            "adapt_weight": float(d["adapt_weight"][k]),
            "adapt_weight_fit": float(d["adapt_weight_fit"][k]),
        }
        for k in range(n)
    ]
    write_results(Path(out) / "kernel_recovery.csv", rows, list(rows[0]))
    return d


def figure_tsrsa_perturbations(rec, out: Path, entries: list, overrides=(), quick: bool = False) -> list[dict]:
    """The TSRSA perturbation analysis (``snnvis/conf/analysis/tsrsa_perturbations.yaml`` with
    ``overrides``) on a movie recording; its table and figure go into ``out`` and the figure is listed.
    ``quick``: fewer levels and draws."""
    from snnvis.config import compose
    from snnvis.evaluation.perturbation_analysis import FIGURE_STEM, analyse
    from snnvis.reporting.figures import FigureEntry

    fast = ["perturbations.shuffle_windows=[1,4,16]", "perturbations.noise_rates=[0,0.25]", "n_draws=1"]
    cfg = compose("analysis/tsrsa_perturbations", [f"recording={rec.path}", *(fast if quick else []), *overrides])
    rows = analyse(cfg, out)
    entries.append(
        FigureEntry(
            Path(out) / FIGURE_STEM,
            f"TSRSA under movie perturbations (Huang et al. 2024): {rec.id}",
            "Untrained SNN (orange) and twin (green), the first V1 layer and the deepest; TSRSA between model "
            "and recorded per-frame trajectories (Spearman of correlation RDMs over frames, mean over windows "
            "and clips) for frames shuffled within windows (trajectories put back in order), inserted noise "
            "frames (their responses dropped) and clips cut shorter (each seen from reset). Grey: the neuron "
            "split-half ceiling (mean and 2.5-97.5 % over random splits). Table: tsrsa_perturbations.csv.",
        )
    )
    return rows

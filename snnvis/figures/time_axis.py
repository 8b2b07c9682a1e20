"""Figures on a real time axis: predicted vs recorded PSTHs in ms after stimulus onset, and the
recovery of ground-truth temporal kernels on the synthetic movie."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import new_figure
from .colors import SNN_COLOR

DATA_COLOR = "#1f77b4"  # a fit to recorded data, neither SNN nor twin


def _stimuli_first(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        return a[None]
    if a.ndim != 3:
        raise ValueError(f"{name}: expected (bins, neurons) or (stimuli, bins, neurons), got shape {a.shape}")
    return a


def psth_time_course(
    pred,
    resp,
    t_ms,
    units: str,
    neuron_labels,
    stimulus_labels=None,
    resp_sem=None,
    latency_ms=None,
    color: str = SNN_COLOR,
) -> Figure:
    """Predicted vs recorded PSTHs against time after stimulus onset: one row per neuron, one
    column per stimulus.

    Args:
        pred, resp: (bins, neurons) or (stimuli, bins, neurons): the model's and the recorded
            (trial-mean) PSTH of each neuron, in ``units``.
        t_ms: (bins,) bin centres in ms after stimulus onset, strictly increasing.
        units: what the y values are, e.g. ``"spikes/s"`` or ``"spike count per 10 ms bin"``.
        neuron_labels: (neurons,) row labels; stimulus_labels: (stimuli,) column titles.
        resp_sem: like ``resp``: s.e.m. of the recorded mean over trials (grey band).
        latency_ms: (neurons,) the model's fitted latency per neuron, marked by a dashed line
            (the onset, 0 ms, by a thin grey one).
        color: colour of the predicted curve (SNN orange, twin green).

    Returns:
        The grid; each panel states the Pearson r of the two curves ("flat" when one is constant).
    """
    p, r = _stimuli_first(pred, "pred"), _stimuli_first(resp, "resp")
    sem = None if resp_sem is None else _stimuli_first(resp_sem, "resp_sem")
    t = np.asarray(t_ms, dtype=np.float64)
    neurons = [str(x) for x in neuron_labels]
    stimuli = [f"stimulus {k}" for k in range(p.shape[0])] if stimulus_labels is None else list(stimulus_labels)
    shape = (len(stimuli), t.size, len(neurons))
    if p.shape != shape or r.shape != shape or (sem is not None and sem.shape != shape):
        raise ValueError(f"shapes disagree: pred {p.shape}, resp {r.shape}; expected (stimuli, bins, neurons) {shape}")
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("t_ms must be strictly increasing bin centres in ms (at least two)")
    lat = None if latency_ms is None else np.asarray(latency_ms, dtype=np.float64).reshape(-1)
    if lat is not None and lat.size != len(neurons):
        raise ValueError(f"latency_ms has {lat.size} values for {len(neurons)} neurons")
    if not str(units).strip():
        raise ValueError("units must say what the PSTH values are (e.g. 'spikes/s')")
    fig = new_figure(1.2 + 2.4 * len(stimuli), 0.5 + 1.7 * len(neurons))
    axes = fig.subplots(len(neurons), len(stimuli), squeeze=False, sharex=True, sharey="row")
    for (i, j), ax in np.ndenumerate(axes):
        pc, rc = p[j, :, i], r[j, :, i]
        if sem is not None:
            ax.fill_between(t, rc - sem[j, :, i], rc + sem[j, :, i], color="0.8", lw=0, label="recorded ± s.e.m.")
        ax.plot(t, rc, color="k", lw=1.2, label="recorded")
        ax.plot(t, pc, color=color, lw=1.2, label="predicted")
        ax.axvline(0.0, color="0.6", lw=0.6)
        if lat is not None and np.isfinite(lat[i]):
            ax.axvline(lat[i], color=color, lw=0.9, ls="--", label=f"latency {lat[i]:.0f} ms")
        ok = np.std(pc) > 0 and np.std(rc) > 0
        ax.text(
            0.98,
            0.96,
            f"r = {np.corrcoef(pc, rc)[0, 1]:.2f}" if ok else "r = flat",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
        if i == 0:
            ax.set_title(stimuli[j], fontsize=8)
        if j == 0:
            ax.set_ylabel(f"{neurons[i]}\n{units}", fontsize=8)
            if lat is not None:
                ax.legend(fontsize=6, frameon=False, loc="upper left")
        if i == len(neurons) - 1:
            ax.set_xlabel("time after stimulus onset (ms)")
    if lat is None:
        axes[0, 0].legend(fontsize=6, frameon=False, loc="upper left")
    return fig


def kernel_recovery(
    gt_kernels, recovered_kernels, bin_ms: float, gt_latency, recovered_latency, labels=None, color: str = DATA_COLOR
) -> Figure:
    """Ground-truth vs recovered temporal kernels of synthetic neurons, and their latencies.

    Args:
        gt_kernels, recovered_kernels: (neurons, lags): weight of the input ``j`` bins ago
            (lag 0 = the current bin); each is scaled to unit peak magnitude for the drawing.
        bin_ms: duration of one lag (e.g. a movie frame, 33.3 ms).
        gt_latency, recovered_latency: (neurons,) latencies in bins.
        labels: (neurons,) panel titles (default: ``neuron k``).
        color: of the recovered kernels (default blue: fitted to data; SNN orange or twin green
            when fitted to a model's predictions).

    Returns:
        One panel per neuron (kernels against lag in ms, with the shape correlation r), and a
        last panel of recovered vs true latency (ms) with the identity and ±1 bin.
    """
    gt, rec = np.asarray(gt_kernels, np.float64), np.asarray(recovered_kernels, np.float64)
    if gt.ndim != 2 or gt.shape != rec.shape:
        raise ValueError(f"kernels must be (neurons, lags) of the same shape, got {gt.shape} and {rec.shape}")
    lat_t, lat_r = np.asarray(gt_latency, np.float64), np.asarray(recovered_latency, np.float64)
    n, lags = gt.shape
    if lat_t.shape != (n,) or lat_r.shape != (n,):
        raise ValueError(f"latencies must be ({n},), got {lat_t.shape} and {lat_r.shape}")
    labels = [f"neuron {k}" for k in range(n)] if labels is None else [str(x) for x in labels]
    cols = min(4, n + 1)
    rows = -(-(n + 1) // cols)
    fig = new_figure(0.6 + 2.3 * cols, 0.4 + 1.9 * rows)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    lag_ms = np.arange(lags) * bin_ms

    def unit(k):
        peak = np.max(np.abs(k))
        return k / peak if peak > 0 else k

    for k in range(n):
        ax = axes[k]
        ax.axhline(0, color="0.8", lw=0.6)
        ax.plot(lag_ms, unit(gt[k]), color="k", lw=1.4, marker=".", label="ground truth")
        ax.plot(lag_ms, unit(rec[k]), color=color, lw=1.2, ls="--", marker=".", label="recovered")
        ok = np.std(gt[k]) > 0 and np.std(rec[k]) > 0
        r = f"{np.corrcoef(gt[k], rec[k])[0, 1]:.2f}" if ok else "flat"
        ax.set_title(f"{labels[k]}: r = {r}", fontsize=8)
        ax.set_xlabel("lag (ms)", fontsize=8)
    axes[0].set_ylabel("kernel (peak = 1)")
    axes[0].legend(fontsize=6, frameon=False)
    ax = axes[n]
    lim = (min(lat_t.min(), lat_r.min()) - 1) * bin_ms, (max(lat_t.max(), lat_r.max()) + 1) * bin_ms
    x = np.linspace(*lim, 2)
    ax.fill_between(x, x - bin_ms, x + bin_ms, color="0.9", lw=0, label="± 1 bin")
    ax.plot(x, x, color="0.5", lw=0.8)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, n) * bin_ms
    ax.scatter(lat_t * bin_ms + jitter, lat_r * bin_ms, s=14, color=color, zorder=3)
    within = int(np.sum(np.abs(lat_r - lat_t) <= 1))
    ax.set(xlim=lim, ylim=lim, xlabel="true latency (ms)", ylabel="recovered latency (ms)")
    ax.set_title(f"latency: {within}/{n} within 1 bin", fontsize=8)
    ax.legend(fontsize=6, frameon=False, loc="upper left")
    for extra in axes[n + 1 :]:
        extra.set_visible(False)
    return fig

"""Predicted vs recorded PSTHs of example neurons."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ._common import SNN_COLOR, new_figure


def _as_stimuli(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        return a[None]
    if a.ndim != 3:
        raise ValueError(f"expected (bins, neurons) or (stimuli, bins, neurons), got shape {a.shape}")
    return a


def psth_examples(pred, resp, bin_centers_ms, neuron_labels, ncols: int = 4,
                  units: str = "response", color: str = SNN_COLOR) -> Figure:
    """Small multiples of predicted and recorded PSTHs, one panel per neuron.

    Args:
        pred, resp: (bins, neurons) or (stimuli, bins, neurons), same shape; with a
            stimulus axis the PSTH is the mean over stimuli and the recorded one is shaded
            by its standard error.
        bin_centers_ms: (bins,) time of each bin.
        neuron_labels: (neurons,) panel titles.
        ncols: panels per row.
        units: y-axis label.
        color: colour of the predicted curve.

    Returns:
        One panel per neuron with both curves and the Pearson r between the two PSTHs
        ("flat" where either PSTH is constant).
    """
    p, r = _as_stimuli(pred), _as_stimuli(resp)
    t = np.asarray(bin_centers_ms, dtype=np.float64)
    labels = list(neuron_labels)
    if p.shape != r.shape or p.shape[1] != t.size or p.shape[2] != len(labels):
        raise ValueError(f"shapes disagree: pred {p.shape}, resp {r.shape}, {t.size} bins, {len(labels)} labels")
    n = len(labels)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = new_figure(2.4 * ncols, 1.9 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    for k, ax in enumerate(axes):
        if k >= n:
            fig.delaxes(ax)
            continue
        pm, rm = p[:, :, k].mean(0), r[:, :, k].mean(0)
        if r.shape[0] > 1:
            sem = r[:, :, k].std(0, ddof=1) / math.sqrt(r.shape[0])
            ax.fill_between(t, rm - sem, rm + sem, color="0.7", lw=0)
        ax.plot(t, rm, color="k", lw=1.2, label="recorded")
        ax.plot(t, pm, color=color, lw=1.2, label="predicted")
        corr = f"{np.corrcoef(pm, rm)[0, 1]:.2f}" if np.std(pm) > 0 and np.std(rm) > 0 else "flat"
        ax.set_title(f"{labels[k]}\nr(PSTHs) = {corr}", fontsize=8)
        if k % ncols == 0:
            ax.set_ylabel(units)
        if k >= n - ncols:                                 # no panel below: show the time axis
            ax.set_xlabel("time (ms)")
            ax.tick_params(labelbottom=True)
    axes[0].legend(fontsize=7, frameon=False)
    return fig

"""Predicted vs recorded responses of example neurons, bin by bin (e.g. one count per frame of a
sequence). The x axis is whatever ``xlabel`` says the bins are; for PSTHs in ms after stimulus
onset, with latency and units, use :func:`snnvis.figures.time_axis.psth_time_course`."""

from __future__ import annotations

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


def psth_examples(
    pred,
    resp,
    bin_centers_ms,
    neuron_labels,
    stimulus_labels=None,
    resp_sem=None,
    units: str = "response",
    xlabel: str = "bin",
    color: str = SNN_COLOR,
) -> Figure:
    """Predicted and recorded responses per bin: one row per neuron, one column per stimulus.

    Args:
        pred, resp: (bins, neurons) or (stimuli, bins, neurons), same shape: the predicted
            and the trial-averaged recorded response of each neuron to each stimulus.
        bin_centers_ms: (bins,) x position of each bin (an index, or a time if ``xlabel`` says so).
        neuron_labels: (neurons,) row labels.
        stimulus_labels: (stimuli,) column titles (default: "stimulus k").
        resp_sem: optional, shaped like ``resp``: the standard error of the recorded mean
            over trials, drawn as a grey band.
        units: y-axis label: what the values are (e.g. the response set's units).
        xlabel: x-axis label; the default ``bin`` claims no time unit.
        color: colour of the predicted curve.

    Returns:
        A grid of panels, each with both curves and the Pearson r between them ("flat"
        where either is constant, e.g. for a silent model). Rows share their y-axis.
    """
    p, r = _as_stimuli(pred), _as_stimuli(resp)
    sem = None if resp_sem is None else _as_stimuli(resp_sem)
    t = np.asarray(bin_centers_ms, dtype=np.float64)
    neurons = list(neuron_labels)
    stimuli = list(stimulus_labels) if stimulus_labels is not None else [f"stimulus {k}" for k in range(p.shape[0])]
    expected = (len(stimuli), t.size, len(neurons))
    if p.shape != expected or r.shape != expected or (sem is not None and sem.shape != expected):
        raise ValueError(
            f"shapes disagree: pred {p.shape}, resp {r.shape}, expected (stimuli, bins, neurons) = "
            f"{expected} from the labels and bin times"
        )
    fig = new_figure(1.0 + 2.3 * len(stimuli), 0.4 + 1.6 * len(neurons))
    axes = fig.subplots(len(neurons), len(stimuli), squeeze=False, sharex=True, sharey="row")
    for (i, j), ax in np.ndenumerate(axes):
        pc, rc = p[j, :, i], r[j, :, i]
        if sem is not None:
            ax.fill_between(t, rc - sem[j, :, i], rc + sem[j, :, i], color="0.8", lw=0)
        ax.plot(t, rc, color="k", lw=1.2, marker=".", ms=3, label="recorded")
        ax.plot(t, pc, color=color, lw=1.2, marker=".", ms=3, label="predicted")
        corr = f"{np.corrcoef(pc, rc)[0, 1]:.2f}" if np.std(pc) > 0 and np.std(rc) > 0 else "flat"
        ax.text(0.98, 0.96, f"r = {corr}", transform=ax.transAxes, ha="right", va="top", fontsize=7)
        if i == 0:
            ax.set_title(stimuli[j], fontsize=8)
        if j == 0:
            ax.set_ylabel(f"{neurons[i]}\n{units}", fontsize=8)
        if i == len(neurons) - 1:
            ax.set_xlabel(xlabel)
    axes[0, 0].legend(fontsize=7, frameon=False, loc="upper left")
    return fig

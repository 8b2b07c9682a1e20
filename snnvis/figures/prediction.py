"""Held-out prediction accuracy of an SNN against its DNN twin."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import DNN_COLOR, SNN_COLOR, mean_ci, new_figure


def _pairs(records: list[dict]) -> dict[str, list[tuple[dict, dict]]]:
    """model name -> [(snn run, twin run)] for every seed that has both."""
    runs: dict[tuple, dict] = {}
    for r in records:
        key = (r["model"], int(r["seed"]), bool(r["spiking"]))
        if key in runs:
            raise ValueError(f"two runs for model {key[0]!r}, seed {key[1]}, spiking={key[2]}")
        runs[key] = r
    pairs: dict[str, list] = {}
    for (model, seed, spiking), r in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if spiking and (model, seed, False) in runs:
            pairs.setdefault(model, []).append((r, runs[(model, seed, False)]))
    if not pairs:
        raise ValueError("no SNN run has a DNN twin (same model name and seed, spiking=False)")
    return pairs


def _paired_r(snn: dict, twin: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of the neurons both runs scored, in the SNN run's order."""
    twin_r = dict(zip(np.asarray(twin["neuron_ids"], dtype=str), np.asarray(twin["pearson_r"], dtype=float)))
    ids = np.asarray(snn["neuron_ids"], dtype=str)
    keep = np.array([i in twin_r for i in ids], dtype=bool)
    return np.array([twin_r[i] for i in ids[keep]]), np.asarray(snn["pearson_r"], dtype=float)[keep]


def prediction_accuracy(records: list[dict], ci: float = 0.95) -> Figure:
    """Per-neuron accuracy of each SNN vs its DNN twin, and median accuracy per model.

    Args:
        records: one per training run, e.g. from :func:`snnvis.analysis.runs.load_accuracy`:
            ``model`` (config name, shared by twins), ``spiking``, ``seed``,
            ``neuron_ids`` and ``pearson_r`` (held-out r per neuron).
        ci: confidence level of the interval across seeds.

    Returns:
        One scatter panel per model (x: twin r, y: SNN r for the same neurons and seed;
        identity line), then a bar panel: median r over neurons, averaged over seeds, with
        a Student-t CI across seeds where a model has two or more (dots: single seeds; the
        y label names the interval only when one is drawn). The legend sits above the bars.
        Models are paired only with the twin of the same name and seed.
    """
    pairs = _pairs(records)
    n = len(pairs)
    fig = new_figure(3.2 * (n + 1), 3.4)
    axes = fig.subplots(1, n + 1, squeeze=False)[0]
    for ax, (model, model_pairs) in zip(axes, pairs.items()):
        xs, ys = zip(*(_paired_r(s, t) for s, t in model_pairs))
        x, y = np.concatenate(xs), np.concatenate(ys)
        ax.scatter(x, y, s=9, alpha=0.6, color=SNN_COLOR, edgecolors="none")
        finite = np.isfinite(x) & np.isfinite(y)
        lo = min(0.0, float(np.min(x[finite], initial=0.0)), float(np.min(y[finite], initial=0.0)))
        hi = max(1e-3, float(np.max(x[finite], initial=0.0)), float(np.max(y[finite], initial=0.0)))
        pad = 0.05 * (hi - lo)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=0.8, ls="--")
        ax.set(
            xlim=(lo - pad, hi + pad),
            ylim=(lo - pad, hi + pad),
            aspect="equal",
            xlabel="DNN twin: held-out r",
            ylabel="SNN: held-out r",
            title=model,
        )
        better = int(np.sum(y[finite] > x[finite]))
        ax.text(
            0.03,
            0.97,
            f"SNN > twin: {better}/{int(finite.sum())} neurons\n{len(model_pairs)} seed(s)",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )

    bar = axes[-1]
    width = 0.38
    n_seeds = [len(p) for p in pairs.values()]
    for i, model_pairs in enumerate(pairs.values()):
        for offset, kind, color in ((-width / 2, 0, SNN_COLOR), (width / 2, 1, DNN_COLOR)):
            medians = np.array([np.nanmedian(np.asarray(p[kind]["pearson_r"], dtype=float)) for p in model_pairs])
            mean, lo, hi = mean_ci(medians, ci)
            err = None if np.isnan(lo) else [[mean - lo], [hi - mean]]
            bar.bar(
                i + offset,
                mean,
                width,
                color=color,
                yerr=err,
                capsize=3,
                label=("SNN" if kind == 0 else "DNN twin") if i == 0 else None,
            )
            bar.scatter(np.full(medians.size, i + offset), medians, s=10, color="k", zorder=3)
    bar.set_xticks(range(n), list(pairs))
    if min(n_seeds) >= 2:
        ylabel = f"median held-out r\n(mean over seeds, {ci:.0%} t-CI across seeds)"
    elif max(n_seeds) >= 2:
        ylabel = f"median held-out r\n(mean over seeds; {ci:.0%} t-CI where ≥ 2 seeds)"
    else:
        ylabel = "median held-out r\n(one seed)"
    bar.set_ylabel(ylabel)
    bar.axhline(0, color="0.5", lw=0.6)
    bar.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    return fig

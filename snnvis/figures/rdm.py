"""Monkey-IT RDM next to model-layer RDMs (Kriegeskorte et al. 2008 style)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import rankdata

from ._common import new_figure
from .colors import label_styles


def rank_transform(rdm) -> np.ndarray:
    """Off-diagonal dissimilarities replaced by their percentile (0-100) among all pairs,
    ties averaged; the diagonal is 0. The matrix is symmetrised from its upper triangle."""
    d = np.asarray(rdm, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"RDM must be square, got {d.shape}")
    n = d.shape[0]
    iu = np.triu_indices(n, 1)
    out = np.zeros_like(d)
    if iu[0].size:
        ranks = rankdata(d[iu])
        out[iu] = 100.0 * (ranks - 1) / max(ranks.size - 1, 1)
        out[(iu[1], iu[0])] = out[iu]
    return out


def kriegeskorte_rdms(
    brain_rdm,
    model_rdms: dict,
    scores: dict,
    ceiling: tuple[float, float],
    brain_label: str = "monkey IT",
    score_label: str = "RSA (Spearman)",
    cmap: str = "viridis",
    intervals: dict | None = None,
    categories=None,
) -> Figure:
    """Brain RDM and model-layer RDMs side by side, plus RSA scores against the ceiling.

    Args:
        brain_rdm: (n, n) reference RDM.
        model_rdms: {layer: (n, n) RDM over the same stimuli}.
        scores: {layer: RSA score}; layers without a score get no bar.
        ceiling: (lower, upper) noise ceiling of the score, drawn as a band.
        intervals: optional {layer: (low, high)} confidence interval of each score,
            drawn as an error bar.
        categories: optional (n,) category of each stimulus, in RDM order; each run of
            equal categories gets a tick at its centre and boundary lines.

    Returns:
        One panel per RDM, each rank-transformed into percentiles (as in the paper), a
        shared colour bar, and a bar panel of the scores with the ceiling band. SNN bars
        orange, twin bars green (labels starting "SNN"/"twin").
    """
    mats = {brain_label: np.asarray(brain_rdm, dtype=np.float64), **model_rdms}
    n = mats[brain_label].shape[0]
    for name, m in mats.items():
        if np.shape(m) != (n, n):
            raise ValueError(f"RDM {name!r} has shape {np.shape(m)}, expected ({n}, {n})")
    groups = category_runs(categories, n)
    k = len(mats)
    fig = new_figure(max(2.3 * k + 1.6, 6.0), 6.8)
    grid = fig.add_gridspec(2, k, height_ratios=[1.0, 1.15])
    axes = [fig.add_subplot(grid[0, i]) for i in range(k)]
    im = None
    for i, (ax, (name, m)) in enumerate(zip(axes, mats.items())):
        im = ax.imshow(rank_transform(m), cmap=cmap, vmin=0, vmax=100, interpolation="nearest")
        ax.set_title(_wrap(name), fontsize=8)
        ax.set(xticks=[], yticks=[])
        if groups:
            centres = [(a + b - 1) / 2 for _, a, b in groups]
            names = [g for g, _, _ in groups]
            for _, a, _ in groups[1:]:
                ax.axhline(a - 0.5, color="w", lw=0.6)
                ax.axvline(a - 0.5, color="w", lw=0.6)
            ax.set_xticks(centres, names, rotation=90, fontsize=5.5)
            ax.set_yticks(centres, names if i == 0 else [""] * len(names), fontsize=5.5)
            ax.tick_params(length=2, pad=1)
    fig.colorbar(im, ax=axes, label="dissimilarity\n(percentile)", shrink=0.8)

    bar = fig.add_subplot(grid[1, :])
    names = [name for name in model_rdms if name in scores]
    if np.all(np.isfinite(ceiling)):  # NaN: no ceiling to draw (e.g. a single RDM)
        bar.axhspan(ceiling[0], ceiling[1], color="0.85", label="noise ceiling")
    heights = np.array([scores[name] for name in names], dtype=np.float64)
    yerr = None
    if intervals:
        lo, hi = np.array([intervals.get(name, (np.nan, np.nan)) for name in names], dtype=np.float64).T
        yerr = np.nan_to_num(np.stack([heights - lo, hi - heights]))
    styles = label_styles(names)
    bar.bar(range(len(names)), heights, color=[styles[k]["color"] for k in names], yerr=yerr, capsize=4)
    bar.set_xticks(range(len(names)), [_wrap(name) for name in names], fontsize=8)
    bar.set(ylabel=score_label, title=f"similarity to {brain_label}")
    bar.axhline(0, color="0.5", lw=0.6)
    for i in np.flatnonzero(~np.isfinite(heights)):  # e.g. a silent layer: no RDM, no score
        bar.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8, color="0.3")
    if bar.get_legend_handles_labels()[0]:
        bar.legend(fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0))
    return fig


def _wrap(label: str) -> str:
    """Put a layer name and its model on separate lines: 'model (x) layer' -> two lines."""
    return label.replace(") ", ")\n", 1)


def category_runs(categories, n: int) -> list[tuple[str, int, int]]:
    """(category, start, stop) of each run of equal consecutive categories; [] without categories."""
    if categories is None:
        return []
    cats = [str(c) for c in categories]
    if len(cats) != n:
        raise ValueError(f"{len(cats)} categories for {n} stimuli")
    runs: list[tuple[str, int, int]] = []
    for i, c in enumerate(cats):
        if runs and runs[-1][0] == c:
            runs[-1] = (c, runs[-1][1], i + 1)
        else:
            runs.append((c, i, i + 1))
    return runs

"""Layer x brain-area similarity heatmaps."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import new_figure


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def similarity_heatmaps(rows: list[dict], value: str = "score", cmap: str = "viridis", annotate: bool = True) -> Figure:
    """One heatmap per metric: model layers (rows, by depth) x brain areas (columns).

    Args:
        rows: records as in scores.csv, with ``layer``, ``depth``, ``area``, ``metric`` and
            the column named by ``value`` (e.g. ``score`` or ``normalized``); one row per
            (metric, layer, area).
        value: which column to show.
        annotate: write each cell's value.

    Returns:
        A figure with one panel (and colour bar) per metric, in first-seen order; areas
        in first-seen order; missing cells blank, cells whose value is undefined (None or
        NaN, e.g. a silent layer) grey and marked "n/a".
    """
    if not rows:
        raise ValueError("no rows to plot")
    metrics = _ordered(r["metric"] for r in rows)
    depth = {}
    for r in rows:
        depth.setdefault(r["layer"], float(r["depth"]))
    layers = sorted(depth, key=lambda layer: depth[layer])  # stable: ties keep first-seen order
    areas = _ordered(r["area"] for r in rows)
    fig = new_figure(1.0 + 1.4 * len(areas) * len(metrics) + 1.2 * len(metrics), 1.2 + 0.35 * len(layers))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        grid = np.full((len(layers), len(areas)), np.nan)
        present = np.zeros(grid.shape, dtype=bool)
        for r in rows:
            if r["metric"] != metric:
                continue
            i, j = layers.index(r["layer"]), areas.index(r["area"])
            if present[i, j]:
                raise ValueError(f"two rows for metric {metric!r}, layer {r['layer']!r}, area {r['area']!r}")
            present[i, j] = True
            grid[i, j] = np.nan if r[value] is None else float(r[value])
        undefined = present & np.isnan(grid)
        ax.imshow(np.where(undefined, 1.0, np.nan), cmap="Greys", vmin=0, vmax=6, aspect="auto")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(areas)), areas)
        ax.set_yticks(range(len(layers)), layers)
        ax.set(title=metric, xlabel="brain area", ylabel="layer (by depth)")
        fig.colorbar(im, ax=ax, label=value, shrink=0.9)
        if annotate:
            finite = grid[np.isfinite(grid)]
            mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
            for (i, j), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="k" if v > mid else "w")
                elif undefined[i, j]:
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="0.3")
    return fig

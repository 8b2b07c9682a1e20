"""Layer x brain-area similarity heatmaps."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import new_figure


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def _num(v) -> float:
    return np.nan if v is None or v == "" else float(v)


def shared_range(*row_sets, value: str = "score") -> tuple[float, float]:
    """(vmin, vmax) over the finite ``value`` of every row of every set: one colour range for
    figures that are meant to be compared (e.g. an SNN and its twin); (0, 1) when none is finite."""
    v = np.array([_num(r.get(value)) for rows in row_sets for r in rows], dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def similarity_heatmaps(
    rows: list[dict],
    value: str = "score",
    cmap: str = "viridis",
    annotate: bool = True,
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """One heatmap per metric: model layers (rows, by depth) x brain areas (columns), all
    panels on one colour range with one colour bar.

    Args:
        rows: records as in scores.csv, with ``layer``, ``depth``, ``area``, ``metric`` and
            the column named by ``value`` (e.g. ``score`` or ``normalized``); one row per
            (metric, layer, area). Optional ``ci_low``/``ci_high``: the cell's interval.
        value: which column to show.
        annotate: write each cell's value, and its interval below it where there is one.
        title: figure title (e.g. the model and "SNN" or "DNN twin").
        vmin, vmax: the colour range (default: that of the rows; pass
            :func:`shared_range` of several figures to make them comparable).

    Returns:
        A figure with one panel per metric, in first-seen order; areas in first-seen order;
        missing cells blank; cells whose value is undefined (None or NaN, e.g. a silent
        layer) grey and marked "n/a"; cells whose interval contains 0 hatched.
    """
    if not rows:
        raise ValueError("no rows to plot")
    metrics = _ordered(r["metric"] for r in rows)
    depth = {}
    for r in rows:
        depth.setdefault(r["layer"], float(r["depth"]))
    layers = sorted(depth, key=lambda layer: depth[layer])  # stable: ties keep first-seen order
    areas = _ordered(r["area"] for r in rows)
    lo_default, hi_default = shared_range(rows, value=value)
    vmin = lo_default if vmin is None else vmin
    vmax = hi_default if vmax is None else vmax
    fig = new_figure(1.6 + 1.5 * len(areas) * len(metrics) + 1.0 * len(metrics), 1.5 + 0.45 * len(layers))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    im = None
    for k, (ax, metric) in enumerate(zip(axes, metrics)):
        grid = np.full((len(layers), len(areas)), np.nan)
        low, high = grid.copy(), grid.copy()
        present = np.zeros(grid.shape, dtype=bool)
        for r in rows:
            if r["metric"] != metric:
                continue
            i, j = layers.index(r["layer"]), areas.index(r["area"])
            if present[i, j]:
                raise ValueError(f"two rows for metric {metric!r}, layer {r['layer']!r}, area {r['area']!r}")
            present[i, j] = True
            grid[i, j] = _num(r[value])
            low[i, j], high[i, j] = _num(r.get("ci_low")), _num(r.get("ci_high"))
        undefined = present & np.isnan(grid)
        ax.imshow(np.where(undefined, 1.0, np.nan), cmap="Greys", vmin=0, vmax=6, aspect="auto")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
        ax.set_xticks(range(len(areas)), areas)
        ax.set_yticks(range(len(layers)), layers if k == 0 else [""] * len(layers))
        ax.set(title=metric, xlabel="brain area", ylabel="layer (by depth)" if k == 0 else "")
        with np.errstate(invalid="ignore"):
            crosses = np.isfinite(grid) & (low <= 0) & (high >= 0)
        for i, j in zip(*np.nonzero(crosses)):
            ax.add_patch(_hatch(j, i))
        if annotate:
            mid = (vmin + vmax) / 2
            for (i, j), v in np.ndenumerate(grid):
                if np.isfinite(v):
                    text = f"{v:.2f}"
                    if np.isfinite(low[i, j]) and np.isfinite(high[i, j]):
                        text += f"\n[{low[i, j]:.2f}, {high[i, j]:.2f}]"
                    style = {"color": "k" if v > mid else "w"}
                    if crosses[i, j]:  # a backing box keeps the value readable over the hatching
                        style = {"color": "k", "bbox": {"boxstyle": "round,pad=0.2", "fc": "w", "alpha": 0.8, "lw": 0}}
                    ax.text(j, i, text, ha="center", va="center", fontsize=6.5, **style)
                elif undefined[i, j]:
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="0.3")
    fig.colorbar(im, ax=list(axes), label=f"{value} (all panels)", shrink=0.9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _hatch(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.85", lw=0)

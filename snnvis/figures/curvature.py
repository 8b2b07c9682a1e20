"""Hénaff et al. 2021 reproduction: pixel vs V1 curvature and Δcurvature per sequence type."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import CATEGORY_COLORS, new_figure
from .colors import label_styles


def _values(records, category: str, key: str) -> np.ndarray:
    v = np.array([r[key] for r in records if r["category"] == category], dtype=np.float64)
    return v[~np.isnan(v)]


def curvature_reproduction(
    records: list[dict],
    authors: list[dict] | None = None,
    model_deltas: dict[str, dict] | None = None,
    categories=("natural", "synthetic"),
    seed: int = 0,
) -> Figure:
    """Curvature of pixel vs V1 trajectories and Δcurvature (V1 − pixel) per sequence type.

    Args:
        records: per-sequence records from :func:`snnvis.analysis.henaff.session_curvatures`
            (``category``, ``pixel_curvature``, ``v1_curvature``, ``delta``, ``frame_step``);
            ``v1_curvature`` is the posterior median, which never piles up at 0 deg.
        authors: rows from :func:`snnvis.analysis.henaff.load_authors_table`, already
            restricted to the dither and datasets to compare with; overlaid in grey.
        model_deltas: optional {layer: {category: Δcurvature values}} of model layers'
            trajectories for the same sequences; each layer's median is marked.
        categories: sequence types, in plotting order.
        seed: jitter of the scattered points.

    Returns:
        Left: V1 vs pixel curvature per sequence (identity line = no change). Right:
        Δcurvature distributions (box: quartiles, whiskers 5-95 %; points: sequences) for
        snnvis (colour) next to the authors' (grey); the black bar on each box is the median
        with its 95 % bootstrap CI over sequences (:func:`snnvis.analysis.henaff.summary`, the
        numbers the README quotes), written above the panel. Model-layer medians: SNN orange,
        twin green; their legend sits right of the panel.
    """
    from snnvis.analysis.henaff import summary

    rng = np.random.default_rng(seed)
    fig = new_figure(14.0 if model_deltas else 11.0, 4.6)
    ax_sc, ax_d = fig.subplots(1, 2, width_ratios=[1, 1.6])

    for cat in categories:
        color = CATEGORY_COLORS.get(cat, "k")
        sel = [r for r in records if r["category"] == cat and np.isfinite(r["v1_curvature"])]
        ax_sc.scatter(
            [r["pixel_curvature"] for r in sel],
            [r["v1_curvature"] for r in sel],
            s=10,
            alpha=0.6,
            color=color,
            edgecolors="none",
            label=f"{cat} (snnvis)",
        )
        if authors:
            rows = [r for r in authors if r["category"] == cat]
            ax_sc.scatter(
                [r["pixel_curvature"] for r in rows],
                [r["pixel_curvature"] + r["delta"] for r in rows],
                s=12,
                facecolors="none",
                edgecolors=color,
                linewidths=0.5,
                alpha=0.5,
                label=f"{cat} (authors)",
            )
    ax_sc.plot([0, 180], [0, 180], color="0.4", lw=0.8, ls="--")
    ax_sc.set(
        xlim=(0, 180),
        ylim=(0, 180),
        aspect="equal",
        xlabel="pixel curvature (deg)",
        ylabel="V1 curvature (deg)",
        title="per sequence",
    )
    ax_sc.legend(fontsize=7, frameon=False, loc="lower right")

    series = [("snnvis", records, None)] + ([("authors", authors, "0.6")] if authors else [])
    medians = {name: summary(recs) for name, recs, _ in series}
    width = 0.34 if authors else 0.5
    offsets = np.linspace(-width / 2, width / 2, len(series)) if len(series) > 1 else [0.0]
    for i, cat in enumerate(categories):
        for (name, recs, grey), off in zip(series, offsets):
            v = _values(recs, cat, "delta")
            if not v.size:
                continue
            color = grey or CATEGORY_COLORS.get(cat, "k")
            x = i + off
            ax_d.boxplot(
                v,
                positions=[x],
                widths=width * 0.8,
                whis=(5, 95),
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": color, "alpha": 0.35, "edgecolor": color},
                medianprops={"color": "k"},
                whiskerprops={"color": color},
                capprops={"color": color},
            )
            ax_d.scatter(
                x + rng.uniform(-width * 0.3, width * 0.3, v.size), v, s=5, color=color, alpha=0.5, edgecolors="none"
            )
            m = medians[name][cat]
            ax_d.errorbar(
                x,
                m["median"],
                yerr=[[m["median"] - m["ci_low"]], [m["ci_high"] - m["median"]]],
                fmt="_",
                color="k",
                ms=14,
                elinewidth=2.2,
                capsize=0,
                zorder=5,
            )
            ax_d.text(
                x,
                1.0,
                f"{name}\n{m['median']:+.1f}°\n[{m['ci_low']:+.1f}, {m['ci_high']:+.1f}]\nn={v.size}",
                transform=ax_d.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    if model_deltas:
        styles = label_styles(model_deltas)
        for layer, by_cat in model_deltas.items():
            xs, ys = [], []
            for i, cat in enumerate(categories):
                v = np.asarray(by_cat.get(cat, []), dtype=np.float64)
                v = v[~np.isnan(v)]
                if v.size:
                    xs.append(i + 0.45)
                    ys.append(np.median(v))
            ax_d.scatter(
                xs,
                ys,
                marker=styles[layer]["marker"],
                s=30,
                facecolors="none",
                edgecolors=styles[layer]["color"],
                linewidths=1.2,
                label=f"{layer} (median)",
                zorder=4,
            )
        ax_d.legend(
            fontsize=7,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            title="model layers: Δ median",
            title_fontsize=7,
        )
    ax_d.axhline(0, color="0.4", lw=0.8, ls="--")
    ax_d.set_xticks(range(len(categories)), categories)
    ax_d.set_xlim(-0.6, len(categories) - 0.3)
    ax_d.set_ylabel("Δ curvature, V1 − pixel (deg)")
    steps = sorted({int(r.get("frame_step", 1)) for r in records})
    ax_d.set_title(f"frame step {', '.join(map(str, steps))}; V1 curvature: posterior median", fontsize=9, pad=44)
    return fig

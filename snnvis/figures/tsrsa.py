"""TSRSA score as sequence order is destroyed by shuffling frames within windows."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import mean_ci, new_figure
from .colors import label_styles


def tsrsa_shuffle(window_sizes, scores_by_model: dict, ci: float = 0.95, ylabel: str = "TSRSA (Spearman ρ)") -> Figure:
    """Lines of TSRSA score vs shuffle window size, one per model.

    Frames are shuffled within consecutive windows of the given sizes
    (:func:`snnvis.analysis.shuffle.shuffle_within_windows`); window 1 is the intact
    sequence. A model that uses temporal order loses similarity as windows grow.

    Args:
        window_sizes: (W,) window sizes.
        scores_by_model: {model: (W,) scores, or (samples, W) scores over seeds/shuffles}.
        ci: level of the Student-t band across samples (2-D input only).

    Returns:
        One panel; x on a log2 scale with the window sizes as ticks; SNN lines orange and
        twin lines green (labels starting "SNN"/"twin", :func:`~snnvis.figures.colors.label_styles`),
        the legend to the right of the axes.
    """
    w = np.asarray(window_sizes, dtype=np.float64)
    fig = new_figure(7.2, 3.6)
    ax = fig.subplots()
    styles = label_styles(scores_by_model)
    banded = False
    for name, scores in scores_by_model.items():
        s = np.asarray(scores, dtype=np.float64)
        if s.shape[-1] != w.size or s.ndim not in (1, 2):
            raise ValueError(f"scores of {name!r} have shape {s.shape}, expected ({w.size},) or (samples, {w.size})")
        mean, lo, hi = mean_ci(s, ci) if s.ndim == 2 else (s, None, None)
        label = name if s.ndim == 1 else f"{name} (n={s.shape[0]})"
        if not np.isfinite(mean).any():  # e.g. a silent layer: listed, nothing to draw
            label += ": n/a"
        (line,) = ax.plot(w, mean, ms=4, label=label, **styles[name])
        if lo is not None and np.any(np.isfinite(lo)):
            ax.fill_between(w, lo, hi, color=line.get_color(), alpha=0.1, lw=0)
            banded = True
    ax.set_xscale("log", base=2)
    ax.set_xticks(w, [f"{int(v)}" if float(v).is_integer() else f"{v:g}" for v in w])
    ax.minorticks_off()
    ax.set(
        xlabel="shuffle window (frames; 1 = intact)", ylabel=f"{ylabel}\n(mean, {ci:.0%} t-CI)" if banded else ylabel
    )
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig

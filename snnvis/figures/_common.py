"""Shared helpers: figures are built on :class:`matplotlib.figure.Figure` directly (no
pyplot, hence no global figure registry or interactive backend), rendered with Agg."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from .colors import CATEGORY_COLORS, DNN_COLOR, SNN_COLOR, TWIN_COLOR  # noqa: F401  (one colour module)


def new_figure(width: float, height: float) -> Figure:
    """An empty figure (inches) with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def mean_ci(samples, ci: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t confidence interval along ``axis`` (NaN ignored).

    With fewer than two samples the interval is NaN (nothing to estimate it from).
    """
    x = np.asarray(samples, dtype=np.float64)
    n = np.sum(~np.isnan(x), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no or fewer than 2 samples: NaN, by design
        mean = np.nanmean(x, axis=axis)
        sem = np.nanstd(x, axis=axis, ddof=1) / np.sqrt(n)
        half = stats.t.ppf(0.5 + ci / 2.0, np.maximum(n - 1, 1)) * sem
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half


def save_figure(fig: Figure, stem: str | Path, formats=("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths

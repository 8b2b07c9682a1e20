"""TSRSA of model layers against a movie recording under the perturbations of Huang et al. 2024."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import new_figure
from .colors import SNN_COLOR, TWIN_COLOR

PANELS = {
    "shuffle": ("shuffle window (frames; 1 = original)", "log"),
    "noise": ("noise frames per original frame", "linear"),
    "clip_length": ("clip length (frames; one TSRSA window)", "linear"),
}
_STYLES = ("-", "--", ":", "-.")


def tsrsa_perturbations(rows, title: str | None = None) -> Figure:
    """One panel per perturbation: TSRSA vs perturbation level for every model x layer, the
    recording's neuron split-half ceiling as a grey band.

    Args:
        rows: dicts with ``model``, ``spiking``, ``layer``, ``perturbation`` (shuffle | noise |
            clip_length; other values are ignored), ``level``, ``tsrsa``, ``tsrsa_sd`` (over
            draws; NaN for a single draw), ``ceiling``, ``ceiling_lower``, ``ceiling_upper``
            (e.g. the rows of ``tsrsa_perturbations.csv``).
        title: figure title.

    Returns:
        SNN lines orange, twin lines green, one line style per layer (in the order the rows
        give them); error bars: s.d. over perturbation draws; band: 2.5-97.5 % range of the
        ceiling over random neuron splits, dashed line its mean.
    """
    rows = [r for r in rows if r["perturbation"] in PANELS]
    panels = [p for p in PANELS if any(r["perturbation"] == p for r in rows)]
    if not panels:
        raise ValueError("no rows of a perturbation (shuffle, noise, clip_length)")
    fig = new_figure(1.0 + 3.6 * len(panels), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    layers = list(dict.fromkeys(str(r["layer"]) for r in rows))
    for ax, panel in zip(axes, panels):
        sel = [r for r in rows if r["perturbation"] == panel]
        levels = sorted({float(r["level"]) for r in sel})
        ceil = {float(r["level"]): r for r in sel}
        c = np.array([[ceil[v]["ceiling"], ceil[v]["ceiling_lower"], ceil[v]["ceiling_upper"]] for v in levels], float)
        ax.fill_between(levels, c[:, 1], c[:, 2], color="0.85", lw=0, label="ceiling (split halves)")
        ax.plot(levels, c[:, 0], color="0.5", ls="--", lw=1)
        for key in dict.fromkeys((str(r["model"]), bool(r["spiking"]), str(r["layer"])) for r in sel):
            pts = sorted(
                (float(r["level"]), r) for r in sel if (str(r["model"]), bool(r["spiking"]), str(r["layer"])) == key
            )
            x = np.array([p[0] for p in pts])
            y = np.array([float(p[1]["tsrsa"]) for p in pts])
            sd = np.array([float(p[1].get("tsrsa_sd", np.nan)) for p in pts])
            ax.errorbar(
                x,
                y,
                yerr=np.where(np.isfinite(sd), sd, 0.0),
                color=SNN_COLOR if key[1] else TWIN_COLOR,
                ls=_STYLES[layers.index(key[2]) % len(_STYLES)],
                marker="o",
                ms=3.5,
                lw=1.3,
                capsize=2,
                label=f"{key[0]} {key[2]}",
            )
        xlabel, scale = PANELS[panel]
        if scale == "log":
            ax.set_xscale("log", base=2)
            ax.set_xticks(levels, [f"{v:g}" for v in levels])
            ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_title(panel.replace("_", " "), fontsize=9)
    axes[0].set_ylabel("TSRSA (Spearman; mean over windows and clips)")
    axes[0].legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig

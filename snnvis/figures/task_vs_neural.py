"""Untrained vs task-pretrained vs neurally trained cores, SNN against its twin (``+sweep=task_vs_neural``)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._common import mean_ci, new_figure
from .colors import SNN_COLOR, TWIN_COLOR

CONDITIONS = ("untrained", "pretrained", "neural")
CONDITION_LABELS = {
    "untrained": "untrained core\n(frozen) + readout",
    "pretrained": "task-pretrained core\n(frozen) + readout",
    "neural": "trained on\nneural data",
}


def task_vs_neural(records: list[dict], ci: float = 0.95, metric: str = "median r") -> Figure:
    """Held-out accuracy per condition for the SNN (orange) and its twin (green).

    Args:
        records: one per run: ``condition`` (untrained | pretrained | neural), ``spiking``, ``seed``,
            ``value`` (e.g. the test split's median Pearson r over neurons) and ``ci95`` ([low, high],
            the run's bootstrap interval over neurons), e.g. from
            :func:`snnvis.reporting.task_vs_neural.task_vs_neural_records`.
        ci: confidence level of the interval across seeds.
        metric: the y-axis label.

    Returns:
        One panel: per condition an SNN and a twin bar at the mean over seeds, with a Student-t CI
        across seeds where there are two or more seeds, else the single run's bootstrap interval over
        neurons; dots are the single seeds. Conditions without runs are left out.
    """
    conditions = [c for c in CONDITIONS if any(r["condition"] == c for r in records)]
    unknown = sorted({r["condition"] for r in records} - set(CONDITIONS))
    if unknown or not conditions:
        raise ValueError(f"conditions must be among {list(CONDITIONS)}, got {unknown or 'no records'}")
    fig = new_figure(1.9 * len(conditions) + 1.6, 3.4)
    ax = fig.subplots()
    width, kinds_drawn = 0.36, set()
    intervals = set()
    for i, condition in enumerate(conditions):
        for offset, spiking, color, name in ((-0.5, True, SNN_COLOR, "SNN"), (0.5, False, TWIN_COLOR, "twin")):
            runs = [r for r in records if r["condition"] == condition and bool(r["spiking"]) == spiking]
            values = np.array([r["value"] for r in runs], dtype=float)
            if not np.isfinite(values).any():
                continue
            x = i + offset * width
            mean, low, high = (float(v) for v in mean_ci(values, ci))
            if len(values) < 2 and runs[0].get("ci95") is not None:
                low, high = (float(v) for v in runs[0]["ci95"])
                intervals.add("bootstrap over neurons")
            elif len(values) >= 2:
                intervals.add(f"{round(100 * ci)}% CI across seeds")
            ax.bar(x, mean, width, color=color, alpha=0.85, label=None if name in kinds_drawn else name)
            kinds_drawn.add(name)
            if np.isfinite(low) and np.isfinite(high):
                ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], color="black", capsize=3, lw=1)
            ax.scatter(np.full(len(values), x), values, s=10, color="black", zorder=3)
    ax.set_xticks(range(len(conditions)), [CONDITION_LABELS[c] for c in conditions], fontsize=8)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel(f"held-out {metric}" + (f" ({'; '.join(sorted(intervals))})" if intervals else ""), fontsize=8)
    ax.set_title("Task-trained vs neurally trained cores, same test stimuli", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # clear of the bars
    return fig

"""The paired SNN − twin comparison in ``snnvis-report``: results.csv rows and the HTML table.

Runs are paired by model label (see :mod:`snnvis.reporting.sweep`) and seed; the statistics are
those of :mod:`snnvis.similarity.paired`, on the per-stimulus predictions in each run's
``predictions.h5`` (:func:`snnvis.training.paired_runs.paired_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence

from snnvis.reporting.page import part
from snnvis.similarity.paired import TEST_NAME, PairedResult
from snnvis.training.paired_runs import PAIRED_HEADER, PairedRow, paired_cells, paired_rows

N_BOOT, N_PERM = 1000, 2000


def paired_for_runs(runs: Sequence, notes: list[str], n_boot: int = N_BOOT, n_perm: int = N_PERM) -> list[PairedRow]:
    """Paired statistics per model label for runs (:class:`snnvis.reporting.sweep.Run`) with a predictions.h5.

    Raises:
        UserError: a pair that differs in neurons, stimuli or responses.
    """
    usable = [(r.label, r.spiking, r.seed, r.dir) for r in runs if (r.dir / "predictions.h5").is_file()]
    return paired_rows(usable, n_boot=n_boot, n_perm=n_perm, note=lambda line: notes.append(f"paired: {line}"))


def _rows(base: dict, level: str, key: str, res: PairedResult) -> list[dict]:
    common = {**base, "level": level, "key": key, "n": res.n_neurons, "n_stimuli": res.n_stimuli}
    return [
        {
            **common,
            "metric": "pearson_r_diff_mean",
            "value": res.diff_mean,
            "ci_low": res.ci_low,
            "ci_high": res.ci_high,
            "p_value": res.p_value,
            "test": TEST_NAME,
        },
        {
            **common,
            "metric": "p_value_seeds",
            "value": res.p_value_seeds,
            "test": "whole runs swapped within each seed's SNN/twin pair (exact permutation test over seeds)",
        },
        {**common, "metric": "pearson_r_diff_median", "value": res.diff_median},
        {**common, "metric": "pearson_r_median_snn", "value": res.r_a_median},
        {**common, "metric": "pearson_r_median_twin", "value": res.r_b_median},
        {**common, "metric": "n_seeds", "value": float(res.n_seeds)},
    ]


def paired_csv_rows(rows: Sequence[PairedRow]) -> list[dict]:
    """results.csv rows of section ``paired``: per model, overall and per session."""
    out = []
    for r in rows:
        base = {
            "run_dir": "",
            "source": "predictions.h5",
            "model": r.model,
            "spiking": "",
            "seed": " ".join(map(str, r.seeds)),
            "section": "paired",
        }
        out += _rows(base, "overall", "all", r.overall)
        for session, res in r.sessions.items():
            out += _rows(base, "session", session, res)
    return out


def paired_html(rows: Sequence[PairedRow], table) -> str:
    """The HTML table (``table`` is :func:`snnvis.reporting.page.html_table`) with the test named above it."""
    if not rows:
        return "<p>No model has both an SNN and a twin run with predictions.h5 for the same seed.</p>"
    cells = []
    for r in rows:
        cells.append(paired_cells(r.model, len(r.seeds), r.overall))
        if len(r.sessions) > 1:
            cells += [paired_cells(f"{r.model} / {s}", len(r.seeds), res) for s, res in r.sessions.items()]
    res = rows[0].overall
    return part("paired_intro", TEST_NAME, res.n_boot, res.n_perm) + "\n" + table(PAIRED_HEADER, cells)

"""``snnvis-report``'s work: a sweep directory -> ``results.csv``, figures (a)-(c) and ``report.html``.

:func:`make_report` finds the sweep (:mod:`snnvis.reporting.sweep`), optionally scores its runs
first (:mod:`snnvis.reporting.score`), computes the paired SNN − twin statistics
(:mod:`snnvis.reporting.paired`), builds the table (:mod:`snnvis.reporting.table`), draws the
figures (:mod:`snnvis.reporting.figures`) and renders the page (:mod:`snnvis.reporting.page`),
all in a staging folder that replaces the report's files in ``out`` only at the end
(:mod:`snnvis.reporting.output`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnvis.reporting.figures import FigureEntry, figure_heatmaps, figure_prediction, figure_psth
from snnvis.reporting.output import check_out_dir, replace_report_files
from snnvis.reporting.page import best_layers_table, definitions, html_table, part, render_html, runs_table
from snnvis.reporting.paired import paired_for_runs, paired_html
from snnvis.reporting.score import score_runs
from snnvis.reporting.sweep import find_sweep
from snnvis.reporting.table import RESULT_COLUMN_MEANINGS, results_rows, write_csv


@dataclass
class Report:
    """What :func:`make_report` wrote (paths in ``out``) and noted."""

    out: Path
    results_csv: Path
    html: Path
    n_runs: int
    n_rows: int
    figures: list[FigureEntry]
    notes: list[str]
    incomplete: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # files of the previous report no longer produced


def make_report(
    sweep_dir: str | Path,
    out: str | Path | None = None,
    score: bool = False,
    score_overrides: Sequence[str] = (),
    log=print,
) -> Report:
    """Gather a sweep's runs and scores into ``results.csv``, figures and ``report.html``.

    Args:
        sweep_dir: folder searched recursively for ``metrics.json`` and ``scores.csv``.
        out: output folder (default ``<sweep_dir>/report``); it is only written to once
            the whole report has been made (files of the same names are replaced).
        score: first score every run without up-to-date scores (:func:`score_runs`).
        score_overrides: Hydra overrides of snnvis/conf/score.yaml for that.

    Raises:
        UserError: no runs, or unreadable metrics.json / scores.csv / predictions.h5.
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / "report"
    check_out_dir(out)
    sweep = find_sweep(sweep_dir, exclude=out)
    if score and sweep.runs:
        if score_runs(sweep.runs, score_overrides, log=log):
            sweep = find_sweep(sweep_dir, exclude=out)
    notes: list[str] = [f"incomplete: {d} (no metrics.json)" for d in sweep.incomplete]
    paired = paired_for_runs(sweep.runs, notes)
    rows = results_rows(sweep, paired)
    import matplotlib

    matplotlib.use("Agg")
    entries: list[FigureEntry] = []
    # Everything is written to a staging folder first and moved into ``out`` at the end,
    # so a report that fails half-way (e.g. an unreadable predictions.h5) touches nothing.
    stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        if sweep.runs:
            figure_prediction(sweep.runs, stage, entries, notes)
        figure_heatmaps(rows, stage, entries, notes)
        if sweep.runs:
            figure_psth(sweep.runs, stage, entries, notes)
        write_csv(stage / "results.csv", rows)
        n_scored = sum(1 for _, owner, _ in sweep.scores if owner is not None)
        intro = part("sweep_intro", str(sweep_dir), len(sweep.runs), len(sweep.scores), n_scored)
        sections = []
        if sweep.runs:
            sections += [("Runs", runs_table(sweep.runs)), ("SNN vs DNN twin, paired", paired_html(paired, html_table))]
        if sweep.incomplete:
            sections.append(
                ("Incomplete runs (no metrics.json; left out of every table)", part("code_list", sweep.incomplete))
            )
        if sweep.scores:
            sections.append(("Brain similarity: held-out best layer per area and metric", best_layers_table(rows)))
        sections.append(("Columns of results.csv", definitions(RESULT_COLUMN_MEANINGS)))
        render_html(
            stage / "report.html", f"snnvis report: {sweep_dir.resolve().name}", intro, sections, entries, notes
        )
        removed = replace_report_files(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    entries = [FigureEntry(out / e.stem.name, e.title, e.caption) for e in entries]
    results, page = out / "results.csv", out / "report.html"
    return Report(out, results, page, len(sweep.runs), len(rows), entries, notes, sweep.incomplete, removed)

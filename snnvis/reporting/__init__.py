"""Reports of training sweeps: from a sweep directory to a results table, figures and an HTML page.

``snnvis-report`` calls :func:`make_report`; ``scripts/reproduce_figures.py`` uses only the
public functions re-exported here. Modules, one job each:

* :mod:`~snnvis.reporting.sweep`: sweep discovery (runs with a ``metrics.json``, ``scores.csv``
  tables, model labels).
* :mod:`~snnvis.reporting.table`: the tidy ``results.csv`` (its columns are documented there).
* :mod:`~snnvis.reporting.score`: scoring of a sweep's runs (``--score``), skipped when
  up to date.
* :mod:`~snnvis.reporting.paired`: the paired SNN − twin section (results rows, HTML table).
* :mod:`~snnvis.reporting.figures`: figures (a)-(c) of a sweep and the data behind them.
* :mod:`~snnvis.reporting.reproduction`: figures (d)-(f) (Hénaff curvature, Kriegeskorte RDMs,
  TSRSA under frame shuffling) and the data behind them.
* :mod:`~snnvis.reporting.time_figures`: figures (g)-(h) on a simulated movie (temporal-kernel
  recovery, the TSRSA perturbation analysis) and the data behind them.
* :mod:`~snnvis.reporting.page`: HTML pages and tables from the jinja2 templates in
  ``snnvis/reporting/templates/``.
* :mod:`~snnvis.reporting.output`: the output folder (checks, incomplete runs, replacing the
  previous report's files by manifest).
* :mod:`~snnvis.reporting.report`: :func:`make_report`, which puts them together.
"""

from snnvis.reporting.figures import (
    FIGURES,
    FigureEntry,
    figure_heatmaps,
    figure_prediction,
    figure_psth,
    first_runs,
    heatmap_rows,
    kind_name,
    prediction_records,
    psth_context,
    psth_data,
    safe_name,
    save_entry,
)
from snnvis.reporting.page import Raw, best_layers_table, html_table, index_page, render_html, runs_table
from snnvis.reporting.paired import paired_csv_rows, paired_for_runs, paired_html
from snnvis.reporting.report import Report, make_report
from snnvis.reporting.reproduction import (
    IT_REFERENCES,
    area_layer,
    curvature_data,
    curvature_deltas,
    figure_curvature,
    figure_kriegeskorte,
    figure_tsrsa,
    kriegeskorte_data,
    load_models,
    pick_layers,
    reference_ceiling,
    rsa_score,
    trained_models,
    tsrsa_data,
    write_rows,
)
from snnvis.reporting.score import SCORE_DIR, score_runs
from snnvis.reporting.sweep import Run, Sweep, find_sweep, load_run, load_scores, rel_path
from snnvis.reporting.table import RESULT_COLUMNS, results_rows, run_rows, score_rows, write_csv
from snnvis.reporting.task_vs_neural import figure_task_vs_neural
from snnvis.reporting.time_figures import figure_kernel_recovery, figure_tsrsa_perturbations, fit_kernels

__all__ = [
    "FIGURES",
    "IT_REFERENCES",
    "RESULT_COLUMNS",
    "SCORE_DIR",
    "FigureEntry",
    "Raw",
    "Report",
    "Run",
    "Sweep",
    "area_layer",
    "best_layers_table",
    "curvature_data",
    "curvature_deltas",
    "figure_curvature",
    "figure_heatmaps",
    "figure_kernel_recovery",
    "figure_kriegeskorte",
    "figure_prediction",
    "figure_psth",
    "figure_tsrsa",
    "figure_task_vs_neural",
    "figure_tsrsa_perturbations",
    "find_sweep",
    "first_runs",
    "fit_kernels",
    "heatmap_rows",
    "html_table",
    "index_page",
    "kind_name",
    "kriegeskorte_data",
    "load_models",
    "load_run",
    "load_scores",
    "make_report",
    "paired_csv_rows",
    "paired_for_runs",
    "paired_html",
    "pick_layers",
    "prediction_records",
    "psth_context",
    "psth_data",
    "reference_ceiling",
    "rel_path",
    "render_html",
    "results_rows",
    "rsa_score",
    "run_rows",
    "runs_table",
    "safe_name",
    "save_entry",
    "score_rows",
    "score_runs",
    "trained_models",
    "tsrsa_data",
    "write_csv",
    "write_rows",
]

"""snnvis's output files: their typed layouts and their only writers and readers, each file with
a schema version written into it and checked on read.

- :mod:`.metrics`: a training run's ``metrics.json`` (:func:`write_metrics`, :func:`read_metrics`).
- :mod:`.predictions`: a training run's ``predictions.h5`` (:func:`write_predictions`,
  :func:`read_predictions`).
- :mod:`.tables`: ``scores.csv`` (``snnvis-score``) and ``results.csv`` (``snnvis-report``)
  (:func:`write_scores`, :func:`read_scores`, :func:`write_results`, and :func:`load_results`,
  which reads either as a pandas DataFrame for other tools), and ``tsrsa_perturbations.csv``
  (:func:`write_perturbations`; also read by :func:`load_results`).
"""

from snnvis.outputs.metrics import METRICS_FILE, Metrics, read_metrics, write_metrics
from snnvis.outputs.predictions import PREDICTIONS_FILE, SessionPredictions, read_predictions, write_predictions
from snnvis.outputs.tables import (
    PERTURBATION_COLUMNS,
    PERTURBATIONS_FILE,
    RESULTS_FILE,
    SCORE_COLUMNS,
    SCORES_FILE,
    load_results,
    read_scores,
    write_perturbations,
    write_results,
    write_scores,
)
from snnvis.outputs.version import VERSION_KEY, check_version

__all__ = [
    "METRICS_FILE",
    "PERTURBATIONS_FILE",
    "PERTURBATION_COLUMNS",
    "PREDICTIONS_FILE",
    "RESULTS_FILE",
    "SCORES_FILE",
    "SCORE_COLUMNS",
    "VERSION_KEY",
    "Metrics",
    "SessionPredictions",
    "check_version",
    "load_results",
    "read_metrics",
    "read_predictions",
    "read_scores",
    "write_metrics",
    "write_perturbations",
    "write_predictions",
    "write_results",
    "write_scores",
]

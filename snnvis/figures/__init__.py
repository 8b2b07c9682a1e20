"""Figures: one function per figure type. Each takes data (arrays, dicts, lists of
records) and returns a :class:`matplotlib.figure.Figure`, built without pyplot and
rendered with Agg; save it with ``fig.savefig`` or :func:`save_figure`."""

from ._common import save_figure
from .curvature import curvature_reproduction
from .perturbations import tsrsa_perturbations
from .prediction import prediction_accuracy
from .psth import psth_examples
from .rdm import kriegeskorte_rdms, rank_transform
from .similarity import similarity_heatmaps
from .time_axis import kernel_recovery, psth_time_course
from .tsrsa import tsrsa_shuffle

__all__ = [
    "curvature_reproduction",
    "kernel_recovery",
    "kriegeskorte_rdms",
    "prediction_accuracy",
    "psth_examples",
    "psth_time_course",
    "rank_transform",
    "save_figure",
    "similarity_heatmaps",
    "tsrsa_perturbations",
    "tsrsa_shuffle",
]

"""Brain-similarity scoring of model layers: activation extraction and layer × area scoring.

:mod:`.activations` builds or loads the encoder and streams its layer activity on a
recording's stimuli, (n_stimuli, T, features) per layer; :mod:`.targets` turns a recording
into what layers are compared with (one :class:`Target` per brain area or reference RDM)
and its selection/test stimuli; :mod:`.metrics` holds the metrics (RSA, CKA, SVCCA, ridge,
PLS; one module per family behind the typed :class:`~.metrics.Metric` interface), with
ceilings from :mod:`snnvis.similarity` and bootstrap CIs; :mod:`.scorer` compares one
layer at a time with every target (:class:`LayerScorer`, one :class:`ScoreRow` per layer ×
target × metric × split); :mod:`.selection` chooses a layer per area on held-out stimuli;
:mod:`.pipeline` is one ``snnvis-score`` run. :mod:`.temporal` summarises predicted PSTHs
(time-course r, FEVE, TSRSA with its ceiling, the mean-time-course baseline) and
:mod:`.perturbations` holds the movie perturbations of the TSRSA protocol. :mod:`.compute`
accounts a core's compute per image (MACs, spike rates, synaptic operations, wall time).
"""

from .activations import (
    ModelInfo,
    calibrate_batchnorm,
    extract_activations,
    load_encoder,
    prepare_core,
    reduce_time,
    resolve_device,
    time_window,
)
from .compute import compute_report
from .metrics import METRICS, Metric, Prepared, Result, build_metrics
from .scorer import LayerScorer, ScoreRow, score_layer
from .selection import SELECTIONS, choose_layers
from .targets import Target, stimulus_splits, targets_from_recording
from .temporal import temporal_metrics

__all__ = [
    "METRICS",
    "SELECTIONS",
    "LayerScorer",
    "Metric",
    "ModelInfo",
    "Prepared",
    "Result",
    "ScoreRow",
    "Target",
    "build_metrics",
    "calibrate_batchnorm",
    "choose_layers",
    "compute_report",
    "extract_activations",
    "load_encoder",
    "prepare_core",
    "reduce_time",
    "resolve_device",
    "score_layer",
    "stimulus_splits",
    "targets_from_recording",
    "temporal_metrics",
    "time_window",
]

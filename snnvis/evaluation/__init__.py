"""Brain-similarity scoring of model layers: activation extraction and layer × area scoring.

:mod:`.activations` builds or loads the encoder and streams its layer activity on a
recording's stimuli, (n_stimuli, T, features) per layer; :mod:`.scoring` compares one
layer at a time with each brain area (RSA, CKA, SVCCA, ridge, PLS), with ceilings,
bootstrap CIs and held-out layer choice; :mod:`.pipeline` is one ``snnvis-score`` run.
"""
from .activations import (ModelInfo, calibrate_batchnorm, extract_activations, load_encoder, prepare_core,
                          reduce_time, resolve_device, time_window)
from .scoring import (METRICS, SELECTIONS, LayerScorer, ScoreRow, Target, build_metrics, choose_layers,
                      score_layer, stimulus_splits, targets_from_recording)

__all__ = [
    "METRICS", "SELECTIONS", "LayerScorer", "ModelInfo", "ScoreRow", "Target", "build_metrics",
    "calibrate_batchnorm", "choose_layers", "extract_activations", "load_encoder", "prepare_core", "reduce_time",
    "resolve_device", "score_layer", "stimulus_splits", "targets_from_recording", "time_window",
]

"""Representational similarity between models and brains: pure array functions.

Every function accepts numpy arrays or torch tensors. numpy input is computed in float64
and returned as numpy; torch input (CPU or CUDA) is computed in torch on its device, in
its floating dtype, and returned as torch (see :mod:`snnvis.similarity._backend`).
Nothing here reads files or depends on the rest of snnvis.

Modules: :mod:`.rdm` (RDMs), :mod:`.compare` (RDM comparison), :mod:`.rsa` (RSA noise
ceilings), :mod:`.cka`, :mod:`.cca` (CCA, SVCCA), :mod:`.regression` (held-out ridge and
PLS predictivity), :mod:`.ceilings` (single-neuron reliability and noise-corrected
metrics), :mod:`.cowley` (the same as Cowley et al. compute them), :mod:`.cka_ceiling`,
:mod:`.tsrsa` (time-series RSA, curvature, noise-corrected curvature),
:mod:`.tsrsa_time` (TSRSA over windows, its neuron split-half ceiling, RSA per time bin),
:mod:`.psth` (time-course r, FEVE on PSTHs, the mean-time-course baseline), :mod:`.bootstrap`.
"""

from .bootstrap import bootstrap_ci, subsample_conditions
from .cca import SVCCAResult, cca, svcca, svcca_cv, svcca_transform
from .ceilings import (
    correct_r,
    feve,
    mean_reliability,
    noise_corrected_r2,
    normalize,
    pearson_ceiling,
    split_half_reliability,
)
from .cka import cka, hsic
from .cka_ceiling import cka_ceiling
from .compare import compare_rdms
from .cowley import cowley_r2_er, cowley_split_half
from .psth import mean_time_course_baseline, psth_explainable_fraction, psth_feve, time_course_r
from .rdm import rdm, rdm_crossvalidated, silent_fraction
from .regression import (
    Predictivity,
    kfold_pls,
    kfold_ridge,
    kfold_splits,
    loo_ridge,
    loo_ridge_alphas,
    pls_fit_predict,
    predictivity,
    ridge_fit_predict,
)
from .rsa import (
    expected_ceiling,
    noise_ceiling,
    partition_noise_ceiling,
    partition_rdms,
    rdms_by_group,
    rdms_from_folds,
    split_half_ceiling,
)
from .tsrsa import curvature, curvature_corrected, difference_gram, subsequences, tsrsa
from .tsrsa_time import rsa_per_bin, tsrsa_split_half_ceiling, tsrsa_windows

__all__ = [
    "Predictivity",
    "SVCCAResult",
    "bootstrap_ci",
    "cca",
    "cka",
    "cka_ceiling",
    "compare_rdms",
    "correct_r",
    "cowley_r2_er",
    "cowley_split_half",
    "curvature",
    "curvature_corrected",
    "difference_gram",
    "expected_ceiling",
    "feve",
    "hsic",
    "kfold_pls",
    "kfold_ridge",
    "kfold_splits",
    "loo_ridge",
    "loo_ridge_alphas",
    "mean_reliability",
    "noise_ceiling",
    "noise_corrected_r2",
    "normalize",
    "partition_noise_ceiling",
    "partition_rdms",
    "pearson_ceiling",
    "pls_fit_predict",
    "predictivity",
    "rdm",
    "rdm_crossvalidated",
    "rdms_by_group",
    "rdms_from_folds",
    "ridge_fit_predict",
    "silent_fraction",
    "split_half_ceiling",
    "split_half_reliability",
    "subsample_conditions",
    "subsequences",
    "svcca",
    "svcca_cv",
    "svcca_transform",
    "tsrsa",
    "mean_time_course_baseline",
    "psth_explainable_fraction",
    "psth_feve",
    "rsa_per_bin",
    "time_course_r",
    "tsrsa_split_half_ceiling",
    "tsrsa_windows",
]

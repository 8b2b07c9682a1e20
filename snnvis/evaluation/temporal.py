"""Time-course metrics of predicted PSTHs, with the mean-time-course baseline, in one summary.

:func:`temporal_metrics` is what a run reports for a time-binned target, for all test
stimuli together (``test.overall``) and for each recording (``test.sessions.<id>``).
"""

from __future__ import annotations

import math

import numpy as np

from snnvis.similarity import (
    mean_time_course_baseline,
    psth_explainable_fraction,
    psth_feve,
    time_course_r,
    tsrsa_split_half_ceiling,
    tsrsa_windows,
)


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def temporal_metrics(
    pred, psth, train_psth=None, trials=None, *, n_splits: int = 20, seed: int = 0, tsrsa_window: int | None = None
) -> dict:
    """Summary of the time-course metrics of predicted PSTHs against recorded ones.

    Contract:
        pred, psth: (stimuli, bins, neurons) arrays (numpy or torch), the model's and the
            recording's trial-averaged PSTHs of the *test* stimuli in the same units and on
            the same bins; NaN in ``psth`` marks a missing bin.
        train_psth: (train stimuli, bins, neurons) recorded PSTHs of the training stimuli;
            when given, the mean-time-course baseline is scored (each neuron's mean training
            PSTH shape scaled per test stimulus by the least-squares constant, fitted on the
            test response itself: an optimistic reference, see :mod:`snnvis.similarity.psth`).
        trials: (stimuli, repeats, bins, neurons) single-trial PSTHs of the test stimuli,
            NaN-padded; when given, FEVE on the PSTH is scored.
        n_splits, seed: neuron splits of the TSRSA ceiling; tsrsa_window: bins per TSRSA
            window (None: all bins of a stimulus form one window).

    Returns:
        A dict of JSON-ready floats (NaN where a metric is undefined, e.g. FEVE without
        trials is absent rather than NaN) and per-neuron numpy arrays:

        * ``psth_time_course_r_median``: median over neurons of the time-course r (Pearson
          r over bins per stimulus, averaged over stimuli); ``psth_time_course_r`` (neurons,);
        * ``psth_baseline_time_course_r_median`` and ``psth_baseline_time_course_r``
          (with ``train_psth``);
        * ``psth_feve_median`` and ``psth_feve`` (with ``trials``), with
          ``psth_explainable_fraction`` (and its median), the share of single-trial variance
          that is not noise: FEVE diverges where it nears 0, so read FEVE on neurons where
          it is clearly positive; and ``psth_baseline_feve_median`` (with both);
        * ``psth_tsrsa`` (TSRSA over bins, mean over stimuli and windows),
          ``psth_tsrsa_ceiling`` (neuron split-half, Spearman-Brown corrected; NaN under 4
          neurons) and ``psth_baseline_tsrsa`` (with ``train_psth``).

        Medians skip NaN neurons (a constant time course has no r).
    """
    pred, psth = np.asarray(_numpy(pred), dtype=np.float64), np.asarray(_numpy(psth), dtype=np.float64)
    out: dict = {}
    r = time_course_r(pred, psth)
    out["psth_time_course_r"] = r
    out["psth_time_course_r_median"] = _median(r)
    windowed = pred.shape[1] >= 3
    out["psth_tsrsa"] = float(tsrsa_windows(pred, psth, tsrsa_window)) if windowed else math.nan
    out["psth_tsrsa_ceiling"] = (
        float(tsrsa_split_half_ceiling(psth, tsrsa_window, n_splits=n_splits, seed=seed))
        if windowed and psth.shape[2] >= 4
        else math.nan
    )
    baseline = None
    if train_psth is not None:
        baseline = mean_time_course_baseline(np.asarray(_numpy(train_psth), dtype=np.float64), psth)
        rb = time_course_r(baseline, psth)
        out["psth_baseline_time_course_r"] = rb
        out["psth_baseline_time_course_r_median"] = _median(rb)
        out["psth_baseline_tsrsa"] = float(tsrsa_windows(baseline, psth, tsrsa_window)) if windowed else math.nan
    if trials is not None:
        trials = np.asarray(_numpy(trials), dtype=np.float64)
        f = psth_feve(pred, trials)
        out["psth_feve"] = f
        out["psth_feve_median"] = _median(f)
        e = psth_explainable_fraction(trials)
        out["psth_explainable_fraction"] = e
        out["psth_explainable_fraction_median"] = _median(e)
        if baseline is not None:
            out["psth_baseline_feve_median"] = _median(psth_feve(baseline, trials))
    return out


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x

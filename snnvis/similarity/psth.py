"""Metrics for time courses: PSTHs of shape (stimuli, bins, neurons).

* :func:`time_course_r`: per-neuron Pearson r over the PSTH bins of each stimulus.
  Convention: r is computed per (stimulus, neuron) over the bins, then averaged over
  stimuli (a plain mean of r, skipping stimuli where either time course is constant or
  missing, which have no r). It measures the *shape* of the response in time and is
  blind to each stimulus's overall scale.
* :func:`psth_feve`: FEVE (:func:`snnvis.similarity.feve`) with every (stimulus, bin)
  as one condition, the trial noise taken from the repeats of each (stimulus, bin).
* :func:`psth_explainable_fraction`: the fraction of the single-trial variance that is not
  trial noise, (Var[y] - sigma^2) / Var[y], with the same terms as :func:`psth_feve`. FEVE
  is only meaningful for neurons where it is clearly positive: as it approaches 0 the
  FEVE denominator vanishes and FEVE diverges (even the recorded mean can score far above 1).
* :func:`mean_time_course_baseline`: each neuron's mean training PSTH shape, scaled per
  test stimulus by the least-squares constant. The constant is fitted on the *test*
  response it predicts, so this baseline knows each test stimulus's scale; it is an
  upper-bound-ish reference for what the stereotyped onset transient alone explains,
  and every model's time-course r has to be read against it. Its time-course r does not
  depend on the constant (r is scale invariant for a positive constant): it is the r
  between the training mean shape and each test time course.
"""

from __future__ import annotations

import torch

from ._backend import dispatch, pearson
from .ceilings import feve, trial_stats


def _check_psth(x: torch.Tensor, name: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (stimuli, bins, neurons), got {tuple(x.shape)}")


@dispatch("pred", "target")
def time_course_r(pred, target, average: bool = True):
    """Pearson r between predicted and recorded time courses, per neuron.

    Args:
        pred: (stimuli, bins, neurons) predicted PSTHs.
        target: (stimuli, bins, neurons) recorded (trial-averaged) PSTHs; NaN bins are
            skipped pairwise.
        average: if True, return the mean over stimuli of the per-stimulus r.

    Returns:
        (neurons,) mean over stimuli of r (NaN where no stimulus has an r), or
        (stimuli, neurons) per-stimulus r if ``average`` is False (NaN where either time
        course is constant or fewer than two bins are valid).
    """
    _check_psth(pred, "pred")
    _check_psth(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    r = pearson(pred, target, dim=1)
    return torch.nanmean(r, dim=0) if average else r


@dispatch("pred", "trials")
def psth_feve(pred, trials):
    """FEVE on the PSTH, per neuron.

    Every (stimulus, bin) is a condition of :func:`snnvis.similarity.feve`:
    FEVE = 1 - (MSE - sigma^2) / (Var[y] - sigma^2), with MSE over all valid single-trial
    bins, Var[y] the ddof=1 variance of all valid single-trial bins and sigma^2 the mean
    over (stimulus, bin) of the unbiased variance across repeats.

    Args:
        pred: (stimuli, bins, neurons) predicted PSTHs (same units as the trials).
        trials: (stimuli, repeats, bins, neurons) single-trial binned responses, NaN-padded.

    Returns:
        (neurons,) FEVE (1 for the true mean; can be negative).
    """
    _check_psth(pred, "pred")
    if trials.ndim != 4 or (trials.shape[0], trials.shape[2], trials.shape[3]) != tuple(pred.shape):
        raise ValueError(
            f"trials must have shape (stimuli, repeats, bins, neurons) matching pred "
            f"{tuple(pred.shape)}, got {tuple(trials.shape)}"
        )
    flat = _flat_trials(trials)
    return feve(pred.reshape(flat.shape[0], pred.shape[2]), flat)


def _flat_trials(trials: torch.Tensor) -> torch.Tensor:
    if trials.ndim != 4:
        raise ValueError(f"trials must have shape (stimuli, repeats, bins, neurons), got {tuple(trials.shape)}")
    s, r, b, n = trials.shape
    return trials.permute(0, 2, 1, 3).reshape(s * b, r, n)


@dispatch("trials")
def psth_explainable_fraction(trials):
    """(Var[y] - sigma^2) / Var[y] per neuron, the terms of :func:`psth_feve`.

    Args:
        trials: (stimuli, repeats, bins, neurons), NaN-padded.

    Returns:
        (neurons,) explainable fraction of the single-trial variance (can be negative when
        the noise estimate exceeds the total variance).
    """
    flat = _flat_trials(trials)
    sig2 = torch.nanmean(trial_stats(flat).var, dim=0)
    valid = ~torch.isnan(flat)
    n = valid.sum((0, 1)).to(flat.dtype)
    zero = torch.zeros((), dtype=flat.dtype, device=flat.device)
    grand = torch.where(valid, flat, zero).sum((0, 1)) / n
    var_y = torch.where(valid, (flat - grand) ** 2, zero).sum((0, 1)) / (n - 1)
    return (var_y - sig2) / var_y


@dispatch("train_psth", "test_psth")
def mean_time_course_baseline(train_psth, test_psth):
    """The mean-time-course baseline prediction of the test PSTHs.

    shape[b, n] = mean over training stimuli of train_psth[:, b, n] (NaN skipped);
    pred[s, b, n] = c[s, n] * shape[b, n] with c[s, n] = <shape_n, y_sn> / <shape_n, shape_n>
    the least-squares constant (no intercept) for test stimulus s (NaN bins skipped).
    ``c`` uses the test response, so the baseline is an optimistic reference, not a model.

    Args:
        train_psth: (train stimuli, bins, neurons).
        test_psth: (test stimuli, bins, neurons), the same bins and neurons.

    Returns:
        (test stimuli, bins, neurons) baseline prediction (0 where the shape is all zero).
    """
    _check_psth(train_psth, "train_psth")
    _check_psth(test_psth, "test_psth")
    if train_psth.shape[1:] != test_psth.shape[1:]:
        raise ValueError(
            f"train and test PSTHs need the same (bins, neurons), got "
            f"{tuple(train_psth.shape[1:])} and {tuple(test_psth.shape[1:])}"
        )
    shape = torch.nanmean(train_psth, dim=0)  # (bins, neurons)
    shape = torch.nan_to_num(shape, nan=0.0)
    valid = ~torch.isnan(test_psth)
    y = torch.where(valid, test_psth, torch.zeros((), dtype=test_psth.dtype, device=test_psth.device))
    s = torch.where(valid, shape, torch.zeros_like(y))
    num, den = (s * y).sum(1), (s * s).sum(1)  # (stimuli, neurons)
    c = torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))
    return c[:, None, :] * shape[None]

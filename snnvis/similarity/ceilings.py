"""Noise ceilings and noise-corrected goodness-of-fit metrics for single neurons.

Every function takes repeated responses ``trials`` of shape (stimuli, repeats, neurons),
NaN-padded: a NaN marks a missing repeat (per stimulus and neuron). Model predictions
``pred`` have shape (stimuli, neurons). These metrics are shared by scoring and training.

* :func:`split_half_reliability`: Spearman-Brown corrected split-half correlation of the
  repeat-averaged response, per neuron; :func:`mean_reliability` the same generalised to
  stimuli with unequal repeat counts (the reliability of the mean a score is computed on).
* :func:`pearson_ceiling`, :func:`correct_r`, :func:`normalize`: ceilings for Pearson r.
* :func:`noise_corrected_r2`: the approximately unbiased r^2_ER of Pospisil & Bair (2021).
* :func:`feve`: fraction of explainable variance explained (Cadena et al. 2019).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ._backend import dispatch, pearson, random_permutations, rng


def check_trials(trials: torch.Tensor, pred: torch.Tensor | None = None) -> None:
    """Raise ValueError unless trials is (stimuli, repeats, neurons) and matches pred."""
    if trials.ndim != 3:
        raise ValueError(f"trials must have shape (stimuli, repeats, neurons), got {tuple(trials.shape)}")
    if pred is not None and (pred.ndim != 2 or pred.shape != (trials.shape[0], trials.shape[2])):
        raise ValueError(
            f"pred must have shape (stimuli, neurons) = {(trials.shape[0], trials.shape[2])}, got {tuple(pred.shape)}"
        )


class TrialStats(NamedTuple):
    """Per (stimulus, neuron) statistics over valid repeats."""

    mean: torch.Tensor  # (stimuli, neurons); NaN without valid repeats
    count: torch.Tensor  # (stimuli, neurons) number of valid repeats (dtype of trials)
    var: torch.Tensor  # (stimuli, neurons) unbiased variance (ddof=1); NaN if count < 2


def trial_stats(trials: torch.Tensor) -> TrialStats:
    """Mean, count and unbiased variance over the repeat axis, ignoring NaN."""
    valid = ~torch.isnan(trials)
    count = valid.sum(1).to(trials.dtype)
    x = torch.where(valid, trials, torch.zeros((), dtype=trials.dtype, device=trials.device))
    mean = x.sum(1) / count
    dev = torch.where(valid, trials - mean[:, None], torch.zeros_like(x))
    var = (dev * dev).sum(1) / (count - 1)
    var = torch.where(count >= 2, var, torch.full_like(var, float("nan")))
    return TrialStats(mean, count, var)


def fold_means(trials: torch.Tensor, n_folds: int, generator: np.random.Generator) -> torch.Tensor:
    """Means of a random partition of each stimulus's valid repeats into equal folds.

    Repeats are shuffled independently per stimulus (the same shuffle for all neurons);
    the valid repeats of each (stimulus, neuron) are dealt into ``n_folds`` folds of
    ``n_valid // n_folds`` repeats each, the remainder being left out.

    Args:
        trials: (stimuli, repeats, neurons), NaN-padded.

    Returns:
        (n_folds, stimuli, neurons); NaN where a fold receives no repeat.
    """
    n_stim, n_rep, _ = trials.shape
    perm = random_permutations(generator, n_stim, n_rep, trials.device)
    x = torch.gather(trials, 1, perm[:, :, None].expand_as(trials))
    valid = ~torch.isnan(x)
    position = torch.cumsum(valid, dim=1) - 1  # rank among valid repeats
    per_fold = valid.sum(1, keepdim=True) // n_folds
    usable = valid & (position < per_fold * n_folds)
    zero = torch.zeros((), dtype=trials.dtype, device=trials.device)
    fold = position % n_folds
    sums = torch.stack([torch.where(usable & (fold == f), x, zero).sum(1) for f in range(n_folds)])
    return sums / per_fold.squeeze(1).to(trials.dtype)


def spearman_brown(r: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
    """Spearman-Brown prophecy: reliability of a ``factor`` times longer measurement."""
    return factor * r / (1 + (factor - 1) * r)


@dispatch("trials")
def split_half_reliability(trials, n_splits: int = 10, seed: int = 0):
    """Split-half reliability of each neuron's repeat-averaged response.

    For each of ``n_splits`` random splits of the repeats into two equal halves (see
    :func:`fold_means`), the half means are correlated across stimuli (Pearson, ignoring
    stimuli with fewer than 2 valid repeats). The split-half r is averaged over splits
    and then Spearman-Brown corrected to the full number of repeats: 2r / (1 + r).
    For signal variance s2 and noise variance n2 per repeat with R repeats, the
    expectation is close to s2 / (s2 + n2 / R).

    Args:
        trials: (stimuli, repeats, neurons), NaN-padded.
        n_splits: number of random splits averaged.
        seed: seed of the splits (deterministic).

    Returns:
        (neurons,) reliability; NaN for neurons with constant half means.
    """
    check_trials(trials)
    generator = rng(seed)
    r = torch.stack([pearson(*fold_means(trials, 2, generator), dim=0) for _ in range(n_splits)])
    return spearman_brown(r.mean(0))


@dispatch("trials")
def mean_reliability(trials, n_splits: int = 10, seed: int = 0):
    """Reliability of each neuron's mean over *all* valid repeats, from split halves, with
    the Spearman-Brown correction generalised to unequal repeat counts.

    With signal variance s2 and noise variance n2 per repeat, a mean of n_i repeats has
    noise n2 / n_i. The split-half r (as in :func:`split_half_reliability`, over stimuli
    with >= 2 valid repeats, each half of h_i = floor(n_i / 2) repeats) estimates
    s2 / (s2 + n2 <1/h>), so n2 / s2 = (1/r - 1) / <1/h>, and the reliability of the mean
    the score uses, over every stimulus with a valid repeat, is

        rel = 1 / (1 + (n2 / s2) <1/n>) = r / (r + (1 - r) <1/n> / <1/h>)

    (<.> a mean over stimuli). With R repeats for every stimulus <1/n> / <1/h> = 1/2 and
    this is exactly 2r / (1 + r). When only some stimuli are repeated (e.g. duplicated
    images whose copies are independent repeat-averages stored as 2 repeats), the
    single-copy stimuli lower the reliability of the mean accordingly.

    Returns:
        (neurons,) reliability; NaN without a usable split.
    """
    check_trials(trials)
    generator = rng(seed)
    r = torch.stack([pearson(*fold_means(trials, 2, generator), dim=0) for _ in range(n_splits)]).mean(0)
    count = trial_stats(trials).count
    zero = torch.zeros((), dtype=trials.dtype, device=trials.device)
    half = torch.floor(count / 2)
    inv_h = torch.where(half >= 1, 1 / half.clamp_min(1), zero).sum(0) / (half >= 1).sum(0)
    inv_n = torch.where(count >= 1, 1 / count.clamp_min(1), zero).sum(0) / (count >= 1).sum(0)
    return r / (r + (1 - r) * inv_n / inv_h)


@dispatch("trials")
def pearson_ceiling(trials, n_splits: int = 10, seed: int = 0):
    """Ceiling of a model's Pearson r with the repeat-averaged response, per neuron:
    sqrt(split-half reliability). NaN where the reliability is negative."""
    return torch.sqrt(split_half_reliability(trials, n_splits=n_splits, seed=seed))


@dispatch("r", "ceiling")
def normalize(r, ceiling):
    """Ceiling-normalised score r / ceiling (elementwise; NaN where ceiling <= 0)."""
    ratio = r / ceiling
    return torch.where(ceiling > 0, ratio, torch.full_like(ratio, float("nan")))


@dispatch("r", "reliability")
def correct_r(r, reliability):
    """Noise-corrected correlation r / sqrt(reliability) (Spearman's correction for
    attenuation by the unreliability of the data); NaN where reliability <= 0."""
    return normalize(r, torch.sqrt(reliability.clamp_min(0)))


@dispatch("pred", "trials")
def noise_corrected_r2(pred, trials):
    """Approximately unbiased noise-corrected r^2 (r^2_ER) of Pospisil & Bair (2021).

    Pospisil & Bair, "The unbiased estimation of the fraction of variance explained by a
    model", PLoS Comput Biol 17(8): e1009212 (reference code ``r2er_n2m``). With x the
    prediction and y the repeat-averaged response over m stimuli, both centred across
    stimuli, and sigma^2 the trial-to-trial variance (mean over stimuli of the unbiased
    variance across repeats, assumed equal across stimuli; a variance-stabilising square
    root of spike counts helps):

        r2_ER = [(x.y)^2 - sigma^2 sum_i x_i^2 / n_i]
                / [|x|^2 (|y|^2 - sigma^2 (1 - 1/m) sum_i 1 / n_i)]

    Numerator and denominator are each unbiased; with n_i = n repeats for every stimulus
    this is exactly the reference ``(xy2 - s2/n x2) / (x2 y2 - (m-1) s2/n x2)``. NaN
    repeats reduce n_i per stimulus; stimuli without valid repeats are left out. The
    estimate can fall outside [0, 1].

    Args:
        pred: (stimuli, neurons) predictions.
        trials: (stimuli, repeats, neurons), NaN-padded.

    Returns:
        (neurons,) r^2_ER.
    """
    check_trials(trials, pred)
    stats = trial_stats(trials)
    present = stats.count > 0
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    m = present.sum(0).to(pred.dtype)
    x = torch.where(present, pred, zero)
    x = torch.where(present, x - x.sum(0) / m, zero)
    y = torch.where(present, stats.mean, zero)
    y = torch.where(present, y - y.sum(0) / m, zero)
    sig2 = torch.nanmean(stats.var, dim=0)
    inv_n = torch.where(present, 1 / stats.count, zero)
    x2 = (x * x).sum(0)
    xy2 = (x * y).sum(0) ** 2
    numerator = xy2 - sig2 * (x * x * inv_n).sum(0)
    denominator = x2 * ((y * y).sum(0) - sig2 * (1 - 1 / m) * inv_n.sum(0))
    return numerator / denominator


@dispatch("pred", "trials")
def feve(pred, trials):
    """Fraction of explainable variance explained (Cadena et al. 2019, PLoS Comput Biol
    15(4): e1006897), per neuron, from single trials:

        FEVE = 1 - (MSE - sigma^2) / (Var[y] - sigma^2)

    MSE is the mean squared error of the prediction over all valid single trials, Var[y]
    the (ddof=1) variance of all valid single-trial responses and sigma^2 the noise
    variance (mean over stimuli of the unbiased variance across repeats).

    Args:
        pred: (stimuli, neurons) predictions.
        trials: (stimuli, repeats, neurons), NaN-padded.

    Returns:
        (neurons,) FEVE (1 for a perfect prediction of the mean; can be negative).
    """
    check_trials(trials, pred)
    stats = trial_stats(trials)
    sig2 = torch.nanmean(stats.var, dim=0)
    valid = ~torch.isnan(trials)
    n = valid.sum((0, 1)).to(pred.dtype)
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    mse = torch.where(valid, (trials - pred[:, None, :]) ** 2, zero).sum((0, 1)) / n
    grand = torch.where(valid, trials, zero).sum((0, 1)) / n
    var_y = torch.where(valid, (trials - grand) ** 2, zero).sum((0, 1)) / (n - 1)
    return 1 - (mse - sig2) / (var_y - sig2)

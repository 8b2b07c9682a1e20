"""Noise ceiling of linear CKA against repeat-averaged responses.

A model X is scored by CKA(X, Ybar) against the mean Ybar of all repeats. For the true
(noise-free) representation T, HSIC(T, Ybar) estimates HSIC(T, T) but HSIC(Ybar, Ybar) is
inflated by the trial noise that Ybar still carries, so the true model's expected score is

    c = sqrt(HSIC(T, T) / HSIC(Ybar, Ybar)),

and HSIC(T, T) is estimated without bias by HSIC(Ya, Yb) between the means of two
disjoint halves of the repeats (their noise is independent; with the unbiased estimator
it cancels exactly in expectation, with the biased one up to O(1/n) terms: the biased
estimator's finite-sample bias shows with few stimuli, e.g. a ceiling of 1.06 on the 25
images of the MajajHong2015 excerpt, against 0.95 with the unbiased one; use
``"linear_unbiased"`` there).
:func:`cka_ceiling` averages HSIC(Ya, Yb) over random splits. The normalised score
CKA(X, Ybar) / c = HSIC(X, Ybar) / sqrt(HSIC(X, X) HSIC(Ya, Yb)) is the CKA of X with the
noise-free representation; it is about 1 for the true model.

The previous ceiling, CKA(Ya, Yb) between half means, is the score of a noisy *half*
against a noisy half and sits well below what the true model gets against Ybar.
"""

from __future__ import annotations

import torch

from ._backend import dispatch, rng
from .ceilings import check_trials, fold_means, trial_stats
from .cka import hsic


@dispatch("trials")
def cka_ceiling(trials, kind: str = "linear_unbiased", n_splits: int = 10, seed: int = 0):
    """Expected CKA of the noise-free representation with the mean of all repeats.

    Args:
        trials: (stimuli, repeats, neurons), NaN-padded; every stimulus needs >= 2 valid
            repeats for every neuron (the halves must be disjoint and non-empty).
        kind: ``"linear_unbiased"`` (exact in expectation) or ``"linear"``.
        n_splits: random split-halves averaged.
        seed: seed of the splits.

    Returns:
        Scalar ceiling c (NaN when the split-half HSIC is not positive).
    """
    check_trials(trials)
    stats = trial_stats(trials)
    if bool((stats.count < 2).any()):
        raise ValueError(
            f"every stimulus needs >= 2 valid repeats for a CKA ceiling; minimum found: {int(stats.count.min())}"
        )
    generator = rng(seed)
    cross = torch.stack([hsic(*fold_means(trials, 2, generator), kind) for _ in range(n_splits)]).mean()
    own = hsic(stats.mean, stats.mean, kind)
    ratio = cross / own
    return torch.where((cross > 0) & (own > 0), ratio.clamp_min(0).sqrt(), torch.full_like(ratio, float("nan")))

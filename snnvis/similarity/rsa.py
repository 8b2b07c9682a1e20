"""Noise ceilings for representational similarity analysis.

:func:`noise_ceiling` follows rsatoolbox's ``boot_noise_ceiling`` (Nili et al. 2014):
given one RDM per subject / split, the *upper* bound is the mean similarity of each RDM
to the pooled RDM of all of them, and the *lower* bound the mean similarity of each RDM
to the pooled RDM of the others (leave one out). Pooling is rsatoolbox's ``pool_rdm``,
the average that is optimal for the comparison method: average ranks for
``"spearman"``/``"kendall_tau_a"``, z-scored dissimilarities for ``"pearson"``,
dissimilarities scaled to unit root-mean-square for ``"cosine"``.

The per-split RDMs can be built from repeats (:func:`rdms_from_folds`, or
:func:`partition_rdms` for several random partitions) or from groups of neurons such as
animals or sessions (:func:`rdms_by_group`).

**Comparable score and ceiling.** Fold RDMs are built from a fraction of the repeats, so
a model must be scored against the same fold RDMs (rsatoolbox's ``eval_fixed``: the mean
similarity to each data RDM), not against the RDM of all repeats, which is less noisy.
The true model's expected score then lies between the two bounds. :func:`expected_ceiling`
gives a point estimate of it: sqrt of the mean similarity between pairs of folds. For
independent folds d_k = d + e_k with noise of equal variance, corr(d, d_k)^2 =
corr(d_a, d_b) (the argument behind the square root of a split-half reliability); rank
and other comparisons follow it approximately.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._backend import average_ranks, dispatch, rng
from .ceilings import check_trials, fold_means, spearman_brown
from .compare import COMPARE_METHODS, compare_rdms, compare_vectors
from .rdm import rdm, upper_triangle


def _pool_transform(v: torch.Tensor, method: str) -> torch.Tensor:
    """Transform RDM vectors (k, P) so that their mean is rsatoolbox's pooled RDM."""
    if method in ("spearman", "kendall_tau_a"):
        return average_ranks(v)
    if method == "pearson":
        centred = v - v.mean(-1, keepdim=True)
        return centred / centred.pow(2).mean(-1, keepdim=True).sqrt()
    return v / v.pow(2).mean(-1, keepdim=True).sqrt()


@dispatch("rdms")
def noise_ceiling(rdms, method: str = "spearman"):
    """Lower and upper noise-ceiling bounds from per-subject or per-split RDMs.

    Args:
        rdms: (k, n, n) RDMs of k >= 2 subjects, animals, sessions or data splits.
        method: RDM comparison (see :func:`snnvis.similarity.compare_rdms`).

    Returns:
        (lower, upper): lower = mean_k sim(RDM_k, pool(all RDMs but k)),
        upper = mean_k sim(RDM_k, pool(all RDMs)). Dissimilarities that are NaN in any
        RDM are left out.
    """
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown RDM comparison {method!r}; expected one of {COMPARE_METHODS}")
    if rdms.ndim != 3 or rdms.shape[-1] != rdms.shape[-2] or rdms.shape[0] < 2:
        raise ValueError(f"rdms must have shape (k >= 2, n, n), got {tuple(rdms.shape)}")
    v = upper_triangle(rdms)
    v = v[:, ~torch.isnan(v).any(0)]
    z = _pool_transform(v, method)
    k = v.shape[0]
    total = z.sum(0)
    upper = compare_vectors(v, total / k, method).mean()
    lower = compare_vectors(v, (total - z) / (k - 1), method).mean()
    return lower, upper


@dispatch("trials")
def rdms_from_folds(trials, n_folds: int = 2, method: str = "correlation", seed: int = 0):
    """One RDM per random fold of the repeats, for :func:`noise_ceiling`.

    Args:
        trials: (stimuli, repeats, neurons), NaN-padded. Each stimulus's valid repeats
            are shuffled and dealt into ``n_folds`` equal folds (see
            :func:`snnvis.similarity.ceilings.fold_means`).
        n_folds: number of folds (>= 2).
        method: RDM method of :func:`snnvis.similarity.rdm`.
        seed: seed of the random fold assignment.

    Returns:
        (n_folds, stimuli, stimuli) RDMs of the fold-averaged responses.
    """
    check_trials(trials)
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    return rdm(fold_means(trials, n_folds, rng(seed)), method)


@dispatch("trials")
def partition_rdms(trials, n_folds: int = 2, n_partitions: int = 5, method: str = "correlation", seed: int = 0):
    """Fold RDMs of ``n_partitions`` independent random partitions of the repeats.

    Returns:
        (n_partitions, n_folds, stimuli, stimuli); partition p is what
        :func:`rdms_from_folds` gives for one draw of the folds.
    """
    check_trials(trials)
    if n_folds < 2 or n_partitions < 1:
        raise ValueError(f"need n_folds >= 2 and n_partitions >= 1, got {n_folds}, {n_partitions}")
    generator = rng(seed)
    return torch.stack([rdm(fold_means(trials, n_folds, generator), method) for _ in range(n_partitions)])


@dispatch("rdms")
def expected_ceiling(rdms, method: str = "spearman"):
    """Point estimate of the true model's mean similarity to each of k RDMs: the square root
    of the mean similarity over pairs of RDMs (NaN when that is not positive).

    Args:
        rdms: (k >= 2, n, n), or (partitions, k, n, n) whose pair similarities are averaged
            over partitions too.
    """
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown RDM comparison {method!r}; expected one of {COMPARE_METHODS}")
    sets = rdms if rdms.ndim == 4 else rdms[None]
    if sets.ndim != 4 or sets.shape[1] < 2:
        raise ValueError(f"rdms must have shape (k >= 2, n, n) or (partitions, k, n, n), got {tuple(rdms.shape)}")
    pairs = []
    for group in sets:
        v = upper_triangle(group)
        v = v[:, ~torch.isnan(v).any(0)]
        pairs += [compare_vectors(v[a], v[b], method) for a in range(len(v)) for b in range(a + 1, len(v))]
    mean = torch.stack(pairs).mean()
    return torch.where(mean > 0, mean.clamp_min(0).sqrt(), torch.full_like(mean, float("nan")))


@dispatch("rdms")
def partition_noise_ceiling(rdms, method: str = "spearman"):
    """rsatoolbox's lower and upper bounds (:func:`noise_ceiling`) of every partition,
    averaged over partitions, and :func:`expected_ceiling`.

    Args:
        rdms: (partitions, k >= 2, n, n) from :func:`partition_rdms`.

    Returns:
        (lower, upper, expected) scalars.
    """
    if rdms.ndim != 4:
        raise ValueError(f"rdms must have shape (partitions, k, n, n), got {tuple(rdms.shape)}")
    bounds = torch.stack([torch.stack(noise_ceiling(r, method)) for r in rdms]).mean(0)
    return bounds[0], bounds[1], expected_ceiling(rdms, method)


@dispatch("responses")
def rdms_by_group(responses, groups: Sequence, method: str = "correlation"):
    """One RDM per group of neurons (animal, session, ...), for a leave-one-group-out
    :func:`noise_ceiling`.

    Args:
        responses: (stimuli, neurons) repeat-averaged responses.
        groups: length-neurons labels (any sortable values).
        method: RDM method of :func:`snnvis.similarity.rdm`.

    Returns:
        (n_groups, stimuli, stimuli) RDMs, in sorted order of the group labels.
    """
    labels = np.asarray(groups)
    if responses.ndim != 2 or labels.shape != (responses.shape[1],):
        raise ValueError(
            f"groups must hold one label per neuron: responses {tuple(responses.shape)}, groups {labels.shape}"
        )
    members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    return torch.stack([rdm(responses[:, torch.as_tensor(m, device=responses.device)], method) for m in members])


@dispatch("trials")
def split_half_ceiling(
    trials, rdm_method: str = "correlation", compare: str = "spearman", n_splits: int = 10, seed: int = 0
):
    """Split-half reliability of the RDM, Spearman-Brown corrected.

    For each random split of the repeats into two halves, an RDM is computed from each
    half's mean responses and the two RDMs are compared. The similarity is averaged over
    the splits and corrected to the full number of repeats with r_sb = 2r / (1 + r).
    This predicts the similarity between RDMs of two independent experiments with all
    repeats well at good SNR; RDM similarities are not linear in the noise, and at low
    SNR the corrected value underestimates that replication similarity.

    Args:
        trials: (stimuli, repeats, neurons), NaN-padded.
        rdm_method: RDM method of :func:`snnvis.similarity.rdm`.
        compare: comparison method of :func:`snnvis.similarity.compare_rdms`.
        n_splits: number of random splits averaged.
        seed: seed of the splits (deterministic).

    Returns:
        Scalar Spearman-Brown corrected split-half RDM reliability.
    """
    check_trials(trials)
    generator = rng(seed)
    r = torch.stack(
        [compare_rdms(*rdm(fold_means(trials, 2, generator), rdm_method), compare) for _ in range(n_splits)]
    )
    return spearman_brown(r.mean())

"""Canonical correlation analysis (CCA) and SVCCA.

:func:`cca` is closed-form CCA: with orthonormal bases Q_x, Q_y of the centred data
(left singular vectors, numerically null directions dropped), the canonical correlations
are the singular values of Q_x^T Q_y (Bjorck & Golub 1973). When a block has at least as
many dimensions as stimuli minus one, in-sample CCA correlations are trivially 1: reduce
dimensionality first (:func:`svcca`) or cross-validate (:func:`svcca_cv`).

SVCCA (Raghu et al. 2017, NeurIPS) keeps the top singular directions of each block
(explicit ``k`` or enough to explain ``var_threshold`` of the variance) and averages the
canonical correlations between them. :func:`svcca` is **in-sample**: SVD and CCA are fit
and evaluated on the same stimuli, which inflates the score. :func:`svcca_cv` fits SVD and
CCA projections on training folds and correlates the projections of held-out stimuli;
:func:`svcca_transform` applies a fit on training stimuli to any other stimuli.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._backend import Array, dispatch, eps, pearson
from .regression import _train_test, kfold_splits


class _Whitened(NamedTuple):
    q: torch.Tensor  # (n, r) orthonormal basis of the centred data
    to_q: torch.Tensor  # (dims, r) map from centred data to q coordinates
    mean: torch.Tensor  # (dims,)


def _whiten(X: torch.Tensor, k: int | None = None, var_threshold: float | None = None) -> _Whitened:
    """Orthonormal basis of the centred data: all its numerically non-null directions, the
    top ``k``, or the fewest top directions explaining ``var_threshold`` of the variance."""
    mean = X.mean(0)
    u, s, vh = torch.linalg.svd(X - mean, full_matrices=False)
    r = int((s > s[0] * max(X.shape) * eps(X)).sum())
    if k is not None:
        r = min(k, r)
    elif var_threshold is not None:
        explained = torch.cumsum(s**2, 0) / (s**2).sum()
        r = min(int((explained < var_threshold - 1e-12).sum()) + 1, r)
    return _Whitened(u[:, :r], vh[:r].T / s[:r], mean)


def _check_svd_args(k: int | None, var_threshold: float) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0 < var_threshold <= 1:
        raise ValueError(f"var_threshold must be in (0, 1], got {var_threshold}")


def _check_pair(X: torch.Tensor, Y: torch.Tensor) -> None:
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must be (stimuli, dims) with the same stimuli, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    if X.shape[0] < 3:
        raise ValueError(f"need at least 3 stimuli, got {X.shape[0]}")


class _CCAFit(NamedTuple):
    corr: torch.Tensor  # (m,) canonical correlations, descending
    wx: torch.Tensor  # (p, m) canonical weights of X (applied to centred X)
    wy: torch.Tensor  # (q, m)
    x_mean: torch.Tensor
    y_mean: torch.Tensor


def _cca_fit(X: torch.Tensor, Y: torch.Tensor, k: int | None = None, var_threshold: float | None = None) -> _CCAFit:
    """CCA between the directions of X and of Y kept by :func:`_whiten`."""
    wx, wy = _whiten(X, k, var_threshold), _whiten(Y, k, var_threshold)
    u, s, vh = torch.linalg.svd(wx.q.T @ wy.q, full_matrices=False)
    return _CCAFit(s.clamp(0, 1), wx.to_q @ u, wy.to_q @ vh.T, wx.mean, wy.mean)


@dispatch("X", "Y")
def cca(X, Y, n_components: int | None = None):
    """Canonical correlations between X (n, p) and Y (n, q), in-sample, descending.

    Args:
        X: (stimuli, p).
        Y: (stimuli, q).
        n_components: number of leading correlations returned (default: all,
            min(rank X, rank Y)).

    Returns:
        (n_components,) canonical correlations in [0, 1].
    """
    _check_pair(X, Y)
    corr = _cca_fit(X, Y).corr
    if n_components is not None:
        if not 1 <= n_components <= len(corr):
            raise ValueError(f"n_components must be in [1, {len(corr)}], got {n_components}")
        corr = corr[:n_components]
    return corr


class SVCCAResult(NamedTuple):
    """SVCCA score: mean canonical correlation, the correlations, and how they were
    obtained (``"in-sample"`` or ``"cross-validated (k folds)"``)."""

    score: Array
    correlations: Array
    kind: str


@dispatch("X", "Y")
def svcca(X, Y, k: int | None = None, var_threshold: float = 0.99, cv: int | None = None, seed: int = 0):
    """SVCCA similarity of X (n, p) and Y (n, q).

    Each block is reduced to its top ``k`` singular directions (or, with ``k=None``, to
    the fewest directions explaining ``var_threshold`` of its variance), then CCA is run
    between the reduced blocks and the canonical correlations are averaged.

    With ``cv=None`` (default) this is **in-sample**: the projections are fit and scored
    on the same stimuli (``kind == "in-sample"``), an optimistic score. With an integer
    ``cv`` it returns :func:`svcca_cv` with ``n_folds=cv``.

    Returns:
        :class:`SVCCAResult` (score, correlations, kind).
    """
    if cv is not None:
        return svcca_cv(X, Y, k=k, n_folds=cv, seed=seed, var_threshold=var_threshold)
    _check_pair(X, Y)
    _check_svd_args(k, var_threshold)
    corr = _cca_fit(X, Y, k, var_threshold).corr
    return SVCCAResult(corr.mean(), corr, "in-sample")


@dispatch("X_train", "Y_train", "X_test", "Y_test")
def svcca_transform(X_train, Y_train, X_test, Y_test, k: int | None = None, var_threshold: float = 0.99):
    """Held-out canonical variates: SVD reduction and CCA fit on training stimuli
    (as in one fold of :func:`svcca_cv`), applied to test stimuli.

    Returns:
        (u, v): (test stimuli, m) canonical variates of X_test and Y_test, in order of
        decreasing training canonical correlation. Their column-wise Pearson correlations
        are the held-out canonical correlations (mean = held-out SVCCA).
    """
    _check_pair(X_train, Y_train)
    _check_svd_args(k, var_threshold)
    if (
        X_test.shape[1:] != X_train.shape[1:]
        or Y_test.shape[1:] != Y_train.shape[1:]
        or X_test.shape[0] != Y_test.shape[0]
    ):
        raise ValueError("test blocks must match the training blocks' dimensions and each other's stimuli")
    fit = _cca_fit(X_train, Y_train, k, var_threshold)
    return (X_test - fit.x_mean) @ fit.wx, (Y_test - fit.y_mean) @ fit.wy


@dispatch("X", "Y")
def svcca_cv(X, Y, k: int | None = None, n_folds: int = 5, seed: int = 0, var_threshold: float = 0.99):
    """Cross-validated SVCCA.

    For each fold of a seeded k-fold partition of the stimuli (:func:`kfold_splits`), the
    SVD reduction (dimensionality chosen as in :func:`svcca`, on the training stimuli) and
    the CCA weights are fit on the training stimuli; the held-out stimuli are projected
    with them (:func:`svcca_transform`) and each canonical pair is correlated (Pearson)
    across the held-out stimuli.

    Returns:
        :class:`SVCCAResult`: per-component held-out correlations averaged over folds
        (truncated to the fewest components any fold has), their mean as ``score``, and
        ``kind = "cross-validated (n folds)"``.
    """
    _check_pair(X, Y)
    _check_svd_args(k, var_threshold)
    per_fold = []
    for test in kfold_splits(X.shape[0], n_folds, seed):
        train_idx, test_idx = _train_test(X.shape[0], test, X.device)
        if len(test_idx) < 3:
            raise ValueError(f"held-out folds need >= 3 stimuli; use fewer than {n_folds} folds")
        u, v = svcca_transform(X[train_idx], Y[train_idx], X[test_idx], Y[test_idx], k, var_threshold)
        per_fold.append(pearson(u, v, dim=0))
    m = min(len(c) for c in per_fold)
    corr = torch.stack([c[:m] for c in per_fold]).mean(0)
    return SVCCAResult(corr.mean(), corr, f"cross-validated ({n_folds} folds)")

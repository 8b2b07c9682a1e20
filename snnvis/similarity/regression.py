"""Linear predictivity of neural responses from model features.

All scores come from held-out predictions: leave-one-out (closed form), k-fold, or a
fit on training stimuli applied to other stimuli (:func:`ridge_fit_predict`,
:func:`pls_fit_predict`).

Ridge (:func:`loo_ridge`, :func:`loo_ridge_alphas`, :func:`ridge_fit_predict`,
:func:`kfold_ridge`) is ridge regression with an unpenalised intercept, i.e. sklearn's
``Ridge(alpha, fit_intercept=True)``. With X_c the features centred by their mean, its
hat matrix is

    H = 1 1^T / n + X_c (X_c^T X_c + alpha I)^-1 X_c^T

(the intercept column is orthogonal to X_c and unpenalised). For any penalised least
squares problem with a fixed quadratic penalty, the fit without point i is the solution
of the same problem on the remaining points, and its residual at i is e_i / (1 - H_ii)
(the Sherman-Morrison identity). So the exact leave-one-out prediction is

    yhat_(i) = y_i - e_i / (1 - H_ii),   e = Y - H Y.

H is evaluated through the thin SVD X_c = U S V^T computed from the smaller Gram
matrix (X_c^T X_c when features <= stimuli, the kernel X_c X_c^T otherwise): with
Z = X_c V and lambda = S^2, X_c (X_c^T X_c + alpha I)^-1 X_c^T = Z diag(1/(lambda+alpha))
Z^T, so one eigendecomposition serves every alpha.

PLS (:func:`pls_fit_predict`, :func:`kfold_pls`) reproduces sklearn's
``PLSRegression(scale=False)`` (PLS2, NIPALS with regression deflation) at convergence,
without sklearn at runtime.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

from ._backend import Array, dispatch, eps, matmul, pearson, rng


def _as_2d(Y: torch.Tensor) -> torch.Tensor:
    return Y[:, None] if Y.ndim == 1 else Y


def _check_xy(X: torch.Tensor, Y: torch.Tensor) -> None:
    if X.ndim != 2:
        raise ValueError(f"X must have shape (stimuli, features), got {tuple(X.shape)}")
    if Y.ndim not in (1, 2) or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have shape (stimuli, neurons) with stimuli = {X.shape[0]}, got {tuple(Y.shape)}")
    if X.shape[0] < 3:
        raise ValueError(f"need at least 3 stimuli, got {X.shape[0]}")


def _check_test(X_train: torch.Tensor, X_test: torch.Tensor) -> None:
    if X_test.ndim != 2 or X_test.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_test must be (stimuli, {X_train.shape[1]}), got {tuple(X_test.shape)}")


def _check_alphas(alphas: Sequence[float]) -> list[float]:
    alphas = [float(a) for a in np.atleast_1d(np.asarray(alphas, dtype=float))]
    if not alphas or min(alphas) <= 0:
        raise ValueError(f"ridge alphas must be > 0, got {alphas}")
    return alphas


class _RidgeBasis:
    """Spectral form of ridge with unpenalised intercept on training features X.

    Attributes:
        x_mean: (features,) training mean.
        scores: Z = X_c V, (stimuli, r) for the r non-null singular directions.
        lam: (r,) squared singular values of X_c.
    """

    def __init__(self, X: torch.Tensor):
        n, p = X.shape
        self.x_mean = X.mean(0)
        xc = X - self.x_mean
        self._primal = p <= n
        lam, vecs = torch.linalg.eigh(matmul(xc.T, xc) if self._primal else matmul(xc, xc.T))
        # Directions below the eigensolver's rounding level are numerically null.
        keep = lam > lam[-1].clamp_min(0) * max(n, p) * eps(X)
        self.lam, vecs = lam[keep], vecs[:, keep]
        if self._primal:  # vecs = V
            self._v = vecs
            self.scores = matmul(xc, vecs)
        else:  # vecs = left singular vectors U
            self._xc, self._u_scaled = xc, vecs / self.lam.sqrt()
            self.scores = vecs * self.lam.sqrt()

    def project(self, X_new: torch.Tensor) -> torch.Tensor:
        """Scores (n_new, r) of new stimuli: (X_new - x_mean) V, with V = X_c^T U / S in
        the kernel form."""
        centred = X_new - self.x_mean
        if self._primal:
            return matmul(centred, self._v)
        return matmul(matmul(centred, self._xc.T), self._u_scaled)

    def loo_residuals(self, yc: torch.Tensor, alphas: list[float]) -> Iterator[torch.Tensor]:
        """Leave-one-out residuals (stimuli, neurons) for centred targets ``yc``, for each
        penalty in turn: e / (1 - diag H)."""
        zty = matmul(self.scores.T, yc)
        sq_scores = self.scores**2
        for alpha in alphas:
            shrink = 1 / (self.lam + alpha)
            fitted = matmul(self.scores, shrink[:, None] * zty)
            leverage = 1 / yc.shape[0] + sq_scores @ shrink
            yield (yc - fitted) / (1 - leverage)[:, None]


@dispatch("X", "Y")
def loo_ridge(X, Y, alpha: float):
    """Exact leave-one-out ridge predictions (closed form, no refitting).

    Equal to refitting sklearn ``Ridge(alpha=alpha, fit_intercept=True)`` n times, each
    time without one stimulus, and predicting that stimulus.

    Args:
        X: (stimuli, features) model features.
        Y: (stimuli, neurons) or (stimuli,) responses.
        alpha: ridge penalty (> 0).

    Returns:
        Held-out predictions with the shape of Y.
    """
    return loo_ridge_alphas(X, Y, [alpha])[0]


@dispatch("X", "Y")
def loo_ridge_alphas(X, Y, alphas: Sequence[float]):
    """Exact leave-one-out ridge predictions for several penalties at the cost of one.

    The eigendecomposition of the smaller Gram matrix is shared by all alphas, so the
    penalty can be chosen per neuron by leave-one-out error without refitting (see
    :func:`kfold_ridge`).

    Args:
        X: (stimuli, features).
        Y: (stimuli, neurons) or (stimuli,).
        alphas: penalties (> 0).

    Returns:
        (len(alphas), *Y.shape) held-out predictions.
    """
    _check_xy(X, Y)
    basis = _RidgeBasis(X)
    y = _as_2d(Y)
    yc = y - y.mean(0)
    preds = torch.stack([y - r for r in basis.loo_residuals(yc, _check_alphas(alphas))])
    return preds.reshape(len(preds), *Y.shape)


def kfold_splits(n: int, n_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Test-index arrays of a seeded random k-fold partition of ``range(n)``."""
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in [2, {n}], got {n_folds}")
    return np.array_split(rng(seed).permutation(n), n_folds)


def _train_test(n: int, test: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return (torch.as_tensor(np.flatnonzero(mask), device=device), torch.as_tensor(test, device=device))


@dispatch("X_train", "Y_train", "X_test")
def ridge_fit_predict(X_train, Y_train, X_test, alphas: Sequence[float], inner: str = "per_neuron"):
    """Ridge (unpenalised intercept) fit on training stimuli, predicting other stimuli.

    The penalty is chosen from ``alphas`` by the closed-form leave-one-out error on the
    training stimuli only (per neuron, or ``inner="global"``: one for all), as in each
    fold of :func:`kfold_ridge`.

    Args:
        X_train: (train stimuli, features).
        Y_train: (train stimuli, neurons) or (train stimuli,).
        X_test: (test stimuli, features).
        alphas: candidate penalties (> 0).
        inner: ``"per_neuron"`` or ``"global"`` alpha choice.

    Returns:
        (test stimuli, neurons) predictions (or (test stimuli,) for 1-D Y_train).
    """
    _check_xy(X_train, Y_train)
    _check_test(X_train, X_test)
    if inner not in ("per_neuron", "global"):
        raise ValueError(f"inner must be 'per_neuron' or 'global', got {inner!r}")
    alphas = _check_alphas(alphas)
    y = _as_2d(Y_train)
    basis = _RidgeBasis(X_train)
    y_mean = y.mean(0)
    yc = y - y_mean
    loo_mse = torch.stack([r.pow(2).mean(0) for r in basis.loo_residuals(yc, alphas)])
    mse = loo_mse if inner == "per_neuron" else loo_mse.mean(1, keepdim=True).expand_as(loo_mse)
    best = mse.argmin(0)
    alpha = torch.as_tensor(alphas, dtype=X_train.dtype, device=X_train.device)[best]
    coef = matmul(basis.scores.T, yc) / (basis.lam[:, None] + alpha[None, :])
    out = y_mean + matmul(basis.project(X_test), coef)
    return out.reshape(X_test.shape[0], *Y_train.shape[1:])


@dispatch("X", "Y")
def kfold_ridge(X, Y, alphas: Sequence[float], n_folds: int = 5, inner: str = "per_neuron", seed: int = 0):
    """Held-out ridge predictions by k-fold cross-validation with nested alpha choice.

    Each outer fold is predicted by :func:`ridge_fit_predict` fit on the other folds: the
    penalty is chosen from ``alphas`` by the closed-form leave-one-out error on the
    training stimuli only, then ridge (unpenalised intercept) predicts the held-out ones.

    Args:
        X: (stimuli, features).
        Y: (stimuli, neurons) or (stimuli,).
        alphas: candidate penalties (> 0).
        n_folds: number of outer folds (seeded random partition, :func:`kfold_splits`).
        inner: ``"per_neuron"`` (each neuron its own alpha) or ``"global"`` (one alpha
            minimising the mean leave-one-out error over neurons).
        seed: seed of the outer partition.

    Returns:
        Held-out predictions with the shape of Y; every stimulus is predicted once, by
        the model fit without it.
    """
    _check_xy(X, Y)
    out = torch.empty_like(Y)
    for test in kfold_splits(X.shape[0], n_folds, seed):
        train_idx, test_idx = _train_test(X.shape[0], test, X.device)
        out[test_idx] = ridge_fit_predict(X[train_idx], Y[train_idx], X[test_idx], alphas, inner)
    return out


@dispatch("X_train", "Y_train", "X_test")
def pls_fit_predict(X_train, Y_train, X_test, n_components: int = 25):
    """PLS regression fit on training stimuli, predicting X_test.

    PLS2 with NIPALS and regression deflation, no scaling: sklearn
    ``PLSRegression(n_components, scale=False)`` at convergence. Each weight vector is the
    converged NIPALS solution, the dominant left singular vector of X_k^T Y (from the
    smaller Gram matrix of that cross-covariance). Deflating X alone suffices:
    X_k^T Y_k = X_k^T Y because the X scores are mutually orthogonal, so X_k^T Y is
    updated by a rank-one downdate. Predictions are (X_test - x_mean) W (P^T W)^-1 Q^T +
    y_mean, as in sklearn.

    Args:
        X_train: (train stimuli, features).
        Y_train: (train stimuli, neurons) or (train stimuli,).
        X_test: (test stimuli, features).
        n_components: PLS components (<= min(train stimuli, features)).

    Returns:
        (test stimuli, neurons) predictions (or (test stimuli,) for 1-D Y_train).
    """
    _check_xy(X_train, Y_train)
    _check_test(X_train, X_test)
    limit = min(X_train.shape)
    if not 1 <= n_components <= limit:
        raise ValueError(f"n_components must be in [1, {limit}], got {n_components}")
    y = _as_2d(Y_train)
    x_mean, y_mean = X_train.mean(0), y.mean(0)
    xk, yc = X_train - x_mean, y - y_mean
    cross = xk.T @ yc  # X_k^T Y, (features, neurons)
    weights, x_loadings, y_loadings = [], [], []
    for _ in range(n_components):
        if cross.shape[1] <= cross.shape[0]:
            c = torch.linalg.eigh(cross.T @ cross).eigenvectors[:, -1]
            w = cross @ c
            w = w / torch.linalg.vector_norm(w)
        else:
            w = torch.linalg.eigh(cross @ cross.T).eigenvectors[:, -1]
        t = xk @ w
        tt = t @ t
        p = xk.T @ t / tt
        ty = t @ yc
        xk = xk - torch.outer(t, p)
        cross = cross - torch.outer(p, ty)
        weights.append(w)
        x_loadings.append(p)
        y_loadings.append(ty / tt)
    W, P, Q = (torch.stack(v, 1) for v in (weights, x_loadings, y_loadings))
    coef = W @ torch.linalg.solve(P.T @ W, Q.T)
    out = (X_test - x_mean) @ coef + y_mean
    return out.reshape(X_test.shape[0], *Y_train.shape[1:])


@dispatch("X", "Y")
def kfold_pls(X, Y, n_components: int = 25, n_folds: int = 5, seed: int = 0):
    """Held-out PLS regression predictions by k-fold cross-validation.

    Each fold of :func:`kfold_splits` is predicted by :func:`pls_fit_predict` fit on the
    other folds, i.e. by sklearn ``PLSRegression(n_components, scale=False)`` run to
    convergence.

    Args:
        X: (stimuli, features).
        Y: (stimuli, neurons) or (stimuli,).
        n_components: PLS components (<= min(training stimuli, features)).
        n_folds: number of folds.
        seed: seed of the partition.

    Returns:
        Held-out predictions with the shape of Y.
    """
    _check_xy(X, Y)
    out = torch.empty_like(Y)
    for test in kfold_splits(X.shape[0], n_folds, seed):
        train_idx, test_idx = _train_test(X.shape[0], test, X.device)
        out[test_idx] = pls_fit_predict(X[train_idx], Y[train_idx], X[test_idx], n_components)
    return out


class Predictivity(NamedTuple):
    """Per-neuron held-out correlation and its summaries (NaN neurons ignored)."""

    r: Array  # (neurons,) Pearson r
    median: Array  # scalar
    mean: Array  # scalar


@dispatch("pred", "Y")
def predictivity(pred, Y):
    """Per-neuron Pearson r between held-out predictions and responses.

    Args:
        pred: (stimuli, neurons) held-out predictions (from :func:`loo_ridge`,
            :func:`kfold_ridge` or :func:`kfold_pls`; never in-sample fits).
        Y: (stimuli, neurons) responses.

    Returns:
        :class:`Predictivity` (r, median, mean); r is NaN for a neuron whose responses or
        predictions are constant, and NaN entries are ignored by the summaries.
    """
    if pred.shape != Y.shape or Y.ndim != 2:
        raise ValueError(f"pred and Y must both be (stimuli, neurons); got {tuple(pred.shape)} and {tuple(Y.shape)}")
    r = pearson(pred, Y, dim=0)
    return Predictivity(r, torch.nanquantile(r, 0.5), torch.nanmean(r))

"""Held-out regression predictivity against sklearn and hand-written loops."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import Ridge, RidgeCV

from snnvis.similarity import (
    kfold_pls,
    kfold_ridge,
    kfold_splits,
    loo_ridge,
    loo_ridge_alphas,
    pls_fit_predict,
    predictivity,
    ridge_fit_predict,
)


def _data(n, p, q, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 3.0  # non-zero means exercise the intercept
    Y = X[:, :4] @ rng.normal(size=(4, q)) + rng.normal(size=(n, q)) + 5.0
    return X, Y


def _loo_sklearn(X, Y, alpha):
    out = np.empty_like(Y)
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        out[i] = Ridge(alpha=alpha, fit_intercept=True).fit(X[keep], Y[keep]).predict(X[i : i + 1])[0]
    return out


def _loo_by_hand(X, Y, alpha):
    """Refit with the intercept unpenalised: centre by the training mean, solve the normal
    equations, predict the left-out stimulus."""
    out = np.empty_like(Y)
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        xm, ym = X[keep].mean(0), Y[keep].mean(0)
        xc, yc = X[keep] - xm, Y[keep] - ym
        beta = np.linalg.solve(xc.T @ xc + alpha * np.eye(X.shape[1]), xc.T @ yc)
        out[i] = ym + (X[i] - xm) @ beta
    return out


@pytest.mark.parametrize("shape", [(40, 10, 3), (30, 60, 4)], ids=["primal", "kernel"])
def test_loo_ridge_equals_refit_loops(shape):
    X, Y = _data(*shape)
    ours = loo_ridge(X, Y, 2.5)
    np.testing.assert_allclose(ours, _loo_sklearn(X, Y, 2.5), atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours, _loo_by_hand(X, Y, 2.5), atol=1e-6, rtol=0)


def test_loo_ridge_alphas_and_1d_target():
    X, Y = _data(25, 40, 3, seed=1)
    alphas = [0.1, 3.0, 100.0]
    many = loo_ridge_alphas(X, Y, alphas)
    assert many.shape == (3, 25, 3)
    for a, pred in zip(alphas, many):
        np.testing.assert_allclose(pred, _loo_by_hand(X, Y, a), atol=1e-6)
    single = loo_ridge(X, Y[:, 0], 3.0)
    assert single.shape == (25,)
    np.testing.assert_allclose(single, many[1][:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="> 0"):
        loo_ridge(X, Y, 0.0)
    with pytest.raises(ValueError, match="stimuli"):
        loo_ridge(X, Y[:10], 1.0)


@pytest.mark.parametrize("inner", ["per_neuron", "global"])
@pytest.mark.parametrize("shape", [(60, 12, 5), (50, 80, 5)], ids=["primal", "kernel"])
def test_kfold_ridge_equals_sklearn_nested_ridgecv(inner, shape):
    """Outer folds of kfold_splits; inner alpha by leave-one-out on the training fold,
    which is what RidgeCV's efficient LOO does (per target or shared)."""
    X, Y = _data(*shape, seed=2)
    alphas = [0.01, 1.0, 30.0, 1000.0]
    ours = kfold_ridge(X, Y, alphas, n_folds=4, inner=inner, seed=5)
    ref = np.empty_like(Y)
    for test in kfold_splits(len(X), 4, 5):
        train = np.setdiff1d(np.arange(len(X)), test)
        per_target = inner == "per_neuron"
        ref[test] = RidgeCV(alphas=alphas, alpha_per_target=per_target).fit(X[train], Y[train]).predict(X[test])
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_fit_predict_on_new_stimuli_equals_sklearn():
    X, Y = _data(50, 30, 4, seed=6)
    X_new = np.random.default_rng(7).normal(size=(9, 30)) + 3.0
    np.testing.assert_allclose(
        ridge_fit_predict(X, Y, X_new, [3.0]), Ridge(alpha=3.0).fit(X, Y).predict(X_new), atol=1e-8
    )
    np.testing.assert_allclose(
        ridge_fit_predict(X, Y, X_new, [0.1, 10.0, 1e3], inner="global"),
        RidgeCV(alphas=[0.1, 10.0, 1e3]).fit(X, Y).predict(X_new),
        atol=1e-8,
    )
    assert ridge_fit_predict(X, Y[:, 0], X_new, [1.0]).shape == (9,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pls = PLSRegression(4, scale=False, max_iter=100_000, tol=1e-30).fit(X, Y)
    np.testing.assert_allclose(pls_fit_predict(X, Y, X_new, 4), pls.predict(X_new), atol=1e-6)
    with pytest.raises(ValueError, match="X_test"):
        ridge_fit_predict(X, Y, X_new[:, :5], [1.0])


def test_kfold_splits_partition():
    folds = kfold_splits(23, 5, seed=1)
    assert sorted(np.concatenate(folds)) == list(range(23))
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    with pytest.raises(ValueError, match="n_folds"):
        kfold_splits(3, 5)


@pytest.mark.parametrize("n_components", [1, 3, 8])
def test_kfold_pls_equals_sklearn_pls_regression(n_components):
    X, Y = _data(60, 20, 5, seed=3)
    ours = kfold_pls(X, Y, n_components, n_folds=4, seed=1)
    converged, default = np.empty_like(Y), np.empty_like(Y)
    for test in kfold_splits(len(X), 4, 1):
        train = np.setdiff1d(np.arange(len(X)), test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the strict tolerance hits max_iter
            pls = PLSRegression(n_components, scale=False, max_iter=100_000, tol=1e-30)
            converged[test] = pls.fit(X[train], Y[train]).predict(X[test])
        default[test] = PLSRegression(n_components, scale=False).fit(X[train], Y[train]).predict(X[test])
    # sklearn run to convergence: same predictions to rounding.
    np.testing.assert_allclose(ours, converged, atol=1e-6, rtol=0)
    # sklearn's defaults stop the power iteration early (tol=1e-6 on the squared change of
    # the weights): agreement only to about 1e-3 relative.
    np.testing.assert_allclose(ours, default, rtol=1e-2)


def test_kfold_pls_single_target_and_bounds():
    X, Y = _data(30, 6, 1, seed=4)
    ref = np.empty(30)
    for test in kfold_splits(30, 3, 0):
        train = np.setdiff1d(np.arange(30), test)
        ref[test] = PLSRegression(2, scale=False).fit(X[train], Y[train, 0]).predict(X[test])
    np.testing.assert_allclose(kfold_pls(X, Y[:, 0], 2, n_folds=3), ref, atol=1e-6)
    with pytest.raises(ValueError, match="n_components"):
        kfold_pls(X, Y, 7, n_folds=3)


def test_predictivity_is_per_neuron_pearson_with_nan_for_constant():
    rng = np.random.default_rng(5)
    pred, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    pred[:, 3] = 1.0
    result = predictivity(pred, Y)
    expected = [scipy.stats.pearsonr(pred[:, k], Y[:, k])[0] for k in range(3)]
    np.testing.assert_allclose(result.r[:3], expected, atol=1e-12)
    assert np.isnan(result.r[3])
    assert result.median == pytest.approx(np.median(expected))
    assert result.mean == pytest.approx(np.mean(expected))

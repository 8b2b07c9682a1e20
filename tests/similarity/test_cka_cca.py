"""CKA, CCA and SVCCA against independent reference implementations."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg
from sklearn.cross_decomposition import CCA

from snnvis.similarity import cca, cka, svcca, svcca_cv, svcca_transform


def _centre(k):
    h = np.eye(len(k)) - 1 / len(k)
    return h @ k @ h


def _cka_gram(k, l):
    kc, lc = _centre(k), _centre(l)
    return np.sum(kc * lc) / np.linalg.norm(kc) / np.linalg.norm(lc)


def _hsic_u_statistic(k, l):
    """Unbiased HSIC as the U-statistic over distinct index tuples (Song et al. 2012)."""
    n = len(k)
    t2 = np.mean([k[i, j] * l[i, j] for i, j in itertools.permutations(range(n), 2)])
    t3 = np.mean([k[i, j] * l[i, q] for i, j, q in itertools.permutations(range(n), 3)])
    t4 = np.mean([k[i, j] * l[q, r] for i, j, q, r in itertools.permutations(range(n), 4)])
    return t2 + t4 - 2 * t3


def _pair(n=40, p=6, q=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + 1.0
    Y = np.tanh(X @ rng.normal(size=(p, q))) + 0.5 * rng.normal(size=(n, q))
    return X, Y


@pytest.mark.parametrize("n", [40, 8], ids=["feature-form", "gram-form"])
def test_linear_cka_matches_gram_definition(n):
    X, Y = _pair(n=n)
    assert cka(X, Y) == pytest.approx(_cka_gram(X @ X.T, Y @ Y.T), abs=1e-12)


def test_linear_cka_invariances():
    X, Y = _pair()
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))[0]
    assert cka(X @ rotation * 3.0 + 7.0, Y) == pytest.approx(cka(X, Y), abs=1e-12)
    assert cka(X, X) == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(cka(np.ones((10, 3)), Y[:10]))


def test_unbiased_linear_cka_matches_u_statistics():
    X, Y = _pair(n=8)
    k, l = X @ X.T, Y @ Y.T
    ref = _hsic_u_statistic(k, l) / np.sqrt(_hsic_u_statistic(k, k) * _hsic_u_statistic(l, l))
    assert cka(X, Y, "linear_unbiased") == pytest.approx(ref, abs=1e-10)


def test_rbf_cka_matches_kornblith_reference():
    X, Y = _pair(n=30)

    def gram_rbf(x, threshold):
        dot = x @ x.T
        sq_norms = np.diag(dot)
        sq_distances = -2 * dot + sq_norms[:, None] + sq_norms[None, :]
        return np.exp(-sq_distances / (2 * threshold**2 * np.median(sq_distances)))

    expected = _cka_gram(gram_rbf(X, 0.8), gram_rbf(Y, 0.8))
    assert cka(X, Y, "rbf") == pytest.approx(expected, abs=1e-10)
    assert cka(X, Y, "rbf", sigma_frac=0.3) == pytest.approx(_cka_gram(gram_rbf(X, 0.3), gram_rbf(Y, 0.3)), abs=1e-10)


def test_cka_rejects_bad_input():
    X, Y = _pair()
    with pytest.raises(ValueError, match="same stimuli"):
        cka(X, Y[:-1])
    with pytest.raises(ValueError, match="unknown CKA kind"):
        cka(X, Y, "poly")


def _cca_closed_form(X, Y):
    """sqrt of the eigenvalues of Sxx^-1 Sxy Syy^-1 Syx."""
    xc, yc = X - X.mean(0), Y - Y.mean(0)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    m = np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)
    ev = np.sort(np.real(scipy.linalg.eigvals(m)))[::-1][: min(X.shape[1], Y.shape[1])]
    return np.sqrt(np.clip(ev, 0, 1))


def test_cca_matches_closed_form_and_sklearn():
    X, Y = _pair(n=200, p=4, q=3, seed=2)
    ours = cca(X, Y)
    np.testing.assert_allclose(ours, _cca_closed_form(X, Y), atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the strict tolerance hits max_iter
        model = CCA(n_components=3, scale=False, max_iter=100_000, tol=1e-30).fit(X, Y)
    xs, ys = model.transform(X, Y)
    sk = [np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(3)]
    np.testing.assert_allclose(ours, sk, atol=1e-6)
    assert cca(X, Y, n_components=2).shape == (2,)


def test_svcca_is_labelled_in_sample_and_reduces_by_svd():
    X, Y = _pair(n=60, p=10, q=8, seed=3)
    result = svcca(X, Y, k=3)
    assert result.kind == "in-sample"

    def top(a, k):
        u, s, _ = np.linalg.svd(a - a.mean(0), full_matrices=False)
        return u[:, :k] * s[:k]

    expected = _cca_closed_form(top(X, 3), top(Y, 3))
    np.testing.assert_allclose(result.correlations, expected, atol=1e-9)
    assert result.score == pytest.approx(expected.mean())
    # 99% variance: X built from 2 strong directions plus weak noise keeps 2 of them.
    rng = np.random.default_rng(4)
    low_rank = rng.normal(size=(60, 2)) @ rng.normal(size=(2, 10)) * 10
    low_rank += 0.01 * rng.normal(size=(60, 10))
    assert len(svcca(low_rank, Y).correlations) == 2


def test_svcca_transform_gives_canonical_variates():
    """Applied to its own training stimuli the variates reproduce in-sample SVCCA; they
    are centred with the training means and uncorrelated across components."""
    X, Y = _pair(n=60, p=10, q=8, seed=7)
    u, v = svcca_transform(X, Y, X, Y, k=4)
    corr = [np.corrcoef(u[:, i], v[:, i])[0, 1] for i in range(u.shape[1])]
    np.testing.assert_allclose(corr, svcca(X, Y, k=4).correlations, atol=1e-10)
    np.testing.assert_allclose(u.T @ u, np.eye(u.shape[1]), atol=1e-10)
    with pytest.raises(ValueError, match="test blocks"):
        svcca_transform(X, Y, X[:, :3], Y)


def test_svcca_cv_is_held_out():
    """On unrelated data the in-sample SVCCA is inflated; the cross-validated one is not."""
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(80, 10)), rng.normal(size=(80, 10))
    assert svcca(X, Y, k=10).score > 0.2
    cv = svcca_cv(X, Y, k=10, n_folds=4, seed=0)
    assert cv.kind == "cross-validated (4 folds)" and abs(cv.score) < 0.1
    via_svcca = svcca(X, Y, k=10, cv=4, seed=0)
    assert via_svcca.score == pytest.approx(cv.score)
    latent = rng.normal(size=(80, 3))  # a shared 3-d signal, strongest variance
    related = latent @ rng.normal(size=(3, 12)) * 3 + rng.normal(size=(80, 12))
    target = latent @ rng.normal(size=(3, 9)) * 3 + rng.normal(size=(80, 9))
    assert svcca_cv(related, target, k=3).score > 0.7

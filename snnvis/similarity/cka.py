"""Centered kernel alignment (CKA; Kornblith et al. 2019, ICML).

CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for Gram matrices K, L of the
stimuli in two representations X (n, p) and Y (n, q). Kinds:

* ``"linear"``: linear kernel, biased HSIC. Computed in feature space,
  ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F), when p + q < n, and from the
  n x n Gram matrices otherwise (the two are identical).
* ``"linear_unbiased"``: linear kernel with the unbiased HSIC estimator of Song et al.
  (2012, JMLR 13) (debiased CKA, Nguyen et al. 2021; Kornblith's ``debiased=True``); needs
  n >= 4 and can be slightly negative.
* ``"rbf"``: Gaussian kernel exp(-d^2 / (2 sigma^2)) with sigma = ``sigma_frac`` x the
  median distance, where the median is taken over all n^2 squared distances (diagonal
  included) as in Kornblith's reference ``gram_rbf``; biased HSIC.
"""

from __future__ import annotations

import torch

from ._backend import dispatch, eps, matmul

CKA_KINDS = ("linear", "linear_unbiased", "rbf")


def _centre_gram(k: torch.Tensor) -> torch.Tensor:
    k = k - k.mean(0, keepdim=True)
    return k - k.mean(1, keepdim=True)


def _ratio(num: torch.Tensor, den_sq: torch.Tensor) -> torch.Tensor:
    """num / sqrt(den_sq), NaN where den_sq is not positive (a constant representation)."""
    value = num / den_sq.clamp_min(0).sqrt()
    return torch.where(den_sq > 0, value, torch.full_like(value, float("nan")))


def _is_constant(a: torch.Tensor, centred: torch.Tensor) -> bool:
    """True if every stimulus has the same representation (up to rounding)."""
    tol = 16 * eps(a) * torch.linalg.vector_norm(a)
    return bool(torch.linalg.vector_norm(centred) <= tol)


def _unbiased_hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """Unbiased HSIC estimator (Song et al. 2012, eq. 5) times n(n-3) (the factor cancels
    in CKA)."""
    n = k.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=k.device)
    k, l = k.masked_fill(eye, 0), l.masked_fill(eye, 0)
    ks, ls = k.sum(0), l.sum(0)
    return (k * l).sum() + ks.sum() * ls.sum() / ((n - 1) * (n - 2)) - 2 * (ks @ ls) / (n - 2)


def _rbf_gram(x: torch.Tensor, sigma_frac: float) -> torch.Tensor:
    sq = (x * x).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * matmul(x, x.T)).clamp_min(0)
    d2.fill_diagonal_(0)
    flat = torch.sort(d2.reshape(-1)).values
    median = (flat[(len(flat) - 1) // 2] + flat[len(flat) // 2]) / 2
    return torch.exp(-d2 / (2 * sigma_frac**2 * median))


@dispatch("X", "Y")
def cka(X, Y, kind: str = "linear", sigma_frac: float = 0.8):
    """Centered kernel alignment between X (n, p) and Y (n, q).

    Args:
        X: (stimuli, p) representation.
        Y: (stimuli, q) representation of the same stimuli.
        kind: ``"linear"``, ``"linear_unbiased"`` or ``"rbf"`` (see module docstring).
        sigma_frac: RBF bandwidth as a fraction of the median pairwise distance.

    Returns:
        Scalar CKA; NaN if a representation is constant across stimuli.
    """
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must be (stimuli, features) with the same stimuli, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    n = X.shape[0]
    if kind not in CKA_KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; expected one of {CKA_KINDS}")
    if n < (4 if kind == "linear_unbiased" else 2):
        raise ValueError(f"too few stimuli ({n}) for {kind} CKA")
    xc, yc = X - X.mean(0), Y - Y.mean(0)
    if any(_is_constant(a, ac) for a, ac in ((X, xc), (Y, yc))):
        return torch.full((), float("nan"), dtype=X.dtype, device=X.device)
    if kind == "linear" and X.shape[1] + Y.shape[1] < n:
        xx, yy, yx = matmul(xc.T, xc), matmul(yc.T, yc), matmul(yc.T, xc)
        return _ratio((yx * yx).sum(), (xx * xx).sum() * (yy * yy).sum())
    return _hsic_ratio(*_grams(xc, yc, kind, sigma_frac), kind)


def _grams(xc: torch.Tensor, yc: torch.Tensor, kind: str, sigma_frac: float = 0.8):
    if kind == "rbf":
        return _centre_gram(_rbf_gram(xc, sigma_frac)), _centre_gram(_rbf_gram(yc, sigma_frac))
    return matmul(xc, xc.T), matmul(yc, yc.T)  # centred features give centred Gram matrices


def _hsic_of(gx: torch.Tensor, gy: torch.Tensor, kind: str) -> torch.Tensor:
    return _unbiased_hsic(gx, gy) if kind == "linear_unbiased" else (gx * gy).sum()


def _hsic_ratio(gx: torch.Tensor, gy: torch.Tensor, kind: str) -> torch.Tensor:
    return _ratio(_hsic_of(gx, gy, kind), _hsic_of(gx, gx, kind) * _hsic_of(gy, gy, kind))


@dispatch("X", "Y")
def hsic(X, Y, kind: str = "linear"):
    """The HSIC estimate CKA is built from, for a linear kernel: ``"linear"`` the biased
    ||Y_c^T X_c||_F^2, ``"linear_unbiased"`` Song et al.'s unbiased estimator times
    n(n-3), so that cka(X, Y) = hsic(X, Y) / sqrt(hsic(X, X) hsic(Y, Y)).

    The unbiased estimator of two representations with independent noise is unbiased for
    the HSIC of their noise-free parts (noise independent across stimuli enters only the
    Gram diagonal, which it leaves out); the noise ceilings of :mod:`.cka_ceiling` rest
    on that.
    """
    if kind not in ("linear", "linear_unbiased"):
        raise ValueError(f"hsic supports linear kernels only, got {kind!r}")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must be (stimuli, features) with the same stimuli, got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    if kind == "linear_unbiased" and X.shape[0] < 4:
        raise ValueError(f"too few stimuli ({X.shape[0]}) for unbiased HSIC")
    return _hsic_of(*_grams(X - X.mean(0), Y - Y.mean(0), kind), kind)

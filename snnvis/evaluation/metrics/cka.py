"""``cka``: linear CKA against the mean of all repeats, with the expected CKA of the truth as ceiling.

Ceiling: the expected CKA of the noise-free representation with that mean,
sqrt(HSIC(Ya, Yb) / HSIC(Ybar, Ybar)) (:func:`snnvis.similarity.cka_ceiling.cka_ceiling`,
halves Ya, Yb of the repeats averaged over ``n_splits`` splits); NaN without trials, for
RBF CKA, or when a stimulus has fewer than 2 valid repeats. A repeated stimulus inflates
CKA, so the test interval is shifted by the offset of the bootstrap median from the
estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnvis.evaluation.metrics.base import (
    NAN,
    Prepared,
    Result,
    Unfitted,
    _constant,
    _divided,
    _f,
    _min_repeats,
    _ratio,
)
from snnvis.evaluation.targets import Target
from snnvis.similarity import cka
from snnvis.similarity.cka_ceiling import cka_ceiling

__all__ = ["CKA", "GramSide"]


@dataclass(frozen=True, eq=False, kw_only=True)
class GramSide(Prepared):
    """``Y``: a factor L of the target's Gram matrix (L L^T = Y Y^T, see :func:`_gram_factor`);
    ``ceiling``: the expected CKA of the noise-free responses (NaN without one)."""

    Y: np.ndarray
    ceiling: float = NAN


def _gram_factor(X: np.ndarray) -> np.ndarray:
    """(n, min(n, p)) float64 L with L L^T = X X^T: the same linear/RBF CKA for every
    subset of rows, at a fraction of the cost when features outnumber stimuli."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] <= X.shape[0]:
        return X
    w, v = np.linalg.eigh(X @ X.T)
    return v * np.sqrt(np.clip(w, 0, None))


class CKA(Unfitted[GramSide]):
    """Centered kernel alignment (``kind``: linear by default)."""

    name = "cka"

    def __init__(self, kind: str = "linear", n_splits: int = 10, **kw):
        super().__init__(**kw)
        self.kind, self.n_splits = kind, int(n_splits)

    @property
    def method(self) -> str:
        return f"cka ({self.kind})"

    def prepare(self, target: Target, idx: np.ndarray) -> GramSide:
        Y = target.responses[idx]
        ceiling, kind = NAN, "none"
        trials = None if target.trials is None else target.trials[idx]
        if trials is not None and self.kind == "rbf":
            kind = "none (no noise-corrected ceiling for rbf CKA)"
        elif trials is not None and _min_repeats(trials) < 2:
            kind = "none (a stimulus has fewer than 2 valid repeats)"
        elif trials is not None and len(idx) >= 4:
            ceiling = _f(cka_ceiling(trials, self.kind, self.n_splits, self.seed))
            kind = (
                f"expected cka of the noise-free responses with the trial mean, sqrt(HSIC(half, half) / "
                f"HSIC(mean, mean)) ({self.n_splits} split-halves of the repeats)"
            )
        return GramSide(n_neurons=Y.shape[1], ceiling_kind=kind, Y=_gram_factor(Y), ceiling=ceiling)

    def _cka(self, X, Y):
        return cka(X, Y, self.kind)

    def _result(self, X: np.ndarray, prep: GramSide, with_ci: bool) -> Result:
        if _constant(X):
            return Result(NAN, prep.ceiling, NAN, NAN, n_neurons=prep.n_neurons)
        L = _gram_factor(X)
        score = _f(self._cka(L, prep.Y))
        lo, hi = self._bootstrap(self._cka, L, prep.Y, axis=0, centre=score) if with_ci else (NAN, NAN)
        c = prep.ceiling
        return Result(score, c, NAN, _ratio(score, c), lo, hi, prep.n_neurons, NAN, *_divided(lo, hi, c))

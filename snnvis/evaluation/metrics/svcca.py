"""``svcca``: cross-validated SVCCA between the top ``dims`` SVD directions of each side. No ceiling.

Selection score: k-fold SVCCA within the selection stimuli
(:func:`snnvis.similarity.svcca_cv`). Test score: the SVD and CCA directions fit on the
selection stimuli, the mean correlation of the projected test stimuli, bootstrapped over
test stimuli.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from snnvis.evaluation.metrics.base import NAN, Metric, Prepared, Result, _constant, _f
from snnvis.evaluation.targets import Target
from snnvis.similarity import predictivity, svcca_cv
from snnvis.similarity.cca import svcca_transform

__all__ = ["ResponseSide", "SVCCA"]


@dataclass(frozen=True, eq=False, kw_only=True)
class ResponseSide(Prepared):
    """``Y``: the target's repeat-averaged responses on the split, (stimuli, neurons)."""

    Y: np.ndarray


class SVCCA(Metric[ResponseSide]):
    """Cross-validated SVCCA between the top ``dims`` SVD directions of each side."""

    name = "svcca"

    def __init__(self, dims: int | None = 20, var_threshold: float = 0.99, n_folds: int = 5, **kw):
        super().__init__(**kw)
        self.dims, self.var_threshold, self.n_folds = dims, float(var_threshold), int(n_folds)

    @property
    def method(self) -> str:
        dims = (
            f"top {self.dims} SVD dims" if self.dims else f"SVD dims explaining {self.var_threshold:g} of the variance"
        )
        return (
            f"svcca cross-validated ({dims}; selection: {self.n_folds}-fold within train+validation; "
            "test: fit on train+validation)"
        )

    def prepare(self, target: Target, idx: np.ndarray) -> ResponseSide:
        return ResponseSide(
            n_neurons=target.responses.shape[1], ceiling_kind=self.ceiling_kind, Y=target.responses[idx]
        )

    def selection(self, X: np.ndarray, prep: ResponseSide) -> Result:
        if _constant(X):
            return Result(NAN, n_neurons=prep.n_neurons)
        res = svcca_cv(X, prep.Y, k=self.dims, n_folds=self.n_folds, seed=self.seed, var_threshold=self.var_threshold)
        return Result(_f(res.score), n_neurons=prep.n_neurons)

    def test(self, X_fit: np.ndarray, prep_fit: ResponseSide, X: np.ndarray, prep: ResponseSide) -> Result:
        if _constant(X_fit):
            return Result(NAN, n_neurons=prep.n_neurons)
        u, v = svcca_transform(
            np.asarray(X_fit, dtype=np.float64),
            prep_fit.Y,
            np.asarray(X, dtype=np.float64),
            prep.Y,
            k=self.dims,
            var_threshold=self.var_threshold,
        )

        def mean_corr(a, b):
            return np.nanmean(predictivity(a, b).r)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = _f(mean_corr(u, v))
        lo, hi = self._bootstrap(mean_corr, u, v, axis=0)
        return Result(score, ci_low=lo, ci_high=hi, n_neurons=prep.n_neurons)

"""``ridge`` and ``pls``: held-out linear predictivity of each neuron, summarised by the median.

``ridge``: ridge regression with an unpenalised intercept; the penalty is chosen per neuron
by exact leave-one-out error on the fitting stimuli only. Score: median over neurons of the
held-out Pearson r with the mean of all repeats. Ceiling, in the same unit (Pearson r):
median over neurons of sqrt(reliability), the reliability of that mean from split halves
with the Spearman-Brown correction (generalised to unequal repeat counts,
:func:`snnvis.similarity.ceilings.mean_reliability`); ``normalized`` = median over neurons
of r / sqrt(reliability) (neurons with reliability <= 0 left out), the correlation with the
noise-free response. ``pls``: the same with PLS regression (``n_components``, 25 by
default).

Selection score: k-fold cross-validation within the selection stimuli. Test score: fit on
all selection stimuli, evaluated on the test stimuli; its CI is a bootstrap over neurons.
"""

from __future__ import annotations

import math
import warnings
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from snnvis.errors import UserError
from snnvis.evaluation.metrics.base import NAN, Metric, Prepared, Result, _constant
from snnvis.evaluation.targets import Target
from snnvis.similarity import correct_r, kfold_pls, kfold_ridge, predictivity
from snnvis.similarity.ceilings import mean_reliability
from snnvis.similarity.regression import pls_fit_predict, ridge_fit_predict

__all__ = ["PLS", "RegressionSide", "Ridge"]


@dataclass(frozen=True, eq=False, kw_only=True)
class RegressionSide(Prepared):
    """``Y``: the repeat-averaged responses (stimuli, neurons); ``reliability``: per neuron,
    the split-half reliability of that mean on the split (None without trials)."""

    Y: np.ndarray
    reliability: np.ndarray | None = None


class _Regression(Metric[RegressionSide]):
    """Held-out linear predictivity: per-neuron Pearson r, summarised by the median."""

    ceiling_kind = (
        "median over neurons of sqrt(reliability of the trial mean) (split halves, Spearman-Brown), "
        "in units of Pearson r; normalized = median over neurons of r / sqrt(reliability)"
    )

    def __init__(self, n_folds: int = 5, n_splits: int = 10, **kw):
        super().__init__(**kw)
        self.n_folds, self.n_splits = int(n_folds), int(n_splits)

    def prepare(self, target: Target, idx: np.ndarray) -> RegressionSide:
        rel = None
        if target.trials is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rel = mean_reliability(target.trials[idx], n_splits=self.n_splits, seed=self.seed)
        return RegressionSide(
            n_neurons=target.responses.shape[1],
            ceiling_kind=self.ceiling_kind if rel is not None else "none",
            Y=target.responses[idx],
            reliability=rel,
        )

    @abstractmethod
    def _cv_predict(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Cross-validated predictions of ``Y`` from ``X`` (same stimuli)."""

    @abstractmethod
    def _fit_predict(self, X_fit: np.ndarray, Y_fit: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Predictions on ``X`` of a fit of ``Y_fit`` on ``X_fit``."""

    def _result(self, pred: np.ndarray, prep: RegressionSide, with_ci: bool) -> Result:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = np.asarray(predictivity(pred, prep.Y).r, dtype=np.float64)
            score = float(np.nanmedian(r)) if np.isfinite(r).any() else NAN
            ceiling = normalized = NAN
            corrected = np.full_like(r, NAN)
            if prep.reliability is not None:
                rel = np.asarray(prep.reliability)
                root = np.sqrt(np.where(rel > 0, rel, NAN))
                ceiling = float(np.nanmedian(root)) if np.isfinite(root).any() else NAN
                corrected = np.asarray(correct_r(r, rel))
                normalized = float(np.nanmedian(corrected)) if np.isfinite(corrected).any() else NAN
        lo, hi = self._bootstrap(np.nanmedian, r, axis=0) if with_ci and np.isfinite(r).any() else (NAN, NAN)
        nlo, nhi = (
            self._bootstrap(np.nanmedian, corrected, axis=0) if with_ci and np.isfinite(corrected).any() else (NAN, NAN)
        )
        return Result(score, ceiling, NAN, normalized, lo, hi, prep.n_neurons, NAN, nlo, nhi)

    @staticmethod
    def _scale(X_fit: np.ndarray) -> tuple[np.ndarray, float]:
        """Features as float64 divided by their total standard deviation on the fitting
        stimuli, so that the penalty grid does not depend on the layer's scale."""
        X_fit = np.asarray(X_fit, dtype=np.float64)
        total = math.sqrt(float(X_fit.var(0).sum()))
        return X_fit / total, total

    def selection(self, X: np.ndarray, prep: RegressionSide) -> Result:
        if _constant(X):
            return Result(NAN, n_neurons=prep.n_neurons)
        Xs, _ = self._scale(X)
        return self._result(self._cv_predict(Xs, prep.Y), prep, with_ci=False)

    def test(self, X_fit: np.ndarray, prep_fit: RegressionSide, X: np.ndarray, prep: RegressionSide) -> Result:
        if _constant(X_fit):
            return Result(NAN, n_neurons=prep.n_neurons)
        Xs, total = self._scale(X_fit)
        pred = self._fit_predict(Xs, prep_fit.Y, np.asarray(X, dtype=np.float64) / total)
        return self._result(pred, prep, with_ci=True)


class Ridge(_Regression):
    """Ridge regression; penalty from ``alphas`` (relative to unit total feature
    variance) chosen per neuron (``inner="per_neuron"``) or jointly (``"global"``) by
    exact leave-one-out error on the fitting stimuli."""

    name = "ridge"

    def __init__(self, alphas: Sequence[float] = tuple(10.0 ** np.arange(-4, 5)), inner: str = "per_neuron", **kw):
        super().__init__(**kw)
        self.alphas, self.inner = [float(a) for a in alphas], inner
        if inner not in ("per_neuron", "global"):
            raise UserError("metric_options.ridge.inner", f"must be 'per_neuron' or 'global', got {inner!r}")

    @property
    def method(self) -> str:
        return (
            f"ridge (alpha {self.inner} by leave-one-out; selection: {self.n_folds}-fold within "
            "train+validation; test: fit on train+validation)"
        )

    def _cv_predict(self, X, Y):
        return kfold_ridge(X, Y, self.alphas, n_folds=self.n_folds, inner=self.inner, seed=self.seed)

    def _fit_predict(self, X_fit, Y_fit, X):
        return ridge_fit_predict(X_fit, Y_fit, X, self.alphas, inner=self.inner)


class PLS(_Regression):
    """PLS regression with ``n_components`` (capped by the fitting stimuli and features)."""

    name = "pls"

    def __init__(self, n_components: int = 25, **kw):
        super().__init__(**kw)
        self.n_components = int(n_components)

    @property
    def method(self) -> str:
        return (
            f"pls ({self.n_components} components; selection: {self.n_folds}-fold within train+validation; "
            "test: fit on train+validation)"
        )

    def _components(self, n_train: int, n_features: int) -> int:
        return max(1, min(self.n_components, n_train - 1, n_features))

    def _cv_predict(self, X, Y):
        n_train = X.shape[0] - -(-X.shape[0] // self.n_folds)
        return kfold_pls(X, Y, self._components(n_train, X.shape[1]), n_folds=self.n_folds, seed=self.seed)

    def _fit_predict(self, X_fit, Y_fit, X):
        return pls_fit_predict(X_fit, Y_fit, X, self._components(*X_fit.shape))

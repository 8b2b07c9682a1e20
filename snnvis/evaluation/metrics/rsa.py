"""``rsa``: correlation-distance RDMs compared by Spearman correlation, with a noise ceiling.

With trials, the repeats are split into ``ceiling_folds`` random folds,
``ceiling_partitions`` times, and the layer is scored against every fold RDM (mean
similarity, as rsatoolbox's ``eval_fixed``), the data the ceiling is computed on:
``ceiling_lower``/``ceiling_upper`` are rsatoolbox's leave-one-fold-out lower and upper
bounds averaged over the partitions, and ``ceiling`` (the denominator of ``normalized``) is
sqrt of the mean similarity between folds, the expected score of the true model
(:func:`snnvis.similarity.rsa.expected_ceiling`). Without trials (or when a stimulus has
fewer valid repeats than folds) the layer is scored against the RDM of the means and there
is no ceiling. Reference RDM sets: mean similarity to the subject RDMs, bounds and expected
ceiling of the set (:func:`snnvis.similarity.noise_ceiling`).

A stimulus that leaves the layer silent keeps its row (correlation distance 1 to every
responding stimulus, 0 to another silent one; see :mod:`snnvis.similarity.rdm`), so an SNN
and its twin are scored on the same stimuli; ``silent_fraction`` reports the share of such
stimuli.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from snnvis.errors import UserError
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
from snnvis.similarity import compare_rdms, noise_ceiling, rdm
from snnvis.similarity.rsa import expected_ceiling, partition_noise_ceiling, partition_rdms

__all__ = ["RDMSide", "RSA"]


@dataclass(frozen=True, eq=False, kw_only=True)
class RDMSide(Prepared):
    """The RDMs a layer's RDM is compared with, (k, n, n) (its score: the mean similarity to
    them), and the ceiling: ``ceiling`` the expected score of the true model,
    ``ceiling_lower``/``ceiling_upper`` rsatoolbox's bounds (NaN without a ceiling)."""

    rdms: np.ndarray
    ceiling: float = NAN
    ceiling_lower: float = NAN
    ceiling_upper: float = NAN


class RSA(Unfitted[RDMSide]):
    """Representational similarity: ``rdm_method`` RDMs compared by ``compare``."""

    name = "rsa"

    def __init__(
        self,
        rdm_method: str = "correlation",
        compare: str = "spearman",
        ceiling_folds: int = 2,
        ceiling_partitions: int = 5,
        **kw,
    ):
        super().__init__(**kw)
        self.rdm_method, self.compare, self.ceiling_folds = rdm_method, compare, int(ceiling_folds)
        self.ceiling_partitions = int(ceiling_partitions)
        if self.ceiling_folds < 2 or self.ceiling_partitions < 1:
            raise UserError(
                "metric_options.rsa",
                f"need ceiling_folds >= 2 and ceiling_partitions >= 1, got "
                f"{self.ceiling_folds} and {self.ceiling_partitions}",
            )

    @property
    def method(self) -> str:
        return f"rsa ({self.rdm_method} RDM, {self.compare})"

    def applicable(self, target: Target) -> str | None:
        if target.has_neurons and target.responses.shape[1] < 2 and self.rdm_method == "correlation":
            return "a correlation RDM needs at least 2 neurons"
        return None

    def prepare(self, target: Target, idx: np.ndarray) -> RDMSide:
        if target.rdms is not None:
            rdms = target.rdms[:, idx][:, :, idx]
            k = len(rdms)
            if k < 2:
                return RDMSide(n_neurons=target.n_units, rdms=rdms)
            lower, upper = noise_ceiling(rdms, self.compare)
            kind = (
                f"rsa noise ceiling of {k} subject RDMs, scored as the mean similarity to them; ceiling = "
                "sqrt(mean similarity between them), rsatoolbox lower/upper bounds in "
                "ceiling_lower/ceiling_upper"
            )
            return RDMSide(
                n_neurons=target.n_units,
                ceiling_kind=kind,
                rdms=rdms,
                ceiling=_f(expected_ceiling(rdms, self.compare)),
                ceiling_lower=_f(lower),
                ceiling_upper=_f(upper),
            )
        n = target.responses.shape[1]
        trials = None if target.trials is None else target.trials[idx]
        if trials is None or _min_repeats(trials) < self.ceiling_folds:
            why = (
                "none"
                if trials is None
                else f"none (a stimulus has fewer than {self.ceiling_folds} valid repeats; scored on the mean RDM)"
            )
            return RDMSide(n_neurons=n, ceiling_kind=why, rdms=rdm(target.responses[idx], self.rdm_method)[None])
        folds = partition_rdms(trials, self.ceiling_folds, self.ceiling_partitions, self.rdm_method, self.seed)
        lower, upper, expected = partition_noise_ceiling(folds, self.compare)
        kind = (
            f"rsa noise ceiling of {self.ceiling_folds} random folds of the repeats x {self.ceiling_partitions} "
            "partitions, scored against the same fold RDMs; ceiling = sqrt(mean similarity between folds), "
            "rsatoolbox lower/upper bounds averaged over partitions in ceiling_lower/ceiling_upper"
        )
        return RDMSide(
            n_neurons=n,
            ceiling_kind=kind,
            rdms=folds.reshape(-1, *folds.shape[-2:]),
            ceiling=_f(expected),
            ceiling_lower=_f(lower),
            ceiling_upper=_f(upper),
        )

    def _similarity(self, a, b):
        return np.nanmean(compare_rdms(a, b, self.compare))

    def _result(self, X: np.ndarray, prep: RDMSide, with_ci: bool) -> Result:
        lower, upper, expected = prep.ceiling_lower, prep.ceiling_upper, prep.ceiling
        if _constant(X):
            return Result(NAN, expected, lower, NAN, n_neurons=prep.n_neurons, ceiling_upper=upper)
        model = rdm(X, self.rdm_method)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = _f(self._similarity(model, prep.rdms))
        lo, hi = self._bootstrap(self._similarity, model, prep.rdms, axis=(-2, -1)) if with_ci else (NAN, NAN)
        return Result(
            score, expected, lower, _ratio(score, expected), lo, hi, prep.n_neurons, upper, *_divided(lo, hi, expected)
        )

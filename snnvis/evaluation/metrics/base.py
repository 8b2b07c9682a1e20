"""The interface every metric implements, and what its parts exchange.

A metric compares one layer's features (stimuli, features) with one :class:`Target
<snnvis.evaluation.targets.Target>` in three steps:

* :meth:`Metric.prepare` (target side, per split, once per target): a frozen
  :class:`Prepared` dataclass (each metric family defines its own subclass) with the data
  the layer is compared with, the number of neurons and the ceiling's description
  (``ceiling_kind``); ceilings themselves are computed by callables in
  :mod:`snnvis.similarity` (``ceilings``, ``cka_ceiling``, ``rsa``).
* :meth:`Metric.selection`: the score on the selection stimuli, cross-validated where
  something is fit.
* :meth:`Metric.test`: the score on the test stimuli, fit on the selection stimuli where
  something is fit, with a bootstrap CI.

Both scores come back as a :class:`Result`.

**Confidence intervals** (test rows): percentile bootstrap, seeded, over test stimuli for
RSA (conditions resampled in both RDMs; pairs of copies of a condition left out), CKA and
SVCCA, and over neurons (their held-out r) for regression. A repeated stimulus inflates
CKA, so its interval is shifted by the offset of the bootstrap median from the estimate
(:meth:`Metric._bootstrap` with ``centre``). ``normalized_ci_low``/``_high``: the interval
divided by the ceiling (RSA, CKA; the ceiling's own sampling error is not included) or the
bootstrap over neurons of the median corrected r (regression). Scores are never clipped: a
ceiling-normalised value above 1 is noise in the ceiling or the score, and is reported
together with the raw score and the ceiling.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from snnvis.similarity import bootstrap_ci

if TYPE_CHECKING:
    from snnvis.evaluation.targets import Target

__all__ = ["Metric", "Prepared", "Result", "Unfitted"]

NAN = float("nan")


@dataclass
class Result:
    """One score with its ceiling and (on test rows) its bootstrap CI."""

    score: float
    ceiling: float = NAN
    ceiling_lower: float = NAN
    normalized: float = NAN
    ci_low: float = NAN
    ci_high: float = NAN
    n_neurons: int = 0
    ceiling_upper: float = NAN
    normalized_ci_low: float = NAN
    normalized_ci_high: float = NAN


def _f(x) -> float:
    return float(np.asarray(x, dtype=np.float64))


def _ratio(score: float, ceiling: float) -> float:
    return score / ceiling if ceiling > 0 else NAN


def _min_repeats(trials: np.ndarray) -> int:
    """The fewest valid repeats of any (stimulus, neuron)."""
    return int((~np.isnan(trials)).sum(1).min()) if trials.size else 0


def _divided(lo: float, hi: float, ceiling: float) -> tuple[float, float]:
    return (lo / ceiling, hi / ceiling) if ceiling > 0 else (NAN, NAN)


def _constant(X: np.ndarray) -> bool:
    """True when every stimulus has the same features (a silent layer)."""
    return not np.any(np.ptp(X, axis=0) > 0)


@dataclass(frozen=True, eq=False, kw_only=True)
class Prepared:
    """The target side of a metric on one split: ``n_neurons`` (0 for a reference RDM
    without a neuron count) and ``ceiling_kind``, the description of the ceiling written
    to ``scores.csv`` (``"none"``, or why there is none, when there is no ceiling)."""

    n_neurons: int
    ceiling_kind: str = "none"


P = TypeVar("P", bound=Prepared)


class Metric(ABC, Generic[P]):
    """A layer-vs-target comparison. Subclasses define :meth:`prepare` (target side,
    per split: data and ceiling), :meth:`selection` (score on the selection stimuli,
    cross-validated where something is fit) and :meth:`test` (score on the test
    stimuli, fit on the selection stimuli where something is fit, with a bootstrap CI)."""

    name = ""
    needs_neurons = True
    ceiling_kind = "none"

    def __init__(self, n_boot: int = 1000, ci: float = 0.95, seed: int = 0):
        self.n_boot, self.ci, self.seed = int(n_boot), float(ci), int(seed)

    @property
    def method(self) -> str:
        return self.name

    def applicable(self, target: Target) -> str | None:
        """Why this metric cannot score ``target`` (None: it can)."""
        if self.needs_neurons and not target.has_neurons:
            return "they need neuron responses (the target is a reference RDM)"
        return None

    @abstractmethod
    def prepare(self, target: Target, idx: np.ndarray) -> P:
        """The target side on the stimuli ``idx`` (cached by the caller across layers)."""

    @abstractmethod
    def selection(self, X: np.ndarray, prep: P) -> Result:
        """Score of features ``X`` (selection stimuli) against ``prep`` (same stimuli)."""

    @abstractmethod
    def test(self, X_fit: np.ndarray, prep_fit: P, X: np.ndarray, prep: P) -> Result:
        """Score on the test stimuli (``X``, ``prep``), fit on ``X_fit``, ``prep_fit`` where needed."""

    def _bootstrap(self, fn, *arrays, axis=0, centre: float | None = None) -> tuple[float, float]:
        """Percentile bootstrap interval of ``fn(*arrays)``.

        With ``centre`` (the estimate), the interval is shifted by the offset of the
        bootstrap median from it, for statistics that resampling with replacement
        biases (a repeated stimulus is a perfectly matching pair for CKA).
        """
        if self.n_boot < 1:
            return NAN, NAN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples
            kw = dict(axis=axis, n_boot=self.n_boot, seed=self.seed)
            _, lo, hi = bootstrap_ci(fn, *arrays, ci=self.ci, **kw)
            shift = 0.0
            if centre is not None and np.isfinite(centre):
                _, median, _ = bootstrap_ci(fn, *arrays, ci=1e-9, **kw)  # same resamples: their median
                shift = _f(median) - centre
        return _f(lo) - shift, _f(hi) - shift


class Unfitted(Metric[P]):
    """A metric that fits nothing: the layer is compared with the target directly on the
    selection stimuli and on the test stimuli (there with a CI); subclasses define
    :meth:`_result`."""

    @abstractmethod
    def _result(self, X: np.ndarray, prep: P, with_ci: bool) -> Result:
        """Score of ``X`` against ``prep`` on the same stimuli, with a CI when ``with_ci``."""

    def selection(self, X: np.ndarray, prep: P) -> Result:
        return self._result(X, prep, with_ci=False)

    def test(self, X_fit: np.ndarray, prep_fit: P, X: np.ndarray, prep: P) -> Result:
        return self._result(X, prep, with_ci=True)

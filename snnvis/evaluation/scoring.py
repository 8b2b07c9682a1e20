"""Layer × brain-area scoring with ceilings, confidence intervals and held-out layer choice.

**Targets.** A recording gives one :class:`Target` per brain area of its neurons
(``neurons/area``), holding the repeat-averaged responses (stimuli, neurons) and, when
released, the single trials, and one per reference RDM that is not a member of another
one's set (:func:`targets_from_recording`). Reference RDMs named ``<name>_<subject>...``
(e.g. ``human_IT_BE_session1``) are the per-subject RDMs of ``<name>``: RSA against
``<name>`` is then the mean similarity to the subject RDMs (sessions of one subject
averaged first), with the noise ceiling of that set, as in Nili et al. (2014).

**Metrics** (:data:`METRICS`; every one a plain class with its ceiling kept apart):

``rsa``    correlation-distance RDMs compared by Spearman correlation. With trials, the
           repeats are split into ``ceiling_folds`` random folds, ``ceiling_partitions``
           times, and the layer is scored against every fold RDM (mean similarity, as
           rsatoolbox's ``eval_fixed``), the data the ceiling is computed on:
           ``ceiling_lower``/``ceiling_upper`` are rsatoolbox's leave-one-fold-out lower and
           upper bounds averaged over the partitions, and ``ceiling`` (the denominator of
           ``normalized``) is sqrt of the mean similarity between folds, the expected score
           of the true model (:func:`snnvis.similarity.rsa.expected_ceiling`). Without
           trials (or when a stimulus has fewer valid repeats than folds) the layer is
           scored against the RDM of the means and there is no ceiling. Reference RDM
           sets: mean similarity to the subject RDMs, bounds and expected ceiling of the set.
           A stimulus that leaves the layer silent keeps its row (correlation distance 1
           to every responding stimulus, 0 to another silent one; see
           :mod:`snnvis.similarity.rdm`), so an SNN and its twin are scored on the same
           stimuli; ``silent_fraction`` reports the share of such stimuli.
``cka``    linear CKA against the mean of all repeats. Ceiling: the expected CKA of the
           noise-free representation with that mean, sqrt(HSIC(Ya, Yb) / HSIC(Ybar, Ybar))
           (:func:`snnvis.similarity.cka_ceiling.cka_ceiling`, halves Ya, Yb of the repeats
           averaged over ``n_splits`` splits); NaN without trials, for RBF CKA, or when a
           stimulus has fewer than 2 valid repeats.
``svcca``  cross-validated SVCCA (top ``dims`` SVD directions per side). No ceiling.
``ridge``  ridge regression with an unpenalised intercept; the penalty is chosen per
           neuron by exact leave-one-out error on the fitting stimuli only. Score: median
           over neurons of the held-out Pearson r with the mean of all repeats. Ceiling, in
           the same unit (Pearson r): median over neurons of sqrt(reliability), the
           reliability of that mean from split halves with the Spearman-Brown correction
           (generalised to unequal repeat counts, :func:`snnvis.similarity.ceilings.
           mean_reliability`); ``normalized`` = median over neurons of r / sqrt(reliability)
           (neurons with reliability <= 0 left out), the correlation with the noise-free
           response.
``pls``    the same with PLS regression (``n_components``, 25 by default).

**Held-out layer choice.** Each metric is computed on the *selection* stimuli (the
recording's ``train`` + ``validation`` splits; regression and SVCCA by k-fold
cross-validation within them) and on the *test* stimuli (regression and SVCCA: fit on
all selection stimuli, evaluated on the test stimuli). The best layer for an area and a
metric is the one with the highest selection score, and the score reported for it is
its test score, so the choice of layer does not inflate the reported value. With
``selection="max_on_test"`` the layer with the highest test score is reported instead,
labelled ``max_on_test (optimistic)``.

**Confidence intervals** (test rows): percentile bootstrap, seeded, over test stimuli
for RSA (conditions resampled in both RDMs; pairs of copies of a condition left out),
CKA and SVCCA, and over neurons (their held-out r) for regression. A repeated stimulus
inflates CKA, so its interval is shifted by the offset of the bootstrap median from the
estimate. ``normalized_ci_low``/``_high``: the interval divided by the ceiling (RSA, CKA;
the ceiling's own sampling error is not included) or the bootstrap over neurons of the
median corrected r (regression). Scores are never clipped: a ceiling-normalised value above 1
is noise in the ceiling or the score, and is reported together with the raw score and
the ceiling.

Memory: scoring takes one layer's features (stimuli, features) at a time.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from snnvis.errors import UserError
from snnvis.models import LayerSpec
from snnvis.recordings.recording import Recording
from snnvis.similarity import (
    bootstrap_ci,
    cka,
    compare_rdms,
    correct_r,
    kfold_pls,
    kfold_ridge,
    noise_ceiling,
    predictivity,
    rdm,
    svcca_cv,
)
from snnvis.similarity.cca import svcca_transform
from snnvis.similarity.ceilings import mean_reliability
from snnvis.similarity.cka_ceiling import cka_ceiling
from snnvis.similarity.rdm import silent_fraction
from snnvis.similarity.regression import pls_fit_predict, ridge_fit_predict
from snnvis.similarity.rsa import expected_ceiling, partition_noise_ceiling, partition_rdms

__all__ = ["CKA", "METRICS", "PLS", "RSA", "SELECTIONS", "SVCCA", "LayerScorer", "Ridge", "ScoreRow", "Target",
           "build_metrics", "choose_layers", "score_layer", "stimulus_splits", "targets_from_recording"]

NAN = float("nan")
SELECTIONS = {"held_out": "held_out (chosen on train+validation)",
              "max_on_test": "max_on_test (optimistic)"}


# ---------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------

@dataclass
class Target:
    """What a layer is compared with, over all stimuli of its recording.

    Neural targets: ``responses`` (n_stimuli, n_neurons) repeat-averaged, ``trials``
    (n_stimuli, repeats, n_neurons) NaN-padded or None. RDM targets: ``rdms`` (k, n, n),
    one reference RDM (k = 1) or the k subject RDMs of a set.
    """

    recording: str
    area: str
    name: str
    responses: np.ndarray | None = None
    trials: np.ndarray | None = None
    rdms: np.ndarray | None = None
    n_units: int = 0
    description: str = ""

    @property
    def has_neurons(self) -> bool:
        return self.responses is not None


def _reduce_bins(x: np.ndarray, bins: str | int, axis: int) -> np.ndarray:
    """Collapse the time-bin axis: ``"mean"`` averages the bins, an int picks one."""
    if bins == "mean":
        return x.mean(axis)
    return np.take(x, int(bins), axis=axis)


def _reference_sets(names: Sequence[str]) -> dict[str, list[list[str]]]:
    """Top-level reference RDM name -> its subject RDMs (one list of sessions per subject).

    ``b`` is a member of ``a`` when it is named ``a_<...>``; members differing only by a
    ``_session<k>`` suffix belong to one subject.
    """
    top = [n for n in names if not any(n != a and n.startswith(a + "_") for a in names)]
    sets = {}
    for a in top:
        subjects: dict[str, list[str]] = {}
        for b in names:
            if b != a and b.startswith(a + "_"):
                subjects.setdefault(re.sub(r"_session\d+$", "", b), []).append(b)
        sets[a] = [sorted(v) for _, v in sorted(subjects.items())]
    return sets


def targets_from_recording(rec: Recording, response: str | None = None, bins: str | int = "mean") -> list[Target]:
    """Neural targets (one per area of ``rec``'s neurons) and reference-RDM targets.

    ``response``: response set (default: the recording's default). ``bins``: how a
    response set with several time bins becomes one value per stimulus, ``"mean"`` or a
    bin index.
    """
    targets = []
    if rec.n_neurons and rec.response_sets:
        info = rec.response_info(response)
        if bins != "mean" and not (isinstance(bins, int) and 0 <= bins < info.n_bins):
            raise UserError("bins", f"must be 'mean' or a bin index in [0, {info.n_bins}), got {bins!r}", rec.path)
        mean = _reduce_bins(rec.mean(info.name).astype(np.float64), bins, 1)          # (n, neurons)
        trials = rec.trials(info.name)
        if trials is not None:
            trials = _reduce_bins(trials.astype(np.float64), bins, 2)               # (n, repeats, neurons)
        areas = rec.neuron_areas
        for area in sorted(set(areas)):
            keep = areas == area
            targets.append(Target(rec.id, str(area), info.name, mean[:, keep],
                                  None if trials is None else trials[:, :, keep], n_units=int(keep.sum()),
                                  description=f"{int(keep.sum())} neurons, response set {info.name!r} ({info.units})"))
    for name, subjects in _reference_sets(rec.reference_rdm_names).items():
        matrix, attrs = rec.reference_rdm(name)
        area = str(attrs.get("area", "")) or "unknown"
        units = int(attrs.get("n_neurons", attrs.get("n_voxels", 0)))
        if len(subjects) >= 2:
            rdms = np.stack([np.mean([rec.reference_rdm(s)[0] for s in sessions], 0) for sessions in subjects])
            desc = (f"reference RDM set {name!r}: mean similarity to {len(subjects)} subject RDMs "
                    f"({sum(map(len, subjects))} RDMs, sessions of a subject averaged)")
            targets.append(Target(rec.id, area, name, rdms=rdms, n_units=0, description=desc))
        else:
            targets.append(Target(rec.id, area, name, rdms=matrix[None].astype(np.float64), n_units=units,
                                  description=f"reference RDM {name!r}"))
    return targets


def stimulus_splits(rec: Recording, min_test: int = 4, min_selection: int = 10) -> dict[str, np.ndarray]:
    """``{"selection": train + validation indices, "test": test indices}``, sorted."""
    splits = {"selection": np.sort(np.concatenate([rec.split("train"), rec.split("validation")])),
              "test": np.sort(rec.split("test"))}
    for name, need in (("test", min_test), ("selection", min_selection)):
        if len(splits[name]) < need:
            raise UserError("recording", f"the {name} stimuli are too few to score ({len(splits[name])} < {need})",
                            rec.path)
    return splits


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------

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


def _gram_factor(X: np.ndarray) -> np.ndarray:
    """(n, min(n, p)) float64 L with L L^T = X X^T: the same linear/RBF CKA for every
    subset of rows, at a fraction of the cost when features outnumber stimuli."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] <= X.shape[0]:
        return X
    w, v = np.linalg.eigh(X @ X.T)
    return v * np.sqrt(np.clip(w, 0, None))


class Metric:
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

    def prepare(self, target: Target, idx: np.ndarray) -> dict:
        raise NotImplementedError

    def selection(self, X: np.ndarray, prep: dict) -> Result:
        raise NotImplementedError

    def test(self, X_fit: np.ndarray, prep_fit: dict, X: np.ndarray, prep: dict) -> Result:
        raise NotImplementedError

    def _bootstrap(self, fn, *arrays, axis=0, centre: float | None = None) -> tuple[float, float]:
        """Percentile bootstrap interval of ``fn(*arrays)``.

        With ``centre`` (the estimate), the interval is shifted by the offset of the
        bootstrap median from it, for statistics that resampling with replacement
        biases (a repeated stimulus is a perfectly matching pair for CKA).
        """
        if self.n_boot < 1:
            return NAN, NAN
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN resamples
            kw = dict(axis=axis, n_boot=self.n_boot, seed=self.seed)
            _, lo, hi = bootstrap_ci(fn, *arrays, ci=self.ci, **kw)
            shift = 0.0
            if centre is not None and np.isfinite(centre):
                _, median, _ = bootstrap_ci(fn, *arrays, ci=1e-9, **kw)    # same resamples: their median
                shift = _f(median) - centre
        return _f(lo) - shift, _f(hi) - shift


class _Unfitted(Metric):
    """A metric that fits nothing: the layer is compared with the target directly on the
    selection stimuli and on the test stimuli (there with a CI); subclasses define
    :meth:`_result`."""

    def _result(self, X: np.ndarray, prep: dict, with_ci: bool) -> Result:
        raise NotImplementedError

    def selection(self, X, prep):
        return self._result(X, prep, with_ci=False)

    def test(self, X_fit, prep_fit, X, prep):
        return self._result(X, prep, with_ci=True)


class RSA(_Unfitted):
    """Representational similarity: ``rdm_method`` RDMs compared by ``compare``."""

    name = "rsa"

    def __init__(self, rdm_method: str = "correlation", compare: str = "spearman", ceiling_folds: int = 2,
                 ceiling_partitions: int = 5, **kw):
        super().__init__(**kw)
        self.rdm_method, self.compare, self.ceiling_folds = rdm_method, compare, int(ceiling_folds)
        self.ceiling_partitions = int(ceiling_partitions)
        if self.ceiling_folds < 2 or self.ceiling_partitions < 1:
            raise UserError("metric_options.rsa", f"need ceiling_folds >= 2 and ceiling_partitions >= 1, got "
                            f"{self.ceiling_folds} and {self.ceiling_partitions}")

    @property
    def method(self) -> str:
        return f"rsa ({self.rdm_method} RDM, {self.compare})"

    def applicable(self, target: Target) -> str | None:
        if target.has_neurons and target.responses.shape[1] < 2 and self.rdm_method == "correlation":
            return "a correlation RDM needs at least 2 neurons"
        return None

    def prepare(self, target: Target, idx: np.ndarray) -> dict:
        if target.rdms is not None:
            rdms = target.rdms[:, idx][:, :, idx]
            k = len(rdms)
            ceiling, kind = (NAN, NAN, NAN), "none"
            if k >= 2:
                lower, upper = noise_ceiling(rdms, self.compare)
                ceiling = (_f(lower), _f(upper), _f(expected_ceiling(rdms, self.compare)))
                kind = (f"rsa noise ceiling of {k} subject RDMs, scored as the mean similarity to them; ceiling = "
                        "sqrt(mean similarity between them), rsatoolbox lower/upper bounds in "
                        "ceiling_lower/ceiling_upper")
            return {"rdms": rdms, "ceiling": ceiling, "kind": kind, "n": target.n_units}
        n = target.responses.shape[1]
        trials = None if target.trials is None else target.trials[idx]
        if trials is None or _min_repeats(trials) < self.ceiling_folds:
            why = ("none" if trials is None else
                   f"none (a stimulus has fewer than {self.ceiling_folds} valid repeats; scored on the mean RDM)")
            return {"rdms": rdm(target.responses[idx], self.rdm_method)[None], "ceiling": (NAN, NAN, NAN),
                    "kind": why, "n": n}
        folds = partition_rdms(trials, self.ceiling_folds, self.ceiling_partitions, self.rdm_method, self.seed)
        lower, upper, expected = partition_noise_ceiling(folds, self.compare)
        kind = (f"rsa noise ceiling of {self.ceiling_folds} random folds of the repeats x {self.ceiling_partitions} "
                "partitions, scored against the same fold RDMs; ceiling = sqrt(mean similarity between folds), "
                "rsatoolbox lower/upper bounds averaged over partitions in ceiling_lower/ceiling_upper")
        return {"rdms": folds.reshape(-1, *folds.shape[-2:]), "ceiling": (_f(lower), _f(upper), _f(expected)),
                "kind": kind, "n": n}

    def _similarity(self, a, b):
        return np.nanmean(compare_rdms(a, b, self.compare))

    def _result(self, X: np.ndarray, prep: dict, with_ci: bool) -> Result:
        lower, upper, expected = prep["ceiling"]
        if _constant(X):
            return Result(NAN, expected, lower, NAN, n_neurons=prep["n"], ceiling_upper=upper)
        model = rdm(X, self.rdm_method)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = _f(self._similarity(model, prep["rdms"]))
        lo, hi = self._bootstrap(self._similarity, model, prep["rdms"], axis=(-2, -1)) if with_ci else (NAN, NAN)
        return Result(score, expected, lower, _ratio(score, expected), lo, hi, prep["n"], upper,
                      *_divided(lo, hi, expected))


class CKA(_Unfitted):
    """Centered kernel alignment (``kind``: linear by default)."""

    name = "cka"

    def __init__(self, kind: str = "linear", n_splits: int = 10, **kw):
        super().__init__(**kw)
        self.kind, self.n_splits = kind, int(n_splits)

    @property
    def method(self) -> str:
        return f"cka ({self.kind})"

    def prepare(self, target: Target, idx: np.ndarray) -> dict:
        Y = target.responses[idx]
        ceiling, kind = NAN, "none"
        trials = None if target.trials is None else target.trials[idx]
        if trials is not None and self.kind == "rbf":
            kind = "none (no noise-corrected ceiling for rbf CKA)"
        elif trials is not None and _min_repeats(trials) < 2:
            kind = "none (a stimulus has fewer than 2 valid repeats)"
        elif trials is not None and len(idx) >= 4:
            ceiling = _f(cka_ceiling(trials, self.kind, self.n_splits, self.seed))
            kind = (f"expected cka of the noise-free responses with the trial mean, sqrt(HSIC(half, half) / "
                    f"HSIC(mean, mean)) ({self.n_splits} split-halves of the repeats)")
        return {"Y": _gram_factor(Y), "ceiling": ceiling, "kind": kind, "n": Y.shape[1]}

    def _cka(self, X, Y):
        return cka(X, Y, self.kind)

    def _result(self, X, prep, with_ci):
        if _constant(X):
            return Result(NAN, prep["ceiling"], NAN, NAN, n_neurons=prep["n"])
        L = _gram_factor(X)
        score = _f(self._cka(L, prep["Y"]))
        lo, hi = self._bootstrap(self._cka, L, prep["Y"], axis=0, centre=score) if with_ci else (NAN, NAN)
        c = prep["ceiling"]
        return Result(score, c, NAN, _ratio(score, c), lo, hi, prep["n"], NAN, *_divided(lo, hi, c))


class SVCCA(Metric):
    """Cross-validated SVCCA between the top ``dims`` SVD directions of each side."""

    name = "svcca"

    def __init__(self, dims: int | None = 20, var_threshold: float = 0.99, n_folds: int = 5, **kw):
        super().__init__(**kw)
        self.dims, self.var_threshold, self.n_folds = dims, float(var_threshold), int(n_folds)

    @property
    def method(self) -> str:
        dims = (f"top {self.dims} SVD dims" if self.dims
                else f"SVD dims explaining {self.var_threshold:g} of the variance")
        return (f"svcca cross-validated ({dims}; selection: {self.n_folds}-fold within train+validation; "
                "test: fit on train+validation)")

    def prepare(self, target, idx):
        return {"Y": target.responses[idx], "n": target.responses.shape[1]}

    def selection(self, X, prep):
        if _constant(X):
            return Result(NAN, n_neurons=prep["n"])
        res = svcca_cv(X, prep["Y"], k=self.dims, n_folds=self.n_folds, seed=self.seed,
                       var_threshold=self.var_threshold)
        return Result(_f(res.score), n_neurons=prep["n"])

    def test(self, X_fit, prep_fit, X, prep):
        if _constant(X_fit):
            return Result(NAN, n_neurons=prep["n"])
        u, v = svcca_transform(np.asarray(X_fit, dtype=np.float64), prep_fit["Y"], np.asarray(X, dtype=np.float64),
                               prep["Y"], k=self.dims, var_threshold=self.var_threshold)

        def mean_corr(a, b):
            return np.nanmean(predictivity(a, b).r)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = _f(mean_corr(u, v))
        lo, hi = self._bootstrap(mean_corr, u, v, axis=0)
        return Result(score, ci_low=lo, ci_high=hi, n_neurons=prep["n"])


class _Regression(Metric):
    """Held-out linear predictivity: per-neuron Pearson r, summarised by the median."""

    ceiling_kind = ("median over neurons of sqrt(reliability of the trial mean) (split halves, Spearman-Brown), "
                    "in units of Pearson r; normalized = median over neurons of r / sqrt(reliability)")

    def __init__(self, n_folds: int = 5, n_splits: int = 10, **kw):
        super().__init__(**kw)
        self.n_folds, self.n_splits = int(n_folds), int(n_splits)

    def prepare(self, target, idx):
        rel = None
        if target.trials is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rel = mean_reliability(target.trials[idx], n_splits=self.n_splits, seed=self.seed)
        return {"Y": target.responses[idx], "reliability": rel, "n": target.responses.shape[1],
                "kind": self.ceiling_kind if rel is not None else "none"}

    def _cv_predict(self, X, Y):
        raise NotImplementedError

    def _fit_predict(self, X_fit, Y_fit, X):
        raise NotImplementedError

    def _result(self, pred, prep, with_ci):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = np.asarray(predictivity(pred, prep["Y"]).r, dtype=np.float64)
            score = float(np.nanmedian(r)) if np.isfinite(r).any() else NAN
            ceiling = normalized = NAN
            corrected = np.full_like(r, NAN)
            if prep["reliability"] is not None:
                rel = np.asarray(prep["reliability"])
                root = np.sqrt(np.where(rel > 0, rel, NAN))
                ceiling = float(np.nanmedian(root)) if np.isfinite(root).any() else NAN
                corrected = np.asarray(correct_r(r, rel))
                normalized = float(np.nanmedian(corrected)) if np.isfinite(corrected).any() else NAN
        lo, hi = self._bootstrap(np.nanmedian, r, axis=0) if with_ci and np.isfinite(r).any() else (NAN, NAN)
        nlo, nhi = (self._bootstrap(np.nanmedian, corrected, axis=0) if with_ci and np.isfinite(corrected).any()
                    else (NAN, NAN))
        return Result(score, ceiling, NAN, normalized, lo, hi, prep["n"], NAN, nlo, nhi)

    @staticmethod
    def _scale(X_fit: np.ndarray) -> tuple[np.ndarray, float]:
        """Features as float64 divided by their total standard deviation on the fitting
        stimuli, so that the penalty grid does not depend on the layer's scale."""
        X_fit = np.asarray(X_fit, dtype=np.float64)
        total = math.sqrt(float(X_fit.var(0).sum()))
        return X_fit / total, total

    def selection(self, X, prep):
        if _constant(X):
            return Result(NAN, n_neurons=prep["n"])
        Xs, _ = self._scale(X)
        return self._result(self._cv_predict(Xs, prep["Y"]), prep, with_ci=False)

    def test(self, X_fit, prep_fit, X, prep):
        if _constant(X_fit):
            return Result(NAN, n_neurons=prep["n"])
        Xs, total = self._scale(X_fit)
        pred = self._fit_predict(Xs, prep_fit["Y"], np.asarray(X, dtype=np.float64) / total)
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
        return (f"ridge (alpha {self.inner} by leave-one-out; selection: {self.n_folds}-fold within "
                "train+validation; test: fit on train+validation)")

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
        return (f"pls ({self.n_components} components; selection: {self.n_folds}-fold within train+validation; "
                "test: fit on train+validation)")

    def _components(self, n_train: int, n_features: int) -> int:
        return max(1, min(self.n_components, n_train - 1, n_features))

    def _cv_predict(self, X, Y):
        n_train = X.shape[0] - -(-X.shape[0] // self.n_folds)
        return kfold_pls(X, Y, self._components(n_train, X.shape[1]), n_folds=self.n_folds, seed=self.seed)

    def _fit_predict(self, X_fit, Y_fit, X):
        return pls_fit_predict(X_fit, Y_fit, X, self._components(*X_fit.shape))


METRICS: dict[str, type[Metric]] = {"rsa": RSA, "cka": CKA, "svcca": SVCCA, "ridge": Ridge, "pls": PLS}


def build_metrics(names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                  n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> list[Metric]:
    """Metric objects for ``names`` with their ``options[name]`` keyword arguments."""
    options = dict(options or {})
    names = list(names)
    if not names:
        raise UserError("metrics", f"no metric selected; choose from {sorted(METRICS)}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError("metrics", f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if len(set(names)) != len(names):
        raise UserError("metrics", f"a metric is listed twice: {names}")
    if not 0 < ci < 1:
        raise UserError("ci", f"must be in (0, 1), got {ci}")
    metrics = []
    for name in names:
        kwargs = dict(options.get(name) or {})
        try:
            metrics.append(METRICS[name](n_boot=n_boot, ci=ci, seed=seed, **kwargs))
        except TypeError as err:
            raise UserError(f"metric_options.{name}", " ".join(str(err).split())) from None
    return metrics


# ---------------------------------------------------------------------------------------
# Scoring layers and choosing one per area
# ---------------------------------------------------------------------------------------

@dataclass
class ScoreRow:
    """One line of ``scores.csv``: a layer × target × metric on one split."""

    recording: str
    target: str
    area: str
    layer: str
    depth: int
    layer_area: str
    metric: str
    method: str
    split: str
    score: float
    ceiling: float
    ceiling_lower: float
    ceiling_kind: str
    normalized: float
    ci_low: float
    ci_high: float
    n_stimuli: int
    n_neurons: int
    selection: str = ""
    chosen: bool = False
    ceiling_upper: float = NAN
    normalized_ci_low: float = NAN
    normalized_ci_high: float = NAN
    silent_fraction: float = NAN       # share of the split's stimuli with a constant (silent) layer pattern
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        return {**d.pop("extra"), **d}


class LayerScorer:
    """Scores layers one at a time against fixed targets, caching the target side.

    ``splits``: ``{"selection": indices, "test": indices}`` into the stimulus axis of
    the features passed to :meth:`score`. ``recording``: the label written to the rows
    (default: each target's recording id). :attr:`skipped` says which target × metric
    pairs cannot be scored, and why.
    """

    def __init__(self, targets: Sequence[Target], metrics: Sequence[Metric], splits: Mapping[str, np.ndarray],
                 recording: str | None = None):
        self.targets, self.metrics, self.splits = list(targets), list(metrics), dict(splits)
        self.recording = recording
        self._prepared: dict[tuple[int, str, str], dict] = {}
        reasons: dict[tuple[str, str], list[str]] = {}
        for t in self.targets:
            for m in self.metrics:
                why = m.applicable(t)
                if why:
                    where = f"{recording or t.recording} {t.name} ({t.area})"
                    reasons.setdefault((where, why), []).append(m.name)
        self.skipped = [f"{where}: {', '.join(names)} not scored: {why}" for (where, why), names in reasons.items()]

    def _prep(self, ti: int, metric: Metric, split: str) -> dict:
        key = (ti, metric.name, split)
        if key not in self._prepared:
            self._prepared[key] = metric.prepare(self.targets[ti], self.splits[split])
        return self._prepared[key]

    def score(self, spec: LayerSpec, features: np.ndarray) -> list[ScoreRow]:
        """Rows (selection and test split) of every applicable target × metric for one layer.

        ``features``: (n_stimuli, features) float32, stimuli in recording order.
        """
        sel, test = self.splits["selection"], self.splits["test"]
        X_sel, X_test = features[sel], features[test]
        silent = {"selection": _f(silent_fraction(X_sel)), "test": _f(silent_fraction(X_test))}
        rows = []
        for ti, target in enumerate(self.targets):
            for metric in self.metrics:
                if metric.applicable(target):
                    continue
                p_sel, p_test = self._prep(ti, metric, "selection"), self._prep(ti, metric, "test")
                for split, res, prep, n in (("selection", metric.selection(X_sel, p_sel), p_sel, len(sel)),
                                            ("test", metric.test(X_sel, p_sel, X_test, p_test), p_test, len(test))):
                    rows.append(ScoreRow(
                        recording=self.recording or target.recording, target=target.name, area=str(target.area),
                        layer=spec.name, depth=int(spec.depth), layer_area=spec.area, metric=metric.name,
                        method=metric.method, split=split, score=res.score, ceiling=res.ceiling,
                        ceiling_lower=res.ceiling_lower, ceiling_kind=prep.get("kind", metric.ceiling_kind),
                        normalized=res.normalized, ci_low=res.ci_low, ci_high=res.ci_high, n_stimuli=n,
                        n_neurons=res.n_neurons, ceiling_upper=res.ceiling_upper,
                        normalized_ci_low=res.normalized_ci_low, normalized_ci_high=res.normalized_ci_high,
                        silent_fraction=silent[split]))
        return rows


def score_layer(spec: LayerSpec, features: np.ndarray, targets: Sequence[Target], metrics: Sequence[Metric],
                splits: Mapping[str, np.ndarray]) -> list[ScoreRow]:
    """:meth:`LayerScorer.score` for a single layer (no caching across layers)."""
    return LayerScorer(targets, metrics, splits).score(spec, features)


def choose_layers(rows: Iterable[ScoreRow], selection: str = "held_out") -> list[dict]:
    """Mark the chosen layer per (recording, target, metric) and return one summary each.

    ``held_out``: the layer with the best *selection* score; its *test* score is
    reported. ``max_on_test``: the layer with the best test score (optimistic). Every
    row gets ``selection`` set to the protocol's label and ``chosen`` to whether it
    belongs to the chosen layer. Groups where no layer has a finite score report no
    layer (``layer`` None, NaN values).
    """
    if selection not in SELECTIONS:
        raise UserError("selection", f"must be one of {sorted(SELECTIONS)}, got {selection!r}")
    label = SELECTIONS[selection]
    rows = list(rows)
    groups: dict[tuple, dict[str, dict[str, ScoreRow]]] = {}
    for row in rows:
        row.selection, row.chosen = label, False
        key = (row.recording, row.target, row.area, row.metric)
        groups.setdefault(key, {}).setdefault(row.layer, {})[row.split] = row
    best = []
    for (recording, target, area, metric), layers in groups.items():
        by = "selection" if selection == "held_out" else "test"
        candidates = [(r[by].score, -r[by].depth, name) for name, r in layers.items()
                      if by in r and np.isfinite(r[by].score)]
        summary = {"recording": recording, "target": target, "area": area, "metric": metric,
                   "selection": label, "layer": None}
        if candidates:
            _, _, name = max(candidates)             # ties: the shallower layer
            for r in layers[name].values():
                r.chosen = True
            chosen_sel, chosen_test = layers[name].get("selection"), layers[name]["test"]
            summary.update(
                layer=name, depth=chosen_test.depth, layer_area=chosen_test.layer_area, method=chosen_test.method,
                selection_score=chosen_sel.score if chosen_sel else NAN, score=chosen_test.score,
                ceiling=chosen_test.ceiling, ceiling_lower=chosen_test.ceiling_lower,
                ceiling_upper=chosen_test.ceiling_upper, ceiling_kind=chosen_test.ceiling_kind,
                normalized=chosen_test.normalized, normalized_ci_low=chosen_test.normalized_ci_low,
                normalized_ci_high=chosen_test.normalized_ci_high, silent_fraction=chosen_test.silent_fraction,
                ci_low=chosen_test.ci_low, ci_high=chosen_test.ci_high, n_stimuli=chosen_test.n_stimuli,
                n_selection_stimuli=chosen_sel.n_stimuli if chosen_sel else 0, n_neurons=chosen_test.n_neurons,
                n_layers=len(layers))
        best.append(summary)
    return best

"""Paired statistics for two models scored on the same neurons, stimuli and seeds (SNN vs DNN twin).

Pure array functions (no I/O). The unit of comparison is the per-neuron held-out Pearson r:
for each seed and neuron, ``r_a - r_b`` is the paired difference of model A (the SNN) and
model B (its twin), both predicting the same recorded responses to the same test stimuli.

* :func:`per_neuron_difference`: each neuron's difference, averaged over seeds.
* :func:`hierarchical_bootstrap`: a percentile CI of the mean paired difference that
  resamples, with replacement and in this order, seeds, then neurons (within each session),
  then test stimuli (within each session; the same stimuli for A, B and the responses), and
  recomputes every r from the predictions.
* :func:`swap_pvalue`: two-sided permutation p-values of the mean paired difference that swap
  the SNN and twin predictions within pairs, for all neurons at once: per (seed, test stimulus)
  (the p-value of the tables), or whole runs per seed (exact; with 3 seeds never below 0.25).
* :func:`sign_flip_pvalue`: the sign-flip test over neurons of the seed-averaged differences.
  It treats neurons as independent; when the models' errors are shared by the neurons of a
  stimulus, or seeds differ in quality, it rejects a true null far too often (measured:
  15 % and 66 % at a nominal 5 %), so the tables do not use it.

:func:`paired_comparison` runs them on one or several sessions (each with its own stimuli and
neurons); :data:`TEST_NAME` (:func:`describe_test` for other pairs) is the wording used in table
headers. What the p-values test: the stimulus swap asks whether *these trained networks* predict
equally well (it is calibrated when errors are shared across neurons, but it does not count
seed-to-seed variation); the seed swap asks whether the *architectures* do, with the seeds as
replicates. The bootstrap CI includes seed-to-seed variation (about nominal coverage in simulation).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS = ("seeds", "neurons", "stimuli")


def describe_test(a: str = "SNN", b: str = "twin") -> str:
    """The test's wording for a table of ``a`` − ``b`` differences."""
    return (
        f"paired {a} − {b} difference of per-neuron held-out r (same neurons, test stimuli, seeds); "
        "CI: hierarchical bootstrap over seeds × neurons × test stimuli; p: two-sided permutation test "
        f"swapping {a} and {b} predictions within (seed, stimulus) pairs, all neurons together; "
        "p seeds: the same swapping whole runs within each seed's pair (exact)"
    )


TEST_NAME = describe_test()


class PairingError(ValueError):
    """The two models were not scored on the same neurons, stimuli or seeds."""


def pearson_r(pred: np.ndarray, resp: np.ndarray) -> np.ndarray:
    """Pearson r per neuron over stimuli and bins: ``(..., stimuli, bins, neurons) -> (..., neurons)``.

    As in the training metrics, a constant prediction of a varying response scores 0 and a
    constant response gives NaN; a non-finite prediction gives NaN (never 0). The response
    may omit leading axes of the prediction (e.g. the seeds).
    """
    pred, resp = np.asarray(pred, dtype=np.float64), np.asarray(resp, dtype=np.float64)
    if pred.ndim < 3 or pred.shape[-resp.ndim :] != resp.shape:
        raise ValueError(f"prediction {pred.shape} and response {resp.shape} differ in shape")
    resp = np.broadcast_to(resp, pred.shape)
    p = pred.reshape(*pred.shape[:-3], -1, pred.shape[-1])
    t = resp.reshape(p.shape)
    p = p - p.mean(-2, keepdims=True)
    t = t - t.mean(-2, keepdims=True)
    pp, tt = (p * p).sum(-2), (t * t).sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * t).sum(-2) / np.sqrt(pp * tt)
        r = np.where(pp > 0, r, np.where(np.isfinite(pp), 0.0, np.nan))
    return np.where(tt > 0, r, np.nan)


def check_pairing(ids_a: Sequence, ids_b: Sequence, stimuli_a: Sequence, stimuli_b: Sequence) -> None:
    """Raise :class:`PairingError` unless both runs hold the same neuron ids and stimulus indices
    in the same order (order matters: the arrays are compared position by position)."""
    ids_a, ids_b = np.asarray(ids_a).astype(str), np.asarray(ids_b).astype(str)
    if ids_a.shape != ids_b.shape or not np.array_equal(ids_a, ids_b):
        only = sorted(set(ids_a) ^ set(ids_b))
        why = (
            f"{len(only)} neuron id(s) in only one run (e.g. {only[0]})"
            if only
            else f"neuron ids in a different order ({len(ids_a)} vs {len(ids_b)})"
        )
        raise PairingError(why)
    sa, sb = np.asarray(stimuli_a), np.asarray(stimuli_b)
    if sa.shape != sb.shape or not np.array_equal(sa, sb):
        raise PairingError(f"test stimulus indices differ ({sa.size} vs {sb.size} stimuli)")


def per_neuron_difference(r_a: np.ndarray, r_b: np.ndarray) -> np.ndarray:
    """``(seeds, neurons)`` r of A and B -> each neuron's ``r_a - r_b`` averaged over the seeds
    where both are finite (NaN where there is none)."""
    return _nanmean(np.asarray(r_a, dtype=np.float64) - np.asarray(r_b, dtype=np.float64), axis=0)


def _nanmean(x: np.ndarray, axis=None) -> np.ndarray:
    with warnings.catch_warnings():  # an all-NaN slice is NaN, without a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def sign_flip_pvalue(d: np.ndarray, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of ``mean(d)`` (NaN entries dropped).

    Exact (all ``2**n`` sign patterns, the observed one included) when ``2**n <= n_perm``;
    otherwise Monte Carlo with ``p = (1 + #{|T*| >= |T|}) / (1 + n_perm)``.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return float("nan")
    t_obs = abs(d.mean())
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if n <= 30 and 2**n <= n_perm:
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ d) / n >= t_obs - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 1000):
        signs = rng.choice((-1.0, 1.0), size=(min(1000, n_perm - start), n))
        hits += int(np.sum(np.abs(signs @ d) / n >= t_obs - tol))
    return (1 + hits) / (1 + n_perm)


def swap_pvalue(sessions: Sequence[tuple], unit: str = "stimuli", n_perm: int = 2000, seed: int = 0) -> float:
    """Two-sided permutation p-value of the mean paired difference by swapping the SNN and twin
    predictions within pairs, for all neurons at once.

    ``unit="stimuli"``: each (seed, test stimulus) pair is swapped or not, independently; this keeps
    the dependence between neurons that share a stimulus and tests whether these trained networks
    predict equally well. ``unit="seeds"``: whole runs are swapped within each seed's pair (the
    seeds are the replicates; with ``K`` seeds no p-value is below ``2 / 2**K``). All ``2**K``
    patterns are enumerated for seeds when that is at most ``n_perm``; otherwise (and for
    stimuli) ``p = (1 + #{|T*| >= |T|}) / (1 + n_perm)``.
    """
    if unit not in ("stimuli", "seeds"):
        raise ValueError(f"unit must be 'stimuli' or 'seeds', got {unit!r}")
    sessions = [_as_session(*x) for x in sessions]
    n_seeds = sessions[0][0].shape[0]

    def statistic(masks) -> float:
        d = []
        for (a, b, r), m in zip(sessions, masks, strict=True):
            m = m.reshape(m.shape + (1,) * (a.ndim - m.ndim))
            d.append(per_neuron_difference(pearson_r(np.where(m, b, a), r), pearson_r(np.where(m, a, b), r)))
        return float(_nanmean(np.concatenate(d)))

    shape = (lambda a: (n_seeds,)) if unit == "seeds" else (lambda a: a.shape[:2])
    t_obs = abs(statistic([np.zeros(shape(a), dtype=bool) for a, _, _ in sessions]))
    if not np.isfinite(t_obs):
        return float("nan")
    tol = 1e-12 * max(1.0, t_obs)
    if unit == "seeds" and 2**n_seeds <= n_perm:
        patterns = ((np.arange(2**n_seeds)[:, None] >> np.arange(n_seeds)) & 1).astype(bool)
        return float(np.mean([abs(statistic([p] * len(sessions))) >= t_obs - tol for p in patterns]))
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_perm):
        if unit == "seeds":
            masks = [rng.random(n_seeds) < 0.5] * len(sessions)
        else:
            masks = [rng.random(shape(a)) < 0.5 for a, _, _ in sessions]
        hits += abs(statistic(masks)) >= t_obs - tol
    return (1 + hits) / (1 + n_perm)


def _as_session(pred_a, pred_b, resp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred_a, pred_b = np.asarray(pred_a, dtype=np.float64), np.asarray(pred_b, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    if pred_a.ndim != 4 or pred_a.shape != pred_b.shape:
        raise ValueError(
            f"predictions must both be (seeds, stimuli, bins, neurons), got {pred_a.shape} and {pred_b.shape}"
        )
    if resp.ndim == 3:
        resp = np.broadcast_to(resp, pred_a.shape)
    if resp.shape != pred_a.shape:
        raise ValueError(f"responses {resp.shape} do not match predictions {pred_a.shape}")
    return pred_a, pred_b, resp


def _session_diffs(sessions, seed_idx=None, rng=None, levels=()) -> np.ndarray:
    """Seed-averaged per-neuron differences of every session, concatenated; resampled at
    ``levels`` with ``rng`` (seed indices are shared by all sessions)."""
    out = []
    for pred_a, pred_b, resp in sessions:
        if seed_idx is not None:
            pred_a, pred_b, resp = pred_a[seed_idx], pred_b[seed_idx], resp[seed_idx]
        n_stim, n_neur = pred_a.shape[1], pred_a.shape[3]
        if "neurons" in levels:
            nidx = rng.integers(0, n_neur, n_neur)
            pred_a, pred_b, resp = pred_a[..., nidx], pred_b[..., nidx], resp[..., nidx]
        if "stimuli" in levels:
            sidx = rng.integers(0, n_stim, n_stim)
            pred_a, pred_b, resp = pred_a[:, sidx], pred_b[:, sidx], resp[:, sidx]
        out.append(per_neuron_difference(pearson_r(pred_a, resp), pearson_r(pred_b, resp)))
    return np.concatenate(out)


def hierarchical_bootstrap(
    sessions: Sequence[tuple], n_boot: int = 1000, ci: float = 0.95, seed: int = 0, levels: Sequence[str] = LEVELS
) -> tuple[float, float, np.ndarray]:
    """Percentile CI of the mean (over neurons) of the seed-averaged paired difference.

    Args:
        sessions: one ``(pred_a, pred_b, resp)`` per session; predictions are
            ``(seeds, stimuli, bins, neurons)``, responses the same or ``(stimuli, bins, neurons)``.
            Every session has the same seeds (in the same order).
        levels: which of ``seeds``, ``neurons``, ``stimuli`` are resampled.

    Returns:
        ``(lo, hi, boot)``: the ``(1-ci)/2`` and ``(1+ci)/2`` percentiles and the ``n_boot``
        resampled statistics (NaN resamples ignored in the percentiles).
    """
    unknown = set(levels) - set(LEVELS)
    if unknown:
        raise ValueError(f"unknown bootstrap level(s) {sorted(unknown)}; choose from {LEVELS}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    sessions = [_as_session(*s) for s in sessions]
    n_seeds = {s[0].shape[0] for s in sessions}
    if len(n_seeds) != 1:
        raise PairingError(f"sessions hold different numbers of seeds {sorted(n_seeds)}")
    n_seeds = n_seeds.pop()
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        seed_idx = rng.integers(0, n_seeds, n_seeds) if "seeds" in levels else None
        d = _session_diffs(sessions, seed_idx, rng, levels)
        boot[b] = _nanmean(d)
    lo, hi = np.nanpercentile(boot, [50 * (1 - ci), 50 * (1 + ci)]) if np.isfinite(boot).any() else (np.nan,) * 2
    return float(lo), float(hi), boot


@dataclass(frozen=True)
class PairedResult:
    """SNN (A) vs twin (B) on the same neurons, test stimuli and seeds."""

    n_seeds: int
    n_neurons: int  # neurons with a finite paired difference
    n_stimuli: int  # test stimuli, summed over sessions
    r_a_median: float  # median over neurons of the seed-averaged r of A
    r_b_median: float
    diff_mean: float  # mean over neurons of the seed-averaged r_a - r_b (the tested statistic)
    diff_median: float
    ci_low: float
    ci_high: float
    p_value: float  # SNN/twin swapped within (seed, stimulus) pairs
    p_value_seeds: float  # whole runs swapped within seed pairs (exact for few seeds)
    ci: float
    n_boot: int
    n_perm: int
    test: str = TEST_NAME


def paired_comparison(
    sessions: Sequence[tuple], n_boot: int = 1000, n_perm: int = 2000, ci: float = 0.95, seed: int = 0
) -> PairedResult:
    """Paired difference, hierarchical bootstrap CI and sign-flip p-value (see the module docstring)."""
    sessions = [_as_session(*s) for s in sessions]
    if not sessions:
        raise ValueError("no sessions to compare")
    r_a = np.concatenate([pearson_r(a, r) for a, _, r in sessions], axis=1)
    r_b = np.concatenate([pearson_r(b, r) for _, b, r in sessions], axis=1)
    d = per_neuron_difference(r_a, r_b)
    finite = np.isfinite(d)
    mean_a, mean_b = _nanmean(r_a, axis=0)[finite], _nanmean(r_b, axis=0)[finite]
    lo, hi, _ = hierarchical_bootstrap(sessions, n_boot=n_boot, ci=ci, seed=seed)
    nan = float("nan")
    return PairedResult(
        n_seeds=int(r_a.shape[0]),
        n_neurons=int(finite.sum()),
        n_stimuli=int(sum(s[0].shape[1] for s in sessions)),
        r_a_median=float(np.median(mean_a)) if finite.any() else nan,
        r_b_median=float(np.median(mean_b)) if finite.any() else nan,
        diff_mean=float(d[finite].mean()) if finite.any() else nan,
        diff_median=float(np.median(d[finite])) if finite.any() else nan,
        ci_low=lo,
        ci_high=hi,
        p_value=swap_pvalue(sessions, "stimuli", n_perm=n_perm, seed=seed),
        p_value_seeds=swap_pvalue(sessions, "seeds", n_perm=n_perm, seed=seed),
        ci=ci,
        n_boot=n_boot,
        n_perm=n_perm,
    )

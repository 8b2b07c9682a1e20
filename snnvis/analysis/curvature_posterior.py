"""Noise-corrected curvature that does not saturate at low signal-to-noise ratio.

The moment estimator :func:`snnvis.similarity.curvature_corrected` takes the angle of
cos = N / D, with N = sum_t G_{t,t+1} and D = sum_t (G_tt + G_{t+1,t+1}) / 2 from the
cross-repeat Gram matrix G of the difference vectors. At the step SNR of the Hénaff V1
recordings (median ~0.2 for synthetic sequences, ~0.9 for natural ones, all frames) N and D
are both noisy, and their errors are negatively correlated (a noisy middle frame adds to
the squared norms and subtracts from the successive inner product). Whenever the estimate
has N >= D, the Cauchy-Schwarz bound is violated, cos is clipped to 1 and the sequence
comes out at exactly 0 deg: 34 of the 140 synthetic sequences of the 7 released sessions.
Where D <= 0 the angle is undefined (20 more).

:func:`curvature_posterior` keeps the same two sufficient statistics but treats them as
what they are, noisy measurements of (s cos(theta), s), where s > 0 is the pooled squared
speed of the true mean trajectory and theta its (speed-weighted) curvature:

    (N, D) ~ Normal((s cos(theta), s), Sigma),

with Sigma the delete-one-repeat jackknife covariance of (N, D). s is integrated out in
closed form under a flat prior on s > 0,

    p(N, D | theta) ∝ q^{-1/2} exp(b^2 / 2q) erfc(-b / sqrt(2q)),
    a = (cos(theta), 1), q = a' Sigma^-1 a, b = a' Sigma^-1 (N, D),

and theta gets a uniform prior on [0, 180] deg. The estimate is the posterior median,
reported with an equal-tailed credible interval. It never piles up at 0 or 180 deg, it is
defined where D <= 0, and at high SNR it converges to the moment estimate arccos(N / D).
The price is shrinkage: when a sequence is not resolved above noise, its posterior is
broad and its median moves towards the middle of the prior (90 deg). The credible
interval says when that happens; :func:`snnvis.analysis.curvature.simulate_recovery`
measures the bias on trajectories of known, varying curvature and speed at the SNR of
the recordings (the tolerances are stated in tests/analysis/test_curvature_posterior.py).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, erfcx

from snnvis.similarity import subsequences

GRID_DEG = np.linspace(0.0, 180.0, 721)  # 0.25 deg steps


def _pooled(tot, cnt, same_s, pair_s, same_d, pair_d):
    """N and D (..., ) from per-unit repeat sums: successive (t, t+1) and diagonal products."""
    num_s = tot[..., :-1, :] * tot[..., 1:, :] - same_s
    prs_s = cnt[..., :-1, :] * cnt[..., 1:, :] - pair_s
    num_d = tot * tot - same_d
    prs_d = cnt * cnt - pair_d
    with np.errstate(invalid="ignore", divide="ignore"):
        g_s = np.where(prs_s > 0, num_s / np.maximum(prs_s, 1.0), np.nan).sum(-1)  # (..., t-1)
        g_d = np.where(prs_d > 0, num_d / np.maximum(prs_d, 1.0), np.nan).sum(-1)  # (..., t)
    return g_s.sum(-1), 0.5 * (g_d[..., :-1] + g_d[..., 1:]).sum(-1)


def pooled_sums(trials, frame_step: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The moment estimator's pooled sums and their delete-one-repeat values.

    Args:
        trials: (..., repeats, frames, units); NaN marks a missing entry (skipped per unit,
            as in :func:`snnvis.similarity.difference_gram`).
        frame_step: pool the ``frame_step`` phase-shifted subsequences (the authors' dither).

    Returns:
        N, D: (...) sum_t G_{t,t+1} and sum_t (G_tt + G_{t+1,t+1}) / 2, identical to the sums
        inside :func:`snnvis.similarity.curvature_corrected`; N_loo, D_loo: (..., repeats)
        the same with one repeat left out.
    """
    x = np.asarray(trials, dtype=np.float64)
    if x.ndim < 3 or x.shape[-3] < 3 or x.shape[-2] < 3:
        raise ValueError(f"trials must be (..., repeats >= 3, frames >= 3, units), got {x.shape}")
    batch, n_rep = x.shape[:-3], x.shape[-3]
    n_tot, d_tot = np.zeros(batch), np.zeros(batch)
    n_loo, d_loo = np.zeros(batch + (n_rep,)), np.zeros(batch + (n_rep,))
    for s in subsequences(x.shape[-2], frame_step):
        d = np.diff(x[..., s, :], axis=-2)  # (..., R, t, N)
        w = ~np.isnan(d)
        d = np.where(w, d, 0.0)
        w = w.astype(np.float64)
        prod_s, pw_s = d[..., :-1, :] * d[..., 1:, :], w[..., :-1, :] * w[..., 1:, :]
        prod_d, pw_d = d * d, w * w
        tot, cnt = d.sum(-3), w.sum(-3)
        stats = (prod_s.sum(-3), pw_s.sum(-3), prod_d.sum(-3), pw_d.sum(-3))
        n, dd = _pooled(tot, cnt, *stats)
        n_tot, d_tot = n_tot + n, d_tot + dd
        for r in range(n_rep):
            drop = (prod_s[..., r, :, :], pw_s[..., r, :, :], prod_d[..., r, :, :], pw_d[..., r, :, :])
            rest = (a - b for a, b in zip(stats, drop, strict=True))
            n, dd = _pooled(tot - d[..., r, :, :], cnt - w[..., r, :, :], *rest)
            n_loo[..., r] += n
            d_loo[..., r] += dd
    return n_tot, d_tot, n_loo, d_loo


def _log_marginal(cos, n, d, inn, idd, ind):
    """log p(N, D | theta) up to a constant, s > 0 integrated out (see the module docstring)."""
    q = inn * cos * cos + 2.0 * ind * cos + idd
    b = (inn * cos + ind) * n + (ind * cos + idd) * d
    z = -b / np.sqrt(2.0 * q)
    pos = z > 0  # erfc(z) = erfcx(z) exp(-z^2), stable for large z
    with np.errstate(divide="ignore"):
        tail = np.where(
            pos, np.log(erfcx(np.where(pos, z, 0.0))), b * b / (2.0 * q) + np.log(erfc(np.where(pos, 0.0, z)))
        )
    return -0.5 * np.log(q) + tail


def curvature_posterior(trials, frame_step: int = 1, ci: float = 0.95) -> dict[str, np.ndarray]:
    """Posterior curvature of the mean trajectory from single trials, in degrees.

    Args:
        trials: (..., repeats >= 3, frames, units), e.g. spike counts; NaN = missing.
        frame_step: subsequence step, pooled over phases (see :func:`pooled_sums`).
        ci: mass of the equal-tailed credible interval.

    Returns:
        {"median", "ci_low", "ci_high", "moment"}: (...) arrays. ``moment`` is the clipped
        moment estimate arccos(N / D) of :func:`snnvis.similarity.curvature_corrected`
        (NaN where D <= 0). NaN everywhere where some unit has no pair of distinct repeats.
        Without trial-to-trial variability (zero jackknife variance) the posterior is a point
        mass at the moment estimate.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    n, d, n_loo, d_loo = pooled_sums(trials, frame_step)
    r = n_loo.shape[-1]
    dn, dd = n_loo - n_loo.mean(-1, keepdims=True), d_loo - d_loo.mean(-1, keepdims=True)
    f = (r - 1.0) / r
    vnn, vdd, vnd = f * (dn * dn).sum(-1), f * (dd * dd).sum(-1), f * (dn * dd).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        moment = np.degrees(np.arccos(np.clip(np.where(d > 0, n / d, np.nan), -1.0, 1.0)))
        scale = vnn + vdd
        # a tiny ridge keeps Sigma invertible when N and D are (nearly) collinear across repeats
        vnn, vdd = vnn + 1e-9 * scale, vdd + 1e-9 * scale
        det = vnn * vdd - vnd * vnd
        inn, idd, ind = vdd / det, vnn / det, -vnd / det
        cos = np.cos(np.radians(GRID_DEG))
        logp = _log_marginal(cos, n[..., None], d[..., None], inn[..., None], idd[..., None], ind[..., None])
        logp = logp - np.max(np.where(np.isfinite(logp), logp, -np.inf), axis=-1, keepdims=True)
        p = np.exp(logp)
        cdf = np.cumsum(p, axis=-1)
        cdf = cdf / cdf[..., -1:]

    def quantile(level):
        return GRID_DEG[np.argmax(cdf >= level, axis=-1)]

    a = (1.0 - ci) / 2.0
    out = {"median": quantile(0.5), "ci_low": quantile(a), "ci_high": quantile(1.0 - a)}
    bad = ~np.isfinite(n) | ~np.isfinite(d) | ~np.isfinite(cdf[..., -1])
    exact = np.isfinite(scale) & (scale <= 0) & np.isfinite(moment)
    for k in out:
        out[k] = np.where(exact, moment, np.where(bad, np.nan, out[k].astype(np.float64)))
    out["moment"] = moment
    return out

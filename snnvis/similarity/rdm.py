"""Representational dissimilarity matrices (RDMs).

An RDM is a square (conditions, conditions) matrix of pairwise dissimilarities between
condition response patterns, zero on the diagonal. Conventions follow rsatoolbox
(Nili et al. 2014; rsatoolbox ``rdm/calc.py``) so that values can be compared with it:

* ``"correlation"``: 1 - Pearson correlation between the two condition patterns
  (each pattern centred across features). A *constant* pattern (e.g. a stimulus that
  leaves a spiking layer silent) has no defined correlation; it keeps its row: its
  distance to every non-constant pattern is 1 (the distance of an uncorrelated pattern:
  a constant pattern carries no pattern information, so it is neither similar nor
  anti-similar to any other) and to another constant pattern 0 (both patterns are flat,
  as identical in shape as two patterns can be). rsatoolbox gives NaN there; dropping
  such rows would score a spiking layer and its ReLU twin on different stimuli.
* ``"euclidean"``: *squared* euclidean distance divided by the number of features,
  ``||x_i - x_j||^2 / n_features`` (rsatoolbox's ``calc_rdm_euclidean``).
* cross-validated squared euclidean / crossnobis (:func:`rdm_crossvalidated`).
"""

from __future__ import annotations

import torch

from ._backend import dispatch, eps, matmul

RDM_METHODS = ("correlation", "euclidean")


@dispatch("responses")
def silent_fraction(responses):
    """Fraction of conditions whose pattern is constant across features (rows of a silent
    stimulus), by the same rounding-level test as :func:`rdm`. ``responses``: (..., conditions,
    features); returns (...) fractions."""
    return _constant_rows(responses).to(responses.dtype).mean((-2, -1))


def _constant_rows(responses: torch.Tensor) -> torch.Tensor:
    """(..., conditions, 1) True where a pattern is constant up to rounding: its centred norm
    is at rounding level of the raw norm sqrt(|centred|^2 + n_features * mean^2)."""
    mean = responses.mean(-1, keepdim=True)
    norm = torch.linalg.vector_norm(responses - mean, dim=-1, keepdim=True)
    return norm <= 16 * eps(responses) * torch.sqrt(norm**2 + responses.shape[-1] * mean**2)


def upper_triangle(rdm: torch.Tensor) -> torch.Tensor:
    """Strict upper triangle of (..., n, n) matrices as (..., n(n-1)/2) vectors.

    Row-major order, i.e. the order of ``scipy.spatial.distance.squareform`` and of
    rsatoolbox's RDM vectors. Works on tensors only (used inside dispatched functions).
    """
    n = rdm.shape[-1]
    i, j = torch.triu_indices(n, n, offset=1, device=rdm.device)
    return rdm[..., i, j]


def _check_responses(responses: torch.Tensor, name: str, min_ndim: int) -> None:
    if responses.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(responses.shape)}")
    if responses.shape[-2] < 2:
        raise ValueError(f"{name} needs at least 2 conditions, got shape {tuple(responses.shape)}")


@dispatch("responses")
def rdm(responses, method: str = "correlation"):
    """RDM of condition response patterns.

    Args:
        responses: (..., conditions, features) array; leading dimensions are a batch.
        method: ``"correlation"`` (1 - Pearson r between condition patterns) or
            ``"euclidean"`` (squared euclidean distance / n_features, as rsatoolbox).

    Returns:
        (..., conditions, conditions) symmetric RDM with an exactly zero diagonal. For
        ``"correlation"``, a condition whose pattern is constant across features is at
        distance 1 from every non-constant pattern and 0 from other constant ones (see
        the module docstring); entries are NaN only where the input is.
    """
    _check_responses(responses, "responses", 2)
    n_features = responses.shape[-1]
    if method == "correlation":
        mean = responses.mean(-1, keepdim=True)
        z = responses - mean
        norm = torch.linalg.vector_norm(z, dim=-1, keepdim=True)
        constant = _constant_rows(responses)
        z = z * torch.where(constant, torch.zeros_like(norm), 1 / norm)
        d = matmul(z, z.transpose(-1, -2)).neg_().add_(1)
        both = constant & constant.transpose(-1, -2)
        d = d.masked_fill(both, 0.0)
    elif method == "euclidean":
        # Distances are invariant to a common shift; centring each feature across
        # conditions first limits cancellation in |a|^2 + |b|^2 - 2 a.b.
        centred = responses - responses.mean(-2, keepdim=True)
        sq = (centred * centred).sum(-1)
        d = matmul(centred, centred.transpose(-1, -2)).mul_(-2)
        d = (d + sq[..., :, None] + sq[..., None, :]).clamp_min(0) / n_features
    else:
        raise ValueError(f"unknown RDM method {method!r}; expected one of {RDM_METHODS}")
    return _symmetric_zero_diagonal(d)


def _symmetric_zero_diagonal(d: torch.Tensor) -> torch.Tensor:
    """Symmetrise (removing rounding asymmetry) and set the diagonal to exactly 0."""
    d = (d + d.transpose(-1, -2)).mul_(0.5)
    d.diagonal(dim1=-2, dim2=-1).zero_()
    return d


@dispatch("trials", "precision")
def rdm_crossvalidated(trials, precision=None):
    """Cross-validated squared euclidean (or crossnobis) RDM over repeats.

    For every repeat ("fold") k, the patterns of repeat k (test) are paired with the
    mean of the other valid repeats (train), and the dissimilarity of conditions i, j is

        d_ij^k = (t_i - t_j)^T P (m_i - m_j) / n_features,

    with P the noise precision (identity by default: cross-validated euclidean). The RDM
    is the average of d_ij^k over the folds where both conditions are valid. Because the
    two factors have independent noise, E[d_ij] = (mu_i - mu_j)^T P (mu_i - mu_j) /
    n_features: the estimate is unbiased and can be negative (no true difference).
    With complete data this is exactly rsatoolbox's ``calc_rdm(dataset,
    method="crossnobis", descriptor=<condition>, cv_descriptor=<repeat>, noise=P)``
    (leave-one-repeat-out).

    Args:
        trials: (repeats, conditions, features). A (repeat, condition) pattern containing
            any NaN is treated as missing (NaN-padded repeats): the train means use each
            condition's own valid repeats, and only folds where both conditions are valid
            enter the average. Each condition needs at least 2 valid repeats.
        precision: optional (features, features) noise precision matrix (crossnobis).

    Returns:
        (conditions, conditions) symmetric RDM, zero diagonal.
    """
    if trials.ndim != 3:
        raise ValueError(f"trials must have shape (repeats, conditions, features), got {tuple(trials.shape)}")
    n_rep, n_cond, n_feat = trials.shape
    _check_responses(trials, "trials", 3)
    if precision is not None and tuple(precision.shape) != (n_feat, n_feat):
        raise ValueError(f"precision must have shape ({n_feat}, {n_feat}), got {tuple(precision.shape)}")
    valid = ~torch.isnan(trials).any(-1)  # (repeats, conditions)
    counts = valid.sum(0)
    if int(counts.min()) < 2:
        raise ValueError(
            "every condition needs at least 2 valid (non-NaN) repeats for a "
            f"cross-validated RDM; minimum found: {int(counts.min())}"
        )
    x = torch.where(valid[..., None], trials, torch.zeros((), dtype=trials.dtype, device=trials.device))
    total = x.sum(0)
    num = torch.zeros((n_cond, n_cond), dtype=trials.dtype, device=trials.device)
    weight = torch.zeros_like(num)
    for k in range(n_rep):
        test = x[k] if precision is None else x[k] @ precision
        train = (total - x[k]) / (counts - valid[k].long()).to(trials.dtype)[:, None]
        kernel = matmul(test, train.T)
        diag = kernel.diagonal()
        d = diag[:, None] + diag[None, :] - kernel - kernel.T
        both = (valid[k][:, None] & valid[k][None, :]).to(trials.dtype)
        num += d * both
        weight += both
    d = num / (weight * n_feat)
    return _symmetric_zero_diagonal(d)

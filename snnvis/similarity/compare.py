"""Comparison of RDMs.

Only the strict upper triangle of each RDM enters a comparison (the diagonal is zero by
construction and the lower triangle repeats the upper one). Methods (rsatoolbox names in
brackets, whose values they reproduce):

* ``"spearman"`` (``"spearman"``): Pearson correlation of average ranks, i.e. exactly
  ``scipy.stats.spearmanr`` including its tie handling.
* ``"kendall_tau_a"`` (``"tau-a"``): (concordant - discordant) / (P(P-1)/2) over the
  P dissimilarities, a pair tied in either RDM counting 0 (Nili et al. 2014). Computed in
  O(P log^2 P) with a vectorised merge count of discordant pairs.
* ``"pearson"`` (``"corr"``): Pearson correlation of the dissimilarities.
* ``"cosine"`` (``"cosine"``): cosine similarity of the dissimilarity vectors.

Degenerate inputs (a constant RDM for the correlations, an all-zero RDM for cosine) give
NaN rather than rsatoolbox's 0. Entries that are NaN in any of the compared RDMs are
dropped from all comparisons, as in rsatoolbox (used by condition bootstraps, where
pairs of copies of the same condition are set to NaN).
"""

from __future__ import annotations

import torch

from ._backend import argsort, average_ranks, dense_ranks, dispatch, pearson, tied_pairs
from .rdm import upper_triangle

COMPARE_METHODS = ("spearman", "kendall_tau_a", "pearson", "cosine")


def _check_rdms(a: torch.Tensor, b: torch.Tensor) -> None:
    for name, x in (("a", a), ("b", b)):
        if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"RDM {name} must be square with shape (..., n, n), got {tuple(x.shape)}")
        if x.shape[-1] < 3:
            raise ValueError(f"RDM {name} needs at least 3 conditions (2 dissimilarities), got {x.shape[-1]}")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"RDMs must cover the same conditions: a is {tuple(a.shape)}, b is {tuple(b.shape)}")
    try:
        torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"RDM batch shapes {tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} do not broadcast") from err


@dispatch("a", "b")
def compare_rdms(a, b, method: str = "spearman"):
    """Similarity of RDMs over their strict upper triangles.

    Args:
        a: (..., n, n) RDM(s).
        b: (..., n, n) RDM(s); batch dimensions broadcast against ``a``'s, e.g. a of
            shape (n_models, n, n) against one brain RDM b of shape (n, n).
        method: one of ``"spearman"``, ``"kendall_tau_a"``, ``"pearson"``, ``"cosine"``.

    Returns:
        Similarity with the broadcast batch shape (a scalar for two single RDMs).

    Raises:
        ValueError: non-square RDMs, different numbers of conditions, unknown method.
    """
    _check_rdms(a, b)
    return compare_vectors(upper_triangle(a), upper_triangle(b), method)


def compare_vectors(va: torch.Tensor, vb: torch.Tensor, method: str) -> torch.Tensor:
    """:func:`compare_rdms` on RDM vectors (..., P) (tensors; batch dims broadcast)."""
    if method not in COMPARE_METHODS:
        raise ValueError(f"unknown RDM comparison {method!r}; expected one of {COMPARE_METHODS}")
    keep = ~(torch.isnan(va).reshape(-1, va.shape[-1]).any(0) | torch.isnan(vb).reshape(-1, vb.shape[-1]).any(0))
    if not bool(keep.all()):
        va, vb = va[..., keep], vb[..., keep]
    if method == "spearman":
        return pearson(average_ranks(va), average_ranks(vb))
    if method == "pearson":
        return pearson(va, vb)
    if method == "cosine":
        va, vb = torch.broadcast_tensors(va, vb)
        norms = torch.linalg.vector_norm(va, dim=-1) * torch.linalg.vector_norm(vb, dim=-1)
        cos = (va * vb).sum(-1) / norms
        return torch.where(norms > 0, cos, torch.full_like(cos, float("nan")))
    return kendall_tau_a(va, vb)


def kendall_tau_a(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Kendall's tau-a along the last axis of (..., P) tensors (batch dims broadcast).

    tau_a = (C - D) / (P(P-1)/2), with C - D = P(P-1)/2 - T_x - T_y + T_xy - 2D, where
    T_x, T_y count pairs tied in x, in y, T_xy pairs tied in both, and D the discordant
    pairs (the same decomposition as rsatoolbox's ``_tau_a``).
    """
    x, y = torch.broadcast_tensors(x, y)
    batch, n = x.shape[:-1], x.shape[-1]
    rx = dense_ranks(x.reshape(-1, n))
    ry = dense_ranks(y.reshape(-1, n))
    joint = rx * n + ry
    # Sorting by (x, y) leaves every discordant pair as an inversion of y (pairs tied in x
    # are ordered by y and so never inverted; ties in y are not inversions).
    y_in_x_order = torch.gather(ry, 1, argsort(joint))
    discordant = _count_inversions(y_in_x_order)
    total = n * (n - 1) // 2
    c_minus_d = total - tied_pairs(rx) - tied_pairs(ry) + tied_pairs(joint) - 2 * discordant
    return (c_minus_d.to(x.dtype) / total).reshape(batch)


def _count_inversions(seq: torch.Tensor) -> torch.Tensor:
    """Number of pairs i < j with seq[i] > seq[j], per row of a (B, P) int64 tensor with
    values in [0, P).

    Bottom-up merge count, vectorised over rows and blocks: at block width w, each element
    of a right block counts the elements of its left sibling block that are strictly
    larger. Offsetting values by a per-(row, block pair) multiple of P makes all left
    blocks one globally sorted array, so one ``searchsorted`` serves every block.
    """
    rows, n = seq.shape
    pos = torch.arange(n, device=seq.device)
    row = torch.arange(rows, device=seq.device)[:, None]
    total = torch.zeros(rows, dtype=torch.int64, device=seq.device)
    width = 1
    while width < n:
        block = pos // width
        pair = block // 2
        right = block % 2 == 1
        n_pairs = int(pair[-1]) + 1
        segment = row * n_pairs + pair  # (rows, n)
        key = seq + segment * n
        left_sorted = torch.sort(key[:, ~right].reshape(-1)).values
        right_keys = key[:, right]
        segment_end = (segment[:, right] + 1) * n
        larger = torch.searchsorted(left_sorted, segment_end, right=False) - torch.searchsorted(
            left_sorted, right_keys, right=True
        )
        total += larger.sum(1)
        width *= 2
    return total

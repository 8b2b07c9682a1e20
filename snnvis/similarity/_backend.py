"""numpy / torch dispatch shared by every function of :mod:`snnvis.similarity`.

All mathematics is written once, in torch. The :func:`dispatch` decorator converts the
array arguments of a public function before the call and the result after it:

* numpy (or array-like) in: arrays become CPU ``float64`` tensors and every tensor in the
  result comes back as a numpy ``float64`` array (0-d results as ``numpy.float64``).
* torch in: the computation runs on the tensors' device and keeps their floating dtype
  (mixed float dtypes promote, e.g. float32 + float64 -> float64; integer or boolean
  tensors become float64); numpy arrays mixed in are moved to that device and dtype;
  the result stays torch, and gradients flow through the differentiable operations
  (everything except ranks, sorting and random splits).

CPU float64 torch reproduces numpy float64 to rounding error, so there is a single code
path for both libraries. The helpers below (matrix products and sorting primitives,
masked Pearson correlation, average ranks, tie counts, seeded permutations) are shared
by several modules.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _common_torch_spec(values: Iterable[Any]) -> tuple[torch.device, torch.dtype] | None:
    """Device and dtype the tensors among ``values`` agree on; None if there is no tensor."""
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return None
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"tensor arguments are on different devices: {sorted(map(str, devices))}")
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    dtype = functools.reduce(torch.promote_types, floats) if floats else torch.float64
    return devices.pop(), dtype


def to_numpy(out: Any) -> Any:
    """Recursively convert tensors in ``out`` (tuples, NamedTuples, lists, dicts) to numpy."""
    if isinstance(out, torch.Tensor):
        arr = out.detach().cpu().numpy()
        return arr[()] if arr.ndim == 0 else arr
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        return type(out)(*(to_numpy(v) for v in out))
    if isinstance(out, (tuple, list)):
        return type(out)(to_numpy(v) for v in out)
    if isinstance(out, dict):
        return {k: to_numpy(v) for k, v in out.items()}
    return out


def dispatch(*names: str) -> Callable:
    """Decorate a torch implementation so that it accepts numpy arrays or tensors.

    ``names`` are the parameters holding arrays (``None`` values are left alone). The
    conversion rules are described in the module docstring.
    """

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            present = {n: bound.arguments[n] for n in names if bound.arguments.get(n) is not None}
            spec = _common_torch_spec(present.values())
            device, dtype = spec if spec is not None else (torch.device("cpu"), torch.float64)
            for name, value in present.items():
                if isinstance(value, torch.Tensor):
                    bound.arguments[name] = value.to(dtype)
                else:
                    array = np.asarray(value, dtype=np.float64)
                    # torch wants writable memory without negative strides (reversed views)
                    if not array.flags.writeable or any(st < 0 for st in array.strides):
                        array = array.copy()
                    bound.arguments[name] = torch.as_tensor(array, device=device).to(dtype)
            out = fn(*bound.args, **bound.kwargs)
            return out if spec is not None else to_numpy(out)

        return wrapper

    return decorate


def _numpy_view_ok(*tensors: torch.Tensor) -> bool:
    return all(t.device.type == "cpu" for t in tensors) and not (
        torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    )


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b``. For CPU tensors outside autograd the product is taken by numpy's BLAS
    on zero-copy views (OpenBLAS is markedly faster than torch's MKL on AMD CPUs, e.g.
    1.6x for the 2000 x 5000 Gram matrix of an RDM); otherwise by torch."""
    if _numpy_view_ok(a, b):
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b


def argsort(v: torch.Tensor) -> torch.Tensor:
    """Indices sorting ``v`` along the last axis (order of ties unspecified). CPU tensors
    are sorted by numpy (:func:`_argsort_float64` for float64 vectors), 2-5x faster than
    torch for the millions of dissimilarities of large RDMs."""
    if not _numpy_view_ok(v):
        return torch.argsort(v, dim=-1)
    a = v.numpy()
    if a.dtype == np.float64 and a.shape[-1] >= 2**14:
        rows = a.reshape(-1, a.shape[-1])
        return torch.from_numpy(np.stack([_argsort_float64(r) for r in rows]).reshape(a.shape))
    return torch.from_numpy(np.argsort(a, axis=-1))


def _argsort_float64(a: np.ndarray) -> np.ndarray:
    """Exact argsort of a NaN-free float64 vector through numpy's fast value sort.

    numpy sorts plain 64-bit values several times faster than it argsorts them. Each
    value is mapped to an order-preserving uint64 key whose lowest b bits (n <= 2^b) are
    replaced by the element's index, so sorting the keys also yields the indices. Values
    that agree in all but those low bits (near-ties and ties) end up ordered by index;
    such runs are then re-sorted by their full keys. With many ties the plain argsort is
    used instead.
    """
    n = len(a)
    shift = np.uint64(max(int(n - 1).bit_length(), 1))
    bits = (a + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into +0.0
    negative = bits >> np.uint64(63) == 1
    key = np.where(negative, ~bits, bits | np.uint64(1 << 63))
    packed = np.sort((key >> shift << shift) | np.arange(n, dtype=np.uint64))
    order = (packed & np.uint64((1 << int(shift)) - 1)).astype(np.int64)
    high = packed >> shift
    same = high[1:] == high[:-1]
    if not same.any():
        return order
    if np.count_nonzero(same) > n // 8:
        return np.argsort(a)
    in_run = np.zeros(n, dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    members = np.flatnonzero(in_run)
    run_id = np.cumsum(~np.r_[False, same])[members]
    order[members] = order[members][np.lexsort((key[order[members]], run_id))]
    return order


def eps(x: torch.Tensor) -> float:
    """Machine epsilon of ``x``'s dtype."""
    return torch.finfo(x.dtype).eps


def pearson(x: torch.Tensor, y: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Pearson correlation along ``dim``, ignoring positions where either input is NaN.

    Returns NaN where fewer than two valid pairs remain or where either vector is
    constant (zero variance up to rounding) instead of dividing by zero.
    """
    x, y = torch.broadcast_tensors(x, y)
    invalid = torch.isnan(x) | torch.isnan(y)
    if bool(invalid.any()):
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        x, y = torch.where(invalid, zero, x), torch.where(invalid, zero, y)
        n = (~invalid).sum(dim, keepdim=True)
        xc = torch.where(invalid, zero, x - x.sum(dim, keepdim=True) / n)
        yc = torch.where(invalid, zero, y - y.sum(dim, keepdim=True) / n)
        n = n.squeeze(dim)
    else:
        n = torch.full((), x.shape[dim], device=x.device)
        xc, yc = x - x.mean(dim, keepdim=True), y - y.mean(dim, keepdim=True)
    sxx, syy, sxy = (xc * xc).sum(dim), (yc * yc).sum(dim), (xc * yc).sum(dim)
    # A constant vector's centred sum of squares is rounding noise: relative to the raw
    # sum of squares (NaN positions zeroed above) it is of order eps**2.
    tol = (16 * eps(x)) ** 2
    degenerate = (n < 2) | (sxx <= tol * (x * x).sum(dim)) | (syy <= tol * (y * y).sum(dim))
    r = sxy / torch.sqrt(sxx * syy)
    return torch.where(degenerate, torch.full_like(r, float("nan")), r.clamp(-1.0, 1.0))


def _sort(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorting order along the last axis and a mask, in sorted order, that is True where
    a new group of tied values starts."""
    order = argsort(v)
    values = torch.gather(v, -1, order)
    first = torch.ones_like(values[..., :1], dtype=torch.bool)
    return order, torch.cat([first, values[..., 1:] != values[..., :-1]], dim=-1)


def _group_start(new_group: torch.Tensor) -> torch.Tensor:
    """Sorted position where each element's tie group starts."""
    pos = torch.arange(new_group.shape[-1], device=new_group.device).expand_as(new_group)
    return torch.cummax(torch.where(new_group, pos, torch.zeros_like(pos)), dim=-1).values


def average_ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n along the last axis with ties given their average rank.

    Identical to ``scipy.stats.rankdata(v, method="average", axis=-1)``.
    """
    order, new_group = _sort(v)
    n = v.shape[-1]
    pos = torch.arange(n, dtype=v.dtype, device=v.device).expand_as(v)
    if bool(new_group.all()):  # no ties
        ranks = pos + 1
    else:
        # A group's last position is the position before the next group's start.
        last = torch.cat([new_group[..., 1:], torch.ones_like(new_group[..., :1])], dim=-1)
        end = _group_start(last.flip(-1)).flip(-1)  # start of the reversed group
        ranks = (_group_start(new_group) + (n - 1 - end)).to(v.dtype) / 2 + 1
    return torch.empty_like(v).scatter_(-1, order, ranks)


def dense_ranks(v: torch.Tensor) -> torch.Tensor:
    """Dense integer ranks 0..k-1 along the last axis (ties share a rank)."""
    order, new_group = _sort(v)
    dense = torch.cumsum(new_group.long(), dim=-1) - 1
    return torch.empty_like(dense).scatter_(-1, order, dense)


def tied_pairs(v: torch.Tensor) -> torch.Tensor:
    """Number of tied pairs, sum over tie groups of c(c-1)/2, along the last axis (int64)."""
    _, new_group = _sort(v)
    pos = torch.arange(v.shape[-1], device=v.device)
    return (pos - _group_start(new_group)).sum(-1)


def rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """numpy Generator from a seed; random draws are made in numpy so that numpy and
    torch inputs (on any device) see the same splits and resamples."""
    return np.random.default_rng(seed)


def random_permutations(generator: np.random.Generator, n_rows: int, n: int, device: torch.device) -> torch.Tensor:
    """(n_rows, n) int64 tensor, each row an independent uniform permutation of 0..n-1."""
    keys = generator.random((n_rows, n))
    return torch.as_tensor(np.argsort(keys, axis=1), device=device)

"""Leakage checks: a pixel-lookup predictor and cross-session near-duplicates.

The lookup baseline predicts each test stimulus's response as the response to its most
pixel-similar training stimulus (Pearson correlation of the raw pixel vectors), and
scores it per neuron with Pearson r over test stimuli (and bins). It learns nothing,
so a high median r means the test split holds near-copies of training stimuli: leakage,
not a good model. ``snnvis-data info --json`` reports it as ``lookup_r_median``.
"""

from __future__ import annotations

import numpy as np

from snnvis.recordings import neardup

MAX_DIMS = 65536  # longer pixel vectors are subsampled with a uniform stride
_BLOCK = 512


def _vectors(pixels) -> np.ndarray:
    x = np.asarray(pixels).reshape(len(pixels), -1)
    step = max(1, -(-x.shape[1] // MAX_DIMS))
    x = x[:, ::step].astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def nearest(train_pixels, test_pixels) -> tuple[np.ndarray, np.ndarray]:
    """For each test stimulus, the index of the most pixel-correlated training stimulus, and that r."""
    a, b = _vectors(train_pixels), _vectors(test_pixels)
    idx, sim = np.empty(len(b), np.int64), np.empty(len(b))
    for s in range(0, len(b), _BLOCK):
        c = b[s : s + _BLOCK] @ a.T
        idx[s : s + _BLOCK] = c.argmax(axis=1)
        sim[s : s + _BLOCK] = c.max(axis=1)
    return idx, sim


def lookup_predict(train_pixels, train_responses, test_pixels) -> np.ndarray:
    """Responses predicted for ``test_pixels``: the responses of their nearest training stimuli."""
    idx, _ = nearest(train_pixels, test_pixels)
    return np.asarray(train_responses)[idx]


def pearson_per_neuron(pred, target) -> np.ndarray:
    """Pearson r per neuron (last axis) over all other axes; NaN where either side is constant."""
    p = np.asarray(pred, np.float64).reshape(-1, np.shape(pred)[-1])
    t = np.asarray(target, np.float64).reshape(-1, np.shape(target)[-1])
    p, t = p - p.mean(0), t - t.mean(0)
    den = np.sqrt((p**2).sum(0) * (t**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (p * t).sum(0) / np.where(den > 0, den, 1), np.nan)


def lookup_baseline(rec, response: str | None = None, test: str = "test", train: str = "train") -> dict | None:
    """Lookup r of one :class:`~snnvis.recordings.recording.Recording`; None without pixels or data."""
    tr, te = rec.split(train), rec.split(test)
    if not rec.has_pixels or not rec.response_sets or not len(tr) or len(te) < 3:
        return None
    pred = lookup_predict(rec.stimuli(tr), rec.mean(response, tr), rec.stimuli(te))
    r = pearson_per_neuron(pred, rec.mean(response, te))
    return {
        "r": r,
        "r_median": float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan"),
        "n_test": int(len(te)),
        "n_train": int(len(tr)),
    }


def cross_split_near_duplicates(recordings, held_out: str = "test", seen=("train", "validation")) -> list[tuple]:
    """Near-duplicate pairs between any recording's ``held_out`` split and any recording's ``seen`` splits.

    Returns (held-out recording id, stimulus id, seen recording id, stimulus id, split) for
    every pair, within one recording and across recordings.
    """

    def frames(rec, names):
        idx = np.concatenate([rec.split(k) for k in names])
        fh, ph, th = rec.near_dup_keys()
        label = np.concatenate([[k] * len(rec.split(k)) for k in names])
        return idx, fh[idx], ph[idx], th[idx], label

    out = []
    recs = [r for r in recordings if r.has_pixels]
    for a in recs:
        ia, fa, pa, ta, _ = frames(a, (held_out,))
        for b in recs:
            ib, fb, pb, tb, lb = frames(b, seen)
            t_a, t_b = ta.reshape(-1, *ta.shape[2:]), tb.reshape(-1, *tb.shape[2:])
            p_all = list(pa.ravel()) + list(pb.ravel())
            where_b: dict[str, set] = {}
            for j, row in enumerate(fb):
                for h in row:
                    where_b.setdefault(h, set()).add(j)
            pairs = neardup.near_pairs(p_all, np.concatenate([t_a, t_b])) if len(t_a) and len(t_b) else []
            na, fpa, fpb = len(t_a), fa.shape[1], fb.shape[1]
            hits = {(i // fpa, (j - na) // fpb) for i, j in pairs if i < na <= j}
            hits |= {(i, j) for i, row in enumerate(fa) for h in row for j in where_b.get(h, ())}
            out += [(a.id, a.stimulus_ids[ia[i]], b.id, b.stimulus_ids[ib[j]], str(lb[j])) for i, j in sorted(hits)]
    return out

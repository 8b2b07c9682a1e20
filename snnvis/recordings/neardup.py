"""Near-duplicate stimulus families: which frames show (almost) the same picture.

Exact content hashes only join byte-identical frames. Public stimulus sets also hold
re-encodes, copies with local edits (Cowley 210305: a base image and copies with blurred
patches) and the same picture in two sessions. Each frame therefore carries two compact
keys, stored in the recording file so that later imports can join with it:

- ``phash``: the 64-bit DCT perceptual hash of :func:`imagehash.phash` (hex string);
- ``thumb``: a 16x16 grayscale thumbnail (uint8, bilinear).

Two frames are near-duplicates when ``phash`` differs in at most :data:`PHASH_MAX_BITS`
bits **and** the thumbnails correlate at least :data:`THUMB_CORR_MIN`, or when the
thumbnails alone correlate at least :data:`THUMB_CORR_SAME`. Frames are joined through
chains of near-duplicates (and through the frames of one stimulus); a family's key is the
smallest exact frame hash it holds, so it does not depend on the order of sessions.
The thresholds were chosen from the nearest-neighbour similarities of the Cowley sessions
(``recordings/README.md``, "Near-duplicates").
"""

from __future__ import annotations

import numpy as np

THUMB = 16
PHASH_MAX_BITS = 12
THUMB_CORR_MIN = 0.90
THUMB_CORR_SAME = 0.99
_BLOCK = 1024


def _gray(frame: np.ndarray):
    from PIL import Image

    a = np.asarray(frame, dtype=np.uint8)
    img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    return img.convert("L")


def frame_keys(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phash hex str (n, T), thumbnails uint8 (n, T, 16, 16)) of uint8 pixels (n, T, H, W, C).

    The phash is :func:`imagehash.phash` (grayscale, Lanczos resize to 32x32, 2-D DCT-II, the
    8x8 lowest frequencies against their median), computed with one batched DCT.
    """
    import scipy.fftpack
    from PIL import Image

    n, t = pixels.shape[:2]
    small = np.empty((n * t, 32, 32), np.uint8)
    thumbs = np.empty((n * t, THUMB, THUMB), dtype=np.uint8)
    for k, frame in enumerate(np.asarray(pixels).reshape(n * t, *pixels.shape[2:])):
        g = _gray(frame)
        small[k] = np.asarray(g.resize((32, 32), Image.LANCZOS))
        thumbs[k] = np.asarray(g.resize((THUMB, THUMB), Image.BILINEAR))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(small, axis=1), axis=2)[:, :8, :8].reshape(n * t, 64)
    bits = dct > np.median(dct, axis=1, keepdims=True)
    words = np.packbits(bits, axis=1)
    phash = np.array([w.tobytes().hex() for w in words], dtype=object).reshape(n, t)
    return phash, thumbs.reshape(n, t, THUMB, THUMB)


def _bits(phash_hex) -> np.ndarray:
    return np.array([int(h, 16) if h else 0 for h in phash_hex], dtype=np.uint64)


def _unit(thumbs: np.ndarray) -> np.ndarray:
    x = thumbs.reshape(len(thumbs), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def near_pairs(phash_hex, thumbs: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs (i < j) of near-duplicate frames among ``len(thumbs)`` frames."""
    bits, unit = _bits(phash_hex), _unit(thumbs)
    pairs = []
    for start in range(0, len(unit), _BLOCK):
        stop = min(start + _BLOCK, len(unit))
        corr = unit[start:stop] @ unit.T
        ham = np.bitwise_count(bits[start:stop, None] ^ bits[None, :])
        hit = ((ham <= PHASH_MAX_BITS) & (corr >= THUMB_CORR_MIN)) | (corr >= THUMB_CORR_SAME)
        for i, j in zip(*np.nonzero(hit), strict=True):
            if start + i < j:
                pairs.append((int(start + i), int(j)))
    return pairs


def thumb_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Thumbnail correlations (len(a), len(b)) between two sets of (.., 16, 16) thumbnails."""
    return _unit(a) @ _unit(b).T


def families(
    sessions: list[tuple[np.ndarray, np.ndarray, np.ndarray]], anchors: dict[str, str] | None = None
) -> dict[str, str]:
    """Map every frame hash of a pool of sessions to its family key.

    ``sessions`` holds one (frame_hash (n, T), phash (n, T), thumbs (n, T, 16, 16)) per
    session (thumbs may be None for sources without pixels). Frames are joined when they
    are identical, near-duplicates, or frames of one stimulus; the key of a family is its
    smallest frame hash. ``anchors`` maps frames of files written earlier to the family
    key stored there: a family holding anchored frames keeps the smallest of those keys,
    so importing a new session does not move the splits of sessions imported before.
    """
    index: dict[str, int] = {}
    hashes, phash, thumbs, links = [], [], [], []
    for fh, ph, th in sessions:
        fh = np.asarray(fh, dtype=object)
        for i in range(fh.shape[0]):
            ids = []
            for k in range(fh.shape[1]):
                h = str(fh[i, k])
                if h not in index:
                    index[h] = len(hashes)
                    hashes.append(h)
                    phash.append("" if ph is None else str(ph[i, k]))
                    thumbs.append(np.zeros((THUMB, THUMB), np.uint8) if th is None else th[i, k])
                ids.append(index[h])
            links += [(ids[0], j) for j in ids[1:]]
    parent = list(range(len(hashes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    has_pixels = np.array([bool(p) for p in phash])
    near = []
    if has_pixels.any():
        sub = np.flatnonzero(has_pixels)
        near = [(sub[i], sub[j]) for i, j in near_pairs([phash[k] for k in sub], np.stack([thumbs[k] for k in sub]))]
    for i, j in links + near:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj, key=lambda r: hashes[r])] = min(ri, rj, key=lambda r: hashes[r])
    key = {}
    for h, a in (anchors or {}).items():
        if h in index:
            r = find(index[h])
            key[r] = min(key.get(r, a), a)
    return {h: key.get(find(i), hashes[find(i)]) for h, i in index.items()}


def stimulus_families(frame_hash: np.ndarray, family_of: dict[str, str]) -> list[str]:
    """Each stimulus's family key: the smallest family key of its frames."""
    return [min(family_of.get(str(h), str(h)) for h in row) for row in np.asarray(frame_hash, dtype=object)]

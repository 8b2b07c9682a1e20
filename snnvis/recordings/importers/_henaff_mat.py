"""Reading the Hénaff et al. 2021 ``.mat`` files (:mod:`.henaff2021_v1` documents their layout):
MATLAB v7.3 values decoded from HDF5 (:func:`decode`), one session file's arrays and stimulus
structure (:func:`read_session`), and the stimulus id -> file map of the MATLAB v5
``stimulusInfo.mat`` (:func:`read_stimulus_info`)."""

from __future__ import annotations

import h5py
import numpy as np

from snnvis.errors import UserError


def matlab_class(obj) -> str:
    cls = obj.attrs.get("MATLAB_class", b"")
    return cls.decode() if isinstance(cls, bytes) else str(cls)


def decode(f: h5py.File, obj):
    """A MATLAB value stored in a v7.3 file: char -> str (or list of rows), cell -> nested
    list in MATLAB order, struct -> dict, numeric -> ndarray with MATLAB's axis order."""
    if isinstance(obj, h5py.Group):
        return {k: decode(f, obj[k]) for k in obj}
    cls = matlab_class(obj)
    if obj.attrs.get("MATLAB_empty", 0):
        return "" if cls == "char" else np.zeros((0,))
    value = obj[()]
    if cls == "char":
        rows = ["".join(map(chr, row)).rstrip() for row in np.asarray(value).T]
        return rows[0] if len(rows) == 1 else rows
    if cls == "cell":
        out = np.empty(value.shape, dtype=object)
        for idx in np.ndindex(value.shape):
            out[idx] = decode(f, f[value[idx]])
        return out.T.tolist()
    return np.asarray(value).T


def flat(cell) -> list:
    """A MATLAB 1xN or Nx1 cell as a flat list."""
    if isinstance(cell, list) and len(cell) == 1 and isinstance(cell[0], list):
        return cell[0]
    return [c[0] if isinstance(c, list) and len(c) == 1 else c for c in cell]


def scalar(ns, key: str, file) -> float:
    if key not in ns:
        raise UserError(f"naturalStruct/{key}", "missing", file)
    a = np.asarray(ns[key][()], dtype=float).ravel()
    if a.size != 1 or not np.isfinite(a[0]):
        raise UserError(f"naturalStruct/{key}", f"expected one finite number, got {a!r}", file)
    return float(a[0])


def read_stimulus_info(path) -> dict[int, str]:
    """stimulus id -> file path (as written in ``stimulusInfo.mat``, a MATLAB v5 file)."""
    import scipy.io as sio

    try:
        m = sio.loadmat(str(path), squeeze_me=True, struct_as_record=False)
        s = m["stimulusStruct"]
        id_to_path: dict[int, str] = {}
        for scale in np.atleast_1d(s.scales):
            zs = getattr(s, str(scale))
            for cat in zs._fieldnames:
                cs = getattr(zs, cat)
                for mv in cs._fieldnames:
                    e = getattr(cs, mv)
                    ids = np.atleast_1d(e.stimulus_id).astype(int)
                    paths = [str(p) for p in np.atleast_1d(e.file_paths)]
                    if len(ids) != len(paths):
                        raise ValueError(f"{scale}/{cat}/{mv}: {len(ids)} ids but {len(paths)} paths")
                    for i, p in zip(ids, paths):
                        if id_to_path.setdefault(int(i), p) != p:
                            raise ValueError(f"stimulus id {i} maps to two files")
    except (KeyError, AttributeError, ValueError, TypeError, NotImplementedError) as err:
        raise UserError("stimulus info", f"unexpected layout ({err})", path) from None
    return id_to_path


def read_session(path) -> dict:
    with h5py.File(path, "r") as f:
        if "naturalStruct" not in f:
            raise UserError("session", "no naturalStruct", path)
        ns = f["naturalStruct"]
        for key in ("sortedResponses", "psth_population", "psth_edges", "stimulusStruct"):
            if key not in ns:
                raise UserError(f"naturalStruct/{key}", "missing", path)
        ss = ns["stimulusStruct"]
        d = {
            "R": ns["sortedResponses"][()].astype(np.float64),
            "P": ns["psth_population"][()].astype(np.float64),
            "edges": np.asarray(ns["psth_edges"][()], dtype=float).ravel(),
            "latency": scalar(ns, "response_latency", path),
            "integration": scalar(ns, "integrationPeriod", path),
            "on": scalar(ns, "stim_on_sec", path),
            "off": scalar(ns, "stim_off_sec", path),
            "area": decode(f, ns["cortical_area"]) if "cortical_area" in ns else "V1",
            "presented": (
                np.asarray(ns["stimulus_ID_list"][()], dtype=float).ravel() if "stimulus_ID_list" in ns else None
            ),
            "blank_ids": (
                np.asarray(ss["blank_images"][()], dtype=float).ravel() if "blank_images" in ss else np.zeros(0)
            ),
            "movie_titles": [str(t) for t in flat(decode(f, ss["movie_titles"]))],
            "scales": [str(t) for t in flat(decode(f, ss["scales"]))],
            "categories": [str(t) for t in flat(decode(f, ss["categories"]))],
            "first": [
                np.asarray(x, dtype=float).ravel().astype(int) for x in flat(decode(f, ss["first_frame_image_ids"]))
            ],
            "last": [
                np.asarray(x, dtype=float).ravel().astype(int) for x in flat(decode(f, ss["last_frame_image_ids"]))
            ],
            "ids": {},  # (scale, category, movie field) -> ids
            "paths": {},  # same key -> file paths named in the session file (cross-check)
        }
        for scale in d["scales"]:
            if scale not in ss:
                continue
            for cat in ss[scale]:
                for mv in ss[scale][cat]:
                    g = ss[scale][cat][mv]
                    d["ids"][(scale, cat, mv)] = np.asarray(g["stimulus_id"][()], dtype=float).ravel().astype(int)
                    if "file_paths" in g:
                        d["paths"][(scale, cat, mv)] = [str(p) for p in flat(decode(f, g["file_paths"]))]
    return d

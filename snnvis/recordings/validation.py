"""The structure checks of a recording file, used by :class:`snnvis.recordings.recording.Recording`:
the format version, the shapes read on opening (no pixel or response data), and
:func:`validate`, which checks them against :mod:`snnvis.recordings.format`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import ALIGNS, FORMAT_VERSION
from snnvis.recordings.splits import SPLITS

if TYPE_CHECKING:
    from snnvis.recordings.recording import Recording

REQUIRED = (
    "stimuli/ids",
    "stimuli/frame_hash",
    "stimuli/family",
    "stimuli/kind",
    "neurons/ids",
    "neurons/area",
    "responses",
    "splits/train",
    "splits/validation",
    "splits/test",
    "provenance/files",
)


def one_line(err: Exception) -> str:
    return " ".join(str(err).split())


@dataclass(frozen=True)
class ResponseInfo:
    """Metadata of one response set; arrays are read on demand from the Recording."""

    name: str
    n_bins: int
    n_repeats: int
    units: str
    align: str
    frame_average: bool
    windows_ms: np.ndarray
    description: str
    mean_shape: tuple
    trials_shape: tuple | None


def check_version(attrs: dict, path: Path) -> None:
    """UserError unless the root attributes name the current recording format version."""
    version = attrs.get("format_version")
    if version is None:
        raise UserError("recording", "missing root attribute 'format_version'", path)
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise UserError("recording", f"format_version {version!r} is not a number", path) from None
    if number != FORMAT_VERSION:
        raise UserError(
            "recording",
            f"format version {number} is not the current {FORMAT_VERSION}; re-import it "
            "(snnvis-data import <source> --force, or snnvis-data synth)",
            path,
        )


def read_shapes(f: h5py.File) -> dict:
    """The shapes (and splits) :func:`validate` checks, read without any pixel or response data."""
    for key in ("stimuli/ids", "stimuli/frame_hash", "neurons/ids", "neurons/area"):
        if f[key].ndim < 1:
            raise UserError("recording", f"{key} must be an array with one entry per item, not a scalar", f.filename)
    return {
        "n_stimuli": f["stimuli/ids"].shape[0],
        "frame_hash": f["stimuli/frame_hash"].shape,
        "pixels": f["stimuli/pixels"].shape if "stimuli/pixels" in f else None,
        "pixels_dtype": f["stimuli/pixels"].dtype if "stimuli/pixels" in f else None,
        "n_neurons": f["neurons/ids"].shape[0],
        "n_areas": f["neurons/area"].shape[0],
        "splits": {s: f[f"splits/{s}"][()] for s in SPLITS},
        "held_out_kind": str(f["splits"].attrs.get("held_out_kind", "")),
        "split_shapes": {s: (f[f"splits/{s}"].shape, f[f"splits/{s}"].dtype) for s in SPLITS},
        "family": f["stimuli/family"].shape,
        "kind": f["stimuli/kind"].shape,
        "keys": ("stimuli/phash" in f and "stimuli/thumb" in f) or "stimuli/pixels" not in f,
        "rdms": {k: f[f"reference_rdms/{k}"].shape for k in f.get("reference_rdms", {})},
    }


def read_response_info(f: h5py.File, name: str) -> ResponseInfo:
    """The metadata of response set ``name`` (its arrays stay on disk)."""
    g = f[f"responses/{name}"]
    for key in ("mean", "windows_ms"):
        if key not in g:
            raise KeyError(f"responses/{name}/{key}")
    mean, trials = g["mean"], g.get("trials")
    info = ResponseInfo(
        name=name,
        n_bins=mean.shape[1] if mean.ndim == 3 else -1,
        n_repeats=trials.shape[1] if trials is not None else 0,
        units=str(g.attrs.get("units", "")),
        align=str(g.attrs.get("align", "")),
        frame_average=bool(g.attrs.get("frame_average", False)),
        windows_ms=g["windows_ms"][()],
        description=str(g.attrs.get("description", "")),
        mean_shape=mean.shape,
        trials_shape=None if trials is None else trials.shape,
    )
    for key, d in (("mean", mean), ("trials", trials)):
        if d is not None and d.dtype.kind not in "fiu":
            raise UserError("recording", f"responses/{name}/{key} must be numeric, not {d.dtype}", f.filename)
    return info


def validate(rec: Recording, check_values: bool = True) -> None:
    """Check ``rec``'s shapes, dtypes and splits; with ``check_values`` also NaNs in means."""
    s, n = rec._shapes, rec._shapes["n_stimuli"]

    def fail(why: str):
        raise UserError("recording", why, rec.path)

    missing = [k for k in ("format_version", "recording_id", "source", "species", "areas") if k not in rec._attrs]
    if missing:
        fail(f"missing root attribute {missing[0]!r}")
    try:
        areas = json.loads(rec._attrs["areas"])
    except (TypeError, ValueError):
        areas = None
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        fail(f"root attribute 'areas' must be a JSON list of strings, got {rec._attrs['areas']!r}")
    if s["family"] != (n,):
        fail(f"stimuli/family has shape {s['family']}, expected ({n},)")
    if s["kind"] != (n,):
        fail(f"stimuli/kind has shape {s['kind']}, expected ({n},)")
    if not s["keys"]:
        fail("stimuli/phash and stimuli/thumb (near-duplicate keys) are missing")
    if s["n_neurons"] == 0 and rec._response_info:
        fail("no neurons (neurons/ids is empty, so the responses have 0 columns)")
    if s["frame_hash"][0] != n:
        fail(f"stimuli/frame_hash has {s['frame_hash'][0]} rows for {n} stimuli")
    if s["pixels"] is not None:
        if len(s["pixels"]) != 5 or s["pixels"][0] != n or s["pixels_dtype"] != np.uint8:
            fail(f"stimuli/pixels must be uint8 ({n}, n_frames, H, W, C), got {s['pixels_dtype']} {s['pixels']}")
    if s["n_areas"] != s["n_neurons"]:
        fail("neurons/area and neurons/ids differ in length")
    for k, (shape, dtype) in s["split_shapes"].items():
        if len(shape) != 1 or dtype.kind not in "iu":
            fail(f"splits/{k} must be a 1-D array of integer indices, got {dtype} {shape}")
    idx = np.concatenate([s["splits"][k] for k in SPLITS])
    if len(idx) != n or len(np.unique(idx)) != n or (n and (idx.min() < 0 or idx.max() >= n)):
        fail("splits must partition the stimuli (each index exactly once)")
    for info in rec._response_info.values():
        mshape, tshape = info.mean_shape, info.trials_shape
        where = f"response set {info.name!r}: "
        if len(mshape) != 3 or mshape[0] != n or mshape[2] != s["n_neurons"]:
            fail(where + f"mean has shape {mshape}, expected ({n}, n_bins, {s['n_neurons']})")
        if tshape is not None and (len(tshape) != 4 or tshape[:1] + tshape[2:] != mshape):
            fail(where + f"trials shape {tshape} does not match mean {mshape}")
        if info.align not in ALIGNS:
            fail(where + f"align {info.align!r} not in {ALIGNS}")
        w = np.asarray(info.windows_ms)
        if w.ndim != 2 or w.shape[1] != 2 or w.dtype.kind not in "fiu" or not np.all(w[:, 1] > w[:, 0]):
            fail(where + "windows_ms must be (n_bins, 2) numbers with end > start")
        if check_values and not np.isfinite(rec.mean(info.name)).all():
            fail(where + "NaN or infinite values in trial-averaged responses")
    for name, shape in s["rdms"].items():
        if shape != (n, n):
            fail(f"reference RDM {name!r} has shape {shape}, expected ({n}, {n})")
    rec._protocol.check(n, s["frame_hash"][1] if len(s["frame_hash"]) > 1 else 1, rec.path)

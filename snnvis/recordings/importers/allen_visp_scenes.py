"""Allen Brain Observatory extract (psailamul/Allen_Brain_Observatory): mouse VISp, 118 natural scenes.

Files (``Allen_data_170513/`` of the repository)::

    all_input_scenes_118_961.npy   (118, 961) the scenes at 31x31, vectorised row-major, values 0..255
    Allen_train_input.npy          (100, 961) scenes of the authors' training split
    Allen_train_output.npy         (100, 212) their responses of 212 Cux2 VISp cells
    Allen_test_input.npy           (18, 961)  scenes of the authors' test split
    Allen_test_output.npy          (18, 212)
    Allen_test_output_big.npy      (900, 212) described as single trials
    readme.txt

Responses are matched to scenes by pixel content: every row of the train/test inputs
must equal exactly one row of ``all_input_scenes_118_961`` and together they must
cover all scenes once; the authors' train/test split is not used (snnvis assigns
content-hashed splits).

``Allen_test_output_big`` is NOT imported: it has 900 rows and no scene labels, its
rows do not average to ``Allen_test_output`` in either plausible grouping (18 scenes x
50 trials, image-major or repeat-major), and each row's best-correlated scene is
spread over all 118 scenes (only about 20% are test scenes), so its rows cannot be
assigned to scenes. The recording therefore has mean responses only, no trials.
"""

from __future__ import annotations

import math
import re

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="allen_visp_scenes",
    title="Mouse VISp calcium responses to 118 natural scenes (Allen Brain Observatory extract)",
    citation=(
        "Allen Brain Observatory, Visual Coding (two-photon): de Vries, S. E. J. et al. A large-scale "
        "standardized physiological survey reveals functional organization of the mouse visual cortex. "
        "Nat. Neurosci. 23, 138-151 (2020). Extract: github.com/psailamul/Allen_Brain_Observatory, "
        "Allen_data_170513/ (experiment container 511510667)."
    ),
    license="Allen Institute Terms of Use (data); the extract repository states no license",
    species="mouse (Mus musculus)",
    urls={"": "https://raw.githubusercontent.com/psailamul/Allen_Brain_Observatory/HEAD/Allen_data_170513/"},
    description="212 Cux2 VISp cells, mean responses to 118 natural scenes downsampled to 31x31 grayscale.",
)

AREA = "VISp"
_ALL = "all_input_scenes_118_961.npy"
_PARTS = (("Allen_train_input.npy", "Allen_train_output.npy"), ("Allen_test_input.npy", "Allen_test_output.npy"))
_README = "readme.txt"
_BIG = "Allen_test_output_big.npy"
_DEFAULT_ID = "natural_scenes"


def _required() -> list[str]:
    return [_ALL] + [f for pair in _PARTS for f in pair]


def _session_id(store: FileStore) -> str:
    if store.exists(_README):
        m = re.search(r"Experiment ID\s*:\s*(\d+)", store.path(_README).read_text(errors="replace"))
        if m:
            return m.group(1)
    return _DEFAULT_ID


def discover(store: FileStore) -> dict[str, str | None]:
    missing = [f for f in _required() if not store.exists(f)]
    sid = _session_id(store) if not missing else _DEFAULT_ID
    return {sid: None if not missing else f"{missing[0]} is missing"}


def to_uint8(x: np.ndarray) -> tuple[np.ndarray, str]:
    """Pixels as uint8 and a note on how they were converted."""
    x = np.asarray(x, dtype=np.float64)
    if np.all(np.isfinite(x)) and np.all(x == np.round(x)) and x.min() >= 0 and x.max() <= 255:
        return x.astype(np.uint8), "pixel values are whole numbers in 0-255 and are stored unchanged"
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    scaled = np.round((x - lo) / (hi - lo if hi > lo else 1.0) * 255.0)
    return scaled.astype(np.uint8), f"pixel values ({lo:g} to {hi:g}) were rescaled linearly to 0-255"


def match_rows(rows: np.ndarray, table: np.ndarray, what: str, file) -> np.ndarray:
    """Index into ``table`` of each row, requiring exactly one equal row."""
    keys = {}
    for j, t in enumerate(table):
        keys.setdefault(t.tobytes(), []).append(j)
    out = []
    for i, r in enumerate(np.ascontiguousarray(rows, dtype=table.dtype)):
        hits = keys.get(r.tobytes(), [])
        if len(hits) != 1:
            raise UserError(what, f"row {i} matches {len(hits)} scenes of {_ALL} (expected exactly 1)", file)
        out.append(hits[0])
    return np.array(out, dtype=np.int64)


def _big_note(store: FileStore, mean: np.ndarray) -> str:
    """What the '_big' single-trial file holds, and why it is not imported."""
    if not store.exists(_BIG):
        return " No trials."
    big = np.load(store.path(_BIG), allow_pickle=False).astype(np.float64)
    if big.ndim != 2 or big.shape[1] != mean.shape[1]:
        return f" {_BIG} has shape {big.shape} and is not imported; no trials."
    rows = {r.tobytes() for r in big}
    same = sum(r.tobytes() in rows for r in mean)
    ratio = float(np.median(mean.var(axis=0) / np.maximum(big.var(axis=0), 1e-12)))
    return (
        f" {_BIG} ({big.shape[0]} rows, no scene labels) is not imported, so there are no trials: its rows "
        "cannot be assigned to scenes. Caution: the median ratio of across-scene variance of the released "
        f"means to the variance of the {_BIG} rows is {ratio:.2f}, and {same} of the {mean.shape[0]} mean "
        f"rows are identical to rows of {_BIG}, so the released values may not be 50-repeat means."
    )


def load(store: FileStore, session_id: str) -> RecordingData:
    all_path = store.path(_ALL)
    scenes = np.load(all_path, allow_pickle=False).astype(np.float64)
    n, d = scenes.shape
    side = math.isqrt(d)
    if side * side != d:
        raise UserError("scenes", f"{d} pixels per scene is not a square image", all_path)
    if len({s.tobytes() for s in scenes}) != n:
        raise UserError("scenes", "two scenes have identical pixels", all_path)
    mean = None
    covered = np.zeros(n, dtype=int)
    for inp, out in _PARTS:
        ipath, opath = store.path(inp), store.path(out)
        x = np.load(ipath, allow_pickle=False).astype(np.float64)
        y = np.load(opath, allow_pickle=False).astype(np.float64)
        if x.ndim != 2 or x.shape[1] != d or y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise UserError(out, f"shapes {x.shape} and {y.shape} do not pair with ({n}, {d}) scenes", opath)
        idx = match_rows(x, scenes, inp, ipath)
        if mean is None:
            mean = np.full((n, y.shape[1]), np.nan)
        elif y.shape[1] != mean.shape[1]:
            raise UserError(out, f"{y.shape[1]} cells, other files have {mean.shape[1]}", opath)
        mean[idx] = y
        np.add.at(covered, idx, 1)
    if not np.all(covered == 1):
        raise UserError(
            "train/test inputs",
            f"cover {int(np.sum(covered > 0))} of {n} scenes ({int(np.sum(covered > 1))} more than once)",
            all_path,
        )
    pixels, pixel_note = to_uint8(scenes)
    pixels = pixels.reshape(n, 1, side, side, 1)
    n_cells = mean.shape[1]
    sid = str(session_id)
    info = ""
    if store.exists(_README):
        m = re.search(r"Experiment info\s*:\s*(.+)", store.path(_README).read_text(errors="replace"))
        info = f" (readme: {m.group(1).strip()})" if m else ""
    desc = (
        f"Mean responses of {n_cells} VISp cells, experiment {sid}{info}, to {n} natural scenes, as released "
        "in Allen_train_output/Allen_test_output, which the readme describes as averages over 50 repeats. The "
        f"release states neither the units (dF/F-like; the values span {mean.min():.1f} to {mean.max():.1f}) "
        "nor the response window; windows_ms is the 250 ms scene presentation of the Allen natural-scenes "
        f"stimulus by convention.{_big_note(store, mean)} Scenes: {side}x{side} grayscale (row-major vectors); "
        f"{pixel_note}. Rows were matched to scenes by pixel content; the authors' train/test split is not used."
    )
    resp = ResponseSet(
        mean=mean[:, None, :].astype(np.float32),
        windows_ms=np.array([[0.0, 250.0]]),
        units="dF/F-like (scale not stated in the release)",
        align="stimulus",
        description=desc,
    )
    return RecordingData(
        recording_id=sid,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        neuron_ids=[f"{sid}_cell{k}" for k in range(n_cells)],
        neuron_areas=[AREA] * n_cells,
        stimulus_ids=[f"scene{k:03d}" for k in range(n)],
        pixels=pixels,
        responses={"dff_mean": resp},
        default_response="dff_mean",
        frame_duration_ms=250.0,
        license=SOURCE.license,
    )

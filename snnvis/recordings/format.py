"""The snnvis recording format: one HDF5 file per recording session.

The full specification is ``recordings/README.md``. In short::

    /                       attrs: format_version, recording_id, source, species, areas,
                                   citation, license, default_response, created
    /stimuli/pixels         uint8 (n_stimuli, n_frames, H, W, C)     [absent when the source has no images]
    /stimuli/ids            str   (n_stimuli,)   the source's name for each stimulus
    /stimuli/content_hash   str   (n_stimuli,)   sha1 of the decoded pixels of the whole stimulus
    /stimuli/frame_hash     str   (n_stimuli, n_frames)  sha1 of each decoded frame
    /stimuli/group          str   (n_stimuli,)   split group; stimuli of one group share a split
    /stimuli/phash          str   (n_stimuli, n_frames)  perceptual hash of each frame [with pixels]
    /stimuli/thumb          uint8 (n_stimuli, n_frames, 16, 16)  grayscale thumbnail of each frame [with pixels]
    /stimuli/family         str   (n_stimuli,)   near-duplicate family key (see snnvis.recordings.neardup)
    /stimuli/kind           str   (n_stimuli,)   the source's stimulus type ("" = not given)
                            attrs: frame_duration_ms, frame_interval_ms (onset to onset)
    /neurons/ids, /neurons/area   str (n_neurons,)
    /responses/<name>/mean        float32 (n_stimuli, n_bins, n_neurons)
    /responses/<name>/trials      float32 (n_stimuli, n_repeats, n_bins, n_neurons), NaN-padded [optional]
    /responses/<name>/windows_ms  float64 (n_bins, 2): [start, end) of each bin in ms
                            attrs: units, align ("stimulus" | "frame"), frame_average (bool), description
    /reference_rdms/<name>  float64 (n_stimuli, n_stimuli)  attrs: area, method, description
    /splits/{train,validation,test}  int64 stimulus indices   attrs: seed, fractions, rule, held_out_kind
    /provenance/files       str (n, 3): name, url, sha256;  attrs: importer, options, registered
    /protocol               attrs: mode (independent | stream | movie), on_ms, off_ms, description
    /protocol/order, /protocol/order_ids   the presentation order [optional; see snnvis.recordings.protocol]
    /ground_truth/<name>    float64 or int64 arrays of a simulation's parameters and latent signals [synthetic only]

``align = "stimulus"``: windows are relative to stimulus onset.
``align = "frame"``: windows are relative to each frame's onset; with ``frame_average``
the response is the average over the frames of a sequence (one set of bins), otherwise
bins are frame-major: bin ``f * n_windows + k`` is window ``k`` of frame ``f``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from snnvis import __version__
from snnvis.errors import UserError
from snnvis.recordings import neardup
from snnvis.recordings import protocol as _protocol
from snnvis.recordings.splits import DEFAULT_FRACTIONS, SPLIT_SEED, SPLITS, assign_splits
from snnvis.utils import atomic_path, content_hash

FORMAT_VERSION = 4  # 3: /protocol (how the stimuli were shown) is required; 4: /stimuli/kind, held-out kind
ALIGNS = ("stimulus", "frame")

_str = h5py.string_dtype()


@dataclass
class ResponseSet:
    """One named set of responses over the recording's stimuli and neurons."""

    mean: np.ndarray  # (n_stimuli, n_bins, n_neurons)
    windows_ms: np.ndarray  # (n_bins_per_alignment, 2)
    units: str
    align: str = "stimulus"
    frame_average: bool = False
    trials: np.ndarray | None = None  # (n_stimuli, n_repeats, n_bins, n_neurons)
    description: str = ""


@dataclass
class RecordingData:
    """Everything an importer produces for one session, before it is written."""

    recording_id: str
    source: str
    species: str
    citation: str
    neuron_ids: list[str]
    neuron_areas: list[str]
    stimulus_ids: list[str]
    pixels: np.ndarray | None = None  # uint8 (n_stimuli, n_frames, H, W, C)
    stimulus_groups: list[str] | None = None
    group_universe: list[str] | None = None  # every group of the source, for identical quotas per session
    families: list[str] | None = None  # near-duplicate family per stimulus, joined over the source's sessions
    frame_keys: tuple | None = None  # (phash, thumbs) of neardup.frame_keys(pixels), when already computed
    kinds: list[str] | None = None  # the source's stimulus type per stimulus ("" = not given)
    held_out_kind: str = ""  # when set, validation and test take only stimuli of this kind
    train_only_families: set[str] | None = None  # families the whole pool puts in train (importing.py)
    responses: dict[str, ResponseSet] = field(default_factory=dict)
    default_response: str | None = None
    reference_rdms: dict[str, tuple[np.ndarray, dict]] = field(default_factory=dict)
    frame_duration_ms: float = float("nan")
    frame_interval_ms: float = float("nan")
    license: str = ""
    provenance: list[tuple[str, str, str]] = field(default_factory=list)  # (name, url, sha256)
    importer_options: dict = field(default_factory=dict)
    unregistered: list[str] = field(default_factory=list)
    importer: str = ""  # module that made it; default snnvis.recordings.importers.<source>
    protocol: _protocol.Protocol | None = None  # None: static images, assumed independent flashes
    ground_truth: dict[str, np.ndarray] = field(default_factory=dict)  # simulations only

    @property
    def n_stimuli(self) -> int:
        return len(self.stimulus_ids)

    def train_only(self, families: list[str]) -> np.ndarray | None:
        """(n_stimuli,) bool: stimuli that only the train split may take, or None for no restriction.

        A stimulus of another kind than ``held_out_kind`` is train-only; with
        ``train_only_families`` (set by the importer over all sessions of a source) the
        decision is taken per near-duplicate family instead, the same in every session."""
        if self.train_only_families is not None:
            return np.array([f in self.train_only_families for f in families], bool)
        if not self.held_out_kind or self.kinds is None:
            return None
        return np.array([k != self.held_out_kind for k in self.kinds], bool)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def _check(cond: bool, what: str, why: str, file=None) -> None:
    if not cond:
        raise UserError(what, why, file)


def check_recording_data(data: RecordingData, file=None) -> None:
    """Validate an importer's output before anything is written."""
    n, where = data.n_stimuli, data.recording_id
    _check(n > 0, f"recording {where}", "no stimuli", file)
    _check(
        len(data.neuron_ids) == len(data.neuron_areas),
        f"recording {where}",
        "neuron ids and areas differ in length",
        file,
    )
    _check(
        len(data.neuron_ids) > 0 or not data.responses, f"recording {where}", "no neurons (0 response columns)", file
    )
    _check(
        data.families is None or len(data.families) == n,
        f"recording {where}",
        "one near-duplicate family per stimulus is required",
        file,
    )
    _check(data.kinds is None or len(data.kinds) == n, f"recording {where}", "one kind per stimulus is required", file)
    _check(
        not data.held_out_kind or (data.kinds is not None and data.held_out_kind in data.kinds),
        f"recording {where}",
        f"held-out kind {data.held_out_kind!r} is the kind of no stimulus",
        file,
    )
    if data.pixels is not None:
        p = data.pixels
        _check(
            p.dtype == np.uint8 and p.ndim == 5,
            f"recording {where}",
            f"pixels must be uint8 (n_stimuli, n_frames, H, W, C), got {p.dtype} {p.shape}",
            file,
        )
        _check(p.shape[0] == n, f"recording {where}", f"{p.shape[0]} stimuli in pixels but {n} ids", file)
    for name, rs in data.responses.items():
        what = f"response set {name!r} of {where}"
        _check(rs.align in ALIGNS, what, f"align must be one of {ALIGNS}", file)
        _check(
            rs.mean.ndim == 3 and rs.mean.shape[0] == n and rs.mean.shape[2] == len(data.neuron_ids),
            what,
            f"mean has shape {rs.mean.shape}, expected ({n}, n_bins, {len(data.neuron_ids)})",
            file,
        )
        _check(np.isfinite(rs.mean).all(), what, "NaN or infinite values in trial-averaged responses", file)
        _check(rs.trials is None or not np.isinf(rs.trials).any(), what, "infinite values in trials", file)
        w = np.asarray(rs.windows_ms)
        _check(
            w.ndim == 2 and w.shape[1] == 2 and np.all(w[:, 1] > w[:, 0]),
            what,
            "windows_ms must be (n_bins, 2) with end > start",
            file,
        )
        if rs.trials is not None:
            _check(
                rs.trials.ndim == 4 and rs.trials.shape[:1] + rs.trials.shape[2:] == rs.mean.shape,
                what,
                f"trials {rs.trials.shape} do not match mean {rs.mean.shape}",
                file,
            )
    for name, (m, _) in data.reference_rdms.items():
        _check(m.shape == (n, n), f"reference RDM {name!r} of {where}", f"shape {m.shape}, expected ({n}, {n})", file)
    n_frames = data.pixels.shape[1] if data.pixels is not None else 1
    (data.protocol or _protocol.default_for(n_frames, data.frame_duration_ms)).check(n, n_frames, file)
    if data.default_response is not None:
        _check(
            data.default_response in data.responses,
            f"recording {where}",
            f"default response {data.default_response!r} is not a response set",
            file,
        )


def frame_hashes_of(data: RecordingData) -> np.ndarray:
    """(n_stimuli, n_frames) content hashes; sources without pixels hash their ids."""
    if data.pixels is None:
        return np.array([[f"id:{data.source}:{s}"] for s in data.stimulus_ids], dtype=object)
    return np.array([[content_hash(fr) for fr in stim] for stim in data.pixels], dtype=object)


def check_target(path: str | Path) -> None:
    """A recording can be written to ``path``: not a directory, and no regular file on its way."""
    path = Path(path)
    _check(not path.is_dir(), "output file", "is a directory, not a recording file", path)
    for parent in path.parents:
        if parent.exists():
            _check(parent.is_dir(), "output file", f"{parent} is a regular file, not a folder", path)
            break


def write_recording(
    path: str | Path, data: RecordingData, split_seed: int = SPLIT_SEED, fractions: dict | None = None
) -> Path:
    """Validate ``data``, assign splits and write it atomically to ``path``."""
    path = Path(path)
    check_target(path)
    check_recording_data(data, path)
    fractions = fractions or DEFAULT_FRACTIONS
    frame_hash = frame_hashes_of(data)
    stim_hash = [content_hash(s) for s in data.pixels] if data.pixels is not None else list(frame_hash[:, 0])
    phash, thumbs = (None, None) if data.pixels is None else data.frame_keys or neardup.frame_keys(data.pixels)
    fams = data.families or neardup.stimulus_families(frame_hash, neardup.families([(frame_hash, phash, thumbs)]))
    splits = assign_splits(
        frame_hash, data.stimulus_groups, split_seed, fractions, data.group_universe, fams, data.train_only(fams)
    )
    areas = sorted(set(data.neuron_areas)) or sorted(
        {a.get("area", "") for _, a in data.reference_rdms.values()} - {""}
    )
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            {
                "format_version": FORMAT_VERSION,
                "recording_id": data.recording_id,
                "source": data.source,
                "species": data.species,
                "areas": json.dumps(areas),
                "citation": data.citation,
                "license": data.license,
                "default_response": data.default_response or "",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "snnvis_version": __version__,
            }
        )
        st = f.create_group("stimuli")
        if data.pixels is not None:
            # gzip level 1: a Hénaff session (127 MB of pixels) wrote in 3.1 s instead of 4.9 s at
            # level 4 (one measurement, side by side), for 51 MB on disk instead of 49 MB; reads alike
            st.create_dataset(
                "pixels", data=data.pixels, chunks=(1, *data.pixels.shape[1:]), compression="gzip", compression_opts=1
            )
        st.create_dataset("ids", data=np.array(data.stimulus_ids, dtype=object), dtype=_str)
        st.create_dataset("content_hash", data=np.array(stim_hash, dtype=object), dtype=_str)
        st.create_dataset("frame_hash", data=frame_hash, dtype=_str)
        if phash is not None:
            st.create_dataset("phash", data=phash, dtype=_str)
            st.create_dataset("thumb", data=thumbs, compression="gzip")
        st.create_dataset("family", data=np.array(fams, dtype=object), dtype=_str)
        kinds = data.kinds or [""] * data.n_stimuli
        st.create_dataset("kind", data=np.array(kinds, dtype=object), dtype=_str)
        groups = data.stimulus_groups or [""] * data.n_stimuli
        st.create_dataset("group", data=np.array(groups, dtype=object), dtype=_str)
        st.attrs.update({"frame_duration_ms": data.frame_duration_ms, "frame_interval_ms": data.frame_interval_ms})
        ne = f.create_group("neurons")
        ne.create_dataset("ids", data=np.array(data.neuron_ids, dtype=object), dtype=_str)
        ne.create_dataset("area", data=np.array(data.neuron_areas, dtype=object), dtype=_str)
        rg = f.create_group("responses")
        for name, rs in data.responses.items():
            g = rg.create_group(name)
            g.create_dataset("mean", data=rs.mean.astype(np.float32), compression="gzip")
            g.create_dataset("windows_ms", data=np.asarray(rs.windows_ms, dtype=np.float64))
            if rs.trials is not None:
                g.create_dataset("trials", data=rs.trials.astype(np.float32), compression="gzip")
            g.attrs.update(
                {
                    "units": rs.units,
                    "align": rs.align,
                    "frame_average": bool(rs.frame_average),
                    "description": rs.description,
                }
            )
        rd = f.create_group("reference_rdms")
        for name, (m, attrs) in data.reference_rdms.items():
            d = rd.create_dataset(name, data=np.asarray(m, dtype=np.float64))
            d.attrs.update(attrs)
        sp = f.create_group("splits")
        for name in SPLITS:
            sp.create_dataset(name, data=splits[name])
        sp.attrs.update(
            {
                "seed": split_seed,
                "fractions": json.dumps(fractions),
                "rule": "components of shared frames, near-duplicate families and groups; "
                "smallest frame hash, or group quotas; stimuli of another kind than held_out_kind only train",
                "held_out_kind": data.held_out_kind,
            }
        )
        n_frames = data.pixels.shape[1] if data.pixels is not None else 1
        _protocol.write(f, data.protocol or _protocol.default_for(n_frames, data.frame_duration_ms))
        if data.ground_truth:
            gt = f.create_group("ground_truth")
            for name, a in data.ground_truth.items():
                gt.create_dataset(name, data=np.asarray(a), compression="gzip" if np.ndim(a) > 1 else None)
        pv = f.create_group("provenance")
        files = np.array([list(t) for t in data.provenance], dtype=object).reshape(-1, 3)
        pv.create_dataset("files", data=files, dtype=_str)
        pv.attrs.update(
            {
                "importer": data.importer or f"snnvis.recordings.importers.{data.source}",
                "options": json.dumps(data.importer_options, default=str),
                "unregistered": json.dumps(data.unregistered),
            }
        )
    return path

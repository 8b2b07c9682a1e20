"""Lazy, validated access to one recording file (see :mod:`snnvis.recordings.format`)."""

from __future__ import annotations

import json
from collections import Counter
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from snnvis.errors import UserError
from snnvis.recordings import protocol as _protocol
from snnvis.recordings.splits import SPLITS
from snnvis.recordings.validation import (
    REQUIRED,
    ResponseInfo,
    check_version,
    one_line,
    read_response_info,
    read_shapes,
)
from snnvis.recordings.validation import validate as validate_recording

__all__ = ["Recording", "ResponseInfo"]

_WHOLE_READ_BYTES = 16 << 20  # datasets up to this size are read whole for any rows


class Recording:
    """One recording session on disk.

    Opening validates the file's structure and shapes (cheap: no pixel or response
    data is read). Arrays are read lazily; ``stimuli(idx)`` reads only the requested
    stimuli. Every problem raises :class:`~snnvis.errors.UserError` naming the file.
    """

    def __init__(self, path: str | Path, validate: bool = True):
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError("recording", "is a directory, not a recording file", self.path)
        if not self.path.is_file():
            from snnvis.recordings.root import missing_file

            raise UserError("recording", missing_file(self.path), self.path.absolute())
        try:
            with h5py.File(self.path, "r") as f:
                self._attrs = dict(f.attrs)
                check_version(self._attrs, self.path)
                missing = [k for k in REQUIRED if k not in f]
                if missing:
                    raise UserError("recording", f"missing group or dataset {missing[0]!r}", self.path)
                self._shapes = read_shapes(f)
                self._response_info = {name: read_response_info(f, name) for name in f["responses"]}
                self._protocol = _protocol.read(f)
        except UserError:
            raise
        except (OSError, KeyError, ValueError, TypeError, IndexError) as err:
            raise UserError("recording", f"not a readable snnvis HDF5 file ({one_line(err)})", self.path) from None
        if validate:
            self.validate()

    def validate(self, check_values: bool = True) -> None:
        """Check shapes, dtypes and splits; with ``check_values`` also NaNs in means
        (:func:`snnvis.recordings.validation.validate`)."""
        validate_recording(self, check_values)

    # ---- metadata ------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self._attrs["recording_id"])

    @property
    def source(self) -> str:
        return str(self._attrs["source"])

    @property
    def species(self) -> str:
        return str(self._attrs["species"])

    @property
    def citation(self) -> str:
        return str(self._attrs.get("citation", ""))

    @property
    def areas(self) -> list[str]:
        return json.loads(self._attrs["areas"])

    @property
    def n_stimuli(self) -> int:
        return self._shapes["n_stimuli"]

    @property
    def n_neurons(self) -> int:
        return self._shapes["n_neurons"]

    @property
    def n_frames(self) -> int:
        return self._shapes["frame_hash"][1]

    @property
    def has_pixels(self) -> bool:
        return self._shapes["pixels"] is not None

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(H, W, C) of the stimuli, or None when the source has no images."""
        return tuple(self._shapes["pixels"][2:]) if self.has_pixels else None

    @property
    def response_sets(self) -> dict[str, ResponseInfo]:
        return dict(self._response_info)

    @property
    def default_response(self) -> str | None:
        name = str(self._attrs.get("default_response", ""))
        return name or (next(iter(self._response_info)) if self._response_info else None)

    def response_info(self, name: str | None = None) -> ResponseInfo:
        name = name or self.default_response
        if name not in self._response_info:
            raise UserError(
                f"response set {name!r}", f"not in this recording (has {sorted(self._response_info)})", self.path
            )
        return self._response_info[name]

    @property
    def splits(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._shapes["splits"].items()}

    def split(self, name: str) -> np.ndarray:
        if name not in SPLITS:
            raise UserError(f"split {name!r}", f"must be one of {SPLITS}", self.path)
        return self._shapes["splits"][name].copy()

    @property
    def protocol(self) -> _protocol.Protocol:
        """How the stimuli were shown: mode, on/off times and, where recorded, the presentation order."""
        return self._protocol

    @property
    def reference_rdm_names(self) -> list[str]:
        return list(self._shapes["rdms"])

    # ---- arrays (lazy) -------------------------------------------------------------
    def _read(self, key: str, idx=None) -> np.ndarray:
        """Read a dataset, or rows ``idx`` of it (any order, repeats and negative indices allowed)."""
        try:
            with h5py.File(self.path, "r") as f:
                d = f[key]
                if idx is None:
                    return d[()]
                idx = np.asarray(idx, dtype=np.int64).reshape(-1)
                idx = np.where(idx < 0, idx + d.shape[0], idx)
                if not len(idx):
                    return np.empty((0,) + d.shape[1:], d.dtype)
                uniq, inverse = np.unique(idx, return_inverse=True)
                # h5py's fancy indexing is slow (about 20x a plain read): read the whole
                # dataset when it is small or most of it is wanted, else row by row (pixels
                # are chunked per stimulus: one row of a 127 MB Hénaff session reads in
                # 30 ms, the whole dataset in over a second)
                if d.size * d.dtype.itemsize <= _WHOLE_READ_BYTES or 4 * len(uniq) >= d.shape[0]:
                    return d[()][uniq][inverse]
                return np.stack([d[i] for i in uniq])[inverse]
        except (OSError, KeyError) as err:
            raise UserError("recording", f"cannot read {key} ({one_line(err)})", self.path) from None

    @cached_property
    def neuron_ids(self) -> np.ndarray:
        return self._read("neurons/ids").astype(str)

    @cached_property
    def neuron_areas(self) -> np.ndarray:
        return self._read("neurons/area").astype(str)

    @cached_property
    def stimulus_ids(self) -> np.ndarray:
        return self._read("stimuli/ids").astype(str)

    @cached_property
    def content_hash(self) -> np.ndarray:
        return self._read("stimuli/content_hash").astype(str)

    @cached_property
    def frame_hash(self) -> np.ndarray:
        return self._read("stimuli/frame_hash").astype(str)

    @cached_property
    def family(self) -> np.ndarray:
        """(n_stimuli,) near-duplicate family keys (see :mod:`snnvis.recordings.neardup`)."""
        return self._read("stimuli/family").astype(str)

    @cached_property
    def kind(self) -> np.ndarray:
        """(n_stimuli,) the source's stimulus type ("" where it gives none)."""
        return self._read("stimuli/kind").astype(str)

    @property
    def held_out_kind(self) -> str:
        """The one kind that validation and test hold ("": any kind)."""
        return self._shapes["held_out_kind"]

    def near_dup_keys(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(frame_hash, phash, thumbnails) of every frame; phash and thumbnails are None without pixels."""
        if not self.has_pixels:
            return self.frame_hash, None, None
        return self.frame_hash, self._read("stimuli/phash").astype(str), self._read("stimuli/thumb")

    def stimuli(self, idx=None) -> np.ndarray:
        """uint8 (n, n_frames, H, W, C). Indices may be unsorted or repeated."""
        if not self.has_pixels:
            raise UserError("stimuli", "this recording has no images", self.path)
        return self._read("stimuli/pixels", idx)

    def mean(self, name: str | None = None, idx=None) -> np.ndarray:
        """float32 (n, n_bins, n_neurons) trial-averaged responses."""
        return self._read(f"responses/{self.response_info(name).name}/mean", idx)

    def trials(self, name: str | None = None, idx=None) -> np.ndarray | None:
        """float32 (n, n_repeats, n_bins, n_neurons), NaN-padded; None when there are no trials."""
        info = self.response_info(name)
        return self._read(f"responses/{info.name}/trials", idx) if info.n_repeats else None

    def reference_rdm(self, name: str) -> tuple[np.ndarray, dict]:
        if name not in self._shapes["rdms"]:
            raise UserError(
                f"reference RDM {name!r}", f"not in this recording (has {self.reference_rdm_names})", self.path
            )
        with h5py.File(self.path, "r") as f:
            d = f[f"reference_rdms/{name}"]
            return d[()], dict(d.attrs)

    def ground_truth(self) -> dict[str, np.ndarray]:
        """The arrays of ``/ground_truth`` (simulated recordings; empty for real data)."""
        with h5py.File(self.path, "r") as f:
            return {k: f[f"ground_truth/{k}"][()] for k in f.get("ground_truth", {})}

    def provenance(self) -> dict:
        with h5py.File(self.path, "r") as f:
            files = f["provenance/files"][()].astype(str).reshape(-1, 3)
            attrs = dict(f["provenance"].attrs)
        return {
            "files": [dict(zip(("name", "url", "sha256"), row, strict=True)) for row in files.tolist()],
            "importer": str(attrs.get("importer", "")),
            "options": json.loads(attrs.get("options", "{}")),
            "unregistered": json.loads(attrs.get("unregistered", "[]")),
        }

    def frame_timing(self) -> tuple[float, float]:
        """(frame_duration_ms, frame_interval_ms); NaN when not applicable."""
        with h5py.File(self.path, "r") as f:
            a = f["stimuli"].attrs
            return float(a.get("frame_duration_ms", np.nan)), float(a.get("frame_interval_ms", np.nan))

    # ---- summaries -----------------------------------------------------------------
    def summary(self) -> dict:
        """The fields printed by ``snnvis-data info`` (``--json`` keys are a public interface)."""
        return {
            "id": self.id,
            "source": self.source,
            "path": str(self.path),
            "n_stimuli": self.n_stimuli,
            "n_frames": self.n_frames if self.has_pixels else 0,
            "image_shape": list(self.image_shape) if self.has_pixels else None,
            "n_neurons": self.n_neurons,
            "n_repeats": max([r.n_repeats for r in self._response_info.values()], default=0),
            "n_bins": self.response_info().n_bins if self._response_info else 0,
            "areas": self.areas,
            "species": self.species,
            "splits": {k: int(len(v)) for k, v in self._shapes["splits"].items()},
            "held_out_kind": self.held_out_kind,
            "kinds": {
                k: dict(sorted(Counter(self.kind[v].tolist()).items())) for k, v in self._shapes["splits"].items()
            },
            "responses": {
                r.name: {
                    "n_bins": r.n_bins,
                    "n_repeats": r.n_repeats,
                    "units": r.units,
                    "align": r.align,
                    "frame_average": r.frame_average,
                }
                for r in self._response_info.values()
            },
            "default_response": self.default_response,
            "reference_rdms": self.reference_rdm_names,
            "protocol": {
                "mode": self._protocol.mode,
                **{
                    k: None if np.isnan(v) else v
                    for k, v in (("on_ms", self._protocol.on_ms), ("off_ms", self._protocol.off_ms))
                },
                "n_presentations": 0 if self._protocol.order is None else len(self._protocol.order),
            },
            "citation": self.citation,
        }

    def __repr__(self) -> str:
        return f"Recording({self.id!r}, {self.n_stimuli} stimuli, {self.n_neurons} neurons, {self.path})"

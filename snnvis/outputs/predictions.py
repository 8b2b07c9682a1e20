"""``predictions.h5``: a training run's held-out predictions and per-neuron scores, written by
:func:`write_predictions` and read by :func:`read_predictions` (its only writer and reader).

Layout (schema version 1; files written before versions were recorded have this layout): the
root attribute ``schema_version``, then one group per session holding ``stimulus_index``
(test stimuli), ``prediction`` and ``response`` (stimuli[, bins], neurons), ``neuron_ids`` and
``areas`` (strings), one dataset per per-neuron flag (``silent``, ``failed``) and
``metrics/<name>`` per per-neuron metric; group attributes ``recording`` and ``response_set``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.outputs.version import VERSION_KEY, check_version
from snnvis.utils import atomic_path

PREDICTIONS_FILE = "predictions.h5"
SCHEMA_VERSION = 1
ARRAYS = ("stimulus_index", "prediction", "response")
STRINGS = ("neuron_ids", "areas")
FIELDS = (*ARRAYS, *STRINGS, "metrics", "flags")


@dataclass
class SessionPredictions:
    """One session of a predictions.h5; a field not asked of :func:`read_predictions` is None."""

    stimulus_index: np.ndarray | None = None
    prediction: np.ndarray | None = None
    response: np.ndarray | None = None
    neuron_ids: np.ndarray | None = None
    areas: np.ndarray | None = None
    metrics: dict[str, np.ndarray] = field(default_factory=dict)  # per-neuron, under metrics/
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # per-neuron booleans, at the top
    recording: str = ""
    response_set: str = ""


def write_predictions(path: str | Path, sessions: Mapping[str, SessionPredictions]) -> None:
    """Write every session (atomically) with the current schema version."""
    import h5py

    with atomic_path(Path(path)) as tmp, h5py.File(tmp, "w") as f:
        f.attrs[VERSION_KEY] = SCHEMA_VERSION
        for sid, s in sessions.items():
            g = f.create_group(sid)
            for name in ARRAYS:
                g.create_dataset(name, data=getattr(s, name))
            for name in STRINGS:
                g.create_dataset(name, data=np.asarray(getattr(s, name)).astype(object), dtype=h5py.string_dtype())
            for k, v in s.flags.items():
                g.create_dataset(k, data=v)
            for k, v in s.metrics.items():
                g.create_dataset(f"metrics/{k}", data=v)
            g.attrs.update({"recording": s.recording, "response_set": s.response_set})


def read_predictions(path: str | Path, fields: Iterable[str] = FIELDS) -> dict[str, SessionPredictions]:
    """{session: :class:`SessionPredictions`} in file order, with only the ``fields`` asked for
    (names of :data:`FIELDS`); one-line UserError for an unreadable file, a missing field or a
    schema version this snnvis does not know."""
    import h5py

    path, fields = Path(path), set(fields)
    unknown = fields - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown predictions.h5 fields {sorted(unknown)}")
    out = {}
    try:
        with h5py.File(path, "r") as f:
            check_version(f.attrs.get(VERSION_KEY), SCHEMA_VERSION, PREDICTIONS_FILE, path)
            for sid in f:
                g = f[sid]
                s = SessionPredictions(
                    recording=str(g.attrs.get("recording", "")), response_set=str(g.attrs.get("response_set", ""))
                )
                for name in fields & set(ARRAYS):
                    setattr(s, name, np.asarray(g[name][()]))
                for name in fields & set(STRINGS):
                    setattr(s, name, np.asarray(g[name].asstr()[()]))
                if "metrics" in fields:
                    s.metrics = {k: np.asarray(v[()]) for k, v in g["metrics"].items()}
                if "flags" in fields:
                    known = {*ARRAYS, *STRINGS, "metrics"}
                    s.flags = {k: np.asarray(v[()]) for k, v in g.items() if k not in known}
                out[str(sid)] = s
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise UserError(PREDICTIONS_FILE, f"cannot read ({err})", path) from None
    return out

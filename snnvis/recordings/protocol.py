"""How the stimuli of a recording were shown: the presentation protocol (``/protocol`` in the file).

A :class:`Protocol` is data, not a model choice. It says what the animal saw; a model's
time stepping (``snnvis.models.timing``) reads it to decide when to reset state::

    /protocol               attrs: mode, on_ms, off_ms, description
    /protocol/order         int64 (n_presentations, 2)  (stimulus, frame) shown at each presentation,
                            in time order; (-1, -1) for a presentation of something that is not a
                            stimulus of this recording (a blank image, a left-out sequence)   [optional]
    /protocol/order_ids     str   (n_presentations,)    the source's id of what was shown     [with order]

Modes:

- ``independent``: every frame was flashed on its own (``on_ms`` on, then ``off_ms`` blank),
  in an order the experimenter randomised. A model should start each presentation from
  reset state; the order (when recorded) is only for history analyses.
- ``stream``: presentations followed each other in the recorded ``order`` as one continuous
  stream (``on_ms`` on, ``off_ms`` blank), and history across presentations is part of the
  experiment. ``order`` is required.
- ``movie``: the frames of each stimulus were shown back to back as a continuous movie,
  each for ``on_ms`` with no blank between frames (``off_ms`` = 0); state carries across
  the frames of a stimulus and is reset between stimuli.

``on_ms``/``off_ms`` are NaN where the source does not state them. Static images from
sources that do not record their order get ``independent`` by default (:func:`default_for`),
and the description says it is assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h5py
import numpy as np

from snnvis.errors import UserError

MODES = ("independent", "stream", "movie")
_str = h5py.string_dtype()


@dataclass(frozen=True, eq=False)
class Protocol:
    """The presentation protocol of one recording (see the module docstring)."""

    mode: str
    on_ms: float
    off_ms: float
    order: np.ndarray | None = None  # int64 (n_presentations, 2): (stimulus, frame), -1 = not a stimulus
    order_ids: np.ndarray | None = None  # str (n_presentations,): the source's id of each presentation
    description: str = ""

    @property
    def interval_ms(self) -> float:
        """Onset-to-onset time of consecutive presentations (NaN when a duration is unknown)."""
        return self.on_ms + self.off_ms

    @property
    def resets_between_presentations(self) -> bool:
        """True when each presentation is independent (``independent`` mode)."""
        return self.mode == "independent"

    def steps(self, dt_ms: float, file=None) -> tuple[int, int]:
        """(on, off) in simulation steps of ``dt_ms``: what a model shows each presentation for.

        Both durations must be whole multiples of ``dt_ms`` (to 1e-6 of a step) and known;
        otherwise :class:`UserError`, so a model never silently rounds the experiment's timing.
        """
        if not (isinstance(dt_ms, (int, float, np.floating, np.integer)) and dt_ms > 0 and math.isfinite(dt_ms)):
            raise UserError("protocol", f"dt_ms must be a finite number > 0, got {dt_ms!r}", file)
        out = []
        for name, v in (("on_ms", self.on_ms), ("off_ms", self.off_ms)):
            if math.isnan(v):
                raise UserError("protocol", f"{name} is unknown for this recording; state it in the data config", file)
            n = v / dt_ms
            if abs(n - round(n)) > 1e-6:
                raise UserError("protocol", f"{name} = {v:g} is not a whole number of {dt_ms:g} ms steps", file)
            out.append(int(round(n)))
        return out[0], out[1]

    def check(self, n_stimuli: int, n_frames: int, file=None) -> None:
        """Raise :class:`UserError` unless the protocol is consistent with ``n_stimuli`` x ``n_frames``."""

        def fail(why: str):
            raise UserError("protocol", why, file)

        if self.mode not in MODES:
            fail(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        for name in ("on_ms", "off_ms"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.floating, np.integer)) or (
                not math.isnan(v) and (math.isinf(v) or v < 0)
            ):
                fail(f"{name} must be a finite number >= 0 or NaN (unknown), got {v!r}")
        if not math.isnan(self.on_ms) and self.on_ms == 0:
            fail("on_ms must be > 0")
        if self.mode == "movie" and self.off_ms != 0:
            fail(f"a movie has no blank between frames: off_ms must be 0, got {self.off_ms}")
        if self.mode == "stream" and self.order is None:
            fail("mode 'stream' needs the presentation order")
        if self.order is None:
            if self.order_ids is not None:
                fail("order_ids without order")
            return
        o = np.asarray(self.order)
        if o.ndim != 2 or o.shape[1] != 2 or o.dtype.kind not in "iu" or len(o) == 0:
            fail(f"order must be a non-empty integer array (n_presentations, 2), got {o.dtype} {o.shape}")
        blank = o[:, 0] < 0
        if not np.array_equal(blank, o[:, 1] < 0) or (o[blank] != -1).any():
            fail("order entries must be (stimulus, frame) indices, or (-1, -1) for what is not a stimulus")
        if (o[~blank, 0] >= n_stimuli).any() or (o[~blank, 1] >= n_frames).any():
            fail(f"order indices out of range for {n_stimuli} stimuli x {n_frames} frames")
        if self.order_ids is not None and np.asarray(self.order_ids).shape != (len(o),):
            fail(f"order_ids has shape {np.asarray(self.order_ids).shape}, expected ({len(o)},)")

    def consecutive_frame_fraction(self, step: int = 1) -> float:
        """Fraction of consecutive presentation pairs that show frame f then frame f + ``step`` of one
        stimulus (``step=-1``: the previous frame). NaN without an order."""
        if self.order is None or len(self.order) < 2:
            return float("nan")
        a, b = self.order[:-1], self.order[1:]
        hit = (a[:, 0] >= 0) & (a[:, 0] == b[:, 0]) & (b[:, 1] - a[:, 1] == step)
        return float(hit.mean())


def default_for(n_frames: int, on_ms: float = float("nan")) -> Protocol:
    """The protocol assumed for single-frame (static) stimuli whose source records no order."""
    if n_frames != 1:
        raise UserError(
            "protocol",
            f"stimuli with {n_frames} frames need an explicit protocol "
            "(independent, stream or movie); the importer must state how they were shown",
        )
    return Protocol(
        "independent",
        float(on_ms),
        float("nan"),
        description="not recorded by the source: static images assumed flashed independently (order and blank unknown)",
    )


def order_from_ids(presented_ids, slot_ids) -> np.ndarray:
    """(n_presentations, 2) (stimulus, frame) of each presented id, given each slot's id.

    ``slot_ids``: (n_stimuli, n_frames) the source's id in each frame slot. An id held by
    several slots (a frame shared by two sequences) maps to its first slot in row-major
    order; an id in no slot maps to (-1, -1).
    """
    slot_ids = np.asarray(slot_ids).astype(str)
    first: dict[str, tuple[int, int]] = {}
    for (i, f), sid in np.ndenumerate(slot_ids):
        first.setdefault(sid, (i, f))
    return np.array([first.get(str(p), (-1, -1)) for p in presented_ids], dtype=np.int64).reshape(-1, 2)


def write(f: h5py.File, protocol: Protocol) -> None:
    g = f.create_group("protocol")
    g.attrs.update(
        {
            "mode": protocol.mode,
            "on_ms": float(protocol.on_ms),
            "off_ms": float(protocol.off_ms),
            "description": protocol.description,
        }
    )
    if protocol.order is not None:
        g.create_dataset("order", data=np.asarray(protocol.order, dtype=np.int64), compression="gzip")
        ids = protocol.order_ids if protocol.order_ids is not None else np.full(len(protocol.order), "")
        g.create_dataset("order_ids", data=np.asarray(ids).astype(str).astype(object), dtype=_str, compression="gzip")


def read(f: h5py.File) -> Protocol:
    """The protocol stored in an open file; :class:`UserError` when it is missing or malformed."""
    if "protocol" not in f or not isinstance(f["protocol"], h5py.Group):
        raise UserError("recording", "missing group 'protocol' (how the stimuli were shown)", f.filename)
    g = f["protocol"]
    missing = [k for k in ("mode", "on_ms", "off_ms") if k not in g.attrs]
    if missing:
        raise UserError("protocol", f"missing attribute {missing[0]!r}", f.filename)
    try:
        on, off = float(g.attrs["on_ms"]), float(g.attrs["off_ms"])
    except (TypeError, ValueError):
        raise UserError("protocol", "on_ms and off_ms must be numbers", f.filename) from None
    order = g["order"][()] if "order" in g else None
    ids = g["order_ids"][()].astype(str) if "order_ids" in g else None
    return Protocol(
        mode=str(g.attrs["mode"]),
        on_ms=on,
        off_ms=off,
        order=order,
        order_ids=ids,
        description=str(g.attrs.get("description", "")),
    )

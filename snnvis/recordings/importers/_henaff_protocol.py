"""The presentation protocol of a Hénaff et al. 2021 session (see ``henaff2021_v1``)."""

from __future__ import annotations

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.protocol import Protocol, order_from_ids


def presentation_protocol(d: dict, seqs: list, on_ms: float, off_ms: float, file) -> Protocol:
    """The presentation protocol: independent flashes, in the order of ``stimulus_ID_list`` when present."""
    assumed = (
        f"Assumed, not confirmed by the data: each entry of naturalStruct/stimulus_ID_list is one "
        f"presentation, listed in time order, each {on_ms:g} ms on (stim_on_sec) then {off_ms:g} ms "
        f"blank (stim_off_sec) with no other pauses; ids in stimulusStruct/blank_images are blank "
        f"presentations (order (-1, -1)). The list is identical in every published session, so it may be "
        f"the planned sequence rather than a log of each session. A frame shared by two sequences "
        f"(natural endpoints of synthetic/contrast sequences) maps to its first slot."
    )
    if d["presented"] is None:
        return Protocol(
            "independent",
            on_ms,
            off_ms,
            description="Frames flashed one at a time in random "
            "order; this file has no stimulus_ID_list, so the order is unknown.",
        )
    presented = d["presented"]
    if presented.size == 0 or not np.isfinite(presented).all() or (presented != np.round(presented)).any():
        raise UserError("naturalStruct/stimulus_ID_list", "must be a non-empty list of integer stimulus ids", file)
    slot_ids = np.array([ids for _, _, ids, _ in seqs], dtype=np.int64)
    known = set(slot_ids.ravel().tolist()) | set(d["blank_ids"].astype(int).tolist())
    ids = presented.astype(np.int64)
    strange = sorted(set(ids.tolist()) - known)
    order = order_from_ids(ids, slot_ids)
    proto = Protocol("independent", on_ms, off_ms, order=order, order_ids=ids.astype(str), description="")
    note = (
        f"Frames were flashed one at a time in pseudo-random order: {len(ids)} presentations; "
        f"{(order[:, 0] < 0).mean():.1%} are blanks or frames of sequences not in this recording"
        + (f" (ids {strange[:5]}{'...' if len(strange) > 5 else ''} are in no kept sequence)" if strange else "")
        + f"; the next presentation is the next frame of the same sequence in "
        f"{proto.consecutive_frame_fraction(1):.2%} of pairs. {assumed}"
    )
    return Protocol("independent", on_ms, off_ms, order=order, order_ids=ids.astype(str), description=note)

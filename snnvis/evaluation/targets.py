"""What a model layer is compared with: one :class:`Target` per brain area or reference RDM.

A recording gives one :class:`Target` per brain area of its neurons (``neurons/area``),
holding the repeat-averaged responses (stimuli, neurons) and, when released, the single
trials, and one per reference RDM that is not a member of another one's set
(:func:`targets_from_recording`). Reference RDMs named ``<name>_<subject>...`` (e.g.
``human_IT_BE_session1``) are the per-subject RDMs of ``<name>``: RSA against ``<name>`` is
then the mean similarity to the subject RDMs (sessions of one subject averaged first), with
the noise ceiling of that set, as in Nili et al. (2014).

:func:`stimulus_splits` gives the stimuli layers are chosen on (``selection``: the
recording's ``train`` + ``validation`` splits) and those the chosen layer is reported on
(``test``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.recording import Recording

__all__ = ["Target", "stimulus_splits", "targets_from_recording"]


@dataclass
class Target:
    """What a layer is compared with, over all stimuli of its recording.

    Neural targets: ``responses`` (n_stimuli, n_neurons) repeat-averaged, ``trials``
    (n_stimuli, repeats, n_neurons) NaN-padded or None. RDM targets: ``rdms`` (k, n, n),
    one reference RDM (k = 1) or the k subject RDMs of a set.
    """

    recording: str
    area: str
    name: str
    responses: np.ndarray | None = None
    trials: np.ndarray | None = None
    rdms: np.ndarray | None = None
    n_units: int = 0
    description: str = ""

    @property
    def has_neurons(self) -> bool:
        return self.responses is not None


def _reduce_bins(x: np.ndarray, bins: str | int, axis: int) -> np.ndarray:
    """Collapse the time-bin axis: ``"mean"`` averages the bins, an int picks one."""
    if bins == "mean":
        return x.mean(axis)
    return np.take(x, int(bins), axis=axis)


def _reference_sets(names: Sequence[str]) -> dict[str, list[list[str]]]:
    """Top-level reference RDM name -> its subject RDMs (one list of sessions per subject).

    ``b`` is a member of ``a`` when it is named ``a_<...>``; members differing only by a
    ``_session<k>`` suffix belong to one subject.
    """
    top = [n for n in names if not any(n != a and n.startswith(a + "_") for a in names)]
    sets = {}
    for a in top:
        subjects: dict[str, list[str]] = {}
        for b in names:
            if b != a and b.startswith(a + "_"):
                subjects.setdefault(re.sub(r"_session\d+$", "", b), []).append(b)
        sets[a] = [sorted(v) for _, v in sorted(subjects.items())]
    return sets


def targets_from_recording(rec: Recording, response: str | None = None, bins: str | int = "mean") -> list[Target]:
    """Neural targets (one per area of ``rec``'s neurons) and reference-RDM targets.

    ``response``: response set (default: the recording's default). ``bins``: how a
    response set with several time bins becomes one value per stimulus, ``"mean"`` or a
    bin index.
    """
    targets = []
    if rec.n_neurons and rec.response_sets:
        info = rec.response_info(response)
        if bins != "mean" and not (isinstance(bins, int) and 0 <= bins < info.n_bins):
            raise UserError("bins", f"must be 'mean' or a bin index in [0, {info.n_bins}), got {bins!r}", rec.path)
        mean = _reduce_bins(rec.mean(info.name).astype(np.float64), bins, 1)  # (n, neurons)
        trials = rec.trials(info.name)
        if trials is not None:
            trials = _reduce_bins(trials.astype(np.float64), bins, 2)  # (n, repeats, neurons)
        areas = rec.neuron_areas
        for area in sorted(set(areas)):
            keep = areas == area
            targets.append(
                Target(
                    rec.id,
                    str(area),
                    info.name,
                    mean[:, keep],
                    None if trials is None else trials[:, :, keep],
                    n_units=int(keep.sum()),
                    description=f"{int(keep.sum())} neurons, response set {info.name!r} ({info.units})",
                )
            )
    for name, subjects in _reference_sets(rec.reference_rdm_names).items():
        matrix, attrs = rec.reference_rdm(name)
        area = str(attrs.get("area", "")) or "unknown"
        units = int(attrs.get("n_neurons", attrs.get("n_voxels", 0)))
        if len(subjects) >= 2:
            rdms = np.stack([np.mean([rec.reference_rdm(s)[0] for s in sessions], 0) for sessions in subjects])
            desc = (
                f"reference RDM set {name!r}: mean similarity to {len(subjects)} subject RDMs "
                f"({sum(map(len, subjects))} RDMs, sessions of a subject averaged)"
            )
            targets.append(Target(rec.id, area, name, rdms=rdms, n_units=0, description=desc))
        else:
            targets.append(
                Target(
                    rec.id,
                    area,
                    name,
                    rdms=matrix[None].astype(np.float64),
                    n_units=units,
                    description=f"reference RDM {name!r}",
                )
            )
    return targets


def stimulus_splits(rec: Recording, min_test: int = 4, min_selection: int = 10) -> dict[str, np.ndarray]:
    """``{"selection": train + validation indices, "test": test indices}``, sorted."""
    splits = {
        "selection": np.sort(np.concatenate([rec.split("train"), rec.split("validation")])),
        "test": np.sort(rec.split("test")),
    }
    for name, need in (("test", min_test), ("selection", min_selection)):
        if len(splits[name]) < need:
            raise UserError(
                "recording", f"the {name} stimuli are too few to score ({len(splits[name])} < {need})", rec.path
            )
    return splits

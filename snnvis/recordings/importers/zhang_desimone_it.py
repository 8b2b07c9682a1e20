"""Zhang & Desimone 7-object IT rasters (NeuroDecodeR example data): PSTHs without images.

Each ``raster_rda/<neuron>_raster_data.rda`` holds one neuron's ``raster_data`` data
frame: one row per trial with ``labels.stimulus_ID`` (7 objects),
``labels.stimulus_position`` (upper/middle/lower) and 1 ms binary spike columns
named ``time.<start>_<end>`` in ms relative to stimulus onset (-500 to +500; onset is
the 501st column).

All neurons become ONE recording whose stimuli are the 21 conditions
``"<object>@<position>"`` (no pixels; splits are keyed by the condition id). PSTHs
are spike counts in bins of ``bin_ms`` (option, default 50 ms; must divide the raster
length) divided by the bin width, in spikes/s. Trials of a condition are NaN-padded to
the largest repeat count of any neuron. Neurons were recorded in different sessions,
so trial r of two neurons is not the same presentation (a pseudo-population). A
neuron that lacks a condition altogether is left out with a warning, since its mean
would be undefined. A raster file that cannot be read (truncated, or not an R data file
with a ``raster_data`` frame) is skipped with a warning; the others are imported.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.options import Option
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="zhang_desimone_it",
    title="Macaque IT spike rasters, 7 objects x 3 positions (Zhang et al. 2011; NeuroDecodeR data)",
    citation=(
        "Zhang, Y., Meyers, E. M., Bichot, N. P., Serre, T., Poggio, T. A. & Desimone, R. Object decoding "
        "with attention in inferior temporal cortex. PNAS 108, 8850-8855 (2011). Rasters: "
        "github.com/emeyers/NeuroDecodeR, inst/extdata/Zhang_Desimone_7object_raster_data_rda/."
    ),
    license="GPL-3.0 (NeuroDecodeR repository)",
    species="macaque (Macaca mulatta)",
    urls={
        "raster_rda/": "https://raw.githubusercontent.com/emeyers/NeuroDecodeR/HEAD/inst/extdata/"
        "Zhang_Desimone_7object_raster_data_rda/"
    },
    description="132 IT neurons, ~420 trials each (7 objects x 3 positions x ~20), 1 ms rasters from -500 to "
    "+500 ms around stimulus onset; no images.",
)

SESSION = "zhang_desimone_7object"
AREA = "IT"
DEFAULT_BIN_MS = 50
OPTIONS = (
    Option("bin_ms", float, float(DEFAULT_BIN_MS), "PSTH bin in ms; a whole number dividing the raster", minimum=1),
)
_TIME_RE = re.compile(r"time\.(-?\d+)_(-?\d+)$")


def discover(store: FileStore) -> dict[str, str | None]:
    found = store.list("raster_rda/*.rda")
    return {SESSION: None if found else "no raster_rda/*.rda files"}


def read_raster(path) -> dict:
    """One neuron: raster (trials, T) uint8, edges_ms (T + 1,), objects, positions (per trial)."""
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Missing constructor for R class raster_data"
        parsed = rdata.read_rda(path)
    df = parsed.get("raster_data")
    if df is None:
        df = next(iter(parsed.values()), None)
    if df is None or not hasattr(df, "columns"):
        raise UserError("rda file", "no raster_data data frame", path)
    tcols = [c for c in df.columns if _TIME_RE.match(str(c))]
    for key in ("labels.stimulus_ID", "labels.stimulus_position"):
        if key not in df.columns:
            raise UserError("rda file", f"no column {key!r}", path)
    if not tcols:
        raise UserError("rda file", "no time.<start>_<end> columns", path)
    bounds = np.array([[int(x) for x in _TIME_RE.match(str(c)).groups()] for c in tcols])
    if not (np.all(bounds[:, 1] - bounds[:, 0] == 1) and np.all(bounds[1:, 0] == bounds[:-1, 1])):
        raise UserError("rda file", "time columns are not contiguous 1 ms bins", path)
    raster = df[tcols].to_numpy()
    if np.isnan(raster).any() or not np.isin(raster, (0, 1)).all():
        raise UserError("rda file", "raster values are not 0/1", path)
    return {
        "raster": raster.astype(np.uint8),
        "edges_ms": np.append(bounds[:, 0], bounds[-1, 1]).astype(float),
        "objects": df["labels.stimulus_ID"].astype(str).to_numpy(),
        "positions": df["labels.stimulus_position"].astype(str).to_numpy(),
    }


def bin_raster(raster: np.ndarray, bin_ms: int) -> np.ndarray:
    """(trials, T) 1 ms spikes -> (trials, T // bin_ms) spikes/s."""
    n, t = raster.shape
    return raster.reshape(n, t // bin_ms, bin_ms).sum(axis=2) * (1000.0 / bin_ms)


def _bin_option(b: float, span: int) -> int:
    """The (already typed, >= 1) bin as whole ms; it must divide the raster's span."""
    if b != int(b) or span % int(b):
        raise UserError("option bin_ms", f"{b:g} must be a whole number of ms that divides the {span} ms raster")
    return int(b)


def load(store: FileStore, session_id: str, bin_ms: float = float(DEFAULT_BIN_MS)) -> RecordingData:
    if session_id != SESSION:
        raise UserError(f"session {session_id!r}", f"{SOURCE.name} has one session, {SESSION!r}")
    files = store.list("raster_rda/*.rda")
    if not files:
        raise UserError(f"source {SOURCE.name}", "no raster_rda/*.rda files")
    neurons, edges = [], None
    for rel in files:
        path = store.path(rel)  # a checksum mismatch stops the import
        try:
            r = read_raster(path)
        except UserError as err:
            warnings.warn(f"{SOURCE.name}: skipping {rel}: {err.why}", stacklevel=2)
            continue
        except Exception as err:  # rdata raises many types on a malformed file
            warnings.warn(
                f"{SOURCE.name}: skipping {rel}: not a readable .rda file ({type(err).__name__})", stacklevel=2
            )
            continue
        if edges is None:
            edges = r["edges_ms"]
        elif not np.array_equal(edges, r["edges_ms"]):
            raise UserError("rda file", "time columns differ from the other neurons'", rel)
        name = rel.rsplit("/", 1)[-1][:-4]
        r["id"] = name[: -len("_raster_data")] if name.endswith("_raster_data") else name
        r["cond"] = np.array([f"{o}@{p}" for o, p in zip(r["objects"], r["positions"], strict=True)])
        neurons.append(r)
    if not neurons:
        raise UserError(f"source {SOURCE.name}", "no readable raster_rda/*.rda file")
    span = int(edges[-1] - edges[0])
    b = _bin_option(bin_ms, span)
    conditions = sorted(set().union(*(set(r["cond"]) for r in neurons)))
    kept = []
    for r in neurons:
        if set(r["cond"]) == set(conditions):
            kept.append(r)
        else:
            warnings.warn(
                f"{SOURCE.name}: leaving out neuron {r['id']}: it lacks condition(s) "
                f"{sorted(set(conditions) - set(r['cond']))}",
                stacklevel=2,
            )
    if not kept:
        raise UserError(f"source {SOURCE.name}", "no neuron has trials for every condition")
    n_rep = max(int(np.sum(r["cond"] == c)) for r in kept for c in conditions)
    n_bins = span // b
    trials = np.full((len(conditions), n_rep, n_bins, len(kept)), np.nan, np.float32)
    repeats = []
    for j, r in enumerate(kept):
        rates = bin_raster(r["raster"], b)
        for s, c in enumerate(conditions):
            rows = np.flatnonzero(r["cond"] == c)  # file order
            trials[s, : len(rows), :, j] = rates[rows]
            repeats.append(len(rows))
    mean = np.nanmean(trials.astype(np.float64), axis=1)
    starts = edges[0] + b * np.arange(n_bins)
    windows = np.stack([starts, starts + b], axis=1)
    desc = (
        f"PSTHs of {len(kept)} IT neurons in {b} ms bins from {edges[0]:g} to {edges[-1]:g} ms around stimulus "
        f"onset (spike count per bin / bin width). Stimuli are the {len(conditions)} object@position "
        f"conditions. Repeats per neuron and condition: {min(repeats)}-{max(repeats)}; trials are in each "
        "neuron's file order and NaN-padded. Neurons were not all recorded simultaneously, so trial r of two "
        "neurons is not the same presentation (pseudo-population); the mean is over each neuron's own trials."
    )
    resp = ResponseSet(
        mean=mean.astype(np.float32),
        windows_ms=windows,
        units="spikes/s",
        align="stimulus",
        trials=trials,
        description=desc,
    )
    return RecordingData(
        recording_id=SESSION,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        neuron_ids=[r["id"] for r in kept],
        neuron_areas=[AREA] * len(kept),
        stimulus_ids=conditions,
        pixels=None,
        responses={"psth": resp},
        default_response="psth",
        license=SOURCE.license,
    )

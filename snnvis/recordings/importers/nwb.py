"""A user's own recording in NWB (Neurodata Without Borders, read with pynwb).

``snnvis-data import nwb PATH --stimuli DIR [--out recordings] [-o bin_ms=25] [-o stop_ms=200]``

What the file must hold:

- ``units``: the Units table with ``spike_times`` (seconds); an optional ``location``
  column names each unit's area (else ``-o area=V4``, default ``unknown``);
- a stimulus presentation table: an intervals table (TimeIntervals) with ``start_time``,
  ``stop_time`` (seconds) and an image id column (``image_id``, ``image``, ``image_name``,
  ``stimulus_id`` or ``frame``; or ``-o image_column=NAME``). The table is the
  ``-o table=NAME`` intervals table, else the one of ``stimulus_presentations``,
  ``presentations``, ``trials``, ``epochs`` or the only one that has an image id column.
- ``DIR``: one image file per image id, found by file name (``<id>`` or ``<id>.<ext>``).
  All images must have one size; they are stored as RGB (or grayscale) uint8 pixels.

Each presentation is one trial; repeats of an image are its trials (NaN-padded to the
largest repeat count). Spikes are counted in 1 ms bins from ``start_ms`` (default 0; may
be negative, for a baseline before onset) to ``stop_ms`` (default: the shortest
presentation, whole ms) after each presentation's ``start_time``, and binned by the
Zhang-Desimone importer's :func:`~snnvis.recordings.importers.zhang_desimone_it.bin_raster`,
in spikes/s. The ``rate`` response (the default) is one bin over the whole window; with
``-o bin_ms=B`` (dividing the window) a ``psth`` response in bins of B ms is added. The
protocol is ``independent`` flashes in the presentations' order (by ``start_time``), with
``on_ms`` the median presentation duration and ``off_ms`` the median blank between
presentations. The output is a standard recording (current format version) at
``<out>/nwb/<file stem>.h5``.

Errors (one line, exit 2): no units or no spike times; no presentation table or no
image id column; an image id without a file in ``DIR``; images of different sizes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.importers.zhang_desimone_it import bin_raster
from snnvis.recordings.options import Option, resolve
from snnvis.recordings.protocol import Protocol, order_from_ids
from snnvis.recordings.sources import FileStore, Source
from snnvis.utils import sha256_file

SOURCE = Source(
    name="nwb",
    title="Your own recording in an NWB file (snnvis-data import nwb PATH --stimuli DIR)",
    citation="(the citation of the NWB file's own study)",
    license="(the NWB file's own license)",
    species="(from the NWB file's subject)",
    urls={},
    description="Units with spike times and an intervals table of image presentations; images in a folder.",
)

IMAGE_COLUMNS = ("image_id", "image", "image_name", "stimulus_id", "frame")
TABLES = ("stimulus_presentations", "presentations", "trials", "epochs")
OPTIONS = (
    Option("bin_ms", int, None, "also a psth response in bins of this many ms (must divide the window)", minimum=1),
    Option("start_ms", int, 0, "window start in ms after each presentation's onset (may be negative)"),
    Option("stop_ms", int, None, "window end in ms after onset (default: the shortest presentation)", minimum=0),
    Option("table", str, None, "the intervals table of the presentations"),
    Option("image_column", str, None, "the image id column of that table"),
    Option("area", str, "unknown", "the area of every unit, when units have no location column"),
)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")


def discover(store: FileStore) -> dict[str, str | None]:
    return {}


def load(store: FileStore, session_id: str, **options) -> RecordingData:
    raise UserError("source nwb", "NWB files are imported by path: snnvis-data import nwb PATH --stimuli DIR")


def _tables(nwb) -> dict:
    found = {}
    if nwb.trials is not None:
        found["trials"] = nwb.trials
    if nwb.epochs is not None:
        found["epochs"] = nwb.epochs
    for name, t in (nwb.intervals or {}).items():
        found[name] = t
    return found


def _presentations(nwb, path, table: str | None, column: str | None):
    tables = _tables(nwb)
    if table is not None:
        if table not in tables:
            raise UserError(
                f"intervals table {table!r}", f"not in the file (tables: {', '.join(tables) or 'none'})", path
            )
        chosen = {table: tables[table]}
    else:
        chosen = {n: tables[n] for n in TABLES if n in tables} or tables
    for name, t in chosen.items():
        cols = list(t.colnames)
        col = column if column is not None else next((c for c in IMAGE_COLUMNS if c in cols), None)
        if col is not None and col in cols:
            df = t.to_dataframe()
            return (
                name,
                col,
                df["start_time"].to_numpy(float),
                df["stop_time"].to_numpy(float),
                df[col].astype(str).to_numpy(),
            )
    if not tables:
        raise UserError(
            "NWB file",
            "no stimulus presentation table (an intervals table with start_time, stop_time and an image id column)",
            path,
        )
    want = column or " / ".join(IMAGE_COLUMNS)
    raise UserError(
        "NWB file", f"no presentation table with an image id column ({want}) among {', '.join(chosen)}", path
    )


def _image_files(ids, stimuli: Path) -> dict[str, Path]:
    if not stimuli.is_dir():
        raise UserError("stimulus folder", "is not a folder", stimuli)
    files = {}
    for p in sorted(stimuli.iterdir()):
        if p.is_file():
            files.setdefault(p.name, p)
            if p.suffix.lower() in IMAGE_EXTS:
                files.setdefault(p.stem, p)
    missing = [i for i in ids if i not in files]
    if missing:
        raise UserError(
            f"image id {missing[0]!r}",
            f"no image file of that name ({len(missing)} of {len(ids)} ids missing)",
            stimuli,
        )
    return {i: files[i] for i in ids}


def _pixels(files: dict[str, Path], stimuli: Path) -> np.ndarray:
    from PIL import Image

    imgs = []
    for p in files.values():
        try:
            with Image.open(p) as im:
                a = np.asarray(im.convert("L" if im.mode in ("L", "I", "I;16", "1") else "RGB"), dtype=np.uint8)
        except OSError as err:
            raise UserError(f"image {p.name}", f"not a readable image ({err})", stimuli) from None
        imgs.append(a[..., None] if a.ndim == 2 else a)
    shapes = {a.shape for a in imgs}
    if len(shapes) > 1:
        raise UserError("stimulus folder", f"images differ in size ({', '.join(map(str, sorted(shapes)))})", stimuli)
    return np.stack(imgs)[:, None]


def read_nwb(path: str | Path, stimuli: str | Path, **options) -> RecordingData:
    """Read ``path`` (NWB) with images from ``stimuli`` into a :class:`RecordingData` (see module doc)."""
    import pynwb

    path, stimuli = Path(path), Path(stimuli)
    given, options = options, resolve(SOURCE.name, OPTIONS, options)
    if not path.is_file():
        raise UserError("NWB file", "does not exist", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            io = pynwb.NWBHDF5IO(str(path), "r")
            nwb = io.read()
    except Exception as err:  # h5py / hdmf raise many types on a bad file
        raise UserError("NWB file", f"not readable by pynwb ({type(err).__name__})", path) from None
    try:
        units = nwb.units
        if units is None or len(units) == 0 or "spike_times" not in units.colnames:
            raise UserError("NWB file", "no units with spike times (nwb.units)", path)
        spikes = [np.asarray(units["spike_times"][j], float) for j in range(len(units))]
        unit_ids = [str(i) for i in units.id[:]]
        if "location" in units.colnames:
            areas = [str(a) for a in units["location"][:]]
        else:
            areas = [options["area"]] * len(unit_ids)
        tname, col, t0, t1, img = _presentations(nwb, path, options["table"], options["image_column"])
        species = nwb.subject.species if nwb.subject is not None and nwb.subject.species else "unknown"
        ident = nwb.identifier
    finally:
        io.close()
    if len(t0) == 0:
        raise UserError(f"intervals table {tname!r}", "has no rows", path)
    start = options["start_ms"]
    stop = options["stop_ms"]
    stop = int(np.floor(np.min(t1 - t0) * 1000 + 1e-6)) if stop is None else stop
    if stop <= start:
        raise UserError("option stop_ms", f"the window {start}-{stop} ms after onset is empty", path)
    span = stop - start
    bin_ms = options["bin_ms"]
    if bin_ms is not None and span % bin_ms:
        raise UserError("option bin_ms", f"{bin_ms} must divide the {span} ms window", path)
    ids = sorted(set(img))
    files = _image_files(ids, stimuli)
    pixels = _pixels(files, stimuli)
    # 1 ms bin edges of every presentation, in seconds: (presentations, span + 1)
    edges = t0[:, None] + (start + np.arange(span + 1))[None, :] / 1000.0
    n_rep = max(int(np.sum(img == i)) for i in ids)

    def response(b: int) -> ResponseSet:
        n_bins = span // b
        # per unit: spikes in [edge k, edge k+1) of each presentation (1 ms counts), then binned
        rates = np.stack(
            [bin_raster(np.diff(np.searchsorted(np.sort(t), edges, side="left"), axis=1), b) for t in spikes], axis=1
        )  # (presentations, units, n_bins)
        trials = np.full((len(ids), n_rep, n_bins, len(spikes)), np.nan, np.float32)
        for s, i in enumerate(ids):
            rows = np.flatnonzero(img == i)  # presentation order
            trials[s, : len(rows)] = rates[rows].transpose(0, 2, 1)
        starts = start + b * np.arange(n_bins)
        desc = (
            f"Spike counts of {len(spikes)} units from {path.name} in {b} ms bins from {start} to {stop} ms "
            f"after each presentation's start_time (intervals table {tname!r}, image column {col!r}), / bin "
            f"width; repeats of an image are its trials in presentation order, NaN-padded to {n_rep}."
        )
        return ResponseSet(
            mean=np.nanmean(trials.astype(np.float64), axis=1).astype(np.float32),
            windows_ms=np.stack([starts, starts + b], axis=1).astype(float),
            units="spikes/s",
            align="stimulus",
            trials=trials,
            description=desc,
        )

    seq = np.argsort(t0, kind="stable")
    # to the microsecond: times in seconds carry float noise that would break whole-step durations
    on_ms = round(float(np.median(t1 - t0) * 1000), 3)
    off_ms = round(float(np.median(np.diff(t0[seq]) - (t1 - t0)[seq][:-1]) * 1000), 3) if len(t0) > 1 else float("nan")
    protocol = Protocol(
        "independent",
        on_ms,
        off_ms,
        order=order_from_ids(img[seq], np.array(ids)[:, None]),
        order_ids=img[seq],
        description=f"image flashes of intervals table {tname!r} in "
        "start_time order; on/off are the median presentation and blank durations",
    )
    responses = {"rate": response(span)}
    if bin_ms is not None and bin_ms != span:
        responses["psth"] = response(bin_ms)
    return RecordingData(
        recording_id=path.stem,
        source=SOURCE.name,
        species=species,
        citation=f"NWB file {path.name} (identifier {ident})",
        neuron_ids=unit_ids,
        neuron_areas=areas,
        stimulus_ids=ids,
        pixels=pixels,
        responses=responses,
        default_response="rate",
        license="",
        provenance=[(path.name, str(path.resolve()), sha256_file(path))],
        importer_options={"stimuli": str(stimuli), **given},
        importer=__name__,
        protocol=protocol,
        frame_duration_ms=on_ms,
        frame_interval_ms=on_ms + off_ms,
    )


def import_nwb(path: str | Path, stimuli: str | Path, out: str | Path = "recordings", **options) -> Path:
    """Import one NWB file into ``<out>/nwb/<stem>.h5``; returns the written path."""
    from snnvis.recordings.format import write_recording

    data = read_nwb(path, stimuli, **options)
    return write_recording(Path(out) / SOURCE.name / f"{data.recording_id}.h5", data)

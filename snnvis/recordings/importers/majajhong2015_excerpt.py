"""MajajHong2015 excerpt (brain-score brainio_contrib test fixture): macaque V4 and IT.

``<name>.nc`` is a netCDF4 (HDF5) NeuroidAssembly: one data variable of dims
(neuroid, presentation, time_bin) with coordinates ``neuroid_id``, ``region``,
``animal`` ... on neuroid, ``image_id`` and ``repetition`` on presentation, and
``time_bin_start``/``time_bin_end`` on time_bin. Images are ``images/<image_id>.png``.
Each ``.nc`` file is one session. The dimensions are found from the file's netCDF
dimension scales, and images are linked through ``image_id``, never by order.
"""

from __future__ import annotations

import collections
import re

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="majajhong2015_excerpt",
    title="MajajHong2015 excerpt: macaque V4 and IT, 25 images (brainio_contrib test fixture)",
    citation=(
        "Majaj, N. J., Hong, H., Solomon, E. A. & DiCarlo, J. J. Simple learned weighted sums of "
        "inferior temporal neuronal firing rates accurately predict human core object recognition "
        "performance. J. Neurosci. 35, 13402-13418 (2015). Excerpt: github.com/brain-score/brainio_contrib, "
        "tests/test_data.nc and tests/images/."
    ),
    license="MIT (brainio_contrib repository)",
    species="macaque (Macaca mulatta)",
    urls={"": "https://raw.githubusercontent.com/brain-score/brainio_contrib/HEAD/tests/"},
    description="296 multi-unit sites (128 V4, 168 IT) x 25 images x 28 repeats, one 70-170 ms bin, normalised.",
)


def discover(store: FileStore) -> dict[str, str | None]:
    return {rel[:-3]: None for rel in store.list("*.nc") if "/" not in rel}


def _strings(d) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in d[()]]


def _dims_of(f, d) -> list[str]:
    """Names of the netCDF dimensions of dataset ``d`` (from its DIMENSION_LIST)."""
    if "DIMENSION_LIST" not in d.attrs:
        return []
    return [f[refs[0]].name.lstrip("/") for refs in d.attrs["DIMENSION_LIST"]]


def read_assembly(path) -> dict:
    """The data variable as (neuroid, presentation, time_bin) plus its 1-D coordinates by dimension."""
    import h5py

    with h5py.File(path, "r") as f:
        coords: dict[str, dict[str, np.ndarray | list]] = collections.defaultdict(dict)
        data_name = None
        for name, d in f.items():
            if not isinstance(d, h5py.Dataset):
                continue
            dims = _dims_of(f, d)
            if len(dims) == 3:
                if data_name is not None:
                    raise UserError("netCDF file", f"two 3-D data variables ({data_name}, {name})", path)
                data_name = name
            elif len(dims) == 1 and dims[0] != name:
                coords[dims[0]][name] = _strings(d) if d.dtype.kind in "OSU" else d[()]
        if data_name is None:
            raise UserError("netCDF file", "no 3-D data variable (neuroid, presentation, time_bin)", path)
        d = f[data_name]
        dims = _dims_of(f, d)
        want = ("neuroid", "presentation", "time_bin")
        if sorted(dims) != sorted(want):
            raise UserError(f"variable {data_name!r}", f"dimensions {dims}, expected {list(want)}", path)
        data = np.transpose(d[()], [dims.index(k) for k in want]).astype(np.float64)
        fill = d.attrs.get("_FillValue")
        if fill is not None and np.isfinite(np.asarray(fill)).all():
            data[data == np.asarray(fill).ravel()[0]] = np.nan
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in d.attrs.items()
            if k not in ("DIMENSION_LIST", "_FillValue")
        }
    return {"name": data_name, "data": data, "coords": coords, "attrs": attrs}


def _decode_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        a = np.asarray(im, dtype=np.uint8)
    return a[..., None] if a.ndim == 2 else a


def load(store: FileStore, session_id: str) -> RecordingData:
    path = store.path(f"{session_id}.nc")
    asm = read_assembly(path)
    data, neu, pres, tb = (
        asm["data"],
        asm["coords"]["neuroid"],
        asm["coords"]["presentation"],
        asm["coords"]["time_bin"],
    )
    for dim, keys in (
        ("neuroid", ("neuroid_id", "region")),
        ("presentation", ("image_id", "repetition")),
        ("time_bin", ("time_bin_start", "time_bin_end")),
    ):
        missing = [k for k in keys if k not in asm["coords"][dim]]
        if missing:
            raise UserError(f"coordinate {missing[0]!r}", f"missing on dimension {dim}", path)
    n_neurons, _, n_bins = data.shape
    image_ids = list(pres["image_id"])
    repetition = np.asarray(pres["repetition"])
    uniq = list(dict.fromkeys(image_ids))  # first-appearance order
    rows = {img: [] for img in uniq}
    for p, img in enumerate(image_ids):
        rows[img].append(p)
    n_rep = max(len(v) for v in rows.values())
    trials = np.full((len(uniq), n_rep, n_bins, n_neurons), np.nan, np.float32)
    for s, img in enumerate(uniq):
        order = sorted(rows[img], key=lambda p: repetition[p])
        trials[s, : len(order)] = np.transpose(data[:, order, :], (1, 2, 0))
    mean = np.nanmean(trials.astype(np.float64), axis=1)

    pixels = []
    for img in uniq:
        rel = f"images/{img}.png"
        if not store.exists(rel):
            raise UserError(f"image {img!r}", f"{rel} is missing", store.root or store.source.name)
        pixels.append(_decode_png(store.path(rel)))
    if len({a.shape for a in pixels}) != 1:
        raise UserError("images", f"differ in shape: {sorted({a.shape for a in pixels})}", path)
    pixels = np.stack(pixels)[:, None]

    windows = np.stack([np.asarray(tb["time_bin_start"], float), np.asarray(tb["time_bin_end"], float)], axis=1)
    areas = list(neu["region"])
    counts = collections.Counter(areas)
    animals = neu.get("animal")
    per_area = ""
    if animals is not None:
        c = collections.Counter(zip(areas, animals))
        per_area = " Sites per (area, monkey): " + ", ".join(f"{a} {m}: {k}" for (a, m), k in sorted(c.items())) + "."
    reps = collections.Counter(len(v) for v in rows.values())
    units = asm["attrs"].get("units") or "normalised response (scheme not stated in the file)"
    window_txt = ", ".join(f"{a:g}-{b:g} ms" for a, b in windows)
    desc = (
        f"MajajHong2015 multi-unit responses ({asm['name']}, stimulus set "
        f"{asm['attrs'].get('stimulus_set_name', '?')}), {window_txt} after image onset, normalised as "
        f"released by Brain-Score (the file states no units). Sites: "
        + ", ".join(f"{a} {k}" for a, k in sorted(counts.items()))
        + "."
        + per_area
        + f" Repeats per image: {dict(sorted(reps.items()))}; trials are ordered by the 'repetition' "
        "coordinate and NaN-padded; the mean is over repeats."
    )
    resp = ResponseSet(
        mean=mean.astype(np.float32), windows_ms=windows, units=units, align="stimulus", trials=trials, description=desc
    )
    return RecordingData(
        recording_id=re.sub(r"[^\w.-]", "_", session_id),
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        neuron_ids=list(neu["neuroid_id"]),
        neuron_areas=areas,
        stimulus_ids=uniq,
        pixels=pixels,
        responses={"normalised_rate": resp},
        default_response="normalised_rate",
        license=SOURCE.license,
    )

"""Cowley, Stan, Pillow & Smith: macaque V4 spike counts to static natural images.

Layout of the public release (``data_V4_responses/`` of cowleygroup/V4_compact_models)::

    images/images_<session>.zip                       imageNNNN.jpg (112x112 RGB), numbered from 1,
                                                      maybe under a top folder; image k is column k-1
    responses_repeat_averaged/responses_<session>.npy (neurons, images) spike counts per 100 ms, repeat mean
    responses_raw/responses_<session>.npy             (neurons, images, repeats), NaN-padded [some sessions]
    readme_original.txt                               the authors' readme with the session table

A session is importable when its averaged responses and its image zip are both present.
Some sessions show the same image more than once (190925: images 901-1200 repeat images
1-300 byte for byte). Duplicates are found by decoded pixel content and merged into one
stimulus, so that one image never sits in two splits; see :func:`merge_duplicates`. The
copies are independent repeat-averages, so without raw repeats they are kept as the
stimulus's trials (split halves for noise ceilings).

Image types come from the readme's session table ("normal (600), active learning (300)"):
the files are assumed to be numbered in the order the table lists the types, and files
past the table's count are of kind ``unlisted`` (190927-190929 have 1,200 files for 900
listed images). Validation and test take only the first listed type ("normal" wherever a
session has it), as the authors' held-out sessions show normal images only: the types
differ in mean response (190925's 300 active-learning images evoke 40 % fewer spikes), so
a test split that mixes them credits any predictor that tells the types apart.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.sources import FileStore, Source
from snnvis.utils import content_hash

_BASE = "https://raw.githubusercontent.com/cowleygroup/V4_compact_models/HEAD/data_V4_responses/"

SOURCE = Source(
    name="cowley2023_v4",
    title="Macaque V4 responses to natural images (Cowley et al. 2023)",
    citation=(
        "Cowley, B. R., Stan, P. L., Pillow, J. W. & Smith, M. A. Compact deep neural network models "
        "of the visual cortex. Nature (2026); preprint bioRxiv 2023.11.22.568315 (2023). "
        "Data: github.com/cowleygroup/V4_compact_models, data_V4_responses/."
    ),
    license="GPL-3.0",
    species="macaque (Macaca mulatta)",
    urls={"": _BASE, "readme_original.txt": _BASE + "readme.txt"},
    description="Utah-array V4 spike counts (100 ms) to 112x112 RGB natural and synthesised images; "
    "one recording per session, monkeys WE, PE and RA.",
)

AREA = "V4"
MIN_DUPLICATED = 20  # duplicated images needed to keep their copies as trials (split halves)
UNITS = "spike count in a 100 ms window, averaged over repeats"
_AVG = "responses_repeat_averaged/responses_{}.npy"
_RAW = "responses_raw/responses_{}.npy"
_ZIP = "images/images_{}.zip"
_README = ("readme_original.txt", "readme.txt")
_IMAGE_RE = re.compile(r"(\d+)\.jpe?g$", re.IGNORECASE)


def discover(store: FileStore) -> dict[str, str | None]:
    """Every session with averaged responses or an image zip; None when both are present."""
    found = {}
    for rel in store.list("responses_repeat_averaged/responses_*.npy"):
        m = re.fullmatch(r"responses_repeat_averaged/responses_(\w+)\.npy", rel)
        if m:
            sid = m.group(1)
            found[sid] = None if store.exists(_ZIP.format(sid)) else f"{_ZIP.format(sid)} is missing"
    for rel in store.list("images/images_*.zip"):
        m = re.fullmatch(r"images/images_(\w+)\.zip", rel)
        if m and m.group(1) not in found:
            found[m.group(1)] = f"{_AVG.format(m.group(1))} (its responses) is missing"
    return dict(sorted(found.items()))


def session_table(store: FileStore) -> dict[str, dict]:
    """The authors' session table from the readme: session -> animal, split, repeats, image types."""
    rel = next((r for r in _README if store.exists(r)), None)
    if rel is None:
        return {}
    table = {}
    for line in store.path(rel).read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 6 and re.fullmatch(r"\d{6}", parts[0]) and re.fullmatch(r"[A-Z]{2}", parts[1]):
            table[parts[0]] = {
                "animal": parts[1],
                "role": parts[2],
                "n_neurons": parts[3],
                "repeats_per_image": parts[4],
                "image_types": " ".join(parts[6:]),
            }
    return table


UNLISTED = "unlisted"


def listed_types(text: str) -> list[tuple[str, int]]:
    """``[(type, count), ...]`` of the table's image-types column, e.g. ``normal (1,200), gaudy (300)``."""
    return [
        (m.group(1).strip(), int(m.group(2).replace(",", "")))
        for m in re.finditer(r"([^()]+?)\s*\(([\d,]+)\)\s*,?\s*", text)
    ]


def file_kinds(image_types: str, n_files: int) -> tuple[list[str], str]:
    """The image type of each file in number order, and the held-out type (the first listed one),
    from a session's image-types column; ``([""] * n_files, "")`` when it lists none."""
    types = listed_types(image_types)
    if not types:
        return [""] * n_files, ""
    kinds = [name for name, count in types for _ in range(count)][:n_files]
    return kinds + [UNLISTED] * (n_files - len(kinds)), types[0][0]


def stimulus_kinds(store: FileStore, session_id: str) -> tuple[list[str], str]:
    """:func:`file_kinds` of every image file, for the held-out kind joined across sessions."""
    n_files = np.load(store.path(_AVG.format(session_id)), mmap_mode="r").shape[1]
    return file_kinds(session_table(store).get(str(session_id), {}).get("image_types", ""), n_files)


def read_images(path, n_expected: int | None = None) -> tuple[list[str], np.ndarray]:
    """Decode ``imageNNNN.jpg`` from a zip in image-number order: (file names, uint8 (n, H, W, C))."""
    try:
        return _read_images(path, n_expected)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:  # PIL's decode errors are OSErrors
        raise UserError(
            "image zip", f"cannot be read ({type(err).__name__}: {' '.join(str(err).split())[:160]})", path
        ) from None


def _read_images(path, n_expected: int | None) -> tuple[list[str], np.ndarray]:
    from PIL import Image

    with zipfile.ZipFile(path) as zf:
        entries = []
        for name in zf.namelist():
            base = name.rsplit("/", 1)[-1]
            m = _IMAGE_RE.search(base)
            if not name.endswith("/") and m:
                entries.append((int(m.group(1)), base, name))
        entries.sort()
        numbers = [e[0] for e in entries]
        if numbers != list(range(1, len(numbers) + 1)):
            raise UserError("image zip", "image numbers are not 1..n without gaps or repeats", path)
        if n_expected is not None and len(entries) != n_expected:
            raise UserError("image zip", f"{len(entries)} images for {n_expected} response columns", path)
        images = []
        for _, _, name in entries:
            with Image.open(io.BytesIO(zf.read(name))) as im:
                if im.mode not in ("L", "RGB"):
                    im = im.convert("RGB")
                a = np.asarray(im, dtype=np.uint8)
            images.append(a[..., None] if a.ndim == 2 else a)
    if len({a.shape for a in images}) != 1:
        raise UserError("image zip", f"images differ in shape: {sorted({a.shape for a in images})}", path)
    return [e[1] for e in entries], np.stack(images)


def _valid_repeats(raw: np.ndarray) -> np.ndarray:
    """(neurons, k) the repeats of one image that hold data for at least one neuron."""
    keep = ~np.all(np.isnan(raw), axis=0)
    return raw[:, keep]


def merge_duplicates(images: np.ndarray, avg: np.ndarray, raw: np.ndarray | None):
    """Merge images with identical decoded pixels.

    Returns (groups, mean (n_unique, neurons), trials (n_unique, max_repeats, neurons) or None),
    where ``groups`` lists the original image indices of each unique image in order of first
    appearance. With raw repeats the merged mean is the mean over the pooled repeats (the
    duplicates' repeat means weighted by their repeat counts) and the trials are the pooled
    repeats. Without them the mean is the plain average of the duplicates' repeat means, and
    when some image has duplicates, the trials are those repeat means, one per copy (so a
    stimulus shown once has one trial); both NaN-padded. Fewer than :data:`MIN_DUPLICATED`
    duplicated images give no trials: a split-half correlation over so few stimuli is noise.
    """
    first: dict[str, int] = {}
    groups: list[list[int]] = []
    for i, img in enumerate(images):
        h = content_hash(img)
        if h not in first:
            first[h] = len(groups)
            groups.append([])
        groups[first[h]].append(i)
    n_neurons = avg.shape[0]
    mean = np.empty((len(groups), n_neurons), np.float64)
    pooled = []
    for g, members in enumerate(groups):
        if raw is None:
            mean[g] = avg[:, members].mean(axis=1)
        else:
            reps = np.concatenate([_valid_repeats(raw[:, i, :]) for i in members], axis=1)
            pooled.append(reps)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean[g] = np.nanmean(reps, axis=1) if reps.shape[1] else np.nan
    trials = None
    if raw is None and sum(len(g) > 1 for g in groups) >= MIN_DUPLICATED:
        trials = np.full((len(groups), max(len(g) for g in groups), n_neurons), np.nan, np.float32)
        for g, members in enumerate(groups):
            trials[g, : len(members)] = avg[:, members].T
    elif raw is not None:
        n_rep = max(p.shape[1] for p in pooled)
        trials = np.full((len(groups), n_rep, n_neurons), np.nan, np.float32)
        for g, reps in enumerate(pooled):
            trials[g, : reps.shape[1]] = reps.T
    return groups, mean, trials


def stimulus_pixels(store: FileStore, session_id: str) -> np.ndarray:
    """uint8 (n_images, 1, H, W, C): a session's images only, for near-duplicate joins across sessions."""
    return read_images(store.path(_ZIP.format(session_id)))[1][:, None]


def _load_npy(path) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
        return a.astype(np.float64)
    except (OSError, EOFError, ValueError, TypeError) as err:
        raise UserError(
            "responses", f"not a readable numeric .npy file ({' '.join(str(err).split())[:160]})", path
        ) from None


def load(store: FileStore, session_id: str) -> RecordingData:
    sid = str(session_id)
    avg_path = store.path(_AVG.format(sid))
    avg = _load_npy(avg_path)
    if avg.ndim != 2:
        raise UserError("responses", f"expected (neurons, images), got shape {avg.shape}", avg_path)
    if np.isnan(avg).any():
        raise UserError("responses", "NaN in repeat-averaged responses", avg_path)
    n_neurons, n_images = avg.shape
    names, images = read_images(store.path(_ZIP.format(sid)), n_images)

    raw = None
    if store.exists(_RAW.format(sid)):
        raw_path = store.path(_RAW.format(sid))
        raw = _load_npy(raw_path)
        if raw.ndim != 3 or raw.shape[:2] != avg.shape:
            raise UserError("raw responses", f"shape {raw.shape} does not match averaged {avg.shape}", raw_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are checked below
            check = np.nanmean(raw, axis=2)
        if not np.allclose(check, avg, equal_nan=False, atol=1e-9):
            raise UserError("raw responses", "their repeat means differ from the averaged responses", raw_path)

    groups, mean, trials = merge_duplicates(images, avg, raw)
    n_dup_files = n_images - len(groups)
    info = session_table(store).get(sid, {})
    kinds_of_file, held_out_kind = file_kinds(info.get("image_types", ""), n_images)
    kinds = [kinds_of_file[g[0]] for g in groups]
    animal = info.get("animal", "not listed in the readme table")
    parts = [
        f"Session {sid}, monkey {animal}. V4 spike counts in a 100 ms window per image presentation, averaged "
        "over repeats, as released. The release does not give the window's offset from image onset, so "
        "windows_ms is [0, 100] by convention.",
        f"{n_images} image files hold {len(groups)} distinct images.",
    ]
    if n_dup_files:
        how = (
            "the mean over their pooled raw repeats (their repeat means weighted by repeat counts)"
            if raw is not None
            else "the plain average of their repeat means (no raw repeats are released "
            "for this session, so repeat counts are unknown)"
        )
        parts.append(
            f"{n_dup_files} files duplicate another file's pixels; each set of duplicates is one stimulus "
            f"whose id joins the file names with '+' and whose response is {how}."
        )
    if info:
        parts.append(
            f"Readme table: {info['repeats_per_image']} repeats/image, {info['n_neurons']} neurons, "
            f"images: {info['image_types']}; the authors used it as a {info['role']} session."
        )
    if held_out_kind:
        counts = ", ".join(f"{k} {kinds.count(k)}" for k in dict.fromkeys(kinds))
        parts.append(
            f"Stimulus kinds by file number in the table's order ({counts}); validation and test take "
            f"{held_out_kind!r} images only."
        )
    if raw is not None:
        parts.append("Trials: the raw repeats of responses_raw (single presentations), NaN-padded.")
    elif trials is not None:
        n_multi = sum(len(g) > 1 for g in groups)
        parts.append(
            f"No raw repeats are released for this session. Trials: one per image file, each that file's "
            f"repeat-averaged response (not a single presentation); {n_multi} stimuli have 2 to "
            f"{trials.shape[1]} such independent repeat-averages (usable as split halves), the others one, "
            "NaN-padded."
        )
    else:
        parts.append(
            f"No raw repeats are released for this session, and fewer than {MIN_DUPLICATED} images are "
            "duplicated, so there are no trials."
        )
    desc = " ".join(parts)
    resp = ResponseSet(
        mean=mean[:, None, :].astype(np.float32),
        windows_ms=np.array([[0.0, 100.0]]),
        units=UNITS,
        align="stimulus",
        trials=None if trials is None else trials[:, :, None, :],
        description=desc,
    )
    return RecordingData(
        recording_id=sid,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        neuron_ids=[f"{sid}_n{k}" for k in range(n_neurons)],
        neuron_areas=[AREA] * n_neurons,
        stimulus_ids=["+".join(names[i] for i in g) for g in groups],
        pixels=np.stack([images[g[0]] for g in groups])[:, None],
        responses={"spike_counts": resp},
        default_response="spike_counts",
        license=SOURCE.license,
        kinds=kinds,
        held_out_kind=held_out_kind,
    )

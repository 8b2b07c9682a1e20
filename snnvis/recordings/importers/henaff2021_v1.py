"""Hénaff et al. 2021: macaque V1 responses to frames of natural and synthetic movie sequences.

Layout of a session file ``V1_responses/ay<monkey>_u<penetration>_image_sequences.mat``
(MATLAB v7.3, read with h5py by ``_henaff_mat``; h5py shows every array with its axes reversed)::

    naturalStruct/sortedResponses   (repeats, units, frames 11, movies 10, categories 3, scales 2)
                                    spike count of each presentation of a frame in a window of
                                    ``integrationPeriod`` s starting ``response_latency`` s after
                                    frame onset (both read from the file); NaN where not recorded
    naturalStruct/psth_population   (time bins 35, units, movies, categories, scales)
                                    10 ms bins starting at ``psth_edges`` (left edges) relative to
                                    frame onset, averaged over the 11 frames of a sequence
    naturalStruct/stimulusStruct/<scale>/<category>/<movie>/stimulus_id   the stimulus id of
                                    each frame; ``stimulus/stimulusInfo.mat`` maps ids to files

What the data show (checked in every published session; the importer re-checks it):

* Frames were shown one at a time in pseudo-random order (``stimulus_ID_list``; consecutive
  presentations are almost never consecutive frames), ``stim_on_sec`` on and ``stim_off_sec``
  blank. A "sequence" here is the set of frames of one movie/category/scale, ordered as in
  the movie; ``frame_interval_ms`` is the onset-to-onset time of the presentation stream.
  The file's ``/protocol`` is ``independent`` with that timing and the order of
  ``stimulus_ID_list`` (``_henaff_protocol``; its description lists what is assumed).
* Natural sequences list 11 stimulus ids. Synthetic sequences list 9 (the interpolated frames
  2-10) and contrast sequences 10; their remaining frame slots hold responses identical, repeat
  for repeat, to natural-frame slots of the same movie and scale (the same presentations). The
  importer resolves those slots by that identity and requires them to be the endpoint ids
  ``first_frame_image_ids``/``last_frame_image_ids`` of ``stimulusStruct``. In the published
  data: synthetic = natural 1, synthetic 2..10, natural 11; contrast = contrast 1..10 (natural
  frame 1 at rising contrast), natural 11.
* Contrast sequences exist only at zoom1x and for 4 movies; (scale, category, movie) cells
  without stimulus ids or without any recorded response are left out (44 sequences).
* ``psth_population`` = spikes in a 10 ms bin summed over the 11 frames and all recorded
  presentations, divided by (11 x size of the repeats axis x 10 ms): spikes/s only when no
  presentation is missing. With ``psth_normalisation=valid`` (default) it is rescaled by
  (11 x repeats axis) / (presentations recorded for that unit and sequence, from the NaN
  pattern of sortedResponses), giving the mean rate in spikes/s; ``file`` keeps the values.
  Check: in sessions whose latency is a multiple of 10 ms, the rescaled PSTH summed over the
  bins of the count window x 10 ms equals the mean spike count exactly, which also shows that
  ``psth_edges`` are left bin edges (35 edges, 35 bins of 10 ms: -50..300 ms).
* ``response_latency`` differs between sessions (28-52 ms), and one session (ay4_u005) has 60
  repeats; both are read from each file.

Neurons: a unit whose responses cannot be averaged (a frame with no recorded repeat, or a
NaN PSTH, in any kept sequence) is dropped, since trial-averaged responses must not be NaN;
neuron ids keep the unit's 0-based position in the file (``<session>_u<k>``).
"""

from __future__ import annotations

import re

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.importers._henaff_mat import read_session, read_stimulus_info
from snnvis.recordings.importers._henaff_protocol import presentation_protocol
from snnvis.recordings.options import Option
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="henaff2021_v1",
    title="Macaque V1 responses to frames of natural, synthetic and contrast movie sequences",
    citation=(
        "Hénaff OJ, Bai Y, Charlton JA, Nauhaus I, Simoncelli EP, Goris RLT (2021). Primary visual "
        "cortex straightens natural video trajectories. Nature Communications 12:5982. "
        "doi:10.1038/s41467-021-25939-z"
    ),
    license="none stated (original data on OSF, osf.io/gwtcs)",
    species="macaque",
    urls={
        "V1_responses/": (
            "https://raw.githubusercontent.com/wongyoJung/"
            "Primary-visual-cortex-straightens-natural-video-trajectories/"
            "f304c18ceb2fee53260185c6e7c28a354f4c884b/V1_responses"
        ),
        "stimulus/": (
            "https://raw.githubusercontent.com/olivierhenaff/neural-straightening/"
            "0c58649521ad035b36af1b49001aa483bcc070de/images/acute/stimulus_fullfield"
        ),
    },
    description="Anesthetized macaque V1 (multi-electrode arrays); 512x512 grayscale frames, 200 ms on / "
    "100 ms blank, shown in random order; 10 movies x (natural, synthetic, contrast) x 2 zooms.",
)

SESSION_GLOB = "V1_responses/ay*_u*_image_sequences.mat"
SESSION_RE = re.compile(r"^V1_responses/(ay[^/]*_u[^/]*)_image_sequences\.mat$")
STIM_INFO = "stimulus/stimulusInfo.mat"
OPTIONS = (
    Option(
        "psth_normalisation",
        str,
        "valid",
        "valid: mean rate over the recorded presentations; file: the values as stored",
        choices=("valid", "file"),
    ),
)


def _alnum(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _movie_number(name: str) -> int:
    m = re.match(r"movie0*(\d+)", name)
    if not m:
        raise ValueError(name)
    return int(m.group(1))


# ---------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------


def discover(store: FileStore) -> dict[str, str | None]:
    """Every ``V1_responses/ay*_u*_image_sequences.mat``; other .mat files are not sessions."""
    found = {}
    has_info = store.exists(STIM_INFO)
    for rel in store.list(SESSION_GLOB):
        m = SESSION_RE.match(rel)
        if m:
            found[m.group(1)] = None if has_info else f"{STIM_INFO} (stimulus id -> file map) is missing"
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------
# Stimuli
# ---------------------------------------------------------------------------------------


def local_relpath(info_path: str, scale: str, movie_number: int) -> str:
    """The mirror path of a file named in stimulusInfo.mat.

    stimulusInfo.mat names the authors' original folders
    (``../original_images/stimSelected-zoom1x/movie01-chironomus/natural01.png``); the
    published copy keeps the zoom folder and file name and renames the movie folder to
    ``movie<number>`` (``stimulus/stimSelected-zoom1x/movie1/natural01.png``). The zoom
    and movie of the path must be the sequence's own.
    """
    parts = info_path.replace("\\", "/").split("/")
    if len(parts) < 3:
        raise ValueError(f"unexpected stimulus path {info_path!r}")
    zoom_dir, movie_dir, fname = parts[-3:]
    if zoom_dir != f"stimSelected-{scale}" or _movie_number(movie_dir) != movie_number:
        raise ValueError(f"stimulus path {info_path!r} is not of {scale}, movie {movie_number}")
    return f"stimulus/{zoom_dir}/movie{_movie_number(movie_dir)}/{fname}"


def _read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im)
    if a.dtype != np.uint8:
        raise UserError("stimulus image", f"expected 8-bit pixels, got {a.dtype}", path)
    return a[..., None] if a.ndim == 2 else a


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def _resolve_slots(R, key_idx, ids, natural, first, last, n_frames, where, file) -> list[int]:
    """Stimulus id of each frame slot of one sequence (see the module docstring)."""
    si, ci, mi = key_idx
    if len(ids) == n_frames:
        return [int(i) for i in ids]
    if natural is None:
        raise UserError(
            where,
            f"{len(ids)} stimulus ids for {n_frames} frames and no natural sequence to resolve the other frames",
            file,
        )
    nat_ids, nat_ci = natural
    slots: list[int | None] = [None] * n_frames
    for j in range(n_frames):
        block = R[:, :, j, mi, ci, si]
        if np.all(np.isnan(block)) or np.nansum(block) == 0:
            continue
        for jn in range(n_frames):
            if np.array_equal(block, R[:, :, jn, mi, nat_ci, si], equal_nan=True):
                slots[j] = int(nat_ids[jn])
                break
    shared = [s for s in slots if s is not None]
    if len(shared) != n_frames - len(ids) or not set(shared) <= {int(first), int(last)}:
        raise UserError(
            where,
            f"{len(ids)} stimulus ids for {n_frames} frames, and the other frames' responses "
            f"do not match the endpoint natural frames ({first}, {last}): found {shared}",
            file,
        )
    own = iter(int(i) for i in ids)
    return [s if s is not None else next(own) for s in slots]


def load(store: FileStore, session_id: str, psth_normalisation: str = "valid") -> RecordingData:
    rel = f"V1_responses/{session_id}_image_sequences.mat"
    path = store.path(rel)
    d = read_session(path)
    R, P, edges = d["R"], d["P"], d["edges"]
    if R.ndim != 6 or P.ndim != 5:
        raise UserError(
            "naturalStruct", f"sortedResponses {R.shape} / psth_population {P.shape}: expected 6 and 5 axes", path
        )
    n_rep, n_units, n_frames, n_movies, n_cats, n_scales = R.shape
    if (
        P.shape[1:] != (n_units, n_movies, n_cats, n_scales)
        or P.shape[0] != len(edges)
        or (len(d["movie_titles"]), len(d["categories"]), len(d["scales"])) != (n_movies, n_cats, n_scales)
    ):
        raise UserError(
            "naturalStruct",
            f"inconsistent shapes: sortedResponses {R.shape}, psth_population "
            f"{P.shape}, {len(edges)} psth_edges, {len(d['movie_titles'])} movies, "
            f"{len(d['categories'])} categories, {len(d['scales'])} scales",
            path,
        )
    id_to_path = read_stimulus_info(store.path(STIM_INFO))

    # movie field names in stimulusStruct ("movie02bees") -> index on the movie axis ("movie02-bees")
    title_index = {_alnum(t): i for i, t in enumerate(d["movie_titles"])}
    try:
        movie_numbers = [_movie_number(t) for t in d["movie_titles"]]
    except ValueError as err:
        raise UserError(
            "naturalStruct/stimulusStruct/movie_titles", f"title {err} is not 'movieNN-...'", path
        ) from None
    natural_cat = "natural" if "natural" in d["categories"] else None

    cells = {}
    for scale, cat, field in d["ids"]:
        if scale not in d["scales"] or cat not in d["categories"] or _alnum(field) not in title_index:
            raise UserError(
                f"stimulusStruct/{scale}/{cat}/{field}", "scale, category or movie not on the response axes", path
            )
        cells[(d["scales"].index(scale), d["categories"].index(cat), title_index[_alnum(field)])] = (scale, cat, field)
    seqs, skipped = [], []  # (stimulus id, group, slot ids, (si, ci, mi))
    for si, ci, mi in sorted(cells):
        scale, cat, field = cells[(si, ci, mi)]
        ids, movie = d["ids"][(scale, cat, field)], d["movie_titles"][mi]
        where = f"stimulusStruct/{scale}/{cat}/{field}"
        if np.all(np.isnan(R[:, :, :, mi, ci, si])):
            skipped.append(f"{scale}/{cat}/{movie}")
            continue
        natural = None
        if natural_cat and (scale, natural_cat, field) in d["ids"]:
            natural = (d["ids"][(scale, natural_cat, field)], d["categories"].index(natural_cat))
        slot_ids = _resolve_slots(
            R, (si, ci, mi), ids, natural, d["first"][si][mi], d["last"][si][mi], n_frames, where, path
        )
        for i, p in zip(ids, d["paths"].get((scale, cat, field), [])):
            if id_to_path.get(int(i)) != p:
                raise UserError(
                    where, f"stimulus id {i} is {p!r} here but {id_to_path.get(int(i))!r} in {STIM_INFO}", path
                )
        seqs.append((f"{scale}/{cat}/{movie}", f"movie{movie_numbers[mi]}", slot_ids, (si, ci, mi)))
    has_data = ~np.isnan(R).all(axis=(0, 1, 2))  # (movies, categories, scales)
    for mi, ci, si in zip(*np.nonzero(has_data)):
        if (si, ci, mi) not in cells:
            skipped.append(
                f"{d['scales'][si]}/{d['categories'][ci]}/{d['movie_titles'][mi]} (responses but no stimulus ids)"
            )
    if not seqs:
        raise UserError(f"session {session_id}", "no sequence with recorded responses", path)

    # pixels: every frame through its stimulus id -> stimulusInfo.mat -> PNG
    cache: dict[int, np.ndarray] = {}
    frames = []
    for sid, _, slot_ids, (si, _, mi) in seqs:
        for i in slot_ids:
            if i not in cache:
                if i not in id_to_path:
                    raise UserError(f"stimulus id {i} of {sid}", f"not in {STIM_INFO}", path)
                try:
                    relpng = local_relpath(id_to_path[i], d["scales"][si], movie_numbers[mi])
                except ValueError as err:
                    raise UserError(f"stimulus id {i} of {sid}", str(err), STIM_INFO) from None
                cache[i] = _read_png(store.path(relpng))
            frames.append(cache[i])
    shapes = {fr.shape for fr in frames}
    if len(shapes) != 1:
        raise UserError(f"stimuli of {session_id}", f"frames differ in shape: {sorted(shapes)}")
    pixels = np.stack(frames).reshape(len(seqs), n_frames, *frames[0].shape)

    # responses
    idx = [k for *_, k in seqs]
    trials = np.stack([R[:, :, :, mi, ci, si].transpose(0, 2, 1) for si, ci, mi in idx])  # (S, rep, F, U)
    n_valid = (~np.isnan(trials)).sum(axis=1)  # (S, F, U)
    psth = np.stack([P[:, :, mi, ci, si] for si, ci, mi in idx])  # (S, T, U)
    presented = n_valid.sum(axis=1)  # (S, U)
    bad = (n_valid == 0).any(axis=(0, 1)) | np.isnan(psth).any(axis=(0, 1))
    keep = np.flatnonzero(~bad)
    if keep.size == 0:
        raise UserError(f"session {session_id}", "no unit has responses to every frame", path)
    trials, n_valid, psth, presented = trials[..., keep], n_valid[..., keep], psth[..., keep], presented[:, keep]
    used = np.flatnonzero((~np.isnan(trials)).any(axis=(0, 2, 3)))
    trials = trials[:, : used.max() + 1]
    mean = np.nanmean(trials, axis=1)
    if psth_normalisation == "valid":
        psth = psth * (n_frames * n_rep / presented)[:, None, :]

    ms = lambda s: round(float(s) * 1000.0, 6)  # noqa: E731
    lat, integ = ms(d["latency"]), ms(d["integration"])
    widths = np.diff(edges)
    if len(edges) > 1 and not np.allclose(widths, widths[0]):
        raise UserError("naturalStruct/psth_edges", "bins are not evenly spaced", path)
    bin_ms = ms(widths[0]) if len(edges) > 1 else ms(0.01)
    starts = np.array([ms(e) for e in edges])
    psth_windows = np.stack([starts, starts + bin_ms], axis=1)
    on, interval = ms(d["on"]), ms(d["on"] + d["off"])
    order = (
        f"Frames were shown one at a time in random order ({on:g} ms on, {ms(d['off']):g} ms blank), not as "
        "movies; a stimulus is the frames of one movie/category/zoom in movie order."
    )
    dropped = [int(k) for k in np.flatnonzero(bad)]
    notes = (
        f"Units dropped (a frame with no recorded repeat or a NaN PSTH in a kept sequence): "
        f"{dropped or 'none'}. Sequences without recorded responses left out: {', '.join(skipped) or 'none'}."
    )
    area = str(d["area"]).strip() or "V1"

    responses = {
        "frame_counts": ResponseSet(
            mean=mean.astype(np.float32),
            trials=trials.astype(np.float32),
            windows_ms=np.array([[lat, lat + integ]]),
            align="frame",
            frame_average=False,
            units=f"spike count in {integ:g} ms window from {lat:g} ms after frame onset",
            description=(
                f"naturalStruct/sortedResponses: spike count of each frame presentation, one bin per "
                f"frame; mean over recorded repeats (NaN-padded trials, up to {trials.shape[1]}). "
                f"Synthetic and contrast sequences share their natural endpoint frames' presentations. "
                f"{order} {notes}"
            ),
        ),
        "psth": ResponseSet(
            mean=psth.astype(np.float32),
            windows_ms=psth_windows,
            align="frame",
            frame_average=True,
            units="spikes/s"
            if psth_normalisation == "valid"
            else f"spikes/s x (recorded presentations / ({n_frames} frames x {n_rep} repeats))",
            description=(
                f"naturalStruct/psth_population: {bin_ms:g} ms bins from frame onset, averaged over the "
                f"{n_frames} frames of the sequence. The file divides spike totals by {n_frames} x {n_rep} "
                f"(the repeats axis) x bin width; "
                + (
                    "rescaled here by the presentations actually recorded per unit (sortedResponses), "
                    "so values are mean rates."
                    if psth_normalisation == "valid"
                    else "kept as in the file (lower than the rate where presentations are missing)."
                )
                + f" {order} {notes}"
            ),
        ),
    }
    return RecordingData(
        recording_id=session_id,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        license=SOURCE.license,
        protocol=presentation_protocol(d, seqs, on, ms(d["off"]), path),
        neuron_ids=[f"{session_id}_u{k}" for k in keep],
        neuron_areas=[area] * keep.size,
        stimulus_ids=[s for s, *_ in seqs],
        stimulus_groups=[g for _, g, *_ in seqs],
        pixels=pixels,
        group_universe=[f"movie{n}" for n in movie_numbers],
        responses=responses,
        default_response="frame_counts",
        frame_duration_ms=on,
        frame_interval_ms=interval,
        importer_options={"psth_normalisation": psth_normalisation},
    )

"""Allen Brain Observatory natural movies (the layout of Huang et al.'s movie analyses): per-area
spike counts per movie frame, with repeats, plus the movie itself.

Nothing is downloaded: the Allen data come as NWB files through the AllenSDK, and users
extract the arrays below themselves. Import from a local folder with ``--mirror DIR``,
where ``DIR/allen_natural_movie/`` holds::

    movies/<movie>.npy            uint8 (frames, H, W) or (frames, H, W, C): the movie as shown
    movies/<movie>.npz            the same, as the array named ``frames`` (or the only array)
    movies/<movie>.<video>        the same, as a video file read with imageio (.gif and .tif through Pillow
                                  and tifffile; .mp4/.avi/.mov/.mkv/.webm through PyAV or imageio-ffmpeg).
                                  Decoded video is RGB; it is stored as grey (C = 1) only when the three
                                  channels are identical, since lossy codecs leave small colour differences
    responses/<session>/<movie>/<area>.npy         (frames, repeats, neurons) spike count of each neuron
                                  in each frame's bin (1 / frame rate) on each repeat; NaN = not recorded
    responses/<session>/<movie>/<area>.units.txt   optional: one unit id per line (default
                                  ``<session>_<area>_<k>``)
    responses/<session>/<movie>/timing.json        optional: {"frame_rate_hz": 30.0} (default 30 Hz,
                                  the Allen natural movies' rate)

Each ``responses/<session>/<movie>/`` folder is one recording, id ``<session>_<movie>``, with
the neurons of all its areas (``<area>`` is the file stem, e.g. VISp, VISl, VISal). Every area
file must have the movie's number of frames; repeats may differ (NaN-padded to the largest).

Stimuli are consecutive clips of ``clip_frames`` frames (option, default 30 = 1 s at 30 Hz);
frames after the last whole clip are left out. Responses ``counts`` are frame-aligned, one bin
per frame (bin f of a stimulus is frame f of the clip). Splits: clips are grouped in blocks of
``block_clips`` consecutive clips (option, default 3) and a whole block takes one split, by the
seeded quota rule over the movie's blocks, so a block has the same split in every session.
Near-duplicate families are the blocks themselves: adjacent frames of a movie are always
near-duplicates, so joining by frame similarity would chain the whole movie into one family;
the frames on either side of a block boundary are the one remaining similarity between splits.

Protocol ``movie``: the frames were shown back to back at the frame rate with no blank, the
whole movie once per repeat; ``order`` holds one repeat, clip by clip. Assumed, not checked:
each response bin is aligned to its frame's onset (no latency shift applied), and the frame
rate is that of ``timing.json`` (or 30 Hz).
"""

from __future__ import annotations

import json
import re

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.options import Option
from snnvis.recordings.protocol import Protocol
from snnvis.recordings.sources import FileStore, Source

SOURCE = Source(
    name="allen_natural_movie",
    title="Mouse visual cortex spike counts per frame of natural movies (Allen Brain Observatory layout)",
    citation=(
        "Siegle JH et al. (2021). Survey of spiking in the mouse visual system reveals functional "
        "hierarchy. Nature 592:86-92 (Allen Brain Observatory, Visual Coding - Neuropixels); analysis "
        "layout after Huang L et al. (2024), deep spiking networks and mouse visual cortex."
    ),
    license="Allen Institute Terms of Use",
    species="mouse (Mus musculus)",
    urls={},
    description="Local files only (extract them with the AllenSDK): per-area (frames, repeats, neurons) spike "
    "counts at the movie's frame rate, and the movie frames as .npy/.npz or a video file.",
)

OPTIONS = (
    Option("clip_frames", int, 30, "movie frames per stimulus (clip)", minimum=1),
    Option("block_clips", int, 3, "clips per split block", minimum=1),
)
NEEDS_LOCAL = True  # nothing can be downloaded
FAMILIES_FROM_IMPORTER = True  # see the module docstring: blocks, not frame similarity
DEFAULT_RATE_HZ = 30.0
VIDEO_SUFFIXES = (".gif", ".tif", ".tiff", ".mp4", ".avi", ".mov", ".mkv", ".webm")
_RESP_RE = re.compile(r"^responses/([^/]+)/([^/]+)/([^/]+)\.npy$")


def _sessions(store: FileStore) -> dict[str, tuple[str, str, list[str]]]:
    """recording id -> (session, movie, sorted area names)."""
    if store.root is None:
        raise UserError(
            f"source {SOURCE.name}",
            "its files cannot be downloaded: extract them from the Allen "
            "Brain Observatory (AllenSDK) and pass --mirror DIR holding allen_natural_movie/",
        )
    out: dict[str, tuple[str, str, list[str]]] = {}
    for rel in store.list("responses/*/*/*.npy"):
        m = _RESP_RE.match(rel)
        if m:
            sess, movie, area = m.groups()
            out.setdefault(f"{sess}_{movie}", (sess, movie, []))[2].append(area)
    return {k: (s, mv, sorted(a)) for k, (s, mv, a) in sorted(out.items())}


def _movie_file(store: FileStore, movie: str) -> str | None:
    for suffix in (".npy", ".npz", *VIDEO_SUFFIXES):
        if store.exists(f"movies/{movie}{suffix}"):
            return f"movies/{movie}{suffix}"
    return None


def discover(store: FileStore) -> dict[str, str | None]:
    return {
        rid: None if _movie_file(store, movie) else f"no movies/{movie}.npy, .npz or video file"
        for rid, (_, movie, _) in _sessions(store).items()
    }


def read_frames(path) -> np.ndarray:
    """uint8 (frames, H, W, C) from a .npy, .npz or video file; grey video frames get C = 1."""
    suffix = str(path).lower().rsplit(".", 1)[-1]
    if suffix == "npy":
        a = np.load(path, allow_pickle=False)
    elif suffix == "npz":
        with np.load(path, allow_pickle=False) as z:
            if "frames" not in z.files and len(z.files) != 1:
                raise UserError("movie", f"an .npz movie needs an array named 'frames' (has {z.files})", path)
            a = z["frames" if "frames" in z.files else z.files[0]]
    else:
        import imageio.v3 as iio

        try:
            a = np.asarray(iio.imread(path, index=None))
        except OSError as err:
            raise UserError(
                "movie",
                f"cannot decode the video ({' '.join(str(err).split())[:160]}); a damaged "
                "file, or no video backend: .mp4/.avi need PyAV (av) or imageio-ffmpeg; or save the "
                "frames as .npy",
                path,
            ) from None
        if a.ndim == 4 and a.shape[-1] == 4:
            a = a[..., :3]  # drop alpha
        if a.ndim == 4 and a.shape[-1] == 3 and (a == a[..., :1]).all():
            a = a[..., :1]  # grey stored as RGB
    if a.dtype != np.uint8:
        raise UserError("movie", f"frames must be uint8 (0..255), got {a.dtype}", path)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[-1] not in (1, 3) or a.shape[0] < 1:
        raise UserError("movie", f"frames must be (frames, H, W) or (frames, H, W, 1|3), got {a.shape}", path)
    return a


def _rate(store: FileStore, folder: str) -> float:
    rel = f"{folder}/timing.json"
    if not store.exists(rel):
        return DEFAULT_RATE_HZ
    path = store.path(rel)
    try:
        rate = float(json.loads(path.read_text())["frame_rate_hz"])
    except (ValueError, KeyError, TypeError):
        raise UserError("timing.json", 'must be {"frame_rate_hz": <number > 0>}', path) from None
    if not np.isfinite(rate) or rate <= 0:
        raise UserError("timing.json", f"frame_rate_hz must be > 0, got {rate}", path)
    return rate


def load(store: FileStore, session_id: str, clip_frames: int = 30, block_clips: int = 3) -> RecordingData:
    clip, block = clip_frames, block_clips
    sessions = _sessions(store)
    if session_id not in sessions:
        raise UserError(f"session {session_id!r} of source {SOURCE.name}", "unknown session")
    sess, movie, areas = sessions[session_id]
    movie_rel = _movie_file(store, movie)
    if movie_rel is None:
        raise UserError(f"session {session_id!r}", f"no movie file movies/{movie}.*", store.root)
    frames = read_frames(store.path(movie_rel))
    folder = f"responses/{sess}/{movie}"
    rate = _rate(store, folder)
    n_frames, counts, ids, area_of = frames.shape[0], [], [], []
    for area in areas:
        path = store.path(f"{folder}/{area}.npy")
        c = np.load(path, allow_pickle=False)
        if c.ndim != 3 or c.dtype.kind not in "fiu":
            raise UserError("responses", f"must be numeric (frames, repeats, neurons), got {c.dtype} {c.shape}", path)
        if c.shape[0] != n_frames:
            raise UserError("responses", f"{c.shape[0]} frames, but the movie {movie_rel} has {n_frames}", path)
        if np.isinf(c).any() or (c[np.isfinite(c)] < 0).any():
            raise UserError("responses", "spike counts must be >= 0 and finite (NaN = not recorded)", path)
        names = [f"{sess}_{area}_{k}" for k in range(c.shape[2])]
        if store.exists(f"{folder}/{area}.units.txt"):
            upath = store.path(f"{folder}/{area}.units.txt")
            names = [ln.strip() for ln in upath.read_text().splitlines() if ln.strip()]
            if len(names) != c.shape[2]:
                raise UserError("unit ids", f"{len(names)} ids for {c.shape[2]} neurons in {area}.npy", upath)
        counts.append(c.astype(np.float64))
        ids += names
        area_of += [area] * c.shape[2]
    n_rep = max(c.shape[1] for c in counts)
    trials = np.concatenate(
        [np.pad(c, ((0, 0), (0, n_rep - c.shape[1]), (0, 0)), constant_values=np.nan) for c in counts], axis=2
    )  # (F, R, N)
    n_clips = n_frames // clip
    if n_clips < 1:
        raise UserError(f"session {session_id!r}", f"the movie has {n_frames} frames, fewer than clip_frames={clip}")
    used = n_clips * clip
    keep = np.flatnonzero(~np.isnan(trials[:used]).all(axis=1).any(axis=0))  # a frame never recorded: drop
    if keep.size == 0:
        raise UserError(f"session {session_id!r}", "no neuron has a recorded repeat of every frame")
    t = trials[:used][:, :, keep].reshape(n_clips, clip, n_rep, keep.size).transpose(0, 2, 1, 3)
    frame_ms = 1000.0 / rate
    blocks = [f"{movie}:block{c // block:04d}" for c in range(n_clips)]
    dropped = sorted(set(range(len(ids))) - set(keep.tolist()))
    order = np.stack(np.meshgrid(np.arange(n_clips), np.arange(clip), indexing="ij"), -1).reshape(-1, 2)
    return RecordingData(
        recording_id=session_id,
        source=SOURCE.name,
        species=SOURCE.species,
        citation=SOURCE.citation,
        license=SOURCE.license,
        neuron_ids=[ids[k] for k in keep],
        neuron_areas=[area_of[k] for k in keep],
        stimulus_ids=[f"{movie}/frames{c * clip:05d}-{(c + 1) * clip - 1:05d}" for c in range(n_clips)],
        pixels=np.ascontiguousarray(frames[:used].reshape(n_clips, clip, *frames.shape[1:])),
        stimulus_groups=blocks,
        group_universe=sorted(set(blocks)),
        families=blocks,
        responses={
            "counts": ResponseSet(
                mean=np.nanmean(t, axis=1).astype(np.float32),
                trials=t.astype(np.float32),
                windows_ms=np.array([[0.0, frame_ms]]),
                align="frame",
                frame_average=False,
                units=f"spike count per {frame_ms:g} ms frame bin",
                description=(
                    f"{folder}/<area>.npy: spike counts per movie frame ({rate:g} Hz), {n_rep} repeats "
                    f"(NaN-padded), in clips of {clip} frames; one bin per frame. Frames after frame "
                    f"{used - 1} left out: {n_frames - used}. Neurons dropped (a frame never recorded): "
                    f"{[ids[k] for k in dropped] or 'none'}."
                ),
            )
        },
        default_response="counts",
        frame_duration_ms=frame_ms,
        frame_interval_ms=frame_ms,
        protocol=Protocol(
            "movie",
            frame_ms,
            0.0,
            order=order,
            order_ids=np.arange(used).astype(str),
            description=(
                f"The movie {movie} shown continuously at {rate:g} Hz, whole, once per "
                f"repeat; order (one repeat) lists its frames clip by clip, order_ids "
                f"the frame number in the movie. Assumed: response bins start at each "
                f"frame's onset; the clips are consecutive, so state before a clip is "
                f"the previous clip's, not a reset."
            ),
        ),
    )

"""Import a public source into recording files: ``<out>/<source>/<session>.h5``.

Splits are joined across the sessions of a source: before writing, the near-duplicate
families (:mod:`snnvis.recordings.neardup`) are computed over a *pool* of every session
that is available: the sessions being imported, the other sessions the store offers
(when the importer can list their pixels cheaply with ``stimulus_pixels``), and the
files already in ``<out>/<source>/``. A file whose families no longer match the pool is
rewritten even when its source files are unchanged. Over the same pool, a family that
holds a stimulus of another kind than its session's held-out kind (``held_out_kind``;
the importer lists the kinds with ``stimulus_kinds``) takes train in every session,
unless a file imported earlier holds it in validation or test, whose split it then keeps.
"""

from __future__ import annotations

import logging
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings import importers, neardup
from snnvis.recordings import options as opts
from snnvis.recordings.format import RecordingData, check_recording_data, check_target, frame_hashes_of, write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import FileStore
from snnvis.utils import content_hash

log = logging.getLogger(__name__)


def _keys_of(data: RecordingData, cache: dict) -> tuple:
    """(frame_hash, phash, thumbs) of a loaded session; frames already in ``cache`` are not hashed again."""
    fh = frame_hashes_of(data)
    if data.pixels is None:
        return fh, None, None
    if data.frame_keys is None:
        todo = {h: (i, k) for i, row in enumerate(fh) for k, h in enumerate(row) if h not in cache}
        if todo:
            frames = np.stack([data.pixels[i, k] for i, k in todo.values()])[:, None]
            ph, th = neardup.frame_keys(frames)
            cache.update({h: (ph[j, 0], th[j, 0]) for j, h in enumerate(todo)})
        data.frame_keys = (
            np.array([[cache[h][0] for h in row] for row in fh], dtype=object),
            np.array([[cache[h][1] for h in row] for row in fh], dtype=np.uint8),
        )
    return (fh, *data.frame_keys)


def _train_only_frames(frame_hash, kinds, held_out_kind: str) -> set[str]:
    """Frames of stimuli of another kind than ``held_out_kind``; the first stimulus holding a frame decides."""
    first: dict[str, bool] = {}
    if held_out_kind:
        for row, kind in zip(frame_hash, kinds, strict=True):
            for h in row:
                first.setdefault(str(h), kind != held_out_kind)
    return {h for h, train_only in first.items() if train_only}


def _existing(out_dir: Path, skip: set[str], store: FileStore) -> tuple[dict[str, tuple], set[str], dict, set, set]:
    """Near-duplicate keys of the current-format recordings already in ``out_dir``, by session id,
    the ids among them whose source files in ``store`` are unchanged, their stored family
    of every frame (the anchors of :func:`~snnvis.recordings.neardup.families`), their
    train-only frames and the frames they hold in validation or test."""
    keys, current, anchors, train_only, held_out = {}, set(), {}, set(), set()
    for path in sorted(out_dir.glob("*.h5")) if out_dir.is_dir() else []:
        try:
            rec = Recording(path)
            if rec.id in skip:
                continue
            keys[rec.id] = rec.near_dup_keys()
            for row, fam in zip(rec.frame_hash, rec.family, strict=True):
                for h in row:
                    anchors[h] = min(anchors.get(h, fam), fam)
            train_only |= _train_only_frames(rec.frame_hash, rec.kind, rec.held_out_kind)
            held = np.concatenate([rec.split("validation"), rec.split("test")])
            held_out.update(str(h) for h in rec.frame_hash[held].ravel())
            files = rec.provenance()["files"]
            if files and all(
                store.exists(f["name"]) and store.path(f["name"]) and store.digests[f["name"]] == f["sha256"]
                for f in files
            ):
                current.add(rec.id)
        except UserError as err:
            log.info("not joining %s for near-duplicate splits: %s", path, err.why)
    return keys, current, anchors, train_only, held_out


def pool_families(
    module, mirror, out_dir: Path, found: dict, loaded: dict[str, RecordingData], wanted=(), cache: dict | None = None
) -> tuple[dict[str, str], set[str]]:
    """Family key of every frame of every session available to join splits with, and the
    families that take train in every session (see module doc).

    A session already imported from unchanged files contributes the keys stored in its file;
    the others are computed from the store. ``cache`` (if given) receives (phash, thumb) by frame hash.
    """
    cache = {} if cache is None else cache
    keys = {sid: _keys_of(d, cache) for sid, d in loaded.items()}
    train_only = set().union(
        *(_train_only_frames(keys[sid][0], d.kinds or [""] * d.n_stimuli, d.held_out_kind) for sid, d in loaded.items())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unregistered files warn when they are imported
        existing, current, anchors, stored_train_only, held_out = _existing(
            out_dir, set(keys), FileStore(module.SOURCE, mirror)
        )
    train_only |= stored_train_only
    lister = getattr(module, "stimulus_pixels", None)
    kinds_of = getattr(module, "stimulus_kinds", None)
    for sid, reason in found.items():
        if lister is None or reason is not None or sid in keys or sid in current:
            continue
        store = FileStore(module.SOURCE, mirror)
        try:
            pixels = lister(store, sid)
            kinds, held_out_kind = kinds_of(store, sid) if kinds_of else ([], "")
        except (UserError, *_DECODE_ERRORS) as err:
            why = err.why if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
            warnings.warn(
                f"{module.SOURCE.name}: session {sid} is left out of the near-duplicate join: {why}", stacklevel=2
            )
            continue
        fh = np.array([[content_hash(fr) for fr in stim] for stim in pixels], dtype=object)
        keys[sid] = (fh, *neardup.frame_keys(pixels))
        train_only |= _train_only_frames(fh, kinds, held_out_kind)
    keys.update({sid: k for sid, k in existing.items() if sid not in keys})
    family_of = neardup.families(list(keys.values()), anchors)
    train_only_families = {family_of.get(h, h) for h in train_only} - {family_of.get(h, h) for h in held_out}
    cache.update(
        {
            h: (ph[i, k], th[i, k])
            for fh, ph, th in keys.values()
            if ph is not None
            for i in range(fh.shape[0])
            for k, h in enumerate(fh[i])
        }
    )
    for sid, (fh, _, _) in existing.items():
        stored = Recording(out_dir / f"{sid}.h5").family if (out_dir / f"{sid}.h5").is_file() else None
        if stored is not None and list(stored) != neardup.stimulus_families(fh, family_of) and sid not in wanted:
            warnings.warn(
                f"{module.SOURCE.name}: session {sid} now shares near-duplicates with stimuli it was "
                f"not joined with; re-import it (--only {sid}) to update its splits",
                stacklevel=2,
            )
    return family_of, train_only_families


def _up_to_date(path: Path, store: FileStore, options: dict, family_of: dict | None = None, declared=()) -> bool:
    """True when ``path`` is a valid recording made from the same files and options (and families).

    ``options`` are the resolved options (:func:`snnvis.recordings.options.resolve` over ``declared``);
    the file's recorded options are resolved the same way, so ``-o bin_ms=50``, ``-o bin_ms=50.0`` and
    no option at all (default 50) are the same import."""
    try:
        rec = Recording(path)
        prov = rec.provenance()
        if family_of is not None and list(rec.family) != [
            min(family_of.get(h, h) for h in row) for row in rec.frame_hash
        ]:
            return False
    except UserError:
        return False
    try:
        if opts.resolve(store.source.name, declared, prov["options"]) != options:
            return False
    except UserError:  # an option this importer no longer takes, or a value it no longer accepts
        return False
    try:
        return all(store.path(f["name"]) and store.digests[f["name"]] == f["sha256"] for f in prov["files"])
    except UserError:
        return False


def import_source(
    name: str,
    mirror: str | Path | None = None,
    out: str | Path = "recordings",
    only: list[str] | None = None,
    force: bool = False,
    progress=None,
    **options,
) -> list[Path]:
    """Import ``name`` (all importable sessions, or ``only`` these) and return the files written.

    Sessions that cannot be imported are skipped with a warning when importing the whole
    source, and are an error when asked for by ``only``. Existing files are replaced only
    after the new file is complete; a failed import leaves them untouched.
    """
    module = importers.get(name)
    declared = opts.declared(module)
    typed = opts.resolve(name, declared, options)  # the one check of the options, before any file is read
    store = FileStore(module.SOURCE, mirror)
    if store.root is not None and not store.root.is_dir():
        raise UserError(f"source {name}", f"not found in mirror {store.mirror} (no folder {name}/ there)", store.root)
    found = module.discover(store)
    if only:
        for sid in only:
            if sid not in found:
                raise UserError(f"session {sid!r} of source {name}", f"unknown session (found: {', '.join(found)})")
            if found[sid] is not None:
                raise UserError(f"session {sid!r} of source {name}", found[sid])
        wanted = list(only)
    else:
        for sid, reason in found.items():
            if reason is not None:
                warnings.warn(f"{name}: skipping session {sid}: {reason}", stacklevel=2)
        wanted = [sid for sid, reason in found.items() if reason is None]
    if not wanted:
        raise UserError(f"source {name}", "no importable sessions found")
    out_dir = Path(out) / name
    loaded: dict[str, RecordingData] = {}
    if getattr(module, "stimulus_pixels", None) is None:  # the pool needs the wanted sessions' pixels
        for sid in wanted:
            target = out_dir / f"{sid}.h5"
            fresh = FileStore(module.SOURCE, mirror)
            if force or not (target.is_file() and _up_to_date(target, fresh, typed, None, declared)):
                loaded[sid] = _load(module, mirror, sid, typed, options)
    cache: dict = {}
    own_families = getattr(module, "FAMILIES_FROM_IMPORTER", False)  # e.g. blocks of one continuous movie
    family_of, train_only_families = (
        ({}, None) if own_families else pool_families(module, mirror, out_dir, found, loaded, wanted, cache)
    )
    todo: dict[str, RecordingData] = {}
    for sid in progress(wanted) if progress else wanted:  # read and check everything before writing
        target = out_dir / f"{sid}.h5"
        check_target(target)
        if (
            sid not in loaded
            and not force
            and target.is_file()
            and _up_to_date(
                target, FileStore(module.SOURCE, mirror), typed, None if own_families else family_of, declared
            )
        ):
            continue
        data = loaded.pop(sid, None) or _load(module, mirror, sid, typed, options)
        fh = frame_hashes_of(data)
        if data.pixels is not None and data.frame_keys is None and all(h in cache for h in fh.ravel()):
            data.frame_keys = (
                np.array([[cache[h][0] for h in row] for row in fh], dtype=object),
                np.array([[cache[h][1] for h in row] for row in fh], dtype=np.uint8),
            )
        if not (own_families and data.families is not None):
            data.families = neardup.stimulus_families(fh, family_of)
        if train_only_families is not None:
            data.train_only_families = train_only_families
        check_recording_data(data, target)
        todo[sid] = data
    for sid, data in todo.items():
        write_recording(out_dir / f"{sid}.h5", data)
    return [out_dir / f"{sid}.h5" for sid in wanted]


_DECODE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    NotImplementedError,
    zipfile.BadZipFile,
    struct.error,
)


def _load(module, mirror, sid: str, typed: dict, given: dict) -> RecordingData:
    """One session through its importer (with the ``typed`` options); an unreadable source file is one
    UserError naming it. The provenance records the options as ``given``."""
    store = FileStore(module.SOURCE, mirror)
    try:
        data = module.load(store, sid, **typed)
    except UserError:
        raise
    except _DECODE_ERRORS as err:
        last = store.provenance[-1][0] if store.provenance else module.SOURCE.name
        where = store.root / last if store.root is not None and store.provenance else None
        raise UserError(
            f"session {sid!r} of source {module.SOURCE.name}",
            f"cannot read {last} ({type(err).__name__}: {' '.join(str(err).split())[:200]})",
            where,
        ) from None
    data.provenance = list(store.provenance)
    data.unregistered = list(store.unregistered)
    data.importer_options = dict(given)
    return data

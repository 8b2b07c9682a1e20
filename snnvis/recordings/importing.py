"""Import a public source into recording files: ``<out>/<source>/<session>.h5``."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from snnvis.errors import UserError
from snnvis.recordings import importers
from snnvis.recordings.format import write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.sources import FileStore


def _up_to_date(path: Path, store: FileStore, options: dict) -> bool:
    """True when ``path`` is a valid recording made from the same files and options."""
    try:
        prov = Recording(path).provenance()
    except UserError:
        return False
    if prov["options"] != json.loads(json.dumps(options, default=str)):
        return False
    try:
        return all(store.path(f["name"]) and store.digests[f["name"]] == f["sha256"] for f in prov["files"])
    except UserError:
        return False


def import_source(name: str, mirror: str | Path | None = None, out: str | Path = "recordings",
                  only: list[str] | None = None, force: bool = False, progress=None,
                  **options) -> list[Path]:
    """Import ``name`` (all importable sessions, or ``only`` these) and return the files written.

    Sessions that cannot be imported are skipped with a warning when importing the whole
    source, and are an error when asked for by ``only``. Existing files are replaced only
    after the new file is complete; a failed import leaves them untouched.
    """
    module = importers.get(name)
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
    written = []
    for sid in (progress(wanted) if progress else wanted):
        target = Path(out) / name / f"{sid}.h5"
        if not force and target.is_file() and _up_to_date(target, FileStore(module.SOURCE, mirror), options):
            written.append(target)
            continue
        store = FileStore(module.SOURCE, mirror)
        data = module.load(store, sid, **options)
        data.provenance = list(store.provenance)
        data.unregistered = list(store.unregistered)
        data.importer_options = options
        written.append(write_recording(target, data))
    return written

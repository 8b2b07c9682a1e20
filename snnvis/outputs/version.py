"""The schema version written into each output file, and its check on read."""

from __future__ import annotations

from pathlib import Path

from snnvis.errors import UserError

VERSION_KEY = "schema_version"


def check_version(found, current: int, what: str, path: str | Path) -> int:
    """The schema version of a file (``found``; None: a file written before versions were
    recorded, whose layout is version 1). UserError for a version this snnvis cannot read."""
    if found is None:
        return 1
    try:
        version = int(found)
        if isinstance(found, float) and version != found:
            raise ValueError(found)
    except (TypeError, ValueError):
        raise UserError(what, f"{VERSION_KEY} {found!r} is not an integer; re-run to write it again", path) from None
    if version > current:
        raise UserError(
            what, f"{VERSION_KEY} {version} is newer than this snnvis reads ({current}); upgrade snnvis", path
        )
    if version < 1:
        raise UserError(what, f"{VERSION_KEY} {version} is unknown; re-run to write it again", path)
    return version

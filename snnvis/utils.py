"""Small shared helpers: atomic file writes, seeding, hashing."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A run killed mid-write leaves only ``.<name>.tmp-<pid>``, never a half-written
    file under the final name. On an exception the temporary file is removed and
    any existing file at ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(array: np.ndarray) -> str:
    """sha1 of an array's shape, dtype and bytes: equal content gives an equal hash."""
    a = np.ascontiguousarray(array)
    h = hashlib.sha1(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def read_csv_rows(path: str | os.PathLike, required: tuple[str, ...], what: str) -> list[dict]:
    """Rows of a CSV file as dicts of strings; UserError naming ``what`` when it is
    unreadable or lacks one of the ``required`` columns."""
    from snnvis.errors import UserError

    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(what, f"missing column {missing[0]!r}", path)
            return list(reader)
    except OSError as err:
        raise UserError(what, f"cannot read ({err.strerror or err})", path) from None
    except csv.Error as err:
        raise UserError(what, f"not a CSV file ({err})", path) from None


def seed_everything(seed: int) -> None:
    """One seed drives Python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], align: str = "") -> str:
    """A Markdown table; ``align`` has one letter per column, ``r`` right-aligns it
    (default: all left). Cells are written as they are (format them first)."""

    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    align = align or "l" * len(header)
    if len(align) != len(header):
        raise ValueError(f"align gives {len(align)} columns for {len(header)}")
    separator = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return "\n".join([line(header), separator, *(line(r) for r in rows)])


PRINTED = "snnvis_printed"  # LogRecord attribute: the message is on stdout already


def say(logger, message: str, *, level: int = 20) -> None:
    """Print ``message`` to stdout (what the user sees, with or without logging set up) and log it
    (level INFO by default) so that a run's log file holds it too; :func:`console_skips_printed`
    keeps a console log handler from showing it a second time."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stdout)  # above a bar on the terminal, which is redrawn below it
    sys.stdout.flush()
    logger.log(level, message, extra={PRINTED: True})


class _NotPrinted:
    def filter(self, record) -> bool:
        return not getattr(record, PRINTED, False)


def console_skips_printed() -> None:
    """Give the root logger's console handlers (Hydra's ``job_logging``) a filter that drops the
    records :func:`say` has already printed; the file handlers keep them."""
    import logging

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            if not any(isinstance(f, _NotPrinted) for f in handler.filters):
                handler.addFilter(_NotPrinted())

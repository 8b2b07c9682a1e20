"""User-facing errors.

Bad input stops with one line, ``snnvis: error: <what> in <file>: <why>``, and exit
code 2. Library code raises :class:`UserError`; the CLI entry points wrap ``main``
with :func:`cli_entry`, which turns it into that line without a traceback.
"""
from __future__ import annotations

import functools
import sys
from typing import Callable


class UserError(Exception):
    """An error caused by the user's input (files, arguments, configuration)."""

    def __init__(self, what: str, why: str, file: str | None = None):
        self.what, self.why, self.file = what, why, None if file is None else str(file)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f" in {self.file}" if self.file else ""
        return f"snnvis: error: {self.what}{where}: {self.why}"


def cli_entry(fn: Callable[..., int | None]) -> Callable[..., int]:
    """Decorate a console-script ``main``: UserError -> one line on stderr, exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> int:
        try:
            code = fn(*args, **kwargs)
        except UserError as err:
            print(err.message, file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("snnvis: interrupted", file=sys.stderr)
            sys.exit(130)
        sys.exit(code or 0)

    return wrapper

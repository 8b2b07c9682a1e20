"""Importer options: declared once per importer, checked and converted once.

An importer module lists its ``-o KEY=VALUE`` options as ``OPTIONS = (Option(...), ...)``.
:func:`resolve` turns the options a user gave (strings from the command line, or Python
values) into the declared types, fills the defaults and raises one-line
:class:`~snnvis.errors.UserError`\\ s for an unknown option, a value of the wrong type, a
value outside ``choices`` or below ``minimum``. Checks that depend on the data (e.g. a bin
that must divide the recorded window) stay in the importer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from snnvis.errors import UserError

_TYPES = (int, float, str, bool)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One importer option. ``default`` None means "not given": the importer decides (see ``help``)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple | None = None
    minimum: float | None = None

    def __post_init__(self):
        if self.type not in _TYPES:
            raise TypeError(f"option {self.name}: type must be one of {[t.__name__ for t in _TYPES]}")

    def describe(self) -> str:
        """``name (type, default D[, one of a|b]): help`` for listings and --help."""
        kind = self.type.__name__ if self.choices is None else "one of " + "|".join(map(str, self.choices))
        low = "" if self.minimum is None else f", >= {self.minimum:g}"
        default = "none" if self.default is None else f"{self.default!r}"
        return f"{self.name} ({kind}{low}, default {default}): {self.help}"

    def convert(self, value, source: str):
        """``value`` as :attr:`type`, checked against ``choices`` and ``minimum``."""
        what, shown = f"option {self.name} of source {source}", f"{value!r}"
        try:
            v = _as(self.type, value)
        except (TypeError, ValueError):
            raise UserError(what, f"{shown} is not {_article(self.type)}") from None
        if self.choices is not None and v not in self.choices:
            raise UserError(what, f"{shown} must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and v < self.minimum:
            raise UserError(what, f"{shown} must be >= {self.minimum:g}")
        return v


def _article(t: type) -> str:
    return {int: "a whole number", float: "a finite number", str: "a string", bool: "true or false"}[t]


def _as(t: type, value):
    if isinstance(value, str):
        s = value.strip()
        if t is bool:
            if s.lower() in _TRUE + _FALSE:
                return s.lower() in _TRUE
            raise ValueError(value)
        if t is int:  # "25" or "25.0", not "25.5"
            v = float(s)
            if not v.is_integer():
                raise ValueError(value)
            return int(v)
        if t is float:
            v = float(s)
            if not math.isfinite(v):
                raise ValueError(value)
            return v
        return value
    if isinstance(value, bool) or value is None:  # True is an int in Python, not a number here
        if t is bool and value is not None:
            return value
        raise TypeError(value)
    if t is int and isinstance(value, int | float) and float(value).is_integer():
        return int(value)
    if t is float and isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise TypeError(value)


def resolve(source: str, declared: tuple[Option, ...], given: dict) -> dict:
    """The options ``given`` for ``source``, converted, with every declared default filled in."""
    known = {o.name: o for o in declared}
    unknown = [k for k in given if k not in known]
    if unknown:
        names = ", ".join(known) if known else "none"
        raise UserError(f"option {unknown[0]!r}", f"unknown option for source {source} (known: {names})")
    return {n: (o.default if n not in given else o.convert(given[n], source)) for n, o in known.items()}


def declared(module) -> tuple[Option, ...]:
    """The ``OPTIONS`` of an importer module (none when it declares none)."""
    return tuple(getattr(module, "OPTIONS", ()))

"""One module per public dataset. Each defines:

- ``SOURCE``: a :class:`~snnvis.recordings.sources.Source`;
- ``discover(store) -> dict[str, str | None]``: every session id the store offers,
  mapped to None when it can be imported or to the reason it cannot;
- ``OPTIONS`` (optional): its ``-o KEY=VALUE`` options, a tuple of
  :class:`~snnvis.recordings.options.Option`; the importing code checks and converts them
  once and fills the defaults;
- ``load(store, session_id, **options) -> RecordingData``, called with every declared
  option, already typed.

A new dataset is one module here plus its checksum file in ``recordings/sources/``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from snnvis.errors import UserError


def available() -> dict[str, ModuleType]:
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            mods[mod.SOURCE.name] = mod
    return dict(sorted(mods.items()))


def get(name: str) -> ModuleType:
    mods = available()
    if name not in mods:
        raise UserError(f"source {name!r}", f"unknown source (known: {', '.join(mods)})")
    return mods[name]

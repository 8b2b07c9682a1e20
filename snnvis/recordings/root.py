"""The data root: where ``snnvis-data import`` writes recordings and where the presets look for them.

``paths.data`` in ``snnvis/conf/train.yaml`` and ``score.yaml`` is ``$SNNVIS_DATA`` when it is
set, else :func:`default_root`: the checkout's ``recordings/`` when snnvis runs from a source
checkout (an editable install), else ``recordings/`` in the working directory. The presets name
their files ``${paths.data}/<source>/<session>.h5``, so the apps work from any working directory;
a path given on the command line is taken as given (relative to the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "SNNVIS_DATA"
_CHECKOUT = Path(__file__).resolve().parents[2]


def default_root() -> Path:
    """``<checkout>/recordings`` for a source checkout, else ``./recordings`` (absolute)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "snnvis" / "conf").is_dir():
        return _CHECKOUT / "recordings"
    return Path.cwd() / "recordings"


def data_root() -> Path:
    """``$SNNVIS_DATA`` (made absolute) when set and not empty, else :func:`default_root`."""
    env = os.environ.get(ENV)
    return Path(env).absolute() if env else default_root()


def missing_file(path: Path) -> str:
    """Why a recording file is not there, naming the data root and how to change or fill it."""
    root = data_root()
    if Path(path).absolute().is_relative_to(root):
        source = f"${ENV}" if os.environ.get(ENV) else f"the default; ${ENV} is not set"
        return (
            f"file not found under the data root {root} ({source}); import it (snnvis-data import SOURCE) "
            f"or set ${ENV} or paths.data=DIR to the folder that holds it"
        )
    return f"file not found (a path is taken as given; the presets' data root is {root}, set by ${ENV} or paths.data)"

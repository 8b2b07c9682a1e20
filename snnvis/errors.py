"""User-facing errors.

Bad input stops with one line, ``snnvis: error: <what> in <file>: <why>``, and exit
code 2. Library code raises :class:`UserError`; the CLI entry points wrap ``main``
with :func:`cli_entry`, which turns it into that line without a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


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


def _config_error(err: Exception, configs: str) -> UserError:
    """One UserError for an exception raised while Hydra composes a config."""
    import dataclasses
    import difflib

    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

    if isinstance(err, MissingConfigException) and err.missing_cfg_file and "/" in err.missing_cfg_file:
        group, name = err.missing_cfg_file.rsplit("/", 1)
        options = [o for o in (err.options or []) if not o.startswith("_")]
        close = difflib.get_close_matches(name, options, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return UserError(
            f"{group}={name}", f"no such config ({hint}choose one of {', '.join(options)})", f"{configs}/{group}"
        )
    cause = err.__cause__ if isinstance(err.__cause__, OmegaConfBaseException) else err
    key = getattr(cause, "full_key", None)
    first = " ".join(str(getattr(cause, "msg", None) or cause).strip().splitlines()[0].split())
    if key and isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
        parent_key, _, leaf = key.rpartition(".")
        schema = getattr(cause, "object_type", None)
        known = [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else []
        close = difflib.get_close_matches(leaf, known, n=1)
        hint = f"; did you mean {parent_key + '.' if parent_key else ''}{close[0]}?" if close else ""
        return UserError(key, f"unknown key{hint}")
    if key and isinstance(cause, ValidationError) and "is not a ListConfig" in first:
        return UserError(key, f"must be a list, e.g. {key}=[a.h5,b.h5]")
    return UserError(key or "config", first)


def hydra_entry(fn: Callable[[], object], configs: str, interrupted: str = "snnvis: interrupted") -> None:
    """Run a ``@hydra.main`` app so that every bad input ends in one line and exit 2.

    Hydra prints composition errors over several lines and exits 1; with
    ``HYDRA_FULL_ERROR`` set it raises them instead, and they become one
    ``snnvis: error:`` line here. A run dir that cannot be created (a regular file in
    its place or above it) is one line too. Ctrl-C is one line and exit 130.
    """
    import os

    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        fn()
    except UserError as err:
        print(err.message, file=sys.stderr)
        sys.exit(2)
    except (HydraException, OmegaConfBaseException) as err:
        print(_config_error(err, configs).message, file=sys.stderr)
        sys.exit(2)
    except ValueError as err:
        if "Config group override must be a string" not in str(err):
            raise
        # `group=null` on the command line: Hydra's defaults list takes no None override
        print(
            UserError("overrides", "a config group cannot be set to null here; drop it with ~GROUP").message,
            file=sys.stderr,
        )
        sys.exit(2)
    except (FileExistsError, NotADirectoryError) as err:
        print(
            UserError("hydra.run.dir", "a regular file is in the way of the run directory", err.filename).message,
            file=sys.stderr,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        sys.exit(130)

"""snnvis's output files, read for other tools.

:func:`load_results` reads either results table as a pandas DataFrame:

- ``results.csv`` written by ``snnvis-report`` (one row per run x section x metric; its
  columns are documented in :mod:`snnvis.reporting.table`, recognised by ``section`` and
  ``value``);
- ``scores.csv`` written by ``snnvis-score`` (one row per layer x target x metric x split;
  recognised by ``score`` and ``layer``).

Empty cells become NaN (numbers) or ``<NA>`` (text); ``spiking`` and ``chosen`` become
booleans; numeric columns (``value``, ``score``, ``ceiling``, ``normalized``, CIs, counts,
``seed``, ``depth``...) become floats. ``df.attrs["kind"]`` says which table it was
(``"results"`` or ``"scores"``) and ``df.attrs["path"]`` where it came from. A folder is
accepted when it holds exactly one of ``results.csv`` / ``scores.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from snnvis.errors import UserError

TABLES = {
    "results": ("results.csv", {"section", "value", "metric"}),
    "scores": ("scores.csv", {"score", "layer", "metric"}),
}
TEXT_COLUMNS = {
    "run_dir",
    "source",
    "model",
    "architecture",
    "config_hash",
    "section",
    "level",
    "key",
    "metric",
    "recording",
    "target",
    "layer",
    "layer_area",
    "area",
    "split",
    "selection",
    "method",
    "ceiling_kind",
    "score_source",
    "test",
    "checkpoint",
    "recording_path",
}
BOOL_COLUMNS = {"spiking", "chosen"}
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _resolve(path: Path) -> Path:
    if path.is_dir():
        found = [path / name for name, _ in TABLES.values() if (path / name).is_file()]
        if len(found) != 1:
            raise UserError(
                "results folder", f"must hold exactly one of results.csv / scores.csv (found {len(found)})", path
            )
        return found[0]
    if not path.is_file():
        raise UserError("results file", "does not exist", path)
    return path


def load_results(path: str | Path):
    """``results.csv`` (snnvis-report) or ``scores.csv`` (snnvis-score) as a pandas DataFrame."""
    import pandas as pd

    path = _resolve(Path(path))
    with path.open(newline="") as fh:
        header = next(csv.reader(fh), [])
    kind = next((k for k, (_, cols) in TABLES.items() if cols <= set(header)), None)
    if kind is None:
        raise UserError(
            "results file",
            "is neither a results.csv (snnvis-report) nor a scores.csv (snnvis-score): "
            f"header {','.join(header[:6])}...",
            path,
        )
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in df.columns:
        s = df[col]
        if col in BOOL_COLUMNS:
            df[col] = s.str.lower().map(_BOOLS).astype("boolean")
        elif col in TEXT_COLUMNS:
            df[col] = s.replace("", pd.NA).astype("string")
        else:
            num = pd.to_numeric(s.replace("", "nan"), errors="coerce")
            bad = s[(num.isna()) & ~s.str.lower().isin(["", "nan", "none"])]
            df[col] = num if bad.empty else s.replace("", pd.NA).astype("string")
    df.attrs.update({"kind": kind, "path": str(path)})
    return df

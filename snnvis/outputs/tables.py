"""The two results tables, ``scores.csv`` and ``results.csv``: their only writers
(:func:`write_scores`, :func:`write_results`) and readers (:func:`read_scores` as rows of
strings, :func:`load_results` as a DataFrame).

Each row of either table carries the table's schema version in the last fixed column,
``schema_version`` (1; a table written before versions were recorded has no such column and
the version-1 layout). :func:`load_results` reads either table as a pandas DataFrame:

- ``results.csv`` written by ``snnvis-report`` (one row per run x section x metric; its
  columns are documented in :mod:`snnvis.reporting.table`, recognised by ``section`` and
  ``value``);
- ``scores.csv`` written by ``snnvis-score`` (one row per layer x target x metric x split;
  recognised by ``score`` and ``layer``);
- ``tsrsa_perturbations.csv`` written by the TSRSA perturbation analysis (one row per model x
  layer x perturbation level, :data:`PERTURBATION_COLUMNS`; recognised by ``perturbation``,
  ``level`` and ``tsrsa``).

Empty cells become NaN (numbers) or ``<NA>`` (text); ``spiking`` and ``chosen`` become
booleans; numeric columns (``value``, ``score``, ``ceiling``, ``normalized``, CIs, counts,
``seed``, ``depth``...) become floats. ``df.attrs["kind"]`` says which table it was
(``"results"`` or ``"scores"``) and ``df.attrs["path"]`` where it came from. A folder is
accepted when it holds exactly one of ``results.csv`` / ``scores.csv``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from snnvis.errors import UserError
from snnvis.outputs.version import VERSION_KEY, check_version
from snnvis.utils import atomic_path, read_csv_rows

SCORES_FILE, RESULTS_FILE, PERTURBATIONS_FILE = "scores.csv", "results.csv", "tsrsa_perturbations.csv"
SCHEMA_VERSION = 1
SCORE_COLUMNS = [  # scores.csv: one row per layer x target x metric x split (snnvis.evaluation.scorer.ScoreRow)
    "model",
    "spiking",
    "seed",
    "source",
    "recording",
    "target",
    "layer",
    "depth",
    "layer_area",
    "area",
    "metric",
    "split",
    "score",
    "ceiling",
    "ceiling_lower",
    "ceiling_upper",
    "normalized",
    "ci_low",
    "ci_high",
    "normalized_ci_low",
    "normalized_ci_high",
    "n_stimuli",
    "n_neurons",
    "silent_fraction",
    "selection",
    "chosen",
    "method",
    "ceiling_kind",
    "checkpoint",
    "recording_path",
    VERSION_KEY,
]

PERTURBATION_COLUMNS = [  # tsrsa_perturbations.csv: one row per model x layer x perturbation level
    "model",
    "spiking",
    "trained",
    "layer",
    "perturbation",
    "level",
    "tsrsa",
    "tsrsa_sd",
    "n_draws",
    "ceiling",
    "ceiling_lower",
    "ceiling_upper",
    "normalized",
    "tsrsa_window",
    "n_clips",
    "n_frames",
    "n_neurons",
    "recording",
    VERSION_KEY,
]

TABLES = {
    "results": ("results.csv", {"section", "value", "metric"}),
    "scores": ("scores.csv", {"score", "layer", "metric"}),
    "perturbations": (PERTURBATIONS_FILE, {"perturbation", "level", "tsrsa"}),
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
    "perturbation",
}
BOOL_COLUMNS = {"spiking", "chosen", "trained"}
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
    """``results.csv`` (snnvis-report), ``scores.csv`` (snnvis-score) or ``tsrsa_perturbations.csv``
    as a pandas DataFrame."""
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
        elif col in TEXT_COLUMNS and (kind, col) != ("perturbations", "level"):  # a number there
            df[col] = s.replace("", pd.NA).astype("string")
        else:
            num = pd.to_numeric(s.replace("", "nan"), errors="coerce")
            bad = s[(num.isna()) & ~s.str.lower().isin(["", "nan", "none"])]
            df[col] = num if bad.empty else s.replace("", pd.NA).astype("string")
    if VERSION_KEY in df.columns:
        _check_rows(df[VERSION_KEY].dropna().tolist(), path, path.name)
    df.attrs.update({"kind": kind, "path": str(path)})
    return df


def _write(path: Path, header: Sequence[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
    return path


def write_scores(path: str | Path, rows: list[dict]) -> Path:
    """``scores.csv``: :data:`SCORE_COLUMNS`, then any other key of the first row; the current
    schema version in every row."""
    extra = [k for k in (rows[0] if rows else {}) if k not in SCORE_COLUMNS]
    header = SCORE_COLUMNS + extra
    cells = [
        ["" if r.get(c) is None else str(r[c]) for c in header]
        for r in ({**r, VERSION_KEY: SCHEMA_VERSION} for r in rows)
    ]
    return _write(Path(path), header, cells)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_results(path: str | Path, rows: list[dict], columns: Sequence[str]) -> Path:
    """``results.csv`` with ``columns`` (``schema_version`` added last when not among them);
    floats to 6 significant digits, None as an empty cell."""
    header = list(columns) + ([] if VERSION_KEY in columns else [VERSION_KEY])
    cells = [[_cell(r.get(c)) for c in header] for r in ({**r, VERSION_KEY: SCHEMA_VERSION} for r in rows)]
    return _write(Path(path), header, cells)


def write_perturbations(path: str | Path, rows: list[dict]) -> Path:
    """``tsrsa_perturbations.csv`` (:data:`PERTURBATION_COLUMNS`; written by
    :func:`snnvis.evaluation.perturbation_analysis.analyse`)."""
    return write_results(path, rows, PERTURBATION_COLUMNS)


def _check_rows(values, path: Path, what: str) -> None:
    for v in {v for v in values if v not in ("", None)} or {None}:
        check_version(None if v is None else _as_number(v), SCHEMA_VERSION, what, path)


def _as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def read_scores(path: str | Path, required: tuple[str, ...] = ()) -> list[dict]:
    """Rows of a ``scores.csv`` as dicts of strings, checked for the ``required`` columns and a
    schema version this snnvis reads (one-line UserError otherwise)."""
    rows = read_csv_rows(path, required, SCORES_FILE)
    _check_rows((r.get(VERSION_KEY) for r in rows), Path(path), SCORES_FILE)
    return rows

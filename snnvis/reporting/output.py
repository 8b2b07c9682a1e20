"""What ``snnvis-report`` checks and tidies around its output folder and the sweep it reads.

* :func:`check_out_dir`: ``--out`` must be (or be creatable as) a directory; a regular file at
  it or above it is one error line before anything is written.
* :func:`incomplete_runs`: run folders (a ``.hydra/`` or ``checkpoints/`` folder) without a
  ``metrics.json`` (a run that was killed, failed, or is still training), listed in the report.
* :func:`replace_report_files`: moves the freshly made files into ``out`` and removes the files
  an earlier report made that this one did not (a figure of a model no longer in the sweep),
  as listed in ``out/manifest.json``; before manifests existed, the report's own figure names
  (:data:`OWN_FIGURES`) next to a ``report.html``. Other files in ``out`` are never touched.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from snnvis.errors import UserError
from snnvis.utils import atomic_path

MANIFEST = "manifest.json"
OWN_FIGURES = re.compile(r"^(a_prediction_accuracy|b_heatmap_.+|c_psth_.+)\.(png|pdf)$")
RUN_MARKERS = (".hydra", "checkpoints")


def check_out_dir(out: Path) -> None:
    """Raise UserError when ``out`` or one of its parents exists and is not a directory."""
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise UserError("--out", f"{p} is a regular file, not a directory", out)
        if p.is_dir():
            break


def incomplete_runs(root: Path, exclude: Path | None = None) -> list[Path]:
    """Folders under ``root`` that look like runs (:data:`RUN_MARKERS`) but have neither a
    ``metrics.json`` nor a ``scores.csv``; none inside ``exclude`` or inside a finished run."""
    finished = {p.parent.resolve() for p in root.rglob("metrics.json")}
    skip = exclude.resolve() if exclude is not None else None
    found = set()
    for marker in RUN_MARKERS:
        for m in root.rglob(marker):
            d = m.parent
            if not m.is_dir() or (d / "metrics.json").is_file() or (d / "scores.csv").is_file():
                continue
            ancestors = {d.resolve(), *d.resolve().parents}
            if (skip is not None and skip in ancestors) or ancestors & finished:
                continue
            found.add(d)
    return sorted(found)


def _previous_files(out: Path) -> set[str]:
    try:
        listed = json.loads((out / MANIFEST).read_text())["files"]
        return {str(f) for f in listed if isinstance(f, str) and "/" not in f and f not in ("", ".", "..")}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if (out / "report.html").is_file():
        return {p.name for p in out.iterdir() if OWN_FIGURES.match(p.name)}
    return set()


def replace_report_files(stage: Path, out: Path) -> list[str]:
    """Move every file of ``stage`` into ``out``, remove what the previous report made and this one did
    not, and write the new manifest. Returns the names removed."""
    out.mkdir(parents=True, exist_ok=True)
    old = _previous_files(out)
    new = sorted(f.name for f in stage.iterdir())
    for name in new:
        os.replace(stage / name, out / name)
    removed = []
    for name in sorted(old - set(new) - {MANIFEST}):
        p = out / name
        if p.is_file() or p.is_symlink():
            p.unlink()
            removed.append(name)
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps({"files": new}, indent=2) + "\n")
    return removed

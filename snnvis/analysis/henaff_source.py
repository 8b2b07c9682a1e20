"""The Hénaff et al. 2021 figure source data (``source_data/SourceData_final_submission.xlsx``).

Sheets ``Figure3`` (natural) and ``Figure5`` (synthetic, "unnatural") hold the published
relative curvature (V1 − pixel, deg) of 7 populations x 20 sequences. An empty (NaN) cell
is a sequence the authors excluded; ``Suppl. Figure 8`` lists the included and excluded
values (127 + 53 natural, 119 + 61 synthetic over their 9 datasets). In ``Figure3``,
values below the plotted range are written as -74 (7 cells); they are kept as given.
These numbers come from a different fit than ``curvature/acute_combined_235x.csv``: for
the synthetic sequences six of the seven populations correlate at r = 0.80-0.93 with one
dataset's dither-2 block of that table (0.66 for the seventh), yet sit ~20-30 deg lower;
the natural values correlate with no block (r <= 0.49), so the order of sequences within a
population is not established and only aggregates (medians over included sequences) are
compared with snnvis.

The workbook is read with the standard library (zipfile + xml); openpyxl is not needed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np

from snnvis.errors import UserError

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
SHEETS = {"natural": "Figure3", "synthetic": "Figure5"}


def read_sheet(path: str | Path, name: str) -> dict[tuple[int, str], str]:
    """Cells of one worksheet as {(row, column letters): text}."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            strings = (
                []
                if "xl/sharedStrings.xml" not in z.namelist()
                else [
                    "".join(t.text or "" for t in si.iter(f"{_NS}t"))
                    for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall(f"{_NS}si")
                ]
            )
            rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
            sheets = {
                s.get("name"): rels[s.get(_REL)] for s in ET.fromstring(z.read("xl/workbook.xml")).find(f"{_NS}sheets")
            }
            if name not in sheets:
                raise UserError("source data", f"no sheet {name!r}", path)
            root = ET.fromstring(z.read("xl/" + sheets[name].removeprefix("/xl/")))
    except (zipfile.BadZipFile, KeyError, ET.ParseError) as err:
        raise UserError("source data", f"not a readable xlsx workbook ({err})", path) from None
    cells = {}
    for c in root.iter(f"{_NS}c"):
        v = c.find(f"{_NS}v")
        if v is None or v.text is None:
            continue
        col, row = re.match(r"([A-Z]+)(\d+)", c.get("r")).groups()
        cells[(int(row), col)] = strings[int(v.text)] if c.get("t") == "s" else v.text
    return cells


def load_source_data(path: str | Path) -> list[dict]:
    """Published relative curvature per population and sequence.

    Returns:
        One record per cell: category, population (1-7 as labelled), movie (1-20 as
        labelled), delta (deg; NaN = excluded by the authors), included (bool).
    """
    out = []
    for category, sheet in SHEETS.items():
        cells = read_sheet(path, sheet)
        header = {col: text for (row, col), text in cells.items() if row == 1}
        movies = {col: int(m.group(1)) for col, text in header.items() if (m := re.match(r"Movie (\d+)", text))}
        pops = {
            row: int(m.group(1))
            for (row, col), text in cells.items()
            if col == "A" and (m := re.match(r"Population (\d+)", text))
        }
        if len(movies) != 20 or len(pops) != 7:
            raise UserError(
                "source data",
                f"sheet {sheet} has {len(pops)} populations x {len(movies)} movies, expected 7 x 20",
                path,
            )
        for row, pop in pops.items():
            for col, movie in movies.items():
                try:
                    value = float(cells.get((row, col), "nan"))
                except ValueError:
                    raise UserError("source data", f"bad value in {sheet}!{col}{row}", path) from None
                out.append(
                    {
                        "category": category,
                        "population": pop,
                        "movie": movie,
                        "delta": value,
                        "included": bool(np.isfinite(value)),
                    }
                )
    return out

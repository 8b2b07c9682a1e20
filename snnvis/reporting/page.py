"""HTML of the reports: pages and tables rendered from the package's jinja2 templates.

``templates/report.html.j2`` is the page (title, intro, sections, every figure with its PNG
shown and PDF linked by relative paths, notes; no external resources), ``templates/table.html.j2``
a table and ``templates/parts.html.j2`` the smaller pieces (:func:`part`). Every value a
template writes is escaped (:func:`html.escape`) unless it is HTML built here (an intro, a
section body, a :class:`Raw` cell), passed as :class:`~markupsafe.Markup`.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup

from snnvis.reporting.figures import FigureEntry
from snnvis.reporting.sweep import Run, rel_path
from snnvis.reporting.table import num
from snnvis.utils import atomic_path


def _escape(value) -> str:
    """Every ``{{ value }}`` of the templates: :class:`~markupsafe.Markup` as it is, anything else
    escaped by :func:`html.escape` (quotes too, as the reports always wrote them)."""
    return value if isinstance(value, Markup) else html.escape(str(value))


@functools.cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("snnvis.reporting", "templates"),
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )


def part(name: str, *args) -> str:
    """The macro ``name`` of ``templates/parts.html.j2`` (a piece of a page) called with ``args``."""
    return getattr(_templates().get_template("parts.html.j2").module, name)(*args)


class Raw(str):
    """Table cell HTML that is inserted as it is (not escaped)."""


def _cell(v, digits: int = 3) -> str:
    if isinstance(v, Raw):
        return v
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "–"
    return html.escape(str(v))


def html_table(header: Sequence[str], rows: Sequence[Sequence], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned (text). Cells: numbers with 3 decimals,
    booleans as yes/no, missing or non-finite values as –, :class:`Raw` as it is, anything else escaped."""
    cells = [[Markup(_cell(c)) for c in row] for row in rows]
    return _templates().get_template("table.html.j2").render(header=list(header), rows=cells, left=left)


def render_html(
    path: Path,
    title: str,
    intro: str,
    sections: Sequence[tuple[str, str]],
    figures: Sequence[FigureEntry],
    notes: Sequence[str] = (),
) -> Path:
    """Write a self-contained report: ``sections`` are (heading, HTML), then every figure
    (PNG shown, PDF linked, both by paths relative to ``path``), then notes."""
    figs = [
        {
            "png": Path(rel_path(f.stem.with_suffix(".png"), path.parent)).as_posix(),
            "pdf": Path(rel_path(f.stem.with_suffix(".pdf"), path.parent)).as_posix(),
            "title": f.title,
            "caption": f.caption,
        }
        for f in figures
    ]
    page = (
        _templates()
        .get_template("report.html.j2")
        .render(
            title=title,
            intro=Markup(intro),
            sections=[(h, Markup(b)) for h, b in sections],
            figures=figs,
            notes=list(notes),
        )
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page + "\n")
    return path


def _get(run: Run, *keys):
    node = run.metrics
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    return node


def runs_table(runs: list[Run]) -> str:
    rows = []
    for r in sorted(runs, key=lambda r: (r.label, not r.spiking, r.seed)):
        o = _get(r, "test", "overall") or {}
        ci = o.get("pearson_r_median_ci95") or [None, None]
        rows.append(
            [
                r.label,
                "SNN" if r.spiking else "twin",
                r.seed,
                o.get("n_neurons"),
                num(o.get("pearson_r_median")),
                f"{_cell(num(ci[0]))} – {_cell(num(ci[1]))}" if ci[0] is not None else "–",
                num(o.get("pearson_r_mean")),
                num(o.get("feve_median")),
                num(_get(r, "baseline", "overall", "pearson_r_median")),
                _get(r, "validation", "best_epoch"),
                _get(r, "model", "n_params"),
                num(_get(r, "run", "wall_s")),
                Raw(f"<code>{html.escape(r.rel)}</code>"),
            ]
        )
    return html_table(
        [
            "model",
            "kind",
            "seed",
            "neurons",
            "median r",
            "95% CI",
            "mean r",
            "median FEVE",
            "ridge on untrained core: median r",
            "best epoch",
            "core params",
            "wall s",
            "run",
        ],
        rows,
        left=2,
    )


def best_layers_table(rows: list[dict]) -> str:
    """Chosen layers (held-out choice) from the scores: test score, CI, ceiling, normalised."""
    chosen = [r for r in rows if r["source"] == "scores.csv" and r["chosen"] and r["split"] == "test"]
    chosen.sort(key=lambda r: (r["model"], not r["spiking"], str(r["seed"]), r["recording"], r["area"], r["metric"]))
    out = [
        [
            r["model"],
            "SNN" if r["spiking"] else "twin",
            r["seed"],
            r["recording"],
            r["area"],
            r["metric"],
            r["layer"],
            r["value"],
            f"{_cell(r['ci_low'])} – {_cell(r['ci_high'])}",
            r["ceiling"],
            r["normalized"],
        ]
        for r in chosen
    ]
    return (
        html_table(
            [
                "model",
                "kind",
                "seed",
                "recording",
                "area",
                "metric",
                "chosen layer",
                "test score",
                "CI",
                "ceiling",
                "normalized",
            ],
            out,
            left=2,
        )
        if out
        else "<p>No scores.</p>"
    )


def index_page(
    out: Path,
    entries: Sequence[FigureEntry],
    reports: Sequence,
    notes: Sequence[str],
    timing: Sequence[tuple[str, float]],
    command: str,
    total_s: float,
    quick: bool,
) -> Path:
    """``out/index.html`` of ``scripts/reproduce_figures.py``: a link to each sweep report
    (:class:`snnvis.reporting.report.Report`) with its figures, then ``entries``, the time of
    each part and every note."""
    figs = [FigureEntry(f.stem, f"{r.out.name}: {f.title}", f.caption) for r in reports for f in r.figures]
    links = [
        {
            "html": str(r.html.relative_to(out)),
            "name": r.out.name,
            "n_runs": r.n_runs,
            "csv": str(r.results_csv.relative_to(out)),
        }
        for r in reports
    ]
    sections = [
        ("Sweep reports", part("report_links", links)),
        ("Timing", html_table(["part", "seconds"], [[n, s] for n, s in timing])),
    ]
    intro = part("index_intro", command, total_s, quick)
    return render_html(
        out / "index.html",
        "snnvis: all figures",
        intro,
        sections,
        [*figs, *entries],
        [*notes, *(n for r in reports for n in r.notes)],
    )

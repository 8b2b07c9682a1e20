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


def duration(seconds) -> str:
    """A wall time as a person reads it: ``52 s``, ``4.3 min``, ``2.1 h`` (– when unknown)."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(s):
        return "–"
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


@functools.cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("snnvis.reporting", "templates"),
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters["duration"] = duration
    return env


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
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "–"
    return html.escape(str(v))


def html_table(header: Sequence[str], rows: Sequence[Sequence], left: int = 1, wrap: Sequence[int] = ()) -> str:
    """An HTML table; the first ``left`` columns are left-aligned text that may wrap, and so are the
    columns in ``wrap``; every other cell (numbers, intervals) stays on one line. Cells: floats with 3
    decimals, integers with thousands separators, booleans as yes/no, missing or non-finite values
    as –, :class:`Raw` as it is, anything else escaped."""
    cells = [[Markup(_cell(c)) for c in row] for row in rows]
    return (
        _templates()
        .get_template("table.html.j2")
        .render(header=list(header), rows=cells, left=left, wrap=[i % max(len(header), 1) for i in wrap])
    )


def definitions(items: Sequence[tuple[str, str]]) -> str:
    """A definitions list (term, meaning) placed under a table to say what its columns mean."""
    return part("definitions", list(items))


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


RUNS_COLUMNS = [
    ("model", "model label: the model config, plus the overrides that differ between the sweep's runs"),
    ("kind", "SNN, or its DNN twin (same architecture and training, non-spiking units)"),
    ("seed", "training seed"),
    ("neurons", "neurons scored on the test split"),
    ("median r", "median over neurons of the held-out Pearson r between predicted and recorded responses"),
    ("95% CI", "bootstrap interval of the median r over neurons"),
    ("mean r", "mean over neurons of the held-out r"),
    ("median FEVE", "median fraction of explainable variance explained (needs repeated trials; – without)"),
    ("ridge on untrained core", "median r of a ridge readout on the same core, untrained (baseline)"),
    ("best epoch", "epoch with the best validation r (the checkpoint scored)"),
    ("core params", "trainable parameters of the core (readout excluded)"),
    ("wall time", "training time of the run"),
    ("run", "run folder, relative to the sweep folder"),
]


def runs_table(runs: list[Run]) -> str:
    """One row per run (:data:`RUNS_COLUMNS`), then what each column means."""
    rows = []
    for r in sorted(runs, key=lambda r: (r.label, not r.spiking, r.seed)):
        o = _get(r, "test", "overall") or {}
        ci = o.get("pearson_r_median_ci95") or [None, None]
        params = _get(r, "model", "n_params")
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
                int(params) if isinstance(params, (int, float)) and math.isfinite(params) else params,
                duration(_get(r, "run", "wall_s")),
                Raw(f"<code>{html.escape(r.rel)}</code>"),
            ]
        )
    table = html_table([name for name, _ in RUNS_COLUMNS], rows, left=2, wrap=[-1])
    return table + "\n" + definitions(RUNS_COLUMNS)


BEST_LAYER_COLUMNS = [
    ("model", "model label, as in the runs table"),
    ("kind", "SNN or DNN twin"),
    ("seed", "training seed (– for an untrained model)"),
    ("recording", "the recording scored against"),
    ("area", "brain area of the recorded neurons"),
    ("metric", "similarity metric (rsa, cka, svcca, ridge, pls)"),
    (
        "chosen layer",
        "the layer with the best score on the selection stimuli (train + validation with the default "
        "held_out protocol), so the test split plays no part in the choice",
    ),
    ("test score", "the chosen layer's score on the test split"),
    ("CI", "95% bootstrap interval of the test score"),
    ("ceiling", "noise ceiling: what a perfect model scores given the recording's trial noise (– where none)"),
    ("normalized", "test score / ceiling"),
]


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
    if not out:
        return "<p>No scores.</p>"
    return html_table([name for name, _ in BEST_LAYER_COLUMNS], out, left=2) + "\n" + definitions(BEST_LAYER_COLUMNS)


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
        ("Timing", html_table(["part", "wall time"], [[n, duration(s)] for n, s in timing])),
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

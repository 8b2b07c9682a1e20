"""The report's HTML (jinja2 templates shipped with the package) and the layout of snnvis.reporting,
checked with the standard library's HTML parser, AST and TOML reader as independent references."""

from __future__ import annotations

import ast
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

from snnvis.reporting import FigureEntry, Raw, html_table, render_html
from snnvis.reporting.page import part

ROOT = Path(__file__).resolve().parents[2]


class _Tree(HTMLParser):
    """Start tags with their attributes, and the text of every table cell / list item / caption."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[tuple[str, dict, str]] = []
        self._open: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("th", "td", "li", "title", "h1", "h2", "figcaption"):
            self._open.append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            t, attrs, text = self._open.pop()
            self.cells.append((t, attrs, "".join(text)))

    def handle_data(self, data):
        for _, _, text in self._open:
            text.append(data)


def _parse(page: str) -> _Tree:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    return tree


def test_table_escapes_text_formats_numbers_and_keeps_raw_cells():
    header = ["model <a>", "kind", "r & 'q'"]
    rows = [["snn<script>", True, 0.123456], ['"x"', None, float("nan")], ["y", False, Raw("<code>run/1</code>")]]
    tree = _parse(html_table(header, rows, left=2))
    ths = [(a, t) for tag, a, t in tree.cells if tag == "th"]
    tds = [(a, t) for tag, a, t in tree.cells if tag == "td"]
    assert [t for _, t in ths] == header  # text comes back exactly
    assert [t for _, t in tds] == ["snn<script>", "yes", "0.123", '"x"', "–", "–", "y", "no", "run/1"]
    assert [a.get("class") for a, _ in tds] == ["l", "l", None] * 3  # the first two columns left-aligned
    assert [tag for tag, _ in tree.tags].count("script") == 0 and [tag for tag, _ in tree.tags].count("code") == 1


def test_page_links_figures_relative_and_escapes_text(tmp_path):
    (tmp_path / "figs").mkdir()
    figs = [
        FigureEntry(tmp_path / "figs" / "a_one", "(a) <b>title</b>", "caption & more"),
        FigureEntry(tmp_path / "b two", "(b)", ""),
    ]
    page = render_html(
        tmp_path / "report.html",
        "sweep <x>",
        "<p>intro <em>here</em></p>",
        [("Runs & seeds", "<p>body</p>")],
        figs,
        ["note 'one'"],
    ).read_text()
    tree = _parse(page)
    imgs = [a for tag, a in tree.tags if tag == "img"]
    links = [a["href"] for tag, a in tree.tags if tag == "a"]
    assert [i["src"] for i in imgs] == ["figs/a_one.png", "b two.png"] and links == ["figs/a_one.pdf", "b two.pdf"]
    assert [i["alt"] for i in imgs] == ["(a) <b>title</b>", "(b)"]
    text = {(tag, t) for tag, _, t in tree.cells}
    assert {
        ("title", "sweep <x>"),
        ("h1", "sweep <x>"),
        ("h2", "Runs & seeds"),
        ("h2", "Figures"),
        ("h2", "Notes"),
        ("li", "note 'one'"),
        ("figcaption", "(a) <b>title</b>. caption & more (PDF)"),
    } <= text
    assert [tag for tag, _ in tree.tags].count("em") == 1  # the intro is HTML, inserted as it is
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</body></html>\n")
    assert "<h2>Figures</h2>" not in render_html(tmp_path / "empty.html", "t", "", [], []).read_text()


def test_page_parts_escape_what_they_are_given():
    tree = _parse(
        part("code_list", ["run<1>", "a & b"])
        + part("index_intro", "x.py --only 'de'", 12.6, True)
        + part("report_links", [{"html": "s 1/report.html", "name": "s<1>", "n_runs": 3, "csv": "s 1/results.csv"}])
    )
    assert [t for tag, _, t in tree.cells if tag == "li"] == ["run<1>", "a & b", "s<1>: 3 runs, results.csv"]
    assert [a["href"] for tag, a in tree.tags if tag == "a"] == ["s 1/report.html", "s 1/results.csv"]
    assert [tag for tag, _ in tree.tags].count("code") == 3
    assert "13 s (--quick presets)." in part("index_intro", "x.py", 12.6, True)
    assert "13 s." in part("index_intro", "x.py", 12.6, False) and "quick" not in part("index_intro", "x", 1, False)
    assert part("report_links", []) == "<p>No sweeps found.</p>"


def test_templates_are_package_data():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert declared["snnvis.reporting"] == ["templates/*.j2"]
    shipped = {p.name for p in (resources.files("snnvis.reporting") / "templates").iterdir()}
    assert {"report.html.j2", "table.html.j2", "parts.html.j2"} <= shipped


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_library_does_not_import_the_cli_and_modules_stay_small():
    for path in (ROOT / "snnvis").rglob("*.py"):
        if "cli" in path.relative_to(ROOT / "snnvis").parts:
            continue
        bad = [m for m, _ in _imports(path) if m == "snnvis.cli" or m.startswith("snnvis.cli.")]
        assert not bad, f"{path} imports {bad}"
    for path in (ROOT / "snnvis" / "reporting").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path


def test_reproduce_script_uses_only_public_reporting_functions():
    import snnvis.reporting as reporting

    used = [
        (m, names)
        for m, names in _imports(ROOT / "scripts" / "reproduce_figures.py")
        if m.startswith("snnvis.reporting")
    ]
    assert used, "the script draws its figures through snnvis.reporting"
    for module, names in used:
        assert module == "snnvis.reporting" and all(n in reporting.__all__ and not n.startswith("_") for n in names)

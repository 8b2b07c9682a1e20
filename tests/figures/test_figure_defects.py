"""The figures and the report read at a glance: legends clear of the data, colour ranges shared,
intervals drawn where they are quoted, SNN orange and twin green, tables whose columns are explained.

Geometry is checked on the rendered (Agg) figure: a legend's window extent against the extents of
the bars, boxes and axes it must not cover.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer

from snnvis.figures import (
    curvature_reproduction,
    kriegeskorte_rdms,
    prediction_accuracy,
    similarity_heatmaps,
    tsrsa_shuffle,
)
from snnvis.figures.colors import SNN_COLOR, TWIN_COLOR, kind_of, label_styles
from snnvis.figures.rdm import category_runs
from snnvis.figures.similarity import shared_range


def _draw(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _records(seeds, n=30, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in seeds:
        base = rng.uniform(0.3, 0.7, n)  # high bars: a legend inside the axes would sit on them
        ids = [f"x/n{i}" for i in range(n)]
        for spiking, shift in ((True, 0.05), (False, 0.0)):
            r = base + shift + rng.normal(0, 0.02, n)
            out.append({"model": "m", "spiking": spiking, "seed": s, "neuron_ids": ids, "pearson_r": r})
    return out


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_prediction_legend_clear_of_bars_and_ci_label_only_with_two_seeds(seeds):
    fig = prediction_accuracy(_records(seeds))
    renderer = _draw(fig)
    bar = fig.get_axes()[-1]
    legend = bar.get_legend()
    box = legend.get_window_extent(renderer)
    bars = [p for c in bar.containers if isinstance(c, BarContainer) for p in c.patches]
    assert len(bars) == 2
    assert not any(_overlaps(box, p.get_window_extent(renderer)) for p in bars)
    assert not _overlaps(box, bar.get_window_extent(renderer))  # above the axes, not inside
    swatches = {t.get_text(): to_hex(h.get_facecolor()) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert swatches == {"SNN": SNN_COLOR, "DNN twin": TWIN_COLOR}
    label = bar.get_ylabel()
    assert ("CI" in label) == (len(seeds) >= 2)
    assert ("one seed" in label) == (len(seeds) == 1)


def _cells():
    rows = []
    for metric, scale in (("rsa", 0.2), ("cka", 0.8)):  # different scales: one shared range all the same
        for d, layer in enumerate(("block1", "block2")):
            for area, off in (("V4", 0.0), ("IT", 0.1)):
                v = scale * (d + 1) / 2 + off
                lo, hi = v - 0.15, v + 0.15
                rows.append({"metric": metric, "layer": layer, "depth": d, "area": area, "score": v})
                rows[-1].update(ci_low=lo, ci_high=hi)
    return rows


def test_heatmaps_share_one_range_name_the_kind_and_mark_intervals_that_contain_zero():
    rows = _cells()
    twin_rows = [{**r, "score": r["score"] + 0.3} for r in rows]
    vmin, vmax = shared_range(rows, twin_rows)
    assert (vmin, vmax) == pytest.approx((0.1, 0.8 + 0.1 + 0.3))
    fig = similarity_heatmaps(rows, title="m: SNN", vmin=vmin, vmax=vmax)
    panels = [ax for ax in fig.get_axes() if ax.get_title() in ("rsa", "cka")]
    data_images = [im for ax in panels for im in ax.get_images() if im.get_cmap().name != "Greys"]
    assert len(data_images) == 2 and {im.get_clim() for im in data_images} == {(vmin, vmax)}
    assert len(fig.get_axes()) == 3  # two panels, one colour bar
    assert fig.get_suptitle() == "m: SNN"
    # hatched exactly where the interval contains 0: rsa block1 (0.1 ± 0.15) and rsa block1 IT (0.2 ± 0.15)
    expected = sum(1 for r in rows if r["metric"] == "rsa" and r["ci_low"] <= 0 <= r["ci_high"])
    hatched = [p for ax in panels for p in ax.patches if p.get_hatch()]
    assert expected == 1 and len(hatched) == expected
    texts = [t.get_text() for t in panels[0].texts]
    assert f"{rows[0]['score']:.2f}\n[{rows[0]['ci_low']:.2f}, {rows[0]['ci_high']:.2f}]" in texts


def test_heatmap_rows_average_scores_and_interval_bounds_over_seeds():
    from snnvis.reporting.figures import heatmap_rows

    base = {"source": "scores.csv", "split": "test", "model": "m", "spiking": True, "metric": "rsa"}
    rows = [
        {**base, "layer": "b1", "area": "V4", "depth": 0, "value": 0.2, "ci_low": 0.1, "ci_high": 0.3},
        {**base, "layer": "b1", "area": "V4", "depth": 0, "value": 0.4, "ci_low": 0.2, "ci_high": 0.7},
        {**base, "layer": "b1", "area": "V4", "depth": 0, "value": None, "ci_low": None, "ci_high": None},
    ]
    (cell,) = heatmap_rows(rows)[("m", True)]
    assert cell["score"] == pytest.approx(0.3) and cell["n"] == 2
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((0.15, 0.5))


def _curvature_inputs():
    rng = np.random.default_rng(3)
    records, authors = [], []
    for cat, delta in (("natural", -10.0), ("synthetic", 60.0)):
        for _ in range(40):
            px = rng.uniform(60, 120)
            d = delta + rng.normal(0, 15)
            records.append(
                {"category": cat, "pixel_curvature": px, "v1_curvature": px + d, "delta": d, "frame_step": 1}
            )
            authors.append({"category": cat, "pixel_curvature": px, "delta": d + rng.normal(0, 5)})
    layers = {
        "SNN (untrained) block1": {"natural": [-5.0, -3.0], "synthetic": [40.0]},
        "twin (untrained) block1": {"natural": [2.0], "synthetic": [30.0, 35.0]},
    }
    return records, authors, layers


def test_curvature_legend_clear_of_boxes_and_medians_drawn_with_the_quoted_ci():
    from snnvis.analysis.henaff import summary

    records, authors, layers = _curvature_inputs()
    fig = curvature_reproduction(records, authors, layers)
    renderer = _draw(fig)
    ax_d = fig.get_axes()[1]
    legend = ax_d.get_legend()
    assert not _overlaps(legend.get_window_extent(renderer), ax_d.get_window_extent(renderer))
    markers = {t.get_text(): to_hex(h.get_edgecolor()[0]) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert markers == {f"{k} (median)": c for k, c in zip(layers, (SNN_COLOR, TWIN_COLOR))}
    segments = [c.lines[2][0].get_segments()[0] for c in ax_d.containers]  # errorbar: [[x, lo], [x, hi]]
    drawn = sorted((round(float(s[0][1]), 6), round(float(s[1][1]), 6)) for s in segments)
    quoted = [summary(records), summary(authors)]
    expected = sorted((round(s[c]["ci_low"], 6), round(s[c]["ci_high"], 6)) for s in quoted for c in s)
    assert drawn == expected and len(drawn) == 4
    text = " ".join(t.get_text() for t in ax_d.texts)
    nat = quoted[0]["natural"]
    assert f"{nat['median']:+.1f}°\n[{nat['ci_low']:+.1f}, {nat['ci_high']:+.1f}]" in text


def test_rdm_panels_have_category_ticks_and_bars_by_kind():
    cats = ["face"] * 3 + ["body"] * 2 + ["object"] * 4
    n = len(cats)
    assert category_runs(cats, n) == [("face", 0, 3), ("body", 3, 5), ("object", 5, 9)]
    assert category_runs(None, n) == []
    with pytest.raises(ValueError, match="8 categories for 9"):
        category_runs(cats[:-1], n)
    rng = np.random.default_rng(0)
    rdm = lambda: (lambda a: a + a.T)(rng.random((n, n)))  # noqa: E731
    models = {"SNN (untrained)\nb3": rdm(), "twin (untrained)\nb3": rdm()}
    scores = {"SNN (untrained)\nb3": float("nan"), "twin (untrained)\nb3": 0.2}  # a silent SNN has no score
    fig = kriegeskorte_rdms(rdm(), models, scores, (0.3, 0.5), categories=cats)
    first = fig.get_axes()[0]
    assert [t.get_text() for t in first.get_yticklabels()] == ["face", "body", "object"]
    assert list(first.get_yticks()) == [1.0, 3.5, 6.5]
    assert [t.get_text() for t in fig.get_axes()[1].get_xticklabels()] == ["face", "body", "object"]
    bar = next(ax for ax in fig.get_axes() if ax.containers)
    bars = next(c for c in bar.containers if isinstance(c, BarContainer))
    assert [to_hex(p.get_facecolor()) for p in bars.patches] == [SNN_COLOR, TWIN_COLOR]
    assert [t.get_text() for t in bar.texts] == ["n/a"] and bar.texts[0].get_position()[0] == 0
    renderer = _draw(fig)
    assert not _overlaps(bar.get_legend().get_window_extent(renderer), bar.get_window_extent(renderer))


def test_tsrsa_legend_outside_lines_and_kind_colours():
    w = [1, 2, 4, 8]
    rng = np.random.default_rng(1)
    scores = {
        "SNN (untrained) block1": rng.random((3, 4)),
        "SNN m (trained) block1": rng.random((3, 4)),
        "twin (untrained) block1": rng.random(4),
    }
    fig = tsrsa_shuffle(w, scores)
    renderer = _draw(fig)
    (ax,) = fig.get_axes()
    assert not _overlaps(ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer))
    colours = [to_hex(line.get_color()) for line in ax.get_lines()]
    assert colours == [SNN_COLOR, SNN_COLOR, TWIN_COLOR]
    assert len({line.get_linestyle() for line in ax.get_lines()[:2]}) == 2  # two SNNs stay apart
    assert "t-CI" in ax.get_ylabel()
    one = tsrsa_shuffle(w, {"twin b1": rng.random(4), "SNN b1": np.full(4, np.nan)}).get_axes()[0]
    assert "CI" not in one.get_ylabel()  # no band drawn, none claimed
    assert [t.get_text() for t in one.get_legend().get_texts()] == ["twin b1", "SNN b1: n/a"]


def test_label_styles_colour_by_kind():
    assert [kind_of(s) for s in ("SNN x", " twin y", "DNN z", "pixels")] == ["snn", "twin", "twin", None]
    styles = label_styles(["SNN a", "twin a", "SNN b", "other"])
    assert [styles[k]["color"] for k in ("SNN a", "SNN b", "twin a")] == [SNN_COLOR, SNN_COLOR, TWIN_COLOR]
    assert styles["SNN a"]["linestyle"] != styles["SNN b"]["linestyle"]
    assert styles["other"]["color"] not in (SNN_COLOR, TWIN_COLOR)


def test_report_tables_format_and_explain_their_columns():
    from snnvis.reporting.page import RUNS_COLUMNS, duration, html_table, runs_table

    assert [duration(s) for s in (4.4, 89, 258.0, 7200, None, float("nan"))] == [
        "4 s",
        "89 s",
        "4.3 min",
        "2.0 h",
        "–",
        "–",
    ]
    page = html_table(["model", "n", "95% CI", "run"], [["a b", 1234567, "0.1 – 0.2", "x=1,y=2"]], left=1, wrap=[-1])
    assert "<td>1,234,567</td>" in page and '<td class="w">x=1,y=2</td>' in page

    class _Run:
        label, spiking, seed, rel = "m model.x=1", True, 0, "model.x=1,seed=0"
        metrics = {
            "test": {"overall": {"n_neurons": 168, "pearson_r_median": 0.4, "pearson_r_median_ci95": [0.3, 0.5]}},
            "model": {"n_params": 77392},
            "run": {"wall_s": 258.0},
        }

    html = runs_table([_Run()])
    assert "77,392" in html and "4.3 min" in html and "0.300 – 0.500" in html
    assert html.count("<dt>") == len(RUNS_COLUMNS) and html.count("<th") == len(RUNS_COLUMNS)
    for name, _ in RUNS_COLUMNS:
        assert f"<dt>{name}</dt>" in html


def test_report_css_keeps_intervals_on_one_line_and_wraps_text():
    from importlib import resources

    css = (resources.files("snnvis.reporting") / "templates" / "report.html.j2").read_text()
    assert "td{white-space:nowrap}" in css
    assert "td.l,td.w{white-space:normal;overflow-wrap:break-word" in css and "td.w{overflow-wrap:anywhere" in css

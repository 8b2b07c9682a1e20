"""Hénaff et al. 2021 reproduction on real recordings imported from ../shared/datasets."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from snnvis.analysis.henaff import load_authors_table, match_authors, parse_stimulus_id, session_curvatures, summary
from snnvis.errors import UserError
from snnvis.recordings.importing import import_source

SOURCE = "henaff2021_v1"
ALL_SESSIONS = ["ay2_u003", "ay2_u007", "ay3_u001", "ay3_u002", "ay4_u001", "ay4_u005", "ay4_u006"]


def _table_path(datasets_dir):
    return datasets_dir / SOURCE / "curvature" / "acute_combined_235x.csv"


@pytest.fixture(scope="module")
def table(datasets_dir):
    return load_authors_table(_table_path(datasets_dir))


@pytest.fixture(scope="module")
def one_session(imported):
    return imported(SOURCE, "ay4_u001")


@pytest.fixture(scope="module")
def records(one_session):
    return session_curvatures(one_session)


def test_parse_stimulus_id():
    assert parse_stimulus_id("zoom2x/synthetic/movie03-dogville") == ("zoom2x", "synthetic", 3)
    with pytest.raises(ValueError):
        parse_stimulus_id("movie03")


def test_authors_table_layout_and_type_coding(table):
    assert len(table) == 720
    assert len({r["session"] for r in table}) == 9
    coding = {(r["type_code"], r["category"]) for r in table}
    assert coding == {(1, "natural"), (2, "synthetic")}  # derived from pixel curvature
    nat = np.median([r["pixel_curvature"] for r in table if r["category"] == "natural"])
    syn = np.median([r["pixel_curvature"] for r in table if r["category"] == "synthetic"])
    assert nat > 80 and syn < 15
    first = min((r for r in table if r["type_code"] == 1 and r["dither"] == 1), key=lambda r: r["index"])
    assert (first["zoom"], first["movie"], first["pixel_curvature"]) == ("zoom1x", 1, 101.5326)


def test_authors_table_rejects_bad_coding(datasets_dir, tmp_path):
    with open(_table_path(datasets_dir), newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    for r in rows:
        r["sequence type"] = "1"  # one type only: cannot be split
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        w = csv.DictWriter(fh, fields)
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(UserError, match="rows|natural"):
        load_authors_table(bad)
    (tmp_path / "short.csv").write_text("Index,Dataset\n1,x\n")
    with pytest.raises(UserError, match="missing column"):
        load_authors_table(tmp_path / "short.csv")


def test_session_records(records):
    assert len(records) == 40  # 2 zooms x 10 movies x natural/synthetic
    assert {r["category"] for r in records} == {"natural", "synthetic"}
    r = records[0]
    assert r["session"] == "ay4_u001" and r["n_units"] == 13 and r["n_repeats"] >= 40
    for r in records:
        assert r["delta"] == pytest.approx(r["v1_curvature"] - r["pixel_curvature"]) or np.isnan(r["delta"])


def test_pixel_curvature_matches_authors(records, table):
    nat = [r["pixel_curvature"] for r in records if r["category"] == "natural"]
    syn = [r["pixel_curvature"] for r in records if r["category"] == "synthetic"]
    assert min(nat) > 50 and max(syn) < 30 and np.median(nat) > 80 and np.median(syn) < 15
    matched = match_authors(records, table)
    assert len(matched) == 40
    diff = [abs(m["pixel_snnvis"] - m["pixel_authors"]) for m in matched]
    assert max(diff) < 1e-3  # the authors' values to their 4 decimals


def test_frame_step_2_matches_authors_dither_2(one_session, table):
    recs = session_curvatures(one_session, frame_step=2, categories=("synthetic",))
    matched = match_authors(recs, table)
    assert len(matched) == 20
    assert max(abs(m["pixel_snnvis"] - m["pixel_authors"]) for m in matched) < 1e-3


def test_relative_effect_on_one_session(records):
    s = summary(records, n_boot=2000)
    assert s["synthetic"]["median"] - s["natural"]["median"] > 20.0
    naive = summary([{**r, "d": r["v1_curvature_naive"] - r["pixel_curvature"]} for r in records], "d", n_boot=200)
    assert naive["natural"]["median"] > s["natural"]["median"]  # noise inflates the naive V1 curvature
    for v in s.values():
        assert v["ci_low"] <= v["median"] <= v["ci_high"]


def test_summary_on_plain_records():
    recs = [{"category": "a", "delta": float(v)} for v in range(11)] + [{"category": "b", "delta": np.nan}]
    s = summary(recs, n_boot=500)
    assert s["a"]["median"] == 5.0 and s["a"]["n"] == 11
    assert s["b"]["n_nan"] == 1 and np.isnan(s["b"]["median"])


def test_rejects_response_without_trials(one_session):
    with pytest.raises(UserError, match="single trials"):
        session_curvatures(one_session, response="psth")


@pytest.mark.slow
def test_all_sessions(datasets_dir, tmp_path, table):
    paths = import_source(SOURCE, mirror=datasets_dir, out=tmp_path)
    assert sorted(p.stem for p in paths) == ALL_SESSIONS
    records = [r for p in paths for r in session_curvatures(p)]
    assert len(records) == 280
    matched = match_authors(records, table)
    assert len(matched) == 280
    assert max(abs(m["pixel_snnvis"] - m["pixel_authors"]) for m in matched) < 1e-3
    s = summary(records)
    assert s["natural"]["median"] < 0 < s["synthetic"]["median"]
    assert s["synthetic"]["ci_low"] > s["natural"]["ci_high"]
    for cat in ("natural", "synthetic"):  # per-sequence agreement with the authors
        pairs = np.array([(m["delta_snnvis"], m["delta_authors"]) for m in matched if m["category"] == cat])
        pairs = pairs[np.isfinite(pairs).all(1)]
        assert np.corrcoef(pairs.T)[0, 1] > 0.2


def _source_path(datasets_dir):
    return datasets_dir / SOURCE / "source_data" / "SourceData_final_submission.xlsx"


def test_source_data_matches_its_inclusion_sheet(datasets_dir, tmp_path):
    from snnvis.analysis.henaff_source import load_source_data, read_sheet

    rows = load_source_data(_source_path(datasets_dir))
    assert len(rows) == 2 * 7 * 20
    supp = read_sheet(_source_path(datasets_dir), "Suppl. Figure 8")  # included / excluded, natural | synthetic
    for cat, col in (("natural", "A"), ("synthetic", "C")):
        listed = np.array([float(v) for (row, c), v in supp.items() if c == col and row >= 3])
        included = np.array([r["delta"] for r in rows if r["category"] == cat and r["included"]])
        shown = included[included != -74.0]  # display-clipped cells of Figure 3
        assert len(included) == len(listed)
        assert all(np.min(np.abs(listed - v)) < 1e-6 for v in shown)
    (tmp_path / "bad.xlsx").write_text("not a workbook")
    with pytest.raises(UserError, match="xlsx"):
        load_source_data(tmp_path / "bad.xlsx")


def test_posterior_records_do_not_pile_up(records):
    for r in records:
        assert r["v1_ci_low"] <= r["v1_curvature"] <= r["v1_ci_high"]
        assert 0.0 < r["v1_curvature"] < 180.0
        assert r["delta_moment"] == pytest.approx(r["v1_curvature_moment"] - r["pixel_curvature"]) or np.isnan(
            r["delta_moment"]
        )


def test_table_lines_on_one_session(records, table, datasets_dir):
    from snnvis.analysis.henaff_source import load_source_data
    from snnvis.analysis.henaff_table import table_lines

    lines = table_lines(records, table, load_source_data(_source_path(datasets_dir)), 1, n_boot=200)
    from snnvis.analysis.henaff import MIN_STEP_SNR

    assert all(r["included"] == (r["snr"] >= MIN_STEP_SNR) for r in records)
    s = summary([r for r in records if r["included"]], n_boot=200)
    assert f"{s['synthetic']['median']:+.1f}°" in lines[0] and lines[0].startswith(
        "| snnvis posterior, all 11 frames, step SNR"
    )
    assert any(line.startswith("| paper source data") for line in lines)
    assert any("exactly 0°" in line for line in lines)

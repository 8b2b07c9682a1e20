"""Smoke test of scripts/bench_similarity.py."""

from __future__ import annotations

import re


def test_quick_benchmark_runs_and_prints_ratios(capsys, load_script):
    module = load_script("bench_similarity")
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 4
    for row in rows:
        assert re.search(r"\| \d+\.\dx \|", row), row
        diff = float(row.split("|")[6])
        assert diff < 1e-6, row  # snnvis and reference agree
    assert "extrapolated from 5 refits" in out

"""scripts/reproduce_figures.py --quick on real recordings: figures (d)-(f) from untrained
models, and the index page (slow: imports the 7 Hénaff sessions and runs the models)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_reproduce_quick_without_sweeps(datasets_dir, tmp_path, load_script):
    out = tmp_path / "figures"
    with pytest.raises(SystemExit) as e:
        load_script("reproduce_figures").main(
            [
                str(tmp_path / "no_sweeps"),
                "--out",
                str(out),
                "--quick",
                "--recordings",
                str(tmp_path / "recordings"),
                "--mirror",
                str(datasets_dir),
            ]
        )
    assert e.value.code == 0
    stems = {"d_curvature_reproduction", "e_kriegeskorte_monkey_it", "e_kriegeskorte_human_it", "f_tsrsa_shuffle"}
    for stem in stems:
        for ext in (".png", ".pdf"):
            assert (out / stem).with_suffix(ext).stat().st_size > 1000
    page = (out / "index.html").read_text()
    assert all(f'src="{s}.png"' in page for s in stems)
    assert "no sweep with runs" in page  # (a)-(c) explained, not silently missing
    for table in ("d_curvature_records.csv", "e_kriegeskorte_rsa.csv", "f_tsrsa_shuffle.csv"):
        assert len((out / table).read_text().splitlines()) > 2

"""Smoke run of scripts/bench_train.py (``python scripts/benchmark.py train --quick``)."""

from __future__ import annotations


def _rows(out: str, header: str) -> list[list[str]]:
    lines = out.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_bench_train_quick(capsys, load_script):
    bench = load_script("bench_train")
    assert bench.main(["--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "CPU (1 threads)" in out
    rows = _rows(out, bench.throughput_table([]).splitlines()[0])
    assert len(rows) == 1
    model, setting, T, snn, twin1, ratio, twin = rows[0][:7]
    assert (model, setting, T) == ("sew_resnet_tiny", "cpu fp32", "4")
    snn, twin1, ratio, twin = map(float, (snn, twin1, ratio, twin))
    assert min(snn, twin1, twin) > 0
    assert abs(ratio - snn / (twin1 / 4)) < 0.01 + 0.01 * ratio
    assert twin1 > twin  # one step per image is cheaper than four
    epoch = _rows(out, bench.epoch_table([]).splitlines()[0])
    assert len(epoch) == 1 and all(float(v) > 0 for v in epoch[0][2:])

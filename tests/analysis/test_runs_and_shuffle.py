"""Reading training runs, and the within-window frame shuffle."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from snnvis.analysis.runs import load_accuracies, load_accuracy
from snnvis.analysis.shuffle import shuffle_within_windows
from snnvis.errors import UserError


def test_shuffle_window_1_is_identity():
    rng = np.random.default_rng(0)
    assert np.array_equal(shuffle_within_windows(11, 1, rng), np.arange(11))


@pytest.mark.parametrize("n_frames,window", [(11, 2), (11, 3), (16, 4), (11, 11), (5, 8)])
def test_shuffle_stays_within_blocks(n_frames, window):
    rng = np.random.default_rng(1)
    for _ in range(20):
        order = shuffle_within_windows(n_frames, window, rng)
        assert sorted(order.tolist()) == list(range(n_frames))
        assert np.array_equal(order // window, np.arange(n_frames) // window)


def test_shuffle_actually_shuffles_and_rejects_bad_window():
    rng = np.random.default_rng(2)
    assert any(not np.array_equal(shuffle_within_windows(12, 4, rng), np.arange(12)) for _ in range(5))
    with pytest.raises(ValueError):
        shuffle_within_windows(10, 0, rng)


def _fake_run(path, spiking, seed, r):
    path.mkdir(parents=True)
    metrics = {
        "test": {"overall": {"pearson_r_median": float(np.median(r))}},
        "model": {"name": "sew_resnet", "spiking": spiking},
        "run": {"seed": seed},
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    with h5py.File(path / "predictions.h5", "w") as f:
        for k, session in enumerate(("s1", "s2")):
            g = f.create_group(session)
            g.create_dataset(
                "neuron_ids", data=np.array([f"n{i}" for i in range(3)], dtype=object), dtype=h5py.string_dtype()
            )
            g.create_dataset("areas", data=np.array(["V4"] * 3, dtype=object), dtype=h5py.string_dtype())
            g.create_dataset("metrics/pearson_r", data=r[3 * k : 3 * k + 3])


def test_load_accuracy(tmp_path):
    r = np.linspace(0.1, 0.6, 6)
    _fake_run(tmp_path / "a", True, 3, r)
    rec = load_accuracy(tmp_path / "a")
    assert (rec["model"], rec["spiking"], rec["seed"]) == ("sew_resnet", True, 3)
    assert rec["neuron_ids"].tolist() == ["s1/n0", "s1/n1", "s1/n2", "s2/n0", "s2/n1", "s2/n2"]
    assert np.allclose(rec["pearson_r"], r) and rec["median_r"] == pytest.approx(np.median(r))
    assert len(load_accuracies([tmp_path / "a"])) == 1
    with pytest.raises(UserError, match="cannot read"):
        load_accuracy(tmp_path / "missing")

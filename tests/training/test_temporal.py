"""Temporal targets: frame sequences, per-frame counts and frame-averaged PSTHs.

Hénaff et al. (2021) V1 session ay4_u001 (44 sequences of 11 frames, 13 units, 50
repeats): frames 300 ms apart, ``frame_counts`` (one 200 ms count per frame, frame-major)
and ``psth`` (35 bins of 10 ms from -50 ms to 300 ms after each frame's onset, averaged
over the frames of a sequence).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from training_helpers import compose_train, write_synthetic

from snnvis.errors import UserError
from snnvis.models import time_bin_matrix
from snnvis.training import loop, setup

SESSION = "ay4_u001"
# 1 epoch of a narrow CORnet-RT at 16 px; 3 steps of 100 ms = the recording's 300 ms per frame
TINY_SEQ = [
    "model.input.size=16",
    "model.widths=[8,8,8,8]",
    "model.time.dt_ms=100",
    "model.time.steps_per_frame=3",
    "trainer.max_epochs=1",
    "trainer.device=cpu",
    "trainer.threads=1",
    "trainer.tensorboard=false",
    "trainer.progress=false",
]


def test_frame_averaged_window_before_onset_averages_the_frames_that_cover_it():
    # 3 frames of 20 ms (2 steps of 10 ms), no latency; window [-10, 0) precedes each frame's onset
    m = time_bin_matrix(
        6,
        dt_ms=10,
        latency_ms=0,
        windows_ms=[[-10, 0], [0, 20], [-5, 5]],
        frame_onsets_ms=[0, 20, 40],
        average_over_frames=True,
    )
    # frame 0 has no model time before it: the row averages frames 1 and 2 (steps 1 and 3)
    torch.testing.assert_close(m[0], torch.tensor([0, 0.5, 0, 0.5, 0, 0]))
    # covered in every frame: the plain average over the 3 frames
    torch.testing.assert_close(m[1], torch.full((6,), 1 / 6))
    # partly before frame 0: frame 0 contributes the part it covers ([0, 5): step 0 alone)
    torch.testing.assert_close(m[2], torch.tensor([1 / 3, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0]))
    torch.testing.assert_close(m.sum(1), torch.ones(3))
    # not averaged, the uncovered (frame 0, window 0) bin cannot be predicted
    with pytest.raises(ValueError, match="window 0 .* of frame 0"):
        time_bin_matrix(6, dt_ms=10, latency_ms=0, windows_ms=[[-10, 0]], frame_onsets_ms=[0, 20, 40])
    # a window no frame covers still raises
    with pytest.raises(ValueError, match="in any of the 3 frames"):
        time_bin_matrix(
            6, dt_ms=10, latency_ms=0, windows_ms=[[-50, -45]], frame_onsets_ms=[0, 20, 40], average_over_frames=True
        )


def test_model_timing_must_match_the_frame_interval(tmp_path):
    rec = write_synthetic(
        tmp_path / "seq.h5",
        n_stimuli=30,
        n_frames=4,
        n_neurons=3,
        n_repeats=2,
        size=16,
        bin_ms=100.0,
        recording_id="seq",
    )
    cfg = compose_train(
        [
            "experiment=v1_sequences",
            f"data.recordings=[{rec}]",
            "data.response=counts",
            "data.latency_ms=0",
            *TINY_SEQ,
            "model.time.steps_per_frame=2",
        ]
    )
    with pytest.raises(
        UserError,
        match=r"model timing in .*seq.h5: steps_per_frame × dt_ms = 200 ms but "
        r"frames are 100.0 ms apart",
    ):
        loop.run(cfg, tmp_path / "run")


@pytest.fixture(scope="module")
def henaff(imported):
    return imported("henaff2021_v1", SESSION)


@pytest.mark.parametrize("response, n_bins", [("frame_counts", 11), ("psth", 35)])
def test_v1_sequences_temporal_targets(henaff, tmp_path, response, n_bins):
    cfg = compose_train(
        ["experiment=v1_sequences", f"data.recordings=[{henaff}]", f"data.response={response}", *TINY_SEQ]
    )
    metrics = loop.run(cfg, tmp_path)
    assert metrics["data"]["target"] == "temporal"
    assert metrics["data"]["sessions"][SESSION]["response_set"] == response
    overall = metrics["test"]["overall"]
    assert overall["n_neurons"] == 13
    for key in ("pearson_r", "per_bin_r", "timecourse_r"):
        assert np.isfinite(overall[f"{key}_median"]), key
        assert -1 <= overall[f"{key}_median"] <= 1
    with h5py.File(tmp_path / "predictions.h5", "r") as f:
        g = f[SESSION]
        pred, resp = g["prediction"][()], g["response"][()]
        assert pred.shape == resp.shape == (len(g["stimulus_index"]), n_bins, 13)
        assert np.isfinite(pred).all() and (pred >= 0).all()
        stored = {k: g[f"metrics/{k}"][()] for k in g["metrics"]}
    if response == "frame_counts":  # 50 repeats: noise-corrected values
        for key in ("reliability", "pearson_r_corrected", "r2_er", "feve"):
            assert overall[f"{key}_median"] is not None, key
            assert stored[key].shape == (13,)
        assert 0 < overall["reliability_median"] <= 1
        r, rel, corrected = stored["pearson_r"], stored["reliability"], stored["pearson_r_corrected"]
        ok = rel > 0
        np.testing.assert_allclose(corrected[ok], r[ok] / np.sqrt(rel[ok]))
        _check_psth_figure(henaff, tmp_path)
    else:  # the PSTH has no trials
        assert "reliability_median" not in overall
        # bins before each frame's onset are predicted from the later frames only: the first
        # bin, [-50, -40) ms (model time -80 ms with the latency), from 10 of the 11 frames
        from types import SimpleNamespace

        from snnvis.models import build_model
        from snnvis.recordings.recording import Recording

        rec = Recording(henaff)
        train = SimpleNamespace(response_info=rec.response_info("psth"))
        session = SimpleNamespace(recording=rec, splits={"train": train})
        core = build_model(cfg.model, cfg.readout, {"s": 1}).core
        m = setup.bin_matrix_for(session, core, "temporal", cfg.data.latency_ms)
        assert m.shape == (35, 33) and torch.allclose(m.sum(1), torch.ones(35))
        assert m[0].count_nonzero() == 10 and torch.allclose(m[0][m[0] > 0], torch.tensor(0.1))
        assert m[-1].count_nonzero() == 11


def _check_psth_figure(henaff, run_dir):
    """Figure (c) of this run: a frame axis (per-frame counts are not a PSTH in ms), sequence names
    and the trial s.e.m. come from the recording, matched to the stored predictions whatever the
    order of the stimuli."""
    from snnvis.recordings.recording import Recording
    from snnvis.reporting import figure_psth, load_run, psth_context

    rec = Recording(henaff)
    with h5py.File(run_dir / "predictions.h5", "r") as f:
        g = f[SESSION]
        idx, resp = g["stimulus_index"][()][[2, 0, 1]], g["response"][()][[2, 0, 1]]  # not in file order
        ids = g["neuron_ids"].asstr()[()]
    run = load_run(run_dir, run_dir)
    ctx = psth_context(run, SESSION, idx, ids, resp)
    assert ctx["xlabel"] == "frame of the sequence" and not ctx["time_axis"]
    np.testing.assert_array_equal(ctx["t"], np.arange(resp.shape[1]))
    assert ctx["stimuli"] == ["/".join(rec.stimulus_ids[k].split("/")[-2:]) for k in idx]
    for j, k in enumerate(idx):
        trials = rec.trials("frame_counts", [k])[0]  # (repeats, frames, neurons)
        n = np.isfinite(trials).sum(0)
        np.testing.assert_allclose(ctx["sem"][j], np.nanstd(trials, axis=0, ddof=1) / np.sqrt(n), rtol=1e-6)
    entries, notes = [], []
    figure_psth([run], run_dir / "figs", entries, notes)
    assert not notes and len(entries) == 1 and entries[0].stem.name.startswith("c_psth_")
    assert entries[0].stem.with_suffix(".png").stat().st_size > 1000

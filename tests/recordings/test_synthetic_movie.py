"""Synthetic continuous movie: the stored ground truth reproduces the responses in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, stats

from snnvis.errors import UserError
from snnvis.recordings.format import write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.splits import SPLITS
from snnvis.recordings.synthetic_movie import MovieConfig, generate_movie_recording

CFG = MovieConfig(n_clips=12, clip_frames=20, scene_clips=2, n_neurons=8, n_repeats=20, size=16, seed=3)


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Recording:
    return Recording(write_recording(tmp_path_factory.mktemp("movie") / "m.h5", generate_movie_recording(CFG)))


def _movie_frames(rec):
    return rec.stimuli()[..., 0].reshape(-1, CFG.size, CFG.size).astype(np.float64) / 255.0 - 0.5


def test_spatial_and_temporal_drive_are_the_stored_filter_and_kernel(rec):
    gt = rec.ground_truth()
    x = _movie_frames(rec)
    s = np.tensordot(x, gt["filters"], axes=([1, 2], [1, 2]))  # (T, N)
    np.testing.assert_allclose(gt["spatial_drive"], s, atol=1e-9)
    for k in range(CFG.n_neurons):  # causal convolution, grey (0) before the first frame
        z = signal.lfilter(gt["temporal_kernels"][k], [1.0], s[:, k])
        np.testing.assert_allclose(gt["drive"][:, k], z, atol=1e-9)
        assert np.convolve(gt["temporal_kernels"][k], s[:, k])[: len(z)] == pytest.approx(z, abs=1e-9)


def test_kernels_are_delayed_biphasic_with_the_stored_latency(rec):
    gt = rec.ground_truth()
    h, lat = gt["temporal_kernels"], gt["latency_bins"]
    assert h.shape == (CFG.n_neurons, CFG.kernel_bins) and set(lat) <= set(range(1, 4))
    for k in range(CFG.n_neurons):
        nz = np.flatnonzero(np.abs(h[k]) > 1e-12)
        assert nz[0] == lat[k] and h[k, lat[k]] > 0 and h[k].min() < 0  # positive lobe first, then negative
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), 1.0)


def test_rate_is_exp_of_normalised_drive_minus_adaptation(rec):
    gt = rec.ground_truth()
    rate = rec.mean("ground_truth_rate").reshape(-1, CFG.n_neurons)
    np.testing.assert_allclose(rate, gt["rate"], rtol=1e-5)
    f = gt["rate"] / gt["scale"]
    rho = np.exp(-1.0 / gt["adapt_tau"])
    for k in range(CFG.n_neurons):  # a_t = rho a_(t-1) + (1 - rho) f_(t-1), a_0 = 0
        a = signal.lfilter([0.0, 1 - rho[k]], [1.0, -rho[k]], f[:, k])
        np.testing.assert_allclose(gt["adaptation"][:, k], a, atol=1e-9)
    u = (gt["drive"] - gt["drive"].mean(0)) / gt["drive"].std(0)
    np.testing.assert_allclose(np.log(f), gt["gain"] * u - gt["adapt_weight"] * gt["adaptation"], atol=1e-6)
    assert (gt["adapt_weight"] > 0).all()


def test_counts_are_poisson_around_the_rate(rec):
    gt = rec.ground_truth()
    trials = rec.trials()  # (clips, R, frames, N)
    counts = trials.transpose(0, 2, 1, 3).reshape(-1, CFG.n_repeats, CFG.n_neurons)
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    zscore = (counts.mean(1) - gt["rate"]) / np.sqrt(gt["rate"] / CFG.n_repeats)
    assert abs(zscore.mean()) < 0.05 and 0.9 < zscore.std() < 1.1
    # per-frame variance over repeats matches the mean (Poisson): pooled dispersion near 1
    assert counts.var(1, ddof=1).sum() / counts.mean(1).sum() == pytest.approx(1.0, abs=0.05)
    # and the trial mean tracks the ground truth rate per neuron
    for k in range(CFG.n_neurons):
        assert stats.pearsonr(counts.mean(1)[:, k], gt["rate"][:, k])[0] > 0.6


def test_movie_protocol_and_scene_splits(rec):
    p = rec.protocol
    assert (p.mode, p.off_ms) == ("movie", 0.0) and p.on_ms == pytest.approx(1000 / 30)
    assert p.consecutive_frame_fraction(1) == pytest.approx(1 - (CFG.n_clips - 1) / (CFG.n_frames - 1))
    split_of = {int(i): name for name in SPLITS for i in rec.split(name)}
    for scene in range(CFG.n_clips // CFG.scene_clips):
        assert len({split_of[c] for c in range(scene * 2, scene * 2 + 2)}) == 1
    assert set(split_of.values()) == set(SPLITS)


def test_scene_cuts_and_motion(rec):
    x = _movie_frames(rec)
    step = [stats.pearsonr(x[t].ravel(), x[t + 1].ravel())[0] for t in range(len(x) - 1)]
    cut = set(range(CFG.scene_clips * CFG.clip_frames - 1, len(x) - 1, CFG.scene_clips * CFG.clip_frames))
    within = [c for t, c in enumerate(step) if t not in cut]
    assert np.median(within) > 0.6 and max(within) < 0.9999  # moving, but smoothly
    assert max(abs(step[t]) for t in cut) < min(within)  # a cut shows a new scene


def test_same_config_same_movie_and_bad_configs(tmp_path):
    a, b = generate_movie_recording(CFG), generate_movie_recording(CFG)
    assert np.array_equal(a.pixels, b.pixels) and np.array_equal(
        a.responses["counts"].trials, b.responses["counts"].trials
    )
    for bad, why in [
        (dict(latency_range=(0, 9)), "latency_range"),
        (dict(n_clips=0), "n_clips"),
        (dict(frame_ms=0), "frame_ms"),
    ]:
        with pytest.raises(UserError, match=why):
            generate_movie_recording(MovieConfig(**{**CFG.__dict__, **bad}))


def test_cli_movie(tmp_path, capsys):
    from snnvis.cli.data import build_parser, main

    help_text = build_parser()._subparsers._group_actions[0].choices["synth"].format_help()
    for flag in ("--movie", "--n-clips", "--clip-frames", "--scene-clips", "--frame-ms"):
        assert flag in help_text
    out = tmp_path / "m.h5"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "synth",
                "--movie",
                "--n-clips",
                "6",
                "--clip-frames",
                "10",
                "--scene-clips",
                "2",
                "--n-neurons",
                "3",
                "--size",
                "16",
                "--out",
                str(out),
            ]
        )
    assert done.value.code == 0
    rec = Recording(out)
    assert (rec.n_stimuli, rec.n_frames, rec.protocol.mode) == (6, 10, "movie")
    assert rec.ground_truth()["temporal_kernels"].shape == (3, 8)


def test_noisy_counts_recover_the_kernels(rec):
    """A Poisson GLM on the lagged spatial drive (plus the stored adaptation) fitted to the noisy trials
    recovers each kernel's shape and latency: the data carry the ground truth at these settings."""
    from sklearn.linear_model import PoissonRegressor

    gt = rec.ground_truth()
    s, L = gt["spatial_drive"], CFG.kernel_bins
    counts = rec.trials().transpose(0, 2, 1, 3).reshape(-1, CFG.n_repeats, CFG.n_neurons)
    for k in range(CFG.n_neurons):
        lagged = np.stack([np.concatenate([np.zeros(j), s[: len(s) - j, k]]) for j in range(L)], 1)
        X = np.repeat(np.column_stack([lagged / gt["drive_std"][k], gt["adaptation"][:, k]]), CFG.n_repeats, 0)
        y = counts[:, :, k].reshape(-1)
        fit = PoissonRegressor(alpha=1e-6, max_iter=1000).fit(X, y)
        h = fit.coef_[:L]
        assert stats.pearsonr(h, gt["temporal_kernels"][k])[0] > 0.8
        assert abs(int(np.argmax(h)) - int(np.argmax(gt["temporal_kernels"][k]))) <= 1
        assert fit.coef_[L] == pytest.approx(-gt["adapt_weight"][k], abs=0.5)

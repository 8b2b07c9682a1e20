"""Figures with a real time axis: PSTHs in ms after onset (latency, s.e.m., units) and the recovery of
ground-truth temporal kernels on the synthetic movie; figure (c) never puts ms on a frame axis."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from snnvis.figures import kernel_recovery, psth_time_course
from snnvis.recordings.format import write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.synthetic_movie import MovieConfig, generate_movie_recording
from snnvis.reporting.time_figures import figure_kernel_recovery, fit_kernels, onset_latency, poisson_glm

T_MS = np.arange(-45.0, 295.0, 10.0)  # Hénaff's 35 PSTH bin centres


def _psth(rng, n_stim=2, n_neurons=3):
    shape = np.clip(np.exp(-(((T_MS - 80) / 40) ** 2)), 0, None)
    resp = 20 + 60 * shape[None, :, None] * rng.uniform(0.5, 1.5, (n_stim, 1, n_neurons))
    return resp + rng.normal(0, 2, resp.shape), resp


def test_psth_time_course_axis_latency_band_and_units(tmp_path):
    rng = np.random.default_rng(0)
    pred, resp = _psth(rng)
    lat = np.array([40.0, 55.0, 70.0])
    fig = psth_time_course(pred, resp, T_MS, "spikes/s", ["n0", "n1", "n2"], ["a", "b"], 0 * resp + 3.0, lat)
    fig.savefig(tmp_path / "psth.png")
    axes = np.reshape(fig.get_axes(), (3, 2))
    assert all(ax.get_xlabel() == "time after stimulus onset (ms)" for ax in axes[-1])
    assert axes[1, 0].get_ylabel() == "n1\nspikes/s"
    for (i, j), ax in np.ndenumerate(axes):
        curves = [ln for ln in ax.lines if len(ln.get_xdata()) == T_MS.size]
        np.testing.assert_array_equal(curves[0].get_xdata(), T_MS)  # recorded, on the ms axis
        np.testing.assert_allclose(curves[1].get_ydata(), pred[j, :, i])
        vlines = sorted(float(ln.get_xdata()[0]) for ln in ax.lines if len(ln.get_xdata()) == 2)
        assert vlines == [0.0, lat[i]]  # onset and this neuron's latency
        (band,) = ax.collections
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx((resp[j, :, i] - 3).min()) and ys.max() == pytest.approx(
            (resp[j, :, i] + 3).max()
        )
    r = np.corrcoef(pred[1, :, 2], resp[1, :, 2])[0, 1]
    assert axes[2, 1].texts[0].get_text() == f"r = {r:.2f}"
    with pytest.raises(ValueError, match="strictly increasing"):
        psth_time_course(pred, resp, T_MS[::-1], "spikes/s", ["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="units"):
        psth_time_course(pred, resp, T_MS, " ", ["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="latency"):
        psth_time_course(pred, resp, T_MS, "spikes/s", ["a", "b", "c"], ["a", "b"], latency_ms=[1.0])


def test_poisson_glm_matches_scikit_learn():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    y = rng.poisson(np.exp(0.3 + X @ np.array([0.5, -0.3, 0.0, 0.2, 0.1])))
    w = poisson_glm(X, y, l2=1e-3)
    ref = PoissonRegressor(alpha=1e-3, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(w[:-1], ref.coef_, atol=1e-5)
    assert w[-1] == pytest.approx(ref.intercept_, abs=1e-5)


def test_onset_latency():
    k = np.array([[0, 0, 0.1, 1.0, -0.4], [0, 0.5, 1.0, 0.2, 0.0]])
    np.testing.assert_array_equal(onset_latency(k), [3, 1])


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> Recording:
    cfg = MovieConfig(n_clips=12, clip_frames=20, scene_clips=2, n_neurons=6, n_repeats=20, size=16, seed=3)
    return Recording(write_recording(tmp_path_factory.mktemp("movie") / "m.h5", generate_movie_recording(cfg)))


def test_kernels_recovered_from_the_synthetic_movie_and_drawn(movie, tmp_path):
    entries = []
    d = figure_kernel_recovery(movie, tmp_path, entries)
    assert d["recovered"].shape == d["true"].shape == (6, 8)
    assert np.all(d["shape_r"] > 0.8)  # shape of every ground-truth kernel
    assert np.all(np.abs(d["recovered_latency"] - d["true_latency"]) <= 1)
    np.testing.assert_allclose(d["adapt_weight_fit"], d["adapt_weight"], atol=0.5)
    assert (tmp_path / "kernel_recovery.png").stat().st_size > 10_000 and (tmp_path / "kernel_recovery.csv").is_file()
    assert len(entries) == 1 and "within one frame for" in entries[0].caption
    # the noise-free rates recover the kernels almost exactly; shuffled responses do not
    gt = movie.ground_truth()
    rate = gt["rate"].reshape(movie.n_stimuli, movie.n_frames, -1)
    exact = fit_kernels(movie, responses=rate)
    assert np.all(exact["shape_r"] > 0.99)
    shuffled = np.random.default_rng(0).permutation(rate.reshape(-1, rate.shape[-1])).reshape(rate.shape)
    assert np.median(fit_kernels(movie, responses=shuffled)["shape_r"]) < 0.8
    half = fit_kernels(movie, responses=rate[::2], clips=np.arange(0, movie.n_stimuli, 2))
    assert np.all(half["shape_r"] > 0.99)  # a subset of clips (e.g. a run's test clips) is placed right


def test_kernel_recovery_figure_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        kernel_recovery(np.zeros((3, 5)), np.zeros((3, 4)), 33.3, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="latencies"):
        kernel_recovery(np.ones((3, 5)), np.ones((3, 5)), 33.3, np.zeros(2), np.zeros(3))


def _recording(tmp_path):
    """Four 5-frame stimuli with per-frame counts (one window per frame) and a 35-bin PSTH."""
    from snnvis.recordings.format import RecordingData, ResponseSet
    from snnvis.recordings.protocol import Protocol

    rng = np.random.default_rng(0)
    n, frames, reps, neurons = 4, 5, 3, 2
    counts = rng.poisson(3.0, (n, reps, frames, neurons)).astype(np.float32)
    psth = rng.poisson(3.0, (n, reps, T_MS.size, neurons)).astype(np.float32)
    data = RecordingData(
        recording_id="r",
        source="test",
        species="macaque",
        citation="-",
        license="-",
        neuron_ids=["a", "b"],
        neuron_areas=["V1", "V1"],
        stimulus_ids=[f"s/{k}" for k in range(n)],
        pixels=rng.integers(0, 255, (n, frames, 8, 8, 1)).astype(np.uint8),
        responses={
            "counts": ResponseSet(counts.mean(1), np.array([[50.0, 250.0]]), "spike count", "frame", trials=counts),
            "psth": ResponseSet(psth.mean(1), np.stack([T_MS - 5, T_MS + 5], 1), "spikes/s", trials=psth),
        },
        default_response="counts",
        frame_duration_ms=200.0,
        frame_interval_ms=300.0,
        protocol=Protocol("independent", 200.0, 100.0),
    )
    return write_recording(tmp_path / "r.h5", data), counts, psth


def _run(run_dir, rec_path, response_set: str):
    from snnvis.reporting.sweep import Run

    metrics = {"data": {"sessions": {"r": {"recording": str(rec_path), "response_set": response_set}}}}
    return Run(run_dir, "run", metrics, "sew_resnet", False, 0, "h", "sew_resnet_tiny", label="sew_resnet_tiny")


def test_figure_c_puts_frame_counts_on_a_frame_axis_and_psth_on_ms(tmp_path):
    """psth_context: one count per frame is drawn against the frame index (never ms); a response set
    of time windows against their centres in ms, with the set's units."""
    from snnvis.reporting.figures import psth_context

    path, counts, psth = _recording(tmp_path)
    idx = np.arange(2)
    ctx = psth_context(_run(tmp_path, path, "counts"), "r", idx, np.array(["a", "b"]), counts.mean(1)[idx])
    assert not ctx["time_axis"] and ctx["xlabel"] == "frame of the sequence" and "ms" not in ctx["xlabel"]
    np.testing.assert_array_equal(ctx["t"], np.arange(counts.shape[2]))
    assert ctx["units"] == "spike count"
    ctx = psth_context(_run(tmp_path, path, "psth"), "r", idx, np.array(["a", "b"]), psth.mean(1)[idx])
    assert ctx["time_axis"] and ctx["units"] == "spikes/s"
    np.testing.assert_allclose(ctx["t"], T_MS)
    np.testing.assert_allclose(ctx["sem"], psth.std(1, ddof=1)[idx] / np.sqrt(psth.shape[1]), rtol=1e-5)


def test_figure_c_of_a_psth_run_ranks_by_time_course_r_and_marks_latency(tmp_path):
    from snnvis.outputs import SessionPredictions, write_predictions
    from snnvis.reporting.figures import figure_psth

    path, _, psth = _recording(tmp_path)
    idx = np.array([3, 1])
    resp = psth.mean(1)[idx]
    metrics = {
        "pearson_r": np.array([0.9, 0.1]),
        "psth_time_course_r": np.array([0.2, 0.8]),
        "latency_ms": np.array([42.0, 57.0]),
    }
    sp = SessionPredictions(idx, resp + 1.0, resp, np.array(["a", "b"]), np.array(["V1", "V1"]), metrics)
    sp.recording, sp.response_set = str(path), "psth"
    write_predictions(tmp_path / "predictions.h5", {"r": sp})
    entries, notes = [], []
    figure_psth([_run(tmp_path, path, "psth")], tmp_path / "figs", entries, notes)
    assert not notes and len(entries) == 1 and "fitted latency" in entries[0].caption
    import matplotlib.image

    assert matplotlib.image.imread(entries[0].stem.with_suffix(".png")).shape[0] > 300
    from snnvis.reporting.figures import psth_data

    d = psth_data(_run(tmp_path, path, "psth"))
    assert d["r_name"] == "time-course r" and list(d["order"]) == [1, 0]  # ranked by time-course r
    np.testing.assert_array_equal(d["latency_ms"], [42.0, 57.0])

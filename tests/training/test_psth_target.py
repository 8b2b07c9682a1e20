"""data.target=psth: presentations as the protocol says, the temporal readout's latency binning,
the aperture crop, and metrics.json of a run on several recordings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from training_helpers import compose_train, recordings_override

from snnvis.models import build_encoder
from snnvis.models.readouts import build_readout
from snnvis.models.temporal_readout import PresentationPlan, PsthModel, is_stateless, window_weights
from snnvis.models.timing import time_bin_matrix
from snnvis.recordings.aperture import aperture_box
from snnvis.recordings.format import RecordingData, ResponseSet, write_recording
from snnvis.recordings.protocol import Protocol

TINY_CORE = dict(
    name="sew_resnet",
    stem_width=4,
    stem_kernel=3,
    stem_stride=1,
    stem_pool=False,
    widths=[4, 8],
    blocks=[1, 1],
    input={"size": 16, "in_channels": 1, "mean": [0.5], "std": [0.25]},
    time={"dt_ms": 10.0},
)


def _model(mode: str, spiking: bool, n_neurons: int = 3, **core) -> PsthModel:
    torch.manual_seed(0)
    enc = build_encoder(**{**TINY_CORE, "spiking": spiking, **core})
    readouts = torch.nn.ModuleDict(
        {"s": build_readout("factorized", enc.output_shape(), n_neurons, init_std=0.3, nonlinearity="softplus")}
    )
    plan = PresentationPlan(mode, 10.0, 4, 0 if mode == "movie" else 2, 0 if mode == "movie" else 1, 2,
                            np.array([[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]]), False, 0.5)  # fmt: skip
    return PsthModel(enc, readouts, {"s": plan}, taps=3, latency_ms=0.0).eval()


def test_window_weights_match_time_bin_matrix_and_move_with_the_latency():
    windows = torch.tensor([[-10.0, 0.0], [0.0, 10.0], [15.0, 35.0], [40.0, 50.0]])
    edges = torch.arange(9, dtype=torch.float32) * 10.0 - 20.0  # 8 steps from -20 ms
    for latency in (0.0, 10.0, 7.5):
        w = window_weights(torch.tensor([latency]), edges, windows)[0]
        ref = time_bin_matrix(8, 10.0, latency, windows.numpy() + 20.0)  # the same grid, starting at 0
        torch.testing.assert_close(w, ref)
    # before the first step the model holds the first step's value, after the last the last one's
    outside = window_weights(torch.tensor([30.0]), edges, torch.tensor([[-20.0, -10.0], [100.0, 120.0]]))[0]
    torch.testing.assert_close(outside[:, [0, -1]], torch.eye(2))
    lat = torch.tensor([12.0], requires_grad=True)
    values = torch.arange(8, dtype=torch.float32) ** 2
    (window_weights(lat, edges, windows)[0] @ values).sum().backward()
    eps = 0.5  # finite difference over a stretch where the weights are linear in the latency
    up = (window_weights(lat.detach() + eps, edges, windows)[0] @ values).sum()
    down = (window_weights(lat.detach() - eps, edges, windows)[0] @ values).sum()
    assert lat.grad.item() == pytest.approx(((up - down) / (2 * eps)).item(), rel=1e-4)
    assert lat.grad.item() < 0  # later lag -> earlier (smaller) step values


def test_aperture_box_is_the_square_around_the_varying_circle():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    inside = (yy - 30) ** 2 + (xx - 34) ** 2 <= 20**2  # rows 10..50, cols 14..54
    pixels = np.full((3, 2, 64, 64, 1), 128, np.uint8)
    pixels[..., 0][:, :, inside] = rng.integers(0, 256, size=(3, 2, inside.sum()))
    assert aperture_box(pixels) == (10, 14, 41)
    assert aperture_box(np.full((1, 1, 8, 12, 1), 7, np.uint8)) == (0, 2, 8)


@pytest.mark.parametrize("spiking", [True, False])
def test_independent_response_to_a_frame_ignores_what_came_before_and_stream_does_not(spiking):
    rng = torch.Generator().manual_seed(1)
    a, b, c = (torch.rand(1, 1, 1, 16, 16, generator=rng) for _ in range(3))
    after_a, after_c = torch.cat([a, b], dim=1), torch.cat([c, b], dim=1)  # frame b after a or after c
    with torch.no_grad():
        ind = _model("independent", spiking, neuron={"tau": 4.0, "v_threshold": 0.05})
        p, q = (ind.windows(x, "s", ind.plans["s"].windows_ms, False) for x in (after_a, after_c))
        torch.testing.assert_close(p[:, 3:], q[:, 3:])  # frame 1's bins
        assert not torch.allclose(p[:, :3], q[:, :3])  # frame 0 differs, so the check has power
        stream = _model("stream", spiking, neuron={"tau": 4.0, "v_threshold": 0.05})
        p, q = (stream.windows(x, "s", stream.plans["s"].windows_ms, False) for x in (after_a, after_c))
    if spiking:  # membrane state carried across the presentations
        assert (p[:, 3:] - q[:, 3:]).abs().max() > 1e-3
    else:  # a feedforward twin has no state to carry
        torch.testing.assert_close(p[:, 3:], q[:, 3:])


def test_stateless_path_equals_the_stepwise_run():
    x = torch.rand(2, 2, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    for mode in ("independent", "movie"):
        m = _model(mode, spiking=False)
        assert m.stateless
        with torch.no_grad():
            fast = m(x, "s")
            m.stateless = False
            slow = m(x, "s")
        torch.testing.assert_close(fast, slow)
    assert not is_stateless(build_encoder(**{**TINY_CORE, "spiking": True}))
    rt = build_encoder(name="cornet_rt", spiking=False, widths=[4, 4, 4, 4], strides=[2, 1, 1, 1],
                       input=TINY_CORE["input"])  # fmt: skip
    assert not is_stateless(rt)  # within-area recurrence: state across steps


def _henaff_like(path, rid: str, n_neurons: int, seed: int):
    """Independent flashes (40 ms on, 20 ms blank), 3 frames per stimulus, a frame-averaged PSTH from
    -20 ms and per-frame counts, as the Hénaff importer lays them out."""
    rng = np.random.default_rng(seed)
    n, frames = 24, 3
    pixels = rng.integers(0, 256, size=(n, frames, 16, 16, 1), dtype=np.uint8)
    drive = pixels.reshape(n, frames, -1).astype(np.float64).std(-1)[..., None] / 40 * rng.uniform(0.5, 2, n_neurons)
    psth_windows = np.stack([np.arange(-20, 60, 10), np.arange(-10, 70, 10)], 1).astype(float)
    shape = np.interp(psth_windows[:, 0], [-20, 10, 20, 60], [1, 1, 6, 2])
    psth = drive.mean(1)[:, None, :] * shape[None, :, None] * 5
    trials = rng.poisson(np.repeat(drive[:, None], 4, 1) * 3).astype(np.float32)
    write_recording(
        path,
        RecordingData(
            recording_id=rid, source="synthetic", species="synthetic", citation="test",
            neuron_ids=[f"{rid}_{k}" for k in range(n_neurons)], neuron_areas=["V1"] * n_neurons,
            stimulus_ids=[f"{rid}_s{i}" for i in range(n)], pixels=pixels,
            stimulus_groups=[f"g{i // 3}" for i in range(n)], group_universe=[f"g{i}" for i in range(8)],
            responses={
                "frame_counts": ResponseSet(trials.mean(1), np.array([[10.0, 50.0]]), "count", "frame",
                                            trials=trials),
                "psth": ResponseSet(psth.astype(np.float32), psth_windows, "spikes/s", "frame", frame_average=True),
            },
            default_response="frame_counts", frame_duration_ms=40.0, frame_interval_ms=60.0,
            protocol=Protocol("independent", 40.0, 20.0), license="CC0-1.0",
        ),
    )  # fmt: skip
    return path


def _tiny_v1_psth(tmp_path, recs=None) -> list[str]:
    """experiment=v1_psth on small Hénaff-like recordings (default: two new ones), a tiny twin, 2 epochs."""
    if recs is None:
        recs = [_henaff_like(tmp_path / f"{r}.h5", r, k, s) for r, k, s in (("rec_a", 4, 0), ("rec_b", 3, 1))]
    return [
        "experiment=v1_psth",
        recordings_override(recs),
        "data.image_size=16",
        "data.batch_size=4",
        "model.input.in_channels=1",
        "model.input.mean=[0.5]",
        "model.input.std=[0.25]",
        "model.widths=[4,8]",
        "model.blocks=[1,1]",
        "model.stem_width=4",
        "model.time.dt_ms=10.0",
        "model.spiking=false",
        "trainer.max_epochs=2",
        "trainer.tensorboard=false",
        "trainer.progress=false",
        "trainer.device=cpu",
    ]


def test_psth_run_reports_time_course_baseline_and_count_r_per_recording(tmp_path):
    from snnvis.training import loop

    cfg = compose_train(_tiny_v1_psth(tmp_path))
    m = loop.run(cfg, tmp_path / "run")
    keys = ("psth_time_course_r_median", "psth_baseline_time_course_r_median", "pearson_r_median")
    for where in (m["test"]["overall"], *m["test"]["sessions"].values()):
        assert all(np.isfinite(where[k]) for k in keys), where
    assert set(m["test"]["sessions"]) == {"rec_a", "rec_b"}
    assert m["test"]["sessions"]["rec_b"]["n_neurons"] == 3
    # the baseline is each neuron's mean training shape: the synthetic PSTHs share one shape exactly
    assert m["test"]["overall"]["psth_baseline_time_course_r_median"] == pytest.approx(1.0, abs=1e-6)


def test_count_scores_are_in_the_recordings_count_unit(tmp_path, monkeypatch):
    """The count head is trained on count / window length; a model predicting exactly those rates
    on the test split gets the FEVE of the recorded mean counts, computed here directly."""
    from snnvis.outputs.predictions import read_predictions
    from snnvis.recordings.recording import Recording
    from snnvis.similarity import feve
    from snnvis.training import loop, psth

    rec_path = _henaff_like(tmp_path / "rec_a.h5", "rec_a", 4, 0)
    real = psth.predict_windows

    def perfect_rates(model, session, split, device, amp, batch_size, info=None):
        if info is None or split != "test":
            return real(model, session, split, device, amp, batch_size, info)
        idx = session.splits[split].indices
        return session.recording.mean(info.name, idx) / psth.window_seconds(session.recording, info.name)[None, :, None]

    monkeypatch.setattr(psth, "predict_windows", perfect_rates)
    cfg = compose_train([*_tiny_v1_psth(tmp_path, [rec_path]), "trainer.max_epochs=1"])
    loop.run(cfg, tmp_path / "run")
    got = read_predictions(tmp_path / "run" / "predictions.h5", ["stimulus_index", "metrics"])["rec_a"]
    rec = Recording(rec_path)
    counts = rec.mean("frame_counts", got.stimulus_index)  # (stimuli, frames, neurons)
    trials = rec.trials("frame_counts", got.stimulus_index)  # (stimuli, repeats, frames, neurons)
    n, reps, frames, neurons = trials.shape  # every (stimulus, frame) is one condition
    want = feve(counts.reshape(n * frames, neurons), trials.transpose(0, 2, 1, 3).reshape(n * frames, reps, neurons))
    assert np.isfinite(want).all()
    np.testing.assert_allclose(got.metrics["feve"], want, rtol=1e-6)


def test_shape_penalty_is_one_minus_the_scipy_time_course_r_and_enters_the_training_loss():
    from types import SimpleNamespace

    from scipy.stats import pearsonr

    from snnvis.training.epochs import train_step
    from snnvis.training.losses import poisson_loss

    model = _model("independent", False)  # 2 frames x 3 windows = 6 recorded bins per stimulus
    model.shape_weight = 0.5
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(4, 8, 3, generator=g), torch.rand(4, 8, 3, generator=g)  # 2 extra bins
    target[1, :6, 2] = 2.0  # a constant time course has no r and is left out
    want = [1 - pearsonr(pred[b, :6, n], target[b, :6, n])[0] for b in range(4) for n in range(3) if (b, n) != (1, 2)]
    assert model.shape_penalty(pred, target, "s").item() == pytest.approx(0.5 * np.mean(want), rel=1e-5)

    stimuli = torch.rand(2, 2, 1, 16, 16, generator=g)
    batch = SimpleNamespace(stimuli=stimuli, responses=torch.rand(2, 6, 3, generator=g) + 0.1, session="s")
    tcfg = SimpleNamespace(amp=False, grad_clip=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with torch.no_grad():
        pred = model(stimuli, "s")
    plain = poisson_loss(pred, batch.responses).item()
    shaped = train_step(model, model, opt, batch, None, poisson_loss, tcfg, torch.device("cpu"))
    assert shaped == pytest.approx(plain + model.shape_penalty(pred, batch.responses, "s").item(), rel=1e-5)
    model.shape_weight = 0.0
    assert train_step(model, model, opt, batch, None, poisson_loss, tcfg, torch.device("cpu")) == pytest.approx(plain)


def test_psth_ensemble_scores_the_mean_of_its_members_bins(tmp_path):
    from snnvis.outputs import read_predictions
    from snnvis.training import loop
    from snnvis.training.ensemble import score_members

    args = _tiny_v1_psth(tmp_path)
    one = loop.run(compose_train(args), tmp_path / "single")
    (tmp_path / "same").mkdir()
    same = score_members(compose_train(args), [tmp_path / "single"] * 3, tmp_path / "same", torch.device("cpu"))
    assert same["test"] == one["test"]  # identical members: every summary and CI of the member, exactly

    run = tmp_path / "ensemble"
    m = loop.run(compose_train([*args, "trainer.ensemble=2", "seed=3"]), run)
    members = [read_predictions(run / "members" / str(k) / "predictions.h5") for k in range(2)]
    ens = read_predictions(run / "predictions.h5")
    assert m["ensemble"]["seeds"] == [3, 4]
    for sid, s in ens.items():
        assert not np.array_equal(members[0][sid].prediction, members[1][sid].prediction)
        mean = (members[0][sid].prediction.astype(np.float64) + members[1][sid].prediction) / 2
        np.testing.assert_allclose(s.prediction, mean, rtol=1e-6)
        # the time-course r of the averaged PSTHs: scipy's r over bins, averaged over stimuli
        want = [np.mean([stats.pearsonr(mean[i, :, n], s.response[i, :, n])[0] for i in range(len(mean))])
                for n in range(mean.shape[2])]  # fmt: skip
        np.testing.assert_allclose(s.metrics["psth_time_course_r"], want, rtol=1e-5)
    assert m["test"]["overall"]["psth_time_course_r_median"] == pytest.approx(
        np.median(np.concatenate([s.metrics["psth_time_course_r"] for s in ens.values()])), abs=1e-9
    )

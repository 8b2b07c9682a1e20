"""The synthetic LNP population: determinism, shapes, and that its ground truth is recoverable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnvis.cli.data import main as data_main
from snnvis.errors import UserError
from snnvis.recordings.format import write_recording
from snnvis.recordings.recording import Recording
from snnvis.recordings.synthetic import (
    SynthConfig,
    biphasic_kernel,
    expected_ceiling,
    generate_recording,
    ground_truth,
    simulate,
)

STATIC = SynthConfig(n_stimuli=40, n_frames=1, n_neurons=6, n_repeats=3, size=16, seed=3)
SEQ = SynthConfig(n_stimuli=12, n_frames=8, n_neurons=5, n_repeats=4, size=16, seed=4)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        data_main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


# ---- determinism ---------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    a, b = simulate(STATIC), simulate(STATIC)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.truth.filters, b.truth.filters)
    c = simulate(SynthConfig(**{**STATIC.__dict__, "seed": 5}))
    assert not np.array_equal(a.pixels, c.pixels)
    assert not np.allclose(a.truth.filters, c.truth.filters)


def test_neurons_and_stimuli_do_not_depend_on_how_many_are_drawn():
    small = simulate(SynthConfig(**{**STATIC.__dict__, "n_stimuli": 10, "n_neurons": 3}))
    big = simulate(STATIC)
    np.testing.assert_array_equal(small.pixels, big.pixels[:10])
    np.testing.assert_allclose(small.truth.filters, big.truth.filters[:3])
    np.testing.assert_allclose(small.rates, big.rates[:10, :, :3])


# ---- shapes and file contents ----------------------------------------------------------


@pytest.mark.parametrize("cfg", [STATIC, SEQ], ids=["static", "sequence"])
def test_recording_shapes(cfg, tmp_path):
    path = write_recording(tmp_path / "s.h5", generate_recording(cfg))
    rec = Recording(path)
    n, t, nn, r = cfg.n_stimuli, cfg.n_frames, cfg.n_neurons, cfg.n_repeats
    assert rec.source == "synthetic" and rec.species == "synthetic" and rec.areas == ["V1"]
    assert rec.citation == "snnvis synthetic LNP population"
    assert rec.stimuli().shape == (n, t, cfg.size, cfg.size, 1) and rec.stimuli().dtype == np.uint8
    assert rec.default_response == "counts"
    counts, rate = rec.response_info("counts"), rec.response_info("ground_truth_rate")
    assert counts.mean_shape == (n, t, nn) and counts.trials_shape == (n, r, t, nn)
    assert rate.mean_shape == (n, t, nn) and rate.trials_shape is None
    assert rate.units == "expected spike count" and "spike count" in counts.units
    assert counts.align == ("stimulus" if t == 1 else "frame") and not counts.frame_average
    assert counts.windows_ms.shape == (1, 2)
    trials = rec.trials("counts")
    np.testing.assert_allclose(rec.mean("counts"), trials.mean(1), rtol=1e-6)
    assert np.all(trials == np.round(trials)) and trials.min() >= 0
    # the stored rate is the model applied to the stored pixels
    truth = ground_truth(cfg)
    np.testing.assert_allclose(rec.mean("ground_truth_rate"), truth.rates(rec.stimuli()), rtol=1e-5)
    prov = rec.provenance()
    assert prov["options"]["seed"] == cfg.seed and prov["options"]["n_frames"] == t
    assert prov["importer"] == "snnvis.recordings.synthetic"


def test_rates_are_realistic_and_stimuli_smooth():
    sim = simulate(STATIC)
    mean_rate = sim.rates.reshape(-1, STATIC.n_neurons).mean(0)
    assert np.all((mean_rate > 1) & (mean_rate < 30))
    x = sim.pixels[:, 0, :, :, 0].astype(float)
    # 1/f textures: neighbouring pixels are correlated
    assert _corr(x[:, :, :-1], x[:, :, 1:]) > 0.5  # white noise: ~0
    seq = simulate(SEQ).pixels[..., 0].astype(float)
    assert _corr(seq[:, :-1], seq[:, 1:]) > 0.5  # frames change smoothly
    assert not any(np.array_equal(seq[i, f], seq[i, f + 1]) for i in range(len(seq)) for f in range(7))


# ---- ground truth ----------------------------------------------------------------------


def test_trial_mean_matches_the_analytic_poisson_ceiling():
    cfg = SynthConfig(n_stimuli=400, n_neurons=30, n_repeats=2, size=16, seed=1, rate_range=(1.0, 5.0))
    sim = simulate(cfg)
    rates = sim.rates[:, 0]
    trial_mean = sim.counts.mean(1)[:, 0]
    observed = np.array([_corr(trial_mean[:, k], rates[:, k]) for k in range(cfg.n_neurons)])
    expected = expected_ceiling(rates, cfg.n_repeats)
    assert expected.shape == (cfg.n_neurons,) and 0.5 < expected.mean() < 0.95  # far from 1: a real test
    assert abs(observed.mean() - expected.mean()) < 0.02
    assert np.median(np.abs(observed - expected)) < 0.05
    # Poisson: across repeats the variance equals the mean (Fano factor 1)
    fano = sim.counts[:, :, 0].var(1, ddof=1).mean(0) / sim.counts[:, :, 0].mean(1).mean(0)
    assert abs(fano.mean() - 1) < 0.1
    # the formula itself
    assert expected_ceiling(np.array([1.0, 3.0]), 4) == pytest.approx(np.sqrt(1 / (1 + 2 / 4)))


def test_temporal_kernels_are_biphasic():
    truth = ground_truth(SEQ)
    for h in truth.temporal_kernels:
        signs = np.sign(h[np.abs(h) > 1e-3 * np.abs(h).max()])
        assert signs[0] > 0 and signs[-1] < 0
        assert np.count_nonzero(np.diff(signs)) == 1  # one positive, then one negative lobe
        assert abs(h.sum()) < 0.2 * np.abs(h).sum()  # integrates to nearly 0
        assert h[h > 0].sum() > 0.3 and -h[h < 0].sum() > 0.3
    h = biphasic_kernel(20, 0.8, 1.8, 1.0)
    assert abs(h.sum()) < 0.05 * np.abs(h).sum()


def test_least_squares_on_the_noiseless_log_rate_recovers_the_gabor():
    cfg = SynthConfig(n_stimuli=400, n_neurons=4, n_repeats=1, size=14, seed=2)
    sim = simulate(cfg)
    x = sim.pixels[:, 0, :, :, 0].reshape(cfg.n_stimuli, -1).astype(float) / 255 - 0.5
    design = np.column_stack([x, np.ones(len(x))])
    w, *_ = np.linalg.lstsq(design, np.log(sim.rates[:, 0]), rcond=None)
    for k in range(cfg.n_neurons):
        est = w[:-1, k].reshape(cfg.size, cfg.size)
        assert _corr(est, sim.truth.filters[k]) > 0.9
    g = sim.truth.filters
    assert np.allclose(g.sum((1, 2)), 0, atol=1e-9) and np.allclose(np.linalg.norm(g, axis=(1, 2)), 1)


def test_history_matters_and_the_temporal_kernel_is_recoverable():
    cfg = SynthConfig(n_stimuli=60, n_frames=16, n_neurons=3, n_repeats=1, size=16, seed=6)
    sim = simulate(cfg)
    s = sim.truth.spatial_drive(sim.pixels)  # (n, frames, neurons)
    log_rate = np.log(sim.rates)
    lags = cfg.kernel_bins
    for k in range(cfg.n_neurons):
        rows = [(s[:, f - lags + 1 : f + 1, k][:, ::-1], log_rate[:, f, k]) for f in range(lags - 1, cfg.n_frames)]
        design = np.concatenate([r[0] for r in rows])
        design = np.column_stack([design, np.ones(len(design))])
        h, *_ = np.linalg.lstsq(design, np.concatenate([r[1] for r in rows]), rcond=None)
        assert _corr(h[:-1], sim.truth.temporal_kernels[k]) > 0.99
        # the current frame alone does not explain the rate
        assert _corr(s[:, lags:, k], log_rate[:, lags:, k]) < 0.95


def test_softplus_nonlinearity_and_bad_config():
    sim = simulate(SynthConfig(n_stimuli=50, n_neurons=3, size=16, nonlinearity="softplus"))
    assert np.all(sim.rates > 0) and np.isfinite(sim.rates).all()
    with pytest.raises(UserError, match="nonlinearity"):
        ground_truth(SynthConfig(nonlinearity="relu"))
    with pytest.raises(UserError, match="n_stimuli"):
        generate_recording(SynthConfig(n_stimuli=0))


# ---- CLI -------------------------------------------------------------------------------


def test_cli_synth_then_info(tmp_path, capsys):
    out = tmp_path / "tmp" / "x.h5"
    code, stdout, _ = _run(
        [
            "synth",
            "--out",
            str(out),
            "--n-stimuli",
            "20",
            "--n-frames",
            "3",
            "--n-neurons",
            "4",
            "--n-repeats",
            "2",
            "--size",
            "16",
            "--seed",
            "7",
        ],
        capsys,
    )
    assert code == 0 and stdout.strip() == str(out)
    rec = Recording(out)
    assert (rec.n_stimuli, rec.n_frames, rec.n_neurons) == (20, 3, 4)
    code, stdout, _ = _run(["info", str(out), "--json"], capsys)
    info = json.loads(stdout)
    assert code == 0 and info["n_stimuli"] == 20 and info["n_repeats"] == 2 and info["n_bins"] == 3
    assert info["image_shape"] == [16, 16, 1] and info["default_response"] == "counts"
    assert set(info["responses"]) == {"counts", "ground_truth_rate"}
    assert sum(info["splits"].values()) == 20
    code, stdout, _ = _run(["info", str(out)], capsys)
    assert code == 0 and "ground_truth_rate" in stdout

"""The Huang et al. TSRSA perturbation analysis end to end on a synthetic movie written in the Allen
natural-movie layout: import, TSRSA with its split-half ceiling under every perturbation, table, figure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from snnvis.config import compose
from snnvis.outputs import PERTURBATIONS_FILE, load_results
from snnvis.recordings.importing import import_source
from snnvis.recordings.recording import Recording
from snnvis.similarity import tsrsa_split_half_ceiling, tsrsa_windows

N_FRAMES, SIZE, CLIP, REPEATS, NEURONS = 48, 16, 12, 10, 24


def _write_allen_layout(root):
    """A drifting texture and neurons whose rates mix three shared pixel filters (so any half of
    the neurons sees the same trajectory and the split-half ceiling is well above 0)."""
    rng = np.random.default_rng(0)
    base = root / "allen_natural_movie"
    (base / "movies").mkdir(parents=True)
    big = rng.integers(0, 256, (SIZE, 3 * SIZE + N_FRAMES)).astype(np.float64)
    big = (big + np.roll(big, 1, 1) + np.roll(big, 1, 0) + np.roll(big, 2, 1)) / 4
    frames = np.stack([big[:, t : t + SIZE] for t in range(N_FRAMES)]).astype(np.uint8)
    np.save(base / "movies" / "natural_movie_one.npy", frames)
    x = frames.reshape(N_FRAMES, -1) / 255.0 - 0.5
    latent = x @ rng.normal(0, 1, (SIZE * SIZE, 3))  # three shared pixel filters, mixed per neuron
    drive = latent @ rng.normal(0, 1, (3, NEURONS))
    rate = 3 * np.exp((drive - drive.mean(0)) / drive.std(0))
    counts = rng.poisson(rate[:, None, :], (N_FRAMES, REPEATS, NEURONS)).astype(np.float32)
    folder = base / "responses" / "s1" / "natural_movie_one"
    folder.mkdir(parents=True)
    np.save(folder / "VISp.npy", counts)


@pytest.fixture(scope="module")
def movie(tmp_path_factory) -> Recording:
    root = tmp_path_factory.mktemp("allen")
    _write_allen_layout(root / "mirror")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unregistered local file: the point of this source
        (path,) = import_source(
            "allen_natural_movie", mirror=root / "mirror", out=root / "rec", clip_frames=str(CLIP), block_clips="1"
        )
    return Recording(path)


def _cfg_overrides(rec: Recording, *extra: str) -> list[str]:
    from snnvis.models.registry import tiny_overrides

    base = compose("analysis/tsrsa_perturbations", [f"recording={rec.path}"])
    return [
        f"recording={rec.path}",
        *tiny_overrides(base.model),
        "model.input.size=16",
        "model.input.in_channels=1",
        "model.input.mean=[0.5]",
        "model.input.std=[0.25]",
        "perturbations.shuffle_windows=[1,4,12]",
        "perturbations.noise_rates=[0.0,0.5]",
        "perturbations.clip_lengths=[4,12]",
        "tsrsa.window=6",
        "ceiling.n_splits=8",
        "n_draws=2",
        *extra,
    ]


def _cfg(rec: Recording, *extra: str):
    return compose("analysis/tsrsa_perturbations", _cfg_overrides(rec, *extra))


@pytest.fixture(scope="module")
def result(movie, tmp_path_factory):
    from snnvis.evaluation.perturbation_analysis import analyse

    out = tmp_path_factory.mktemp("perturb")
    return out, analyse(_cfg(movie), out)


def test_table_and_figure_are_written(result, movie):
    out, rows = result
    df = load_results(out / PERTURBATIONS_FILE)
    assert df.attrs["kind"] == "perturbations" and len(df) == len(rows)
    assert (out / "tsrsa_perturbations.png").stat().st_size > 10_000 and (out / "tsrsa_perturbations.pdf").is_file()
    # 2 models (untrained SNN, twin) x 2 a-priori layers x (original + 3 shuffle + 2 noise + 2 lengths)
    assert len(df) == 2 * 2 * 8 and set(df.spiking) == {True, False}
    assert set(df.perturbation) == {"original", "shuffle", "noise", "clip_length"}
    assert np.isfinite(df.tsrsa).all() and (df.n_neurons == NEURONS).all()


def test_ceiling_is_the_split_half_ceiling_of_the_recording(result, movie):
    _, rows = result
    neural = movie.mean().astype(np.float64)
    direct = np.mean([float(tsrsa_split_half_ceiling(neural, 6, None, 1, k)) for k in range(8)])
    orig = [r for r in rows if r["perturbation"] in ("original", "shuffle", "noise")]
    assert all(r["ceiling"] == pytest.approx(direct, rel=1e-9) for r in orig)
    assert 0.3 < direct < 1.0  # the synthetic neurons share a reliable trajectory
    short = [r for r in rows if r["perturbation"] == "clip_length" and r["level"] == 4]
    sub = np.concatenate([neural[:, i : i + 4] for i in range(0, CLIP, 4)])
    direct4 = np.mean([float(tsrsa_split_half_ceiling(sub, 4, None, 1, k)) for k in range(8)])
    assert all(r["ceiling"] == pytest.approx(direct4, rel=1e-9) for r in short)
    assert all(r["ceiling_lower"] <= r["ceiling"] <= r["ceiling_upper"] for r in rows)


def test_original_score_is_tsrsa_of_the_model_trajectory(result, movie):
    """The original row equals TSRSA computed here from the model's own per-frame features."""
    from snnvis.analysis.models import load_model, load_sequences, sequence_trajectories

    _, rows = result
    cfg = _cfg(movie)
    m = dict(cfg.model) | {"spiking": False}
    model = load_model("twin", m, seed=0, calibration=[(movie, np.arange(movie.n_stimuli))])
    layer = next(r["layer"] for r in rows if not r["spiking"])
    traj = sequence_trajectories(model, load_sequences(movie, np.arange(movie.n_stimuli), 16), [layer], None, 8, 1024)
    with np.errstate(invalid="ignore"):
        want = float(tsrsa_windows(traj[layer].astype(np.float64), movie.mean().astype(np.float64), 6))
    got = next(r for r in rows if not r["spiking"] and r["layer"] == layer and r["perturbation"] == "original")
    assert got["tsrsa"] == pytest.approx(want, abs=1e-6)


def test_stateless_twin_is_unchanged_by_shuffling_and_noise_but_the_snn_is_not(result):
    """The feedforward twin has no state: the responses to the real frames, put back in movie order,
    are the same whatever the order or the inserted noise. The SNN carries membrane state."""
    _, rows = result

    def score(spiking, layer, pert, level):
        return next(
            r["tsrsa"]
            for r in rows
            if r["spiking"] == spiking and r["layer"] == layer and r["perturbation"] == pert and r["level"] == level
        )

    layers = list(dict.fromkeys(r["layer"] for r in rows))
    for layer in layers:
        base = score(False, layer, "original", 0)
        assert score(False, layer, "shuffle", 12) == pytest.approx(base, abs=1e-5)
        assert score(False, layer, "noise", 0.5) == pytest.approx(base, abs=1e-5)
        assert score(True, layer, "shuffle", 1) == score(True, layer, "original", 0)
    deepest = layers[-1]
    snn_change = [
        abs(score(True, deepest, p, v) - score(True, deepest, "original", 0))
        for p, v in [("shuffle", 12), ("noise", 0.5)]
    ]
    assert min(snn_change) > 1e-3


def test_bad_clip_length_is_one_error(movie, tmp_path):
    from snnvis.errors import UserError
    from snnvis.evaluation.perturbation_analysis import analyse

    with pytest.raises(UserError, match="clip_lengths.*13 frames"):
        analyse(_cfg(movie, "perturbations.clip_lengths=[13]"), tmp_path)


def test_cli_writes_the_table_and_refuses_a_missing_recording(movie, tmp_path, monkeypatch, capsys):
    import sys

    from snnvis.cli import perturb

    args = ["perturbations.shuffle_windows=[1]", "perturbations.noise_rates=[0]", "perturbations.clip_lengths=[12]"]
    tiny = [a for a in _cfg_overrides(movie) if a.startswith("model.")]
    monkeypatch.setattr(sys, "argv", ["perturb", f"recording={movie.path}", *tiny, *args, f"hydra.run.dir={tmp_path}"])
    perturb.main()
    assert len(load_results(tmp_path / PERTURBATIONS_FILE)) == 2 * 2 * 4 and "TSRSA" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["perturb", "recording=nope.h5", f"hydra.run.dir={tmp_path / 'x'}"])
    with pytest.raises(SystemExit) as done:
        perturb.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1 and err[0].startswith("snnvis: error:")

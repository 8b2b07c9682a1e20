"""The time-course summary and the TSRSA perturbations: against the similarity functions,
models whose response to a perturbation is known, and the Hénaff V1 PSTHs."""

import h5py
import numpy as np
import pytest
import torch

from snnvis.evaluation.perturbations import insert_noise_frames, noise_positions, shuffle_frames, subclips, truncate
from snnvis.evaluation.temporal import temporal_metrics
from snnvis.similarity import mean_time_course_baseline, psth_feve, time_course_r, tsrsa_windows


def _movie(seed, frames=60, pixels=50):
    """A smoothly varying movie: a random walk in pixel space."""
    return np.cumsum(np.random.default_rng(seed).normal(size=(frames, pixels)), 0)


def _leaky(movie, a=0.8):
    """A stateful model: y_t = a y_{t-1} + x_t."""
    out, y = np.empty_like(movie), np.zeros(movie.shape[1])
    for t, x in enumerate(movie):
        y = a * y + x
        out[t] = y
    return out


def test_shuffling_the_models_frames_lowers_tsrsa_toward_zero():
    scores = {w: [] for w in (1, 4, 20)}
    for seed in range(6):
        movie = _movie(seed)
        brain = movie @ np.random.default_rng(100 + seed).normal(size=(50, 30))
        for w in scores:
            shuffled, order = shuffle_frames(movie, w, np.random.default_rng(seed))
            np.testing.assert_array_equal(shuffled, movie[order])
            assert np.all(order // w == np.arange(60) // w)  # frames stay in their window
            scores[w].append(tsrsa_windows(shuffled, brain, 20))  # identity model on the shuffle
    means = {w: np.mean(v) for w, v in scores.items()}
    assert means[1] == pytest.approx(
        np.mean(
            [
                tsrsa_windows(_movie(s), _movie(s) @ np.random.default_rng(100 + s).normal(size=(50, 30)), 20)
                for s in range(6)
            ]
        )
    )
    assert means[1] > 0.8 > means[4] > means[20]
    assert abs(means[20]) < 0.15


def test_noise_frames_leave_a_memoryless_model_intact_and_disturb_a_stateful_one():
    g = np.random.default_rng(1)
    movie = _movie(2)
    positions = noise_positions(60, 0.2, g)
    assert len(positions) == 12 and np.all(np.diff(positions) > 0)
    new, keep = insert_noise_frames(movie, positions, g)
    assert new.shape == (72, 50)
    np.testing.assert_array_equal(new[keep], movie)
    inserted = np.setdiff1d(np.arange(72), keep)
    assert abs(new[inserted].std() - movie.std()) < 0.2 * movie.std()
    brain = _leaky(movie)
    assert tsrsa_windows(new[keep], brain, 20) == pytest.approx(tsrsa_windows(movie, brain, 20))
    intact, perturbed = tsrsa_windows(_leaky(movie), brain, 20), tsrsa_windows(_leaky(new)[keep], brain, 20)
    assert intact == pytest.approx(1.0) and perturbed < 0.99
    denser, keep_d = insert_noise_frames(movie, noise_positions(60, 0.6, g), g)
    assert tsrsa_windows(_leaky(denser)[keep_d], brain, 20) < perturbed
    t_new, t_keep = insert_noise_frames(torch.as_tensor(movie[None]), [0, 0, 60], g, axis=1)
    assert t_new.shape == (1, 63, 50) and torch.equal(t_new[:, t_keep], torch.as_tensor(movie[None]))


def test_clip_length_helpers():
    movie = _movie(3)
    np.testing.assert_array_equal(truncate(movie, 10, 5), movie[5:15])
    clips = subclips(60, 25, 10)
    assert [c[0] for c in clips] == [0, 10, 20, 30] and all(len(c) == 25 for c in clips)
    with pytest.raises(ValueError):
        truncate(movie, 10, 55)


def _synthetic_psths(seed, n_stim, repeats=8, neurons=6, bins=25):
    g = np.random.default_rng(seed)
    t = np.arange(bins)
    latency, tau = g.uniform(2, 10, size=(n_stim, 1, 1)), g.uniform(1.5, 5, size=(n_stim, 1, 1))
    d = np.clip(t[None, :, None] - latency, 0, None)
    mean = (d / tau) * np.exp(1 - d / tau) * g.gamma(3.0, size=(1, 1, neurons)) + 0.5
    return mean, mean[:, None] + 0.2 * g.normal(size=(n_stim, repeats, bins, neurons))


def test_summary_matches_the_similarity_functions_and_ranks_truth_over_baseline():
    _, train_trials = _synthetic_psths(0, 15)
    mean, trials = _synthetic_psths(1, 8)
    psth, train = trials.mean(1), train_trials.mean(1)
    out = temporal_metrics(torch.as_tensor(mean), psth, train_psth=train, trials=trials, n_splits=5)
    np.testing.assert_allclose(out["psth_time_course_r"], time_course_r(mean, psth))
    assert out["psth_time_course_r_median"] == pytest.approx(np.median(time_course_r(mean, psth)))
    np.testing.assert_allclose(out["psth_feve"], psth_feve(mean, trials))
    baseline = mean_time_course_baseline(train, psth)
    assert out["psth_baseline_time_course_r_median"] == pytest.approx(np.median(time_course_r(baseline, psth)))
    assert out["psth_time_course_r_median"] > out["psth_baseline_time_course_r_median"] + 0.1
    assert out["psth_feve_median"] > 0.9 > out["psth_baseline_feve_median"]
    assert 0 < out["psth_explainable_fraction_median"] < 1
    assert out["psth_tsrsa"] == pytest.approx(tsrsa_windows(mean, psth))
    assert 0 < out["psth_tsrsa_ceiling"] <= 1
    assert set(temporal_metrics(mean, psth)) == {
        "psth_time_course_r",
        "psth_time_course_r_median",
        "psth_tsrsa",
        "psth_tsrsa_ceiling",
    }


def test_henaff_v1_psths_have_a_strong_onset_transient(datasets_dir):
    path = datasets_dir / "henaff2021_v1" / "V1_responses" / "ay4_u001_image_sequences.mat"
    with h5py.File(path) as h:
        p = h["naturalStruct/psth_population"][()]  # (bins, units, movies, categories, scales)
    x = p.transpose(2, 3, 4, 0, 1)
    movie = np.broadcast_to(np.arange(10)[:, None, None], x.shape[:3]).reshape(-1)
    x = x.reshape(-1, *x.shape[3:])
    present = ~np.isnan(x).all((1, 2))
    x, movie = x[present], movie[present]  # 44 stimuli, 35 bins, 13 units
    test = movie >= 8  # held-out movies
    out = temporal_metrics(x[test], x[test], train_psth=x[~test])
    assert out["psth_time_course_r_median"] == pytest.approx(1.0)
    assert out["psth_baseline_time_course_r_median"] > 0.7  # the stereotyped transient alone
    flat = np.broadcast_to(x[test].mean(1, keepdims=True), x[test].shape) + np.random.default_rng(0).normal(
        scale=1e-3, size=x[test].shape
    )  # a model without time course
    assert temporal_metrics(flat, x[test], train_psth=x[~test])["psth_time_course_r_median"] < 0.3

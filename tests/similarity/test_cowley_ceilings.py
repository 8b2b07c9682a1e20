"""Cowley et al.'s ceilings on their V4 data: 190925's duplicated images (independent
repeat-averages, found here by pixel equality) as split halves, and 201016's NaN-padded
raw repeats, against direct computations of the authors' formulas."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from snnvis.similarity import cowley_r2_er, cowley_split_half, mean_reliability, noise_corrected_r2
from snnvis.training.metrics import neuron_metrics, summarize


def _duplicate_trials(datasets_dir):
    """(trials (unique images, 2, neurons) NaN-padded, pairs) for 190925, read directly."""
    folder = datasets_dir / "cowley2023_v4"
    avg = np.load(folder / "responses_repeat_averaged" / "responses_190925.npy")  # (neurons, images)
    groups: dict[str, list[int]] = {}
    with zipfile.ZipFile(folder / "images" / "images_190925.zip") as z:
        names = sorted(n for n in z.namelist() if n.endswith(".jpg"))
        for k, name in enumerate(names):
            pixels = np.asarray(Image.open(io.BytesIO(z.read(name))).convert("RGB"))
            groups.setdefault(hashlib.sha1(pixels.tobytes()).hexdigest(), []).append(k)
    members = list(groups.values())
    trials = np.full((len(members), 2, avg.shape[0]), np.nan)
    for g, m in enumerate(members):
        trials[g, : len(m)] = avg[:, m].T
    return trials, [m for m in members if len(m) == 2], avg


def _r2_er_reference(responses, pred):
    """Cowley et al.'s compute_r2_ER, written out in their layout: responses (neurons,
    images, repeats) NaN-padded, pred (neurons, images)."""
    m = responses.shape[1]
    n = np.median(np.sum(~np.isnan(responses[0]), axis=1))
    mean = np.nanmean(responses, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.array(
            [
                [np.var(v[~np.isnan(v)], ddof=1) if np.sum(~np.isnan(v)) > 1 else np.nan for v in neuron]
                for neuron in responses
            ]
        )
    sigma2 = np.nanmean(var, axis=1)
    x = pred - pred.mean(1, keepdims=True)
    y = mean - mean.mean(1, keepdims=True)
    ss_x = np.sum(x**2, 1)
    return (np.sum(x * y, 1) ** 2 - sigma2 / n * ss_x) / (ss_x * np.sum(y**2, 1) - sigma2 / n * (m - 1) * ss_x)


def test_ceiling_from_190925_duplicates(datasets_dir):
    trials, pairs, avg = _duplicate_trials(datasets_dir)
    assert len(pairs) == 300 and trials.shape == (900, 2, 36)
    # direct: correlate the two copies of each duplicated image, Spearman-Brown to their mean.
    # Which copy lands in which half is random per image and moves r slightly (~1e-3).
    r = np.array(
        [np.corrcoef(avg[k, [a for a, _ in pairs]], avg[k, [b for _, b in pairs]])[0, 1] for k in range(avg.shape[0])]
    )
    ours = cowley_split_half(trials)
    np.testing.assert_allclose(ours, 2 * r / (1 + r), atol=0.005)
    assert np.median(ours) == pytest.approx(np.median(2 * r / (1 + r)), abs=0.002)
    assert np.median(r) == pytest.approx(0.80, abs=0.01)
    # the reliability of the mean the score sees: 300 two-copy and 600 single-copy stimuli
    ratio = (300 / 2 + 600) / 900
    r_split = ours / (2 - ours)  # undo Spearman-Brown
    np.testing.assert_allclose(
        mean_reliability(trials, n_splits=50), r_split / (r_split + (1 - r_split) * ratio), atol=1e-10
    )
    # r2_ER with the median repeat count (here 1: most images are shown once)
    pred = trials[:, 0] + np.random.default_rng(0).normal(size=trials[:, 0].shape) * avg.std(1)
    np.testing.assert_allclose(
        cowley_r2_er(pred, trials), _r2_er_reference(trials.transpose(2, 0, 1), pred.T), rtol=1e-10
    )
    # neuron_metrics (what metrics.json summarises per session) yields both ceilings here
    summary = summarize(
        neuron_metrics(pred[:, None], np.nanmean(trials, 1)[:, None], trials[:, :, None], seed=0), n_boot=10
    )
    assert np.isfinite(summary["r2_er_median"]) and np.isfinite(summary["reliability_median"])


def test_cowley_ceilings_on_201016_raw_repeats(datasets_dir):
    raw = np.load(datasets_dir / "cowley2023_v4" / "responses_raw" / "responses_201016.npy")  # (82, 600, 10)
    trials = raw.transpose(1, 2, 0)
    counts = (~np.isnan(trials[:, :, 0])).sum(1)
    assert counts.min() >= 2 and len(np.unique(counts)) > 1  # NaN-padded, unequal repeats
    mean = np.nanmean(trials, 1)
    pred = mean + np.random.default_rng(1).normal(size=mean.shape) * mean.std(0)
    reference = _r2_er_reference(raw, pred.T)
    np.testing.assert_allclose(cowley_r2_er(pred, trials), reference, rtol=1e-10)
    # the per-stimulus repeat counts of noise_corrected_r2 agree closely with the median convention
    assert np.median(noise_corrected_r2(pred, trials)) == pytest.approx(np.median(reference), abs=0.02)
    # split halves: the authors' procedure (per image, random permutation, floor(n/2) per half)
    rng = np.random.default_rng(2)
    runs = []
    for _ in range(50):
        h1, h2 = np.empty(mean.shape), np.empty(mean.shape)
        for i in range(len(trials)):
            perm = rng.permutation(counts[i])
            half = counts[i] // 2
            h1[i], h2[i] = trials[i, perm[:half]].mean(0), trials[i, perm[half : 2 * half]].mean(0)
        runs.append([np.corrcoef(h1[:, k], h2[:, k])[0, 1] for k in range(mean.shape[1])])
    r = np.mean(runs, 0)
    ours = cowley_split_half(trials)
    assert np.median(ours) == pytest.approx(np.median(2 * r / (1 + r)), abs=0.01)
    np.testing.assert_allclose(ours, 2 * r / (1 + r), atol=0.05)


@pytest.mark.slow
def test_imported_190925_carries_the_duplicate_trials(datasets_dir, tmp_path):
    """The importer stores the duplicated images as 2 trials: the reliability of the
    imported recording equals the direct computation."""
    from snnvis.recordings.importing import import_source
    from snnvis.recordings.recording import Recording

    (path,) = import_source("cowley2023_v4", mirror=datasets_dir, out=tmp_path, only=["190925"])
    rec = Recording(path)
    trials = rec.trials()
    assert trials is not None and trials.shape[1] == 2
    direct, _, _ = _duplicate_trials(datasets_dir)
    np.testing.assert_allclose(
        np.sort(cowley_split_half(trials[:, :, 0].astype(np.float64))), np.sort(cowley_split_half(direct)), atol=1e-5
    )

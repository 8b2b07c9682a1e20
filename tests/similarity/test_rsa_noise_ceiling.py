"""RSA noise ceilings: rsatoolbox semantics and synthetic data with known structure."""

from __future__ import annotations

import numpy as np
import pytest
from rsatoolbox.inference import boot_noise_ceiling
from rsatoolbox.rdm import RDMs
from scipy.spatial.distance import squareform

from snnvis.similarity import compare_rdms, noise_ceiling, rdm, rdms_by_group, rdms_from_folds, split_half_ceiling

RSA_NAMES = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau")
@pytest.mark.parametrize("method", list(RSA_NAMES))
def test_noise_ceiling_matches_rsatoolbox(method):
    rng = np.random.default_rng(0)
    shared = rng.random(66)
    vectors = shared + 0.5 * rng.random((5, 66))  # 5 subjects, 12 conditions
    vectors[:, :10] = np.round(vectors[:, :10], 1)  # some ties
    lower, upper = noise_ceiling(np.stack([squareform(v) for v in vectors]), method)
    ref_lower, ref_upper = boot_noise_ceiling(RDMs(vectors), method=RSA_NAMES[method])
    assert lower == pytest.approx(ref_lower, abs=1e-10)
    assert upper == pytest.approx(ref_upper, abs=1e-10)


def _subjects(rng, n_subjects, noise=3.0):
    truth = rng.normal(size=(25, 40))
    data = truth + noise * rng.normal(size=(n_subjects, 25, 40))
    return rdm(truth), rdm(data)


def test_noise_ceiling_brackets_the_true_model_and_tightens_with_subjects():
    rng = np.random.default_rng(1)
    gaps = []
    for n_subjects in (4, 40):
        true_rdm, subject_rdms = _subjects(rng, n_subjects)
        lower, upper = noise_ceiling(subject_rdms, "pearson")
        true_model = compare_rdms(subject_rdms, true_rdm, "pearson").mean()
        assert lower <= true_model <= upper
        gaps.append(upper - true_model)
    assert gaps[1] < gaps[0] / 3  # the upper bound approaches the true-RDM similarity


def test_noise_ceiling_rejects_single_rdm():
    with pytest.raises(ValueError, match="k >= 2"):
        noise_ceiling(np.zeros((1, 4, 4)))


def test_rdms_from_folds_and_groups():
    rng = np.random.default_rng(2)
    trials = rng.normal(size=(10, 8, 6)) + rng.normal(size=(10, 1, 6))
    folds = rdms_from_folds(trials, n_folds=4, seed=3)
    assert folds.shape == (4, 10, 10)
    np.testing.assert_array_equal(folds, rdms_from_folds(trials, n_folds=4, seed=3))
    lower, upper = noise_ceiling(folds)
    assert lower <= upper
    responses = trials.mean(1)
    groups = np.array(["b", "a", "b", "a", "c", "c"])
    by_group = rdms_by_group(responses, groups)
    np.testing.assert_allclose(by_group[0], rdm(responses[:, [1, 3]]), atol=1e-12)
    np.testing.assert_allclose(by_group[2], rdm(responses[:, [4, 5]]), atol=1e-12)
    with pytest.raises(ValueError, match="one label per neuron"):
        rdms_by_group(responses, groups[:5])


def test_split_half_ceiling_predicts_replication_reliability():
    """At good SNR the Spearman-Brown corrected split-half RDM reliability estimates the
    similarity between RDMs of two independent experiments with all repeats (uncorrected
    split halves would give about 0.65 here)."""
    rng = np.random.default_rng(4)
    truth = rng.normal(size=(30, 60))

    def experiment():
        return truth[:, None, :] + rng.normal(size=(30, 8, 60))

    estimates = [split_half_ceiling(experiment(), compare="pearson", seed=s) for s in range(10)]
    replications = [compare_rdms(rdm(experiment().mean(1)), rdm(experiment().mean(1)), "pearson") for _ in range(30)]
    assert np.mean(estimates) == pytest.approx(np.mean(replications), abs=0.03)
    trials = experiment()
    assert split_half_ceiling(trials, seed=1) == split_half_ceiling(trials, seed=1)

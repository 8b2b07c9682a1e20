"""RDMs and RDM comparisons against rsatoolbox and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.stats
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import RDMs, calc_rdm, compare
from scipy.spatial.distance import squareform

from snnvis.similarity import compare_rdms, rdm, rdm_crossvalidated

RSA_NAMES = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}


def _rsa_vector(rdms):
    return rdms.get_vectors()[0]


def _tau_a_by_hand(x, y):
    """(concordant - discordant) / (P(P-1)/2), ties counting 0."""
    i, j = np.triu_indices(len(x), 1)
    return np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])) / len(i)


@pytest.mark.parametrize("method", ["correlation", "euclidean"])
def test_rdm_matches_rsatoolbox(method):
    responses = np.random.default_rng(0).normal(size=(30, 17)) + 2.0
    ours = rdm(responses, method)
    ref = _rsa_vector(calc_rdm(Dataset(responses), method=method))
    np.testing.assert_allclose(squareform(ours, checks=False), ref, rtol=1e-9, atol=1e-12)
    assert np.all(np.diag(ours) == 0) and np.allclose(ours, ours.T)


def test_rdm_batch_and_constant_condition():
    rng = np.random.default_rng(1)
    batch = rng.normal(size=(3, 6, 5))
    np.testing.assert_allclose(rdm(batch), np.stack([rdm(b) for b in batch]), atol=1e-14)
    responses = rng.normal(size=(4, 5))
    responses[2] = 7.0  # constant pattern: correlation undefined, distance taken as 1
    d = rdm(responses)
    np.testing.assert_array_equal(d[2, [0, 1, 3]], 1.0)
    assert np.isfinite(d[[0, 1, 3]][:, [0, 1, 3]]).all()


def test_rdm_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown RDM method"):
        rdm(np.ones((4, 3)), "cityblock")
    with pytest.raises(ValueError, match="at least 2"):
        rdm(np.ones(4))


def _trials_dataset(trials):
    n_rep, n_cond, n_feat = trials.shape
    return Dataset(
        trials.reshape(-1, n_feat),
        obs_descriptors={"cond": np.tile(np.arange(n_cond), n_rep), "run": np.repeat(np.arange(n_rep), n_cond)},
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("with_precision", [False, True])
def test_crossvalidated_rdm_matches_rsatoolbox_crossnobis(with_precision):
    rng = np.random.default_rng(2)
    trials = rng.normal(size=(5, 8, 12)) + rng.normal(size=(1, 8, 12))
    precision = None
    if with_precision:
        a = rng.normal(size=(12, 12))
        precision = np.linalg.inv(a @ a.T / 12 + np.eye(12))
    ours = rdm_crossvalidated(trials, precision)
    ref = calc_rdm(
        _trials_dataset(trials), method="crossnobis", descriptor="cond", cv_descriptor="run", noise=precision
    )
    np.testing.assert_allclose(squareform(ours, checks=False), _rsa_vector(ref), rtol=1e-9, atol=1e-12)


def test_crossvalidated_rdm_nan_repeats_use_valid_folds_only():
    """With NaN-padded repeats, each fold contributes only pairs valid in it, and each
    condition's train mean uses its own valid repeats (hand-written loop)."""
    rng = np.random.default_rng(3)
    trials = rng.normal(size=(6, 5, 4))
    trials[4:, 1] = np.nan
    trials[5, 3] = np.nan
    ours = rdm_crossvalidated(trials)
    valid = ~np.isnan(trials).any(-1)
    expected = np.zeros((5, 5))
    for i in range(5):
        for j in range(5):
            terms = []
            for k in np.flatnonzero(valid[:, i] & valid[:, j]):
                mi = np.nanmean(np.delete(trials[:, i], k, 0), 0)
                mj = np.nanmean(np.delete(trials[:, j], k, 0), 0)
                terms.append((trials[k, i] - trials[k, j]) @ (mi - mj) / 4)
            expected[i, j] = np.mean(terms) if i != j else 0.0
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_crossvalidated_rdm_is_unbiased_and_can_be_negative():
    rng = np.random.default_rng(4)
    means = rng.normal(size=(4, 50))
    true = rdm(means, "euclidean")
    trials = means + rng.normal(scale=2.0, size=(200, 6, 4, 50))  # 200 experiments
    estimates = np.stack([rdm_crossvalidated(t) for t in trials])
    se = estimates.std(0) / np.sqrt(len(estimates))
    off = ~np.eye(4, dtype=bool)
    assert np.all(np.abs(estimates.mean(0) - true)[off] < 4 * se[off])
    assert (rdm_crossvalidated(rng.normal(size=(3, 6, 20))) < 0).any()  # no true differences


def test_crossvalidated_rdm_requires_two_valid_repeats():
    trials = np.random.default_rng(5).normal(size=(3, 4, 2))
    trials[1:, 2] = np.nan
    with pytest.raises(ValueError, match="at least 2 valid"):
        rdm_crossvalidated(trials)


@pytest.mark.parametrize("method", list(RSA_NAMES))
def test_compare_matches_rsatoolbox_with_ties(method):
    rng = np.random.default_rng(6)
    a = squareform(rng.integers(0, 6, 190).astype(float))  # 20 conditions, many ties
    b = squareform(rng.integers(0, 4, 190).astype(float) + rng.integers(0, 2, 190))
    ref = compare(RDMs(squareform(a)[None]), RDMs(squareform(b)[None]), RSA_NAMES[method])
    assert compare_rdms(a, b, method) == pytest.approx(ref[0, 0], abs=1e-12)


def test_compare_matches_scipy_and_hand_formula_with_ties():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, 300).astype(float)
    y = rng.integers(0, 3, 300).astype(float)
    a, b = squareform(x), squareform(y)  # squareform order is the upper triangle order
    spearman = scipy.stats.spearmanr(x, y)[0]
    assert compare_rdms(a, b, "spearman") == pytest.approx(spearman, abs=1e-12)
    assert compare_rdms(a, b, "kendall_tau_a") == pytest.approx(_tau_a_by_hand(x, y), abs=1e-12)
    assert compare_rdms(a, b, "pearson") == pytest.approx(scipy.stats.pearsonr(x, y)[0], abs=1e-12)
    cosine = x @ y / np.linalg.norm(x) / np.linalg.norm(y)
    assert compare_rdms(a, b, "cosine") == pytest.approx(cosine, abs=1e-12)


def test_compare_uses_only_upper_triangle_and_batches():
    rng = np.random.default_rng(8)
    a = squareform(rng.normal(size=45))
    b = squareform(rng.normal(size=45))
    lower_changed = a.copy()
    lower_changed[np.tril_indices(10, -1)] = rng.normal(size=45)
    for method in RSA_NAMES:
        assert compare_rdms(lower_changed, b, method) == pytest.approx(compare_rdms(a, b, method))
        models = np.stack([a, b, a + b])
        batch = compare_rdms(models, b, method)
        assert batch.shape == (3,)
        np.testing.assert_allclose(batch, [compare_rdms(m, b, method) for m in models], atol=1e-12)


def test_kendall_tau_a_large_vector_matches_scipy_without_ties():
    rng = np.random.default_rng(9)
    x = rng.normal(size=4186)  # 92 conditions; tau-a = tau-b without ties
    y = x + rng.normal(size=4186)
    assert compare_rdms(squareform(x), squareform(y), "kendall_tau_a") == pytest.approx(
        scipy.stats.kendalltau(x, y)[0], abs=1e-12
    )


def test_compare_constant_rdm_gives_nan():
    a = squareform(np.ones(10))
    b = squareform(np.arange(10.0))
    assert np.isnan(compare_rdms(a, b, "spearman")) and np.isnan(compare_rdms(a, b, "pearson"))


def test_compare_rejects_bad_shapes_and_methods():
    with pytest.raises(ValueError, match="square"):
        compare_rdms(np.zeros((4, 5)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="same conditions"):
        compare_rdms(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match="unknown RDM comparison"):
        compare_rdms(np.zeros((4, 4)), np.zeros((4, 4)), "kendall")


def test_kriegeskorte_monkey_vs_human_it_matches_rsatoolbox(datasets_dir):
    path = datasets_dir / "kriegeskorte2008_it" / "Kriegeskorte_Neuron2008_supplementalData.mat"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    entries = scipy.io.loadmat(path)["RDMs_mIT_hIT_fig1"][0]
    names = [str(e["name"][0]) for e in entries]
    assert names[0].startswith("mIT") and names[1].startswith("hIT")
    vectors = [e["RDM"].ravel().astype(float) for e in entries]  # 92 * 91 / 2 = 4186
    monkey, human = (squareform(v) for v in vectors)
    assert monkey.shape == (92, 92)
    for method in ("spearman", "kendall_tau_a"):
        ref = compare(RDMs(vectors[0][None]), RDMs(vectors[1][None]), RSA_NAMES[method])[0, 0]
        assert compare_rdms(monkey, human, method) == pytest.approx(ref, abs=1e-6)

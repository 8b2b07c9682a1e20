"""numpy in -> numpy out, torch in -> torch out (same device), same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snnvis.similarity as sim
from snnvis.similarity._backend import to_numpy

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(24, 7))
_Y = _X[:, :3] @ _rng.normal(size=(3, 5)) + _rng.normal(size=(24, 5))
_TRIALS = _rng.normal(size=(24, 6, 5)) + _Y[:, None, :]
_REPEATS_FIRST = np.moveaxis(_TRIALS, 1, 0)  # (repeats, conditions, features)
_RDMS = np.stack([sim.rdm(_X), sim.rdm(_Y), sim.rdm(_X + _rng.normal(size=_X.shape))])
_REPEATS_MISSING = np.where(
    np.random.default_rng(1).random(_REPEATS_FIRST.shape) < 0.1, np.nan, _REPEATS_FIRST
)  # scattered missing entries
_psth_rng = np.random.default_rng(2)
_PSTH_TRIALS = _psth_rng.gamma(2.0, size=(6, 5, 9, 8))  # (stimuli, repeats, bins, neurons)
_PSTH = _PSTH_TRIALS.mean(1)
_PSTH_PRED = _PSTH + _psth_rng.normal(scale=0.3, size=_PSTH.shape)

# name -> (function, array arguments, keyword arguments)
CASES = {
    "rdm": (sim.rdm, (_X,), {}),
    "rdm_euclidean": (sim.rdm, (_X,), {"method": "euclidean"}),
    "rdm_crossvalidated": (sim.rdm_crossvalidated, (_REPEATS_FIRST,), {}),
    "compare_spearman": (sim.compare_rdms, (_RDMS, _RDMS[0]), {"method": "spearman"}),
    "compare_tau_a": (sim.compare_rdms, (_RDMS, _RDMS[0]), {"method": "kendall_tau_a"}),
    "compare_pearson": (sim.compare_rdms, (_RDMS[1], _RDMS[0]), {"method": "pearson"}),
    "compare_cosine": (sim.compare_rdms, (_RDMS[1], _RDMS[0]), {"method": "cosine"}),
    "noise_ceiling": (sim.noise_ceiling, (_RDMS,), {}),
    "rdms_from_folds": (sim.rdms_from_folds, (_TRIALS,), {"n_folds": 3}),
    "split_half_ceiling": (sim.split_half_ceiling, (_TRIALS,), {"n_splits": 3}),
    "cka_linear": (sim.cka, (_X, _Y), {}),
    "cka_unbiased": (sim.cka, (_X, _Y), {"kind": "linear_unbiased"}),
    "cka_rbf": (sim.cka, (_X, _Y), {"kind": "rbf"}),
    "cca": (sim.cca, (_X, _Y), {}),
    "svcca": (sim.svcca, (_X, _Y), {"k": 4}),
    "svcca_cv": (sim.svcca_cv, (_X, _Y), {"k": 3, "n_folds": 3}),
    "loo_ridge": (sim.loo_ridge, (_X, _Y), {"alpha": 1.0}),
    "loo_ridge_kernel": (sim.loo_ridge, (_X[:6], _Y[:6]), {"alpha": 1.0}),
    "loo_ridge_alphas": (sim.loo_ridge_alphas, (_X, _Y), {"alphas": [0.1, 10.0]}),
    "kfold_ridge": (sim.kfold_ridge, (_X, _Y), {"alphas": [0.1, 10.0], "n_folds": 3}),
    "kfold_pls": (sim.kfold_pls, (_X, _Y), {"n_components": 3, "n_folds": 3}),
    "ridge_fit_predict": (sim.ridge_fit_predict, (_X[:16], _Y[:16], _X[16:]), {"alphas": [0.1, 10.0]}),
    "pls_fit_predict": (sim.pls_fit_predict, (_X[:16], _Y[:16], _X[16:]), {"n_components": 3}),
    "svcca_transform": (sim.svcca_transform, (_X[:16], _Y[:16], _X[16:], _Y[16:]), {"k": 3}),
    "predictivity": (sim.predictivity, (_X[:, :5], _Y), {}),
    "split_half_reliability": (sim.split_half_reliability, (_TRIALS,), {"n_splits": 3}),
    "pearson_ceiling": (sim.pearson_ceiling, (_TRIALS,), {"n_splits": 3}),
    "noise_corrected_r2": (sim.noise_corrected_r2, (_Y, _TRIALS), {}),
    "feve": (sim.feve, (_Y, _TRIALS), {}),
    "correct_r": (sim.correct_r, (_Y[0], np.abs(_Y[1])), {}),
    "normalize": (sim.normalize, (_Y[0], np.abs(_Y[1])), {}),
    "tsrsa": (sim.tsrsa, (_X[:9], _Y[:9]), {}),
    "curvature": (sim.curvature, (_X,), {}),
    "curvature_corrected": (sim.curvature_corrected, (_REPEATS_FIRST,), {}),
    "curvature_corrected_step2_nan": (sim.curvature_corrected, (_REPEATS_MISSING,), {"frame_step": 2}),
    "difference_gram": (sim.difference_gram, (_REPEATS_MISSING,), {}),
    "time_course_r": (sim.time_course_r, (_PSTH_PRED, _PSTH), {}),
    "psth_feve": (sim.psth_feve, (_PSTH_PRED, _PSTH_TRIALS), {}),
    "psth_explainable_fraction": (sim.psth_explainable_fraction, (_PSTH_TRIALS,), {}),
    "mean_time_course_baseline": (sim.mean_time_course_baseline, (_PSTH[:3], _PSTH[3:]), {}),
    "tsrsa_windows": (sim.tsrsa_windows, (_PSTH_PRED, _PSTH), {"window": 4, "stride": 2}),
    "tsrsa_split_half_ceiling": (sim.tsrsa_split_half_ceiling, (_PSTH,), {"n_splits": 3}),
    "rsa_per_bin": (sim.rsa_per_bin, (_PSTH_PRED, _PSTH), {}),
}


def _leaves(out):
    """Flatten results (tuples, NamedTuples) to a list of arrays/strings."""
    if isinstance(out, tuple):
        return [leaf for item in out for leaf in _leaves(item)]
    return [out]


def _check_case(name, device, dtype=torch.float64, atol=1e-10):
    fn, arrays, kwargs = CASES[name]
    expected = _leaves(fn(*arrays, **kwargs))
    got = _leaves(fn(*(torch.as_tensor(a, dtype=dtype, device=device) for a in arrays), **kwargs))
    for e, g in zip(expected, got, strict=True):
        if isinstance(e, str):
            assert e == g
            continue
        assert isinstance(e, (np.ndarray, np.floating)) and isinstance(g, torch.Tensor)
        assert g.device.type == device and g.dtype == dtype
        np.testing.assert_allclose(to_numpy(g), e, atol=atol, rtol=atol, equal_nan=True)


@pytest.mark.parametrize("name", list(CASES))
def test_torch_cpu_float64_matches_numpy(name):
    _check_case(name, "cpu")


def test_float32_tensors_stay_float32_and_mixed_inputs_promote():
    x32 = torch.as_tensor(_X, dtype=torch.float32)
    assert sim.rdm(x32).dtype == torch.float32
    assert sim.cka(x32, torch.as_tensor(_Y)).dtype == torch.float64
    mixed = sim.cka(x32, _Y)  # numpy joins the tensor's dtype/device
    assert isinstance(mixed, torch.Tensor) and mixed.dtype == torch.float32
    y32 = torch.as_tensor(_Y, dtype=torch.float32)
    assert sim.compare_rdms(sim.rdm(x32), sim.rdm(y32)).item() == pytest.approx(
        sim.compare_rdms(sim.rdm(_X), sim.rdm(_Y)), abs=1e-5
    )


def test_lists_are_accepted_as_numpy():
    assert isinstance(sim.curvature([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), np.floating)
    assert sim.curvature([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]) == pytest.approx(90.0)
    reversed_view = _X[::-1]  # negative strides: copied, not rejected
    np.testing.assert_array_equal(sim.rdm(reversed_view), sim.rdm(np.ascontiguousarray(reversed_view)))


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
def test_cuda_matches_numpy(name):
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    _check_case(name, "cuda", atol=1e-8)


@pytest.mark.gpu
def test_cuda_float32_close_to_float64():
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    x, y = (torch.as_tensor(a, dtype=torch.float32, device="cuda") for a in (_X, _Y))
    assert sim.cka(x, y).item() == pytest.approx(sim.cka(_X, _Y), abs=1e-5)
    np.testing.assert_allclose(sim.loo_ridge(x, y, 1.0).cpu().numpy(), sim.loo_ridge(_X, _Y, 1.0), atol=1e-3)
    assert sim.compare_rdms(sim.rdm(x), sim.rdm(y)).item() == pytest.approx(
        sim.compare_rdms(sim.rdm(_X), sim.rdm(_Y)), abs=1e-5
    )


@pytest.mark.parametrize("case", ["continuous", "near_ties", "ties", "signed_zeros"])
def test_average_ranks_of_long_vectors_match_scipy(case):
    """Long CPU float64 vectors take the packed-key sort of the backend."""
    import scipy.stats

    from snnvis.similarity._backend import average_ranks

    rng = np.random.default_rng(1)
    v = rng.normal(size=40_000)
    if case == "near_ties":  # a few runs that differ only in the lowest bits
        v[:1000] = np.nextafter(v[1000:2000], np.inf)
        v[2000:2500] = v[3000:3500]
    elif case == "ties":  # mostly ties
        v = rng.integers(0, 50, 40_000).astype(float)
    elif case == "signed_zeros":
        v = np.r_[np.zeros(50), -np.zeros(50), v * 1e-300]
    ranks = average_ranks(torch.as_tensor(v)).numpy()
    np.testing.assert_array_equal(ranks, scipy.stats.rankdata(v))

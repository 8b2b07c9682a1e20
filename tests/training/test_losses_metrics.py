"""Losses against torch's reference and metrics against closed forms."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from snnvis.training.losses import get_loss, poisson_loss
from snnvis.training.metrics import group_summaries, pearson_per_neuron, per_bin_r, summarize, timecourse_r


def test_poisson_loss_matches_torch():
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(16, 5, 7, generator=g) * 3 + 0.01
    target = torch.poisson(torch.rand(16, 5, 7, generator=g) * 4, generator=g)
    ref = F.poisson_nll_loss(pred, target, log_input=False, full=False, eps=1e-8)
    assert torch.allclose(poisson_loss(pred, target), ref, atol=1e-6)
    assert torch.allclose(get_loss("mse")(pred, target), F.mse_loss(pred, target))
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("huber")


def test_poisson_loss_is_minimised_at_the_target_rate():
    target = torch.tensor([[[2.0]]])
    rates = torch.linspace(0.5, 4, 351)
    losses = torch.stack([poisson_loss(r.view(1, 1, 1), target) for r in rates])
    assert abs(float(rates[losses.argmin()]) - 2.0) < 0.011


def test_pearson_per_neuron_matches_scipy():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(40, 3, 6)), rng.normal(size=(40, 3, 6))
    r = pearson_per_neuron(pred, target)
    for j in range(6):
        assert r[j] == pytest.approx(stats.pearsonr(pred[..., j].ravel(), target[..., j].ravel())[0], abs=1e-12)
    pred[:, :, 2] = 1.0  # a silent model: explains nothing
    target[:, :, 3] = 2.0  # a neuron without variance: nothing to predict
    r = pearson_per_neuron(pred, target)
    assert r[2] == 0.0 and np.isnan(r[3]) and np.isfinite(r[[0, 1, 4, 5]]).all()


def test_temporal_metrics_closed_form():
    rng = np.random.default_rng(1)
    shape_t = np.linspace(0, 2, 8)  # shared, rising time course
    target = rng.normal(size=(30, 1, 4)) + shape_t[None, :, None]
    pred = target.copy()
    assert np.allclose(per_bin_r(pred, target), 1.0)
    assert np.allclose(timecourse_r(pred, target), 1.0)
    flipped = target.mean(0, keepdims=True)[:, ::-1] + 0 * target  # reversed time course, no stimulus info
    assert np.all(timecourse_r(flipped, target) < 0)


def test_summaries_by_area_and_session():
    r = np.array([0.1, 0.5, 0.9, np.nan, 0.3])
    areas = np.array(["V4", "V4", "IT", "IT", "IT"])
    sessions = np.array(["a", "a", "a", "b", "b"])
    out = group_summaries({"pearson_r": r}, areas, sessions)
    assert out["overall"]["pearson_r_median"] == pytest.approx(0.4)
    assert out["V4"]["pearson_r_mean"] == pytest.approx(0.3)
    assert out["IT"]["n_neurons"] == 3 and out["IT"]["pearson_r_median"] == pytest.approx(0.6)
    assert out["sessions"]["b"]["pearson_r_median"] == pytest.approx(0.3)
    lo, hi = summarize({"pearson_r": r})["pearson_r_median_ci95"]
    assert lo <= 0.4 <= hi

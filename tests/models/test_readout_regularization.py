"""The readout's one regularisation weight ``l1``: its closed form, its effect on a fit, and that it is the only knob.

The fit test solves a toy Poisson regression with an L1 penalty twice: by gradient steps
on ``poisson_loss + readout.regularizer()`` (what the trainer minimises), and with
scipy's L-BFGS-B on an independent numpy objective (weights split into positive and
negative parts, so the L1 term is smooth). The two solutions must agree, and differ from
the unpenalised fit by the amount the penalty implies.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from snnvis.config import compose
from snnvis.models import build_readout
from snnvis.training.losses import poisson_loss


@pytest.mark.parametrize("name", ["factorized", "gaussian"])
def test_regularizer_value_and_gradient_match_the_closed_form(name):
    readout = build_readout(name, in_shape=(5, 3, 4), n_neurons=6, l1=0.37)
    params = [readout.features] + ([readout.spatial] if name == "factorized" else [])
    arrays = [p.detach().double().numpy().reshape(6, -1) for p in params]
    expected = 0.37 * np.mean(sum(np.abs(a).sum(1) for a in arrays))
    reg = readout.regularizer()
    np.testing.assert_allclose(reg.item(), expected, rtol=1e-6)
    reg.backward()
    for p, a in zip(params, arrays):
        np.testing.assert_allclose(p.grad.numpy().reshape(6, -1), 0.37 * np.sign(a) / 6, rtol=1e-6)
    assert readout.mu.grad is None if name == "gaussian" else readout.bias.grad is None  # only weights


def _toy_problem(seed=0, n=400, c=6, neurons=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c))
    w = np.zeros((neurons, c))
    w[:, :2] = rng.normal(0, 0.8, size=(neurons, 2))  # two informative features per neuron
    w[:, 2:] = rng.normal(0, 0.05, size=(neurons, c - 2))  # the rest: weak, shrunk to 0 by the penalty
    rate = np.log1p(np.exp(x @ w.T + 0.3))
    return x, rng.poisson(rate).astype(np.float64)


def _scipy_fit(x, y, l1):
    """argmin over (w, b) of mean(rate - y log rate) + l1 * mean_n ||w_n||_1, rate = softplus(x w^T + b)."""
    n, c = x.shape
    neurons = y.shape[1]

    def objective(theta):
        u, v = theta[: neurons * c].reshape(neurons, c), theta[neurons * c : 2 * neurons * c].reshape(neurons, c)
        b = theta[2 * neurons * c :]
        z = x @ (u - v).T + b
        rate = np.logaddexp(0, z)
        sig = 1 / (1 + np.exp(-z))
        f = np.mean(rate - y * np.log(rate + 1e-8)) + l1 * (u + v).sum() / neurons
        dz = (1 - y / (rate + 1e-8)) * sig / (n * neurons)
        gw = dz.T @ x
        gb = dz.sum(0)
        g = np.concatenate([(gw + l1 / neurons).ravel(), (-gw + l1 / neurons).ravel(), gb])
        return f, g

    theta0 = np.concatenate([np.full(2 * neurons * c, 0.01), np.zeros(neurons)])
    bounds = [(0, None)] * (2 * neurons * c) + [(None, None)] * neurons
    res = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-10},
    )
    assert res.success, res.message
    return res.x[: neurons * c].reshape(neurons, c) - res.x[neurons * c : 2 * neurons * c].reshape(neurons, c)


def _torch_fit(x, y, l1, steps=1000):
    torch.manual_seed(0)
    readout = build_readout(
        "gaussian", in_shape=(x.shape[1], 1, 1), n_neurons=y.shape[1], nonlinearity="softplus", l1=l1
    ).eval()  # a 1x1 map: the position is irrelevant
    xt = torch.tensor(x, dtype=torch.float32).reshape(1, len(x), x.shape[1], 1, 1)
    yt = torch.tensor(y, dtype=torch.float32)
    opt = torch.optim.Adam(readout.parameters(), lr=0.03)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.003 ** (k / steps))  # 0.03 -> 1e-4
    for _ in range(steps):
        loss = poisson_loss(readout(xt)[0], yt) + readout.regularizer()  # the trainer's objective
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return readout.features.detach().double().numpy()


def test_penalised_fit_matches_the_scipy_solution_and_shrinks_by_the_penalty():
    x, y = _toy_problem()
    free_ref = _scipy_fit(x, y, 0.0)
    pen_ref, pen = _scipy_fit(x, y, 0.05), _torch_fit(x, y, 0.05)
    np.testing.assert_allclose(pen, pen_ref, atol=1e-3)
    shrink = np.abs(free_ref).sum() - np.abs(pen_ref).sum()
    assert shrink > 0.1  # the penalty moves the fit far beyond the tolerance
    assert np.abs(free_ref - pen).max() > 100 * 1e-3
    assert (np.abs(pen_ref[:, 2:]) < 1e-6).mean() >= 0.5  # weak weights are set to zero (the L1 signature)
    assert (np.abs(pen[:, 2:])[np.abs(pen_ref[:, 2:]) < 1e-6] < 1e-3).all()


def test_trainer_adds_the_readout_penalty_unscaled():
    from snnvis.training.epochs import train_step

    class Direct(torch.nn.Module):  # features (B, C) straight into the readout
        def __init__(self, readout):
            super().__init__()
            self.readouts = torch.nn.ModuleDict({"s": readout})

        def forward(self, stimuli, session, bin_matrix=None):
            return self.readouts[session](stimuli.reshape(1, *stimuli.shape, 1, 1))[0].unsqueeze(1)

    x, y = _toy_problem(n=50)
    batch = SimpleNamespace(
        stimuli=torch.tensor(x, dtype=torch.float32),
        session="s",
        responses=torch.tensor(y, dtype=torch.float32).unsqueeze(1),
    )
    tcfg = SimpleNamespace(amp=False, grad_clip=None)
    grads = {}
    for l1 in (0.0, 0.2):
        torch.manual_seed(1)
        model = Direct(build_readout("gaussian", (x.shape[1], 1, 1), y.shape[1], nonlinearity="softplus", l1=l1))
        before = model.readouts["s"].features.detach().clone()
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        train_step(model, model, opt, batch, None, poisson_loss, tcfg, torch.device("cpu"))
        grads[l1] = before - model.readouts["s"].features.detach()  # lr 1: the gradient
    # the difference of the two steps is exactly the penalty's gradient l1 * sign(w) / n_neurons
    torch.testing.assert_close(grads[0.2] - grads[0.0], 0.2 * torch.sign(before) / y.shape[1], rtol=1e-4, atol=1e-6)


def _compose(*overrides):
    return compose("train", overrides)


@pytest.mark.parametrize("readout", ["factorized", "gaussian"])
def test_l1_is_the_only_regularisation_knob(readout):
    cfg = _compose(f"readout={readout}")
    knobs = ("l1", "l2", "reg", "penalty", "decay", "lambda", "sparsity")
    assert [k for k in cfg.readout if any(s in k.lower() for s in knobs)] == ["l1"]
    assert not [k for k in cfg.trainer if any(s in k.lower() for s in ("l1", "reg", "penalty", "lambda"))]
    assert cfg.readout.l1 > 0  # on by default
    for old in ("l1_features", "l1_spatial"):
        with pytest.raises(ValueError, match="one regularisation weight is 'l1'"):
            build_readout(readout, (4, 2, 2), 3, **{old: 0.1})

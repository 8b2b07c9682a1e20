"""Per-session readouts and the mapping from model steps to recorded time bins.

A readout maps the shared core's output (T, B, C, H, W) to positive per-step rates
(T, B, n_neurons), one set of parameters per recording session:

``factorized``  spatial mask (H x W) times feature weights (C) per neuron, plus a bias
                (Klindt et al. 2017); L1 on both factors.
``gaussian``    each neuron reads the feature vector at a learned position ``mu``,
                bilinearly sampled with ``grid_sample``; in training the position is
                drawn from an isotropic Gaussian N(mu, sigma^2) per stimulus, in eval
                it is ``mu`` (Lurz et al. 2021, simplified to isotropic sigma); feature
                weights plus a bias, L1 on the features.

Both end in ``nonlinearity``: ``elu1`` (ELU + 1) or ``softplus``.

Regularisation: one weight, ``l1``. ``regularizer()`` returns
``l1 * mean_n sum_j |theta_nj|`` over each neuron's readout weights ``theta_n`` (the
feature weights, and for the factorized readout also the spatial mask), and the trainer
adds it to the loss unscaled. The training loss is a mean over stimuli, bins and neurons,
``mean_n L_n``, so the objective is ``mean_n (L_n + l1 * ||theta_n||_1)``: ``l1`` is the
loss per neuron and stimulus (Poisson NLL or squared error, in the response's units)
that one unit of a neuron's L1 weight norm costs. It does not depend on the number of
neurons, stimuli or sessions. The configs' default was chosen on validation r of real
Cowley V4 sessions (``snnvis/conf/readout``).

Time: :func:`~snnvis.models.timing.time_bin_matrix` builds (n_bins, n_steps) averaging weights from step times
to recorded time windows; the model applies them as ``einsum('kt,tbn->bkn')``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NONLINEARITIES",
    "READOUTS",
    "FactorizedReadout",
    "GaussianReadout",
    "Readout",
    "build_readout",
]


def _elu1(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1.0


NONLINEARITIES = {"elu1": _elu1, "softplus": F.softplus}


class Readout(nn.Module):
    """Base: core output (T, B, C, H, W) -> rates (T, B, n_neurons).

    Subclasses pool the feature map per neuron (:meth:`pool`); this class applies the
    feature weights (n_neurons, C), the bias and the output nonlinearity.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_neurons: int,
        nonlinearity: str = "elu1",
        init_std: float = 0.01,
        l1: float = 0.0,
    ) -> None:
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"unknown readout nonlinearity {nonlinearity!r}; expected one of {sorted(NONLINEARITIES)}")
        if len(in_shape) != 3:
            raise ValueError(f"readout in_shape must be (C, H, W), got {tuple(in_shape)}")
        if n_neurons < 1:
            raise ValueError(f"a readout needs at least one neuron, got {n_neurons}")
        self.in_shape = tuple(int(s) for s in in_shape)
        self.n_neurons = int(n_neurons)
        if not l1 >= 0:
            raise ValueError(f"readout l1 must be >= 0, got {l1}")
        self.nonlinearity = nonlinearity
        self.l1 = float(l1)
        self.features = nn.Parameter(torch.randn(self.n_neurons, self.in_shape[0]) * init_std)
        self.bias = nn.Parameter(torch.zeros(self.n_neurons))

    def pool(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """(steps * B, C, H, W) -> per-neuron pooled features (steps * B, C, n_neurons)."""
        raise NotImplementedError

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if tuple(x_seq.shape[2:]) != self.in_shape:
            raise ValueError(f"readout expects (T, B, {self.in_shape}) features, got {tuple(x_seq.shape)}")
        t, b = x_seq.shape[:2]
        pooled = self.pool(x_seq.flatten(0, 1), t)
        y = torch.einsum("kcn,nc->kn", pooled, self.features) + self.bias
        return NONLINEARITIES[self.nonlinearity](y).reshape(t, b, self.n_neurons)

    def weights(self) -> list[torch.Tensor]:
        """The penalised weights, each (n_neurons, ...)."""
        return [self.features]

    def regularizer(self) -> torch.Tensor:
        """``l1 * mean_n sum_j |theta_nj|`` over :meth:`weights` (a scalar, in loss units)."""
        return self.l1 * sum(w.abs().flatten(1).sum(1) for w in self.weights()).mean()


class FactorizedReadout(Readout):
    """Spatial mask (n_neurons, H, W) x feature weights (n_neurons, C) + bias (Klindt et al. 2017)."""

    def __init__(self, in_shape: Sequence[int], n_neurons: int, init_std: float = 0.01, **kwargs: Any):
        super().__init__(in_shape, n_neurons, init_std=init_std, **kwargs)
        _, h, w = self.in_shape
        self.spatial = nn.Parameter(torch.randn(self.n_neurons, h, w) * init_std)

    def pool(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        return x.flatten(2) @ self.spatial.flatten(1).T

    def weights(self) -> list[torch.Tensor]:
        return [self.features, self.spatial]


class GaussianReadout(Readout):
    """Learned read-out position per neuron, sampled bilinearly (Lurz et al. 2021).

    ``mu`` (n_neurons, 2) in grid coordinates [-1, 1] (x, y), initialised uniformly in
    ``[-init_mu_range, init_mu_range]``; ``sigma`` (n_neurons, 1) initialised to
    ``init_sigma``. Training samples one position per stimulus and neuron (shared by all
    steps); eval reads at ``mu``.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_neurons: int,
        init_mu_range: float = 0.5,
        init_sigma: float = 0.3,
        init_std: float = 0.01,
        **kwargs: Any,
    ):
        super().__init__(in_shape, n_neurons, init_std=init_std, **kwargs)
        if not 0 <= init_mu_range <= 1 or init_sigma <= 0:
            raise ValueError(f"need 0 <= init_mu_range <= 1 and init_sigma > 0, got {init_mu_range}, {init_sigma}")
        self.mu = nn.Parameter(torch.empty(self.n_neurons, 2).uniform_(-init_mu_range, init_mu_range))
        self.sigma = nn.Parameter(torch.full((self.n_neurons, 1), float(init_sigma)))

    def grid(self, batch: int) -> torch.Tensor:
        """Read-out positions (batch, n_neurons, 2): sampled in training, ``mu`` in eval."""
        mu = self.mu.expand(batch, -1, -1)
        if self.training:
            mu = mu + self.sigma * torch.randn_like(mu)
        return mu.clamp(-1.0, 1.0)

    def pool(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        grid = self.grid(x.shape[0] // steps).repeat(steps, 1, 1).unsqueeze(2)
        return F.grid_sample(x, grid, mode="bilinear", align_corners=True)[..., 0]


READOUTS: dict[str, type[Readout]] = {"factorized": FactorizedReadout, "gaussian": GaussianReadout}


def build_readout(name: str, in_shape: Sequence[int], n_neurons: int, **cfg: Any) -> Readout:
    """The readout ``name`` for core output shape ``in_shape`` (C, H, W) and ``n_neurons``."""
    if name not in READOUTS:
        raise ValueError(f"unknown readout {name!r}; expected one of {sorted(READOUTS)}")
    try:
        return READOUTS[name](in_shape, n_neurons, **cfg)
    except TypeError as err:  # an unknown key, e.g. the former l1_features / l1_spatial
        raise ValueError(f"bad {name} readout config: {err}; its one regularisation weight is 'l1'") from None

"""Temporal readout: per-step rates of presentations shown as the recording's protocol says,
filtered in time and binned onto the recording's time bins with a learned per-neuron latency.

A :class:`PresentationPlan` says how one recording's stimuli (n, F, C, H, W) are shown:

- ``independent``: every frame is its own presentation from reset state: ``pre`` steps of
  blank, ``on`` steps of the frame, ``off`` steps of blank; the F frames of a batch of B
  stimuli run as one batch of B * F presentations.
- ``movie``: the F frames of a stimulus back to back (``on`` steps each, no blank), state
  carried across frames and reset between stimuli.
- ``stream``: the B * F presentations of a batch (pre-blank, on, off) as one continuous
  stream, state carried across them (frames in order, stimuli in batch order): history
  effects are part of the response. This is a within-batch stream; the recorded order of a
  whole session is shown by :func:`~snnvis.models.presentation.run_presentations`.

Step ``t`` covers ``[t * dt - pre * dt, (t + 1) * dt - pre * dt)`` ms after the frame's
onset; before the first step the model is taken to be in its first step's state and after
the last in its last step's state. :class:`TemporalReadout` (one per session) then

1. pools the core's features per neuron (the session readout's ``pool``) and filters each
   feature channel causally in time (``taps`` steps: 1 at lag 0, then suppression), so a
   neuron's time course mixes transient and sustained channels with stimulus-dependent
   weights even for a stateless core;
2. applies the readout's feature weights and bias, an optional per-neuron filter of the same
   kind (``neuron_taps``), the nonlinearity and a per-neuron gain (``log_gain``; the trainer
   starts it at each neuron's mean training response): per-step rates;
3. maps the rates onto recorded windows ``[start, end)`` ms after each frame's onset shifted
   by each neuron's latency (``latency_ms``; the overlap weights of :func:`window_weights` are
   piecewise linear in it, so gradient descent refines it, and the trainer can set it by grid
   search), and averages the frames where the recording averaged them (Hénaff: the PSTH of
   the 11 frames of a sequence); optionally times a per-neuron factor per recorded bin
   (``profile``: the stereotyped time course, on the recorded bins' resolution).

A stateless core (:func:`is_stateless`: a twin without recurrence) sees one image per
presentation, so each image is pooled once and the on/off switch is filtered in closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from spikingjelly.activation_based import functional
from torch import nn

from .model import NeuralEncoderModel
from .readouts import NONLINEARITIES

__all__ = ["PresentationPlan", "PsthModel", "TemporalReadout", "is_stateless", "window_weights"]


def window_weights(latency_ms: torch.Tensor, edges_ms: torch.Tensor, windows_ms: torch.Tensor) -> torch.Tensor:
    """(n, K, T) weights averaging per-step values over windows ``[start, end)`` ms, per neuron lagging
    by ``latency_ms`` (n,); ``edges_ms`` (T + 1,) are the step edges, the first and last extended
    to -inf / +inf. Each row sums to 1 and is differentiable in the latency."""
    e0, e1 = edges_ms[:-1].clone(), edges_ms[1:].clone()
    e0[0], e1[-1] = -float("inf"), float("inf")
    lo = windows_ms[None, :, 0] - latency_ms[:, None]  # (n, K)
    hi = windows_ms[None, :, 1] - latency_ms[:, None]
    overlap = (torch.minimum(e1, hi[..., None]) - torch.maximum(e0, lo[..., None])).clamp(min=0.0)
    return overlap / (hi - lo)[..., None]


@dataclass(frozen=True)
class PresentationPlan:
    """How one session's stimuli are shown and which recorded bins are predicted.

    ``windows_ms`` (K, 2): windows relative to each frame's onset; ``frame_average``: one
    row per window averaged over the frames (else frame-major, F * K rows); ``blank``: grey
    level (0-1) of the blank. ``extra_windows_ms``/``extra_frame_average``: more bins predicted after
    the recorded ones (the per-presentation count windows trained alongside the PSTH), or None.
    """

    mode: str
    dt_ms: float
    on: int
    off: int
    pre: int
    n_frames: int
    windows_ms: np.ndarray
    frame_average: bool
    blank: float
    extra_windows_ms: np.ndarray | None = None
    extra_frame_average: bool = False

    @property
    def n_bins(self) -> int:
        """Recorded bins predicted per stimulus."""
        k = len(self.windows_ms)
        return k if self.frame_average else k * self.n_frames

    @property
    def steps(self) -> int:
        """Steps per presentation (independent, stream) or per stimulus (movie)."""
        return self.n_frames * self.on if self.mode == "movie" else self.pre + self.on + self.off

    def edges_ms(self) -> torch.Tensor:
        return (torch.arange(self.steps + 1, dtype=torch.float32) - self.pre) * self.dt_ms

    def onsets_ms(self) -> np.ndarray:
        """Frame onsets within one run: every frame at 0 (independent, stream) or f * on * dt (movie)."""
        if self.mode == "movie":
            return np.arange(self.n_frames) * self.on * self.dt_ms
        return np.zeros(1)


def is_stateless(core) -> bool:
    """True when ``core``'s output at a step depends only on that step's input (checked on a dry run):
    then each distinct image needs one pass, expanded over its steps. Spiking cores never are."""
    if core.spiking:
        return False
    modes = {m: m.training for m in core.modules()}
    core.eval()
    try:
        with torch.no_grad():
            device = next(core.parameters()).device
            g = torch.Generator().manual_seed(0)
            shape = (1, core.in_channels, core.input_size, core.input_size)
            a, b = torch.randn(shape, generator=g).to(device), torch.randn(shape, generator=g).to(device)
            functional.reset_net(core)
            alone = core.encode(b[None])[-1]
            functional.reset_net(core)
            after = core.encode(torch.stack([a, a, b]))[-1]
            functional.reset_net(core)
        return bool(torch.allclose(alone, after, atol=1e-5, rtol=1e-4))
    finally:
        for m, training in modes.items():
            m.training = training


class TemporalReadout(nn.Module):
    """Per-channel causal filter, then per-neuron latency, for one session (see the module docstring).

    ``latency_ms``: initial latency of every neuron; learned within ``[-max_latency_ms,
    max_latency_ms]`` (no bound at 0, where a clamp would stop the gradient of a neuron that
    overshoots), parametrised in units of ``latency_scale_ms`` so the optimizer moves it at a useful pace (the
    filter likewise in units of ``kernel_scale``). ``taps``: length of the per-channel filter in
    steps (1: no filtering): 1 at lag 0 (the readout's feature weights set the scale), then
    suppression (negative weights) at later lags: a transient that cannot stand in for a delay,
    so the delay is the latency's and the latency is identifiable.
    ``neuron_taps``: a second causal filter, per neuron, on its drive before the nonlinearity
    (lag 0 fixed at 1 as well; 1: none). ``profile_bins``: when > 0, a learned per-neuron factor
    on each of the plan's recorded bins (``log_profile``, started at 1): the stereotyped part of each neuron's
    time course that no stimulus changes, on the recorded bins' resolution.
    """

    def __init__(
        self,
        n_channels: int,
        n_neurons: int,
        taps: int = 8,
        latency_ms: float = 40.0,
        max_latency_ms: float = 150.0,
        latency_scale_ms: float = 500.0,
        kernel_scale: float = 10.0,
        profile_bins: int = 0,
        neuron_taps: int = 1,
    ) -> None:
        super().__init__()
        if taps < 1:
            raise ValueError(f"temporal readout taps must be >= 1, got {taps}")
        if not 0 <= latency_ms <= max_latency_ms:
            raise ValueError(f"need 0 <= latency_ms <= max_latency_ms, got {latency_ms}, {max_latency_ms}")
        self.scale, self.max_latency_ms = float(latency_scale_ms), float(max_latency_ms)
        self.kernel_scale = float(kernel_scale)
        start = math.log(0.02) / self.kernel_scale  # lags 1.. start at -0.02 (lag 0 is fixed at 1)
        self.tail = nn.Parameter(torch.full((n_channels, taps - 1), start))
        if neuron_taps < 1:
            raise ValueError(f"temporal readout neuron_taps must be >= 1, got {neuron_taps}")
        self.neuron_tail = nn.Parameter(torch.full((n_neurons, neuron_taps - 1), start))
        self.latency = nn.Parameter(torch.full((n_neurons,), latency_ms / self.scale))
        self.log_gain = nn.Parameter(torch.zeros(n_neurons))  # output scale, set from the data by the trainer
        self.log_profile = nn.Parameter(torch.zeros(n_neurons, profile_bins)) if profile_bins else None

    @property
    def latency_ms(self) -> torch.Tensor:
        """(n_neurons,) the latency of each neuron in ms."""
        return (self.latency * self.scale).clamp(-self.max_latency_ms, self.max_latency_ms)

    @property
    def kernel(self) -> torch.Tensor:
        """(C, taps) the causal filter of each channel, lag 0 first."""
        return _transient(self.tail, self.kernel_scale)

    def filter(self, pooled: torch.Tensor) -> torch.Tensor:
        """(T, B, C, n) -> causally filtered over T per channel; steps before 0 hold step 0's value."""
        return _causal(pooled, self.kernel[:, None, :])

    def neuron_filter(self, drive: torch.Tensor) -> torch.Tensor:
        """(T, B, n) drive -> causally filtered over T per neuron (``neuron_taps``)."""
        if self.neuron_tail.shape[1] == 0:
            return drive
        return _causal(drive, _transient(self.neuron_tail, self.kernel_scale))

    def switch_rates(self, readout, on: torch.Tensor, off: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """Rates (T, P, n) when the pooled input is ``off`` (C, n) where ``box`` (T,) is 0 and ``on``
        (P, C, n) where it is 1: :meth:`rates` of that input without building it step by step."""
        kernel, t = self.kernel, len(box)
        taps = kernel.shape[1]
        padded = torch.cat([box[:1].expand(taps - 1), box])
        shifted = torch.stack([padded[taps - 1 - j : taps - 1 - j + t] for j in range(taps)], 1)  # (T, taps)
        g = shifted @ kernel.T  # (T, C): the filtered switch of each channel
        w = readout.features  # (n, C)
        drive = torch.einsum("tc,pcn,nc->tpn", g, on - off, w) + (kernel.sum(1)[:, None] * off * w.T).sum(0)
        return NONLINEARITIES[readout.nonlinearity](self.neuron_filter(drive + readout.bias)) * self.log_gain.exp()

    def rates(self, readout, features: torch.Tensor) -> torch.Tensor:
        """Core features (T, B, C, H, W) -> per-step rates (T, B, n) through ``readout``'s weights."""
        t, b = features.shape[:2]
        pooled = readout.pool(features.flatten(0, 1), t).reshape(t, b, *readout.features.T.shape)
        drive = torch.einsum("tbcn,nc->tbn", self.filter(pooled), readout.features) + readout.bias
        return NONLINEARITIES[readout.nonlinearity](self.neuron_filter(drive)) * self.log_gain.exp()


def _transient(tail: torch.Tensor, scale: float) -> torch.Tensor:
    """(rows, taps) filters: 1 at lag 0, then ``-exp(scale * tail)`` (suppression) at lags 1..."""
    one = torch.ones(tail.shape[0], 1, device=tail.device, dtype=tail.dtype)
    return torch.cat([one, -torch.exp(scale * tail)], dim=1)


def _causal(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``x`` (T, ...) filtered causally over T with ``kernel`` (..., taps) (lag 0 first, broadcast
    against ``x``'s trailing axes); steps before 0 hold step 0's value."""
    taps, t = kernel.shape[-1], x.shape[0]
    if taps == 1:
        return x * kernel[..., 0]
    padded = torch.cat([x[:1].expand(taps - 1, *x.shape[1:]), x])
    out = 0
    for j in range(taps):
        out = out + padded[taps - 1 - j : taps - 1 - j + t] * kernel[..., j]
    return out


class PsthModel(NeuralEncoderModel):
    """A :class:`NeuralEncoderModel` whose sessions are shown stimuli as their :class:`PresentationPlan`
    says and read out through a :class:`TemporalReadout` (``temporal[session]``).

    ``profile``: each temporal readout learns a per-neuron factor per recorded bin (see
    :class:`TemporalReadout`). ``shape_weight``: the weight of :meth:`shape_penalty`, which the
    trainer adds to the loss (0: none). ``forward(stimuli, session)`` gives the recorded bins of the plan
    (B, n_bins, n_neurons);
    :meth:`windows` any other windows (e.g. per-frame count windows) with the same latencies.
    """

    def __init__(
        self,
        core,
        readouts,
        plans: dict[str, PresentationPlan],
        profile: bool = False,
        shape_weight: float = 0.0,
        **temporal,
    ) -> None:
        super().__init__(core, readouts)
        if shape_weight < 0:
            raise ValueError(f"shape_loss must be >= 0, got {shape_weight}")
        self.plans, self.shape_weight = dict(plans), float(shape_weight)
        self.stateless = is_stateless(core)
        channels = self.core_output_shape[0]
        self.temporal = nn.ModuleDict(
            {
                s: TemporalReadout(channels, r.n_neurons, profile_bins=plans[s].n_bins if profile else 0, **temporal)
                for s, r in self.readouts.items()
            }
        )

    def shape_penalty(self, pred: torch.Tensor, target: torch.Tensor, session: str) -> torch.Tensor:
        """``shape_weight`` x mean of 1 - r, r the Pearson correlation over the plan's recorded bins of
        each (stimulus, neuron) whose target varies in time (the training side of the time-course r;
        the Poisson or MSE loss alone is dominated by each stimulus's overall scale, which r ignores).
        ``pred``, ``target``: (B, bins, n) as :meth:`forward` gives them (extra bins are left out)."""
        k = self.plans[session].n_bins
        p, y = pred[:, :k], target[:, :k]
        p, y = p - p.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
        py, yy = (p * y).sum(1), (y * y).sum(1)
        varies = yy > 0
        if not bool(varies.any()):
            return pred.new_zeros(())
        r = py[varies] / ((p * p).sum(1)[varies] * yy[varies] + 1e-12).sqrt()
        return self.shape_weight * (1.0 - r).mean()

    def features(self, stimuli: torch.Tensor, session: str) -> torch.Tensor:
        """Core features (T, R, C', H', W') of the R runs of ``stimuli`` (B, F, C, H, W) under the plan:
        R = B * F presentations (independent, stream: frame-major within a stimulus) or B movies."""
        plan = self.plans[session]
        b, f = stimuli.shape[:2]
        x = self.core.stimulus(stimuli)  # (B, F, c, s, s)
        grey = torch.full((1, 1, *stimuli.shape[2:]), plan.blank, device=stimuli.device)
        blank = self.core.stimulus(grey)[0, 0]
        if plan.mode == "movie":
            on = torch.arange(f, device=x.device).repeat_interleave(plan.on)  # frame shown at each step
            if self.stateless:
                functional.reset_net(self.core)
                out = self.core.encode(x.flatten(0, 1)[None])[0].unflatten(0, (b, f))
                return out[:, on].transpose(0, 1)
            functional.reset_net(self.core)
            return self.core.encode(x[:, on].transpose(0, 1))
        frames = x.flatten(0, 1)  # (B * F, c, s, s)
        shown = torch.tensor([0] * plan.pre + [1] * plan.on + [0] * plan.off, device=x.device, dtype=torch.bool)
        if self.stateless:
            functional.reset_net(self.core)
            out = self.core.encode(torch.cat([frames, blank[None]])[None])[0]
            on_f, off_f = out[:-1], out[-1]
            seq = torch.where(shown.view(-1, 1, 1, 1, 1), on_f[None], off_f[None, None])
            return seq
        steps = torch.where(shown.view(-1, 1, 1, 1, 1), frames[None], blank[None, None])  # (T, P, c, s, s)
        functional.reset_net(self.core)
        if plan.mode == "independent":
            return self.core.encode(steps)
        stream = steps.transpose(0, 1).flatten(0, 1)[:, None]  # (P * T, 1, c, s, s): one run, batch of one
        out = self.core.encode(stream)[:, 0].unflatten(0, (b * f, plan.steps)).transpose(0, 1)
        functional.reset_net(self.core)
        return out

    def windows(self, stimuli: torch.Tensor, session: str, windows_ms, frame_average: bool) -> torch.Tensor:
        """(B, n_bins, n) responses on ``windows_ms`` (K, 2) after each frame's onset: K bins averaged
        over the frames (``frame_average``) or F * K frame-major bins."""
        return self.bins(self.step_rates(stimuli, session), stimuli.shape[:2], session, windows_ms, frame_average)

    def step_rates(self, stimuli: torch.Tensor, session: str) -> torch.Tensor:
        """Per-step rates (T, R, n) of the runs of ``stimuli`` (see :meth:`features`)."""
        plan, readout, tr = self.plans[session], self.readouts[session], self.temporal[session]
        if not (self.stateless and plan.mode != "movie"):
            return tr.rates(readout, self.features(stimuli, session))
        # a stateless core shows one image per presentation, then the blank: pool each once and
        # filter the on/off switch in closed form (the same rates as the step-by-step run)
        x = self.core.stimulus(stimuli).flatten(0, 1)
        grey = torch.full((1, 1, *stimuli.shape[2:]), plan.blank, device=stimuli.device)
        functional.reset_net(self.core)
        out = self.core.encode(torch.cat([x, self.core.stimulus(grey)[0]])[None])[0]
        pooled = readout.pool(out, 1)  # (P + 1, C, n)
        box = torch.tensor([0.0] * plan.pre + [1.0] * plan.on + [0.0] * plan.off, device=x.device)
        return tr.switch_rates(readout, pooled[:-1], pooled[-1], box)

    def bins(self, rates: torch.Tensor, shape, session: str, windows_ms, frame_average: bool) -> torch.Tensor:
        """Per-step ``rates`` (T, R, n) of stimuli of ``shape`` (B, F) -> (B, n_bins, n) on ``windows_ms``."""
        plan, tr = self.plans[session], self.temporal[session]
        w = torch.as_tensor(np.asarray(windows_ms, dtype=np.float32), device=rates.device)
        b, f = shape
        onsets = torch.as_tensor(plan.onsets_ms(), dtype=torch.float32, device=rates.device)
        per_frame = (onsets[:, None, None] + w[None]).flatten(0, 1)  # (onsets * K, 2)
        weights = window_weights(tr.latency_ms, plan.edges_ms().to(rates.device), per_frame)
        pred = torch.einsum("nkt,trn->rkn", weights, rates)  # (R, onsets * K, n)
        pred = pred.reshape(b, f, len(w), -1)  # both layouts: frame-major bins per stimulus
        return pred.mean(1) if frame_average else pred.flatten(1, 2)

    def forward(self, stimuli: torch.Tensor, session: str, bin_matrix: torch.Tensor | None = None) -> torch.Tensor:
        """The plan's recorded bins (B, n_bins, n), then its ``extra_windows_ms`` bins when set;
        ``bin_matrix`` is not used (the latency is learned)."""
        return self.from_rates(self.step_rates(stimuli, session), stimuli.shape[:2], session)

    def from_rates(self, rates: torch.Tensor, shape, session: str) -> torch.Tensor:
        """:meth:`forward` from per-step ``rates`` (T, R, n) of stimuli of ``shape`` (B, F)."""
        plan = self.plans[session]
        out = self.bins(rates, shape, session, plan.windows_ms, plan.frame_average)
        profile = self.temporal[session].log_profile
        if profile is not None:
            out = out * profile.T.exp()
        if plan.extra_windows_ms is None:
            return out
        extra = self.bins(rates, shape, session, plan.extra_windows_ms, plan.extra_frame_average)
        return torch.cat([out, extra], dim=1)

"""A simulated V1-like population with known ground truth (``snnvis-data synth``).

Each neuron is linear–nonlinear–Poisson (LNP):

1. **Spatial filter**: a Gabor (position, orientation, spatial frequency, phase and
   envelope size drawn at random, the envelope inside the image), zero-mean and of unit
   L2 norm. Its output for a frame is ``s = filter · x`` with ``x = pixels / 255 - 0.5``,
   so a uniform grey frame drives nothing.
2. **Temporal kernel** (sequences only): a biphasic kernel in bins, the difference of
   two gamma-like functions ``g(t; tau) ∝ ((t+1)/tau)^2 exp(-(t+1)/tau)`` — a fast
   positive lobe minus a slower negative one, integrating to nearly 0. The drive at
   frame ``f`` is ``z_f = sum_j h_j s_{f-j}`` (frames before the first are grey, s = 0).
   For static stimuli (``n_frames == 1``) the drive is the spatial output, ``z = s``.
3. **Static nonlinearity**: ``rate = scale * N(gain * (z - drive_mean) / drive_std + offset)``
   with ``N = exp`` (default; then the log-rate is exactly linear in the pixels) or
   softplus. ``drive_mean``/``drive_std`` are measured on a fixed reference set of
   stimuli and ``scale`` is set so that each neuron's mean rate on that set is its
   target (log-uniform in ``rate_range``, expected spikes per bin).
4. **Poisson spiking**: ``n_repeats`` independent Poisson draws around the same rate.

Stimuli are smooth 1/f ("pink") noise textures, uint8 grayscale (C = 1). A sequence is
a window drifting smoothly (slowly turning velocity, sub-pixel Fourier shifts) over a
larger periodic texture, so consecutive frames are correlated and history matters.

Everything is a function of the config: the parameters of neuron ``k`` and stimulus
``i`` come from their own seeded streams, so adding stimuli or neurons does not change
the existing ones. The recording stores the noisy counts (``"counts"``, default) and the
noiseless rate (``"ground_truth_rate"``, units "expected spike count"); the parameters
are returned by :func:`ground_truth`; :func:`expected_ceiling` gives the analytic noise
ceiling of a trial mean.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.protocol import Protocol

CITATION = "snnvis synthetic LNP population"
NONLINEARITIES = ("exp", "softplus")
N_REFERENCE = 64  # stimuli used to normalise each neuron's drive
MAX_REFERENCE_FRAMES = 32

# independent random streams: default_rng([seed, stream, index])
_NEURON, _STIMULUS, _REFERENCE, _NOISE = 1, 2, 3, 4


@dataclass(frozen=True)
class SynthConfig:
    """Generator settings; the recording's provenance stores all of them."""

    n_stimuli: int = 300
    n_frames: int = 1  # 1: static images; > 1: sequences, one bin per frame
    n_neurons: int = 40
    n_repeats: int = 10
    size: int = 32  # image height and width in pixels
    seed: int = 0
    bin_ms: float = 100.0  # response window (static) / frame duration (sequences)
    kernel_bins: int = 12  # length of the temporal kernel in bins (= frames)
    nonlinearity: str = "exp"  # "exp" or "softplus"
    rate_range: tuple[float, float] = (2.0, 20.0)  # mean expected spike count per bin, log-uniform
    gain_range: tuple[float, float] | None = None  # default: (0.3, 0.8) for exp, (1.0, 2.5) for softplus
    spectral_exponent: float = 1.0  # texture amplitude spectrum ∝ 1 / f**exponent
    contrast: float = 0.2  # RMS contrast (std of pixels / 255) before clipping
    speed_range: tuple[float, float] = (0.5, 1.5)  # drift speed, pixels per frame
    area: str = "V1"
    recording_id: str | None = None

    def validate(self) -> None:
        def bad(why: str):
            raise UserError("synthetic config", why)

        for name in ("n_stimuli", "n_frames", "n_neurons", "n_repeats", "kernel_bins"):
            if int(getattr(self, name)) < 1:
                bad(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.size < 8:
            bad(f"size must be >= 8 pixels, got {self.size}")
        if self.seed < 0:
            bad(f"seed must be >= 0, got {self.seed}")
        if self.nonlinearity not in NONLINEARITIES:
            bad(f"nonlinearity must be one of {NONLINEARITIES}, got {self.nonlinearity!r}")
        if not (0 < self.rate_range[0] <= self.rate_range[1]):
            bad(f"rate_range must satisfy 0 < low <= high, got {self.rate_range}")
        if not self.bin_ms > 0:
            bad(f"bin_ms must be > 0, got {self.bin_ms}")

    @property
    def gains(self) -> tuple[float, float]:
        if self.gain_range is not None:
            return tuple(self.gain_range)
        return (0.3, 0.8) if self.nonlinearity == "exp" else (1.0, 2.5)


# ---------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


@dataclass
class GroundTruth:
    """The parameters of every simulated neuron, and the model that maps pixels to rates."""

    filters: np.ndarray  # (n_neurons, size, size) float64, zero mean, unit L2 norm
    gabor: dict[str, np.ndarray]  # x0, y0 (pixels), theta (rad), sf (cycles/pixel), phase (rad), sigma (pixels)
    temporal_kernels: np.ndarray  # (n_neurons, kernel_bins): [k, j] weight of the frame j bins back
    kernel_params: dict[str, np.ndarray]  # tau_fast, tau_slow (bins), balance (negative/positive lobe area)
    nonlinearity: str
    drive_mean: np.ndarray  # (n_neurons,) mean of z on the reference stimuli
    drive_std: np.ndarray  # (n_neurons,) std of z on the reference stimuli
    gain: np.ndarray  # (n_neurons,)
    offset: np.ndarray  # (n_neurons,)
    scale: np.ndarray  # (n_neurons,)
    mean_rate: np.ndarray  # (n_neurons,) target mean expected count per bin
    static: bool = True  # static stimuli: no temporal kernel

    @property
    def n_neurons(self) -> int:
        return self.filters.shape[0]

    def spatial_drive(self, pixels: np.ndarray) -> np.ndarray:
        """(n, n_frames, n_neurons): filter outputs of uint8 (n, n_frames, H, W, 1) pixels."""
        x = pixels[..., 0].astype(np.float64) / 255.0 - 0.5
        return np.einsum("ntij,kij->ntk", x, self.filters, optimize=True)

    def drive(self, pixels: np.ndarray) -> np.ndarray:
        """(n, n_frames, n_neurons): the linear drive z (spatial, then temporal for sequences)."""
        s = self.spatial_drive(pixels)
        if self.static:
            return s
        z = np.zeros_like(s)
        n_frames = s.shape[1]
        for j in range(min(n_frames, self.temporal_kernels.shape[1])):
            z[:, j:, :] += self.temporal_kernels[:, j] * s[:, : n_frames - j, :]
        return z

    def log_rate_input(self, pixels: np.ndarray) -> np.ndarray:
        """The nonlinearity's input, gain * (z - drive_mean) / drive_std + offset."""
        u = (self.drive(pixels) - self.drive_mean) / self.drive_std
        return self.gain * u + self.offset

    def rates(self, pixels: np.ndarray) -> np.ndarray:
        """(n, n_frames, n_neurons) noiseless rates: expected spike count per bin."""
        eta = self.log_rate_input(pixels)
        f = np.exp(eta) if self.nonlinearity == "exp" else _softplus(eta)
        return self.scale * f


def gabor_filter(size: int, x0: float, y0: float, theta: float, sf: float, phase: float, sigma: float) -> np.ndarray:
    """A zero-mean, unit-norm Gabor (size, size); rows are y, columns x (pixel centres)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xx - x0, yy - y0
    xr = dx * np.cos(theta) + dy * np.sin(theta)
    env = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    g = env * np.cos(2 * np.pi * sf * xr + phase)
    g -= env * (g.sum() / env.sum())  # remove the DC response but stay local
    return g / np.linalg.norm(g)


def biphasic_kernel(n_bins: int, tau_fast: float, tau_slow: float, balance: float) -> np.ndarray:
    """Fast positive gamma lobe minus ``balance`` times a slower one; unit L2 norm."""
    t = np.arange(n_bins, dtype=np.float64) + 1.0

    def gamma(tau):
        g = (t / tau) ** 2 * np.exp(-t / tau)
        return g / g.sum()

    h = gamma(tau_fast) - balance * gamma(tau_slow)
    return h / np.linalg.norm(h)


def _neuron_params(cfg: SynthConfig, k: int) -> dict:
    rng = np.random.default_rng([cfg.seed, _NEURON, k])
    size = cfg.size
    sigma = max(1.5, size * rng.uniform(0.06, 0.12))
    margin = min(2.5 * sigma, size / 2)
    x0, y0 = rng.uniform(margin, size - margin, 2)
    sf = min(rng.uniform(0.35, 0.55) / sigma, 0.25)
    p = dict(x0=x0, y0=y0, theta=rng.uniform(0, np.pi), sf=sf, phase=rng.uniform(0, 2 * np.pi), sigma=sigma)
    tau_fast = rng.uniform(0.6, 1.0)
    p.update(tau_fast=tau_fast, tau_slow=tau_fast * rng.uniform(1.8, 2.5), balance=rng.uniform(0.85, 1.0))
    lo, hi = cfg.rate_range
    p.update(
        mean_rate=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
        gain=rng.uniform(*cfg.gains),
        threshold=rng.uniform(-1.0, 0.5),
    )
    return p


def ground_truth(cfg: SynthConfig) -> GroundTruth:
    """Every neuron's parameters; a function of ``cfg`` alone (not of the stimuli drawn)."""
    cfg.validate()
    params = [_neuron_params(cfg, k) for k in range(cfg.n_neurons)]
    col = {key: np.array([p[key] for p in params]) for key in params[0]}
    filters = np.stack(
        [gabor_filter(cfg.size, *(p[k] for k in ("x0", "y0", "theta", "sf", "phase", "sigma"))) for p in params]
    )
    kernels = np.stack([biphasic_kernel(cfg.kernel_bins, p["tau_fast"], p["tau_slow"], p["balance"]) for p in params])
    n = cfg.n_neurons
    truth = GroundTruth(
        filters=filters,
        gabor={k: col[k] for k in ("x0", "y0", "theta", "sf", "phase", "sigma")},
        temporal_kernels=kernels,
        kernel_params={k: col[k] for k in ("tau_fast", "tau_slow", "balance")},
        nonlinearity=cfg.nonlinearity,
        drive_mean=np.zeros(n),
        drive_std=np.ones(n),
        gain=col["gain"],
        offset=np.zeros(n),
        scale=np.ones(n),
        mean_rate=col["mean_rate"],
        static=cfg.n_frames == 1,
    )
    # normalise the drive and set the mean rate on a fixed reference set of stimuli
    n_ref_frames = min(cfg.n_frames, MAX_REFERENCE_FRAMES)
    ref = np.stack([_stimulus(cfg, i, n_ref_frames, _REFERENCE) for i in range(N_REFERENCE)])
    z = truth.drive(ref).reshape(-1, n)
    truth.drive_mean, truth.drive_std = z.mean(0), z.std(0) + 1e-12
    u = (z - truth.drive_mean) / truth.drive_std
    if cfg.nonlinearity == "softplus":
        truth.offset = col["threshold"]
        f = _softplus(truth.gain * u + truth.offset)
    else:
        f = np.exp(truth.gain * u)
    truth.scale = truth.mean_rate / f.mean(0)
    return truth


# ---------------------------------------------------------------------------------------
# Stimuli
# ---------------------------------------------------------------------------------------


def _stimulus(cfg: SynthConfig, i: int, n_frames: int, stream: int = _STIMULUS) -> np.ndarray:
    """uint8 (n_frames, size, size, 1): a window drifting over a periodic 1/f texture."""
    rng = np.random.default_rng([cfg.seed, stream, i])
    size, big = cfg.size, 2 * cfg.size
    f = np.fft.fftfreq(big)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    radius = np.hypot(fx, fy)
    amplitude = np.zeros_like(radius)
    amplitude[radius > 0] = radius[radius > 0] ** -cfg.spectral_exponent
    spectrum = np.fft.fft2(rng.standard_normal((big, big))) * amplitude
    std = np.fft.ifft2(spectrum).real.std()
    # smooth drift: constant speed, slowly turning direction, random start
    speed = rng.uniform(*cfg.speed_range)
    angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.15, 0.15) * np.arange(n_frames)
    start = rng.uniform(0, big, 2)
    steps = speed * np.stack([np.cos(angle), np.sin(angle)], 1)
    pos = start + np.concatenate([[[0.0, 0.0]], np.cumsum(steps[:-1], 0)])  # (n_frames, 2): x, y
    phase = np.exp(2j * np.pi * (fx[None] * pos[:, 0, None, None] + fy[None] * pos[:, 1, None, None]))
    frames = np.fft.ifft2(spectrum[None] * phase).real[:, :size, :size] / std
    pixels = np.clip(np.rint(127.5 + cfg.contrast * 255.0 * frames), 0, 255).astype(np.uint8)
    return pixels[..., None]


def make_stimuli(cfg: SynthConfig) -> np.ndarray:
    """uint8 (n_stimuli, n_frames, size, size, 1)."""
    cfg.validate()
    return np.stack([_stimulus(cfg, i, cfg.n_frames) for i in range(cfg.n_stimuli)])


# ---------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------


@dataclass
class Simulation:
    config: SynthConfig
    truth: GroundTruth
    pixels: np.ndarray  # uint8 (n_stimuli, n_frames, size, size, 1)
    rates: np.ndarray  # float64 (n_stimuli, n_bins, n_neurons): expected spike count per bin
    counts: np.ndarray  # float32 (n_stimuli, n_repeats, n_bins, n_neurons): Poisson draws


def simulate(cfg: SynthConfig) -> Simulation:
    truth = ground_truth(cfg)
    pixels = make_stimuli(cfg)
    rates = truth.rates(pixels)
    rng = np.random.default_rng([cfg.seed, _NOISE])
    counts = rng.poisson(np.broadcast_to(rates[:, None], (rates.shape[0], cfg.n_repeats, *rates.shape[1:])))
    return Simulation(cfg, truth, pixels, rates, counts.astype(np.float32))


def expected_ceiling(rates: np.ndarray, n_repeats: int) -> np.ndarray | float:
    """Expected correlation between the true rate and the mean of ``n_repeats`` Poisson trials.

    ``rates``: (n_samples, ...) or (..., n_neurons) — the last axis is neurons, every other
    axis is pooled as samples (a 1-D array is one neuron). Returns
    ``sqrt(var(λ) / (var(λ) + mean(λ) / R))`` per neuron.
    """
    r = np.asarray(rates, dtype=np.float64)
    one = r.ndim == 1
    r = r.reshape(-1, 1) if one else r.reshape(-1, r.shape[-1])
    var, mean = r.var(0), r.mean(0)
    out = np.sqrt(var / (var + mean / n_repeats))
    return float(out[0]) if one else out


def to_recording(sim: Simulation) -> RecordingData:
    cfg = sim.config
    static = cfg.n_frames == 1
    windows = np.array([[0.0, cfg.bin_ms]])
    align = "stimulus" if static else "frame"
    timing = "per stimulus" if static else "per frame (frame-major, one bin per frame)"
    counts = ResponseSet(
        mean=sim.counts.mean(1).astype(np.float32),
        trials=sim.counts,
        windows_ms=windows,
        units=f"spike count per {cfg.bin_ms:g} ms window",
        align=align,
        description=f"Poisson spike counts, {cfg.n_repeats} repeats, {timing}; mean = trial average",
    )
    rate = ResponseSet(
        mean=sim.rates.astype(np.float32),
        windows_ms=windows,
        units="expected spike count",
        align=align,
        description="noiseless LNP rate (Poisson mean) of each bin; the ground truth behind 'counts'",
    )
    tag = "static" if static else f"seq{cfg.n_frames}"
    options = json.loads(json.dumps(asdict(cfg)))
    return RecordingData(
        recording_id=cfg.recording_id or f"synth_{tag}_seed{cfg.seed}",
        source="synthetic",
        species="synthetic",
        citation=CITATION,
        license="CC0-1.0",
        neuron_ids=[f"n{k:04d}" for k in range(cfg.n_neurons)],
        neuron_areas=[cfg.area] * cfg.n_neurons,
        stimulus_ids=[f"synth{cfg.seed}_{i:05d}" for i in range(cfg.n_stimuli)],
        pixels=sim.pixels,
        responses={"counts": counts, "ground_truth_rate": rate},
        default_response="counts",
        frame_duration_ms=float(cfg.bin_ms),
        frame_interval_ms=float("nan") if static else float(cfg.bin_ms),
        importer_options=options,
        importer="snnvis.recordings.synthetic",
        protocol=None
        if static
        else Protocol(
            "movie",
            float(cfg.bin_ms),
            0.0,
            description="simulated: the frames of each sequence follow each other without a blank, and the "
            "temporal kernel carries over them; sequences are independent of each other",
        ),
    )


def generate_recording(cfg: SynthConfig) -> RecordingData:
    """Simulate ``cfg`` and package it for :func:`~snnvis.recordings.format.write_recording`."""
    return to_recording(simulate(cfg))

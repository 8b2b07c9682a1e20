"""A simulated V1-like population watching one continuous movie (``snnvis-data synth --movie``).

The movie: ``n_clips * clip_frames`` frames at ``frame_ms`` per frame, made of scenes of
``scene_clips`` clips each. A scene is a large smooth 1/f texture (4x the frame size,
periodic) seen through a window that drifts over it (constant speed, slowly turning
direction, sub-pixel Fourier shifts); a new scene starts with a cut. The stimuli of the
recording are the consecutive clips; a scene is a split group, so no scene is split across
train/validation/test, and two scenes share no picture.

Each neuron is LNP with adaptation, evaluated frame by frame over the whole movie
(``t`` = frame index from the first frame; before it the screen is grey):

1. spatial drive ``s_t = filter · x_t`` (Gabor filter from :mod:`snnvis.recordings.synthetic`,
   ``x = pixels / 255 - 0.5``);
2. linear drive ``z_t = sum_j h_j s_{t-j}`` with a biphasic kernel ``h`` that is zero for
   ``j < latency`` (the latency, in frames, is drawn per neuron from ``latency_range``);
3. ``u_t = (z_t - drive_mean) / drive_std`` over the movie, and
   ``f_t = exp(gain * u_t - adapt_weight * a_t)`` with the adaptation state
   ``a_t = rho a_{t-1} + (1 - rho) f_{t-1}``, ``a_0 = 0``, ``rho = exp(-1 / adapt_tau)``;
4. ``rate_t = scale * f_t`` (expected spike count per frame; ``scale`` sets the neuron's mean
   rate, log-uniform in ``rate_range``), and ``n_repeats`` Poisson draws of it.

Because the kernel carries over clip boundaries, the rate in a clip depends on the previous
clip, as in a real movie; the protocol is ``movie`` and its ``order`` lists the frames.
Ground truth is stored in ``/ground_truth`` of the file: ``filters``, ``temporal_kernels``
(N, kernel_bins), ``latency_bins``, ``gain``, ``scale``, ``adapt_weight``, ``adapt_tau``,
``drive_mean``, ``drive_std`` (per neuron) and ``spatial_drive``, ``drive``, ``adaptation``,
``rate`` (frames, N) over the whole movie, so every step above can be checked in closed form.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from snnvis.errors import UserError
from snnvis.recordings.format import RecordingData, ResponseSet
from snnvis.recordings.protocol import Protocol
from snnvis.recordings.synthetic import SynthConfig, _neuron_params, gabor_filter

CITATION = "snnvis synthetic LNP population with adaptation, continuous movie"
_MOVIE, _MNEURON, _MNOISE = 11, 12, 13


@dataclass(frozen=True)
class MovieConfig:
    """Settings of the synthetic movie recording; the file's provenance stores all of them."""

    n_clips: int = 30
    clip_frames: int = 30
    scene_clips: int = 3  # clips per scene (a cut starts a new texture); the split group
    n_neurons: int = 40
    n_repeats: int = 10
    size: int = 32
    seed: int = 0
    frame_ms: float = 1000.0 / 30.0
    kernel_bins: int = 8  # temporal kernel length, frames (latency included)
    latency_range: tuple[int, int] = (1, 3)  # integer frames, inclusive
    rate_range: tuple[float, float] = (0.5, 5.0)  # mean expected spike count per frame
    gain_range: tuple[float, float] = (0.3, 0.8)
    adapt_weight_range: tuple[float, float] = (0.2, 0.8)
    adapt_tau_range: tuple[float, float] = (3.0, 10.0)  # frames
    speed_range: tuple[float, float] = (0.5, 1.5)  # pixels per frame
    contrast: float = 0.2
    area: str = "V1"
    recording_id: str | None = None

    @property
    def n_frames(self) -> int:
        return self.n_clips * self.clip_frames

    def validate(self) -> None:
        def bad(why: str):
            raise UserError("synthetic movie config", why)

        for name in ("n_clips", "clip_frames", "scene_clips", "n_neurons", "n_repeats"):
            if int(getattr(self, name)) < 1:
                bad(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.size < 8:
            bad(f"size must be >= 8 pixels, got {self.size}")
        if self.seed < 0:
            bad(f"seed must be >= 0, got {self.seed}")
        if not self.frame_ms > 0:
            bad(f"frame_ms must be > 0, got {self.frame_ms}")
        lo, hi = self.latency_range
        if not (0 <= lo <= hi < self.kernel_bins - 1):
            bad(f"latency_range {self.latency_range} must satisfy 0 <= low <= high < kernel_bins - 1")
        if not (0 < self.rate_range[0] <= self.rate_range[1]):
            bad(f"rate_range must satisfy 0 < low <= high, got {self.rate_range}")


def delayed_biphasic(n_bins: int, latency: int, tau_fast: float, tau_slow: float, balance: float) -> np.ndarray:
    """Zero for the first ``latency`` bins, then a fast positive minus a slow negative gamma lobe; unit norm."""
    t = np.arange(n_bins - latency, dtype=np.float64) + 1.0

    def gamma(tau):
        g = (t / tau) ** 2 * np.exp(-t / tau)
        return g / g.sum()

    h = np.concatenate([np.zeros(latency), gamma(tau_fast) - balance * gamma(tau_slow)])
    return h / np.linalg.norm(h)


def make_movie(cfg: MovieConfig) -> np.ndarray:
    """uint8 (n_frames, size, size, 1): scenes of drifting 1/f texture, cut every ``scene_clips`` clips."""
    cfg.validate()
    size, big = cfg.size, 4 * cfg.size
    f = np.fft.fftfreq(big)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    radius = np.hypot(fx, fy)
    amplitude = np.where(radius > 0, radius, 1.0) ** -1.0 * (radius > 0)
    scene_frames = cfg.scene_clips * cfg.clip_frames
    out = []
    for scene, start in enumerate(range(0, cfg.n_frames, scene_frames)):
        n = min(scene_frames, cfg.n_frames - start)
        rng = np.random.default_rng([cfg.seed, _MOVIE, scene])
        spectrum = np.fft.fft2(rng.standard_normal((big, big))) * amplitude
        std = np.fft.ifft2(spectrum).real.std()
        angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.05, 0.05) * np.arange(n)
        steps = rng.uniform(*cfg.speed_range) * np.stack([np.cos(angle), np.sin(angle)], 1)
        pos = rng.uniform(0, big, 2) + np.concatenate([[[0.0, 0.0]], np.cumsum(steps[:-1], 0)])
        for x, y in pos:
            frame = np.fft.ifft2(spectrum * np.exp(2j * np.pi * (fx * x + fy * y))).real[:size, :size] / std
            out.append(np.clip(np.rint(127.5 + cfg.contrast * 255.0 * frame), 0, 255).astype(np.uint8))
    return np.stack(out)[..., None]


def _params(cfg: MovieConfig, k: int) -> dict:
    base = _neuron_params(SynthConfig(size=cfg.size, seed=cfg.seed, kernel_bins=cfg.kernel_bins), k)
    rng = np.random.default_rng([cfg.seed, _MNEURON, k])
    lo, hi = cfg.rate_range
    base.update(
        latency=int(rng.integers(cfg.latency_range[0], cfg.latency_range[1] + 1)),
        gain=rng.uniform(*cfg.gain_range),
        adapt_weight=rng.uniform(*cfg.adapt_weight_range),
        adapt_tau=rng.uniform(*cfg.adapt_tau_range),
        mean_rate=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
    )
    return base


def simulate_movie(cfg: MovieConfig) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(pixels (n_frames, size, size, 1), ground truth, Poisson counts (n_frames, n_repeats, N))."""
    pixels = make_movie(cfg)
    ps = [_params(cfg, k) for k in range(cfg.n_neurons)]
    col = {key: np.array([p[key] for p in ps]) for key in ("latency", "gain", "adapt_weight", "adapt_tau", "mean_rate")}
    filters = np.stack(
        [gabor_filter(cfg.size, *(p[k] for k in ("x0", "y0", "theta", "sf", "phase", "sigma"))) for p in ps]
    )
    kernels = np.stack(
        [delayed_biphasic(cfg.kernel_bins, p["latency"], p["tau_fast"], p["tau_slow"], p["balance"]) for p in ps]
    )
    x = pixels[..., 0].astype(np.float64) / 255.0 - 0.5
    s = np.einsum("tij,kij->tk", x, filters, optimize=True)  # (T, N)
    z = np.zeros_like(s)
    for j in range(min(cfg.kernel_bins, len(s))):
        z[j:] += kernels[:, j] * s[: len(s) - j]
    mean, std = z.mean(0), z.std(0) + 1e-12
    drive = col["gain"] * (z - mean) / std
    rho = np.exp(-1.0 / col["adapt_tau"])
    a, f = np.zeros_like(z), np.zeros_like(z)
    for t in range(len(z)):
        if t:
            a[t] = rho * a[t - 1] + (1 - rho) * f[t - 1]
        f[t] = np.exp(drive[t] - col["adapt_weight"] * a[t])
    scale = col["mean_rate"] / f.mean(0)
    rate = scale * f
    rng = np.random.default_rng([cfg.seed, _MNOISE])
    counts = rng.poisson(np.broadcast_to(rate[:, None], (len(rate), cfg.n_repeats, cfg.n_neurons)))
    truth = {
        "filters": filters,
        "temporal_kernels": kernels,
        "latency_bins": col["latency"].astype(np.int64),
        "gain": col["gain"],
        "scale": scale,
        "adapt_weight": col["adapt_weight"],
        "adapt_tau": col["adapt_tau"],
        "drive_mean": mean,
        "drive_std": std,
        "spatial_drive": s,
        "drive": z,
        "adaptation": a,
        "rate": rate,
    }
    return pixels, truth, counts.astype(np.float32)


def generate_movie_recording(cfg: MovieConfig) -> RecordingData:
    """Simulate ``cfg`` and package it for :func:`~snnvis.recordings.format.write_recording`."""
    pixels, truth, counts = simulate_movie(cfg)
    c, F, N, R = cfg.n_clips, cfg.clip_frames, cfg.n_neurons, cfg.n_repeats
    trials = counts.reshape(c, F, R, N).transpose(0, 2, 1, 3)
    windows = np.array([[0.0, cfg.frame_ms]])
    scenes = [f"scene{i // cfg.scene_clips:04d}" for i in range(c)]
    order = np.stack(np.meshgrid(np.arange(c), np.arange(F), indexing="ij"), -1).reshape(-1, 2)
    return RecordingData(
        recording_id=cfg.recording_id or f"synth_movie_seed{cfg.seed}",
        source="synthetic",
        species="synthetic",
        citation=CITATION,
        license="CC0-1.0",
        neuron_ids=[f"n{k:04d}" for k in range(N)],
        neuron_areas=[cfg.area] * N,
        stimulus_ids=[f"movie{cfg.seed}/frames{i * F:05d}-{(i + 1) * F - 1:05d}" for i in range(c)],
        pixels=np.ascontiguousarray(pixels.reshape(c, F, *pixels.shape[1:])),
        stimulus_groups=scenes,
        group_universe=sorted(set(scenes)),
        responses={
            "counts": ResponseSet(
                mean=trials.mean(1),
                trials=trials,
                windows_ms=windows,
                align="frame",
                units=f"spike count per {cfg.frame_ms:g} ms frame",
                description=f"Poisson spike counts, {R} repeats of the whole movie, one bin "
                f"per frame; mean = trial average",
            ),
            "ground_truth_rate": ResponseSet(
                mean=truth["rate"].reshape(c, F, N).astype(np.float32),
                windows_ms=windows,
                align="frame",
                units="expected spike count",
                description="noiseless rate (Poisson mean) of each frame bin",
            ),
        },
        default_response="counts",
        frame_duration_ms=float(cfg.frame_ms),
        frame_interval_ms=float(cfg.frame_ms),
        protocol=Protocol(
            "movie",
            float(cfg.frame_ms),
            0.0,
            order=order,
            order_ids=np.arange(c * F).astype(str),
            description="simulated: one continuous movie, frames back to back; the clips are "
            "consecutive, so the kernel and adaptation carry over clip boundaries",
        ),
        ground_truth=truth,
        importer_options=json.loads(json.dumps(asdict(cfg))),
        importer="snnvis.recordings.synthetic_movie",
    )

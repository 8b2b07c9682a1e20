"""Set-up of a training run: sessions, model, placement on the device, optimizer, loss.

Everything is built from the config with ``hydra.utils.instantiate`` (through
:func:`snnvis.config.build`): the encoder and readouts from ``model``/``readout``, the
optimizer and LR scheduler from the ``_partial_`` nodes ``optimizer``/``scheduler``, the
loss from ``loss``. ``scripts/bench_train.py`` builds its models with the same functions.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf

from snnvis.config import build, instantiation_error
from snnvis.errors import UserError
from snnvis.models import build_model, calibrate_batchnorm
from snnvis.models.neurons import set_backend_for
from snnvis.models.timing import response_bins
from snnvis.models.weights import load_weights
from snnvis.recordings.dataset import RecordingDataset
from snnvis.recordings.recording import Recording
from snnvis.training.losses import get_loss


@dataclass
class Session:
    id: str
    recording: Recording
    splits: dict[str, RecordingDataset]
    bin_matrix: torch.Tensor | None  # (n_bins, n_steps) or None for static rates


def load_sessions(data_cfg: DictConfig) -> list[Session]:
    paths = list(data_cfg.recordings)
    if not paths:
        raise UserError("data.recordings", "no recordings selected")
    sessions, seen = [], set()
    for p in paths:
        rec = Recording(p)
        if rec.id in seen:
            raise UserError("data.recordings", f"recording id {rec.id!r} selected twice", p)
        seen.add(rec.id)
        splits = {}
        for split in ("train", "validation", "test"):
            ds = RecordingDataset(
                rec,
                split,
                data_cfg.response,
                image_size=data_cfg.image_size,
                with_trials=split == "test",
                crop=data_cfg.get("crop"),
            )
            if len(ds) == 0:
                raise UserError("recording", f"the {split} split is empty", p)
            splits[split] = ds
        sessions.append(Session(rec.id, rec, splits, None))
    return sessions


def bin_matrix_for(session: Session, core, target: str, latency_ms: float) -> torch.Tensor | None:
    """The (n_bins, n_steps) map from simulation steps to the response set's bins."""
    info = session.splits["train"].response_info
    n_frames = session.recording.n_frames
    if target == "rate":
        if info.n_bins != 1:
            raise UserError(
                "data.target",
                f"'rate' needs one bin per stimulus but response set {info.name!r} "
                f"has {info.n_bins}; use data.target=temporal",
                session.recording.path,
            )
        return None
    interval = session.recording.frame_timing()[1] if info.align == "frame" else float("nan")
    try:
        m = response_bins(
            core.time,
            n_frames,
            info.windows_ms,
            latency_ms,
            frame_aligned=info.align == "frame",
            frame_average=info.frame_average,
            frame_interval_ms=interval,
        )
    except ValueError as err:
        raise UserError("model timing", str(err), session.recording.path) from None
    if m.shape[0] != info.n_bins:
        raise UserError(
            "model timing", f"{m.shape[0]} model bins for {info.n_bins} recorded bins", session.recording.path
        )
    return m


def build_network(cfg: DictConfig, n_neurons: dict[str, int]):
    """Core (``cfg.model``) + one readout (``cfg.readout``, ``_partial_``) per session id -> n_neurons."""
    try:
        return build_model(cfg.model, cfg.readout, n_neurons)
    except ValueError as err:  # a bad value in the model or readout config
        raise UserError("model config", str(err)) from None
    except InstantiationException as err:  # a _target_ that does not exist, or a bad value behind it
        raise instantiation_error(err, {"model": cfg.model, "readout": cfg.readout}, "model config") from None


def network_for_sessions(cfg: DictConfig, sessions: list[Session]):
    """The network of ``sessions``, with each session's step -> bin map set (``data.target=psth``:
    a :class:`~snnvis.models.temporal_readout.PsthModel`, see :mod:`snnvis.training.psth`)."""
    if cfg.data.target == "psth":
        from snnvis.training.psth import psth_network

        return psth_network(cfg, sessions, build_network)
    model = build_network(cfg, {s.id: s.splits["train"].n_neurons for s in sessions})
    start_core(cfg, model, sessions)
    for s in sessions:
        s.bin_matrix = bin_matrix_for(s, model.core, cfg.data.target, cfg.data.get("latency_ms", 0.0))
    return model


def start_core(cfg: DictConfig, model, sessions: list[Session]) -> None:
    """Load the core from ``checkpoint`` (a trained run or ``.pt``; ``model.weights`` was loaded when
    the core was built) and, with ``trainer.freeze_core`` (``core.frozen``), freeze it.

    A frozen core needs trained weights unless ``core.untrained`` says a random core is frozen on
    purpose; its BatchNorm statistics are then calibrated on the train stimuli (no neural data).
    """
    run_ckpt, weights = cfg.get("checkpoint"), cfg.model.get("weights")
    if run_ckpt and weights:
        raise UserError("checkpoint", "give the core's weights once: checkpoint=RUN or model.weights=PATH, not both")
    if run_ckpt:
        load_weights(model.core, run_ckpt, key="checkpoint")
    if not cfg.trainer.get("freeze_core"):
        return
    if not (run_ckpt or weights):
        if not OmegaConf.select(cfg, "core.untrained", default=False):
            raise UserError(
                "trainer.freeze_core",
                "a frozen core needs trained weights: model.weights=PATH (e.g. a snnvis-pretrain checkpoint) "
                "or checkpoint=RUN; core.untrained=true freezes the random initialisation on purpose",
            )
        stimuli = torch.cat([s.splits["train"].stimuli for s in sessions])[:256]
        calibrate_batchnorm(model.core, stimuli.split(int(cfg.data.batch_size)))
    freeze(model.core)


def _stay_in_eval(self, mode: bool = True):
    return self


def freeze(core) -> None:
    """Freeze ``core``: no gradients, eval mode (BatchNorm statistics fixed) for good: its
    ``train()`` is a no-op, so the epoch loop's ``model.train()`` trains the readouts only."""
    core.requires_grad_(False)
    core.eval()
    core.train = types.MethodType(_stay_in_eval, core)


def place(model, device: torch.device, backend: str | None = None, channels_last="auto", compile: bool = False) -> dict:
    """Move ``model`` to ``device``, bind its spiking neurons' backend (``None``: the configured
    ``model.neuron.backend``; a name overrides it, as benchmarks do), set the memory format and
    compile the core as configured; returns the backends bound (see ``set_backend_for``)."""
    model.to(device)
    bound = set_backend_for(model, device, backend)
    if channels_last is True or (channels_last == "auto" and device.type == "cuda"):
        model.to(memory_format=torch.channels_last)
    if compile:
        model.core = torch.compile(model.core)
    return bound


def optimizer_for(cfg: DictConfig, model) -> tuple[torch.optim.Optimizer, object | None]:
    """The optimizer over ``model``'s trainable parameters (a frozen core's are left out) and the LR
    scheduler (None: constant rate)."""
    opt = build(cfg.optimizer, "optimizer", [p for p in model.parameters() if p.requires_grad])
    scheduler = build(cfg.scheduler, "scheduler", opt) if cfg.get("scheduler") is not None else None
    return opt, scheduler


def loss_for(cfg: DictConfig):
    """The loss callable ``(pred, target) -> scalar``: ``cfg.loss``, else ``trainer.loss`` by name."""
    return build(cfg.loss, "loss") if cfg.get("loss") is not None else get_loss(cfg.trainer.loss)

"""The training loop: shared core + per-session readouts, early stopping, exact resume, DDP."""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from hydra.errors import InstantiationException

from snnvis.config import build, check_targets, instantiation_error
from snnvis.errors import UserError
from snnvis.models import build_model, count_params
from snnvis.models.neurons import set_backend_for
from snnvis.models.readouts import time_bin_matrix
from snnvis.recordings.dataset import RecordingDataset, SessionCycler, collate
from snnvis.recordings.recording import Recording
from snnvis.training import checkpoint
from snnvis.training.baseline import random_core_baseline
from snnvis.training.distributed import Dist, _agree_run_dir, _rank0_buffers, _rank0_score, _shard, resolve_device
from snnvis.training.identity import NOT_HASHED as _NOT_HASHED  # noqa: F401
from snnvis.training.identity import config_hash
from snnvis.training.losses import get_loss
from snnvis.training.metrics import pearson_per_neuron, prediction_flags
from snnvis.training.results import lookup_baselines, run_metrics, test_report, write_json, write_log
from snnvis.training.rundir import RunDirLock, clear_previous, read_finished, register_resolvers
from snnvis.training.schema import check_values
from snnvis.training.schema import register as _register_schemas
from snnvis.utils import seed_everything

log = logging.getLogger(__name__)
_register_schemas()
register_resolvers()


# ---------------------------------------------------------------------------------------
# Set-up helpers
# ---------------------------------------------------------------------------------------

@dataclass
class Session:
    id: str
    recording: Recording
    splits: dict[str, RecordingDataset]
    bin_matrix: torch.Tensor | None   # (n_bins, n_steps) or None for static rates


def train_step(train_model, model, opt, batch, bin_matrix, loss_fn, tcfg, device) -> float:
    """One optimisation step on one batch; returns the (unregularised) loss."""
    with autocast(device, tcfg.amp):
        pred = train_model(batch.stimuli, batch.session, bin_matrix=bin_matrix)
        loss = loss_fn(pred.float(), batch.responses)
        total_loss = loss + model.readouts[batch.session].regularizer()   # weighted by the readout's l1
    opt.zero_grad(set_to_none=True)
    total_loss.backward()
    if tcfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
    opt.step()
    return loss.item()


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
            ds = RecordingDataset(rec, split, data_cfg.response, image_size=data_cfg.image_size,
                                  with_trials=split == "test")
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
            raise UserError("data.target", f"'rate' needs one bin per stimulus but response set {info.name!r} "
                            f"has {info.n_bins}; use data.target=temporal", session.recording.path)
        return None
    time_cfg = core.time
    n_steps = time_cfg.n_steps(n_frames)
    frame_ms = time_cfg.steps_per_frame * time_cfg.dt_ms
    kwargs = {}
    if info.align == "frame":
        _, interval = session.recording.frame_timing()
        if np.isfinite(interval) and abs(interval - frame_ms) > 1e-6:
            raise UserError("model timing", f"steps_per_frame × dt_ms = {frame_ms} ms but frames are "
                            f"{interval} ms apart in this recording", session.recording.path)
        kwargs = {"frame_onsets_ms": np.arange(n_frames) * frame_ms, "average_over_frames": info.frame_average}
    try:
        m = time_bin_matrix(n_steps, time_cfg.dt_ms, latency_ms, info.windows_ms, **kwargs)
    except ValueError as err:
        raise UserError("model timing", str(err), session.recording.path) from None
    if m.shape[0] != info.n_bins:
        raise UserError("model timing", f"{m.shape[0]} model bins for {info.n_bins} recorded bins",
                        session.recording.path)
    return m


# ---------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------

def autocast(device: torch.device, amp) -> contextlib.AbstractContextManager:
    use = device.type == "cuda" if amp == "auto" else bool(amp)
    return torch.autocast(device.type, dtype=torch.bfloat16) if use else contextlib.nullcontext()


@torch.no_grad()
def predict(model, session: Session, split: str, device, amp, batch_size: int) -> np.ndarray:
    """(n_stimuli, n_bins, n_neurons) predictions for one split."""
    model.eval()
    ds = session.splits[split]
    bm = None if session.bin_matrix is None else session.bin_matrix.to(device)
    out = []
    for batch in torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate):
        with autocast(device, amp):
            out.append(model(batch.stimuli.to(device), session.id, bin_matrix=bm).float().cpu())
    return torch.cat(out).numpy()


def validation_score(model, sessions, device, amp, batch_size, silent: list | None = None) -> float:
    """Mean per-neuron Pearson r on the validation splits of all sessions; appends the fraction
    of neurons whose prediction is constant (silent) to ``silent`` when given."""
    rs, flags = [], []
    for s in sessions:
        pred = predict(model, s, "validation", device, amp, batch_size)
        rs.append(pearson_per_neuron(pred, s.splits["validation"].responses.numpy()))
        flags.append(prediction_flags(pred)["silent"])
    if silent is not None:
        silent.append(float(np.concatenate(flags).mean()))
    r = np.concatenate(rs)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("-inf")


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def run(cfg: DictConfig, run_dir: str | Path, model_label: str | None = None,
        on_start: Callable[[], None] | None = None) -> dict:
    """Train one model as configured; returns the metrics written to ``metrics.json``.

    ``model_label`` names the model in the outputs (the config choice, e.g.
    ``sew_resnet_tiny``); by default the encoder's registry name. ``on_start`` is called
    once the run dir is locked and every input has been checked, before the run writes
    anything there (the CLI records the config then): a refused or failed start leaves
    an existing run dir byte-identical.
    """
    t_start = time.time()
    check_values(cfg)
    check_targets(cfg, ("model", "readout", "optimizer", "scheduler", "loss"))
    dist = Dist.from_env()
    device = resolve_device(cfg.trainer.device, dist)
    if device.type == "cuda":
        torch.cuda.set_device(device)      # before any NCCL collective
    own_group = dist.world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run_dir = _agree_run_dir(Path(run_dir), dist)
        with RunDirLock(run_dir) if dist.main else contextlib.nullcontext():
            return _run_locked(cfg, run_dir, dist, device, model_label, on_start, t_start)
    finally:
        if own_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _load_checkpoint(path: Path) -> dict:
    try:
        return checkpoint.load(path)
    except Exception as err:   # truncated or not a torch file: torch raises several kinds
        raise UserError("checkpoint", f"cannot be read ({' '.join(str(err).split())[:120]}); it is truncated "
                        "or corrupt: delete it, or rerun without trainer.resume to start over", path) from None


def _run_locked(cfg, run_dir: Path, dist: Dist, device, model_label, on_start, t_start: float) -> dict:
    tcfg = cfg.trainer
    chash = config_hash(cfg)
    metrics_path = run_dir / "metrics.json"
    done = read_finished(metrics_path) if tcfg.skip_finished else None
    if done is not None and done.get("run", {}).get("config_hash") == chash:
        if dist.main:
            print(f"snnvis: {run_dir} already finished with this config (hash {chash}); skipping")
        return done

    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg.threads))
    seed_everything(cfg.seed)
    loss_fn = build(cfg.loss, "loss") if cfg.get("loss") is not None else get_loss(tcfg.loss)
    sessions = load_sessions(cfg.data)
    try:
        model = build_model(cfg.model, cfg.readout, {s.id: s.splits["train"].n_neurons for s in sessions})
    except ValueError as err:   # a bad value in the model or readout config
        raise UserError("model config", str(err)) from None
    except InstantiationException as err:   # a _target_ that does not exist, or a bad value behind it
        raise instantiation_error(err, {"model": cfg.model, "readout": cfg.readout}, "model config") from None
    for s in sessions:
        s.bin_matrix = bin_matrix_for(s, model.core, cfg.data.target, cfg.data.get("latency_ms", 0.0))
    n_params = count_params(model.core)
    initial_core = copy.deepcopy(model.core) if cfg.get("baseline") and cfg.data.target == "rate" else None
    model.to(device)
    set_backend_for(model, device, tcfg.neuron_backend)
    if tcfg.channels_last is True or (tcfg.channels_last == "auto" and device.type == "cuda"):
        model.to(memory_format=torch.channels_last)
    train_model = model
    if tcfg.compile:
        model.core = torch.compile(model.core)
    if dist.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)

    opt = build(cfg.optimizer, "optimizer", model.parameters())
    scheduler = build(cfg.scheduler, "scheduler", opt) if cfg.get("scheduler") is not None else None
    cycler = SessionCycler({s.id: _shard(s.splits["train"], dist, cfg.seed) for s in sessions},
                           batch_size=cfg.data.batch_size, seed=cfg.seed)
    bms = {s.id: None if s.bin_matrix is None else s.bin_matrix.to(device) for s in sessions}

    ckpt_dir = run_dir / "checkpoints"
    state = {"epoch": 0, "best_score": float("-inf"), "best_epoch": -1, "bad_epochs": 0, "log": []}
    last = ckpt_dir / "last.pt"
    resumed = tcfg.resume and last.is_file()
    if resumed:
        ck = _load_checkpoint(last)
        if ck.get("config_hash") != chash:
            raise UserError("trainer.resume", "the checkpoint was written by a different config", last)
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(ck["scheduler"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise UserError("checkpoint", f"does not fit this model ({str(err).splitlines()[0][:120]})",
                            last) from None
        state = ck["state"]
        checkpoint.set_rng_state(ck["rng"])
    if dist.main:
        # every input is checked: from here on the run writes into its dir
        if resumed:
            print(f"snnvis: resuming {run_dir} after epoch {state['epoch']}")
        elif "checkpoints" in clear_previous(run_dir):
            print(f"snnvis: {run_dir} had checkpoints; starting over (pass trainer.resume=true to continue)")
        if on_start is not None:
            on_start()
    record = {"config": OmegaConf.to_container(cfg, resolve=True), "model_label": model_label or cfg.model.name,
              "config_hash": chash}
    _train_epochs(cfg, run_dir, dist, device, model, train_model, (opt, scheduler), cycler, bms, sessions, loss_fn,
                  state, record)
    if dist.world > 1:
        torch.distributed.barrier()
    if not dist.main:
        return {}

    best = _load_checkpoint(ckpt_dir / "best.pt")
    model.load_state_dict(best["model"])
    preds = {s.id: predict(model, s, "test", device, tcfg.amp, cfg.data.batch_size) for s in sessions}
    test = test_report(preds, sessions, run_dir, cfg.seed)
    baselines = {}
    if initial_core is not None:
        baselines["baseline"] = random_core_baseline(initial_core, sessions, device, cfg.data.batch_size, cfg.seed)
    baselines.update(lookup_baselines(sessions, cfg.seed))
    metrics = run_metrics(cfg, test, baselines, best, state, sessions, dist, device, chash,
                          model_label or cfg.model.name, n_params, count_params(model), time.time() - t_start)
    write_json(metrics_path, metrics)
    return metrics


def _train_epochs(cfg, run_dir, dist, device, model, train_model, optimizers, cycler, bms, sessions, loss_fn, state,
                  record) -> None:
    """Epochs until ``max_epochs`` or early stopping; checkpoints and log.csv after each one."""
    opt, scheduler = optimizers
    tcfg = cfg.trainer
    ckpt_dir = run_dir / "checkpoints"
    writer = None
    if tcfg.tensorboard and dist.main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run_dir / "tensorboard"))
    show_bar = dist.main and (tcfg.progress is True or (tcfg.progress == "auto" and sys.stderr.isatty()))
    label = f"[{record['model_label']} spiking={cfg.model.spiking}]"
    while state["epoch"] < tcfg.max_epochs and state["bad_epochs"] < tcfg.patience:
        epoch = state["epoch"]
        train_model.train()
        cycler.set_epoch(epoch)
        t0, total, n_images = time.time(), 0.0, 0
        bar = tqdm(cycler, desc=f"epoch {epoch + 1}/{tcfg.max_epochs}", disable=not show_bar, leave=False)
        for batch in bar:
            batch = batch.to(device)
            loss_value = train_step(train_model, model, opt, batch, bms[batch.session], loss_fn, tcfg, device)
            if not math.isfinite(loss_value):
                kept = f"checkpoints/last.pt holds epoch {epoch}" if epoch else "no checkpoint was written"
                raise UserError("training", f"the loss became {loss_value} in epoch {epoch + 1}, so training "
                                f"stopped; {kept} (try a lower trainer.lr)", run_dir)
            total += loss_value * len(batch.stimuli)
            n_images += len(batch.stimuli)
            bar.set_postfix(loss=f"{loss_value:.4f}")
        train_s = time.time() - t0
        if scheduler is not None:
            scheduler.step()
        if dist.world > 1:
            _rank0_buffers(model)
        silent_out: list[float] = []
        score = validation_score(model, sessions, device, tcfg.amp, cfg.data.batch_size, silent=silent_out)
        silent = silent_out[0]
        if dist.world > 1:
            score = _rank0_score(score, device)
        improved = score > state["best_score"] or state["best_epoch"] < 0
        state.update(epoch=epoch + 1, bad_epochs=0 if improved else state["bad_epochs"] + 1)
        if improved:
            state.update(best_score=score, best_epoch=epoch + 1)
        row = {"epoch": epoch + 1, "train_loss": total / max(n_images, 1), "val_pearson_r_mean": score,
               "val_silent_fraction": silent, "images_per_s": n_images * dist.world / train_s,
               "epoch_s": time.time() - t0}
        state["log"].append(row)
        if not dist.main:
            continue
        if improved:
            checkpoint.save(ckpt_dir / "best.pt", model=model.state_dict(), epoch=epoch + 1, score=score, **record)
        checkpoint.save(ckpt_dir / "last.pt", model=model.state_dict(), optimizer=opt.state_dict(), state=state,
                        rng=checkpoint.rng_state(), **record,
                        **({} if scheduler is None else {"scheduler": scheduler.state_dict()}))
        write_log(run_dir / "log.csv", state["log"])
        if writer:
            for k, v in row.items():
                if k != "epoch":
                    writer.add_scalar(k, v, epoch + 1)
        if silent > 0 and not any(r.get("val_silent_fraction", 0) > 0 for r in state["log"][:-1]):
            log.warning("%s epoch %d: %.0f%% of the neurons get a constant prediction (silent; they score r = 0)",
                        label, epoch + 1, 100 * silent)
        if not show_bar:
            print(f"{label} epoch {epoch + 1:3d}  loss {row['train_loss']:.4f}  val r {score:.3f}"
                  f"{f'  silent {silent:.0%}' if silent > 0 else ''}{'  *' if improved else ''}", flush=True)
    if writer:
        writer.close()

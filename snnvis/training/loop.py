"""The training loop: shared core + per-session readouts, early stopping, exact resume, DDP."""
from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from snnvis.errors import UserError
from snnvis.models import build_model, count_params
from snnvis.models.neurons import set_backend_for
from snnvis.models.readouts import time_bin_matrix
from snnvis.recordings.dataset import RecordingDataset, SessionCycler, collate
from snnvis.recordings.recording import Recording
from snnvis.training import checkpoint
from snnvis.training.baseline import random_core_baseline
from snnvis.training.losses import get_loss
from snnvis.training.metrics import group_summaries, neuron_metrics, pearson_per_neuron
from snnvis.utils import atomic_path, seed_everything

# Keys that change how a run executes but not what it computes.
_NOT_HASHED = ("trainer.resume", "trainer.device", "trainer.progress", "trainer.skip_finished")


# ---------------------------------------------------------------------------------------
# Set-up helpers
# ---------------------------------------------------------------------------------------

@dataclass
class Dist:
    """torchrun's environment; world = 1 outside torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Dist":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


def config_hash(cfg: DictConfig) -> str:
    """sha1 of the resolved config, without the keys that do not change the result."""
    c = OmegaConf.to_container(cfg, resolve=True)
    for dotted in _NOT_HASHED:
        *parents, leaf = dotted.split(".")
        node = c
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return hashlib.sha1(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resolve_device(name: str, dist: Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("trainer.device", f"{name!r} requested but CUDA is not available")
        if dist.world > 1:
            name = f"cuda:{dist.local_rank}"
        elif name == "cuda":   # an explicit index: torch.cuda.set_device rejects a bare "cuda"
            name = f"cuda:{torch.cuda.current_device()}"
    return torch.device(name)


@dataclass
class Session:
    id: str
    recording: Recording
    splits: dict[str, RecordingDataset]
    bin_matrix: torch.Tensor | None   # (n_bins, n_steps) or None for static rates


def _agree_run_dir(run_dir: Path, dist: Dist) -> Path:
    """Rank 0's run dir on every rank.

    Under torchrun every rank composes its own config, so a run dir with a timestamp
    (the default ``outputs/<name>/<now>``) can differ between ranks; they must all read
    rank 0's checkpoints and ``metrics.json``.
    """
    if dist.world == 1:
        return run_dir
    obj = [str(run_dir)]
    torch.distributed.broadcast_object_list(obj, src=0)
    return Path(obj[0])


def _rank0_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics).

    DDP keeps the parameters in sync, but each rank updates its BatchNorm statistics from
    its own last batch; rank 0's model is the one that is checkpointed and tested.
    """
    for b in model.buffers():
        torch.distributed.broadcast(b.data, src=0)


def _rank0_score(score: float, device: torch.device) -> float:
    """Rank 0's validation score on every rank: all ranks must take rank 0's early-stopping
    decision, or they train for different numbers of epochs and deadlock."""
    t = torch.tensor([score], dtype=torch.float64, device=device)
    torch.distributed.broadcast(t, src=0)
    return float(t.item())


def train_step(train_model, model, opt, batch, bin_matrix, loss_fn, tcfg, device) -> float:
    """One optimisation step on one batch; returns the (unregularised) loss."""
    with autocast(device, tcfg.amp):
        pred = train_model(batch.stimuli, batch.session, bin_matrix=bin_matrix)
        loss = loss_fn(pred.float(), batch.responses)
        reg = model.readouts[batch.session].regularizer() if tcfg.readout_l1 else 0.0
        total_loss = loss + tcfg.readout_l1 * reg
    opt.zero_grad(set_to_none=True)
    total_loss.backward()
    if tcfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
    opt.step()
    return loss.item()


def _shard(ds: RecordingDataset, dist: Dist, seed: int) -> torch.utils.data.Dataset:
    """Each rank's equal-sized share of a training set (wrapped so all ranks take equal steps)."""
    if dist.world == 1:
        return ds
    per_rank = -(-len(ds) // dist.world)
    order = np.random.default_rng(seed).permutation(len(ds))
    order = np.resize(order, per_rank * dist.world)
    sub = torch.utils.data.Subset(ds, order[dist.rank::dist.world].tolist())
    sub.session = ds.session
    return sub


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


def validation_score(model, sessions, device, amp, batch_size) -> float:
    """Mean per-neuron Pearson r on the validation splits of all sessions."""
    rs = [pearson_per_neuron(predict(model, s, "validation", device, amp, batch_size),
                             s.splits["validation"].responses.numpy()) for s in sessions]
    r = np.concatenate(rs)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("-inf")


# ---------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------

def write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")


def write_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def test_report(model, sessions, device, amp, batch_size, run_dir: Path, seed: int) -> dict:
    """Score the test splits; write per-neuron values to predictions.h5 and return summaries."""
    per_neuron, areas, ids = [], [], []
    with atomic_path(run_dir / "predictions.h5") as tmp, h5py.File(tmp, "w") as f:
        for s in sessions:
            ds = s.splits["test"]
            pred = predict(model, s, "test", device, amp, batch_size)
            trials = None if ds.trials is None else ds.trials.numpy()
            m = neuron_metrics(pred, ds.responses.numpy(), trials, seed=seed)
            g = f.create_group(s.id)
            g.create_dataset("stimulus_index", data=ds.indices)
            g.create_dataset("prediction", data=pred)
            g.create_dataset("response", data=ds.responses.numpy())
            g.create_dataset("neuron_ids", data=s.recording.neuron_ids.astype(object), dtype=h5py.string_dtype())
            g.create_dataset("areas", data=s.recording.neuron_areas.astype(object), dtype=h5py.string_dtype())
            for k, v in m.items():
                g.create_dataset(f"metrics/{k}", data=v)
            g.attrs.update({"recording": str(s.recording.path), "response_set": ds.response_info.name})
            per_neuron.append(m)
            areas.append(s.recording.neuron_areas)
            ids.append(np.full(ds.n_neurons, s.id))
    keys = sorted({k for m in per_neuron for k in m})
    merged = {k: np.concatenate([m.get(k, np.full(len(m["pearson_r"]), np.nan)) for m in per_neuron])
              for k in keys}
    return group_summaries(merged, np.concatenate(areas), np.concatenate(ids), seed=seed)


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def run(cfg: DictConfig, run_dir: str | Path, model_label: str | None = None) -> dict:
    """Train one model as configured; returns the metrics written to ``metrics.json``.

    ``model_label`` names the model in the outputs (the config choice, e.g.
    ``sew_resnet_tiny``); by default the encoder's registry name.
    """
    t_start = time.time()
    dist = Dist.from_env()
    tcfg = cfg.trainer
    device = resolve_device(tcfg.device, dist)
    if device.type == "cuda":
        torch.cuda.set_device(device)      # before any NCCL collective
    own_group = dist.world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    run_dir = _agree_run_dir(Path(run_dir), dist)
    chash = config_hash(cfg)
    metrics_path = run_dir / "metrics.json"
    if tcfg.skip_finished and metrics_path.is_file():
        done = json.loads(metrics_path.read_text())
        if done.get("run", {}).get("config_hash") == chash:
            if dist.main:
                print(f"snnvis: {run_dir} already finished with this config (hash {chash}); skipping")
            if own_group:
                torch.distributed.destroy_process_group()
            return done

    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg.threads))
    seed_everything(cfg.seed)
    try:
        loss_fn = get_loss(tcfg.loss)
    except ValueError as err:
        raise UserError("trainer.loss", str(err)) from None
    sessions = load_sessions(cfg.data)
    try:
        model = build_model(cfg.model, cfg.readout, {s.id: s.splits["train"].n_neurons for s in sessions})
    except ValueError as err:   # a bad value in the model or readout config
        raise UserError("model config", str(err)) from None
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

    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    cycler = SessionCycler({s.id: _shard(s.splits["train"], dist, cfg.seed) for s in sessions},
                           batch_size=cfg.data.batch_size, seed=cfg.seed)
    bms = {s.id: None if s.bin_matrix is None else s.bin_matrix.to(device) for s in sessions}

    ckpt_dir = run_dir / "checkpoints"
    state = {"epoch": 0, "best_score": float("-inf"), "best_epoch": -1, "bad_epochs": 0, "log": []}
    last = ckpt_dir / "last.pt"
    if tcfg.resume and last.is_file():
        ck = checkpoint.load(last)
        if ck["config_hash"] != chash:
            raise UserError("trainer.resume", "the checkpoint was written by a different config", last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        checkpoint.set_rng_state(ck["rng"])
        if dist.main:
            print(f"snnvis: resuming {run_dir} after epoch {state['epoch']}")
    elif dist.main and run_dir.exists() and (ckpt_dir / "last.pt").is_file():
        print(f"snnvis: {run_dir} has checkpoints; starting over (pass trainer.resume=true to continue)")

    writer = None
    if tcfg.tensorboard and dist.main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run_dir / "tensorboard"))
    show_bar = dist.main and (tcfg.progress is True or (tcfg.progress == "auto" and sys.stderr.isatty()))

    while state["epoch"] < tcfg.max_epochs and state["bad_epochs"] < tcfg.patience:
        epoch = state["epoch"]
        train_model.train()
        cycler.set_epoch(epoch)
        t0, total, n_images = time.time(), 0.0, 0
        bar = tqdm(cycler, desc=f"epoch {epoch + 1}/{tcfg.max_epochs}", disable=not show_bar, leave=False)
        for batch in bar:
            batch = batch.to(device)
            loss_value = train_step(train_model, model, opt, batch, bms[batch.session], loss_fn, tcfg, device)
            total += loss_value * len(batch.stimuli)
            n_images += len(batch.stimuli)
            bar.set_postfix(loss=f"{loss_value:.4f}")
        train_s = time.time() - t0
        if dist.world > 1:
            _rank0_buffers(model)
        score = validation_score(model, sessions, device, tcfg.amp, cfg.data.batch_size)
        if dist.world > 1:
            score = _rank0_score(score, device)
        improved = score > state["best_score"] or state["best_epoch"] < 0
        state.update(epoch=epoch + 1, bad_epochs=0 if improved else state["bad_epochs"] + 1)
        if improved:
            state.update(best_score=score, best_epoch=epoch + 1)
        row = {"epoch": epoch + 1, "train_loss": total / max(n_images, 1), "val_pearson_r_mean": score,
               "images_per_s": n_images * dist.world / train_s, "epoch_s": time.time() - t0}
        state["log"].append(row)
        if dist.main:
            if improved:
                checkpoint.save(ckpt_dir / "best.pt", model=model.state_dict(), epoch=epoch + 1, score=score)
            checkpoint.save(last, model=model.state_dict(), optimizer=opt.state_dict(), state=state,
                            rng=checkpoint.rng_state(), config_hash=chash)
            write_log(run_dir / "log.csv", state["log"])
            if writer:
                for k, v in row.items():
                    if k != "epoch":
                        writer.add_scalar(k, v, epoch + 1)
            if not show_bar:
                print(f"[{model_label or cfg.model.name} spiking={cfg.model.spiking}] epoch {epoch + 1:3d}  loss {row['train_loss']:.4f}  val r {score:.3f}"
                      f"{'  *' if improved else ''}", flush=True)
    if writer:
        writer.close()
    if dist.world > 1:
        torch.distributed.barrier()
        if own_group:
            torch.distributed.destroy_process_group()
    if not dist.main:
        return {}

    best = checkpoint.load(ckpt_dir / "best.pt")
    model.load_state_dict(best["model"])
    test = test_report(model, sessions, device, tcfg.amp, cfg.data.batch_size, run_dir, cfg.seed)
    metrics = {
        "test": test,
        **({"baseline": random_core_baseline(initial_core, sessions, device, cfg.data.batch_size, cfg.seed)}
           if initial_core is not None else {}),
        "validation": {"best_epoch": best["epoch"], "pearson_r_mean": best["score"],
                       "epochs_trained": state["epoch"]},
        "model": {"name": model_label or cfg.model.name, "encoder": cfg.model.name, "spiking": bool(cfg.model.spiking), "n_params": int(n_params),
                  "n_params_with_readouts": int(count_params(model))},
        "data": {"sessions": {s.id: {"recording": str(s.recording.path), "response_set":
                                     s.splits["train"].response_info.name,
                                     "n_neurons": s.splits["train"].n_neurons,
                                     **{f"n_{k}": len(v) for k, v in s.splits.items()}} for s in sessions},
                 "n_stimuli": int(sum(len(v) for s in sessions for v in s.splits.values())),
                 "target": cfg.data.target},
        "run": {"seed": int(cfg.seed), "device": str(device), "device_name": torch.cuda.get_device_name(device)
                if device.type == "cuda" else "cpu", "world_size": dist.world, "wall_s": time.time() - t_start,
                "config_hash": chash, "torch": torch.__version__},
    }
    write_json(metrics_path, metrics)
    return metrics

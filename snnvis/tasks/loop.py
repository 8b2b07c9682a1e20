"""A task-pretraining run: an encoder core plus a classification head trained on an ImageFolder
or clip dataset, with the run-dir lock, skip-finished, exact resume, AMP, TensorBoard and DDP
of ``snnvis-train`` (the same modules do those jobs here).

Outputs in the run dir: ``checkpoints/{best,last}.pt`` (``model``: the classifier's state dict,
whose encoder entries start with ``core.`` as in a ``snnvis-train`` model; ``config``,
``config_hash``, ``kind: "pretrain"``, ``classes``), ``log.csv``, ``tensorboard/`` and
``metrics.json`` with ``val.top1``/``val.top5`` (fractions, at the best epoch) and ``history``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from snnvis.config import build, check_targets
from snnvis.errors import UserError
from snnvis.models import count_params
from snnvis.outputs import METRICS_FILE, write_metrics
from snnvis.tasks.augment import Augment
from snnvis.tasks.datasets import Split, TaskDataset, discover, listing_hash
from snnvis.tasks.epochs import EpochOrder, Learner, calibrate, evaluate, loader, train_epoch
from snnvis.tasks.heads import build_classifier
from snnvis.tasks.schema import check_task_values
from snnvis.training import checkpoint
from snnvis.training.distributed import Dist, agree_run_dir, rank0_buffers, resolve_device
from snnvis.training.early_stopping import EarlyStopping
from snnvis.training.identity import EXTENDS, config_hash, extension_note
from snnvis.training.results import write_log
from snnvis.training.rundir import RunDirLock, announce_start, read_finished, register_resolvers
from snnvis.training.setup import optimizer_for, place
from snnvis.utils import PRINTED, say, seed_everything

log = logging.getLogger(__name__)
register_resolvers()
KIND = "pretrain"


def task_hash(cfg: DictConfig, splits: dict[str, Split], leave_out: tuple[str, ...] = ()) -> str:
    """The run's identity: the config hash (without ``data.num_workers``, which changes nothing
    computed, and ``leave_out``) and the dataset's file listing."""
    text = f"{config_hash(cfg, ('data.num_workers', *leave_out))}:{listing_hash(splits)}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run(
    cfg: DictConfig, run_dir: str | Path, model_label: str | None = None, on_start: Callable[[], None] | None = None
) -> dict:
    """Pretrain one encoder as configured; returns the metrics written to ``metrics.json``.
    ``model_label`` and ``on_start`` as in :func:`snnvis.training.loop.run`."""
    t_start = time.time()
    check_task_values(cfg)
    if cfg.bn_calibration_batches < 0:
        raise UserError("bn_calibration_batches", f"must be >= 0, got {cfg.bn_calibration_batches!r}")
    for key, off in (("ensemble", 1), ("freeze_core", False)):  # snnvis-train's; pretraining trains one whole model
        if cfg.trainer.get(key, off) != off:
            raise UserError(f"trainer.{key}", f"is not used by snnvis-pretrain; leave it at {str(off).lower()}")
    check_targets(cfg, ("model", "head", "optimizer", "scheduler", "loss"))
    dist = Dist.from_env()
    device = resolve_device(cfg.trainer.device, dist)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    own_group = dist.world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run_dir = agree_run_dir(Path(run_dir), dist)
        with RunDirLock(run_dir) if dist.main else contextlib.nullcontext():
            return _run_locked(cfg, run_dir, dist, device, model_label or cfg.model.name, on_start, t_start)
    finally:
        if own_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _datasets(cfg: DictConfig, splits: dict[str, Split]) -> dict[str, TaskDataset]:
    d = cfg.data
    out = {}
    for name, split in splits.items():
        aug = Augment(d.size, name == "train", tuple(d.scale), tuple(d.ratio), d.flip, d.crop_fraction)
        out[name] = TaskDataset(split, d.kind, aug, cfg.seed, d.clip_len, d.frame_stride)
    return out


def _run_locked(cfg, run_dir: Path, dist: Dist, device, label: str, on_start, t_start: float) -> dict:
    tcfg = cfg.trainer
    splits = discover(cfg.data.root, cfg.data.kind)
    chash = task_hash(cfg, splits)
    done = read_finished(run_dir / METRICS_FILE) if tcfg.skip_finished else None
    if done is not None and done.get("run", {}).get("config_hash") == chash:
        if dist.main:
            print(f"snnvis: {run_dir} already finished with this config (hash {chash}); skipping")
        return done
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg.threads))
    seed_everything(cfg.seed)
    classes = splits["train"].classes
    model = build_classifier(cfg, len(classes))
    loss_fn = build(cfg.loss, "loss")
    n_params = count_params(model.core)
    place(model, device, None, tcfg.channels_last, tcfg.compile)
    train_model = (
        model
        if dist.world == 1
        else torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True
        )
    )
    opt, scheduler = optimizer_for(cfg, model)
    data = _datasets(cfg, splits)
    orders = {name: EpochOrder(len(ds), dist, cfg.seed, shuffle=name == "train") for name, ds in data.items()}
    loaders = {n: loader(ds, orders[n], cfg.data.batch_size, cfg.data.num_workers, device) for n, ds in data.items()}
    last = run_dir / "checkpoints" / "last.pt"
    resumed = tcfg.resume and last.is_file()
    resolved, rhash = OmegaConf.to_container(cfg, resolve=True), task_hash(cfg, splits, EXTENDS)
    state, before = checkpoint.resume(last, rhash, model, opt, scheduler, resolved) if resumed else (None, {})
    stopper = EarlyStopping(tcfg.max_epochs, tcfg.patience, state)
    if dist.main:  # every input is checked: from here on the run writes into its dir
        announce_start(run_dir, resumed, stopper.epoch, on_start, extension_note(before, resolved) if resumed else "")
    record = {
        "config": resolved,
        "model_label": label,
        "config_hash": chash,
        "resume_hash": rhash,
        "kind": KIND,
        "classes": list(classes),
    }
    lrn = Learner(model, train_model, opt, scheduler, loss_fn, device, dist)
    _epochs(cfg, run_dir, lrn, loaders, orders, data, stopper, record, len(classes))
    if dist.world > 1:
        torch.distributed.barrier()
    if not dist.main:
        return {}
    metrics = _metrics(cfg, splits, stopper.state, dist, device, chash, label, n_params, count_params(model))
    metrics["run"]["wall_s"] = time.time() - t_start
    written = write_metrics(run_dir / METRICS_FILE, metrics)
    v = written["val"]
    say(log, f"{label} (spiking={cfg.model.spiking}): val top-1 {v['top1']:.3f}, top-{v['top5_k']} {v['top5']:.3f}")
    say(log, f"snnvis: run dir {run_dir}")
    return written


def _epochs(cfg, run_dir: Path, lrn: Learner, loaders, orders, data, stopper, record, n_classes: int) -> None:
    tcfg, dist = cfg.trainer, lrn.dist
    writer = None
    if tcfg.tensorboard and dist.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"))
    show_bar = dist.main and (tcfg.progress is True or (tcfg.progress == "auto" and sys.stderr.isatty()))
    label = f"[{record['model_label']} spiking={cfg.model.spiking}]"
    while stopper.running:
        epoch = stopper.epoch
        for name in data:
            orders[name].set_epoch(epoch)
            data[name].set_epoch(epoch)
        t0 = time.time()
        row = {"epoch": epoch + 1, **train_epoch(lrn, loaders["train"], tcfg, epoch, run_dir, show_bar)}
        train_s = time.time() - t0
        calibrate(lrn, loaders["train"], tcfg.amp, cfg.bn_calibration_batches)
        if dist.world > 1:
            rank0_buffers(lrn.model)
        row.update(evaluate(lrn, loaders["val"], tcfg.amp, n_classes))
        row.update(images_per_s=row.pop("n_train") / max(train_s, 1e-9), epoch_s=time.time() - t0)
        improved = stopper.update(row["val_top1"], row)
        if not dist.main:
            continue
        _save(run_dir / "checkpoints", lrn, stopper.state, record, epoch + 1, row, improved)
        write_log(run_dir / "log.csv", stopper.state["log"])
        if writer:
            for k, v in row.items():
                if k != "epoch":
                    writer.add_scalar(k, v, epoch + 1)
        line = (
            f"{label} epoch {epoch + 1}/{tcfg.max_epochs}  loss {row['train_loss']:.4f}  "
            f"train acc {row['train_acc']:.3f}  val top1 {row['val_top1']:.3f}  "
            f"top5 {row['val_top5']:.3f}  {row['epoch_s']:.1f}s{'  *' if improved else ''}"
        )
        if show_bar:
            log.info(line, extra={PRINTED: True})
        else:
            say(log, line)
    if writer:
        writer.close()


def _save(ckpt_dir: Path, lrn: Learner, state: dict, record: dict, epoch: int, row: dict, improved: bool) -> None:
    if improved:
        checkpoint.save(
            ckpt_dir / "best.pt", model=lrn.model.state_dict(), epoch=epoch, score=row["val_top1"], **record
        )
    extra = {} if lrn.scheduler is None else {"scheduler": lrn.scheduler.state_dict()}
    checkpoint.save(
        ckpt_dir / "last.pt",
        model=lrn.model.state_dict(),
        optimizer=lrn.opt.state_dict(),
        state=state,
        rng=checkpoint.rng_state(),
        epoch=epoch,
        **record,
        **extra,
    )


def _metrics(cfg, splits, state: dict, dist, device, chash, label, n_params, n_params_all) -> dict:
    rows = state["log"]
    best = rows[state["best_epoch"] - 1]
    n_classes = len(splits["train"].classes)
    return {
        "val": {
            "top1": best["val_top1"],
            "top5": best["val_top5"],
            "top5_k": min(5, n_classes),
            "loss": best["val_loss"],
            "best_epoch": state["best_epoch"],
            "epochs_trained": state["epoch"],
            "final_top1": rows[-1]["val_top1"],
            "final_top5": rows[-1]["val_top5"],
        },
        "history": rows,
        "task": {
            "kind": cfg.data.kind,
            "root": str(cfg.data.root),
            "classes": list(splits["train"].classes),
            "n_classes": n_classes,
            "n_train": len(splits["train"]),
            "n_val": len(splits["val"]),
        },
        "model": {
            "name": label,
            "encoder": cfg.model.name,
            "spiking": bool(cfg.model.spiking),
            "n_params": int(n_params),
            "n_params_with_head": int(n_params_all),
        },
        "run": {
            "kind": KIND,
            "seed": int(cfg.seed),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "world_size": dist.world,
            "config_hash": chash,
            "torch": torch.__version__,
        },
    }

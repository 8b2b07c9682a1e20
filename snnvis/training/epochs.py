"""The epoch loop: train on every session's batches, score the validation split, checkpoint, log."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from snnvis.errors import UserError
from snnvis.progress import bar_options, job_prefix
from snnvis.training import checkpoint
from snnvis.training.distributed import Dist, _rank0_score, rank0_buffers
from snnvis.training.early_stopping import EarlyStopping
from snnvis.training.predict import autocast, validation_score
from snnvis.training.results import write_log
from snnvis.training.tracking import epoch_writer
from snnvis.utils import say

log = logging.getLogger(__name__)


@dataclass
class Trainee:
    """What the epoch loop trains: ``train_model`` is ``model`` or its DDP wrapper."""

    model: torch.nn.Module
    train_model: torch.nn.Module
    opt: torch.optim.Optimizer
    scheduler: object | None
    loss_fn: object
    cycler: object
    sessions: list
    bin_matrices: dict  # session id -> (n_bins, n_steps) on the device, or None
    device: torch.device
    dist: Dist


def train_step(train_model, model, opt, batch, bin_matrix, loss_fn, tcfg, device) -> float:
    """One optimisation step on one batch; returns the loss (with a PsthModel's shape term, without the
    readout's regulariser)."""
    with autocast(device, tcfg.amp):
        pred = train_model(batch.stimuli, batch.session, bin_matrix=bin_matrix)
        loss = loss_fn(pred.float(), batch.responses)
        if getattr(model, "shape_weight", 0.0):  # a PsthModel trained on the time course's shape too
            loss = loss + model.shape_penalty(pred.float(), batch.responses, batch.session)
        total_loss = loss + model.readouts[batch.session].regularizer()  # weighted by the readout's l1
    opt.zero_grad(set_to_none=True)
    total_loss.backward()
    if tcfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
    opt.step()
    return loss.item()


def _one_epoch(cfg, t: Trainee, epoch: int, bar: dict, run_dir: Path) -> tuple[float, int]:
    """Train one epoch (a tqdm bar with the ``bar`` options); returns (summed loss x images, images)."""
    tcfg = cfg.trainer
    t.train_model.train()
    t.cycler.set_epoch(epoch)
    total, n_images = 0.0, 0
    desc = f"{bar['prefix']} epoch {epoch + 1}/{tcfg.max_epochs}".lstrip()
    bar = tqdm(t.cycler, desc=desc, disable=bar["disable"], position=bar["position"], leave=False)
    for batch in bar:
        batch = batch.to(t.device)
        loss_value = train_step(
            t.train_model, t.model, t.opt, batch, t.bin_matrices[batch.session], t.loss_fn, tcfg, t.device
        )
        if not math.isfinite(loss_value):
            kept = f"checkpoints/last.pt holds epoch {epoch}" if epoch else "no checkpoint was written"
            raise UserError(
                "training",
                f"the loss became {loss_value} in epoch {epoch + 1}, so training "
                f"stopped; {kept} (try a lower trainer.lr)",
                run_dir,
            )
        total += loss_value * len(batch.stimuli)
        n_images += len(batch.stimuli)
        bar.set_postfix(loss=f"{loss_value:.4f}")
    if t.scheduler is not None:
        t.scheduler.step()
    return total, n_images


def train_epochs(cfg, run_dir: Path, t: Trainee, stopper: EarlyStopping, record: dict) -> None:
    """Epochs until ``max_epochs`` or early stopping; checkpoints and log.csv after each one."""
    tcfg, dist = cfg.trainer, t.dist
    ckpt_dir = run_dir / "checkpoints"
    writer = None
    if tcfg.tensorboard and dist.main:
        writer = epoch_writer(run_dir)
    what = f"{record['model_label']} spiking={cfg.model.spiking}"
    label = job_prefix(what) or f"[{what}]"
    bar = {**bar_options(tcfg.progress), "prefix": label}
    bar["disable"] = bar["disable"] or not dist.main
    while stopper.running:
        epoch = stopper.epoch
        t0 = time.time()
        total, n_images = _one_epoch(cfg, t, epoch, bar, run_dir)
        if cfg.data.target == "psth" and cfg.data.get("latency_search"):  # snnvis/training/psth.py
            from snnvis.training.psth import fit_latencies

            fit_latencies(t.model, t.sessions, t.device, cfg.data.batch_size, cfg.trainer.loss)
        train_s = time.time() - t0
        if dist.world > 1:
            rank0_buffers(t.model)
        silent_out: list[float] = []
        score = validation_score(t.model, t.sessions, t.device, tcfg.amp, cfg.data.batch_size, silent=silent_out)
        silent = silent_out[0]
        if dist.world > 1:
            score = _rank0_score(score, t.device)
        row = {
            "epoch": epoch + 1,
            "train_loss": total / max(n_images, 1),
            "val_pearson_r_mean": score,
            "val_silent_fraction": silent,
            "images_per_s": n_images * dist.world / train_s,
            "epoch_s": time.time() - t0,
        }
        improved = stopper.update(score, row)
        if not dist.main:
            continue
        _save(ckpt_dir, t, stopper.state, record, epoch + 1, score, improved)
        write_log(run_dir / "log.csv", stopper.state["log"])
        if writer:
            for k, v in row.items():
                if k != "epoch":
                    writer.add_scalar(k, v, epoch + 1)
        _log_epoch(label, row, improved, stopper.state["log"], tcfg.max_epochs)
    if writer:
        writer.close()


def _save(ckpt_dir: Path, t: Trainee, state: dict, record: dict, epoch: int, score: float, improved: bool) -> None:
    if improved:
        checkpoint.save(ckpt_dir / "best.pt", model=t.model.state_dict(), epoch=epoch, score=score, **record)
    extra = {} if t.scheduler is None else {"scheduler": t.scheduler.state_dict()}
    checkpoint.save(
        ckpt_dir / "last.pt",
        model=t.model.state_dict(),
        optimizer=t.opt.state_dict(),
        state=state,
        rng=checkpoint.rng_state(),
        **record,
        **extra,
    )


def _log_epoch(label: str, row: dict, improved: bool, rows: list[dict], max_epochs: int) -> None:
    """One line per epoch on stdout and in the run's log, terminal bar or not:
    ``[label] epoch   3/15  loss 0.1234  val r 0.456 *  4.2 s``."""
    epoch, silent = row["epoch"], row["val_silent_fraction"]
    if silent > 0 and not any(r.get("val_silent_fraction", 0) > 0 for r in rows[:-1]):
        log.warning(
            "%s epoch %d: %.0f%% of the neurons get a constant prediction (silent; they score r = 0)",
            label,
            epoch,
            100 * silent,
        )
    say(log, epoch_line(label, row, improved, max_epochs))


def epoch_line(label: str, row: dict, improved: bool, max_epochs: int) -> str:
    silent = row.get("val_silent_fraction", 0)
    return (
        f"{label} epoch {row['epoch']:3d}/{max_epochs}  loss {row['train_loss']:.4f}  "
        f"val r {row['val_pearson_r_mean']:.3f} {'*' if improved else ' '}  {row['epoch_s']:.1f} s"
        f"{f'  silent {silent:.0%}' if silent > 0 else ''}"
    )

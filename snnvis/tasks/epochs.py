"""The classification epoch: training steps, top-k evaluation, and each rank's share of a split."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from snnvis.errors import UserError
from snnvis.models import calibrate_batchnorm
from snnvis.training.distributed import Dist
from snnvis.training.predict import autocast

__all__ = ["EpochOrder", "Learner", "calibrate", "evaluate", "loader", "train_epoch"]


class EpochOrder(torch.utils.data.Sampler):
    """This rank's sample indices for one epoch (:meth:`set_epoch`).

    Training (``shuffle``): a permutation seeded by ``(seed, epoch)``, repeated to a multiple
    of the world size, so every rank takes the same number of steps. Validation: indices
    ``rank, rank + world, ...`` with no repeat, so counts summed over ranks cover each sample once.
    """

    def __init__(self, n: int, dist: Dist, seed: int, shuffle: bool) -> None:
        self.n, self.dist, self.seed, self.shuffle, self.epoch = n, dist, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _indices(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.dist.rank, self.n, self.dist.world)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        order = np.resize(order, -(-self.n // self.dist.world) * self.dist.world)
        return order[self.dist.rank :: self.dist.world]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self._indices())


def loader(dataset, order: EpochOrder, batch_size: int, num_workers: int, device: torch.device):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=order,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )


@dataclass
class Learner:
    """What an epoch trains: ``train_model`` is ``model`` or its DDP wrapper."""

    model: torch.nn.Module
    train_model: torch.nn.Module
    opt: torch.optim.Optimizer
    scheduler: object | None
    loss_fn: object
    device: torch.device
    dist: Dist


def _sum_over_ranks(values: list[float], device: torch.device, dist: Dist) -> list[float]:
    if dist.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()


def train_epoch(lrn: Learner, data, tcfg, epoch: int, run_dir: Path, show_bar: bool) -> dict:
    """One epoch over ``data`` (a loader); mean loss and accuracy over every rank's samples."""
    lrn.train_model.train()
    loss_sum, correct, n = 0.0, 0, 0
    bar = tqdm(data, desc=f"epoch {epoch + 1}/{tcfg.max_epochs}", disable=not show_bar, leave=False)
    for x, y in bar:
        x, y = x.to(lrn.device, non_blocking=True), y.to(lrn.device, non_blocking=True)
        with autocast(lrn.device, tcfg.amp):
            logits = lrn.train_model(x)
        loss = lrn.loss_fn(logits.float(), y)
        lrn.opt.zero_grad(set_to_none=True)
        loss.backward()
        if tcfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(lrn.model.parameters(), tcfg.grad_clip)
        lrn.opt.step()
        value = loss.item()
        if not math.isfinite(value):
            kept = f"checkpoints/last.pt holds epoch {epoch}" if epoch else "no checkpoint was written"
            raise UserError(
                "training",
                f"the loss became {value} in epoch {epoch + 1}, so training stopped; {kept} (try a lower trainer.lr)",
                run_dir,
            )
        loss_sum += value * len(y)
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
        bar.set_postfix(loss=f"{value:.4f}")
    if lrn.scheduler is not None:
        lrn.scheduler.step()
    loss_sum, correct, n = _sum_over_ranks([loss_sum, correct, n], lrn.device, lrn.dist)
    return {"train_loss": loss_sum / max(n, 1), "train_acc": correct / max(n, 1), "n_train": int(n)}


@torch.no_grad()
def calibrate(lrn: Learner, data, amp, n_batches: int) -> int:
    """Set the core's BatchNorm running statistics to their average over the first ``n_batches``
    training batches of this epoch (:func:`snnvis.models.calibrate_batchnorm`); returns the
    number of BatchNorm layers set. Running averages lag the weights by many steps, which
    silences an SNN in eval mode on a small dataset; the averaged statistics do not."""
    if n_batches < 1:
        return 0
    batches = (x.to(lrn.device, non_blocking=True) for _, (x, _) in zip(range(n_batches), data))
    with autocast(lrn.device, amp):
        return calibrate_batchnorm(lrn.model.core, batches, lrn.device)


@torch.no_grad()
def evaluate(lrn: Learner, data, amp, n_classes: int) -> dict:
    """Loss, top-1 and top-k (k = min(5, n_classes)) accuracy over the whole split (all ranks)."""
    lrn.model.eval()
    k = min(5, n_classes)
    loss_sum, top1, topk, n = 0.0, 0, 0, 0
    for x, y in data:
        x, y = x.to(lrn.device, non_blocking=True), y.to(lrn.device, non_blocking=True)
        with autocast(lrn.device, amp):
            logits = lrn.model(x).float()
        loss_sum += float(lrn.loss_fn(logits, y)) * len(y)
        best = logits.topk(k, dim=1).indices
        top1 += int((best[:, 0] == y).sum())
        topk += int((best == y[:, None]).any(dim=1).sum())
        n += len(y)
    loss_sum, top1, topk, n = _sum_over_ranks([loss_sum, top1, topk, n], lrn.device, lrn.dist)
    return {"val_loss": loss_sum / max(n, 1), "val_top1": top1 / max(n, 1), "val_top5": topk / max(n, 1)}

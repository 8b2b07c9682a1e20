"""torchrun/DDP helpers: the environment, rank 0's run dir, buffers and scores on every rank,
each rank's share of a training set, and the device each rank uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnvis.errors import UserError
from snnvis.recordings.dataset import RecordingDataset


@dataclass
class Dist:
    """torchrun's environment; world = 1 outside torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )

    @property
    def main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, dist: Dist) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("trainer.device", f"{name!r} requested but CUDA is not available")
        if dist.world > 1:
            name = f"cuda:{dist.local_rank}"
        elif name == "cuda":  # an explicit index: torch.cuda.set_device rejects a bare "cuda"
            name = f"cuda:{torch.cuda.current_device()}"
    return torch.device(name)


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


def _shard(ds: RecordingDataset, dist: Dist, seed: int) -> torch.utils.data.Dataset:
    """Each rank's equal-sized share of a training set (wrapped so all ranks take equal steps)."""
    if dist.world == 1:
        return ds
    per_rank = -(-len(ds) // dist.world)
    order = np.random.default_rng(seed).permutation(len(ds))
    order = np.resize(order, per_rank * dist.world)
    sub = torch.utils.data.Subset(ds, order[dist.rank :: dist.world].tolist())
    sub.session = ds.session
    return sub

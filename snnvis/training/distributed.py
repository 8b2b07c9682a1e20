"""torchrun/Slurm DDP helpers: the environment, rank 0's run dir, buffers and scores on every rank,
each rank's share of a training set, and the device each rank uses.

Under torchrun the ranks come from ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``. Without them, the
tasks of a Slurm job step (``srun``, or the submitit launcher with ``tasks_per_node``) are the
ranks: ``SLURM_PROCID`` -> rank, ``SLURM_NTASKS`` -> world size, ``SLURM_LOCALID`` -> local rank
(the GPU of the node), and the rendezvous is the job's first host (``MASTER_ADDR``, from
``scontrol show hostnames $SLURM_JOB_NODELIST`` or else the nodelist itself) on ``MASTER_PORT``
(default: a port derived from ``SLURM_JOB_ID``). Variables already set are kept.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnvis.errors import UserError
from snnvis.recordings.dataset import RecordingDataset

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
DEFAULT_PORT = 29500


def first_host(nodelist: str) -> str:
    """The first host of a Slurm nodelist: ``gpu[003-005,9],cpu1`` -> ``gpu003``."""
    head = re.match(r"([^,\[]*)(\[([^\]]*)\])?", nodelist.strip())
    prefix, ranges = head.group(1), head.group(3)
    if not prefix and not ranges:
        raise UserError("SLURM_JOB_NODELIST", f"no host in {nodelist!r}")
    return prefix + (ranges.split(",")[0].split("-")[0] if ranges else "")


def master_addr(nodelist: str) -> str:
    """The rendezvous host: ``scontrol show hostnames``' first line, else :func:`first_host`."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=10, check=True
        ).stdout.split()
        if out:
            return out[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return first_host(nodelist)


def slurm_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """torchrun's variables (plus ``MASTER_ADDR``/``MASTER_PORT``) for a task of a Slurm step of
    two or more tasks; empty when torchrun's are set or the process is no such task."""
    env = os.environ if env is None else env
    if any(k in env for k in TORCHRUN_VARS) or "SLURM_PROCID" not in env or int(env.get("SLURM_NTASKS", 1)) < 2:
        return {}
    out = {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": env["SLURM_NTASKS"],
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
    }
    if "MASTER_ADDR" not in env:
        nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
        out["MASTER_ADDR"] = master_addr(nodelist) if nodelist else "127.0.0.1"
    if "MASTER_PORT" not in env:
        job = env.get("SLURM_JOB_ID", "")
        out["MASTER_PORT"] = str(20000 + int(job) % 20000 if job.isdigit() else DEFAULT_PORT)
    return out


@dataclass
class Dist:
    """The ranks of a torchrun or Slurm DDP job; world = 1 outside them."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        """This process's ranks; a Slurm task's are exported as torchrun's variables first, so
        ``torch.distributed.init_process_group`` finds its rendezvous."""
        os.environ.update(slurm_env())
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
        if dist.world > 1:  # a Slurm task bound to its own GPU sees one device
            n = torch.cuda.device_count()
            name = f"cuda:{dist.local_rank % n if n else dist.local_rank}"
        elif name == "cuda":  # an explicit index: torch.cuda.set_device rejects a bare "cuda"
            name = f"cuda:{torch.cuda.current_device()}"
    return torch.device(name)


def agree_run_dir(run_dir: Path, dist: Dist) -> Path:
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


def rank0_buffers(model: torch.nn.Module) -> None:
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

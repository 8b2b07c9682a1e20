"""Slurm's environment -> torchrun's: the mapping, the rendezvous host, the launcher preset, and
two faked Slurm tasks that form a gloo process group on CPU (and, slow, train together)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from training_helpers import ROOT, TINY, VENV_BIN, compose_train, recordings_override

from snnvis.training.distributed import Dist, first_host, master_addr, slurm_env

SLURM = {
    "SLURM_PROCID": "5",
    "SLURM_NTASKS": "8",
    "SLURM_LOCALID": "1",
    "SLURM_JOB_NODELIST": "gpu[003-004,9]",
    "SLURM_JOB_ID": "123456",
}


def _no_scontrol(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol on PATH


@pytest.mark.parametrize(
    "nodelist, host",
    [("node01", "node01"), ("gpu[003-005,9],cpu1", "gpu003"), ("a-b[7]", "a-b7"), ("x,y[1-2]", "x")],
)
def test_first_host_of_a_nodelist(nodelist, host):
    assert first_host(nodelist) == host


def test_slurm_task_maps_to_torchrun_variables(monkeypatch, tmp_path):
    _no_scontrol(monkeypatch, tmp_path)
    env = slurm_env(dict(SLURM))
    assert env == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "gpu003",
        "MASTER_PORT": str(20000 + 123456 % 20000),
    }
    # set variables win; torchrun's environment is left alone; one task is no DDP job
    kept = slurm_env({**SLURM, "MASTER_ADDR": "head", "MASTER_PORT": "1234"})
    assert "MASTER_ADDR" not in kept and "MASTER_PORT" not in kept and kept["RANK"] == "5"
    assert slurm_env({**SLURM, "RANK": "0", "WORLD_SIZE": "2"}) == {}
    assert slurm_env({**SLURM, "SLURM_NTASKS": "1"}) == {}
    assert slurm_env({}) == {}
    old = {k: v for k, v in SLURM.items() if k != "SLURM_JOB_NODELIST"}
    assert slurm_env({**old, "SLURM_NODELIST": "n[2-3]"})["MASTER_ADDR"] == "n2"


def test_master_addr_asks_scontrol_first(monkeypatch, tmp_path):
    fake = tmp_path / "scontrol"
    fake.write_text('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && printf "head-a\\nhead-b\\n"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert master_addr("gpu[003-004]") == "head-a"
    fake.write_text("#!/bin/sh\nexit 1\n")  # a failing scontrol: the nodelist is parsed
    assert master_addr("gpu[003-004]") == "gpu003"


def test_dist_from_a_faked_slurm_task(monkeypatch, tmp_path):
    _no_scontrol(monkeypatch, tmp_path)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in SLURM.items():
        monkeypatch.setenv(k, v)
    assert Dist.from_env() == Dist(rank=5, world=8, local_rank=1)
    assert os.environ["MASTER_ADDR"] == "gpu003" and os.environ["RANK"] == "5"  # for init_process_group


def test_slurm_launcher_requests_one_task_per_gpu():
    from hydra.utils import instantiate

    cfg = compose_train(
        ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4", "hydra.launcher.nodes=2"], return_hydra_config=True
    )
    launcher = instantiate(cfg.hydra.launcher)
    assert {k: launcher.params[k] for k in ("nodes", "gpus_per_node", "tasks_per_node")} == {
        "nodes": 2,
        "gpus_per_node": 4,
        "tasks_per_node": 4,
    }
    assert launcher.params["cpus_per_task"] >= 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slurm_tasks(n: int, port: int, tmp_path) -> list[dict]:
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    base.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", PATH=f"{tmp_path}:{VENV_BIN}")
    base.update(SLURM_NTASKS=str(n), SLURM_JOB_NODELIST="localhost", MASTER_PORT=str(port))
    return [dict(base, SLURM_PROCID=str(r), SLURM_LOCALID=str(r)) for r in range(n)]


GROUP = """
import json, torch, torch.distributed as td
from snnvis.training.distributed import Dist
d = Dist.from_env()
td.init_process_group("gloo", timeout=__import__("datetime").timedelta(seconds=60))
t = torch.tensor([float(d.rank + 1)])
td.all_reduce(t)
print(json.dumps({"rank": d.rank, "world": d.world, "local": d.local_rank, "sum": t.item()}))
td.destroy_process_group()
"""


def test_two_faked_slurm_tasks_form_a_gloo_group(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", GROUP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for env in _slurm_tasks(2, _free_port(), tmp_path)
    ]
    outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-2000:] for o in outs]
    got = sorted((json.loads(o[0].decode().splitlines()[-1]) for o in outs), key=lambda r: r["rank"])
    assert got == [{"rank": r, "world": 2, "local": r, "sum": 3.0} for r in (0, 1)]


@pytest.mark.slow
def test_two_faked_slurm_tasks_train_one_model(tmp_path, tiny_recordings):
    run_dir = tmp_path / "run"
    args = [*TINY, recordings_override(tiny_recordings), "trainer.max_epochs=2", f"hydra.run.dir={run_dir}"]
    procs = [
        subprocess.Popen(
            [str(VENV_BIN / "snnvis-train"), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for env in _slurm_tasks(2, _free_port(), tmp_path)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-2000:] for o in outs]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["run"]["world_size"] == 2
    assert metrics["validation"]["epochs_trained"] == 2


def test_a_task_bound_to_one_gpu_uses_it(monkeypatch):
    import torch

    from snnvis.training.distributed import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # srun --gpus-per-task=1
    assert str(resolve_device("auto", Dist(rank=3, world=4, local_rank=3))) == "cuda:0"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)  # the node's GPUs, one per local rank
    assert str(resolve_device("auto", Dist(rank=7, world=8, local_rank=3))) == "cuda:3"

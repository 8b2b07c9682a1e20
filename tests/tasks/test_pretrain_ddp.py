"""snnvis-pretrain under torchrun: 2 CPU processes on gloo train one model in rank 0's run dir,
share each epoch's training samples between them and count every validation image once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from task_helpers import ROOT, TINY

from snnvis.training import checkpoint

PROBE = r"""
import json, os
from snnvis.tasks import epochs, loop

OUT, RANK = os.environ["SNNVIS_PROBE_DIR"], int(os.environ["RANK"])
_indices = epochs.EpochOrder._indices
def indices(self):
    idx = _indices(self)
    with open(os.path.join(OUT, f"rank{RANK}.jsonl"), "a") as f:
        f.write(json.dumps({"shuffle": self.shuffle, "epoch": self.epoch, "indices": idx.tolist()}) + "\n")
    return idx
epochs.EpochOrder._indices = indices

from snnvis.cli.pretrain import main
main()
"""


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path, digits_small):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    (tmp_path / "probe").mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", SNNVIS_PROBE_DIR=str(tmp_path / "probe"))
    cmd = [
        str(Path(sys.executable).parent / "torchrun"),
        "--standalone",
        "--nproc_per_node=2",
        str(probe),
        *TINY,
        f"data.root={digits_small}",
        "trainer.max_epochs=2",
        f"hydra.run.dir={tmp_path}/run_rank${{oc.env:RANK}}",  # differs per rank: rank 0's is used
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run_dir = tmp_path / "run_rank0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["run"]["world_size"] == 2 and metrics["val"]["epochs_trained"] == 2
    n_train, n_val = metrics["task"]["n_train"], metrics["task"]["n_val"]
    for row in metrics["history"]:  # fractions of the whole val split (9 images), not of a shard
        assert abs(row["val_top1"] * n_val - round(row["val_top1"] * n_val)) < 1e-9
    records = [
        [json.loads(x) for x in (tmp_path / "probe" / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)
    ]
    for shuffle, n in ((True, n_train), (False, n_val)):
        per_rank = [
            {tuple(x["indices"]) for x in rec if x["shuffle"] is shuffle and x["epoch"] == 0} for rec in records
        ]
        (a,), (b,) = per_rank
        assert set(a) | set(b) == set(range(n)) and len(a) + len(b) == (n + (n % 2 if shuffle else 0))
    assert not (tmp_path / "run_rank1" / "checkpoints").exists()
    best = checkpoint.load(run_dir / "checkpoints" / "best.pt")
    assert best["kind"] == "pretrain" and all(
        torch.isfinite(v).all() for v in best["model"].values() if v.is_floating_point()
    )

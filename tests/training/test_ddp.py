"""DDP with torchrun: 2 CPU processes on the gloo backend.

A probe wrapped around ``snnvis-train`` records, on every rank, the training shards it
got and a hash of the model (parameters and buffers) and the validation score at every
epoch. The ranks must hold the same model throughout, take the same early-stopping
decisions, split the training set between them, and only rank 0 writes outputs.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess

import numpy as np
from training_helpers import ROOT, TINY, VENV_BIN, recordings_override

PROBE = r"""
import hashlib, json, os, sys
import torch
from snnvis.training import epochs, loop

OUT = os.environ["SNNVIS_PROBE_DIR"]
RANK = int(os.environ["RANK"])

def _log(record):
    with open(os.path.join(OUT, f"rank{RANK}.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")

def _digest(tensors):
    h = hashlib.sha1()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

_shard = loop._shard
def shard(ds, dist, seed):
    sub = _shard(ds, dist, seed)
    idx = list(range(len(ds))) if sub is ds else [int(i) for i in sub.indices]
    _log({"shard": ds.session, "indices": idx, "n": len(ds)})
    return sub
loop._shard = shard

_validation_score = epochs.validation_score
def validation_score(model, *args, **kwargs):
    score = _validation_score(model, *args, **kwargs)
    _log({"params": _digest(model.parameters()), "buffers": _digest(model.buffers()), "score": score})
    return score
epochs.validation_score = validation_score

_agree_run_dir = loop.agree_run_dir
def agree_run_dir(run_dir, dist):
    agreed = _agree_run_dir(run_dir, dist)
    _log({"run_dir": str(run_dir), "agreed": str(agreed)})
    return agreed
loop.agree_run_dir = agree_run_dir

from snnvis.cli.train import main
main()
"""


def test_torchrun_two_cpu_processes(tmp_path, tiny_recordings):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    run_dir = tmp_path / "run_rank0"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", SNNVIS_PROBE_DIR=str(probe_dir))
    cmd = [
        str(VENV_BIN / "torchrun"),
        "--standalone",
        "--nproc_per_node=2",
        str(probe),
        *TINY,
        recordings_override(tiny_recordings),
        "trainer.max_epochs=3",
        "trainer.lr=1e-2",
        # a run dir that differs between ranks, as the default timestamped one can:
        # every rank must still use rank 0's
        f"hydra.run.dir={tmp_path}/run_rank${{oc.env:RANK}}",
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    ranks = [[json.loads(line) for line in (probe_dir / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)]
    # every rank trained the same model in rank 0's run dir
    assert [r[0]["run_dir"] for r in ranks] == [str(tmp_path / "run_rank0"), str(tmp_path / "run_rank1")]
    assert [r[0]["agreed"] for r in ranks] == [str(run_dir)] * 2
    epochs = [[rec for rec in r if "params" in rec] for r in ranks]
    assert len(epochs[0]) == len(epochs[1]) == 3
    for e0, e1 in zip(*epochs):
        assert e0["params"] == e1["params"], "ranks' parameters diverged"
        assert e0["buffers"] == e1["buffers"], "ranks' BatchNorm statistics diverged"
        assert e0["score"] == e1["score"]
    assert len({e["params"] for e in epochs[0]}) == 3  # and it did train

    # the ranks split each training set: equal shares that together cover every stimulus
    for session in ("a", "b"):
        shards = [next(rec for rec in r if rec.get("shard") == session) for r in ranks]
        n = shards[0]["n"]
        assert len(shards[0]["indices"]) == len(shards[1]["indices"]) == -(-n // 2)
        assert set(shards[0]["indices"]) | set(shards[1]["indices"]) == set(range(n))
        assert len(set(shards[0]["indices"]) & set(shards[1]["indices"])) <= 1

    # rank 0 alone wrote the outputs
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["run"]["world_size"] == 2
    assert metrics["validation"]["epochs_trained"] == 3
    assert metrics["test"]["overall"]["n_neurons"] == 14
    assert np.isfinite(metrics["test"]["overall"]["pearson_r_median"])
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r["train_loss"])) for r in rows)
    assert np.allclose([float(r["val_pearson_r_mean"]) for r in rows], [e["score"] for e in epochs[0]])
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert len(list(tmp_path.rglob("metrics.json"))) == 1
    assert not (tmp_path / "run_rank1" / "checkpoints").exists()
    assert "held-out median r" in out.stdout

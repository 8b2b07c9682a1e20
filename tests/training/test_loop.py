"""Pieces of the training loop: device choice, DDP shards and balanced session batches."""

from __future__ import annotations

import pytest
import torch
from training_helpers import TINY, compose_train, recordings_override

from snnvis.recordings.dataset import SessionCycler
from snnvis.training import loop


@pytest.mark.parametrize(
    "name, world, expected",
    [("auto", 1, "cuda:0"), ("cuda", 1, "cuda:0"), ("cuda:1", 1, "cuda:1"), ("auto", 2, "cuda:1")],
)
def test_cuda_device_has_an_index(monkeypatch, name, world, expected):
    """run() calls torch.cuda.set_device(device), which rejects a device without an index."""
    from torch.cuda._utils import _get_device_index

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    device = loop.resolve_device(name, loop.Dist(rank=world - 1, world=world, local_rank=world - 1))
    assert str(device) == expected
    assert _get_device_index(device) == device.index


def test_cpu_device():
    assert str(loop.resolve_device("cpu", loop.Dist())) == "cpu"


def test_shards_give_every_rank_the_same_steps_in_the_same_session_order(tiny_recordings):
    cfg = compose_train([*TINY, recordings_override(tiny_recordings)])
    sessions = loop.load_sessions(cfg.data)
    per_rank = []
    for rank in (0, 1):
        dist = loop.Dist(rank=rank, world=2)
        cycler = SessionCycler(
            {s.id: loop._shard(s.splits["train"], dist, cfg.seed) for s in sessions}, batch_size=16, seed=cfg.seed
        )
        cycler.set_epoch(3)
        per_rank.append([(b.session, len(b.stimuli)) for b in cycler])
    assert per_rank[0] == per_rank[1]  # same sessions, same batch sizes, same count
    assert [s for s, _ in per_rank[0][:2]] == ["a", "b"]  # alternating sessions
    # single process: the shard is the training set itself
    assert loop._shard(sessions[0].splits["train"], loop.Dist(), 0) is sessions[0].splits["train"]

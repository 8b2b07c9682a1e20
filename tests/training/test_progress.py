"""Progress a person can follow: one epoch line per epoch with or without a terminal (a bar too
on a terminal, which leaves the lines standing), per-job prefixes under a parallel multirun, and a
status line at least every 30 s while scoring (a fake clock drives :class:`Heartbeat`)."""

from __future__ import annotations

import csv
import fcntl
import logging
import os
import pty
import re
import struct
import sys
import termios
import threading
import time

import pytest
from omegaconf import OmegaConf
from training_helpers import TINY, compose_train, recordings_override, train_cli

from snnvis.progress import Heartbeat, bar_options, job_prefix, parallel_jobs

EPOCH = re.compile(
    r"^(\[[^\]]+\]) epoch +(\d+)/(\d+)  loss (\d+\.\d{4})  val r (-?\d\.\d{3}) ([* ])  (\d+\.\d) s", re.M
)


def _train(tmp_path, tiny_recordings, epochs: int = 3):
    """A tiny in-process training run with ``trainer.progress=auto``; returns its run dir."""
    from snnvis.training.loop import run

    cfg = compose_train(
        [*TINY, recordings_override(tiny_recordings), f"trainer.max_epochs={epochs}", "trainer.progress=auto"]
    )
    run(cfg, tmp_path / "run", model_label="sew_resnet_tiny")
    return tmp_path / "run"


def test_one_line_per_epoch_without_a_terminal(tmp_path, tiny_recordings, capsys, caplog):
    caplog.set_level(logging.INFO, logger="snnvis")
    run_dir = _train(tmp_path, tiny_recordings)
    out = capsys.readouterr()
    lines = EPOCH.findall(out.out)
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    assert [int(m[1]) for m in lines] == [1, 2, 3] and {m[2] for m in lines} == {"3"}
    assert [m[3] for m in lines] == [f"{float(r['train_loss']):.4f}" for r in rows]
    assert [m[4] for m in lines] == [f"{float(r['val_pearson_r_mean']):.3f}" for r in rows]
    best = [float(r["val_pearson_r_mean"]) for r in rows]
    assert [m[5] == "*" for m in lines] == [b > max(best[:i], default=-2) for i, b in enumerate(best)]
    assert all(float(m[6]) > 0 for m in lines)
    assert lines[0][0] == "[sew_resnet_tiny spiking=True]"
    assert "it/s" not in out.err and "s/it" not in out.err and "\r" not in out.err  # no bar
    logged = [r.getMessage() for r in caplog.records if EPOCH.match(r.getMessage())]
    assert len(logged) == 3  # the run's log file (train.log under snnvis-train) gets them too


def _screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw``: \\r, \\n, cursor up (ESC[A) and erase-line (ESC[K)."""
    rows, r, c = [[]], 0, 0
    for token in re.findall(r"\x1b\[\d*[A-Za-z]|.", raw, flags=re.S):
        if token == "\n":
            r, c = r + 1, 0
            rows += [[] for _ in range(r + 1 - len(rows))]
        elif token == "\r":
            c = 0
        elif token.startswith("\x1b["):
            if token.endswith("A"):
                r = max(0, r - int(token[2:-1] or 1))
            elif token.endswith("K"):
                del rows[r][c:]
        else:
            rows[r] += [" "] * (c + 1 - len(rows[r]))
            rows[r][c] = token
            c += 1
    return ["".join(x).rstrip() for x in rows]


def test_a_terminal_shows_the_bar_and_keeps_the_epoch_lines(tmp_path, tiny_recordings, monkeypatch):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
    chunks: list[bytes] = []

    def drain():
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the terminal was closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    term = os.fdopen(slave, "w", buffering=1)
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.setattr(sys, "stderr", term)
    try:
        _train(tmp_path, tiny_recordings, 2)
    finally:
        monkeypatch.undo()
        term.close()
    reader.join(timeout=10)
    os.close(master)
    raw = b"".join(chunks).decode(errors="replace")
    assert re.search(r"epoch 1/2: +\d+%\|", raw) and re.search(r"epoch 2/2: +\d+%\|", raw), raw[-2000:]  # the bars
    screen = _screen(raw)
    epoch_rows = [row for row in screen if EPOCH.match(row)]
    assert [EPOCH.match(row)[2] for row in epoch_rows] == ["1", "2"], "\n".join(screen)
    assert not any("%|" in row for row in screen)  # the bars are gone, the epoch lines stay


def _hc(mode="RunMode.MULTIRUN", num=1, task=(), params=None, launcher=None):
    return OmegaConf.create(
        {
            "mode": mode,
            "job": {"num": num, "override_dirname": ",".join(task)},
            "overrides": {"task": list(task)},
            "sweeper": {"params": params},
            "launcher": launcher or {},
        }
    )


def test_job_prefix_names_the_swept_values():
    task = ["experiment=quickstart", "model.spiking=false", "trainer.max_epochs=2"]
    assert job_prefix("m", _hc(task=task, params={"model.spiking": "true,false"})) == "[job 1: model.spiking=false]"
    assert job_prefix("tiny spiking=False", _hc(task=task)) == "[job 1: tiny spiking=False]"
    assert job_prefix("m", _hc(task=["a=" + "x" * 100], params={"a": "1,2"})).endswith("…]")
    assert job_prefix("m", _hc(mode="RunMode.RUN")) == ""
    joblib = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}
    assert parallel_jobs(_hc(launcher=joblib)) and not parallel_jobs(_hc(launcher={**joblib, "n_jobs": 1}))
    assert not parallel_jobs(_hc(mode="RunMode.RUN", launcher=joblib))
    # parallel jobs draw no bars unless asked; asked, each job gets its own terminal row
    assert bar_options("auto", _hc(launcher=joblib))["disable"] is True
    assert bar_options(True, _hc(num=3, launcher=joblib)) == {"disable": False, "position": 3}
    assert bar_options(False, _hc())["disable"] is True


@pytest.mark.slow
def test_parallel_multirun_lines_carry_the_job_prefix(tmp_path, tiny_recordings):
    args = [
        "-m",
        "hydra/launcher=joblib_local",
        *(
            o for o in TINY if not o.startswith(("trainer.progress=", "trainer.max_epochs="))
        ),  # a sweep takes each key once
        recordings_override(tiny_recordings),
        "trainer.max_epochs=1",
        "trainer.progress=auto",
        "model.spiking=true,false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra.sweep.subdir=${hydra:job.num}",
    ]
    out = train_cli(args, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    prefixes = sorted(m[0] for m in EPOCH.findall(out.stdout))
    assert prefixes == ["[job 0: sew_resnet_tiny spiking=True]", "[job 1: sew_resnet_tiny spiking=False]"]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_heartbeat_emits_at_most_every_30_s():
    clock, lines = FakeClock(), []
    beat = Heartbeat("starting", emit=lines.append, clock=clock)
    for t, status in [(10, "a"), (29.9, "b"), (30, "c"), (45, "d"), (59.9, "e"), (60.1, "f"), (200, "g")]:
        clock.now = 1000 + t
        beat.set(status)
    assert lines == ["c (30 s elapsed)", "f (1 min 00 s elapsed)", "g (3 min 20 s elapsed)"]
    clock.now = 1210
    beat.line("milestone")  # emitted at once; the next status line is due 30 s after it
    clock.now = 1230
    assert not beat.tick() and beat.tick(force=True)
    assert lines[3:] == ["milestone", "g (3 min 50 s elapsed)"]


def test_heartbeat_thread_speaks_while_the_work_is_silent():
    lines = []
    with Heartbeat(lambda: "scoring layer 3/9", every=0.05, emit=lines.append):
        time.sleep(0.5)  # one long step that never calls set()
    n = len(lines)
    time.sleep(0.2)
    assert n >= 3 and len(lines) == n  # it stopped with the work
    assert all(line.startswith("scoring layer 3/9 (") for line in lines)


def test_scoring_writes_status_lines(tiny_recordings, tmp_path, monkeypatch, capfd):
    from snnvis.config import compose
    from snnvis.evaluation import pipeline

    clock = FakeClock()

    def ticking():  # 31 s pass between any two looks at the clock
        clock.now += 31
        return clock.now

    monkeypatch.setattr(pipeline, "Heartbeat", lambda **kw: Heartbeat(clock=ticking, **kw))
    cfg = compose(
        "score",
        [
            "model=sew_resnet_tiny",
            "model.stem_width=4",
            "model.widths=[4,8,8]",
            "model.input.size=16",
            "model.input.in_channels=1",
            "model.input.mean=[0.5]",
            "model.input.std=[0.25]",
            "model.time.static_steps=2",
            f"recordings=[{tiny_recordings[1]}]",
            "metrics=[rsa]",
            "n_boot=0",
            "device=cpu",
            "batch_size=40",
            "progress=auto",
        ],
    )
    pipeline.run(cfg, tmp_path / "scores")
    err = capfd.readouterr().err
    assert re.search(r"^snnvis: scoring \S+ \(1/1\): 120 stimuli, \d+ layers$", err, re.M), err
    assert re.search(r"activations: 40/120 stimuli \(\d+ min \d\d s elapsed\)$", err, re.M), err
    assert re.search(r"\(1/1\): scoring layer 1/\d+ \(\S+\) \(\d+ min \d\d s elapsed\)$", err, re.M), err


@pytest.mark.parametrize("setting", ["auto", False])
def test_bar_outside_a_multirun_follows_the_terminal(setting, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert bar_options(setting, None)["disable"] is (setting is False)

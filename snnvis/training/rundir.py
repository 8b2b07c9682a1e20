"""The run directory: an exclusive lock, a default name that cannot collide, the record of
the config, the finished-run check, and clearing a previous run before starting over.

Nothing in an existing run dir is written before :class:`RunDirLock` is held and the
run's inputs have been checked, so a refused or failed start leaves it byte-identical.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import secrets
import shutil
import time
from pathlib import Path

from omegaconf import OmegaConf

from snnvis.errors import UserError
from snnvis.outputs import read_metrics
from snnvis.utils import say

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
# Outputs of a run; starting over removes them (metrics.json first, so the dir never looks finished).
RUN_OUTPUTS = ("metrics.json", "predictions.h5", "log.csv", "checkpoints", "tensorboard")
_UID = f"{os.getpid() % 0x10000:04x}{secrets.token_hex(2)}"


def unique_suffix() -> str:
    """A short token unique to this process (pid and random bits): ``${snnvis_uid:}`` in configs."""
    return _UID


def register_resolvers() -> None:
    """The resolvers the configs use: ``${snnvis_uid:}``, ``${snnvis_data_default:}`` (the data root
    without $SNNVIS_DATA), ``${snnvis_unnamed:app,key,...}`` (override keys left out of run-directory
    names), ``${snnvis_score_dir:checkpoint,fallback}`` (where snnvis-score writes) and
    ``${snnvis_groups:group,...}`` (config groups and their options, for the --help texts)."""
    from snnvis.recordings.root import default_root

    resolvers = {
        "snnvis_uid": unique_suffix,
        "snnvis_data_default": lambda: str(default_root()),
        "snnvis_unnamed": _unnamed,
        "snnvis_score_dir": _score_dir,
        "snnvis_groups": _groups,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def _unnamed(app: str, *extra: str) -> list[str]:
    """Keys left out of run-directory names: the unhashed keys of ``app`` (train | score) and ``extra``."""
    if app == "score":
        from snnvis.reporting.score import NOT_HASHED

        return [*NOT_HASHED, *(k for k in extra if k not in NOT_HASHED)]
    from snnvis.training.identity import unnamed_keys

    return unnamed_keys(*extra)


def _groups(*groups: str) -> str:
    """``group: a, b, c`` lines for the --help texts: the options Hydra sees (a user's --config-dir
    included), without the hidden ones (``_common``); ``+group`` shows as ``+group``."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType

    from snnvis.config import CONFIGS

    loader = GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None
    lines = []
    for group in groups:
        name = group.lstrip("+")
        if loader is not None:
            options = loader.get_group_options(name, ObjectType.CONFIG)
        else:
            options = sorted(p.stem for p in (CONFIGS / name).glob("*.yaml"))
        shown = [o for o in options if not o.startswith("_")]
        if shown:
            lines.append(f"{group}: {', '.join(shown)}")
    return "\n".join(lines)


def _score_dir(checkpoint: str | None, fallback: str) -> str:
    """``<run>/scores`` when ``checkpoint`` is a training run dir or its ``checkpoints/best.pt``, else ``fallback``."""
    from snnvis.reporting.score import scores_dir_of

    found = scores_dir_of(checkpoint)
    return fallback if found is None else str(found)


class RunDirLock:
    """An exclusive ``flock`` on ``<run_dir>/.lock``, which holds the holder's pid.

    The kernel drops the lock when its process dies, so a lock file left by a killed
    run is never stale. The file is removed on release; a process that locked a file
    that was meanwhile removed (and replaced) retries on the new one.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise UserError("hydra.run.dir", "a regular file is in the way of the run directory", self.run_dir)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UserError(
                "hydra.run.dir", "a regular file is in the way of the run directory", self.run_dir
            ) from None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise UserError(
                    "run dir",
                    f"in use by another snnvis process (pid {self._holder()}); "
                    "wait for it or choose another hydra.run.dir",
                    self.run_dir,
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released and removed the file between our open and flock
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def _holder(self) -> str:
        for _ in range(50):  # the holder writes its pid right after it locks
            try:
                pid = self.path.read_text().strip()
            except FileNotFoundError:
                pid = ""
            if pid:
                return pid
            time.sleep(0.02)
        return "unknown"

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def read_finished(path: Path) -> dict | None:
    """The ``metrics.json`` of a finished run, None when there is none; UserError when it is
    not a JSON object (a corrupt file is never mistaken for a finished or an unfinished run)."""
    if not path.is_file():
        return None
    done = read_metrics(path, advice="move it away to start this run over")
    if not isinstance(done.get("run", {}), dict):
        raise UserError(
            "metrics.json",
            "not a metrics object (its run entry is not an object); move it away to start this run over",
            path,
        )
    return done


def clear_previous(run_dir: Path) -> list[str]:
    """Move the outputs of an earlier run aside in one rename each, then delete them.

    ``metrics.json`` goes first, so a kill part-way leaves a dir that does not look
    finished and no file of the old run under its final name; returns what was removed.
    """
    for stale in run_dir.glob(".replaced-*"):  # left by a run killed while it cleared (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    present = [name for name in RUN_OUTPUTS if (run_dir / name).exists()]
    if not present:
        return []
    trash = run_dir / f".replaced-{os.getpid()}"
    trash.mkdir(exist_ok=True)
    for name in present:
        os.replace(run_dir / name, trash / name)
    shutil.rmtree(trash)
    return present


def write_hydra_record(run_dir: Path, cfg) -> None:
    """``.hydra/{config,hydra,overrides}.yaml`` as Hydra writes them, but only once the run has
    started (``hydra.output_subdir: null`` stops Hydra writing them at launch). No-op outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    from snnvis.utils import atomic_path

    if not HydraConfig.initialized():
        return
    full = HydraConfig.instance().cfg
    out = Path(run_dir) / ".hydra"
    for name, node in (("config.yaml", cfg), ("hydra.yaml", full), ("overrides.yaml", full.hydra.overrides.task)):
        with atomic_path(out / name) as tmp:
            tmp.write_text(OmegaConf.to_yaml(node))


def announce_start(run_dir: Path, resumed: bool, epoch: int, on_start, extended: str = "") -> None:
    """Say how a run starts: resumed (and what the resume extends), or over an earlier run's outputs."""
    if resumed and extended:
        say(log, f"snnvis: resuming {run_dir} after epoch {epoch}, extended: {extended}")
    elif resumed:
        say(log, f"snnvis: resuming {run_dir} after epoch {epoch}")
    elif "checkpoints" in clear_previous(run_dir):
        say(log, f"snnvis: {run_dir} had checkpoints; starting over (pass trainer.resume=true to continue)")
    if on_start is not None:
        on_start()

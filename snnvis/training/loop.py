"""A training run: shared core + per-session readouts, early stopping, exact resume, DDP.

:func:`run` is the whole run, top to bottom; each step lives in the module of its job:
``setup`` (sessions, network, device, optimizer, loss), ``epochs`` (the epoch loop),
``early_stopping``, ``checkpoint`` (resume), ``results`` (predictions.h5, metrics.json).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from snnvis.config import check_targets
from snnvis.models import count_params
from snnvis.recordings.dataset import SessionCycler
from snnvis.training import checkpoint
from snnvis.training.distributed import Dist, _shard, agree_run_dir, resolve_device
from snnvis.training.early_stopping import EarlyStopping
from snnvis.training.epochs import Trainee, train_epochs
from snnvis.training.identity import config_hash, extension_note, resume_hash
from snnvis.training.results import finish
from snnvis.training.rundir import RunDirLock, announce_start, read_finished, register_resolvers
from snnvis.training.schema import check_values
from snnvis.training.schema import register as _register_schemas
from snnvis.training.setup import (
    load_sessions,
    loss_for,
    network_for_sessions,
    optimizer_for,
    place,
)
from snnvis.utils import seed_everything

log = logging.getLogger(__name__)
_register_schemas()
register_resolvers()


def run(
    cfg: DictConfig, run_dir: str | Path, model_label: str | None = None, on_start: Callable[[], None] | None = None
) -> dict:
    """Train one model as configured; returns the metrics written to ``metrics.json``.

    ``model_label`` names the model in the outputs (the config choice, e.g.
    ``sew_resnet_tiny``); by default the encoder's registry name. ``on_start`` is called
    once the run dir is locked and every input has been checked, before the run writes
    anything there (the CLI records the config then): a refused or failed start leaves
    an existing run dir byte-identical.
    """
    t_start = time.time()
    check_values(cfg)
    check_targets(cfg, ("model", "readout", "optimizer", "scheduler", "loss"))
    if cfg.trainer.get("ensemble", 1) > 1:  # members in <run_dir>/members/<k>, scored together
        from snnvis.training.ensemble import run_ensemble

        return run_ensemble(cfg, Path(run_dir), model_label or cfg.model.name, on_start, t_start)
    dist = Dist.from_env()
    device = resolve_device(cfg.trainer.device, dist)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before any NCCL collective
    own_group = dist.world > 1 and not torch.distributed.is_initialized()
    if own_group:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run_dir = agree_run_dir(Path(run_dir), dist)
        with RunDirLock(run_dir) if dist.main else contextlib.nullcontext():
            return _run_locked(cfg, run_dir, dist, device, model_label or cfg.model.name, on_start, t_start)
    finally:
        if own_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _run_locked(cfg, run_dir: Path, dist: Dist, device, label: str, on_start, t_start: float) -> dict:
    tcfg, chash = cfg.trainer, config_hash(cfg)
    done = read_finished(run_dir / "metrics.json") if tcfg.skip_finished else None
    if done is not None and done.get("run", {}).get("config_hash") == chash:
        if dist.main:
            # stdout only: a skipped run dir is left byte-identical (no train.log appears in it)
            print(f"snnvis: {run_dir} already finished with this config (hash {chash}); skipping")
        return done
    if tcfg.get("threads"):
        torch.set_num_threads(int(tcfg.threads))
    seed_everything(cfg.seed)
    loss_fn = loss_for(cfg)
    sessions = load_sessions(cfg.data)
    model = network_for_sessions(cfg, sessions)
    n_params = count_params(model.core)
    initial_core = copy.deepcopy(model.core) if cfg.get("baseline") and cfg.data.target == "rate" else None
    place(model, device, None, tcfg.channels_last, tcfg.compile)
    train_model = (
        model
        if dist.world == 1
        else torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True
        )
    )
    opt, scheduler = optimizer_for(cfg, model)
    cycler = SessionCycler(
        {s.id: _shard(s.splits["train"], dist, cfg.seed) for s in sessions},
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
    )
    bms = {s.id: None if s.bin_matrix is None else s.bin_matrix.to(device) for s in sessions}
    last = run_dir / "checkpoints" / "last.pt"
    resumed = tcfg.resume and last.is_file()
    resolved, rhash = OmegaConf.to_container(cfg, resolve=True), resume_hash(cfg)
    state, before = checkpoint.resume(last, rhash, model, opt, scheduler, resolved) if resumed else (None, {})
    stopper = EarlyStopping(tcfg.max_epochs, tcfg.patience, state)
    if dist.main:  # every input is checked: from here on the run writes into its dir
        announce_start(run_dir, resumed, stopper.epoch, on_start, extension_note(before, resolved) if resumed else "")
    record = {"config": resolved, "model_label": label, "config_hash": chash, "resume_hash": rhash}
    trainee = Trainee(model, train_model, opt, scheduler, loss_fn, cycler, sessions, bms, device, dist)
    train_epochs(cfg, run_dir, trainee, stopper, record)
    if dist.world > 1:
        torch.distributed.barrier()
    if not dist.main:
        return {}
    return finish(
        cfg,
        run_dir,
        model,
        sessions,
        device,
        initial_core,
        stopper.state,
        dist,
        chash,
        label,
        n_params,
        lambda: time.time() - t_start,
    )

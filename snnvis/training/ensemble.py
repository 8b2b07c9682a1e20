"""Ensembles: ``trainer.ensemble=N`` trains N members and scores their average prediction as one model.

Member ``k`` is the run of the same config with ``seed + k`` (and ``trainer.ensemble=1``), trained
in ``<run_dir>/members/<k>/`` with every output a single run has (so a member is skipped, resumed
or extended like any run, and equals the single run of its seed). The ensemble's prediction is the
mean over members of their best checkpoints' predictions (computed in float64, so N identical
members give exactly one member's prediction); ``<run_dir>/predictions.h5`` and ``metrics.json``
score it as one model:

- ``test``, ``validation.pearson_r_median`` / ``pearson_r_mean``: the ensemble's scores;
- ``ensemble``: ``n_members``, ``seeds`` and ``members.<k>`` with each member's ``run_dir``,
  ``seed``, ``validation`` and ``test`` overall summary, beside the ensemble's;
- ``model.n_params``: all members together (``n_params_per_member`` beside it); ``compute``:
  MACs, synaptic operations and wall time summed over members, spike rates averaged;
- ``baseline`` / ``baseline_lookup``: member 0's (the same test stimuli).

``data.target=psth``: the members' PSTH and count bins are averaged (:class:`PsthEnsemble`) and
scored as one psth run is, time-course metrics and the mean-time-course baseline included.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from omegaconf import DictConfig, open_dict

from snnvis.errors import UserError
from snnvis.outputs import METRICS_FILE, PREDICTIONS_FILE, read_metrics, read_predictions, write_metrics
from snnvis.utils import say

log = logging.getLogger(__name__)

MEMBERS_DIR = "members"


def member_config(cfg: DictConfig, k: int) -> DictConfig:
    """Member ``k``'s config: ``seed + k`` and ``trainer.ensemble=1``."""
    mcfg = copy.deepcopy(cfg)
    with open_dict(mcfg):
        mcfg.seed = int(cfg.seed) + k
        mcfg.trainer.ensemble = 1
    return mcfg


def average(predictions: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Mean over members of {session id: prediction}, in float64, returned as float32."""
    return {
        sid: np.mean(np.stack([p[sid].astype(np.float64) for p in predictions]), axis=0).astype(np.float32)
        for sid in predictions[0]
    }


def _member_test_predictions(member_dir: Path, sessions) -> dict[str, np.ndarray]:
    stored = read_predictions(member_dir / PREDICTIONS_FILE, ("stimulus_index", "prediction"))
    out = {}
    for s in sessions:
        got = stored.get(s.id)
        if got is None or not np.array_equal(got.stimulus_index, s.splits["test"].indices):
            raise UserError(
                "trainer.ensemble", f"member predictions do not match session {s.id}'s test split", member_dir
            )
        out[s.id] = got.prediction
    return out


class PsthEnsemble(torch.nn.Module):
    """The mean, in float64, of :class:`~snnvis.models.temporal_readout.PsthModel` members' bins
    (``forward`` and ``windows``), scored by :func:`~snnvis.training.psth.score_psth_test` as one
    model; ``temporal[session].latency_ms`` is the members' mean latency per neuron."""

    def __init__(self, members: list[torch.nn.Module]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def _mean(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([o.double() for o in outputs]).mean(0).to(outputs[0].dtype)

    def forward(self, stimuli: torch.Tensor, session: str, bin_matrix=None) -> torch.Tensor:
        return self._mean([m(stimuli, session) for m in self.members])

    def windows(self, stimuli: torch.Tensor, session: str, windows_ms, frame_average: bool) -> torch.Tensor:
        return self._mean([m.windows(stimuli, session, windows_ms, frame_average) for m in self.members])

    @property
    def temporal(self) -> dict:
        sessions = self.members[0].temporal.keys()
        return {
            s: SimpleNamespace(latency_ms=self._mean([m.temporal[s].latency_ms for m in self.members]))
            for s in sessions
        }


def _members(cfg: DictConfig, member_dirs: list[Path], sessions, device):
    """Yield the members' best checkpoints, each loaded into a copy of one network built for ``sessions``
    (built once: for a PSTH target, building it extends the sessions' training targets by the count
    windows)."""
    from snnvis.training import checkpoint
    from snnvis.training.setup import network_for_sessions, place

    net = network_for_sessions(cfg, sessions)
    for d in member_dirs:
        m = copy.deepcopy(net)
        m.load_state_dict(checkpoint.load_checked(d / "checkpoints" / "best.pt")["model"])
        place(m, device, None, cfg.trainer.channels_last, False)
        yield m


def score_members(cfg: DictConfig, member_dirs: list[Path], run_dir: Path, device, sessions=None) -> dict:
    """Score the average prediction of the finished runs ``member_dirs`` (of ``cfg``'s architecture and
    data) as one model: writes ``run_dir``'s predictions.h5 and returns the metrics entries
    ``test``, ``validation`` and ``ensemble`` (see the module docstring). ``data.target=psth``: the
    members' PSTH and count bins are averaged and scored as a single psth run is."""
    from snnvis.training.accounting import median_r, validation_predictions, validation_rs
    from snnvis.training.results import score_test_split
    from snnvis.training.setup import load_sessions

    sessions = sessions if sessions is not None else load_sessions(cfg.data)
    if cfg.data.target == "psth":
        from snnvis.training.psth import score_psth_test

        ens = PsthEnsemble(list(_members(cfg, member_dirs, sessions, device)))
        val = validation_predictions(ens, sessions, device, cfg.trainer.amp, cfg.data.batch_size)
        test = score_psth_test(ens, sessions, run_dir, device, cfg)
    else:
        test = score_test_split(
            average([_member_test_predictions(d, sessions) for d in member_dirs]), sessions, run_dir, cfg.seed
        )
        val = average(
            [
                validation_predictions(m, sessions, device, cfg.trainer.amp, cfg.data.batch_size)
                for m in _members(cfg, member_dirs, sessions, device)
            ]
        )
    rs = validation_rs(val, sessions)
    r = np.concatenate(rs)
    members = {}
    for k, d in enumerate(member_dirs):
        m = read_metrics(d / METRICS_FILE)
        members[str(k)] = {
            "run_dir": str(d.relative_to(run_dir)) if d.is_relative_to(run_dir) else str(d),
            "seed": m["run"]["seed"],
            "validation": m["validation"],
            "test": m["test"]["overall"],
        }
    return {
        "test": test,
        "validation": {
            "pearson_r_median": median_r(rs),
            "pearson_r_mean": float(np.nanmean(r)) if np.isfinite(r).any() else None,
            "best_epoch": max(m["validation"]["best_epoch"] for m in members.values()),
            "epochs_trained": sum(m["validation"]["epochs_trained"] for m in members.values()),
        },
        "ensemble": {"n_members": len(member_dirs), "seeds": [m["seed"] for m in members.values()], "members": members},
    }


def _compute(entries: list[dict]) -> dict:
    if not all(entries):
        return {}
    summed = ("macs_per_image", "synops_per_image", "sops_per_image", "analog_macs_per_image", "seconds_per_image")
    out = {k: float(sum(e[k] for e in entries)) for k in summed}
    out.update(
        spike_rate={k: float(np.mean([e["spike_rate"][k] for e in entries])) for k in entries[0]["spike_rate"]},
        mean_spike_rate=float(np.mean([e["mean_spike_rate"] for e in entries])),
        steps=entries[0]["steps"],
        train_s=float(sum(e["train_s"] for e in entries)),
        n_members=len(entries),
    )
    return out


def run_ensemble(cfg: DictConfig, run_dir: Path, label: str, on_start, t_start: float) -> dict:
    """Train ``trainer.ensemble`` members (one after the other) and score their average; returns the metrics."""
    from snnvis.training import loop
    from snnvis.training.distributed import Dist, resolve_device
    from snnvis.training.identity import config_hash
    from snnvis.training.rundir import RunDirLock, read_finished

    n = int(cfg.trainer.ensemble)
    dist = Dist.from_env()
    if dist.world > 1:
        raise UserError("trainer.ensemble", "an ensemble trains in one process; run its members as separate jobs")
    run_dir, chash = Path(run_dir), config_hash(cfg)
    with RunDirLock(run_dir):
        done = read_finished(run_dir / METRICS_FILE) if cfg.trainer.skip_finished else None
        if done is not None and done.get("run", {}).get("config_hash") == chash:
            print(f"snnvis: {run_dir} already finished with this config (hash {chash}); skipping")
            return done
        (run_dir / METRICS_FILE).unlink(missing_ok=True)  # never looks finished while members train
        if on_start is not None:
            on_start()
        dirs, member_metrics = [], []
        for k in range(n):
            mcfg = member_config(cfg, k)
            say(log, f"snnvis: ensemble member {k + 1}/{n} (seed {mcfg.seed})")
            dirs.append(run_dir / MEMBERS_DIR / str(k))
            member_metrics.append(loop.run(mcfg, dirs[-1], model_label=label))
        device = resolve_device(cfg.trainer.device, dist)
        scored = score_members(member_config(cfg, 0), dirs, run_dir, device)
        m0 = member_metrics[0]
        metrics = {
            "test": scored["test"],
            **{k: m0[k] for k in ("baseline", "baseline_lookup") if k in m0},
            "validation": scored["validation"],
            "model": {
                **m0["model"],
                "n_params": int(sum(m["model"]["n_params"] for m in member_metrics)),
                "n_params_with_readouts": int(sum(m["model"]["n_params_with_readouts"] for m in member_metrics)),
                "n_params_per_member": int(m0["model"]["n_params"]),
            },
            "data": m0["data"],
            "run": {**m0["run"], "seed": int(cfg.seed), "wall_s": time.time() - t_start, "config_hash": chash},
            "compute": _compute([m.get("compute") for m in member_metrics]),
            "ensemble": scored["ensemble"],
        }
        metrics["compute"]["wall_s"] = metrics["run"]["wall_s"]
        o = metrics["test"]["overall"]
        say(
            log,
            f"snnvis: ensemble of {n}: held-out median r = {o['pearson_r_median']:.3f} over {o['n_neurons']} neurons",
        )
        return write_metrics(run_dir / METRICS_FILE, metrics)

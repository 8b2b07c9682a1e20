"""The ``data.target=psth`` path: the model shown each recording's stimuli as its protocol says,
trained on the recorded time bins (Hénaff: the 10 ms PSTH averaged over the 11 frames of a
sequence) through a :class:`~snnvis.models.temporal_readout.PsthModel`, and scored on the PSTH
(time course, mean-time-course baseline) and on the per-presentation counts.

- ``data.protocol``: ``independent`` | ``stream`` | ``movie``; null: the recording's own
  (Hénaff: ``independent``, 200 ms on, 100 ms blank). Durations must be whole steps of
  ``model.time.dt_ms``. Independent and stream presentations start with the blank for as long
  as the earliest recorded bin reaches before onset (Hénaff: 50 ms).
- The latency of each neuron starts at ``data.latency_ms``; with ``data.latency_search`` (the
  default) it is set after every epoch by a grid search on the training split
  (:func:`fit_latencies`, half-step grid), and gradient descent refines it within epochs.
  It is reported per neuron as ``latency_ms`` (metrics.json medians, predictions.h5).
- ``data.count_response``: the response set scored as ``pearson_r`` (per-presentation counts,
  predicted from the same per-step rates on that set's windows); null: the recording's
  default response when it is not the target, else the target itself. ``data.count_loss``:
  train on those counts too (as mean rates over their windows, each bin weighing as one PSTH
  bin), so the readout also sees each frame's own response, not only the 11-frame average.
- ``data.shape_loss``: the weight of 1 - r over each (stimulus, neuron)'s recorded bins, added to
  the loss (:meth:`~snnvis.models.temporal_readout.PsthModel.shape_penalty`): the Poisson loss
  is dominated by each stimulus's overall scale, the time-course r by its shape alone.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from snnvis.errors import UserError
from snnvis.evaluation.temporal import temporal_metrics
from snnvis.models.temporal_readout import PresentationPlan, PsthModel
from snnvis.outputs import PREDICTIONS_FILE, SessionPredictions, write_predictions
from snnvis.recordings.dataset import collate
from snnvis.training.metrics import FLAGS, group_summaries, neuron_metrics, pearson_per_neuron
from snnvis.training.predict import autocast

PSTH_KEYS = ("psth_time_course_r", "psth_baseline_time_course_r", "psth_feve", "psth_explainable_fraction")


def psth_plan(session, core, data_cfg) -> PresentationPlan:
    """How ``session``'s stimuli are shown to ``core`` and which of its bins are predicted."""
    rec, ds = session.recording, session.splits["train"]
    info = ds.response_info
    protocol = rec.protocol
    mode = data_cfg.get("protocol") or protocol.mode
    on, off = protocol.steps(core.time.dt_ms, rec.path)
    if info.align != "frame" and rec.n_frames != 1:
        raise UserError(
            "data.target", f"psth needs windows after each frame's onset; response set {info.name!r} is not", rec.path
        )
    windows = np.asarray(info.windows_ms, dtype=np.float64)
    pre = 0 if mode == "movie" else max(0, math.ceil(-windows[:, 0].min() / core.time.dt_ms - 1e-9))
    blank = float(ds.stimuli.double().mean().item() / 255.0)
    return PresentationPlan(
        mode=mode,
        dt_ms=core.time.dt_ms,
        on=on,
        off=0 if mode == "movie" else off,
        pre=pre,
        n_frames=rec.n_frames,
        windows_ms=windows,
        frame_average=bool(info.frame_average),
        blank=blank,
    )


def psth_network(cfg, sessions, build_network) -> PsthModel:
    """The :class:`PsthModel` of ``sessions``: ``build_network``'s core and readouts, one plan and
    temporal readout per session, each neuron's gain started at its mean training response and
    its profile (``data.temporal_profile``) at its mean training time course."""
    base = build_network(cfg, {s.id: s.splits["train"].n_neurons for s in sessions})
    plans = {s.id: psth_plan(s, base.core, cfg.data) for s in sessions}
    shapes = {s.id: s.splits["train"].responses.mean(dim=0).clamp(min=1e-3) for s in sessions}  # (bins, n)
    if cfg.data.get("count_loss"):
        for s in sessions:
            plans[s.id] = with_count_target(s, plans[s.id], cfg.data)
    latency = float(cfg.data.get("latency_ms", 0.0))
    try:
        model = PsthModel(
            base.core,
            base.readouts,
            plans,
            profile=bool(cfg.data.get("temporal_profile", False)),
            taps=int(cfg.data.get("temporal_taps", 8)),
            neuron_taps=int(cfg.data.get("neuron_taps", 1)),
            latency_ms=latency,
            shape_weight=float(cfg.data.get("shape_loss", 0.0)),
        )
    except ValueError as err:
        raise UserError("data", str(err)) from None
    with torch.no_grad():
        for s in sessions:
            tr, mean = model.temporal[s.id], shapes[s.id].mean(0)
            tr.log_gain.copy_(mean.log())
            if tr.log_profile is not None:  # start at the mean training time course
                tr.log_profile.copy_((shapes[s.id] / mean).log().T)
            s.bin_matrix = None
    return model


def with_count_target(session, plan: PresentationPlan, data_cfg) -> PresentationPlan:
    """``plan`` also predicting the per-presentation counts, and the train and validation targets
    extended by them as mean rates over their windows (count / window length, the PSTH's
    units when the PSTH is in spikes/s); ``plan`` unchanged without a count set."""
    name = count_set(session, data_cfg)
    if name is None:
        return plan
    rec = session.recording
    info = rec.response_info(name)
    per_s = torch.from_numpy(1.0 / window_seconds(rec, name)).float()
    for split in ("train", "validation"):
        ds = session.splits[split]
        counts = torch.from_numpy(rec.mean(name, ds.indices)).float() * per_s[None, :, None]
        ds.responses = torch.cat([ds.responses, counts], dim=1)
    return replace(
        plan,
        extra_windows_ms=np.asarray(info.windows_ms, dtype=np.float64),
        extra_frame_average=bool(info.frame_average),
    )


def window_seconds(rec, name: str) -> np.ndarray:
    """(n_bins,) length in s of each bin of response set ``name`` (its windows, once per frame
    unless frame-averaged): a mean rate over a bin times this is the bin's count."""
    info = rec.response_info(name)
    windows = np.asarray(info.windows_ms, dtype=np.float64)
    return np.tile((windows[:, 1] - windows[:, 0]) / 1000.0, 1 if info.frame_average else rec.n_frames)


@torch.no_grad()
def fit_latencies(
    model, sessions, device, batch_size: int, loss: str = "poisson", step_ms: float | None = None
) -> None:
    """Set each neuron's latency to the value on a grid (``step_ms``, default half a model step,
    from 0 to the readout's ``max_latency_ms``) that minimises its loss on the training split,
    the rest of the model fixed. Per-step rates do not depend on the latency, so they are
    computed once per session; gradient descent refines the latency between searches."""
    was_training = model.training
    model.eval()
    try:
        for s in sessions:
            tr, ds = model.temporal[s.id], s.splits["train"]
            rates, shapes, targets = [], [], []
            for batch in torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate):
                x = batch.stimuli.to(device)
                rates.append(model.step_rates(x, s.id))
                shapes.append(x.shape[:2])
                targets.append(batch.responses.to(device))
            step = step_ms or model.plans[s.id].dt_ms / 2
            grid = torch.arange(0.0, tr.max_latency_ms + 1e-6, step, device=device)
            current = tr.latency.detach().clone()
            losses = []
            for lat in grid:
                tr.latency.fill_(float(lat) / tr.scale)
                total = 0.0
                for r, shape, y in zip(rates, shapes, targets):
                    pred = model.from_rates(r, shape, s.id)
                    per = pred - y * torch.log(pred + 1e-8) if loss == "poisson" else (pred - y) ** 2
                    total = total + per.sum(dim=(0, 1))
                losses.append(total)
            best = grid[torch.stack(losses).argmin(0)]
            tr.latency.copy_(torch.where(torch.isfinite(best), best / tr.scale, current))
    finally:
        model.train(was_training)


def count_set(session, data_cfg) -> str | None:
    """The response set scored as per-presentation counts (None: the target itself)."""
    rec, target = session.recording, session.splits["train"].response_info.name
    name = data_cfg.get("count_response") or rec.default_response
    if name is None or name == target:
        return None
    info = rec.response_info(name)
    if info.align != "frame":
        raise UserError("data.count_response", f"response set {name!r} is not aligned to frame onsets", rec.path)
    return info.name


@torch.no_grad()
def predict_windows(model, session, split, device, amp, batch_size, info=None) -> np.ndarray:
    """(n_stimuli, n_bins, n) predictions of ``split`` on ``info``'s windows (None: the plan's)."""
    model.eval()
    out = []
    for batch in torch.utils.data.DataLoader(session.splits[split], batch_size=batch_size, collate_fn=collate):
        with autocast(device, amp):
            x = batch.stimuli.to(device)
            y = (
                model(x, session.id)
                if info is None
                else model.windows(x, session.id, info.windows_ms, bool(info.frame_average))
            )
        out.append(y.float().cpu())
    return torch.cat(out).numpy()


def score_psth_test(model, sessions, run_dir, device, cfg) -> dict:
    """Test-split scores of a psth-target run (the ``test`` entry of metrics.json) and predictions.h5.

    Per neuron: ``pearson_r`` (and the noise-corrected values) on the per-presentation counts
    (:func:`count_set`), ``psth_pearson_r`` on the PSTH bins, and the time-course metrics of
    :func:`~snnvis.evaluation.temporal.temporal_metrics` with the mean-time-course baseline from
    the training PSTHs; summarised over all neurons, per area and per session.
    """
    per_neuron, areas, ids, written = [], [], [], {}
    amp, bs = cfg.trainer.amp, cfg.data.batch_size
    for s in sessions:
        ds = s.splits["test"]
        psth = ds.responses.numpy()
        pred = predict_windows(model, s, "test", device, amp, bs)[:, : psth.shape[1]]
        name = count_set(s, cfg.data)
        if name is None:
            counts_pred, counts, trials = pred, psth, None if ds.trials is None else ds.trials.numpy()
        else:
            rec = s.recording
            # the model predicts mean rates over each window (the count target was trained as
            # count / window length): back to counts, so scale-sensitive scores (FEVE) are in the data's unit
            counts_pred = predict_windows(model, s, "test", device, amp, bs, rec.response_info(name))
            counts_pred = counts_pred * window_seconds(rec, name)[None, :, None]
            counts, trials = rec.mean(name, ds.indices), rec.trials(name, ds.indices)
        m = neuron_metrics(counts_pred, counts, trials, seed=cfg.seed)
        for key in ("timecourse_r", "per_bin_r"):  # frame-count time courses are not the PSTH's
            m.pop(key, None)
        train_psth = s.splits["train"].responses.numpy()[:, : psth.shape[1]]
        tm = temporal_metrics(pred, psth, train_psth, seed=cfg.seed)
        m.update({k: tm[k] for k in PSTH_KEYS if k in tm})
        m["psth_pearson_r"] = pearson_per_neuron(pred, psth)
        m["latency_ms"] = model.temporal[s.id].latency_ms.detach().cpu().numpy().astype(np.float64)
        written[s.id] = SessionPredictions(
            stimulus_index=ds.indices,
            prediction=pred,
            response=psth,
            neuron_ids=s.recording.neuron_ids,
            areas=s.recording.neuron_areas,
            metrics={k: v for k, v in m.items() if k not in FLAGS},
            flags={k: v for k, v in m.items() if k in FLAGS},
            recording=str(s.recording.path),
            response_set=ds.response_info.name,
        )
        per_neuron.append(m)
        areas.append(s.recording.neuron_areas)
        ids.append(np.full(ds.n_neurons, s.id))
    write_predictions(run_dir / PREDICTIONS_FILE, written)
    keys = sorted({k for m in per_neuron for k in m})
    merged = {k: np.concatenate([m.get(k, np.full(len(m["pearson_r"]), np.nan)) for m in per_neuron]) for k in keys}
    return group_summaries(merged, np.concatenate(areas), np.concatenate(ids), seed=cfg.seed)

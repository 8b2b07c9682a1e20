"""Figures (a)-(c) of a sweep report: the data behind each (public functions) and the drawing.

(a) SNN vs twin held-out prediction accuracy from the runs' ``predictions.h5`` (needs an SNN
and a twin with the same model and seed; data: :func:`prediction_records`); (b) one layer ×
area heatmap per model and SNN/twin from the test rows of the scores (mean over seeds and
recordings; data: :func:`heatmap_rows`); (c) predicted vs recorded PSTHs when a run predicts
several time bins per stimulus (data: :func:`psth_data`, :func:`psth_context`): against ms after
stimulus onset where the bins are time windows (a PSTH target), with the recorded s.e.m. and the
fitted latency, against the frame index where they are one count per frame. Every figure
is saved as PNG and PDF (:func:`save_entry`) and listed as a :class:`FigureEntry`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.reporting.sweep import Run

FIGURES = {
    "a": "held-out prediction accuracy, SNN vs DNN twin",
    "b": "layer x brain-area similarity heatmaps",
    "c": "predicted vs recorded PSTHs",
}


@dataclass
class FigureEntry:
    """A written figure: file stem (PNG/PDF next to each other), title and caption."""

    stem: Path
    title: str
    caption: str = ""


def safe_name(name: str) -> str:
    """``name`` usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def kind_name(spiking: bool) -> str:
    """``snn`` or ``twin`` (file names)."""
    return "snn" if spiking else "twin"


def save_entry(fig, stem: Path, entries: list, title: str, caption: str) -> None:
    """Save ``fig`` as ``stem``.png/.pdf and list it in ``entries``."""
    from snnvis.figures import save_figure

    save_figure(fig, stem)
    entries.append(FigureEntry(stem, title, caption))


def first_runs(runs: Iterable[Run]) -> dict[tuple[str, bool], Run]:
    """(label, spiking) -> the run with the lowest seed."""
    out: dict[tuple[str, bool], Run] = {}
    for r in sorted(runs, key=lambda r: (r.label, not r.spiking, r.seed, r.rel)):
        out.setdefault((r.label, r.spiking), r)
    return out


def prediction_records(runs: list[Run], notes: list) -> list[dict]:
    """Data of (a): the predictions.h5 of each run (:func:`snnvis.analysis.runs.load_accuracy`) with
    its model label; a second run of the same model label, seed and kind is left out (noted)."""
    from snnvis.analysis.runs import load_accuracy

    records, seen = [], set()
    for r in runs:
        if not (r.dir / "predictions.h5").is_file():
            continue
        key = (r.label, r.seed, r.spiking)
        if key in seen:
            notes.append(f"(a): {r.rel} repeats model {r.label}, seed {r.seed}, spiking={r.spiking}; left out")
            continue
        seen.add(key)
        records.append({**load_accuracy(r.dir), "model": r.label})
    return records


def figure_prediction(runs: list[Run], out: Path, entries: list, notes: list) -> None:
    """(a): per-neuron held-out r of each SNN against its twin (same model label and seed)."""
    from snnvis.figures import prediction_accuracy

    records = prediction_records(runs, notes)
    seen = {(r["model"], r["seed"], r["spiking"]) for r in records}
    try:
        fig = prediction_accuracy(records)
    except ValueError as err:
        notes.append(f"(a) not drawn: {err}")
        return
    n_pairs = sum(1 for r in records if r["spiking"] and (r["model"], r["seed"], False) in seen)
    seeds: dict[str, int] = {}
    for r in records:
        if r["spiking"] and (r["model"], r["seed"], False) in seen:
            seeds[r["model"]] = seeds.get(r["model"], 0) + 1
    interval = (
        "mean over seeds with a t-CI across seeds (models with two or more seeds)"
        if max(seeds.values(), default=0) >= 2
        else "one seed, so no interval across seeds"
    )
    save_entry(
        fig,
        out / "a_prediction_accuracy",
        entries,
        f"(a) {FIGURES['a']}",
        f"{n_pairs} SNN/twin pair(s). Scatter: held-out Pearson r per neuron (test split), SNN vs its twin "
        f"(same model, seed and data). Bars: median r over neurons, {interval}. "
        "A constant prediction (e.g. from a silent SNN) scores r = 0. The paired test of SNN − twin "
        "(bootstrap over seeds × neurons × stimuli, permutation p) is in the paired table.",
    )


def heatmap_rows(rows: list[dict], split: str = "test") -> dict[tuple[str, bool], list[dict]]:
    """(model, spiking) -> one row per (metric, layer, area): the mean score over the seeds and
    recordings where it is defined (None where it is defined in none, e.g. a silent SNN layer),
    and ``ci_low``/``ci_high``: the mean of their scoring CIs' bounds (the CI itself for one)."""
    groups: dict[tuple, dict[tuple, list]] = {}
    for r in rows:
        if r["source"] != "scores.csv" or r["split"] != split:
            continue
        cell = groups.setdefault((r["model"], r["spiking"]), {})
        value = np.nan if r["value"] is None else float(r["value"])
        ci = [np.nan if r.get(k) is None or r.get(k) == "" else float(r[k]) for k in ("ci_low", "ci_high")]
        cell.setdefault((r["metric"], r["layer"], r["area"]), []).append((float(r["depth"]), value, *ci))

    def mean(values: list[float]) -> float | None:
        defined = [x for x in values if np.isfinite(x)]
        return float(np.mean(defined)) if defined else None

    def ci_mean(v: list[tuple], k: int) -> float | None:
        both = [x for x in v if np.isfinite(x[1]) and np.isfinite(x[2]) and np.isfinite(x[3])]
        return mean([x[k] for x in both]) if both else None

    return {
        k: [
            {
                "metric": m,
                "layer": layer,
                "area": a,
                "depth": v[0][0],
                "score": mean([x[1] for x in v]),
                "ci_low": ci_mean(v, 2),
                "ci_high": ci_mean(v, 3),
                "n": sum(np.isfinite(x[1]) for x in v),
            }
            for (m, layer, a), v in cells.items()
        ]
        for k, cells in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1]))
    }


def figure_heatmaps(rows: list[dict], out: Path, entries: list, notes: list) -> None:
    """(b): layer × area heatmaps from the scores, one figure per model and SNN/twin; the SNN and
    twin figures of a model share one colour range."""
    from snnvis.figures import similarity_heatmaps
    from snnvis.figures.similarity import shared_range

    groups = heatmap_rows(rows)
    if not groups:
        notes.append("(b) not drawn: no scores.csv with test rows (run snnvis-report --score, or snnvis-score)")
        return
    for (model, spiking), cells in groups.items():
        n = max(c["n"] for c in cells)
        vmin, vmax = shared_range(*(c for (m, _), c in groups.items() if m == model))
        kind = "SNN" if spiking else "DNN twin"
        try:
            fig = similarity_heatmaps(cells, value="score", title=f"{model}: {kind}", vmin=vmin, vmax=vmax)
        except ValueError as err:
            notes.append(f"(b) {model} {kind_name(spiking)} not drawn: {err}")
            continue
        save_entry(
            fig,
            out / f"b_heatmap_{safe_name(model)}_{kind_name(spiking)}",
            entries,
            f"(b) {model}, {kind}: {FIGURES['b']}",
            f"Raw test-split score of every candidate layer against each brain area, mean over up to {n} "
            "seed(s) x recording(s); below each value its scoring CI (with several seeds or recordings, the "
            "mean of their CIs' bounds); hatched: the CI contains 0; n/a: undefined in all of them (a layer "
            "without spikes has no RDM). The SNN and twin figures of a model share one colour range. "
            "Ceilings and the held-out layer choice are in the best-layer table.",
        )


def psth_context(run: Run, session: str, stimulus_index: np.ndarray, neuron_ids: np.ndarray, resp: np.ndarray) -> dict:
    """What the recording adds to (c), each part only where it can be read and matches the
    stored predictions: the time axis (``time_axis`` true: ``t`` = bin centres in ms after
    stimulus onset, for responses binned in time windows; false: ``t`` = bin or frame index, for
    one count per frame, never labelled in ms), the response ``units``, short stimulus labels,
    and the s.e.m. of the recorded mean over trials."""
    from snnvis.recordings.recording import Recording

    n_bins = resp.shape[1]
    out = {
        "t": np.arange(n_bins, dtype=np.float64),
        "xlabel": "bin",
        "time_axis": False,
        "units": "response",
        "stimuli": [f"test stimulus {k}" for k in stimulus_index],
        "sem": None,
    }
    s = run.metrics.get("data", {}).get("sessions", {}).get(session, {})
    try:
        rec = Recording(run.resolve(s["recording"]), validate=False)
        info = rec.response_info(s.get("response_set"))
        w = np.asarray(info.windows_ms, dtype=np.float64)
        out["units"] = info.units or "response"
        if w.shape[0] == n_bins and n_bins > 1:
            out.update(t=w.mean(axis=1), xlabel="time after stimulus onset (ms)", time_axis=True)
        elif w.shape[0] == 1 and info.align == "frame":
            out.update(xlabel="frame of the sequence")  # one count per frame: a frame axis, not ms
        out["stimuli"] = ["/".join(str(rec.stimulus_ids[k]).split("/")[-2:]) for k in stimulus_index]
        col = {n: i for i, n in enumerate(rec.neuron_ids)}
        trials = rec.trials(info.name, np.sort(stimulus_index))
        if trials is not None and all(n in col for n in neuron_ids):
            order = np.argsort(np.argsort(stimulus_index))  # back to the order of stimulus_index
            trials = trials[order][..., [col[n] for n in neuron_ids]]
            with np.errstate(invalid="ignore", divide="ignore"):
                sem = np.nanstd(trials, axis=1, ddof=1) / np.sqrt(np.sum(np.isfinite(trials), axis=1))
            if sem.shape == resp.shape and np.allclose(np.nanmean(trials, axis=1), resp, rtol=1e-4, atol=1e-4):
                out["sem"] = sem
    except (UserError, KeyError, OSError, ValueError, IndexError):
        pass
    return out


def psth_data(run: Run, n_neurons: int = 4, n_stimuli: int = 3) -> dict | None:
    """Data of (c) for one run: None when no session of its predictions.h5 predicts several bins;
    else the first such session, its first ``n_stimuli`` test stimuli and the neurons at the 100th,
    75th, 50th and 25th percentile of held-out r (``order``; ``n_ranked`` neurons with a finite r,
    0 when none has one), with :func:`psth_context` as ``ctx``. The r is the PSTH time-course r
    where the run stored one (a PSTH target), else the per-bin Pearson r (``r_name`` says which).

    Raises:
        UserError: an unreadable predictions.h5.
    """
    from snnvis.outputs import PREDICTIONS_FILE, read_predictions

    path = run.dir / PREDICTIONS_FILE
    if not path.is_file():
        return None
    fields = ("prediction", "response", "stimulus_index", "neuron_ids", "metrics")
    found = read_predictions(path, fields)
    session = next((s for s, p in found.items() if p.prediction.ndim == 3 and p.prediction.shape[1] > 1), None)
    if session is None:
        return None
    p = found[session]
    key = "psth_time_course_r" if "psth_time_course_r" in p.metrics else "pearson_r"  # a PSTH target's own r
    if key not in p.metrics:
        raise UserError(PREDICTIONS_FILE, f"session {session} has no metrics/pearson_r", path)
    pred, resp, stimulus_index = p.prediction[:n_stimuli], p.response[:n_stimuli], p.stimulus_index[:n_stimuli]
    ids, r_neuron = p.neuron_ids, np.asarray(p.metrics[key], dtype=np.float64)
    what = "time-course r" if key == "psth_time_course_r" else "r"
    data = {"session": session, "pred": pred, "resp": resp, "ids": ids, "r": r_neuron, "n_ranked": 0, "r_name": what}
    latency = p.metrics.get("latency_ms")  # per neuron, where the run fitted one
    data["latency_ms"] = None if latency is None else np.asarray(latency, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(r_neuron))
    if finite.size == 0:
        return data
    ranked = finite[np.argsort(-r_neuron[finite], kind="stable")]
    picks = np.unique(np.round(np.linspace(0, 0.75, n_neurons) * len(ranked)).astype(int))
    order = ranked[np.unique(np.minimum(picks, len(ranked) - 1))]  # each neuron once, also when few
    ctx = psth_context(run, session, stimulus_index, ids[order], resp[:, :, order])
    return {**data, "n_ranked": len(ranked), "order": order, "ctx": ctx}


def figure_psth(runs: list[Run], out: Path, entries: list, notes: list, n_neurons: int = 4, n_stimuli: int = 3) -> None:
    """(c): for each model and SNN/twin (lowest seed), when the run predicts several bins,
    predicted vs recorded PSTHs of its first session (:func:`psth_data`): in ms after onset
    (:func:`snnvis.figures.time_axis.psth_time_course`) for time-binned responses, else per frame."""
    from snnvis.figures import psth_examples
    from snnvis.figures.colors import DNN_COLOR, SNN_COLOR
    from snnvis.figures.time_axis import psth_time_course

    for (label, spiking), r in first_runs(runs).items():
        d = psth_data(r, n_neurons, n_stimuli)
        if d is None:
            continue
        session, pred, resp, ids, r_neuron = d["session"], d["pred"], d["resp"], d["ids"], d["r"]
        if not d["n_ranked"]:
            notes.append(f"(c) {label} {kind_name(spiking)} not drawn: no neuron of {session} has a held-out r")
            continue
        order, ctx = d["order"], d["ctx"]
        labels = [f"{ids[i]}\nheld-out {d['r_name']} = {r_neuron[i]:.2f}" for i in order]
        color = SNN_COLOR if spiking else DNN_COLOR
        latency = None if d["latency_ms"] is None else d["latency_ms"][order]
        if ctx["time_axis"]:
            fig = psth_time_course(
                pred[:, :, order],
                resp[:, :, order],
                ctx["t"],
                ctx["units"],
                labels,
                ctx["stimuli"],
                resp_sem=ctx["sem"],
                latency_ms=latency,
                color=color,
            )
        else:
            fig = psth_examples(
                pred[:, :, order],
                resp[:, :, order],
                ctx["t"],
                labels,
                ctx["stimuli"],
                resp_sem=ctx["sem"],
                units=ctx["units"],
                xlabel=ctx["xlabel"],
                color=color,
            )
        save_entry(
            fig,
            out / f"c_psth_{safe_name(label)}_{kind_name(spiking)}",
            entries,
            f"(c) {label}, {'SNN' if spiking else 'DNN twin'}: {FIGURES['c']}",
            f"Session {session}, seed {r.seed}: rows are the test-split neurons at the 100th, 75th, 50th and "
            f"25th percentile of held-out {d['r_name']} (median over the session's {d['n_ranked']} neurons: "
            f"{np.nanmedian(r_neuron):.2f}), columns the first {pred.shape[0]} test stimuli; black: "
            f"recorded mean ({ctx['units']})"
            + (" ± s.e.m. over trials (grey)" if ctx["sem"] is not None else "")
            + ", colour: predicted; r: correlation of the two curves in the panel; x: "
            + (
                "ms after stimulus onset" + (", dashed: the neuron's fitted latency" if latency is not None else "")
                if ctx["time_axis"]
                else f"{ctx['xlabel']} (one value per frame, not a PSTH)"
            )
            + ".",
        )

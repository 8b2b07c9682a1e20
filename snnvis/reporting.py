"""From a sweep directory to a results table, figures and an HTML report (``snnvis-report``).

A *sweep directory* holds training runs (any folder with a ``metrics.json``, e.g. the
subdirectories of a Hydra multirun) and/or scoring runs (any ``scores.csv``). Scores
written into a run's ``score/`` folder (:func:`score_runs`, ``snnvis-report --score``)
belong to that run; a ``scores.csv`` outside any run is reported on its own.

Outputs of :func:`make_report` (in ``out``):

``results.csv``
    One row per run × section × level × key × metric (the columns are
    :data:`RESULT_COLUMNS`):

    ===============  ==========================================================
    run_dir          the run (or scoring) folder, relative to the sweep directory
    source           ``metrics.json`` or ``scores.csv``
    model            model label: the model config (e.g. ``sew_resnet_tiny``), plus any
                     override other than ``model.spiking``/``seed`` that differs
                     between the sweep's runs (SNN and twin share it)
    architecture     encoder name in the run (``model.name``)
    spiking          True: SNN; False: its DNN twin
    seed, config_hash
    section          ``test`` / ``baseline`` (held-out prediction), ``validation``,
                     ``run`` (wall time, parameter counts) or ``scores``
    level            ``overall`` / ``area`` / ``session`` for metrics.json rows;
                     ``layer`` for scores.csv rows
    key              ``all``, the area, the session id, or the layer name
    metric           e.g. ``pearson_r_median``, ``feve_mean``, ``wall_s``; for
                     scores the similarity metric (``rsa``, ``ridge``, ...)
    value            the number (empty when not finite)
    ci_low, ci_high  95 % bootstrap CI over neurons (metrics.json ``*_ci95``) or the
                     scoring CI over stimuli/neurons
    n                neurons summarised (metrics.json) or scored (scores.csv)
    recording ...    scores.csv only: recording, target, layer, depth, layer_area,
                     area, split, ceiling, ceiling_lower, normalized, selection,
                     chosen, method, ceiling_kind, n_stimuli, score_source
    p_value, test    section ``paired`` only (one set of rows per model over all its seeds, overall
                     and per session): ``pearson_r_diff_mean`` (SNN − twin, mean over neurons of
                     the seed-averaged per-neuron difference, with a seeds × neurons × stimuli
                     bootstrap CI and the p-value of SNN/twin swapped per seed × stimulus;
                     ``test`` names it), ``p_value_seeds`` (whole runs swapped per seed),
                     ``pearson_r_diff_median``, ``pearson_r_median_snn``/``_twin``, ``n_seeds``;
                     ``seed`` lists the paired seeds (:mod:`snnvis.reporting_paired`)
    ===============  ==========================================================

Figures (PNG and PDF, see :data:`FIGURES`): (a) SNN vs twin held-out prediction
accuracy from the runs' ``predictions.h5`` (needs an SNN and a twin with the same model
and seed); (b) one layer × area heatmap per model and SNN/twin from the test rows of
the scores (mean over seeds and recordings); (c) predicted vs recorded PSTHs when a
run predicts several time bins per stimulus. ``report.html`` shows the tables and
every figure (relative links, no external resources).
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnvis.errors import UserError
from snnvis.reporting_output import check_out_dir, incomplete_runs, replace_report_files
from snnvis.reporting_score import SCORE_DIR, score_runs  # noqa: F401  (re-exported: snnvis.reporting.score_runs)
from snnvis.utils import atomic_path, read_csv_rows

RESULT_COLUMNS = [
    "run_dir", "source", "model", "architecture", "spiking", "seed", "config_hash", "section", "level", "key",
    "metric", "value", "ci_low", "ci_high", "n",
    "recording", "target", "layer", "depth", "layer_area", "area", "split", "ceiling", "ceiling_lower",
    "normalized", "selection", "chosen", "method", "ceiling_kind", "n_stimuli", "score_source", "p_value", "test",
]
FIGURES = {
    "a": "held-out prediction accuracy, SNN vs DNN twin",
    "b": "layer x brain-area similarity heatmaps",
    "c": "predicted vs recorded PSTHs",
}
_NOT_IN_LABEL = {"model", "model.spiking", "seed", "sweep", "experiment"}


# ---------------------------------------------------------------------------------------
# Reading runs and scores
# ---------------------------------------------------------------------------------------

@dataclass
class Run:
    """One training run of a sweep."""

    dir: Path
    rel: str
    metrics: dict
    architecture: str
    spiking: bool
    seed: int
    config_hash: str
    model_config: str                      # the model config chosen (e.g. sew_resnet_tiny)
    overrides: dict = field(default_factory=dict)
    label_excluded: set = field(default_factory=set)
    cwd: Path | None = None                # where the run was launched (relative paths start there)
    label: str = ""

    def resolve(self, path: str | Path) -> Path:
        """A path written by the run (e.g. a recording), made absolute from the run's cwd."""
        p = Path(path)
        if p.is_absolute() or self.cwd is None or p.exists():
            return p
        return self.cwd / p


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise UserError("metrics.json", f"cannot read ({err.strerror or err})", path) from None
    except ValueError as err:
        raise UserError("metrics.json", f"not valid JSON ({err})", path) from None
    if not isinstance(data, dict):
        raise UserError("metrics.json", "not a JSON object", path)
    return data


def _hydra_info(run_dir: Path) -> tuple[str | None, dict, set, Path | None]:
    """(model config choice, task overrides {key: value}, keys left out of dir names, cwd)
    from the run's ``.hydra/`` files; empty when the run was not launched by Hydra."""
    hydra_dir = run_dir / ".hydra"
    choice, overrides, excluded, cwd = None, {}, set(), None
    try:
        from omegaconf import OmegaConf

        if (hydra_dir / "hydra.yaml").is_file():
            h = OmegaConf.load(hydra_dir / "hydra.yaml").hydra
            choice = h.runtime.choices.get("model")
            cwd = Path(h.runtime.cwd) if h.runtime.get("cwd") else None
            excluded = set(h.job.config.override_dirname.exclude_keys or [])
        if (hydra_dir / "overrides.yaml").is_file():
            for line in OmegaConf.load(hydra_dir / "overrides.yaml") or []:
                key, _, value = str(line).partition("=")
                overrides[key.lstrip("+~")] = value
    except Exception:                       # a damaged .hydra folder only costs the nicer label
        pass
    return choice, overrides, excluded, cwd


def load_run(run_dir: Path, root: Path) -> Run:
    """Read ``run_dir/metrics.json`` (and ``.hydra/``) into a :class:`Run`.

    Raises:
        UserError: unreadable or incomplete metrics.json.
    """
    path = run_dir / "metrics.json"
    m = _read_json(path)
    try:
        model, run = m["model"], m["run"]
        arch = str(model.get("encoder", model["name"]))
        spiking, seed, chash = bool(model["spiking"]), int(run["seed"]), str(run["config_hash"])
        if not isinstance(m["test"]["overall"], dict):
            raise TypeError("test.overall is not an object")
    except (KeyError, TypeError, ValueError) as err:
        raise UserError("metrics.json", f"missing or bad entry {err}", path) from None
    choice, overrides, excluded, cwd = _hydra_info(run_dir)
    choice = choice or overrides.get("model") or m["model"]["name"]
    return Run(run_dir, _rel(run_dir, root), m, arch, spiking, seed, chash, str(choice), overrides, excluded, cwd)


def _rel(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(path)


def _assign_labels(runs: list[Run]) -> None:
    """label = model config + the overrides (other than spiking/seed) that differ between runs."""
    keys = set()
    for r in runs:
        keys |= {k for k in r.overrides if k not in _NOT_IN_LABEL and k not in r.label_excluded
                 and not k.startswith("hydra")}
    varying = sorted(k for k in keys if len({r.overrides.get(k) for r in runs}) > 1)
    for r in runs:
        extra = ",".join(f"{k}={r.overrides.get(k, '-')}" for k in varying)
        r.label = f"{r.model_config}[{extra}]" if extra else r.model_config


def load_scores(path: Path) -> list[dict]:
    """Rows of a scores.csv (strings), checked for the columns the report needs."""
    need = ("model", "spiking", "seed", "layer", "depth", "area", "metric", "split", "score")
    return read_csv_rows(path, need, "scores.csv")


@dataclass
class Sweep:
    """Everything found under a sweep directory."""

    root: Path
    runs: list[Run]
    scores: list[tuple[Path, Run | None, list[dict]]]   # (scores.csv, owning run or None, rows)
    incomplete: list[str] = field(default_factory=list)  # run dirs without metrics.json, relative to root


def find_sweep(sweep_dir: str | Path, exclude: Path | None = None) -> Sweep:
    """Every run (``metrics.json``) and score table (``scores.csv``) under ``sweep_dir``.

    Raises:
        UserError: missing directory, nothing found, or an unreadable file.
    """
    root = Path(sweep_dir)
    if not root.is_dir():
        raise UserError("sweep directory", "not found", root)

    def keep(p: Path) -> bool:
        return exclude is None or exclude.resolve() not in p.resolve().parents

    run_dirs = sorted(p.parent for p in root.rglob("metrics.json") if keep(p))
    score_files = sorted(p for p in root.rglob("scores.csv") if keep(p))
    incomplete = [_rel(d, root) for d in incomplete_runs(root, exclude)]
    if not run_dirs and not score_files:
        if incomplete:
            more = ", ..." if len(incomplete) > 3 else ""
            raise UserError("sweep directory", f"no finished runs: {len(incomplete)} incomplete (no metrics.json): "
                                               f"{', '.join(incomplete[:3])}{more}", root)
        raise UserError("sweep directory", "no runs found (no metrics.json or scores.csv below it)", root)
    runs = [load_run(d, root) for d in run_dirs]
    _assign_labels(runs)
    by_dir = {r.dir.resolve(): r for r in runs}
    scores = []
    for p in score_files:
        owner = next((by_dir[a] for a in p.resolve().parents if a in by_dir), None)
        scores.append((p, owner, load_scores(p)))
    return Sweep(root, runs, scores, incomplete)


# ---------------------------------------------------------------------------------------
# The tidy results table
# ---------------------------------------------------------------------------------------

def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _summary_rows(base: dict, section: str, level: str, key: str, summary: dict) -> list[dict]:
    rows = []
    for name, value in summary.items():
        if name.endswith("_ci95") or name == "n_neurons" or isinstance(value, (dict, list)):
            continue
        ci = summary.get(f"{name}_ci95") or [None, None]
        rows.append({**base, "section": section, "level": level, "key": key, "metric": name, "value": _num(value),
                     "ci_low": _num(ci[0]), "ci_high": _num(ci[1]), "n": summary.get("n_neurons")})
    return rows


def run_rows(run: Run) -> list[dict]:
    """The metrics.json of one run as tidy rows."""
    base = {"run_dir": run.rel, "source": "metrics.json", "model": run.label, "architecture": run.architecture,
            "spiking": run.spiking, "seed": run.seed, "config_hash": run.config_hash}
    rows = []
    for section in ("test", "baseline"):
        s = run.metrics.get(section)
        if not isinstance(s, dict):
            continue
        if isinstance(s.get("overall"), dict):
            rows += _summary_rows(base, section, "overall", "all", s["overall"])
        for key, summ in s.items():
            if key not in ("overall", "sessions") and isinstance(summ, dict):
                rows += _summary_rows(base, section, "area", key, summ)
        for key, summ in (s.get("sessions") or {}).items():
            if isinstance(summ, dict):
                rows += _summary_rows(base, section, "session", key, summ)
    val = run.metrics.get("validation") or {}
    rows += [{**base, "section": "validation", "level": "overall", "key": "all", "metric": k, "value": _num(v)}
             for k, v in val.items() if not isinstance(v, (dict, list))]
    facts = {"wall_s": run.metrics["run"].get("wall_s"), "n_params": run.metrics["model"].get("n_params"),
             "n_params_with_readouts": run.metrics["model"].get("n_params_with_readouts")}
    rows += [{**base, "section": "run", "level": "overall", "key": "all", "metric": k, "value": _num(v)}
             for k, v in facts.items() if v is not None]
    return rows


def _bool(x) -> bool:
    return str(x).strip().lower() in ("true", "1", "yes")


def score_rows(sweep: Sweep) -> list[dict]:
    """Every scores.csv row as a tidy row (score -> value; model label of the owning run)."""
    rows = []
    for path, owner, table in sweep.scores:
        for r in table:
            rows.append({
                "run_dir": owner.rel if owner else _rel(path.parent, sweep.root), "source": "scores.csv",
                "model": owner.label if owner else r["model"], "architecture": r["model"],
                "spiking": _bool(r["spiking"]),
                "seed": owner.seed if owner else int(float(r["seed"])) if _num(r["seed"]) is not None else "",
                "config_hash": owner.config_hash if owner else "", "section": "scores", "level": "layer",
                "key": r["layer"], "metric": r["metric"], "value": _num(r["score"]),
                "ci_low": _num(r.get("ci_low")), "ci_high": _num(r.get("ci_high")), "n": r.get("n_neurons", ""),
                **{c: r.get(c, "") for c in ("recording", "target", "layer", "depth", "layer_area", "area", "split",
                                             "selection", "method", "ceiling_kind", "n_stimuli")},
                **{c: _num(r.get(c)) for c in ("ceiling", "ceiling_lower", "normalized")},
                "chosen": _bool(r.get("chosen", "")), "score_source": r.get("source", ""),
            })
    return rows


def results_rows(sweep: Sweep, paired: Sequence = ()) -> list[dict]:
    """Every row of results.csv; ``paired``: the :class:`snnvis.training.summary.PairedRow` of the sweep."""
    from snnvis.reporting_paired import paired_csv_rows

    rows = []
    for run in sweep.runs:
        rows += run_rows(run)
    return rows + score_rows(sweep) + paired_csv_rows(paired)


def _csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_csv(path: Path, rows: list[dict], columns: Sequence[str] = RESULT_COLUMNS) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_value(r.get(c)) for c in columns])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
    return path


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------

@dataclass
class FigureEntry:
    """A written figure: file stem (PNG/PDF next to each other), title and caption."""

    stem: Path
    title: str
    caption: str = ""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _kind(spiking: bool) -> str:
    return "snn" if spiking else "twin"


def _save(fig, stem: Path, entries: list, title: str, caption: str) -> None:
    from snnvis.figures import save_figure

    save_figure(fig, stem)
    entries.append(FigureEntry(stem, title, caption))


def _first_runs(runs: Iterable[Run]) -> dict[tuple[str, bool], Run]:
    """(label, spiking) -> the run with the lowest seed."""
    out: dict[tuple[str, bool], Run] = {}
    for r in sorted(runs, key=lambda r: (r.label, not r.spiking, r.seed, r.rel)):
        out.setdefault((r.label, r.spiking), r)
    return out


def figure_prediction(runs: list[Run], out: Path, entries: list, notes: list) -> None:
    """(a): per-neuron held-out r of each SNN against its twin (same model label and seed)."""
    from snnvis.analysis.runs import load_run as load_predictions
    from snnvis.figures import prediction_accuracy

    records, seen = [], set()
    for r in runs:
        if not (r.dir / "predictions.h5").is_file():
            continue
        key = (r.label, r.seed, r.spiking)
        if key in seen:
            notes.append(f"(a): {r.rel} repeats model {r.label}, seed {r.seed}, spiking={r.spiking}; left out")
            continue
        seen.add(key)
        records.append({**load_predictions(r.dir), "model": r.label})
    try:
        fig = prediction_accuracy(records)
    except ValueError as err:
        notes.append(f"(a) not drawn: {err}")
        return
    n_pairs = sum(1 for r in records if r["spiking"] and (r["model"], r["seed"], False) in seen)
    _save(fig, out / "a_prediction_accuracy", entries, f"(a) {FIGURES['a']}",
          f"{n_pairs} SNN/twin pair(s). Scatter: held-out Pearson r per neuron (test split), SNN vs its twin "
          "(same model, seed and data). Bars: median r over neurons, mean over seeds with a t-CI across seeds. "
          "A constant prediction (e.g. from a silent SNN) scores r = 0. The paired test of SNN − twin "
          "(bootstrap over seeds × neurons × stimuli, permutation p) is in the paired table.")


def heatmap_rows(rows: list[dict], split: str = "test") -> dict[tuple[str, bool], list[dict]]:
    """(model, spiking) -> one row per (metric, layer, area): the mean score over the seeds and
    recordings where it is defined (None where it is defined in none, e.g. a silent SNN layer)."""
    groups: dict[tuple, dict[tuple, list]] = {}
    for r in rows:
        if r["source"] != "scores.csv" or r["split"] != split:
            continue
        cell = groups.setdefault((r["model"], r["spiking"]), {})
        value = np.nan if r["value"] is None else float(r["value"])
        cell.setdefault((r["metric"], r["layer"], r["area"]), []).append((float(r["depth"]), value))

    def mean(values: list[float]) -> float | None:
        defined = [x for x in values if np.isfinite(x)]
        return float(np.mean(defined)) if defined else None

    return {k: [{"metric": m, "layer": layer, "area": a, "depth": v[0][0], "score": mean([x for _, x in v]),
                 "n": sum(np.isfinite(x) for _, x in v)} for (m, layer, a), v in cells.items()]
            for k, cells in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][1]))}


def figure_heatmaps(rows: list[dict], out: Path, entries: list, notes: list) -> None:
    """(b): layer × area heatmaps from the scores, one figure per model and SNN/twin."""
    from snnvis.figures import similarity_heatmaps

    groups = heatmap_rows(rows)
    if not groups:
        notes.append("(b) not drawn: no scores.csv with test rows (run snnvis-report --score, or snnvis-score)")
        return
    for (model, spiking), cells in groups.items():
        n = max(c["n"] for c in cells)
        try:
            fig = similarity_heatmaps(cells, value="score")
        except ValueError as err:
            notes.append(f"(b) {model} {_kind(spiking)} not drawn: {err}")
            continue
        _save(fig, out / f"b_heatmap_{_safe(model)}_{_kind(spiking)}", entries,
              f"(b) {model}, {'SNN' if spiking else 'DNN twin'}: {FIGURES['b']}",
              f"Raw test-split score of every candidate layer against each brain area, mean over up to {n} "
              "seed(s) x recording(s); n/a: undefined in all of them (a layer without spikes has no RDM). "
              "Ceilings and the held-out layer choice are in the best-layer table.")


def _psth_context(run: Run, session: str, stimulus_index: np.ndarray, neuron_ids: np.ndarray,
                  resp: np.ndarray) -> dict:
    """What the recording adds to (c), each part only where it can be read and matches the
    stored predictions: bin centres in ms from sequence onset (else bin indices), short
    stimulus labels, and the s.e.m. of the recorded mean over trials."""
    from snnvis.recordings.recording import Recording

    n_bins = resp.shape[1]
    out = {"t": np.arange(n_bins, dtype=np.float64), "xlabel": "bin",
           "stimuli": [f"test stimulus {k}" for k in stimulus_index], "sem": None}
    s = run.metrics.get("data", {}).get("sessions", {}).get(session, {})
    try:
        rec = Recording(run.resolve(s["recording"]), validate=False)
        info = rec.response_info(s.get("response_set"))
        w = np.asarray(info.windows_ms, dtype=np.float64)
        if w.shape[0] == n_bins:
            out.update(t=w.mean(axis=1), xlabel="time (ms)")
        elif w.shape[0] == 1 and info.align == "frame":
            _, interval = rec.frame_timing()
            if np.isfinite(interval):
                out.update(t=np.arange(n_bins) * interval + w[0].mean(), xlabel="time (ms)")
        out["stimuli"] = ["/".join(str(rec.stimulus_ids[k]).split("/")[-2:]) for k in stimulus_index]
        col = {n: i for i, n in enumerate(rec.neuron_ids)}
        trials = rec.trials(info.name, np.sort(stimulus_index))
        if trials is not None and all(n in col for n in neuron_ids):
            order = np.argsort(np.argsort(stimulus_index))          # back to the order of stimulus_index
            trials = trials[order][..., [col[n] for n in neuron_ids]]
            with np.errstate(invalid="ignore", divide="ignore"):
                sem = np.nanstd(trials, axis=1, ddof=1) / np.sqrt(np.sum(np.isfinite(trials), axis=1))
            if sem.shape == resp.shape and np.allclose(np.nanmean(trials, axis=1), resp, rtol=1e-4, atol=1e-4):
                out["sem"] = sem
    except (UserError, KeyError, OSError, ValueError, IndexError):
        pass
    return out


def figure_psth(runs: list[Run], out: Path, entries: list, notes: list, n_neurons: int = 4,
                n_stimuli: int = 3) -> None:
    """(c): for each model and SNN/twin (lowest seed), when the run predicts several bins,
    predicted vs recorded PSTHs of its first session: the neurons at the 100th, 75th, 50th
    and 25th percentile of held-out r, each for the first test sequences."""
    import h5py

    from snnvis.figures import psth_examples
    from snnvis.figures._common import DNN_COLOR, SNN_COLOR

    for (label, spiking), r in _first_runs(runs).items():
        path = r.dir / "predictions.h5"
        if not path.is_file():
            continue
        try:
            with h5py.File(path, "r") as f:
                session = next((s for s in f if f[s]["prediction"].ndim == 3 and f[s]["prediction"].shape[1] > 1),
                               None)
                if session is None:
                    continue
                g = f[session]
                pred, resp = g["prediction"][:n_stimuli], g["response"][:n_stimuli]
                stimulus_index = g["stimulus_index"][:n_stimuli]
                ids = g["neuron_ids"].asstr()[()]
                r_neuron = np.asarray(g["metrics/pearson_r"][()], dtype=np.float64)
        except (OSError, KeyError) as err:
            raise UserError("predictions.h5", f"cannot read ({err})", path) from None
        finite = np.flatnonzero(np.isfinite(r_neuron))
        if finite.size == 0:
            notes.append(f"(c) {label} {_kind(spiking)} not drawn: no neuron of {session} has a held-out r")
            continue
        ranked = finite[np.argsort(-r_neuron[finite], kind="stable")]
        picks = np.unique(np.round(np.linspace(0, 0.75, n_neurons) * len(ranked)).astype(int))
        order = ranked[np.minimum(picks, len(ranked) - 1)]
        ctx = _psth_context(r, session, stimulus_index, ids[order], resp[:, :, order])
        fig = psth_examples(pred[:, :, order], resp[:, :, order], ctx["t"],
                            [f"{ids[i]}\nheld-out r = {r_neuron[i]:.2f}" for i in order], ctx["stimuli"],
                            resp_sem=ctx["sem"], xlabel=ctx["xlabel"], color=SNN_COLOR if spiking else DNN_COLOR)
        _save(fig, out / f"c_psth_{_safe(label)}_{_kind(spiking)}", entries,
              f"(c) {label}, {'SNN' if spiking else 'DNN twin'}: {FIGURES['c']}",
              f"Session {session}, seed {r.seed}: rows are the test-split neurons at the 100th, 75th, 50th and "
              f"25th percentile of held-out r (median over the session's {len(ranked)} neurons: "
              f"{np.nanmedian(r_neuron):.2f}), columns the first {pred.shape[0]} test sequences; black: recorded "
              "mean" + (" ± s.e.m. over trials (grey)" if ctx["sem"] is not None else "") +
              ", colour: predicted; r: correlation of the two curves in the panel.")


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}figure{margin:1.5em 0}
figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
.note{color:#8a5300}code{background:#f5f5f5;padding:0 .2em}
"""


class Raw(str):
    """Table cell HTML that is inserted as it is (not escaped)."""


def _cell(v, digits: int = 3) -> str:
    if isinstance(v, Raw):
        return v
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else "–"
    return html.escape(str(v))


def html_table(header: Sequence[str], rows: Sequence[Sequence], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned (text)."""
    def tr(cells, tag):
        cls = ' class="l"'
        return "<tr>" + "".join(f"<{tag}{cls if i < left else ''}>{c}</{tag}>" for i, c in enumerate(cells)) + "</tr>"
    body = [tr([html.escape(h) for h in header], "th")] + [tr([_cell(c) for c in row], "td") for row in rows]
    return "<table>\n" + "\n".join(body) + "\n</table>"


def render_html(path: Path, title: str, intro: str, sections: Sequence[tuple[str, str]],
                figures: Sequence[FigureEntry], notes: Sequence[str] = ()) -> Path:
    """Write a self-contained report: ``sections`` are (heading, HTML), then every figure
    (PNG shown, PDF linked, both by paths relative to ``path``), then notes."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>", intro]
    for heading, body in sections:
        parts += [f"<h2>{html.escape(heading)}</h2>", body]
    if figures:
        parts.append("<h2>Figures</h2>")
    for fig in figures:
        png = Path(_rel(fig.stem.with_suffix(".png"), path.parent))
        pdf = Path(_rel(fig.stem.with_suffix(".pdf"), path.parent))
        parts.append(f"<figure><img src=\"{html.escape(png.as_posix())}\" alt=\"{html.escape(fig.title)}\">"
                     f"<figcaption><b>{html.escape(fig.title)}.</b> {html.escape(fig.caption)} "
                     f"(<a href=\"{html.escape(pdf.as_posix())}\">PDF</a>)</figcaption></figure>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li class=\"note\">{html.escape(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</body></html>\n")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path


def _get(run: Run, *keys):
    node = run.metrics
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    return node


def runs_table(runs: list[Run]) -> str:
    rows = []
    for r in sorted(runs, key=lambda r: (r.label, not r.spiking, r.seed)):
        o = _get(r, "test", "overall") or {}
        ci = o.get("pearson_r_median_ci95") or [None, None]
        rows.append([r.label, "SNN" if r.spiking else "twin", r.seed, o.get("n_neurons"),
                     _num(o.get("pearson_r_median")),
                     f"{_cell(_num(ci[0]))} – {_cell(_num(ci[1]))}" if ci[0] is not None else "–",
                     _num(o.get("pearson_r_mean")), _num(o.get("feve_median")),
                     _num(_get(r, "baseline", "overall", "pearson_r_median")), _get(r, "validation", "best_epoch"),
                     _get(r, "model", "n_params"), _num(_get(r, "run", "wall_s")),
                     Raw(f"<code>{html.escape(r.rel)}</code>")])
    return html_table(["model", "kind", "seed", "neurons", "median r", "95% CI", "mean r", "median FEVE",
                       "ridge on untrained core: median r", "best epoch", "core params", "wall s", "run"], rows, left=2)


def best_layers_table(rows: list[dict]) -> str:
    """Chosen layers (held-out choice) from the scores: test score, CI, ceiling, normalised."""
    chosen = [r for r in rows if r["source"] == "scores.csv" and r["chosen"] and r["split"] == "test"]
    chosen.sort(key=lambda r: (r["model"], not r["spiking"], str(r["seed"]), r["recording"], r["area"], r["metric"]))
    out = [[r["model"], "SNN" if r["spiking"] else "twin", r["seed"], r["recording"], r["area"], r["metric"],
            r["layer"], r["value"], f"{_cell(r['ci_low'])} – {_cell(r['ci_high'])}", r["ceiling"], r["normalized"]]
           for r in chosen]
    return html_table(["model", "kind", "seed", "recording", "area", "metric", "chosen layer", "test score", "CI",
                       "ceiling", "normalized"], out, left=2) if out else "<p>No scores.</p>"


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------

@dataclass
class Report:
    out: Path
    results_csv: Path
    html: Path
    n_runs: int
    n_rows: int
    figures: list[FigureEntry]
    notes: list[str]
    incomplete: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)   # files of the previous report no longer produced


def make_report(sweep_dir: str | Path, out: str | Path | None = None, score: bool = False,
                score_overrides: Sequence[str] = (), log=print) -> Report:
    """Gather a sweep's runs and scores into ``results.csv``, figures and ``report.html``.

    Args:
        sweep_dir: folder searched recursively for ``metrics.json`` and ``scores.csv``.
        out: output folder (default ``<sweep_dir>/report``); it is only written to once
            the whole report has been made (files of the same names are replaced).
        score: first score every run without up-to-date scores (:func:`score_runs`).
        score_overrides: Hydra overrides of configs/score.yaml for that.

    Raises:
        UserError: no runs, or unreadable metrics.json / scores.csv / predictions.h5.
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / "report"
    check_out_dir(out)
    sweep = find_sweep(sweep_dir, exclude=out)
    if score and sweep.runs:
        if score_runs(sweep.runs, score_overrides, log=log):
            sweep = find_sweep(sweep_dir, exclude=out)
    from snnvis.reporting_paired import paired_for_runs, paired_html

    notes: list[str] = [f"incomplete: {d} (no metrics.json)" for d in sweep.incomplete]
    paired = paired_for_runs(sweep.runs, notes)
    rows = results_rows(sweep, paired)
    import matplotlib

    matplotlib.use("Agg")
    entries: list[FigureEntry] = []
    # Everything is written to a staging folder first and moved into ``out`` at the end,
    # so a report that fails half-way (e.g. an unreadable predictions.h5) touches nothing.
    stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        if sweep.runs:
            figure_prediction(sweep.runs, stage, entries, notes)
        figure_heatmaps(rows, stage, entries, notes)
        if sweep.runs:
            figure_psth(sweep.runs, stage, entries, notes)
        write_csv(stage / "results.csv", rows)
        n_scored = sum(1 for _, owner, _ in sweep.scores if owner is not None)
        intro = (f"<p>Sweep <code>{html.escape(str(sweep_dir))}</code>: {len(sweep.runs)} training run(s), "
                 f"{len(sweep.scores)} score table(s) ({n_scored} of trained runs). All values are on held-out "
                 "test stimuli. Every number is in <a href=\"results.csv\">results.csv</a> (one row per run × "
                 "section × level × key × metric; columns in snnvis/reporting.py).</p>")
        sections = []
        if sweep.runs:
            sections += [("Runs", runs_table(sweep.runs)),
                         ("SNN vs DNN twin, paired", paired_html(paired, html_table))]
        if sweep.incomplete:
            sections.append(("Incomplete runs (no metrics.json; left out of every table)",
                             "<ul>" + "".join(f"<li><code>{html.escape(d)}</code></li>" for d in sweep.incomplete)
                             + "</ul>"))
        if sweep.scores:
            sections.append(("Brain similarity: held-out best layer per area and metric", best_layers_table(rows)))
        render_html(stage / "report.html", f"snnvis report: {sweep_dir.resolve().name}", intro, sections, entries,
                    notes)
        removed = replace_report_files(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    entries = [FigureEntry(out / e.stem.name, e.title, e.caption) for e in entries]
    results, page = out / "results.csv", out / "report.html"
    return Report(out, results, page, len(sweep.runs), len(rows), entries, notes, sweep.incomplete, removed)

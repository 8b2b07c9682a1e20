"""Figures (d)-(f) of ``scripts/reproduce_figures.py``: the data behind each (public functions) and the drawing.

(d) Hénaff et al. 2021 curvature: V1 vs pixel curvature of the natural and synthetic sequences,
    the authors' per-sequence table overlaid, and the curvature of model layers
    (:func:`curvature_data`, :func:`curvature_deltas`).
(e) Kriegeskorte et al. 2008: reference IT RDMs next to the IT-mapped layer's RDM of each model,
    with RSA scores, bootstrap CIs and the subjects' noise ceiling (:func:`kriegeskorte_data`).
(f) TSRSA between model layers and V1 as frames are shuffled within windows (:func:`tsrsa_data`).

Models are :class:`snnvis.analysis.models.Model` (:func:`load_models`: an untrained SNN and twin
plus trained runs of a sweep, :func:`trained_models`); the layers shown are chosen a priori from
the layer-to-area map (:func:`pick_layers`, :func:`area_layer`), never on the data. Each figure
function saves PNG + PDF, lists the figure in ``entries`` and writes its numbers as CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from snnvis.reporting.figures import first_runs, save_entry
from snnvis.reporting.sweep import find_sweep

IT_REFERENCES = (("monkey_IT", "monkey IT"), ("human_IT", "human IT"))  # (e): reference RDMs and their titles


def write_rows(path: Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) as a CSV file; nothing when there are none."""
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------
# Models and their layers
# ---------------------------------------------------------------------------------------


def pick_layers(core, areas: Sequence[str] = ("V1",), deepest: bool = True) -> list:
    """The first layer mapped to each of ``areas`` (a priori, no selection on data), plus
    the deepest layer; in depth order, without repeats."""
    specs = core.candidate_layers()
    chosen = [next((s for s in specs if s.area == a), None) for a in areas]
    chosen = [s for s in chosen if s is not None]
    if deepest or not chosen:
        chosen.append(specs[-1])
    seen, out = set(), []
    for s in sorted(chosen, key=lambda s: s.depth):
        if s.name not in seen:
            seen.add(s.name)
            out.append(s)
    return out


def area_layer(core, area: str):
    """The deepest layer mapped to ``area`` (else the deepest layer)."""
    specs = core.candidate_layers()
    matching = [s for s in specs if s.area == area]
    return (matching or specs)[-1]


TIME_TARGETS = ("temporal", "psth")  # data.target of runs trained on time courses


def trained_models(sweeps: Sequence[Path], temporal: bool, quick: bool) -> list[tuple[str, Path]]:
    """(label, run dir): per sweep, model and SNN/twin, the run with the lowest seed, of the
    runs trained on time courses (``temporal``: ``data.target`` temporal or psth) or on static
    images; ``quick``: one model per sweep."""
    out = []
    for sweep in sweeps:
        runs = [
            r
            for r in find_sweep(sweep).runs
            if (r.dir / "checkpoints" / "best.pt").is_file()
            and (r.metrics.get("data", {}).get("target") in TIME_TARGETS) == temporal
        ]
        first = first_runs(runs)
        labels = sorted({label for label, _ in first})[: 1 if quick else None]
        out += [
            (f"{'SNN' if s else 'twin'} {label} (trained)", r.dir) for (label, s), r in first.items() if label in labels
        ]
    return out


def load_models(untrained_cfg, trained: Sequence[tuple[str, Path]], calibration) -> list:
    """An untrained SNN and twin from the model config ``untrained_cfg`` (seed 0, BatchNorm
    calibrated on ``calibration``), then the cores of the ``trained`` runs."""
    from snnvis.analysis.models import load_model

    models = []
    for spiking in (True, False):
        cfg = untrained_cfg.copy()
        cfg.spiking = spiking
        models.append(load_model(f"{'SNN' if spiking else 'twin'} (untrained)", cfg, seed=0, calibration=calibration))
    models += [load_model(label, checkpoint=path) for label, path in trained]
    return models


# ---------------------------------------------------------------------------------------
# (d) Hénaff curvature
# ---------------------------------------------------------------------------------------


def curvature_deltas(
    model, rec, records: Sequence[dict], layers: Sequence[str], frame_step: int = 1, **kwargs
) -> dict[str, dict[str, list[float]]]:
    """{"<model> <layer>": {category: [layer curvature - pixel curvature, ...]}} for the
    sequences of ``records`` (from :func:`snnvis.analysis.henaff.session_curvatures` on
    ``rec``), in degrees."""
    from snnvis.analysis.curvature import mean_angle
    from snnvis.analysis.models import load_sequences, sequence_trajectories

    pos = {str(s): i for i, s in enumerate(rec.stimulus_ids)}
    idx = [pos[r["stimulus_id"]] for r in records]
    traj = sequence_trajectories(model, load_sequences(rec, idx, model.core.input_size), layers, **kwargs)
    out = {}
    for name, t in traj.items():
        curv = mean_angle(t, frame_step)
        by_cat: dict[str, list[float]] = {}
        for r, c in zip(records, curv, strict=True):
            by_cat.setdefault(r["category"], []).append(float(c) - r["pixel_curvature"])
        out[f"{model.label} {name}"] = by_cat
    return out


def curvature_data(recs: Sequence, models: Sequence, authors_table: Path | None) -> dict:
    """Data of (d): ``records`` (per sequence of every recording), ``authors`` (their table's
    rows for these sessions, dither 1; None without the table) and ``deltas`` (model layers on
    the first recording's sequences, :func:`curvature_deltas`)."""
    from snnvis.analysis.henaff import load_authors_table, session_curvatures

    records = [r for rec in recs for r in session_curvatures(rec.path)]
    authors = None
    if authors_table is not None and authors_table.is_file():
        sessions = {rec.id for rec in recs}
        authors = [r for r in load_authors_table(authors_table) if r["dither"] == 1 and r["session"] in sessions]
    first = [r for r in records if r["session"] == recs[0].id]
    deltas = {}
    for m in models:
        deltas.update(curvature_deltas(m, recs[0], first, [s.name for s in pick_layers(m.core)]))
    return {"records": records, "authors": authors, "deltas": deltas}


def figure_curvature(recs, authors_table: Path | None, models, out: Path, entries: list, notes: list) -> list[dict]:
    """(d), with ``d_curvature_records.csv`` and ``d_model_curvature.csv``; returns the records."""
    from snnvis.analysis.henaff import summary
    from snnvis.figures import curvature_reproduction

    data = curvature_data(recs, models, authors_table)
    records, authors, deltas = data["records"], data["authors"], data["deltas"]
    if authors is None:
        notes.append(
            "(d): the authors' table (henaff2021_v1/curvature/acute_combined_235x.csv) was not found in "
            "the mirror; drawn without it"
        )
    fig = curvature_reproduction(records, authors, deltas)
    stats = summary(records)
    text = "; ".join(
        f"{c}: median Δ {s['median']:+.1f}° [{s['ci_low']:+.1f}, {s['ci_high']:+.1f}] (n={s['n']})"
        for c, s in stats.items()
    )
    if authors:
        a = summary(authors)
        text += ". Authors: " + "; ".join(f"{c} {s['median']:+.1f}°" for c, s in a.items())
    save_entry(
        fig,
        out / "d_curvature_reproduction",
        entries,
        "(d) Hénaff et al. 2021: V1 straightens natural sequences",
        f"{len(recs)} sessions, all 11 frames (dither 1), noise-corrected V1 curvature. snnvis: {text}. "
        "Markers: median Δ (layer − pixel curvature) of model layers on the same sequences (V1-mapped and "
        "deepest layer).",
    )
    write_rows(out / "d_curvature_records.csv", records)
    write_rows(
        out / "d_model_curvature.csv",
        [
            {"model_layer": k, "category": c, "median_delta": float(np.nanmedian(v)), "n": len(v)}
            for k, by in deltas.items()
            for c, v in by.items()
        ],
    )
    return records


# ---------------------------------------------------------------------------------------
# (f) TSRSA shuffle
# ---------------------------------------------------------------------------------------


def tsrsa_data(recs: Sequence, models: Sequence, windows: Sequence[int], n_shuffles: int) -> tuple[dict, list[dict]]:
    """Data of (f): {"<model> <layer>": (recordings, windows) TSRSA} and the same as CSV rows
    (:func:`snnvis.analysis.models.tsrsa_shuffle_scores` on the :func:`pick_layers` layers)."""
    from snnvis.analysis.models import tsrsa_shuffle_scores

    scores, rows = {}, []
    for m in models:
        by_layer = tsrsa_shuffle_scores(m, recs, [s.name for s in pick_layers(m.core)], windows, n_shuffles=n_shuffles)
        for layer, s in by_layer.items():
            scores[f"{m.label} {layer}"] = s
            rows += [
                {"model_layer": f"{m.label} {layer}", "session": rec.id, "window": w, "tsrsa": s[i, j]}
                for i, rec in enumerate(recs)
                for j, w in enumerate(windows)
            ]
    return scores, rows


def figure_tsrsa(recs, models, windows, n_shuffles, out: Path, entries: list) -> None:
    """(f), with ``f_tsrsa_shuffle.csv``."""
    from snnvis.figures import tsrsa_shuffle

    scores, rows = tsrsa_data(recs, models, windows, n_shuffles)
    fig = tsrsa_shuffle(windows, scores)
    save_entry(
        fig,
        out / "f_tsrsa_shuffle",
        entries,
        "(f) TSRSA vs within-window frame shuffling (Hénaff V1, natural)",
        f"Per session: mean over the 20 natural sequences of the Spearman correlation between the model-layer "
        f"and V1 RDMs over frames; frames shuffled within windows before the model sees them ({n_shuffles} "
        "draws), model trajectories put back in order before comparison. Band: t-CI across "
        f"{len(recs)} sessions. Only state carried across frames can make a line fall.",
    )
    write_rows(out / "f_tsrsa_shuffle.csv", rows)


# ---------------------------------------------------------------------------------------
# (e) Kriegeskorte monkey / human IT
# ---------------------------------------------------------------------------------------


def rsa_score(model_rdm: np.ndarray, reference: np.ndarray) -> float:
    """Spearman correlation of the upper triangles; ``reference`` (n, n) or (k, n, n)
    subject RDMs (then the mean over subjects, as snnvis-score does)."""
    from snnvis.similarity import compare_rdms

    ref = reference if reference.ndim == 3 else reference[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = np.atleast_1d(np.asarray(compare_rdms(model_rdm, ref, "spearman"), dtype=np.float64))
    return float(np.nanmean(sims)) if np.isfinite(sims).any() else float("nan")


def reference_ceiling(subject_rdms: np.ndarray) -> tuple[float, float]:
    """(lower, upper) RSA noise ceiling of k >= 2 subject RDMs; NaN for one RDM."""
    from snnvis.similarity import noise_ceiling

    if subject_rdms.ndim != 3 or subject_rdms.shape[0] < 2:
        return float("nan"), float("nan")
    lower, upper = noise_ceiling(subject_rdms.astype(np.float64), "spearman")
    return float(lower), float(upper)


def kriegeskorte_data(rec, models: Sequence, n_boot: int) -> dict:
    """Data of (e): ``refs`` {reference name: (k, n, n) RDMs} of the recording (``monkey_IT``: one
    RDM, ``human_IT``: the subjects), ``rdms`` {"<model>\\n<layer>": RDM} of each model's IT layer
    (:func:`area_layer`), ``rows`` (RSA of every layer against every reference) and per reference
    ``scores`` {reference: {model: (score, ci_low, ci_high)}} (bootstrap over the images) and
    ``ceilings`` {reference: (lower, upper)}, for the references of :data:`IT_REFERENCES`."""
    from snnvis.analysis.models import layer_rdms
    from snnvis.evaluation.targets import targets_from_recording
    from snnvis.similarity import bootstrap_ci

    refs = {t.name: t.rdms for t in targets_from_recording(rec)}
    rdms, rows = {}, []
    for m in models:
        it = area_layer(m.core, "IT").name
        for layer, d in layer_rdms(m, rec).items():
            for ref_name, ref in refs.items():
                rows.append(
                    {
                        "model": m.label,
                        "layer": layer,
                        "it_layer": layer == it,
                        "reference": ref_name,
                        "rsa_spearman": rsa_score(d, ref),
                    }
                )
            if layer == it:
                rdms[f"{m.label}\n{layer}"] = d
    scores, ceilings = {}, {}
    for ref_name in (r for r, _ in IT_REFERENCES if r in refs):
        ref = refs[ref_name]
        ceilings[ref_name] = reference_ceiling(ref)
        boot = {k: bootstrap_ci(rsa_score, d, ref, axis=(-2, -1), n_boot=n_boot) for k, d in rdms.items()}
        scores[ref_name] = {k: (float(b[0]), float(b[1]), float(b[2])) for k, b in boot.items()}
    return {"refs": refs, "rdms": rdms, "rows": rows, "scores": scores, "ceilings": ceilings}


def stimulus_categories(rec) -> list[str] | None:
    """Category of each stimulus from ids such as ``obj01_human-face`` (None when an id has none)."""
    cats = [str(s).partition("_")[2].replace("-", " ") for s in rec.stimulus_ids]
    return cats if all(cats) else None


def figure_kriegeskorte(rec, models, out: Path, entries: list, n_boot: int) -> None:
    """(e): one figure per reference (monkey IT, human IT), with ``e_kriegeskorte_rsa.csv``."""
    from snnvis.figures import kriegeskorte_rdms

    data = kriegeskorte_data(rec, models, n_boot)
    for ref_name, title in IT_REFERENCES:
        if ref_name not in data["scores"]:
            continue
        ref, ceiling, scored = data["refs"][ref_name], data["ceilings"][ref_name], data["scores"][ref_name]
        fig = kriegeskorte_rdms(
            ref.mean(0),
            data["rdms"],
            {k: s[0] for k, s in scored.items()},
            ceiling,
            brain_label=title,
            intervals={k: (s[1], s[2]) for k, s in scored.items()},
            categories=stimulus_categories(rec),
        )
        ceil = (
            "no noise ceiling (one RDM, no repeats released)"
            if not np.isfinite(ceiling[1])
            else f"grey band: noise ceiling of the {len(ref)} subject RDMs [{ceiling[0]:.2f}, {ceiling[1]:.2f}]"
        )
        save_entry(
            fig,
            out / f"e_kriegeskorte_{ref_name.lower()}",
            entries,
            f"(e) Kriegeskorte et al. 2008: {title} RDM vs model layers",
            f"92 images in the paper's category order (ticks); RDMs rank-transformed to percentiles; the layer "
            f"mapped to IT of each model (SNN orange, twin green). RSA: "
            f"Spearman correlation of the RDMs' upper triangles; error bars: 95% bootstrap CI over the 92 "
            f"images ({n_boot} resamples); {ceil}.",
        )
    write_rows(out / "e_kriegeskorte_rsa.csv", data["rows"])

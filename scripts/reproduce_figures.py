#!/usr/bin/env python
"""Regenerate every figure from a results directory (PNG + PDF) and an index page.

    python scripts/reproduce_figures.py                        # multirun/ -> figures/
    python scripts/reproduce_figures.py multirun --out figures --quick
    python scripts/reproduce_figures.py --quick --train        # from nothing: tiny sweeps first

(a) SNN vs twin prediction accuracy, (b) layer x area heatmaps, (c) PSTH examples:
    one snnvis-report per sweep found in RESULTS_DIR (a folder of runs, or a folder of
    sweep folders such as multirun/), into OUT/<sweep>/; runs are scored first
    (snnvis-score on each best checkpoint) where scores are missing. ``--train`` first
    runs the sweeps that are missing (configs/sweep/; with --quick, tiny variants).
(d) Hénaff et al. 2021 curvature: V1 vs pixel curvature of the natural and synthetic
    sequences of the 7 released sessions, the authors' per-sequence table overlaid, and
    the curvature of model layers (untrained SNN and twin, and trained runs found).
(e) Kriegeskorte et al. 2008: monkey-IT RDM (92 images) next to the IT-mapped layer's
    RDM of an untrained SNN and twin (and trained runs), with RSA scores; the same
    against the human-IT RDM with its inter-subject noise ceiling.
(f) TSRSA between model layers and V1 on the Hénaff natural sequences as frames are
    shuffled within windows (trajectories put back in order before comparison).

Recordings are imported into --recordings (default recordings/) when missing, from
$SNNVIS_DATA_MIRROR, ../shared/datasets or the web. The numbers behind (d)-(f) are
written as CSV next to the figures; OUT/index.html shows every figure.
"""
from __future__ import annotations

import argparse
import csv
import html
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnvis.errors import UserError, cli_entry  # noqa: E402

HENAFF, KRIEG, COWLEY = "henaff2021_v1", "kriegeskorte2008_it", "cowley2023_v4"
HENAFF_SESSIONS = ["ay2_u003", "ay2_u007", "ay3_u001", "ay3_u002", "ay4_u001", "ay4_u005", "ay4_u006"]

# Sweeps run by --train: (sweep config, overrides with --quick, overrides otherwise).
TRAIN = {
    "snn_vs_dnn": (["model=sew_resnet_tiny", "seed=0,1", "data.recordings=[{rec}/cowley2023_v4/210305.h5]",
                    "model.input.size=24", "trainer.max_epochs=3", "trainer.tensorboard=false"], []),
    "recurrence": (["model=sew_resnet_tiny", "seed=0", "data.recordings=[{rec}/henaff2021_v1/ay2_u003.h5]",
                    "model.input.size=24", "model.time.dt_ms=100", "model.time.steps_per_frame=3",
                    "trainer.max_epochs=2", "trainer.tensorboard=false"], []),
}
SCORE_QUICK = ["metrics=[rsa,cka]", "n_boot=100"]


class Timer:
    def __init__(self):
        self.t0, self.parts = time.time(), []

    def part(self, name: str, since: float) -> None:
        self.parts.append((name, time.time() - since))
        print(f"[{time.time() - self.t0:6.0f} s] {name}: {time.time() - since:.0f} s", flush=True)


def mirror_dir(arg: str | None) -> Path | None:
    for cand in (arg, os.environ.get("SNNVIS_DATA_MIRROR"), ROOT.parent / "shared" / "datasets"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None                                    # import_source downloads from the registered URLs


def import_recordings(source: str, only: list[str] | None, rec_dir: Path, mirror: Path | None) -> list[Path]:
    from snnvis.recordings.importing import import_source

    return import_source(source, mirror=mirror, out=rec_dir, only=only)


def model_config(name: str, size: int | None):
    """The configs/model entry ``name`` as composed for training (optionally resized)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    overrides = [f"model={name}"] + ([f"model.input.size={size}"] if size else [])
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=overrides).model


def write_rows(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ---------------------------------------------------------------------------------------
# (a)-(c): sweeps
# ---------------------------------------------------------------------------------------

def find_sweeps(results: Path) -> list[Path]:
    """RESULTS_DIR itself when it holds runs directly below it, else its sub-folders with runs."""
    if not results.is_dir():
        return []
    direct = [p for p in results.iterdir() if p.is_dir() and (p / "metrics.json").is_file()]
    if direct:
        return [results]
    return sorted(p for p in results.iterdir() if p.is_dir() and any(p.rglob("metrics.json")))


def train_sweeps(results: Path, names: list[str], quick: bool, rec_dir: Path) -> None:
    exe = shutil.which("snnvis-train", path=str(Path(sys.executable).parent)) or shutil.which("snnvis-train")
    if exe is None:
        raise UserError("--train", "snnvis-train is not installed (pip install -e .)")
    for name in names:
        extra = [o.format(rec=rec_dir.resolve()) for o in TRAIN[name][0 if quick else 1]]
        cmd = [exe, "-m", f"+sweep={name}", *extra, f"hydra.sweep.dir={results.resolve() / name}"]
        print("+ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)


def sweep_reports(sweeps: list[Path], out: Path, quick: bool):
    from snnvis.reporting import make_report

    reports = []
    for sweep in sweeps:
        reports.append(make_report(sweep, out / sweep.name, score=True,
                                   score_overrides=SCORE_QUICK if quick else ()))
    return reports


def trained_models(sweeps: list[Path], temporal: bool, quick: bool) -> list[tuple[str, Path]]:
    """(label, run dir): per sweep, model and SNN/twin, the run with the lowest seed, of the
    runs trained on sequences (``temporal``) or on static images; --quick: one model per sweep."""
    from snnvis.reporting import _first_runs, find_sweep

    out = []
    for sweep in sweeps:
        runs = [r for r in find_sweep(sweep).runs if (r.dir / "checkpoints" / "best.pt").is_file()
                and (r.metrics.get("data", {}).get("target") == "temporal") == temporal]
        first = _first_runs(runs)
        labels = sorted({label for label, _ in first})[:1 if quick else None]
        out += [(f"{'SNN' if s else 'twin'} {label} (trained)", r.dir) for (label, s), r in first.items()
                if label in labels]
    return out


def load_models(untrained_cfg, trained: list[tuple[str, Path]], calibration) -> list:
    from snnvis.analysis.models import load_model

    models = []
    for spiking in (True, False):
        cfg = untrained_cfg.copy()
        cfg.spiking = spiking
        models.append(load_model(f"{'SNN' if spiking else 'twin'} (untrained)", cfg, seed=0, calibration=calibration))
    models += [load_model(label, checkpoint=path) for label, path in trained]
    return models


# ---------------------------------------------------------------------------------------
# (d) Hénaff curvature, (f) TSRSA shuffle
# ---------------------------------------------------------------------------------------

def figure_curvature(recs, mirror: Path | None, models, out: Path, entries: list, notes: list) -> list[dict]:
    from snnvis.analysis.henaff import load_authors_table, session_curvatures, summary
    from snnvis.analysis.models import curvature_deltas, pick_layers
    from snnvis.figures import curvature_reproduction
    from snnvis.reporting import _save

    records = [r for rec in recs for r in session_curvatures(rec.path)]
    authors = None
    table = mirror / HENAFF / "curvature" / "acute_combined_235x.csv" if mirror else None
    if table is not None and table.is_file():
        sessions = {rec.id for rec in recs}
        authors = [r for r in load_authors_table(table) if r["dither"] == 1 and r["session"] in sessions]
    else:
        notes.append("(d): the authors' table (henaff2021_v1/curvature/acute_combined_235x.csv) was not found in "
                     "the mirror; drawn without it")
    first = [r for r in records if r["session"] == recs[0].id]
    deltas = {}
    for m in models:
        deltas.update(curvature_deltas(m, recs[0], first, [s.name for s in pick_layers(m.core)]))
    fig = curvature_reproduction(records, authors, deltas)
    stats = summary(records)
    text = "; ".join(f"{c}: median Δ {s['median']:+.1f}° [{s['ci_low']:+.1f}, {s['ci_high']:+.1f}] (n={s['n']})"
                     for c, s in stats.items())
    if authors:
        a = summary(authors)
        text += ". Authors: " + "; ".join(f"{c} {s['median']:+.1f}°" for c, s in a.items())
    _save(fig, out / "d_curvature_reproduction", entries, "(d) Hénaff et al. 2021: V1 straightens natural sequences",
          f"{len(recs)} sessions, all 11 frames (dither 1), noise-corrected V1 curvature. snnvis: {text}. Markers: "
          "median Δ (layer − pixel curvature) of model layers on the same sequences (V1-mapped and deepest layer).")
    write_rows(out / "d_curvature_records.csv", records)
    write_rows(out / "d_model_curvature.csv", [{"model_layer": k, "category": c, "median_delta": float(np.nanmedian(v)),
                                                 "n": len(v)} for k, by in deltas.items() for c, v in by.items()])
    return records


def figure_tsrsa(recs, models, windows, n_shuffles, out: Path, entries: list) -> None:
    from snnvis.analysis.models import pick_layers, tsrsa_shuffle_scores
    from snnvis.figures import tsrsa_shuffle
    from snnvis.reporting import _save

    scores, rows = {}, []
    for m in models:
        by_layer = tsrsa_shuffle_scores(m, recs, [s.name for s in pick_layers(m.core)], windows,
                                        n_shuffles=n_shuffles)
        for layer, s in by_layer.items():
            scores[f"{m.label} {layer}"] = s
            rows += [{"model_layer": f"{m.label} {layer}", "session": rec.id, "window": w, "tsrsa": s[i, j]}
                     for i, rec in enumerate(recs) for j, w in enumerate(windows)]
    fig = tsrsa_shuffle(windows, scores)
    _save(fig, out / "f_tsrsa_shuffle", entries, "(f) TSRSA vs within-window frame shuffling (Hénaff V1, natural)",
          f"Per session: mean over the 20 natural sequences of the Spearman correlation between the model-layer "
          f"and V1 RDMs over frames; frames shuffled within windows before the model sees them ({n_shuffles} "
          "draws), model trajectories put back in order before comparison. Band: t-CI across "
          f"{len(recs)} sessions. Only state carried across frames can make a line fall.")
    write_rows(out / "f_tsrsa_shuffle.csv", rows)


# ---------------------------------------------------------------------------------------
# (e) Kriegeskorte monkey / human IT
# ---------------------------------------------------------------------------------------

def figure_kriegeskorte(rec, models, out: Path, entries: list, n_boot: int) -> None:
    from snnvis.analysis.models import area_layer, layer_rdms, reference_ceiling, rsa_score
    from snnvis.evaluation.scoring import targets_from_recording
    from snnvis.figures import kriegeskorte_rdms
    from snnvis.reporting import _save
    from snnvis.similarity import bootstrap_ci

    refs = {t.name: t.rdms for t in targets_from_recording(rec)}          # monkey_IT (1 RDM), human_IT (subjects)
    rdms, rows = {}, []
    for m in models:
        it = area_layer(m.core, "IT").name
        for layer, d in layer_rdms(m, rec).items():
            for ref_name, ref in refs.items():
                rows.append({"model": m.label, "layer": layer, "it_layer": layer == it, "reference": ref_name,
                             "rsa_spearman": rsa_score(d, ref)})
            if layer == it:
                rdms[f"{m.label}\n{layer}"] = d
    for ref_name, title in (("monkey_IT", "monkey IT"), ("human_IT", "human IT")):
        if ref_name not in refs:
            continue
        ref = refs[ref_name]
        ceiling = reference_ceiling(ref)
        boot = {k: bootstrap_ci(rsa_score, d, ref, axis=(-2, -1), n_boot=n_boot) for k, d in rdms.items()}
        scores = {k: float(b[0]) for k, b in boot.items()}
        fig = kriegeskorte_rdms(ref.mean(0), rdms, scores, ceiling, brain_label=title,
                                intervals={k: (float(b[1]), float(b[2])) for k, b in boot.items()})
        ceil = ("no noise ceiling (one RDM, no repeats released)" if not np.isfinite(ceiling[1]) else
                f"grey band: noise ceiling of the {len(ref)} subject RDMs [{ceiling[0]:.2f}, {ceiling[1]:.2f}]")
        _save(fig, out / f"e_kriegeskorte_{ref_name.lower()}", entries,
              f"(e) Kriegeskorte et al. 2008: {title} RDM vs model layers",
              f"92 images; RDMs rank-transformed to percentiles; the layer mapped to IT of each model. RSA: Spearman "
              f"correlation of the RDMs' upper triangles; error bars: 95% bootstrap CI over the 92 images "
              f"({n_boot} resamples); {ceil}.")
    write_rows(out / "e_kriegeskorte_rsa.csv", rows)


# ---------------------------------------------------------------------------------------

def index_page(out: Path, entries: list, reports: list, notes: list, timer: Timer, args) -> Path:
    from snnvis.reporting import FigureEntry, html_table, render_html

    figs = [FigureEntry(f.stem, f"{r.out.name}: {f.title}", f.caption) for r in reports for f in r.figures] + entries
    links = "".join(f"<li><a href=\"{html.escape(str(r.html.relative_to(out)))}\">{html.escape(r.out.name)}</a>: "
                    f"{r.n_runs} runs, <a href=\"{html.escape(str(r.results_csv.relative_to(out)))}\">results.csv</a>"
                    "</li>" for r in reports)
    sections = [("Sweep reports", f"<ul>{links}</ul>" if links else "<p>No sweeps found.</p>"),
                ("Timing", html_table(["part", "seconds"], [[n, s] for n, s in timer.parts]))]
    intro = (f"<p>Made by <code>scripts/reproduce_figures.py {html.escape(' '.join(sys.argv[1:]))}</code> in "
             f"{time.time() - timer.t0:.0f} s{' (--quick presets)' if args.quick else ''}.</p>")
    return render_html(out / "index.html", "snnvis: all figures", intro, sections, figs,
                       notes + [n for r in reports for n in r.notes])


@cli_entry
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", default="multirun", metavar="RESULTS_DIR",
                   help="a sweep folder or a folder of sweep folders (default: multirun)")
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument("--quick", action="store_true",
                   help="small presets: models at 32 px, 2 shuffle draws, fewer windows, cheaper scoring")
    p.add_argument("--train", action="store_true", help="run the sweeps missing from RESULTS_DIR first "
                                                       "(tiny variants with --quick)")
    p.add_argument("--model", default="sew_resnet_tiny", help="configs/model entry of the untrained SNN and twin")
    p.add_argument("--recordings", default="recordings", help="where recordings are imported (default: recordings/)")
    p.add_argument("--mirror", help="local copy of the public datasets (default: $SNNVIS_DATA_MIRROR or "
                                    "../shared/datasets)")
    p.add_argument("--only", default="abcdef", help="figures to make, e.g. --only de (default: abcdef)")
    args = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import torch
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    timer = Timer()
    out, results, rec_dir = Path(args.out), Path(args.results), Path(args.recordings)
    mirror = mirror_dir(args.mirror)
    entries, notes, reports = [], [], []
    out.mkdir(parents=True, exist_ok=True)

    sweeps = find_sweeps(results)
    if args.train:
        t = time.time()
        missing = [n for n in TRAIN if not any(s.name == n for s in sweeps)]
        if missing:
            import_recordings(COWLEY, ["210305"] if args.quick else None, rec_dir, mirror)
            import_recordings(HENAFF, ["ay2_u003"] if args.quick else None, rec_dir, mirror)
            results.mkdir(parents=True, exist_ok=True)
            train_sweeps(results, missing, args.quick, rec_dir)
            sweeps = find_sweeps(results)
        timer.part(f"train sweeps {missing}", t)
    if set("abc") & set(args.only):
        t = time.time()
        if sweeps:
            reports = sweep_reports(sweeps, out, args.quick)
        else:
            notes.append(f"(a)-(c): no sweep with runs in {results}; run e.g. `snnvis-train -m +sweep=snn_vs_dnn` "
                         "or pass --train")
        timer.part("(a)-(c) sweep reports", t)

    size = 32 if args.quick else None
    if set("df") & set(args.only):
        t = time.time()
        from snnvis.recordings.recording import Recording

        recs = [Recording(p) for p in import_recordings(HENAFF, HENAFF_SESSIONS, rec_dir, mirror)]
        calib = [(recs[0], np.arange(recs[0].n_stimuli))]
        models = load_models(model_config(args.model, size), trained_models(sweeps, True, args.quick), calib)
        timer.part("(d)(f) import + models", t)
        if "d" in args.only:
            t = time.time()
            figure_curvature(recs, mirror, models, out, entries, notes)
            timer.part("(d) curvature", t)
        if "f" in args.only:
            t = time.time()
            windows = (1, 2, 4, 11) if args.quick else (1, 2, 3, 5, 11)
            figure_tsrsa(recs, models, windows, 2 if args.quick else 5, out, entries)
            timer.part("(f) TSRSA shuffle", t)
    if "e" in args.only:
        t = time.time()
        from snnvis.recordings.recording import Recording

        (path,) = import_recordings(KRIEG, None, rec_dir, mirror)
        rec = Recording(path)
        models = load_models(model_config(args.model, size), trained_models(sweeps, False, args.quick),
                             [(rec, np.arange(rec.n_stimuli))])
        figure_kriegeskorte(rec, models, out, entries, n_boot=200 if args.quick else 1000)
        timer.part("(e) Kriegeskorte RDMs", t)

    page = index_page(out, entries, reports, notes, timer, args)
    n = len(entries) + sum(len(r.figures) for r in reports)
    print(f"snnvis: {n} figures (PNG + PDF) in {out}; index: {page}; total {time.time() - timer.t0:.0f} s")
    return 0


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Regenerate every figure from a results directory (PNG + PDF) and an index page.

    python scripts/reproduce_figures.py                        # multirun/ -> figures/
    python scripts/reproduce_figures.py multirun --out figures --quick
    python scripts/reproduce_figures.py --quick --train        # from nothing: tiny sweeps first

(a) SNN vs twin prediction accuracy, (b) layer x area heatmaps, (c) predicted vs recorded
    responses (PSTHs in ms after stimulus onset for a PSTH target, per-frame counts against the
    frame index otherwise): one snnvis-report per sweep found in RESULTS_DIR (a folder of runs, or a folder of
    sweep folders such as multirun/), into OUT/<sweep>/; runs are scored first
    (snnvis-score on each best checkpoint) where scores are missing; a ``task_vs_neural`` sweep also
    gets its untrained / task-pretrained / neural comparison. ``--train`` first
    runs the sweeps that are missing (snnvis/conf/sweep/; with --quick, tiny variants).
(d) Hénaff et al. 2021 curvature: V1 vs pixel curvature of the natural and synthetic
    sequences of the 7 released sessions, the authors' per-sequence table overlaid, and
    the curvature of model layers (untrained SNN and twin, and trained runs found).
(e) Kriegeskorte et al. 2008: monkey-IT RDM (92 images) next to the IT-mapped layer's
    RDM of an untrained SNN and twin (and trained runs), with RSA scores; the same
    against the human-IT RDM with its inter-subject noise ceiling.
(f) TSRSA between model layers and V1 on the Hénaff natural sequences as frames are
    shuffled within windows (trajectories put back in order before comparison).
(g) Temporal kernels recovered from the synthetic movie (``snnvis-data synth --movie``) against
    their ground truth, with each neuron's latency.
(h) The TSRSA perturbation analysis of Huang et al. 2024 (frame shuffling, noise frames, clip
    length, with the neuron split-half ceiling) on the same synthetic movie, untrained SNN and twin.

Recordings are imported into --recordings (default recordings/) when missing, from
$SNNVIS_DATA_MIRROR, ../shared/datasets or the web. The numbers behind (d)-(f) are
written as CSV next to the figures; OUT/index.html shows every figure. The data behind every
figure and its drawing are public functions of :mod:`snnvis.reporting`.
"""

from __future__ import annotations

import argparse
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
from snnvis.reporting import (  # noqa: E402
    figure_curvature,
    figure_kernel_recovery,
    figure_kriegeskorte,
    figure_task_vs_neural,
    figure_tsrsa,
    figure_tsrsa_perturbations,
    index_page,
    load_models,
    make_report,
    trained_models,
)

HENAFF, KRIEG, COWLEY = "henaff2021_v1", "kriegeskorte2008_it", "cowley2023_v4"
HENAFF_SESSIONS = ["ay2_u003", "ay2_u007", "ay3_u001", "ay3_u002", "ay4_u001", "ay4_u005", "ay4_u006"]

# Sweeps run by --train: (sweep config, overrides with --quick, overrides otherwise).
TRAIN = {
    "snn_vs_dnn": (
        [
            "model=sew_resnet_tiny",
            "seed=0,1",
            "data.recordings=[{rec}/cowley2023_v4/210305.h5]",
            "model.input.size=24",
            "trainer.max_epochs=3",
            "trainer.tensorboard=false",
        ],
        [],
    ),
    "recurrence": (
        [
            "model=sew_resnet_tiny",
            "seed=0",
            "data.recordings=[{rec}/henaff2021_v1/ay2_u003.h5]",
            "data.image_size=32",
            "model.time.dt_ms=50",
            "trainer.max_epochs=2",
            "trainer.tensorboard=false",
        ],
        [],
    ),
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
    return None  # import_source downloads from the registered URLs


def import_recordings(source: str, only: list[str] | None, rec_dir: Path, mirror: Path | None) -> list[Path]:
    from snnvis.recordings.importing import import_source

    return import_source(source, mirror=mirror, out=rec_dir, only=only)


def synthetic_movie(rec_dir: Path, quick: bool):
    """The synthetic movie recording of (g) and (h), simulated once into ``rec_dir/synthetic``."""
    from snnvis.recordings.format import write_recording
    from snnvis.recordings.recording import Recording
    from snnvis.recordings.synthetic_movie import MovieConfig, generate_movie_recording

    cfg = MovieConfig(n_clips=12, n_neurons=20, n_repeats=20) if quick else MovieConfig()
    path = rec_dir / "synthetic" / f"movie_{cfg.n_clips}x{cfg.clip_frames}_{cfg.n_neurons}.h5"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_recording(path, generate_movie_recording(cfg))
    return Recording(path)


def model_config(name: str, size: int | None):
    """The snnvis/conf/model entry ``name`` as composed for training (optionally resized)."""
    from snnvis.config import compose

    return compose("train", [f"model={name}"] + ([f"model.input.size={size}"] if size else [])).model


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
    reports = []
    for sweep in sweeps:
        reports.append(make_report(sweep, out / sweep.name, score=True, score_overrides=SCORE_QUICK if quick else ()))
    return reports


# ---------------------------------------------------------------------------------------


@cli_entry
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "results",
        nargs="?",
        default="multirun",
        metavar="RESULTS_DIR",
        help="a sweep folder or a folder of sweep folders (default: multirun)",
    )
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small presets: models at 32 px, 2 shuffle draws, fewer windows, cheaper scoring",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="run the sweeps missing from RESULTS_DIR first (tiny variants with --quick)",
    )
    p.add_argument("--model", default="sew_resnet_tiny", help="snnvis/conf/model entry of the untrained SNN and twin")
    p.add_argument("--recordings", default="recordings", help="where recordings are imported (default: recordings/)")
    p.add_argument(
        "--mirror", help="local copy of the public datasets (default: $SNNVIS_DATA_MIRROR or ../shared/datasets)"
    )
    p.add_argument("--only", default="abcdefgh", help="figures to make, e.g. --only de (default: abcdefgh)")
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
            for sweep in (s for s in sweeps if s.name == "task_vs_neural"):  # +sweep=task_vs_neural
                figure_task_vs_neural(sweep, out / sweep.name, entries)
        else:
            notes.append(
                f"(a)-(c): no sweep with runs in {results}; run e.g. `snnvis-train -m +sweep=snn_vs_dnn` "
                "or pass --train"
            )
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
            table = mirror / HENAFF / "curvature" / "acute_combined_235x.csv" if mirror else None
            figure_curvature(recs, table, models, out, entries, notes)
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
        models = load_models(
            model_config(args.model, size), trained_models(sweeps, False, args.quick), [(rec, np.arange(rec.n_stimuli))]
        )
        figure_kriegeskorte(rec, models, out, entries, n_boot=200 if args.quick else 1000)
        timer.part("(e) Kriegeskorte RDMs", t)

    if set("gh") & set(args.only):
        t = time.time()
        movie = synthetic_movie(rec_dir, args.quick)
        if "g" in args.only:
            figure_kernel_recovery(movie, out, entries)
        if "h" in args.only:
            size = f"model.input.size={movie.image_shape[0]}"  # the movie's own resolution
            figure_tsrsa_perturbations(movie, out, entries, [f"model={args.model}", size], args.quick)
        timer.part("(g)(h) synthetic movie: kernel recovery, TSRSA perturbations", t)

    command = f"scripts/reproduce_figures.py {' '.join(sys.argv[1:])}"
    page = index_page(out, entries, reports, notes, timer.parts, command, time.time() - timer.t0, args.quick)
    n = len(entries) + sum(len(r.figures) for r in reports)
    print(f"snnvis: {n} figures (PNG + PDF) in {out}; index: {page}; total {time.time() - timer.t0:.0f} s")
    return 0


if __name__ == "__main__":
    main()

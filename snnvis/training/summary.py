"""Side-by-side tables of finished runs (``python -m snnvis.training.summary DIR ...``).

Tables: one row per run (held-out median r with its CI over neurons), then one row per
model with the paired SNN − twin comparison of :mod:`snnvis.similarity.paired`: the runs of
an SNN and its twin with the same model and seed are paired, their ``predictions.h5`` must
hold the same neurons (by id) and test stimuli (by index) in every session, and the
difference of per-neuron held-out r gets a seeds × neurons × stimuli bootstrap CI and two
permutation p-values (SNN/twin swapped per seed × stimulus, and whole runs swapped per seed);
for PSTH runs, one row per run and session with the time-course r against the
mean-time-course baseline, paired per neuron (:func:`time_course_table`). With
``--compare A,B`` also the same paired statistics for model A − model B within each family
(SNN and twin), seed by seed (:func:`model_pair_table`; e.g. feedback − feedforward).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from snnvis import outputs
from snnvis.errors import UserError, cli_entry
from snnvis.similarity.paired import TEST_NAME, describe_test
from snnvis.training.paired_runs import PAIRED_HEADER, paired_header, paired_markdown, paired_rows
from snnvis.utils import markdown_table


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every metrics.json under the given run or sweep directories; an ensemble's members
    (``<run>/members/<k>/``) are part of their ensemble's run, not runs of their own."""
    found = []
    for p in map(Path, paths):
        found += [p / "metrics.json"] if (p / "metrics.json").is_file() else sorted(p.rglob("metrics.json"))
    return [f for f in found if not (f.parent.parent.name == "members" and (f.parents[2] / "metrics.json").is_file())]


def _fmt(summary: dict, key: str) -> str:
    med, ci = summary.get(f"{key}_median"), summary.get(f"{key}_median_ci95")
    if med is None:
        return "-"
    return f"{med:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{med:.3f}"


def model_label(m: dict) -> str:
    """The model's name in a table: ``name`` or ``name (ensemble of N)`` for an ensemble run."""
    n = m.get("ensemble", {}).get("n_members")
    return f"{m['model']['name']} (ensemble of {n})" if n else str(m["model"]["name"])


def table(paths: list[str | Path]) -> str:
    """Markdown table: one row per run with held-out median r (95% CI over neurons) beside the
    untrained-core ridge and pixel-lookup baselines on the same test stimuli."""
    rows = []
    for path in find_runs(paths):
        m = outputs.read_metrics(path)
        o = m["test"]["overall"]
        base = m.get("baseline", {}).get("overall")
        lookup = m.get("baseline_lookup", {}).get("overall")
        rows.append(
            [
                model_label(m),
                m["model"]["spiking"],
                m["run"]["seed"],
                f"{m['model']['n_params']:,}",
                o["n_neurons"],
                _fmt(o, "pearson_r"),
                "-" if o.get("pearson_r_mean") is None else format(o["pearson_r_mean"], ".3f"),
                _fmt(o, "pearson_r_corrected"),
                _fmt(o, "feve"),
                _fmt(base, "pearson_r") if base else "-",
                _fmt(lookup, "pearson_r") if lookup else "-",
            ]
        )
    return markdown_table(
        [
            "model",
            "spiking",
            "seed",
            "params",
            "neurons",
            "median r [95% CI]",
            "mean r",
            "noise-corr. median r",
            "median FEVE",
            "ridge on untrained core",
            "pixel lookup",
        ],
        rows,
    )


# ---------------------------------------------------------------------------------------
# PSTH time courses against the mean-time-course baseline
# ---------------------------------------------------------------------------------------

BASELINE_TEST = (
    "per-neuron paired difference, model − mean-time-course baseline, of the time-course r "
    "(each neuron's r over PSTH bins, averaged over test stimuli); CI: bootstrap over neurons; "
    "p: two-sided Wilcoxon signed-rank over neurons"
)


def time_course_rows(paths: list[str | Path], n_boot: int = 1000, seed: int = 0) -> list[list[str]]:
    """One row per PSTH run (predictions.h5 with ``psth_time_course_r``), then one per session of it:
    model, spiking, seed, session, neurons, model and baseline median time-course r, the mean
    paired difference with its bootstrap CI over neurons and the Wilcoxon signed-rank p."""
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(seed)
    rows = []
    for path in find_runs(paths):
        pred_file = path.parent / outputs.PREDICTIONS_FILE
        if not pred_file.is_file():
            continue
        sessions = outputs.read_predictions(pred_file, ["metrics"])
        if not all("psth_time_course_r" in p.metrics for p in sessions.values()):
            continue
        m = outputs.read_metrics(path)
        parts = {
            s: (p.metrics["psth_time_course_r"], p.metrics["psth_baseline_time_course_r"]) for s, p in sessions.items()
        }
        both = {"all": tuple(np.concatenate(v) for v in zip(*parts.values()))}
        for name, (r, base) in {**both, **(parts if len(parts) > 1 else {})}.items():
            ok = np.isfinite(r) & np.isfinite(base)
            d = r[ok] - base[ok]
            boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(1) if len(d) else np.full(1, np.nan)
            p = wilcoxon(d).pvalue if len(d) and np.any(d != 0) else np.nan
            rows.append(
                [model_label(m), m["model"]["spiking"], m["run"]["seed"], name, int(ok.sum()),
                 f"{np.median(r[ok]):.3f}", f"{np.median(base[ok]):.3f}",
                 f"{d.mean():+.3f} [{np.quantile(boot, 0.025):+.3f}, {np.quantile(boot, 0.975):+.3f}]",
                 "-" if not np.isfinite(p) else f"{p:.2g}"]
            )  # fmt: skip
    return rows


def time_course_table(paths: list[str | Path], n_boot: int = 1000, seed: int = 0) -> str:
    """Markdown table of :func:`time_course_rows` with the test named below it; empty without PSTH runs."""
    rows = time_course_rows(paths, n_boot=n_boot, seed=seed)
    if not rows:
        return ""
    header = ["model", "spiking", "seed", "session", "neurons", "time-course r", "baseline time-course r",
              "mean Δ model − baseline [95% CI]", "p (Wilcoxon)"]  # fmt: skip
    return markdown_table(header, rows, align="lllrrrrrr") + f"\n\nTest: {BASELINE_TEST}; {n_boot} bootstrap resamples."


# ---------------------------------------------------------------------------------------
# Paired tables (snnvis.training.paired_runs) of the runs found on disk
# ---------------------------------------------------------------------------------------


def _runs(paths: list[str | Path]) -> list[tuple[str, bool, int, Path]]:
    """(model label, spiking, seed, run dir) of every run under ``paths`` with a predictions.h5."""
    runs = []
    for path in find_runs(paths):
        if (path.parent / outputs.PREDICTIONS_FILE).is_file():
            m = outputs.read_metrics(path)
            runs.append((model_label(m), bool(m["model"]["spiking"]), int(m["run"]["seed"]), path.parent))
    return runs


def paired_table(paths: list[str | Path], n_boot: int = 1000, n_perm: int = 2000, seed: int = 0) -> str:
    """Markdown table of the paired SNN − twin comparison per model (and per session), with the test named
    below it; empty when no model has both an SNN and a twin run."""
    rows = paired_rows(_runs(paths), n_boot=n_boot, n_perm=n_perm, seed=seed)
    return paired_markdown(rows, PAIRED_HEADER, TEST_NAME, n_boot, n_perm) if rows else ""


def model_pair_table(
    paths: list[str | Path], a: str, b: str, n_boot: int = 1000, n_perm: int = 2000, seed: int = 0
) -> str:
    """Markdown table of the paired model ``a`` − model ``b`` comparison (model labels, see
    :func:`model_label`) within each family, SNN and twin, over the seeds both models have; empty
    when no family has runs of both.

    Raises:
        UserError: ``a`` or ``b`` is not a model label of the runs, or a pair differs in neurons,
            stimuli or responses.
    """
    runs = _runs(paths)
    labels = sorted({label for label, *_ in runs})
    for name in (a, b):
        if name not in labels:
            raise UserError(
                "--compare", f"no run of model {name!r} under {', '.join(map(str, paths))}; models: {labels}"
            )
    by_family = [
        ("SNN" if spiking else "DNN twin", label == a, s, d) for label, spiking, s, d in runs if label in (a, b)
    ]
    rows = paired_rows(by_family, n_boot=n_boot, n_perm=n_perm, seed=seed, sides=(a, b))
    return paired_markdown(rows, paired_header(a, b, "family"), describe_test(a, b), n_boot, n_perm) if rows else ""


@cli_entry
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnvis.training.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", default=["multirun"], help="run or sweep directories (default: multirun)")
    parser.add_argument(
        "--compare", metavar="A,B", help="also pair model A against model B within each family (model labels)"
    )
    args = parser.parse_args(argv)
    pair = args.compare.split(",") if args.compare else None
    if pair is not None and (len(pair) != 2 or pair[0] == pair[1]):
        raise UserError("--compare", f"give two different model labels as A,B, got {args.compare!r}")
    print(table(args.dirs))
    paired = paired_table(args.dirs)
    compared = model_pair_table(args.dirs, *pair) if pair else ""
    if paired:
        print("\nSNN vs DNN twin, paired (same neurons, test stimuli and seeds):\n")
        print(paired)
    if compared:
        print(f"\n{pair[0]} vs {pair[1]} within each family, paired (same neurons, test stimuli and seeds):\n")
        print(compared)
    elif pair:
        print(f"\nNo family has runs of both {pair[0]} and {pair[1]} with the same seed.")
    time_courses = time_course_table(args.dirs)
    if time_courses:
        print("\nPSTH time courses against the mean-time-course baseline (same neurons and test stimuli):\n")
        print(time_courses)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="snnvis: %(message)s")
    main()

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnvis import outputs
from snnvis.errors import UserError, cli_entry
from snnvis.similarity.paired import (
    TEST_NAME,
    PairedResult,
    PairingError,
    check_pairing,
    describe_test,
    paired_comparison,
)
from snnvis.utils import markdown_table

log = logging.getLogger(__name__)


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
# Paired SNN vs twin
# ---------------------------------------------------------------------------------------


@dataclass
class PairedRow:
    """The paired comparison of one group (a model: all seeds with both an SNN and a twin run)."""

    model: str
    seeds: list[int]
    overall: PairedResult
    sessions: dict[str, PairedResult]


def paired_arrays(run_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """{session: {stimulus_index, neuron_ids, prediction, response}} from a run's predictions.h5;
    predictions and responses as (stimuli, bins, neurons)."""
    out = {}
    fields = ("stimulus_index", "neuron_ids", "prediction", "response")
    for session, p in sorted(outputs.read_predictions(run_dir / outputs.PREDICTIONS_FILE, fields).items()):
        pred, resp = p.prediction, p.response
        if pred.ndim == 2:
            pred, resp = pred[:, None], resp[:, None]
        out[session] = {
            "stimulus_index": p.stimulus_index,
            "neuron_ids": p.neuron_ids,
            "prediction": pred,
            "response": resp,
        }
    return out


def _check(a: dict, b: dict, file_b: Path, other: Path, what: str) -> None:
    """Refuse (one line) unless runs ``a`` and ``b`` hold the same sessions, neurons, stimuli, responses."""

    def refuse(why: str):
        raise UserError(f"{what} pairing", f"{why} (compared with {other})", file_b)

    if sorted(a) != sorted(b):
        refuse(f"sessions {sorted(b)} differ from {sorted(a)}")
    for s in a:
        try:
            check_pairing(a[s]["neuron_ids"], b[s]["neuron_ids"], a[s]["stimulus_index"], b[s]["stimulus_index"])
        except PairingError as err:
            refuse(f"session {s}: {err}")
        if a[s]["prediction"].shape != b[s]["prediction"].shape or a[s]["response"].shape != b[s]["response"].shape:
            refuse(f"session {s}: prediction shapes {a[s]['prediction'].shape} and {b[s]['prediction'].shape} differ")
        if not np.allclose(a[s]["response"], b[s]["response"], rtol=1e-5, atol=1e-6, equal_nan=True):
            refuse(f"session {s}: the recorded test responses differ (not the same data)")


def _stack(preds: dict, seeds: list[int], session: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(side A predictions, side B predictions, responses) of one session as (seeds, stimuli, bins, neurons)."""
    return (
        np.stack([preds[(s, True)][session]["prediction"] for s in seeds]),
        np.stack([preds[(s, False)][session]["prediction"] for s in seeds]),
        np.stack([preds[(s, True)][session]["response"] for s in seeds]),
    )


def paired_rows(
    runs: Sequence[tuple[str, bool, int, Path]],
    n_boot: int = 1000,
    n_perm: int = 2000,
    seed: int = 0,
    note: Callable[[str], None] = log.warning,
    sides: tuple[str, str] = ("SNN", "twin"),
) -> list[PairedRow]:
    """Paired A − B statistics per group: by default SNN − twin per model.

    Args:
        runs: (group label, is side A, seed, run dir) of every run with a predictions.h5; by default
            (model label, spiking, seed, run dir).
        note: called with a line for each run left out (a duplicate, or no partner).
        sides: the names of sides A and B, for messages.

    Raises:
        UserError: the two sides (or two seeds of one group) differ in neurons, stimuli or responses.
    """
    what = "/".join(sides)
    by: dict[tuple[str, int, bool], Path] = {}
    for label, is_a, s, d in sorted(runs, key=lambda x: (x[0], x[2], not x[1], str(x[3]))):
        key = (label, int(s), bool(is_a))
        if key in by:
            note(f"{d} repeats {label}, seed {s}, {sides[0] if is_a else sides[1]}; left out of the paired comparison")
            continue
        by[key] = Path(d)
    out = []
    for label in sorted({k[0] for k in by}):
        seeds = sorted(s for (lab, s, sp) in by if lab == label and sp and (lab, s, False) in by)
        unpaired = sorted(s for (lab, s, _) in by if lab == label and s not in seeds)
        if unpaired:
            note(f"{label}: seed(s) {sorted(set(unpaired))} have no {what} partner; left out")
        if not seeds:
            continue
        preds = {(s, sp): paired_arrays(by[(label, s, sp)]) for s in seeds for sp in (True, False)}
        ref_key = (seeds[0], True)
        for key, p in preds.items():
            if key != ref_key:
                _check(preds[ref_key], p, by[(label, *key)] / "predictions.h5", by[(label, *ref_key)], what)

        sessions = {name: _stack(preds, seeds, name) for name in preds[ref_key]}
        per_session = {
            name: paired_comparison([v], n_boot=n_boot, n_perm=n_perm, seed=seed) for name, v in sessions.items()
        }
        overall = paired_comparison(list(sessions.values()), n_boot=n_boot, n_perm=n_perm, seed=seed)
        out.append(PairedRow(label, seeds, overall, per_session))
    return out


def paired_header(a: str = "SNN", b: str = "twin", group: str = "model") -> list[str]:
    """The columns of a paired ``a`` − ``b`` table (:func:`paired_cells`)."""
    return [
        group,
        "seeds",
        "neurons",
        "test stimuli",
        f"{a} median r",
        f"{b} median r",
        f"mean Δr {a} − {b} [95% CI: bootstrap seeds × neurons × stimuli]",
        "median Δr",
        f"p ({a}/{b} swapped per seed × stimulus)",
        "p seeds (runs swapped per seed, exact)",
    ]


PAIRED_HEADER = paired_header()


def paired_cells(label: str, n_seeds: int, res: PairedResult) -> list[str]:
    """One row of :data:`PAIRED_HEADER`, formatted."""

    def f(x: float, fmt: str = ".3f") -> str:
        return "-" if not np.isfinite(x) else format(x, fmt)

    return [
        label,
        str(n_seeds),
        str(res.n_neurons),
        str(res.n_stimuli),
        f(res.r_a_median),
        f(res.r_b_median),
        f"{f(res.diff_mean, '+.3f')} [{f(res.ci_low, '+.3f')}, {f(res.ci_high, '+.3f')}]",
        f(res.diff_median, "+.3f"),
        format_p(res.p_value, res.n_perm),
        format_p(res.p_value_seeds, res.n_perm),
    ]


def format_p(p: float, n_perm: int) -> str:
    if not np.isfinite(p):
        return "-"
    floor = 1 / (1 + n_perm)
    return f"≤ {floor:.1g}" if p <= floor * 1.0000001 else f"{p:.3g}"


def _runs(paths: list[str | Path]) -> list[tuple[str, bool, int, Path]]:
    """(model label, spiking, seed, run dir) of every run under ``paths`` with a predictions.h5."""
    runs = []
    for path in find_runs(paths):
        if (path.parent / outputs.PREDICTIONS_FILE).is_file():
            m = outputs.read_metrics(path)
            runs.append((model_label(m), bool(m["model"]["spiking"]), int(m["run"]["seed"]), path.parent))
    return runs


def _paired_markdown(rows: list[PairedRow], header: list[str], test: str, n_boot: int, n_perm: int) -> str:
    cells = []
    for r in rows:
        cells.append(paired_cells(r.model, len(r.seeds), r.overall))
        if len(r.sessions) > 1:
            cells += [paired_cells(f"{r.model} / {s}", len(r.seeds), res) for s, res in r.sessions.items()]
    return (
        markdown_table(header, cells, align="llrrrrrrrr")
        + f"\n\nTest: {test}; {n_boot} bootstrap resamples, {n_perm} random swaps."
    )


def paired_table(paths: list[str | Path], n_boot: int = 1000, n_perm: int = 2000, seed: int = 0) -> str:
    """Markdown table of the paired SNN − twin comparison per model (and per session), with the test named
    below it; empty when no model has both an SNN and a twin run."""
    rows = paired_rows(_runs(paths), n_boot=n_boot, n_perm=n_perm, seed=seed)
    return _paired_markdown(rows, PAIRED_HEADER, TEST_NAME, n_boot, n_perm) if rows else ""


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
    return _paired_markdown(rows, paired_header(a, b, "family"), describe_test(a, b), n_boot, n_perm) if rows else ""


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

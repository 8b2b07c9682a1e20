"""Side-by-side tables of finished runs (``python -m snnvis.training.summary DIR ...``).

Tables: one row per run (held-out median r with its CI over neurons), then one row per
model with the paired SNN − twin comparison of :mod:`snnvis.similarity.paired`: the runs of
an SNN and its twin with the same model and seed are paired, their ``predictions.h5`` must
hold the same neurons (by id) and test stimuli (by index) in every session, and the
difference of per-neuron held-out r gets a seeds × neurons × stimuli bootstrap CI and two
permutation p-values (SNN/twin swapped per seed × stimulus, and whole runs swapped per seed);
for PSTH runs, one row per run and session with the time-course r against the
mean-time-course baseline, paired per neuron (:func:`time_course_table`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnvis import outputs
from snnvis.errors import UserError
from snnvis.similarity.paired import TEST_NAME, PairedResult, PairingError, check_pairing, paired_comparison
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
    """The paired comparison of one model (all seeds with both an SNN and a twin run)."""

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


def _check(a: dict, b: dict, file_b: Path, other: Path) -> None:
    """Refuse (one line) unless runs ``a`` and ``b`` hold the same sessions, neurons, stimuli, responses."""

    def refuse(why: str):
        raise UserError("SNN/twin pairing", f"{why} (compared with {other})", file_b)

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
    """(SNN predictions, twin predictions, responses) of one session as (seeds, stimuli, bins, neurons)."""
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
) -> list[PairedRow]:
    """Paired SNN − twin statistics per model.

    Args:
        runs: (model label, spiking, seed, run dir) of every run with a predictions.h5.
        note: called with a line for each run left out (a duplicate, or no partner).

    Raises:
        UserError: an SNN and its twin (or two seeds of one model) differ in neurons, stimuli or responses.
    """
    by: dict[tuple[str, int, bool], Path] = {}
    for label, spiking, s, d in sorted(runs, key=lambda x: (x[0], x[2], not x[1], str(x[3]))):
        key = (label, int(s), bool(spiking))
        if key in by:
            note(f"{d} repeats model {label}, seed {s}, spiking={spiking}; left out of the paired comparison")
            continue
        by[key] = Path(d)
    out = []
    for label in sorted({k[0] for k in by}):
        seeds = sorted(s for (lab, s, sp) in by if lab == label and sp and (lab, s, False) in by)
        unpaired = sorted(s for (lab, s, _) in by if lab == label and s not in seeds)
        if unpaired:
            note(f"model {label}: seed(s) {sorted(set(unpaired))} have no SNN/twin partner; left out")
        if not seeds:
            continue
        preds = {(s, sp): paired_arrays(by[(label, s, sp)]) for s in seeds for sp in (True, False)}
        ref_key = (seeds[0], True)
        for key, p in preds.items():
            if key != ref_key:
                _check(preds[ref_key], p, by[(label, *key)] / "predictions.h5", by[(label, *ref_key)])

        sessions = {name: _stack(preds, seeds, name) for name in preds[ref_key]}
        per_session = {
            name: paired_comparison([v], n_boot=n_boot, n_perm=n_perm, seed=seed) for name, v in sessions.items()
        }
        overall = paired_comparison(list(sessions.values()), n_boot=n_boot, n_perm=n_perm, seed=seed)
        out.append(PairedRow(label, seeds, overall, per_session))
    return out


PAIRED_HEADER = [
    "model",
    "seeds",
    "neurons",
    "test stimuli",
    "SNN median r",
    "twin median r",
    "mean Δr SNN − twin [95% CI: bootstrap seeds × neurons × stimuli]",
    "median Δr",
    "p (SNN/twin swapped per seed × stimulus)",
    "p seeds (runs swapped per seed, exact)",
]


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


def paired_table(paths: list[str | Path], n_boot: int = 1000, n_perm: int = 2000, seed: int = 0) -> str:
    """Markdown table of the paired SNN − twin comparison per model (and per session), with the test named
    below it; empty when no model has both an SNN and a twin run."""
    runs = []
    for path in find_runs(paths):
        if (path.parent / "predictions.h5").is_file():
            m = outputs.read_metrics(path)
            runs.append((model_label(m), bool(m["model"]["spiking"]), int(m["run"]["seed"]), path.parent))
    rows = paired_rows(runs, n_boot=n_boot, n_perm=n_perm, seed=seed)
    if not rows:
        return ""
    cells = []
    for r in rows:
        cells.append(paired_cells(r.model, len(r.seeds), r.overall))
        if len(r.sessions) > 1:
            cells += [paired_cells(f"{r.model} / {s}", len(r.seeds), res) for s, res in r.sessions.items()]
    return (
        markdown_table(PAIRED_HEADER, cells, align="llrrrrrrrr")
        + f"\n\nTest: {TEST_NAME}; {n_boot} bootstrap resamples, {n_perm} random swaps."
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="snnvis: %(message)s")
    args = sys.argv[1:] or ["multirun"]
    try:
        print(table(args))
        paired = paired_table(args)
    except UserError as err:
        print(err.message, file=sys.stderr)
        sys.exit(2)
    if paired:
        print("\nSNN vs DNN twin, paired (same neurons, test stimuli and seeds):\n")
        print(paired)
    time_courses = time_course_table(args)
    if time_courses:
        print("\nPSTH time courses against the mean-time-course baseline (same neurons and test stimuli):\n")
        print(time_courses)

"""Paired A − B comparisons of finished runs, from the per-stimulus predictions in their
``predictions.h5`` (by default SNN − twin per model; :func:`paired_rows`), and their markdown rows.

The statistics are those of :mod:`snnvis.similarity.paired`; the tables that find runs on disk are
:func:`snnvis.training.summary.paired_table` and :func:`snnvis.training.summary.model_pair_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnvis import outputs
from snnvis.errors import UserError
from snnvis.similarity.paired import PairedResult, PairingError, check_pairing, paired_comparison
from snnvis.utils import markdown_table

log = logging.getLogger(__name__)


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


def paired_markdown(rows: list[PairedRow], header: list[str], test: str, n_boot: int, n_perm: int) -> str:
    cells = []
    for r in rows:
        cells.append(paired_cells(r.model, len(r.seeds), r.overall))
        if len(r.sessions) > 1:
            cells += [paired_cells(f"{r.model} / {s}", len(r.seeds), res) for s, res in r.sessions.items()]
    return (
        markdown_table(header, cells, align="llrrrrrrrr")
        + f"\n\nTest: {test}; {n_boot} bootstrap resamples, {n_perm} random swaps."
    )

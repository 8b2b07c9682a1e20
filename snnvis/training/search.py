"""Hyperparameter searches with Hydra's Optuna sweeper (``snnvis/conf/hparams_search``).

A search is ``snnvis-train -m hparams_search=<name>``: the sweeper asks Optuna for a setting,
trains it as one job and reports the job's return value, the metric named by
``optimized_metric`` (validation only: ``validation.pearson_r_median``, see :func:`objective`).

The study lives in an sqlite file in the sweep dir (``${snnvis_study_storage:${hydra.sweep.dir}}``),
and the sweeper's ``n_trials`` is what is left of the budget (``${snnvis_trials_left:...}``): the
trials already finished in that file count, so a killed search that is started again runs only
the missing trials, and a finished one runs none. A trial that a killed search left running
(started before this process) is marked failed on restart.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from snnvis.errors import UserError

STUDY_FILE = "optuna.db"
# The value a trial reports when it has no score (its training failed, or every prediction is constant).
NO_SCORE = -1.0
_STARTED = datetime.now()  # optuna records trial start times as local time


def study_storage(sweep_dir: str) -> str:
    """``sqlite:///<sweep_dir>/optuna.db`` (absolute); creates the sweep dir so sqlite can open the file."""
    path = Path(sweep_dir).absolute()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / STUDY_FILE}"


def _db_path(storage: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(storage[len(prefix) :]) if storage.startswith(prefix) else None


def finished_trials(storage: str, study_name: str) -> int:
    """Trials of ``study_name`` in an sqlite ``storage`` that finished (complete or pruned); 0 without a file."""
    db = _db_path(storage)
    if db is None or not db.is_file():
        return 0
    with sqlite3.connect(db) as con:
        try:
            (n,) = con.execute(
                "SELECT COUNT(*) FROM trials JOIN studies USING (study_id) "
                "WHERE studies.study_name = ? AND trials.state IN ('COMPLETE', 'PRUNED')",
                (study_name,),
            ).fetchone()
        except sqlite3.OperationalError:  # the file exists but optuna has not created its tables yet
            return 0
    return int(n)


def mark_interrupted(storage: str, study_name: str, before: datetime | None = None) -> int:
    """Mark the trials of ``study_name`` recorded as running that started before ``before`` (default:
    this process's start) as failed: a killed search left them. Returns how many."""
    db = _db_path(storage)
    if db is None or not db.is_file():
        return 0
    with sqlite3.connect(db) as con:
        try:
            cur = con.execute(
                "UPDATE trials SET state = 'FAIL' WHERE state = 'RUNNING' AND datetime_start < ? AND study_id IN "
                "(SELECT study_id FROM studies WHERE study_name = ?)",
                ((before or _STARTED).isoformat(sep=" ", timespec="microseconds"), study_name),
            )
        except sqlite3.OperationalError:
            return 0
        return cur.rowcount


def trials_left(storage: str, study_name: str, n_trials: int) -> int:
    """``n_trials`` minus the finished trials of the study: the sweeper's ``n_trials`` on a (re)start."""
    if storage is None or study_name is None:
        return int(n_trials)
    mark_interrupted(storage, study_name)
    return max(0, int(n_trials) - finished_trials(storage, study_name))


def register_resolvers() -> None:
    """``${snnvis_study_storage:sweep_dir}`` and ``${snnvis_trials_left:storage,study_name,n_trials}``."""
    for name, fn in (("snnvis_study_storage", study_storage), ("snnvis_trials_left", trials_left)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def objective(cfg, metrics: dict) -> float:
    """The value a search maximises: ``metrics`` at the dotted key ``cfg.optimized_metric``
    (e.g. ``validation.pearson_r_median``); :data:`NO_SCORE` when it is null or not finite.
    A search must not look at test scores: keys under ``test`` are refused."""
    key = str(cfg.optimized_metric)
    if key.split(".")[0] != "validation":
        raise UserError("optimized_metric", f"must be a validation key (validation.<name>), got {key!r}")
    node = metrics
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError("optimized_metric", f"{key!r} is not in metrics.json")
        node = node[part]
    value = NO_SCORE if node is None else float(node)
    return value if math.isfinite(value) else NO_SCORE


def _searched(run_dir: Path) -> dict[str, str]:
    """The trial's values of the knobs its study searched (from the run's ``.hydra`` record)."""
    hydra_yaml, overrides_yaml = run_dir / ".hydra" / "hydra.yaml", run_dir / ".hydra" / "overrides.yaml"
    if not (hydra_yaml.is_file() and overrides_yaml.is_file()):
        return {}
    params = OmegaConf.load(hydra_yaml).hydra.sweeper.get("params") or {}
    pairs = (o.split("=", 1) for o in OmegaConf.load(overrides_yaml) if "=" in o)
    return {k: v for k, v in pairs if k in params}


def best_trials(paths: list[str | Path]) -> list[dict]:
    """Per family (SNN, twin) over the finished trials under ``paths``: the trial with the best
    validation median r, with its test summary. Ensemble members are not trials."""
    from snnvis import outputs
    from snnvis.training.summary import find_runs

    best: dict[bool, dict] = {}
    counts: dict[bool, int] = {}
    for path in find_runs(paths):  # an ensemble's members are not trials
        m = outputs.read_metrics(path)
        val = (m.get("validation") or {}).get("pearson_r_median")
        spiking = bool(m["model"]["spiking"])
        counts[spiking] = counts.get(spiking, 0) + 1
        if val is not None and (spiking not in best or val > best[spiking]["validation"]):
            best[spiking] = {"run": path.parent, "validation": val, "metrics": m}
    return [{**best[s], "spiking": s, "n_trials": counts[s]} for s in sorted(best, reverse=True)]


def best_table(paths: list[str | Path]) -> str:
    """Markdown table: each family at its best validation setting, then that setting's test score."""
    from snnvis.training.summary import _fmt
    from snnvis.utils import markdown_table

    rows = []
    for b in best_trials(paths):
        m, searched = b["metrics"], _searched(b["run"])
        base = (m.get("baseline") or {}).get("overall")
        rows.append(
            [
                "SNN" if b["spiking"] else "DNN twin",
                b["n_trials"],
                f"{b['validation']:.3f}",
                _fmt(m["test"]["overall"], "pearson_r"),
                "-" if base is None else f"{base['pearson_r_median']:.3f}",
                f"{m['model']['n_params']:,}",
                ", ".join(f"{k}={v}" for k, v in searched.items()) or "-",
                str(b["run"]),
            ]
        )
    header = [
        "family",
        "trials",
        "best validation median r",
        "its test median r [95% CI]",
        "ridge on untrained core",
        "params",
        "setting",
        "run",
    ]
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m snnvis.training.search SWEEP_DIR ...``: the best-validation table of the searches."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m snnvis.training.search SWEEP_DIR [SWEEP_DIR ...]", file=sys.stderr)
        return 2
    print(best_table(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

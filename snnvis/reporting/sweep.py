"""Sweep discovery: the training runs (``metrics.json``) and score tables (``scores.csv``) under a folder.

A *sweep directory* holds training runs (any folder with a ``metrics.json``, e.g. the
subdirectories of a Hydra multirun) and/or scoring runs (any ``scores.csv``). Scores
written into a run's ``scores/`` folder (``snnvis-score checkpoint=<run>``,
:func:`snnvis.reporting.score_runs`) belong to that run; a ``scores.csv`` outside any run is
reported on its own. Each run gets a model label:
the model config plus the overrides (other than ``model.spiking``/``seed``) that differ
between the sweep's runs, so an SNN and its twin share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snnvis.errors import UserError
from snnvis.outputs import METRICS_FILE, Metrics, read_metrics, read_scores
from snnvis.reporting.output import incomplete_runs

_NOT_IN_LABEL = {"model", "model.spiking", "seed", "sweep", "experiment"}


@dataclass
class Run:
    """One training run of a sweep."""

    dir: Path
    rel: str
    metrics: Metrics
    architecture: str
    spiking: bool
    seed: int
    config_hash: str
    model_config: str  # the model config chosen (e.g. sew_resnet_tiny)
    overrides: dict = field(default_factory=dict)
    label_excluded: set = field(default_factory=set)
    cwd: Path | None = None  # where the run was launched (relative paths start there)
    label: str = ""

    def resolve(self, path: str | Path) -> Path:
        """A path written by the run (e.g. a recording), made absolute from the run's cwd."""
        p = Path(path)
        if p.is_absolute() or self.cwd is None or p.exists():
            return p
        return self.cwd / p


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
    except Exception:  # a damaged .hydra folder only costs the nicer label
        pass
    return choice, overrides, excluded, cwd


def load_run(run_dir: Path, root: Path) -> Run:
    """Read ``run_dir/metrics.json`` (and ``.hydra/``) into a :class:`Run`.

    Raises:
        UserError: unreadable or incomplete metrics.json.
    """
    path = run_dir / METRICS_FILE
    m = read_metrics(path)
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
    return Run(run_dir, rel_path(run_dir, root), m, arch, spiking, seed, chash, str(choice), overrides, excluded, cwd)


def rel_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (``.`` for root itself); as it is when outside ``root``."""
    try:
        rel = path.resolve().relative_to(root.resolve())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(path)


def _assign_labels(runs: list[Run]) -> None:
    """label = model config + the overrides (other than spiking/seed) that differ between runs."""
    keys = set()
    for r in runs:
        keys |= {
            k for k in r.overrides if k not in _NOT_IN_LABEL and k not in r.label_excluded and not k.startswith("hydra")
        }
    varying = sorted(k for k in keys if len({r.overrides.get(k) for r in runs}) > 1)
    for r in runs:
        extra = ",".join(f"{k}={r.overrides.get(k, '-')}" for k in varying)
        r.label = f"{r.model_config}[{extra}]" if extra else r.model_config


def load_scores(path: Path) -> list[dict]:
    """Rows of a scores.csv (strings), checked for the columns the report needs."""
    need = ("model", "spiking", "seed", "layer", "depth", "area", "metric", "split", "score")
    return read_scores(path, need)


@dataclass
class Sweep:
    """Everything found under a sweep directory."""

    root: Path
    runs: list[Run]
    scores: list[tuple[Path, Run | None, list[dict]]]  # (scores.csv, owning run or None, rows)
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
    incomplete = [rel_path(d, root) for d in incomplete_runs(root, exclude)]
    if not run_dirs and not score_files:
        if incomplete:
            more = ", ..." if len(incomplete) > 3 else ""
            raise UserError(
                "sweep directory",
                f"no finished runs: {len(incomplete)} incomplete (no metrics.json): {', '.join(incomplete[:3])}{more}",
                root,
            )
        raise UserError("sweep directory", "no runs found (no metrics.json or scores.csv below it)", root)
    runs = [load_run(d, root) for d in run_dirs]
    _assign_labels(runs)
    by_dir = {r.dir.resolve(): r for r in runs}
    scores = []
    for p in score_files:
        owner = next((by_dir[a] for a in p.resolve().parents if a in by_dir), None)
        scores.append((p, owner, load_scores(p)))
    return Sweep(root, runs, scores, incomplete)

"""The ``+sweep=task_vs_neural`` runs as figure records and a CSV: each run's condition (untrained,
pretrained, neural), family and seed with its held-out test accuracy and bootstrap CI."""

from __future__ import annotations

from pathlib import Path

from snnvis.errors import UserError
from snnvis.outputs import METRICS_FILE, read_metrics

__all__ = ["COLUMNS", "figure_task_vs_neural", "run_condition", "task_vs_neural_records"]

COLUMNS = ("condition", "spiking", "seed", "value", "ci95_low", "ci95_high", "run")


def run_condition(run_dir: Path) -> str | None:
    """``task_vs_neural.condition`` of a run: from its ``.hydra/config.yaml`` (snnvis-train writes it),
    else from the config saved in its last checkpoint; None when the run is not of this sweep."""
    from omegaconf import OmegaConf

    hydra_cfg = run_dir / ".hydra" / "config.yaml"
    if hydra_cfg.is_file():
        return OmegaConf.select(OmegaConf.load(hydra_cfg), "task_vs_neural.condition", default=None)
    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file():
        from snnvis.training import checkpoint

        return ((checkpoint.load(last).get("config") or {}).get("task_vs_neural") or {}).get("condition")
    return None


def task_vs_neural_records(
    sweep_dir: str | Path, group: str = "overall", value: str = "pearson_r_median"
) -> list[dict]:
    """One record per finished run under ``sweep_dir``: ``condition``, ``spiking``, ``seed``, ``value``
    (``test.<group>.<value>`` of its metrics.json: by default the median Pearson r over neurons on the
    test split) and ``ci95`` (its bootstrap interval over neurons), plus ``run`` (the folder)."""
    records = []
    for path in sorted(Path(sweep_dir).rglob(METRICS_FILE)):
        condition = run_condition(path.parent)
        if condition is None:
            continue
        m = read_metrics(path)
        summary = (m.get("test") or {}).get(group) or {}
        records.append(
            {
                "condition": condition,
                "spiking": bool(m["model"]["spiking"]),
                "seed": int(m["run"]["seed"]),
                "value": summary.get(value),
                "ci95": summary.get(f"{value}_ci95"),
                "run": str(path.parent),
            }
        )
    if not records:
        raise UserError("task_vs_neural", "no finished runs of +sweep=task_vs_neural (metrics.json)", sweep_dir)
    return records


def figure_task_vs_neural(sweep_dir: str | Path, out: Path, entries: list) -> list[dict]:
    """The figure (PNG + PDF) and ``task_vs_neural.csv`` in ``out``; returns the records drawn."""
    from snnvis.figures.task_vs_neural import task_vs_neural
    from snnvis.outputs import write_results
    from snnvis.reporting.figures import save_entry

    records = task_vs_neural_records(sweep_dir)
    save_entry(
        task_vs_neural(records),
        Path(out) / "task_vs_neural",
        entries,
        "Untrained vs task-pretrained vs neurally trained cores (SNN and twin)",
        "Median Pearson r over neurons on the recordings' held-out test stimuli. Untrained: a random core, "
        "frozen, with readouts fitted; pretrained: a snnvis-pretrain core, frozen, with readouts fitted; "
        "neural: core and readouts trained on the recordings. Bars: mean over seeds; dots: seeds.",
    )
    rows = [
        {**r, "ci95_low": (r["ci95"] or [None, None])[0], "ci95_high": (r["ci95"] or [None, None])[1]} for r in records
    ]
    write_results(Path(out) / "task_vs_neural.csv", rows, COLUMNS)
    return records

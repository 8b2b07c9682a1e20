"""TensorBoard records of a run in ``<run>/tensorboard``: per-epoch scalars while it trains and,
at its end, its hyperparameters (the resolved config's scalar knobs) with its final metrics for
TensorBoard's HParams dashboard (``tensorboard --logdir multirun/<name>`` compares a sweep's runs).
"""

from __future__ import annotations

import math
from pathlib import Path

from snnvis.training.identity import NOT_HASHED

LOGDIR = "tensorboard"
SKIPPED = (*NOT_HASHED, "trainer.tensorboard", "trainer.threads")  # how a run executes, not what it is


def epoch_writer(run_dir: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(Path(run_dir) / LOGDIR))


def scalar_knobs(config: dict, prefix: str = "") -> dict[str, int | float | str]:
    """The flattened config's scalar values by dotted key (booleans as ``"True"``/``"False"``;
    lists, nulls and :data:`SKIPPED` left out)."""
    out: dict[str, int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if name in SKIPPED:
            continue
        if isinstance(value, dict):
            out.update(scalar_knobs(value, f"{name}."))
        elif isinstance(value, bool):  # TensorBoard's discrete domain reads better than torch's 0/1
            out[name] = str(value)
        elif isinstance(value, (int, float, str)):
            out[name] = value
    return out


def final_metrics(metrics: dict) -> dict[str, float]:
    """The run's headline numbers from metrics.json, by TensorBoard tag (missing or non-finite left out)."""
    picked = {
        "test/pearson_r_median": metrics.get("test", {}).get("overall", {}).get("pearson_r_median"),
        "test/pearson_r_mean": metrics.get("test", {}).get("overall", {}).get("pearson_r_mean"),
        "validation/best_pearson_r_mean": metrics.get("validation", {}).get("pearson_r_mean"),
        "validation/best_epoch": metrics.get("validation", {}).get("best_epoch"),
        "validation/epochs_trained": metrics.get("validation", {}).get("epochs_trained"),
        "run/wall_s": metrics.get("run", {}).get("wall_s"),
    }
    for name in ("baseline", "baseline_lookup"):
        overall = metrics.get(name, {}).get("overall", {}) if isinstance(metrics.get(name), dict) else {}
        picked[f"{name}/pearson_r_median"] = overall.get("pearson_r_median")
    return {k: float(v) for k, v in picked.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def write_hparams(run_dir: Path, config: dict, metrics: dict) -> None:
    """Append the run's hparams and final metrics to its TensorBoard log (one session of the
    HParams dashboard, in the same run as the per-epoch scalars)."""
    from torch.utils.tensorboard.summary import hparams

    knobs, final = scalar_knobs(config), final_metrics(metrics)
    step = int(metrics.get("validation", {}).get("epochs_trained") or 0)
    with epoch_writer(run_dir) as writer:
        for summary in hparams(knobs, final):
            writer.file_writer.add_summary(summary, step)
        for tag, value in final.items():
            writer.add_scalar(tag, value, step)

"""``metrics.json``: the record of a finished training run, written by :func:`write_metrics` and
read by :func:`read_metrics` (its only writer and reader).

Layout (schema version 1; files written before versions were recorded have this layout):

- ``schema_version``: 1.
- ``test``: held-out summaries (:data:`Summaries`: ``overall``, one entry per area,
  ``sessions.<id>``), as :func:`snnvis.training.metrics.group_summaries` returns them.
- ``baseline`` / ``baseline_lookup`` (optional): the same layout for the ridge on the untrained
  core and the pixel-lookup predictor.
- ``validation``, ``model``, ``data``, ``run``: see :class:`Validation`, :class:`ModelEntry`,
  :class:`DataEntry`, :class:`RunEntry`.
- ``compute`` (optional): the core's cost per image and the run's time, :class:`ComputeEntry`.
- ``ensemble`` (optional, ``trainer.ensemble`` > 1): ``n_members``, ``seeds`` and ``members.<k>``
  (``run_dir``, ``seed``, ``validation``, ``test``: that member's overall summary); ``test`` and
  ``validation`` are then the ensemble's (:mod:`snnvis.training.ensemble`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from snnvis.errors import UserError
from snnvis.outputs.version import VERSION_KEY, check_version
from snnvis.utils import atomic_path

METRICS_FILE = "metrics.json"
SCHEMA_VERSION = 1

Summaries = dict[str, Any]  # overall / <area> / sessions: {statistic: value}


class Validation(TypedDict):
    best_epoch: int
    pearson_r_mean: float  # of the best epoch (what early stopping follows)
    epochs_trained: int
    pearson_r_median: NotRequired[float | None]  # the best checkpoint's (a search's objective); None: no finite r


class ComputeEntry(TypedDict, total=False):
    """Per image, counted by :func:`snnvis.evaluation.compute.compute_report` on test stimuli."""

    macs_per_image: float
    synops_per_image: float  # SOPs + the analog first layer's MACs (a twin: = MACs)
    sops_per_image: float
    analog_macs_per_image: float
    spike_rate: dict[str, float]  # neuron layer -> fraction of non-zero outputs per step
    mean_spike_rate: float
    steps: int | None
    images_counted: int
    seconds_per_image: float
    train_s: float
    wall_s: float


class ModelEntry(TypedDict, total=False):
    name: str
    encoder: str
    spiking: bool
    n_params: int
    n_params_with_readouts: int


class SessionEntry(TypedDict, total=False):
    recording: str
    sha256: str
    response_set: str
    n_neurons: int
    n_train: int
    n_validation: int
    n_test: int


class DataEntry(TypedDict, total=False):
    sessions: dict[str, SessionEntry]
    n_stimuli: int
    target: str


class RunEntry(TypedDict, total=False):
    seed: int
    device: str
    device_name: str
    world_size: int
    wall_s: float
    config_hash: str
    torch: str


class Metrics(TypedDict, total=False):
    schema_version: int
    test: Summaries
    baseline: Summaries
    baseline_lookup: Summaries
    validation: Validation
    model: ModelEntry
    data: DataEntry
    run: RunEntry
    compute: ComputeEntry
    ensemble: dict[str, Any]


def write_metrics(path: str | Path, metrics: Metrics) -> Metrics:
    """Write ``metrics`` (atomically) with the current schema version first; returns what was written."""
    record: Metrics = {VERSION_KEY: SCHEMA_VERSION, **{k: v for k, v in metrics.items() if k != VERSION_KEY}}
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=float) + "\n")
    return record


def read_metrics(path: str | Path, advice: str = "") -> Metrics:
    """A ``metrics.json`` as a dict; one-line UserError when it cannot be read, is not JSON, is not
    an object, or has a schema version this snnvis does not know. ``advice`` ends those messages."""
    path = Path(path)
    tail = f"; {advice}" if advice else ""
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise UserError(METRICS_FILE, f"cannot read ({err.strerror or err})", path) from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise UserError(METRICS_FILE, f"not valid JSON ({err}){tail}", path) from None
    if not isinstance(data, dict):
        raise UserError(METRICS_FILE, f"not a metrics object (top level is {type(data).__name__}){tail}", path)
    check_version(data.get(VERSION_KEY), SCHEMA_VERSION, METRICS_FILE, path)
    return data

"""snnvis RDMs and activations as rsatoolbox objects (rsatoolbox 0.3).

:func:`to_rdms` wraps ``(n_rdms, n, n)`` dissimilarity matrices (e.g. from
:func:`snnvis.similarity.rdm.rdm`) in an ``rsatoolbox.rdm.RDMs`` with the rdm descriptors
``layer``, ``area``, ``model`` and ``time_step`` (one value each, or one per RDM) and the
pattern descriptor ``stimulus_id``; ``dissimilarity_measure`` is the snnvis method name
(``correlation`` or ``euclidean``, which rsatoolbox computes identically: 1 - Pearson r,
and squared distance / n_features).

:func:`to_dataset` wraps one layer's activations: ``(n_stimuli, features)`` becomes a
``Dataset``; ``(n_stimuli, T, features)`` (the time axis kept by
:func:`snnvis.evaluation.activations.extract_activations`) becomes a ``TemporalDataset``
with time descriptors ``time_step`` (0..T-1) and ``time`` (``time_step * dt_ms`` when
``dt_ms`` is given, else the step), so ``rsatoolbox.rdm.calc_rdm_movie`` gives one RDM per
step. Descriptors: ``layer``, ``area``, ``model``; obs descriptor ``stimulus_id``;
channel descriptor ``feature``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnvis.errors import UserError


def _per_rdm(name: str, value, n: int) -> list:
    if value is None or isinstance(value, (str, int, float, np.integer, np.floating)):
        return [value if value is not None else ""] * n
    value = list(value)
    if len(value) != n:
        raise UserError(f"descriptor {name!r}", f"{len(value)} values for {n} RDMs")
    return value


def to_rdms(
    matrices,
    stimulus_ids: Sequence[str],
    method: str = "correlation",
    layer=None,
    area=None,
    model=None,
    time_step=None,
):
    """``rsatoolbox.rdm.RDMs`` of ``matrices`` ((n, n) or (n_rdms, n, n); numpy or torch)."""
    from rsatoolbox.rdm import RDMs

    m = np.asarray(matrices.detach().cpu() if hasattr(matrices, "detach") else matrices, dtype=np.float64)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1] != m.shape[2]:
        raise UserError("RDMs", f"must be (n, n) or (n_rdms, n, n), got shape {m.shape}")
    if len(stimulus_ids) != m.shape[1]:
        raise UserError("RDMs", f"{m.shape[1]} conditions but {len(stimulus_ids)} stimulus ids")
    k = m.shape[0]
    desc = {
        "layer": _per_rdm("layer", layer, k),
        "area": _per_rdm("area", area, k),
        "model": _per_rdm("model", model, k),
        "time_step": _per_rdm("time_step", time_step, k),
    }
    return RDMs(
        m,
        dissimilarity_measure=method,
        rdm_descriptors=desc,
        pattern_descriptors={"stimulus_id": [str(s) for s in stimulus_ids]},
    )


def to_dataset(
    activations,
    stimulus_ids: Sequence[str],
    layer: str = "",
    area: str = "",
    model: str = "",
    dt_ms: float | None = None,
):
    """rsatoolbox ``Dataset`` (2-d activations) or ``TemporalDataset`` (3-d, time axis kept)."""
    from rsatoolbox.data import Dataset, TemporalDataset

    a = np.asarray(activations, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[0] != len(stimulus_ids):
        raise UserError(
            "activations",
            f"must be (n_stimuli, [T,] features) with n_stimuli = {len(stimulus_ids)}, got shape {a.shape}",
        )
    desc = {"layer": layer, "area": area, "model": model}
    obs = {"stimulus_id": np.array([str(s) for s in stimulus_ids])}
    chn = {"feature": np.arange(a.shape[-1])}
    if a.ndim == 2:
        return Dataset(a, descriptors=desc, obs_descriptors=obs, channel_descriptors=chn)
    steps = np.arange(a.shape[1])
    time = steps * float(dt_ms) if dt_ms is not None else steps.astype(float)
    # rsatoolbox's TemporalDataset is (observations, channels, time)
    return TemporalDataset(
        a.transpose(0, 2, 1),
        descriptors=desc,
        obs_descriptors=obs,
        channel_descriptors=chn,
        time_descriptors={"time": time, "time_step": steps},
    )

"""Recordings and model activations as Brain-Score / BrainIO-style ``xarray`` assemblies.

An assembly is an ``xarray.DataArray`` with dims ``("presentation", "neuroid", "time_bin")``:

- ``presentation`` coords: ``stimulus_id`` and ``repetition`` (the trial index among an
  image's repeats; -1 for a trial-averaged response), plus ``split`` for a recording;
- ``neuroid`` coords: ``neuroid_id`` and ``region`` (a neuron's area; for a model layer,
  the area the layer models, or the layer name), plus ``layer`` for activations;
- ``time_bin`` coords: ``time_bin_start`` and ``time_bin_end`` in ms, from the response
  set's ``windows_ms`` (a recording) or from the simulation step ``k * dt_ms`` to
  ``(k + 1) * dt_ms`` (activations; steps when no ``dt_ms`` is given, ``time_unit``
  says which). A recording's ``align`` attr says what the times are relative to
  (stimulus onset, or each frame's onset); with frame-aligned bins of a sequence the
  ``frame`` coord says which frame a bin belongs to (0 otherwise).

``attrs`` hold the recording id, source, units and response name (or model and layer).
Brain-Score keeps these coords in pandas MultiIndexes; here they are plain coords on
their dims, which netCDF stores as they are (``assembly.to_netcdf(path)``,
``xarray.open_dataarray(path)``); ``da.set_index(presentation=["stimulus_id",
"repetition"])`` builds the MultiIndex where a tool wants it. Trials padded with NaN
(an image shown fewer times than the most repeated one) are left out of a trial
assembly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snnvis.errors import UserError

DIMS = ("presentation", "neuroid", "time_bin")


def recording_assembly(rec, response: str | None = None, trials: bool = False):
    """One response set of a :class:`~snnvis.recordings.recording.Recording` as an assembly.

    ``trials=False``: the trial-averaged ``mean`` (one presentation per stimulus);
    ``trials=True``: every recorded trial (presentation = stimulus x repetition).
    """
    import xarray as xr

    info = rec.response_info(response)
    name = response or rec.default_response
    ids = np.asarray(rec.stimulus_ids).astype(str)
    split = np.full(len(ids), "", dtype=object)
    for s, idx in rec.splits.items():
        split[idx] = s
    if trials:
        t = rec.trials(name)
        if t is None:
            raise UserError(f"response set {name!r}", "has no trials", rec.path)
        keep = ~np.all(np.isnan(t), axis=(2, 3))  # (stimuli, repeats): NaN-padded trials out
        s_idx, r_idx = np.nonzero(keep)
        data = t[s_idx, r_idx]
    else:
        data = rec.mean(name)
        s_idx, r_idx = np.arange(len(ids)), np.full(len(ids), -1)
    w = np.asarray(info.windows_ms, dtype=float)
    frame = np.zeros(len(w), dtype=int)
    if data.shape[1] != len(w):  # frame-major bins: bin f * n_windows + k is window k of frame f
        frame = np.repeat(np.arange(data.shape[1] // len(w)), len(w))
        w = np.concatenate([w] * (data.shape[1] // len(w)))
    coords = {
        "stimulus_id": ("presentation", ids[s_idx]),
        "repetition": ("presentation", r_idx.astype(int)),
        "split": ("presentation", split[s_idx].astype(str)),
        "neuroid_id": ("neuroid", np.asarray(rec.neuron_ids).astype(str)),
        "region": ("neuroid", np.asarray(rec.neuron_areas).astype(str)),
        "time_bin_start": ("time_bin", w[:, 0]),
        "time_bin_end": ("time_bin", w[:, 1]),
        "frame": ("time_bin", frame),
    }
    attrs = {
        "recording_id": rec.id,
        "source": rec.source,
        "response": name,
        "units": info.units,
        "align": info.align,
        "time_unit": "ms",
    }
    return xr.DataArray(
        np.asarray(data, dtype=np.float32).transpose(0, 2, 1), dims=DIMS, coords=coords, attrs=attrs, name=rec.id
    )


def activations_assembly(
    activations,
    stimulus_ids: Sequence[str],
    layer: str,
    model: str = "",
    region: str | None = None,
    dt_ms: float | None = None,
):
    """One layer's activations ``(n_stimuli, T, features)`` or ``(n_stimuli, features)`` as an assembly.

    ``neuroid_id`` is ``<layer>.<feature>``; ``region`` defaults to the layer name.
    """
    import xarray as xr

    a = np.asarray(activations, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, None]
    if a.ndim != 3 or a.shape[0] != len(stimulus_ids):
        raise UserError(
            "activations",
            f"must be (n_stimuli, [T,] features) with n_stimuli = {len(stimulus_ids)}, "
            f"got shape {np.shape(activations)}",
        )
    n, steps, f = a.shape
    step = 1.0 if dt_ms is None else float(dt_ms)
    coords = {
        "stimulus_id": ("presentation", np.asarray(stimulus_ids).astype(str)),
        "repetition": ("presentation", np.full(n, -1)),
        "neuroid_id": ("neuroid", np.array([f"{layer}.{k}" for k in range(f)])),
        "region": ("neuroid", np.full(f, region or layer).astype(str)),
        "layer": ("neuroid", np.full(f, layer).astype(str)),
        "time_bin_start": ("time_bin", np.arange(steps) * step),
        "time_bin_end": ("time_bin", (np.arange(steps) + 1) * step),
    }
    attrs = {"model": model, "layer": layer, "time_unit": "steps" if dt_ms is None else "ms"}
    return xr.DataArray(a.transpose(0, 2, 1), dims=DIMS, coords=coords, attrs=attrs, name=f"{model}:{layer}")

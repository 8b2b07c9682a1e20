"""An NWB file written by pynwb with known Poisson rates per image and unit, and its PNG images."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ON_S, GAP_S, BASE_HZ = 0.3, 0.2, 2.0
N_IMAGES, N_UNITS, N_REPEATS = 40, 6, 5  # the session of the interop fixtures


def true_rates(n_images: int, n_units: int, seed: int = 0) -> np.ndarray:
    """(images, units) spikes/s during each presentation."""
    return np.random.default_rng(seed).uniform(5.0, 60.0, size=(n_images, n_units))


def write_images(folder: Path, n_images: int, size: int = 16, seed: int = 1) -> list[str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = [f"img{i:03d}" for i in range(n_images)]
    for i in ids:
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(folder / f"{i}.png")
    return ids


def write_nwb(
    path: Path,
    ids: list[str],
    rates: np.ndarray,
    n_repeats: int,
    seed: int = 2,
    units: bool = True,
    table: bool = True,
    image_column: str = "image_id",
) -> dict:
    """Presentations in a shuffled order; spikes at ``rates`` during each, BASE_HZ between them.

    Returns the presentation order (image index per presentation), the onsets and every unit's spike times.
    """
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    rng = np.random.default_rng(seed)
    order = rng.permutation(np.repeat(np.arange(len(ids)), n_repeats))
    onsets = np.arange(len(order)) * (ON_S + GAP_S) + 0.1
    end = onsets[-1] + ON_S + GAP_S
    spikes = []
    for j in range(rates.shape[1]):
        t = [rng.uniform(0, end, rng.poisson(BASE_HZ * end))]
        t = [x[~np.any((x[:, None] >= onsets) & (x[:, None] < onsets + ON_S), axis=1)] for x in t]
        for k, s in enumerate(order):
            t.append(onsets[k] + rng.uniform(0, ON_S, rng.poisson(rates[s, j] * ON_S)))
        spikes.append(np.sort(np.concatenate(t)))
    nwb = NWBFile(
        session_description="synthetic test session",
        identifier="test-nwb-0",
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
        subject=Subject(subject_id="m1", species="Macaca mulatta"),
    )
    if units:
        nwb.add_unit_column("location", "recorded area")
        for j, s in enumerate(spikes):
            nwb.add_unit(spike_times=s, location="V4" if j % 2 == 0 else "IT")
    if table:
        ti = TimeIntervals(name="stimulus_presentations", description="image flashes")
        ti.add_column(image_column, "image file name without extension")
        for k, s in enumerate(order):
            ti.add_row(start_time=onsets[k], stop_time=onsets[k] + ON_S, **{image_column: ids[s]})
        nwb.add_time_intervals(ti)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return {"order": order, "onsets": onsets, "spikes": spikes}

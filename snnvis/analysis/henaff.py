"""Reproduction of Hénaff et al. 2021: does V1 straighten natural frame sequences?

For every natural and synthetic sequence of a ``henaff2021_v1`` recording,
:func:`session_curvatures` computes

* the **pixel curvature**: the mean angle between successive differences of the stored
  frames (uint8 pixels, flattened; the grey surround of the aperture contributes nothing
  to the differences). This matches the authors' "Pixel curvature" column to 1e-4 deg for
  every sequence (checked in tests), so the frames and their order are the authors';
* the **V1 curvature** of the population trajectory of spike counts (``frame_counts``:
  one count per unit and frame, single trials): naive (curvature of the trial average),
  the clipped moment estimate (:func:`snnvis.similarity.curvature_corrected`, which piles
  up at 0 deg at low SNR) and the posterior median with its 95% credible interval
  (:func:`snnvis.analysis.curvature_posterior.curvature_posterior`), which is the
  ``v1_curvature`` reported;
* Δ = V1 posterior median − pixel.

The published effect is relative: Δ is small for natural sequences (V1 about as curved
as the pixels, i.e. strongly straightened relative to how curved their pixel trajectories
are: ~90 deg) and large and positive for synthetic ones (pixel-straight, ~10 deg, but not
straight in V1).

Sequences: all 11 frames (``frame_step=1``, the authors' "dither 1"); synthetic sequences
are natural frame 1, nine pixel-interpolated frames and natural frame 11, as in the
authors' code (``loadStimuli`` in github.com/olivierhenaff/neural-straightening) and in
the recordings. ``frame_step=2`` pools the odd- and even-frame subsequences, the authors'
"dither 2" (their table gives synthetic pixel curvature for it, e.g. 5.4609 deg =
(4 x 5.4583 + 3 x 5.4644) / 7 for zoom1x movie 1, exactly this pooling).

Contrast sequences are left out of the comparison: they exist only at zoom1x for four
movies, are a contrast ramp of one frame rather than a movie, and have no rows in the
authors' table.

The authors' table (``curvature/acute_combined_235x.csv``, :func:`load_authors_table`)
has 720 rows: 9 datasets (7 of them released here) x 2 sequence types x 2 dithers x 20
sequences. Within a (dataset, type, dither) block, ordered by ``Index``, the sequences
are zoom1x movies 1-10 then zoom2x movies 1-10 (the authors' stimulus order; confirmed
by matching pixel curvature sequence by sequence). The type coding is derived from the
pixel curvature and checked: code 1 is natural (median ~96 deg), code 2 synthetic
(~10 deg).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from snnvis.analysis.curvature import curvature_naive, mean_angle, step_snr
from snnvis.analysis.curvature_posterior import curvature_posterior
from snnvis.errors import UserError
from snnvis.recordings.recording import Recording
from snnvis.utils import read_csv_rows

CATEGORIES = ("natural", "synthetic")
# Inclusion: a sequence enters the headline comparison when its step SNR (:func:`step_snr`)
# is at least this. Below it no estimator here recovers curvature in simulation (the
# posterior reverts towards 90 deg, the moment estimate piles up at 0 deg or is undefined);
# at and above it the posterior median is within 15 deg of the truth for 60-120 deg
# (tests/analysis/test_curvature_posterior.py). Selecting on SNR, which depends on the
# squared speeds only, does not select on the angle estimate (selecting on the width of the
# credible interval does: it keeps sequences that happen to look straight).
MIN_STEP_SNR = 0.2
ZOOMS = ("zoom1x", "zoom2x")
N_MOVIES = 10
_ID_RE = re.compile(r"^(zoom\d+x)/(natural|synthetic|contrast)/movie0*(\d+)(?:-.*)?$")


def parse_stimulus_id(stimulus_id: str) -> tuple[str, str, int]:
    """'zoom1x/natural/movie03-dogville' -> ('zoom1x', 'natural', 3)."""
    m = _ID_RE.match(str(stimulus_id))
    if not m:
        raise ValueError(f"not a henaff2021_v1 sequence id: {stimulus_id!r}")
    return m.group(1), m.group(2), int(m.group(3))


def session_curvatures(
    recording_path: str | Path, frame_step: int = 1, response: str = "frame_counts", categories=CATEGORIES
) -> list[dict]:
    """Pixel and V1 curvature of every sequence of one recording (see the module docstring).

    Args:
        recording_path: a ``henaff2021_v1`` recording file.
        frame_step: 1 = all 11 frames; 2 = odd and even frames pooled (authors' dither 2).
        response: response set with single trials and one bin per frame.
        categories: sequence categories to analyse (contrast is excluded by default).

    Returns:
        One record per sequence: session, stimulus_id, zoom, category, movie (number),
        frame_step, pixel_curvature, v1_curvature_naive, v1_curvature_moment (clipped moment
        estimate), v1_curvature (posterior median), v1_ci_low, v1_ci_high (95% credible
        interval), delta (= v1_curvature - pixel_curvature), delta_moment, snr
        (:func:`step_snr`), included (snr >= :data:`MIN_STEP_SNR`), n_units, n_repeats
        (repeats with any recorded count). Angles in degrees.
    """
    rec = Recording(recording_path)
    info = rec.response_info(response)
    if info.align != "frame" or info.frame_average or info.n_bins != rec.n_frames or not info.n_repeats:
        raise UserError(f"response set {response!r}", "needs single trials with one bin per frame", rec.path)
    if not rec.has_pixels:
        raise UserError("recording", "has no stimulus pixels", rec.path)
    parsed = [parse_stimulus_id(s) for s in rec.stimulus_ids]
    idx = [i for i, (_, cat, _) in enumerate(parsed) if cat in categories]
    if not idx:
        raise UserError("recording", f"no sequences of categories {list(categories)}", rec.path)
    trials = rec.trials(response, idx).astype(np.float64)  # (S, R, T, N)
    naive = curvature_naive(trials, frame_step)
    post = curvature_posterior(trials, frame_step)
    corrected, moment = post["median"], post["moment"]
    snr = step_snr(trials, frame_step)
    n_rep = (~np.isnan(trials)).any(axis=(2, 3)).sum(axis=1)
    records = []
    for k, i in enumerate(idx):
        frames = rec.stimuli([i])[0].astype(np.float64)  # (T, H, W, C), one at a time
        pixel = float(mean_angle(frames.reshape(frames.shape[0], -1), frame_step))
        zoom, cat, movie = parsed[i]
        records.append(
            {
                "session": rec.id,
                "stimulus_id": str(rec.stimulus_ids[i]),
                "zoom": zoom,
                "category": cat,
                "movie": movie,
                "frame_step": int(frame_step),
                "pixel_curvature": pixel,
                "v1_curvature_naive": float(naive[k]),
                "v1_curvature_moment": float(moment[k]),
                "v1_curvature": float(corrected[k]),
                "v1_ci_low": float(post["ci_low"][k]),
                "v1_ci_high": float(post["ci_high"][k]),
                "delta": float(corrected[k]) - pixel,
                "delta_moment": float(moment[k]) - pixel,
                "snr": float(snr[k]),
                "included": bool(snr[k] >= MIN_STEP_SNR),
                "n_units": int(rec.n_neurons),
                "n_repeats": int(n_rep[k]),
            }
        )
    return records


def _session_of(dataset: str) -> str:
    return re.sub(r"_image_sequences$", "", dataset)


def load_authors_table(path: str | Path) -> list[dict]:
    """The authors' per-sequence curvature table, with the sequence of every row.

    Returns:
        One record per row: session (e.g. 'ay2_u003'), dataset, index, type_code,
        category ('natural' | 'synthetic', derived from the pixel curvature and checked),
        dither, zoom, movie, pixel_curvature, delta ("Delta Curvature: neural"),
        delta_control ("Delta Curvature: control").

    Raises:
        UserError: missing columns, blocks that are not 20 sequences, pixel curvature that
            differs between datasets for the same sequence, or type codes whose pixel
            curvatures do not separate into a curved (natural) and a straight (synthetic) set.
    """
    path = Path(path)
    needed = (
        "Index",
        "Delta Curvature: neural",
        "Delta Curvature: control",
        "Dataset",
        "Pixel curvature",
        "sequence type",
        "dither",
    )
    raw = read_csv_rows(path, needed, "authors' curvature table")
    try:
        rows = [
            {
                "session": _session_of(r["Dataset"]),
                "dataset": r["Dataset"],
                "index": int(r["Index"]),
                "type_code": int(r["sequence type"]),
                "dither": int(r["dither"]),
                "pixel_curvature": float(r["Pixel curvature"]),
                "delta": float(r["Delta Curvature: neural"]),
                "delta_control": float(r["Delta Curvature: control"]),
            }
            for r in raw
        ]
    except ValueError as err:
        raise UserError("authors' curvature table", f"bad value ({err})", path) from None

    blocks: dict[tuple, list[dict]] = {}
    for r in rows:
        blocks.setdefault((r["dataset"], r["type_code"], r["dither"]), []).append(r)
    n_seq = len(ZOOMS) * N_MOVIES
    for key, block in blocks.items():
        if len(block) != n_seq:
            raise UserError("authors' curvature table", f"block {key} has {len(block)} rows, expected {n_seq}", path)
        block.sort(key=lambda r: r["index"])
        for pos, r in enumerate(block):
            r["zoom"], r["movie"] = ZOOMS[pos // N_MOVIES], pos % N_MOVIES + 1

    reference: dict[tuple, float] = {}
    for r in rows:
        key = (r["type_code"], r["dither"], r["zoom"], r["movie"])
        if abs(reference.setdefault(key, r["pixel_curvature"]) - r["pixel_curvature"]) > 1e-6:
            raise UserError(
                "authors' curvature table",
                f"pixel curvature of sequence {key} differs between datasets: row order is not the expected one",
                path,
            )

    codes = sorted({r["type_code"] for r in rows})
    medians = {c: float(np.median([r["pixel_curvature"] for r in rows if r["type_code"] == c])) for c in codes}
    curved = [c for c in codes if medians[c] > 60.0]
    straight = [c for c in codes if medians[c] < 30.0]
    if len(codes) != 2 or len(curved) != 1 or len(straight) != 1:
        raise UserError(
            "authors' curvature table",
            f"sequence types {medians} (median pixel curvature, deg) do "
            "not split into natural (> 60) and synthetic (< 30)",
            path,
        )
    category = {curved[0]: "natural", straight[0]: "synthetic"}
    for r in rows:
        r["category"] = category[r["type_code"]]
    return rows


def match_authors(records: list[dict], table: list[dict]) -> list[dict]:
    """Pair snnvis records with the authors' rows for the same session and sequence.

    Rows are matched on (session, category, zoom, movie) with dither == frame_step.

    Returns:
        {session, stimulus_id, category, pixel_snnvis, pixel_authors, delta_snnvis,
        delta_authors} for every record that has an authors' row.
    """
    by_key = {(r["session"], r["category"], r["zoom"], r["movie"], r["dither"]): r for r in table}
    out = []
    for rec in records:
        row = by_key.get((rec["session"], rec["category"], rec["zoom"], rec["movie"], rec["frame_step"]))
        if row is not None:
            out.append(
                {
                    "session": rec["session"],
                    "stimulus_id": rec["stimulus_id"],
                    "category": rec["category"],
                    "pixel_snnvis": rec["pixel_curvature"],
                    "pixel_authors": row["pixel_curvature"],
                    "delta_snnvis": rec["delta"],
                    "delta_authors": row["delta"],
                }
            )
    return out


def bootstrap_median(values, n_boot: int = 10000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): percentile bootstrap CI of the median (NaN values dropped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    boots = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    a = (1.0 - ci) / 2.0
    return float(np.median(v)), float(np.quantile(boots, a)), float(np.quantile(boots, 1.0 - a))


def summary(
    records: list[dict], value: str = "delta", n_boot: int = 10000, ci: float = 0.95, seed: int = 0
) -> dict[str, dict]:
    """Median of ``value`` per category with a percentile-bootstrap CI over sequences.

    Works for snnvis records and for the authors' table alike (both have ``category`` and
    ``delta``). Sequences are resampled as independent units; they are not (sequences of
    one session share units, sessions share movies), so the CI is optimistic.

    Returns:
        {category: {"median", "ci_low", "ci_high", "n", "n_nan"}}.
    """
    out = {}
    for cat in sorted({r["category"] for r in records}):
        vals = np.array([r[value] for r in records if r["category"] == cat], dtype=np.float64)
        med, lo, hi = bootstrap_median(vals, n_boot, ci, seed)
        out[cat] = {
            "median": med,
            "ci_low": lo,
            "ci_high": hi,
            "n": int(np.sum(~np.isnan(vals))),
            "n_nan": int(np.sum(np.isnan(vals))),
        }
    return out

"""The Hénaff 2021 comparison table: snnvis vs both published tables, per frame step.

    python -m snnvis.analysis.henaff_table recordings/henaff2021_v1/*.h5 \\
        --mirror ../shared/datasets [--n-boot 10000] [--out records.csv]

For frame steps 1 and 2 it prints the median Δ (V1 − pixel) per sequence type with a
percentile-bootstrap CI over sequences: first the headline, the posterior estimator on the
sequences with step SNR >= ``MIN_STEP_SNR`` and the authors' values for the same sequences,
then the posterior on all sequences, the clipped
moment estimator (for comparison; its pile-up at exactly 0 deg is counted), the same split
by step SNR, the authors' table (``curvature/acute_combined_235x.csv``) for the same
sessions and sequences and in full, and the paper's source data (included sequences).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from snnvis.analysis.henaff import MIN_STEP_SNR, load_authors_table, match_authors, session_curvatures, summary
from snnvis.analysis.henaff_source import load_source_data

log = logging.getLogger(__name__)
CATS = ("natural", "synthetic")


def _cell(s: dict) -> str:
    return f"{s['median']:+.1f}° [{s['ci_low']:+.1f}, {s['ci_high']:+.1f}] (n = {s['n']})"


def _line(label: str, records: list[dict], value: str, n_boot: int) -> str:
    s = summary(records, value, n_boot=n_boot)
    return f"| {label} | " + " | ".join(_cell(s[c]) if c in s else "–" for c in CATS) + " |"


def table_lines(
    records: list[dict], authors: list[dict], source: list[dict] | None, frame_step: int, n_boot: int = 10000
) -> list[str]:
    """Markdown rows for one frame step (``records`` from :func:`session_curvatures`)."""
    name = (
        "all 11 frames"
        if frame_step == 1
        else f"every {frame_step}nd frame"
        if frame_step == 2
        else f"frame step {frame_step}"
    )
    matched = match_authors(records, authors)
    auth_by = {(m["session"], m["stimulus_id"]): m["delta_authors"] for m in matched}

    def authors_of(sel):
        return [
            {"category": r["category"], "delta": auth_by[(r["session"], r["stimulus_id"])]}
            for r in sel
            if (r["session"], r["stimulus_id"]) in auth_by
        ]

    inc = [r for r in records if r["included"]]
    lines = [
        _line(f"snnvis posterior, {name}, step SNR >= {MIN_STEP_SNR}", inc, "delta", n_boot),
        _line(f"authors' table, same sequences, dither {frame_step}", authors_of(inc), "delta", n_boot),
        _line(f"snnvis posterior, {name}, all sequences", records, "delta", n_boot),
        _line(f"snnvis moment (clipped), {name}, all sequences", records, "delta_moment", n_boot),
    ]
    for cat in CATS:
        rs = [r for r in records if r["category"] == cat]
        at0 = sum(abs(r["v1_curvature_moment"]) < 1e-9 for r in rs)
        undefined = sum(not np.isfinite(r["v1_curvature_moment"]) for r in rs)
        snr = np.median([r["snr"] for r in rs])
        lines.append(
            f"|   {cat}: moment estimate at exactly 0°: {at0} of {len(rs)}, undefined: {undefined}; "
            f"posterior at 0°: {sum(r['v1_curvature'] <= 0.0 for r in rs)}; median step SNR {snr:.2f} | | |"
        )
    snr_med = {c: np.median([r["snr"] for r in records if r["category"] == c]) for c in CATS}
    for half, keep in (
        ("high", lambda r: r["snr"] >= snr_med[r["category"]]),
        ("low", lambda r: r["snr"] < snr_med[r["category"]]),
    ):
        sel = [r for r in records if keep(r)]
        lines.append(_line(f"snnvis posterior, {half}-SNR half", sel, "delta", n_boot))
        lines.append(_line(f"snnvis moment, {half}-SNR half", sel, "delta_moment", n_boot))
        lines.append(_line(f"authors' table, same {half}-SNR sequences", authors_of(sel), "delta", n_boot))
    sessions = {r["session"] for r in records}
    lines.append(
        _line(
            f"authors' table, same {len(sessions)} sessions, dither {frame_step}",
            [{"category": m["category"], "delta": m["delta_authors"]} for m in matched],
            "delta",
            n_boot,
        )
    )
    lines.append(
        _line(
            f"authors' table, all 9 sessions, dither {frame_step}",
            [r for r in authors if r["dither"] == frame_step],
            "delta",
            n_boot,
        )
    )
    for cat in CATS:
        pairs = np.array([(m["delta_snnvis"], m["delta_authors"]) for m in matched if m["category"] == cat])
        pairs = pairs[np.isfinite(pairs).all(1)]
        if len(pairs) > 2:
            lines.append(
                f"|   {cat}: per-sequence r(snnvis posterior, authors' table) = "
                f"{np.corrcoef(pairs.T)[0, 1]:.2f} (n = {len(pairs)}) | | |"
            )
    if source is not None and frame_step == 1:
        lines.append(
            _line(
                "paper source data (Fig. 3, 5), included sequences, 7 populations",
                [r for r in source if r["included"]],
                "delta",
                n_boot,
            )
        )
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recordings", nargs="+", type=Path)
    p.add_argument("--mirror", type=Path, required=True, help="folder holding henaff2021_v1/")
    p.add_argument("--n-boot", type=int, default=10000)
    p.add_argument("--frame-steps", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = args.mirror / "henaff2021_v1"
    authors = load_authors_table(root / "curvature" / "acute_combined_235x.csv")
    xlsx = root / "source_data" / "SourceData_final_submission.xlsx"
    source = load_source_data(xlsx) if xlsx.exists() else None
    print("| | natural Δ (V1 − pixel) | synthetic Δ (V1 − pixel) |\n|---|---|---|")
    for step in args.frame_steps:
        records = []
        for path in args.recordings:
            log.info("frame step %d: %s", step, path)
            records += session_curvatures(path, frame_step=step)
        print("\n".join(table_lines(records, authors, source, step, args.n_boot)), flush=True)


if __name__ == "__main__":
    main()

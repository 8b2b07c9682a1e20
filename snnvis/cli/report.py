"""``snnvis-report``: a sweep's runs and scores -> results.csv, figures (PNG + PDF) and report.html.

    snnvis-report multirun/snn_vs_dnn                       # -> multirun/snn_vs_dnn/report/
    snnvis-report multirun/snn_vs_dnn --out reports/v4 --score metrics=[rsa,ridge] n_boot=200

See :mod:`snnvis.reporting.table` for the columns of results.csv and :mod:`snnvis.reporting.figures` for the figures.
"""

from __future__ import annotations

import argparse

from snnvis.errors import cli_entry


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="snnvis-report",
        description="Gather every run (metrics.json) and score table (scores.csv) under SWEEP_DIR into one tidy "
        "results.csv, draw the figures that their contents allow (PNG and PDF) and write report.html.",
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun sweep directory (searched recursively)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: SWEEP_DIR/report)")
    p.add_argument(
        "--score",
        nargs="*",
        metavar="OVERRIDE",
        default=None,
        help="first score each trained run whose scores are missing or were made by another scoring "
        "config or checkpoint (judged by a hash kept in RUN/scores/score_config.json; "
        "snnvis-score on checkpoints/best.pt and the run's recordings, into RUN/scores/ "
        "like snnvis-score checkpoint=RUN); "
        "optional snnvis/conf/score.yaml overrides, e.g. --score metrics=[rsa,ridge] n_boot=200",
    )
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from snnvis.reporting import make_report

    report = make_report(args.sweep_dir, args.out, score=args.score is not None, score_overrides=args.score or ())
    print(f"snnvis: {report.n_runs} run(s), {report.n_rows} rows -> {report.results_csv}")
    for fig in report.figures:
        print(f"  {fig.stem}.png/.pdf")
    for note in report.notes:
        print(f"  note: {note}")
    for name in report.removed:
        print(f"  removed (no longer produced): {report.out / name}")
    print(f"snnvis: report -> {report.html}")
    return 0


if __name__ == "__main__":
    main()

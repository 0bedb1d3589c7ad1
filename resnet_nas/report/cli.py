"""The `report` subcommand: `python -m resnet_nas report RUN_DIR [RUN_DIR ...]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from resnet_nas.report.build import ReportOptions, build_report
from resnet_nas.report.edf import NORMALIZE_CHOICES
from resnet_nas.report.export import export_tables, render_report
from resnet_nas.report.formatting import FORMATS
from resnet_nas.report.frame import ReportError, load_runs


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the `report` subcommand's arguments to `parser`."""
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run directories (any engine, sampler or search space)")
    parser.add_argument("--top", type=int, default=10, metavar="K",
                        help="leaderboard rows (default 10)")
    parser.add_argument("--by", default=None, metavar="COLUMN",
                        help="EDF grouping column (default: 'space' when the runs cover more "
                             "than one space, else 'sampler')")
    parser.add_argument("--html", default=None, metavar="PATH",
                        help="write a self-contained HTML report here")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="export the combined table and every summary table as CSV and "
                             "Parquet into DIR")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="terminal output: plain-text tables or Markdown (default text)")
    parser.add_argument("--normalize", choices=NORMALIZE_CHOICES, default="none",
                        help="complexity-normalized EDF over params or FLOPs (default none)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples for EDF confidence bands; 0 disables "
                             "(default 1000)")
    parser.add_argument("--level", type=float, default=0.95,
                        help="confidence level of the EDF bands (default 0.95)")
    parser.add_argument("--bins", type=int, default=10,
                        help="log-complexity bins for --normalize (default 10)")
    parser.add_argument("--short-epoch", type=int, default=1, metavar="K",
                        help="1-based epoch of the short fidelity for rank stability "
                             "(default 1)")
    parser.add_argument("--long-epoch", type=int, default=None, metavar="K",
                        help="1-based epoch of the long fidelity (default: the longest curve "
                             "of each study)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def run_report(args: argparse.Namespace) -> int:
    """Runs the `report` subcommand; returns the process exit status (0 ok, 2 bad input)."""
    try:
        frame = load_runs(args.run_dirs)
        report = build_report(frame, ReportOptions(
            top=args.top, by=args.by, normalize=args.normalize, n_boot=args.bootstrap,
            level=args.level, bins=args.bins, short_epoch=args.short_epoch,
            long_epoch=args.long_epoch, seed=args.seed))
        sys.stdout.write(render_report(report, args.format))
        if args.out:
            paths = export_tables(report, args.out)
            print(f"wrote {len(paths)} files to {args.out}", file=sys.stderr)
        if args.html:
            from resnet_nas.report.html import write_html
            print(f"wrote {write_html(report, args.html, list(map(str, args.run_dirs)))}",
                  file=sys.stderr)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: `python -m resnet_nas.report RUN_DIR ...`."""
    parser = argparse.ArgumentParser(prog="resnet_nas report",
                                     description="Summarize one or many search runs.")
    add_report_arguments(parser)
    return run_report(parser.parse_args(argv))

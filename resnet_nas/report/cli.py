"""The `report` subcommand: `python -m resnet_nas report RUN_DIR [RUN_DIR ...]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from resnet_nas.report.choices import FORMATS, NORMALIZE_CHOICES


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the `report` subcommand's arguments to `parser`."""
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run directories (any engine, sampler or search space)")
    parser.add_argument("--top", type=int, default=10, metavar="K",
                        help="leaderboard rows (default 10)")
    parser.add_argument("--by", default=None, metavar="COLUMN",
                        help="EDF grouping column, within each data set (default: 'space' "
                             "when some data set's runs cover more than one space, else "
                             "'sampler')")
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
    """Runs the `report` subcommand; returns the process exit status.

    Args:
      args: the parsed arguments of `add_report_arguments` (attributes other than `run_dirs`
        that are absent take their defaults, so callers may also pass a hand-made Namespace).

    Returns:
      0 on success, 2 for bad input (missing run, no rows, bad option), 1 when an output file
      cannot be written.
    """
    # Imported here so that building the CLI parser stays cheap (no pandas/scipy).
    from resnet_nas.report.build import ReportOptions, build_report
    from resnet_nas.report.export import export_tables, render_report
    from resnet_nas.report.frame import ReportError, load_runs

    opt = ReportOptions()
    def arg(name: str, default):
        return getattr(args, name, default)

    try:
        notes: list[str] = []
        frame = load_runs(list(arg("run_dirs", [])), notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        report = build_report(frame, ReportOptions(
            top=arg("top", opt.top), by=arg("by", opt.by),
            normalize=arg("normalize", opt.normalize), n_boot=arg("bootstrap", opt.n_boot),
            level=arg("level", opt.level), bins=arg("bins", opt.bins),
            short_epoch=arg("short_epoch", opt.short_epoch),
            long_epoch=arg("long_epoch", opt.long_epoch), seed=arg("seed", opt.seed)))
        sys.stdout.write(render_report(report, arg("format", "text")))
        if arg("out", None):
            paths = export_tables(report, args.out)
            print(f"wrote {len(paths)} files to {args.out}", file=sys.stderr)
        if arg("html", None):
            from resnet_nas.report.html import write_html
            print(f"wrote {write_html(report, args.html, [str(d) for d in args.run_dirs])}",
                  file=sys.stderr)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write report output: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: `python -m resnet_nas.report RUN_DIR ...`."""
    parser = argparse.ArgumentParser(prog="resnet_nas report",
                                     description="Summarize one or many search runs.")
    add_report_arguments(parser)
    return run_report(parser.parse_args(argv))

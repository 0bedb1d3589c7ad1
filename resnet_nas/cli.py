"""Neural architecture search over TF-slim-style ResNet design spaces (Keras 3 + Optuna).

Bad input exits with status 2 and one clear line (file, key path, expected, found); tracebacks
are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from resnet_nas.validation import ConfigError


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="run (or resume) an architecture search",
                       description="Sample architectures from a search space, train each in an "
                       "isolated worker, and record every trial in RUN_DIR/results.{csv,parquet}.")
    p.add_argument("space", nargs="?", default=None,
                   help="search-space YAML file or shipped space name (default: quickstart)")
    p.add_argument("--space", dest="space_opt", metavar="FILE", help="same as the positional")
    p.add_argument("--trials", type=int, help="total finished trials wanted in the study")
    p.add_argument("--timeout", type=float, help="stop starting new trials after S seconds")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite in the run dir; "
                   "journal:///path for a file journal)")
    p.add_argument("--run-dir", help="run directory (default: runs/<space>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the study in --run-dir "
                   "(or the latest run of the space)")
    p.add_argument("--engine", choices=["optuna", "keras-tuner"], default="optuna")
    p.add_argument("--sampler", help="optuna: tpe|random|cmaes|nsga2; keras-tuner: "
                   "hyperband|bayesian|random")
    p.add_argument("--pruner", choices=["none", "median", "successive_halving", "hyperband"])
    p.add_argument("--study-name")
    p.add_argument("--seed", type=int, help="sampler seed")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                   help="Keras backend of the trial workers (override train.backend)")
    p.add_argument("--data", metavar="PATH", help="image-folder directory or .tar.gz "
                   "(train/<class>/*, test/<class>/*) instead of the space's data set")
    p.add_argument("--limit-train", type=int, help="use only N training examples")
    p.add_argument("--max-trials-per-worker", type=int, default=10,
                   help="recycle the worker process after N trials (bounds memory)")
    p.add_argument("--create-only", action="store_true",
                   help="create the study in --storage and exit (for `worker`)")
    p.add_argument("--no-progress", action="store_true", help="plain lines, no progress bars")
    p.add_argument("--top", type=int, default=10, help="leaderboard size")


def _cmd_search(args) -> int:
    from resnet_nas.search import SearchOptions, describe_arch_json, leaderboard, run_search

    space = args.space_opt or args.space
    if space is None and not args.resume:
        space = "quickstart"
    opts = SearchOptions(space=space, trials=args.trials, timeout=args.timeout,
                         storage=args.storage, run_dir=args.run_dir, resume=args.resume,
                         engine=args.engine, sampler=args.sampler, pruner=args.pruner,
                         study_name=args.study_name, seed=args.seed, epochs=args.epochs,
                         backend=args.backend, data=args.data, limit_train=args.limit_train,
                         max_trials_per_worker=args.max_trials_per_worker,
                         create_only=args.create_only, progress=not args.no_progress)
    summary = run_search(opts)
    table = summary.table
    if not args.create_only:
        counts = table["state"].value_counts().to_dict() if len(table) else {}
        print(f"\nrun: {summary.run_dir}  study: {summary.study_name}  trials: {len(table)} "
              f"{counts}")
        board = leaderboard(table, args.top)
        if len(board):
            arch_by_trial = dict(zip(table["trial"], table["arch"]))
            board.insert(len(board.columns), "architecture",
                         [describe_arch_json(arch_by_trial[t]) for t in board["trial"]])
            board = board.drop(columns=["arch_key"])
            print("\nleaderboard (best validation accuracy):")
            print(board.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
            print(f"\nexport the best: python -m resnet_nas export --run {summary.run_dir} "
                  "--trial best")
        print(f"results: {summary.run_dir / 'results.csv'}")
    return 130 if summary.interrupted else 0


def _add_spaces(sub) -> None:
    p = sub.add_parser("spaces", help="list shipped search spaces or validate space files")
    p.add_argument("action", choices=["list", "validate", "show"], nargs="?", default="list")
    p.add_argument("files", nargs="*", help="space files or names (validate/show)")


def _cmd_spaces(args) -> int:
    from resnet_nas.space import load_space, shipped_space_paths

    if args.action == "list":
        for name, path in sorted(shipped_space_paths().items()):
            space = load_space(path)
            desc = " ".join(space.description.split())
            print(f"{name:<16} {desc[:90]}")
            print(f"{'':<16} {path}")
        return 0
    if not args.files:
        print(f"spaces {args.action}: give one or more space files or names", file=sys.stderr)
        return 2
    status = 0
    for f in args.files:
        try:
            space = load_space(f)
        except (ConfigError, OSError, ValueError) as e:
            print(f"INVALID {e}")
            status = 1
            continue
        print(f"ok      {space.source}: space {space.name!r}, hash {space.hash()}")
        if args.action == "show":
            print(json.dumps(space.space_to_data(), indent=1, default=str))
    return status


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a trial's architecture as a standalone YAML config")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--trial", default="best", help="trial number or 'best' (default)")
    p.add_argument("--out", help="output file (default RUN/exports/trial_<N>.yaml)")


def _cmd_export(args) -> int:
    from resnet_nas.export import export_config

    path = export_config(args.run, args.trial, args.out)
    print(path)
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="retrain an exported config from scratch; evaluate on test")
    p.add_argument("--config", required=True)
    p.add_argument("--epochs", type=int)
    p.add_argument("--backend", choices=["tensorflow", "jax", "torch"])
    p.add_argument("--data", metavar="PATH", help="image folder / .tar.gz instead of the config's")
    p.add_argument("--save", metavar="MODEL.keras", help="save the trained model")


def _cmd_train(args) -> int:
    from resnet_nas.export import train_config

    summary = train_config(args.config, args.epochs, args.save, args.backend, args.data)
    print(json.dumps(summary, indent=1))
    return 0


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="build an exported config's model and save it as .keras")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True, metavar="MODEL.keras")


def _cmd_build(args) -> int:
    from resnet_nas.export import build_config

    print(json.dumps(build_config(args.config, args.out), indent=1))
    return 0


def _add_report(sub) -> None:
    from resnet_nas.report.cli import add_report_arguments

    p = sub.add_parser("report", help="tables, Pareto fronts, EDFs and an HTML report of runs")
    add_report_arguments(p)


def _cmd_report(args) -> int:
    from resnet_nas.report.cli import run_report

    return run_report(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resnet_nas", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search(sub)
    _add_spaces(sub)
    _add_export(sub)
    _add_train(sub)
    _add_build(sub)
    _add_report(sub)
    try:
        from resnet_nas.distributed import add_worker_arguments
        add_worker_arguments(sub)
    except ImportError:
        pass
    return parser


COMMANDS = {"search": _cmd_search, "spaces": _cmd_spaces, "export": _cmd_export,
            "train": _cmd_train, "build": _cmd_build, "report": _cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    from resnet_nas.search import SearchError
    from resnet_nas.storage import StorageError

    handler = COMMANDS.get(args.command)
    if handler is None:
        from resnet_nas.distributed import run_worker_command
        handler = run_worker_command
    try:
        return handler(args)
    except (ConfigError, SearchError, StorageError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

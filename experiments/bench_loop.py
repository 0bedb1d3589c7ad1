"""The study loop's own cost per trial: the real search loop with a stub trial runner.

    python experiments/bench_loop.py [--trials 100,1000]
        [--storages sqlite,journal,postgresql,postgresql-journal]
        [--sampler tpe] [--sampler-history N] [--out experiments/results/bench-loop]

Runs `run_search` (the CLI's search, the Optuna engine) on the `anynet` space with synthetic
data and a stub runner that trains nothing (it returns a fixed curve per architecture at once),
so everything measured is bookkeeping: Optuna's ask/tell and user attributes, the sampler,
the architecture sampling and checks, dedup, the heartbeat, writing the row, the progress
display. Each step's time is *exclusive* (a step called inside another is taken out of it), so
the steps add up to the whole loop. The SQL statements and commits of the storage's engine
(SQLite, PostgreSQL; none for the file journal) are counted per finished trial (commits: the
explicit ones; the PostgreSQL journal's statements autocommit). Printed per window of trials (the first, middle and last
--window trials of each size), in ms per trial; written to OUT/bench_loop.{csv,json}.

PostgreSQL needs a server: `bash .ci/postgres.sh` starts one and prints the URL to export as
RESNET_NAS_TEST_POSTGRES_URL (or give --postgres-url); without one, the PostgreSQL storages are
skipped. `postgresql` is Optuna's RDBStorage on it, `postgresql-journal` the journal with its log
in a table of the same server (`journal+postgresql://`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402

from resnet_nas import results  # noqa: E402
from resnet_nas.engines import common, optuna_engine, run_search  # noqa: E402
from resnet_nas.engines.history_window import HistoryWindowSampler  # noqa: E402
from resnet_nas.run import SearchOptions  # noqa: E402
from resnet_nas.space import load_space  # noqa: E402
from resnet_nas.train.metrics import EpochMetrics, TrainResult  # noqa: E402
from resnet_nas.trial_process import JobResult, TrialRunnerLike  # noqa: E402

STEPS = ("ask", "sampler", "sample_arch", "dedup", "user_attrs", "heartbeat", "epoch_reports",
         "tell", "write_row", "finish_other", "other")


class StubRunner(TrialRunnerLike):
    """A trial runner that trains nothing: a deterministic curve per architecture, at once."""

    def __init__(self, *args, **kwargs):
        pass

    def run(self, job, on_epoch=None, on_step=None, while_running=None) -> JobResult:
        if while_running is not None:
            while_running()
        base = int(hashlib.sha256(job.arch.key().encode()).hexdigest()[:6], 16) / 16**6
        history = []
        for e in range(1, job.train.epochs + 1):
            acc = min(0.2 + 0.5 * base + 0.05 * e, 0.95 + 0.04 * base)  # an accuracy: < 1
            m = EpochMetrics(epoch=e, train_loss=1.0 / e, train_accuracy=acc, val_loss=1.0 / e,
                             val_accuracy=acc, seconds=0.0, images_per_second=1e6)
            history.append(m)
            if on_epoch is not None and not on_epoch(m.to_dict()):
                break
        done = len(history) == job.train.epochs
        return JobResult(True, TrainResult(
            history=history, epochs_run=len(history), stopped_early=not done, diverged=False,
            reason="completed" if done else "stopped", train_seconds=0.0, compile_seconds=0.0,
            images_per_second=1e6, trainer="stub", backend=job.train.backend, device="cpu"))

    def close(self) -> None:
        pass


class StepClock:
    """Exclusive time per step, per trial: a stack of running steps."""

    def __init__(self):
        self.stack: list[list] = []  # [step, start, time taken by nested steps]
        self.current: dict[str, float] = defaultdict(float)
        self.trials: list[dict[str, float]] = []
        self.last_end = time.perf_counter()

    def wrap(self, step: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            self.stack.append([step, t0, 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                _, start, nested = self.stack.pop()
                took = time.perf_counter() - start
                self.current[step] += took - nested
                if self.stack:
                    self.stack[-1][2] += took
        return timed

    def trial_done(self) -> None:
        end = time.perf_counter()
        whole = end - self.last_end
        row = dict(self.current)
        row["other"] = max(0.0, whole - sum(row.values()))
        row["whole"] = whole
        self.trials.append(row)
        self.current = defaultdict(float)
        self.last_end = end


@contextlib.contextmanager
def instrumented(clock: StepClock):
    """Wraps the loop's steps (module attributes, restored afterwards)."""
    patches = []

    def patch(owner: Any, name: str, step: str) -> None:
        original = getattr(owner, name)
        patches.append((owner, name, original))
        setattr(owner, name, clock.wrap(step, original))

    patch(optuna.Study, "ask", "ask")
    for cls in (optuna.samplers.TPESampler, optuna.samplers.RandomSampler,
                optuna.samplers.CmaEsSampler, optuna.samplers.NSGAIISampler,
                HistoryWindowSampler):
        for name in ("infer_relative_search_space", "sample_relative", "sample_independent",
                     "before_trial", "after_trial"):
            if name in vars(cls):
                patch(cls, name, "sampler")
    patch(common.TrialFlow, "sample", "sample_arch")
    patch(optuna_engine.LoopControl, "settle", "dedup")
    patch(optuna.Trial, "set_user_attr", "user_attrs")
    patch(StubRunner, "run", "epoch_reports")
    patch(optuna_engine, "tell", "tell")
    patch(results, "write_record", "write_row")
    original_hb = optuna_engine.heartbeat

    @contextlib.contextmanager
    def heartbeat(storage, trial_id, interval=None):
        enter = clock.wrap("heartbeat", lambda: cm.__enter__())
        cm = original_hb(storage, trial_id, interval)
        enter()
        try:
            yield
        finally:
            clock.wrap("heartbeat", lambda: cm.__exit__(None, None, None))()

    patches.append((optuna_engine, "heartbeat", original_hb))
    optuna_engine.heartbeat = heartbeat
    original_finish = common.TrialFlow.finish

    def finish(self, rec):
        try:
            return clock.wrap("finish_other", original_finish)(self, rec)
        finally:
            clock.trial_done()

    patches.append((common.TrialFlow, "finish", original_finish))
    common.TrialFlow.finish = finish
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def bench_space(folder: Path, max_duplicates: int | None = None) -> Path:
    """The anynet space on the synthetic data set (16x16: the stub trains nothing)."""
    text = load_space("anynet").source
    body = Path(text).read_text().replace("name: cifar10", "name: synthetic")
    if max_duplicates is not None:
        body = body.replace("\nsearch:\n", f"\nsearch:\n  max_duplicates: {max_duplicates}\n")
    path = folder / "anynet-synthetic.yaml"
    path.write_text(body.replace("name: anynet", "name: anynet_bench"))
    return path


def storage_url(kind: str, run_dir: Path, postgres: str | None) -> str | None:
    if kind == "sqlite":
        return f"sqlite:///{run_dir / 'study.db'}"
    if kind == "journal":
        return f"journal:///{run_dir / 'study.journal'}"
    if kind == "postgresql":
        return postgres
    if kind == "postgresql-journal":
        return f"journal+{postgres}" if postgres else None
    raise SystemExit(f"--storages: unknown storage {kind!r} (sqlite, journal, postgresql, "
                     "postgresql-journal)")


@contextlib.contextmanager
def sql_counter():
    """Counts the SQL statements and the explicit commits of every SQLAlchemy engine inside
    (Optuna's RDBStorage; the PostgreSQL journal, whose statements autocommit and so count no
    commit): {"statements": n, "commits": n}, filled on exit."""
    import sqlalchemy

    counts = {"statements": 0, "commits": 0}

    def statement(*args, **kwargs):
        counts["statements"] += 1

    def commit(*args, **kwargs):
        counts["commits"] += 1

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", statement)
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "commit", commit)
    try:
        yield counts
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", statement)
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "commit", commit)


def run_one(kind: str, trials: int, sampler: str, folder: Path, postgres: str | None,
            pruner: str, history: int | None = None,
            max_duplicates: int | None = None
            ) -> tuple[list[dict[str, float]], float, dict[str, float]]:
    """One search; its per-trial step times, its seconds, and its SQL statements and commits
    per finished trial (start and end of the search included; 0 for the file journal)."""
    run_dir = folder / f"run-{kind}-{sampler}{history or ''}-{trials}"
    url = storage_url(kind, run_dir, postgres)
    clock = StepClock()
    opts = SearchOptions(space=str(bench_space(folder, max_duplicates)), trials=trials, run_dir=str(run_dir),
                         storage=url, sampler=sampler, sampler_history=history,
                         pruner=pruner, progress=False,
                         study_name=f"bench-{uuid.uuid4().hex[:8]}")
    t0 = time.perf_counter()
    with instrumented(clock), sql_counter() as sql, open(os.devnull, "w") as quiet, \
            contextlib.redirect_stderr(quiet):  # the per-trial lines
        clock.last_end = time.perf_counter()
        run_search(opts, out=lambda line: None, runner_factory=StubRunner)
    total = time.perf_counter() - t0
    n = max(1, len(clock.trials))
    return clock.trials, total, {k: v / n for k, v in sql.items()}


def windows(n: int, width: int) -> list[tuple[int, int]]:
    w = min(width, n)
    mid = max(0, n // 2 - w // 2)
    spans = [(0, w), (mid, mid + w), (n - w, n)]
    return list(dict.fromkeys(spans))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", default="100,1000", help="comma-separated study sizes")
    parser.add_argument("--storages", default="sqlite,journal,postgresql")
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--sampler-history", type=int, help="tpe: the sampler's bounded "
                        "history (search.sampler_history); default: the whole study")
    parser.add_argument("--pruner", default="median")
    parser.add_argument("--max-duplicates", type=int, help="search.max_duplicates (default: "
                        "the space's 20; a long TPE study may sample 20 in a row and stop)")
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--postgres-url", default=os.environ.get("RESNET_NAS_TEST_POSTGRES_URL"))
    parser.add_argument("--out", default="experiments/results/bench-loop")
    parser.add_argument("--keep", help="keep the run directories under this folder (e.g. for "
                        "experiments/bench_report.py); default: a temporary folder")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = [int(s) for s in args.trials.split(",")]
    out_rows = []
    history = f" (history {args.sampler_history})" if args.sampler_history else ""
    print(f"sampler {args.sampler}{history}, pruner {args.pruner}; ms per trial (mean over the window), "
          "exclusive time per step")
    header = ["storage", "trials", "window", "whole", *STEPS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    with contextlib.ExitStack() as stack:
        tmp = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-loop-"))
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for kind in args.storages.split(","):
            if kind.startswith("postgresql") and not args.postgres_url:
                print(f"| {kind} | skipped: no server (bash .ci/postgres.sh) |")
                continue
            for n in sizes:
                per_trial, total, sql = run_one(kind, n, args.sampler, Path(tmp),
                                                args.postgres_url, args.pruner,
                                                args.sampler_history, args.max_duplicates)
                for lo, hi in windows(len(per_trial), args.window):
                    span = per_trial[lo:hi]
                    mean = {s: 1000 * sum(t.get(s, 0.0) for t in span) / len(span)
                            for s in (*STEPS, "whole")}
                    row = {"storage": kind, "trials": n, "sampler": args.sampler,
                           "sampler_history": args.sampler_history,
                           "window": f"{lo}-{hi}", "total_seconds": round(total, 2),
                           "sql_statements_per_trial": round(sql["statements"], 1),
                           "sql_commits_per_trial": round(sql["commits"], 1),
                           **{f"{s}_ms": round(v, 2) for s, v in mean.items()}}
                    out_rows.append(row)
                    print(f"| {kind} | {n} | {lo}-{hi} | {mean['whole']:.1f} | "
                          + " | ".join(f"{mean[s]:.1f}" for s in STEPS) + " |", flush=True)
                print(f"| {kind} | {n} | all | search {total:.1f} s, "
                      f"{1000 * total / max(1, len(per_trial)):.1f} ms/trial incl. start and "
                      f"table; SQL per trial: {sql['statements']:.1f} statements, "
                      f"{sql['commits']:.1f} commits |", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_loop.json").write_text(json.dumps(out_rows, indent=1))
    import pandas as pd

    pd.DataFrame(out_rows).to_csv(out / "bench_loop.csv", index=False)
    print(f"wrote {out / 'bench_loop.csv'} and {out / 'bench_loop.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The tabular benchmark of a quickstart-sized space on `digits`, and the replays on it.

    python experiments/benchmark_quickstart.py build     # resumable: rerun to train what is missing
    python experiments/benchmark_quickstart.py replay    # 4 samplers x 4 pruners, 20 repeats
    python experiments/benchmark_quickstart.py all
    python experiments/benchmark_quickstart.py replay --subspace --trials 40
    python experiments/benchmark_quickstart.py seeds --trials 40   # the sub-space, 2 seeds

The space (experiments/spaces/benchmark-quickstart.yaml) has 416 distinct architectures, each
trained once for 4 epochs; the build trains the 104 of the sub-space
experiments/spaces/benchmark-quickstart-v2b.yaml first. `replay` works on the table as it
stands (a partial table's missing architectures are failed samples at no cost, but TPE then
keeps proposing missing ones: use `--subspace` until the build is complete) and writes, into
experiments/results/benchmark-quickstart/: replay.csv / replay.md (one row per combination),
curves.csv (mean anytime regret), fidelity.csv (rank stability epoch k vs final) and
tpe_vs_random.md (the compute ratio to reach the top 1% / 5%).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SPACE = HERE / "spaces" / "benchmark-quickstart.yaml"
#: Trained first, so that a build stopped part way leaves this sub-space complete.
SUBSPACE = HERE / "spaces" / "benchmark-quickstart-v2b.yaml"
OUT = HERE / "results" / "benchmark-quickstart"
#: The sub-space trained with 2 seeds (`seeds`): how noisy one training is.
SEEDS_OUT = HERE / "results" / "benchmark-quickstart-seeds"
ARCHS: int | None = None  # all of the space's architectures
SAMPLERS = ("tpe", "random", "cmaes", "nsga2")
PRUNERS = ("none", "median", "successive_halving", "hyperband")


def build(workers: int) -> None:
    from resnet_nas.benchmark.build import build_space

    t0 = time.perf_counter()
    report = build_space(SPACE, OUT, limit=ARCHS, workers=workers, first=SUBSPACE,
                         log=lambda line: print(line, flush=True))
    print(f"build: {report.rows} rows ({report.trained} trained now, {report.failed} failed) "
          f"in {time.perf_counter() - t0:.0f} s -> {report.table}", flush=True)


def ratio_text(summary: pd.DataFrame, pruner: str) -> str:
    """TPE's compute to the top 1% / 5% as a fraction of random search's, with one pruner."""
    rows = summary.set_index("combo")
    tpe, rnd = rows.loc[f"tpe+{pruner}"], rows.loc[f"random+{pruner}"]
    lines = []
    for top in ("1", "5"):
        a, b = tpe[f"epochs_to_top{top}"], rnd[f"epochs_to_top{top}"]
        a_all, b_all = tpe[f"epochs_to_top{top}_all"], rnd[f"epochs_to_top{top}_all"]
        lines.append(
            f"| {pruner} | top {top}% | {tpe[f'reach{top}']:.0%} / {rnd[f'reach{top}']:.0%} | "
            f"{a:.1f} / {b:.1f} = {a / b:.2f} | {a_all:.1f} / {b_all:.1f} = {a_all / b_all:.2f} |")
    return "\n".join(lines)


def replay(repeats: int, trials: int, processes: int, subspace: bool) -> None:
    from resnet_nas.benchmark.build import write_table
    from resnet_nas.benchmark.fidelity import rank_stability
    from resnet_nas.benchmark.plot import write_html
    from resnet_nas.benchmark.replay import Combo, quiet_optuna, replay_all
    from resnet_nas.benchmark.summary import (curves_frame, regret_curves, summarize,
                                              summary_frame, summary_markdown)
    from resnet_nas.benchmark.table import read_table, restrict
    from resnet_nas.space import load_space

    quiet_optuna()
    write_table(OUT)  # the table as the rows stand (a build may still be adding rows)
    table = read_table(OUT)
    # Rank stability from every built architecture, before any restriction to a sub-space.
    ranks = pd.DataFrame([asdict(r) for r in rank_stability(table)])
    ranks.to_csv(OUT / "fidelity.csv", index=False)
    print(f"rank stability over {len(table.entries)} architectures:")
    print(ranks.to_string(index=False))
    dest = OUT
    if subspace:
        table, size = restrict(table, load_space(SUBSPACE))
        dest = OUT / f"replay-{table.space.name}"
        dest.mkdir(exist_ok=True)
        print(f"{table.space.name}: {len(table.entries)} of its {size} architectures built")
    combos = [Combo(s, p) for s in SAMPLERS for p in PRUNERS]
    t0 = time.perf_counter()
    replays = replay_all(table, combos, repeats, trials, processes=processes)
    seconds = time.perf_counter() - t0
    summaries = summarize(table, replays)
    summary = summary_frame(summaries)
    summary.to_csv(dest / "replay.csv", index=False)
    points = regret_curves(table, replays)
    curves_frame(points).to_csv(dest / "curves.csv", index=False)
    write_html(dest / "replay.html", f"Replay: {table.space.name}", points, summaries)
    head = (f"{len(table.entries)} architectures in the table (best score "
            f"{table.best_score:.4f}, top-1% set {len(table.top_keys(0.01))}, top-5% set "
            f"{len(table.top_keys(0.05))}); {repeats} repeats x {len(combos)} combinations x "
            f"{trials} trials replayed in {seconds:.1f} s with {processes} processes")
    (dest / "replay.md").write_text(f"{head}\n\n{summary_markdown(summaries)}\n")
    ratio = ("| pruner | set | reached (tpe / random) | mean epochs, reached repeats (tpe / "
             "random = ratio) | mean epochs, unreached at their total (tpe / random = ratio) |"
             "\n|---|---|---|---|---|\n"
             + "\n".join(ratio_text(summary, p) for p in PRUNERS))
    (dest / "tpe_vs_random.md").write_text(ratio + "\n")
    print(head)
    print(summary_markdown(summaries))
    print(ratio)


def one_seed(table, index: int):
    """The table as a one-seed build would have given it: seed run `index` of each entry."""
    from dataclasses import replace

    entries = {k: replace(e, curve=e.runs[index].curve, test_accuracy=e.runs[index].test_accuracy,
                          seconds=e.runs[index].seconds, runs=())
               for k, e in table.entries.items() if len(e.runs) > index}
    return replace(table, entries=entries)


def seeds(workers: int, repeats: int, trials: int, processes: int) -> None:
    """The sub-space trained with 2 seeds: how much one training's noise moves the ranking and
    the replayed comparison (written to SEEDS_OUT)."""
    from resnet_nas.benchmark.build import build_space
    from resnet_nas.benchmark.fidelity import seed_noise
    from resnet_nas.benchmark.replay import Combo, quiet_optuna, replay_all
    from resnet_nas.benchmark.summary import summarize, summary_frame, summary_markdown
    from resnet_nas.benchmark.table import read_table, restrict
    from resnet_nas.space import load_space

    t0 = time.perf_counter()
    report = build_space(SUBSPACE, SEEDS_OUT, None, workers=workers, seeds=2,
                         log=lambda line: print(line, flush=True))
    print(f"build: {report.rows} rows ({report.trained} trained now) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    quiet_optuna()
    table = read_table(SEEDS_OUT)
    noise = seed_noise(table)
    main_table, _ = restrict(read_table(OUT), load_space(SUBSPACE))
    same = [k for k in table.entries if k in main_table.entries]
    diff = max(abs(a - b) for k in same
               for a, b in zip(table.entries[k].runs[0].curve, main_table.entries[k].curve))
    lines = [f"{len(table.entries)} architectures x 2 seeds; seed 0 retrained vs. the main "
             f"table's row of the same architecture ({len(same)}): largest curve difference "
             f"{diff:.4f}",
             f"final accuracy of seed 0 vs seed 1: Spearman {noise.spearman:.3f}, Kendall tau "
             f"{noise.kendall:.3f}; std over the 2 seeds {noise.final_std:.4f} (mean over "
             "architectures)"]
    combos = [Combo(sm, pr) for sm in ("tpe", "random") for pr in ("none", "hyperband")]
    views = (("2-seeds", "2 seeds (one seed per architecture and repeat, regret on the mean)",
              table), ("seed-0", "seed 0 only", one_seed(table, 0)),
             ("seed-1", "seed 1 only", one_seed(table, 1)))
    for name, label, view in views:
        summaries = summarize(view, replay_all(view, combos, repeats, trials,
                                               processes=processes))
        summary_frame(summaries).to_csv(SEEDS_OUT / f"replay-{name}.csv", index=False)
        lines += ["", f"**{label}**: best score {view.best_score:.4f}, top-1% set "
                  f"{len(view.top_keys(0.01))}", "", summary_markdown(summaries)]
    text = "\n".join(lines)
    (SEEDS_OUT / "seeds.md").write_text(text + "\n")
    print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["build", "replay", "all", "seeds"])
    parser.add_argument("--workers", type=int, default=2, help="trial processes (build)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2, help="replay processes")
    parser.add_argument("--subspace", action="store_true", help="replay the sub-space "
                        f"{SUBSPACE.name} (trained first) on the table's rows")
    args = parser.parse_args(argv)
    if args.what in ("build", "all"):
        build(args.workers)
    if args.what in ("replay", "all"):
        replay(args.repeats, args.trials, args.processes, args.subspace)
    if args.what == "seeds":
        seeds(args.workers, args.repeats, args.trials, args.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

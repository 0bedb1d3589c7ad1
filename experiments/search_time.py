"""Where a whole search's wall time goes: the README's quickstart, run and split.

    python experiments/search_time.py [--out DIR] [-- SEARCH ARGS...]
    python experiments/search_time.py --against OTHER_CHECKOUT --repeat 8 [--out DIR]

Runs `python -m resnet_nas search --run-dir DIR/run SEARCH ARGS` (default: the quickstart
space, 6 trials, as the README's first command) in a fresh process, timing it from the outside,
then splits that wall time with the run's rows (experiments/trial_timing.py):

  training     epochs of training steps (train_seconds less compile and evaluation)
  compile      tracing/compiling each architecture's train and eval functions
  evaluation   validation after each epoch
  trial start  the rest of each trial's wall_seconds (trial process start, data, model build,
               the epochs' exchange with the search)
  search       everything else: the search process's own start (imports, data set, study),
               sampling, dedup, rows, the table at the end, the trial process's shutdown

A trial set up ahead (resnet_nas.lookahead: built and compiled while the previous trial
trained) holds no compile in its wall time; what that set-up took is printed on its own line,
outside the parts (it overlapped them).

Prints a table with each part's share and how busy the machine's cores were in each second
(sampled from /proc/stat every 0.25 s: the whole machine's, other jobs included; Linux only);
writes search_time.json under --out.

Side by side (--against, --repeat N): the search of another checkout of this repository (a
`git worktree` of an older commit, say) and of this one, alternating N times each, so that a
change of the machine's speed during the runs falls on both alike (on a shared 2-core
machine the same trials' training time varied by 25% from run to run). Each run is kept as
DIR/{baseline,this}{i}/search_time.json; the table gives each side's median and range, and
writes DIR/compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.trial_timing import timing  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SIDES = ("baseline", "this")


def split(wall: float, rows: list[dict]) -> dict[str, float]:
    """The parts of a search's wall time (seconds) from its trained trials' timing rows."""
    parts = {"training": sum(r["training"] for r in rows),
             "compile": sum(r["compile"] for r in rows),
             "evaluation": sum(r["evaluation"] for r in rows),
             "trial start": sum(r["start_up"] for r in rows)}
    parts["search"] = max(0.0, wall - sum(r["wall"] for r in rows))
    return parts


def checkout_env(root: Path) -> dict[str, str]:
    """The environment that runs `root`'s package: first on the path (the trial processes
    inherit it), and no current directory before it (`python -m` would put the directory the
    command runs in first, and run that checkout instead)."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONSAFEPATH": "1"}


def check_checkout(root: Path) -> None:
    """Refuses to time a checkout whose package is not the one that would be imported."""
    found = subprocess.run([sys.executable, "-c", "import resnet_nas; print(resnet_nas.__file__)"],
                           env=checkout_env(root), capture_output=True, text=True).stdout.strip()
    if not found or Path(found).resolve().parent != (root / "resnet_nas").resolve():
        raise SystemExit(f"{root}: python imports resnet_nas from {found or 'nowhere'} there, "
                         "not from this checkout")


def cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all the machine's cores since boot; None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of all cores' time that was busy between two cpu_times() (0-1)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return 1.0 - (after[0] - before[0]) / (after[1] - before[1])


def check_comparison_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuses (exit 2, nothing run or written) a --repeat below one and an --against that
    holds no package to time."""
    if args.repeat < 1:
        parser.error("--repeat: expected a whole number >= 1")
    if args.against is not None and not (args.against / "resnet_nas").is_dir():
        parser.error(f"--against: {args.against} holds no resnet_nas package")


def time_search(root: Path, run_dir: Path, search_args: list[str],
                sample_every: float = 0.25) -> dict:
    """Runs the search of the checkout at `root` into `run_dir` in a fresh process; its wall
    time, parts and trial rows (raises SystemExit with the search's output if it fails).

    While it runs, the machine's CPU is sampled every `sample_every` seconds: `cpu_busy` is
    [(seconds since the start, share of all cores busy since the last sample)], the whole
    machine's (other jobs included), empty off Linux."""
    cmd = [sys.executable, "-m", "resnet_nas", "search", "--run-dir", str(run_dir),
           "--no-progress", *search_args]
    busy: list[tuple[float, float]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        last = cpu_times()
        proc = subprocess.Popen(cmd, env=checkout_env(root), cwd=os.getcwd(), stdout=out,
                                stderr=err, text=True)
        while True:
            try:
                proc.wait(timeout=sample_every)
                done = True
            except subprocess.TimeoutExpired:
                done = False
            now = cpu_times()
            share = busy_share(last, now)
            if share is not None and not done:
                busy.append((round(time.perf_counter() - t0, 3), round(share, 3)))
            last = now
            if done:
                break
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            out.seek(0)
            err.seek(0)
            print(out.read()[-3000:], err.read()[-3000:], file=sys.stderr)
            raise SystemExit(proc.returncode)
    rows = timing(run_dir)
    return {"command": cmd[1:], "checkout": str(root), "wall": wall,
            "parts": split(wall, rows), "trials": rows, "cpu_busy": busy}


def busy_by_second(samples: list[tuple[float, float]]) -> list[int]:
    """Mean CPU busy share (%) in each whole second of the search, from its samples."""
    seconds: dict[int, list[float]] = {}
    for t, share in samples:
        seconds.setdefault(int(max(t - 1e-9, 0.0)), []).append(share)
    return [round(100 * sum(v) / len(v)) for _, v in sorted(seconds.items())]


def alternation(repeat: int) -> list[tuple[str, int]]:
    """The order of a side-by-side comparison: baseline 1, this 1, baseline 2, this 2, ..."""
    return [(side, i) for i in range(1, repeat + 1) for side in SIDES]


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict[str, list[float]]]:
    """Per side, the figures compared: whole wall time, training share (%), everything but
    training (wall less training), the compile in the trials' turn (seconds)."""
    out = {}
    for side, results in runs.items():
        walls = [r["wall"] for r in results]
        training = [r["parts"]["training"] for r in results]
        out[side] = {"wall": walls,
                     "training share %": [100 * t / w for t, w in zip(training, walls)],
                     "all but training": [w - t for t, w in zip(training, walls)],
                     "compile": [r["parts"]["compile"] for r in results]}
    return out


def comparison_table(summary: dict[str, dict[str, list[float]]], fmt: str = ".2f") -> list[str]:
    """Markdown lines: each figure's median (range) per side, numbers in format `fmt`."""
    sides = list(summary)
    figures = list(summary[sides[0]])
    lines = ["| median (range) | " + " | ".join(sides) + " |",
             "|---|" + "---|" * len(sides)]
    for figure in figures:
        cells = []
        for side in sides:
            values = summary[side][figure]
            cells.append(f"{statistics.median(values):{fmt}} "
                         f"({min(values):{fmt}}-{max(values):{fmt}})")
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return lines


def run_snippet(root: Path, code: str) -> dict:
    """Runs `code` in a fresh Python process of the checkout at `root`; the JSON object its
    last line of output prints (raises SystemExit with its error output if it fails)."""
    proc = subprocess.run([sys.executable, "-c", code], env=checkout_env(root),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_split(label: str, result: dict) -> None:
    wall, parts, rows = result["wall"], result["parts"], result["trials"]
    print(f"{label}: {len(rows)} trained trials, {wall:.1f} s wall")
    print("| part | seconds | share |")
    print("|---|---|---|")
    for name, s in parts.items():
        print(f"| {name} | {s:.1f} | {s / wall:.0%} |")
    ahead = sum(r.get("ahead", 0.0) for r in rows)
    if ahead:
        print(f"set up ahead, while other trials trained (not a part of the wall): "
              f"{ahead:.1f} s in {sum(1 for r in rows if r.get('ahead'))} trials")
    by_second = busy_by_second(result.get("cpu_busy") or [])
    if by_second:
        print("CPU busy (all cores, the whole machine), % in each second: "
              + " ".join(map(str, by_second)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="experiments/results/search-time")
    parser.add_argument("--against", type=Path,
                        help="another checkout of this repository to compare with (runs "
                             "alternate with this one's)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side")
    parser.add_argument("search_args", nargs="*", help="after --: flags of `search`")
    args = parser.parse_args()
    check_comparison_args(parser, args)
    out = Path(args.out)
    label = " ".join(["search", *args.search_args])
    if args.against is None and args.repeat == 1:
        run_dir = out / "run"
        if run_dir.exists():
            raise SystemExit(f"{run_dir} exists: remove it or give another --out")
        check_checkout(REPO)
        result = time_search(REPO, run_dir, args.search_args)
        print_split(label, result)
        (out / "search_time.json").write_text(json.dumps(result, indent=1))
        print(f"wrote {out / 'search_time.json'}")
        return 0

    roots = {"baseline": args.against, "this": REPO}
    order = alternation(args.repeat) if args.against is not None \
        else [("this", i) for i in range(1, args.repeat + 1)]
    if any((out / f"{side}{i}").exists() for side, i in order):
        raise SystemExit(f"{out} holds runs already: remove them or give another --out")
    for side in dict(order):
        check_checkout(roots[side].resolve())
    runs: dict[str, list[dict]] = {}
    for side, i in order:
        result = time_search(roots[side].resolve(), (out / f"{side}{i}" / "run").resolve(),
                            args.search_args)
        (out / f"{side}{i}" / "search_time.json").write_text(json.dumps(result, indent=1))
        runs.setdefault(side, []).append(result)
        print(f"{side} {i}: {result['wall']:.1f} s, training "
              f"{result['parts']['training'] / result['wall']:.0%}", flush=True)
    summary = summarize(runs)
    print(f"\n{label}, {args.repeat} runs a side"
          + (f", alternating with {args.against}" if args.against else ""))
    print("\n".join(comparison_table(summary)))
    (out / "compare.json").write_text(json.dumps(
        {"search_args": args.search_args, "repeat": args.repeat,
         "checkouts": {side: str(roots[side]) for side in runs}, "summary": summary},
        indent=1))
    print(f"wrote {out / 'compare.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

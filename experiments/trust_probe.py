"""Probes the trust of a search's record under faults and hostile input, as a new user would.

Each probe runs the real command line (`python -m resnet_nas ...`, one fresh process each, tiny
nets on the synthetic data set) in a scratch directory and prints one line: what happened. It
reads nothing of the package's internals, so the same script measures any version of it (run it
on an old commit for the "before" column and on the new one for "after").

    python experiments/trust_probe.py [--only 1,2,10] [--out experiments/results/trust-probe]

Writes `trust_probe.json` (and prints the table) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_space(directory: Path, name: str = "tiny", trials: int = 4, epochs: int = 1,
               pruner: str = "none", sampler: str = "random", **train) -> Path:
    doc = {
        "name": name,
        "space": {"unit": ["v1_basic", "v2_basic"], "root": "cifar",
                  "root_depth": {"low": 4, "high": 8, "step": 4}, "shortcut": "B",
                  "stride_placement": "first",
                  "stages": {"count": {"low": 1, "high": 2},
                             "depth": {"low": 4, "high": 12, "step": 4}, "units": 1,
                             "stride": 2}},
        "data": {"name": "synthetic", "validation_split": 0.25},
        "train": {"epochs": epochs, "batch_size": 64, **train},
        "search": {"trials": trials, "sampler": sampler, "pruner": pruner, "seed": 0},
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "resnet_nas", *args], cwd=cwd, env=env(),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, -1, e.stdout or "", f"TIMEOUT {timeout}s")


def spawn(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "resnet_nas", *args], cwd=cwd, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def rows(run_dir: Path) -> dict[int, dict]:
    out = {}
    for p in sorted((run_dir / "rows").glob("*.json")):
        try:
            row = json.loads(p.read_text())
            out[int(row["trial"])] = row
        except (ValueError, KeyError, TypeError):
            pass
    return out


def first_line(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    tb = "Traceback" in (proc.stderr or "")
    last = lines[-1][:150] if lines else ""
    return f"rc={proc.returncode}{' TRACEBACK' if tb else ''}: {last}"


def wait_for(pred: Callable[[], bool], timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


def trial_processes(parent: int) -> list[int]:
    """pids of the trial processes of `parent` (its multiprocessing 'spawn' children)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and "spawn_main" in cmd:
            pids.append(int(d.name))
    return pids


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def running_trials(db: Path) -> int:
    if not db.exists():
        return -1
    con = sqlite3.connect(db)
    try:
        return con.execute("select count(*) from trials where state='RUNNING'").fetchone()[0]
    except sqlite3.Error:
        return -1
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# The probes: item number of the issue -> function(tmp) -> one-line outcome.
def p1_resume_missing_db(tmp: Path) -> str:
    space = tiny_space(tmp, trials=3)
    run = tmp / "run"
    cli("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    before = rows(run)
    (run / "study.db").unlink()
    res = cli("search", "--resume", "--run-dir", str(run), "--trials", "5", "--no-progress",
              cwd=tmp)
    after = rows(run)
    changed = [n for n in before if after.get(n) != before[n]]
    part1 = f"rm study.db + resume: {first_line(res)}; rows rewritten: {changed or 'none'}"
    # a copied run dir must not write into the original's database
    run2 = tmp / "orig"
    cli("search", str(space), "--run-dir", str(run2), "--trials", "2", "--no-progress", cwd=tmp)
    copy = tmp / "copy"
    shutil.copytree(run2, copy)
    size = (run2 / "study.db").stat().st_size
    mtime = (run2 / "study.db").stat().st_mtime_ns
    res = cli("search", "--resume", "--run-dir", str(copy), "--trials", "3", "--no-progress",
              cwd=tmp)
    touched = (run2 / "study.db").stat().st_mtime_ns != mtime or \
        (run2 / "study.db").stat().st_size != size
    return part1 + f" | resume of a copy: rc={res.returncode}, original study.db written: {touched}"


def p2_final_epoch_pruned(tmp: Path) -> str:
    space = tiny_space(tmp, trials=10, epochs=1, pruner="median")
    run = tmp / "run"
    res = cli("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    r = rows(run).values()
    full_pruned = sum(1 for x in r if x["state"] == "pruned"
                      and x["epochs_run"] == x["epochs_planned"])
    states = {}
    for x in r:
        states[x["state"]] = states.get(x["state"], 0) + 1
    return f"rc={res.returncode}; states {states}; pruned after all epochs: {full_pruned}"


def p3_resume_replays_sampler(tmp: Path) -> str:
    space = tiny_space(tmp, trials=3)
    run = tmp / "run"
    cli("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    res = cli("search", "--resume", "--run-dir", str(run), "--trials", "6", "--no-progress",
              cwd=tmp)
    r = rows(run)
    first = [r[n]["arch_key"] for n in sorted(r)[:3]]
    again = [n for n in sorted(r)[3:] if r[n]["arch_key"] in first]
    dups = sum(1 for x in r.values() if x["state"] == "duplicate")
    summary = [ln for ln in res.stdout.splitlines() if ln.startswith("run:")]
    return (f"rc={res.returncode}; resumed trials repeating trials 0-2: {again}; duplicates "
            f"{dups} of {len(r)} rows; summary: {summary[0][:120] if summary else '-'}")


def p4_two_searches_one_dir(tmp: Path) -> str:
    space = tiny_space(tmp, trials=3, epochs=40)
    run = tmp / "run"
    first = spawn("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    wait_for(lambda: running_trials(run / "study.db") > 0, 120)
    time.sleep(2)
    second = cli("search", "--resume", "--run-dir", str(run), "--no-progress", cwd=tmp,
                 timeout=25)
    alive = first.poll() is None
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    failed = [x["reason"][:60] for x in rows(run).values() if x["state"] == "failed"]
    return (f"second search: {first_line(second)}; first still running: {alive}; failed "
            f"rows: {failed}")


def p5_validate_before_create(tmp: Path) -> str:
    space = tiny_space(tmp)
    out = []
    for flag in (["--epochs", "0"], ["--sampler", "bogus"], ["--data", str(tmp / "nope")],
                 ["--storage", "postgresql://u:pw@127.0.0.1:1/db"]):
        run = tmp / f"run{len(out)}"
        res = cli("search", str(space), "--run-dir", str(run), "--no-progress", *flag, cwd=tmp,
                  timeout=120)
        out.append(f"{flag[0]} {flag[1][:20]}: rc={res.returncode}, run dir left: "
                   f"{run.exists()}")
    return "; ".join(out)


def p6_resume_ignores_flags(tmp: Path) -> str:
    space = tiny_space(tmp, trials=1)
    run = tmp / "run"
    cli("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    res = cli("search", "--resume", "--run-dir", str(run), "--trials", "2", "--epochs", "2",
              "--limit-train", "100", "--no-progress", cwd=tmp)
    r = rows(run)
    new = r.get(1, {})
    meta = json.loads((run / "run.json").read_text())
    return (f"resume --epochs 2 --limit-train 100: {first_line(res)}; new trial "
            f"epochs_planned={new.get('epochs_planned')}; run.json overrides: "
            f"{meta.get('overrides')}")


def p7_sigterm(tmp: Path) -> str:
    space = tiny_space(tmp, trials=3, epochs=60)
    run = tmp / "run"
    proc = spawn("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    wait_for(lambda: running_trials(run / "study.db") > 0, 120)
    time.sleep(3)
    before = set(trial_processes(proc.pid))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    time.sleep(2)
    orphans = [p for p in before if alive(p)]
    for p in orphans:
        os.kill(p, signal.SIGKILL)
    return (f"rc={proc.returncode}; trial processes alive 2 s later: {len(orphans)}; RUNNING "
            f"trials left: {running_trials(run / 'study.db')}")


def p7b_all_failed(tmp: Path) -> str:
    # a batch larger than the training set: every trial fails in its trial process
    space = tiny_space(tmp, trials=2)
    space.write_text(space.read_text().replace("batch_size: 64", "batch_size: 4096"))
    res = cli("search", str(space), "--run-dir", str(tmp / "run"), "--no-progress", cwd=tmp)
    states = [x["state"] for x in rows(tmp / "run").values()]
    return f"every trial failed {states}: rc={res.returncode}"


def p8_password(tmp: Path) -> str:
    space = tiny_space(tmp)
    run = tmp / "run"
    res = cli("search", str(space), "--run-dir", str(run), "--no-progress", "--storage",
              "postgresql://user:PASSWORD@127.0.0.1:1/db", cwd=tmp, timeout=120)
    leaked = [str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()
              and b"PASSWORD" in p.read_bytes()]
    in_output = "PASSWORD" in res.stdout + res.stderr
    res2 = cli("search", str(space), "--run-dir", str(tmp / "run2"), "--no-progress",
               "--storage", "postgresql://127.0.0.1:1/db?user=u&password=PASSWORD2", cwd=tmp,
               timeout=120)
    return (f"user:PASSWORD@ URL: files holding it {leaked}, in output {in_output}; "
            f"?password= URL in output: {'PASSWORD2' in res2.stdout + res2.stderr}")


def p9_path_names(tmp: Path) -> str:
    (tmp / "cwd").mkdir()
    space = tiny_space(tmp / "cwd", trials=1)
    out = []
    for name in ("../../escaped", "/tmp/abs-escape"):
        res = cli("search", str(space), "--run-dir", str(tmp / "cwd" / "run"), "--study-name",
                  name, "--no-progress", cwd=tmp / "cwd")
        outside = [str(p) for p in list(tmp.rglob("*escape*--*")) +
                   list(Path("/tmp").glob("abs-escape--*"))]
        out.append(f"--study-name {name}: rc={res.returncode}, rows outside the run dir: "
                   f"{len(outside)}")
        shutil.rmtree(tmp / "cwd" / "run", ignore_errors=True)
        for p in Path("/tmp").glob("abs-escape--*"):
            p.unlink()
    return "; ".join(out)


def p10_yaml_bomb(tmp: Path) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},"
                     f"*{prev},*{prev}]")
    bomb = tmp / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nname: bomb\n")
    t = time.time()
    res = cli("spaces", "validate", str(bomb), cwd=tmp, timeout=20)
    bomb_s = time.time() - t
    deep = tmp / "deep.yaml"
    deep.write_text("space: " + "[" * 20000 + "]" * 20000 + "\n")
    res2 = cli("spaces", "validate", str(deep), cwd=tmp, timeout=60)
    big = tmp / "big.yaml"
    with open(big, "w") as f:
        f.write("name: big\ndescription: >\n")
        line = "  " + "x" * 98 + "\n"
        for _ in range(20 * 1024 * 1024 // len(line)):  # 20 MB
            f.write(line)
    t = time.time()
    res3 = cli("spaces", "validate", str(big), cwd=tmp, timeout=120)
    big_s = time.time() - t
    return (f"{bomb.stat().st_size} B alias bomb: {first_line(res)} in {bomb_s:.1f}s; 20,000-deep:"
            f" {first_line(res2)}; 20 MB file: {first_line(res3)[:60]} in {big_s:.1f}s")


def p11_nan_inf(tmp: Path) -> str:
    out = []
    for key, value in (("learning_rate", ".nan"), ("learning_rate", ".inf"),
                       ("epochs", "1" + "0" * 400)):
        space = tiny_space(tmp)
        text = space.read_text().replace("  epochs: 1\n", "").replace(
            "batch_size: 64", f"batch_size: 64\n  {key}: {value}")
        space.write_text(text)
        res = cli("spaces", "validate", str(space), cwd=tmp)
        out.append(f"{key}: {value[:6]} -> {first_line(res)[:70]}")
    space = tiny_space(tmp)
    space.write_text(space.read_text().replace("validation_split: 0.25",
                                               "validation_split: .nan"))
    res = cli("spaces", "validate", str(space), cwd=tmp)
    out.append(f"validation_split .nan -> {first_line(res)[:70]}")
    return "; ".join(out)


def p12_bad_flags(tmp: Path) -> str:
    space = tiny_space(tmp, trials=1)
    out = []
    for flag in (["--trials", "-1"], ["--trials", "0"], ["--timeout", "-1"], ["--epochs", "0"],
                 ["--seed", "-1"], ["--sampler", "bogus"], ["--data", "/nonexistent"]):
        run = tmp / f"r{len(out)}"
        res = cli("search", str(space), "--run-dir", str(run), "--no-progress", *flag, cwd=tmp,
                  timeout=300)
        err = (res.stderr or "").strip().splitlines()
        named = bool(err) and flag[0] in err[-1]
        out.append(f"{flag[0]} {flag[1]}: rc={res.returncode} names flag: {named}")
    return "; ".join(out)


def p13_tracebacks(tmp: Path) -> str:
    space = tiny_space(tmp, trials=1)
    out = []
    afile = tmp / "afile"
    afile.write_text("x")
    res = cli("search", str(space), "--run-dir", str(afile), "--no-progress", cwd=tmp)
    out.append(f"run dir is a file: {first_line(res)[:80]}")
    run = tmp / "run"
    cli("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    row = next((run / "rows").glob("*.json"))
    good = row.read_text()
    row.write_text("[1, 2]")
    res = cli("report", str(run), cwd=tmp)
    out.append(f"row that is a JSON list: {first_line(res)[:80]}")
    row.write_text(good)
    meta = (run / "run.json").read_text()
    (run / "run.json").write_text("{}")
    res = cli("search", "--resume", "--run-dir", str(run), "--no-progress", cwd=tmp)
    out.append(f"run.json {{}}: {first_line(res)[:80]}")
    (run / "run.json").write_text(meta)
    text = (run / "space.yaml").read_text()
    (run / "space.yaml").write_text(text.replace("batch_size: 64", "batch_size: 32"))
    res = cli("search", "--resume", "--run-dir", str(run), "--trials", "2", "--no-progress",
              cwd=tmp)
    out.append(f"space.yaml edited in the run dir: {first_line(res)[:80]}")
    return "; ".join(out)


def p14_orphans(tmp: Path) -> str:
    space = tiny_space(tmp, trials=3, epochs=60)
    run = tmp / "run"
    proc = spawn("search", str(space), "--run-dir", str(run), "--no-progress", cwd=tmp)
    wait_for(lambda: running_trials(run / "study.db") > 0, 120)
    time.sleep(3)
    before = set(trial_processes(proc.pid))
    os.kill(proc.pid, signal.SIGKILL)  # the search only, not its process group
    proc.wait()
    t = time.time()
    wait_for(lambda: not [p for p in before if alive(p)], 60)
    lived = time.time() - t
    left = [p for p in before if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    return (f"kill -9 of the search: its {len(before)} trial process(es) lived on for "
            f"{lived:.1f}s")


PROBES: dict[str, Callable[[Path], str]] = {
    "1": p1_resume_missing_db, "2": p2_final_epoch_pruned, "3": p3_resume_replays_sampler,
    "4": p4_two_searches_one_dir, "5": p5_validate_before_create, "6": p6_resume_ignores_flags,
    "7": p7_sigterm, "7b": p7b_all_failed, "8": p8_password, "9": p9_path_names,
    "10": p10_yaml_bomb, "11": p11_nan_inf, "12": p12_bad_flags, "13": p13_tracebacks,
    "14": p14_orphans,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated probe ids (default: all)")
    parser.add_argument("--out", default="experiments/results/trust-probe")
    args = parser.parse_args()
    ids = args.only.split(",") if args.only else list(PROBES)
    unknown = [i for i in ids if i not in PROBES]
    if unknown:
        parser.error(f"--only: unknown probe ids {unknown}; known: {list(PROBES)}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    results = {}
    for i in ids:
        with tempfile.TemporaryDirectory(prefix=f"trust-probe-{i}-") as d:
            t = time.time()
            try:
                outcome = PROBES[i](Path(d))
            except Exception as e:  # a probe that breaks says so, the others still run
                outcome = f"probe error: {type(e).__name__}: {e}"
            results[i] = {"outcome": outcome, "seconds": round(time.time() - t, 1)}
        print(f"| {i} | {results[i]['outcome']} |", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trust_probe.json").write_text(json.dumps(
        {"commit": commit, "command": " ".join(sys.argv), "probes": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

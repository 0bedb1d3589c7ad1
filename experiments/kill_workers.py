"""Chaos test of a distributed search: workers killed with SIGKILL again and again, mid-trial.

    python experiments/kill_workers.py [--storage URL] [--workers 3] [--trials 30] [--kills 6]
                                       [--out experiments/results/kill-workers]

Creates a study of tiny nets on the synthetic data set (real training, CPU), starts --workers
worker processes (`python -m resnet_nas worker`), and every few seconds kills a worker that is
training (its whole process group: the worker and its trial process), then starts a new one in
its place, until --kills kills are done; then lets the study finish. At the end it accounts for
every trial in the storage: finished trials counted towards the target, trials left RUNNING or
WAITING, architectures trained twice, the stale trials and their retries, and one table row per
finished trial. Without --storage a journal file is used; a PostgreSQL URL (or
$RESNET_NAS_STORAGE) runs the same against a database server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import optuna  # noqa: E402
from optuna.storages import RetryHeartbeatStaleTrialCallback  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from resnet_nas.distributed.collect import results_from_storage  # noqa: E402
from resnet_nas.sharing.stale import count_finished  # noqa: E402
from resnet_nas.storage import open_storage, redact  # noqa: E402


def space_file(directory: Path, trials: int) -> Path:
    doc = {"name": "chaos",
           "space": {"unit": ["v1_basic", "v2_basic"], "root": "cifar",
                     "root_depth": {"low": 4, "high": 12, "step": 4}, "shortcut": ["A", "B"],
                     "stride_placement": "first",
                     "stages": {"count": {"low": 1, "high": 3},
                                "depth": {"low": 4, "high": 16, "step": 4},
                                "units": {"low": 1, "high": 2}, "stride": 2}},
           "data": {"name": "synthetic", "validation_split": 0.25},
           "train": {"epochs": 3, "batch_size": 64},
           "search": {"trials": trials, "sampler": "random", "pruner": "none", "seed": 0}}
    path = directory / "chaos.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cli(*args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "resnet_nas", *args], env=env, cwd=REPO,
                            start_new_session=True, **popen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", default=os.environ.get("RESNET_NAS_STORAGE"))
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/results/kill-workers")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="kill-workers-"))
    url = args.storage or f"journal://{tmp}/study.journal"
    study = f"chaos-{int(time.time())}"
    space = space_file(tmp, args.trials)
    subprocess.run([sys.executable, "-m", "resnet_nas", "search", str(space), "--storage", url,
                    "--study-name", study, "--run-dir", str(tmp / "created"), "--create-only"],
                   env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, check=True,
                   capture_output=True)
    reader = optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False))
    logs = []

    def start(i: int) -> subprocess.Popen:
        log = open(tmp / f"worker{i}.log", "w")
        logs.append(log)
        return cli("worker", "--study", study, "--storage", url, "--run-dir",
                   str(tmp / f"w{i}"), "--heartbeat-interval", "1", "--grace-period", "5",
                   "--no-progress", stdout=log, stderr=subprocess.STDOUT)

    procs = {i: start(i) for i in range(args.workers)}
    next_id = args.workers
    kills = []
    t0 = time.time()
    try:
        while len(kills) < args.kills and time.time() - t0 < 1200:
            time.sleep(rng.uniform(4, 8))
            training = {int(t.user_attrs["worker"].rsplit(":", 1)[1]): t.number
                        for t in reader.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                        if t.user_attrs.get("arch_claim") == "won" and "worker" in t.user_attrs}
            victims = [i for i, p in procs.items() if p.pid in training and p.poll() is None]
            if not victims:
                continue
            i = rng.choice(victims)
            os.killpg(procs[i].pid, signal.SIGKILL)
            procs[i].wait()
            kills.append({"worker": i, "trial": training[procs[i].pid],
                          "at": round(time.time() - t0, 1)})
            print(f"killed worker {i} while it trained trial {kills[-1]['trial']}", flush=True)
            procs[next_id] = start(next_id)
            next_id += 1
        codes = {i: p.wait(timeout=1800) for i, p in procs.items() if p.poll() is None}
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for log in logs:
            log.close()

    trials = reader.get_trials()
    states = [t.state for t in trials]
    trained = [t.user_attrs.get("arch_key") for t in trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               and t.user_attrs.get("duplicate_of") is None]
    retries = [t for t in trials
               if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) is not None]
    killed_numbers = {k["trial"] for k in kills}
    table = results_from_storage(url, study)
    finished = sorted(t.number for t in trials
                      if t.state.is_finished() and "rejected" not in t.user_attrs)
    summary = {
        "storage": redact(url), "workers": args.workers, "kills": len(kills),
        "target": args.trials, "finished_counted": count_finished(trials),
        "running_left": states.count(TrialState.RUNNING),
        "waiting_left": states.count(TrialState.WAITING),
        "trained_twice": len(trained) - len(set(trained)),
        "killed_trials_failed": sum(1 for t in trials if t.number in killed_numbers
                                    and t.state == TrialState.FAIL),
        "retries": len(retries),
        "table_rows_equal_finished": sorted(table["trial"].tolist()) == finished,
        "worker_exit_codes": sorted(set(codes.values())),
        "seconds": round(time.time() - t0, 1),
    }
    print("\n| measure | value |\n|---|---|")
    for key, value in summary.items():
        print(f"| {key} | {value} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kill_workers.json").write_text(json.dumps(
        {"summary": summary, "kills": kills, "command": " ".join(sys.argv)}, indent=1))
    ok = (summary["finished_counted"] == args.trials and not summary["running_left"]
          and not summary["waiting_left"] and not summary["trained_twice"]
          and summary["table_rows_equal_finished"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Trial isolation: trials run in a recycled worker subprocess, never in the search process.

Keras (and TensorFlow in particular) keeps growing host memory across many models in one process
(a known Keras Tuner / Optuna report), and a crash inside a backend would otherwise take the whole
study down. The search process therefore never imports Keras: it hands one job at a time to a
`TrialRunner`, which owns a `spawn`ed worker process. The worker sets the Keras backend before
importing Keras, keeps the loaded data set between jobs, and streams per-epoch metrics back so the
search can prune. The runner recycles the worker after `max_trials_per_worker` jobs or when its
resident memory passes `max_worker_rss_mb`, and replaces it after a crash.

Protocol over a multiprocessing Pipe (all payloads are plain dicts):
  search -> worker: ("run", job)                    worker -> search: ("epoch", metrics)
  search -> worker: ("continue", bool)              worker -> search: ("done", result)
                                                    worker -> search: ("error", message)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process in MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


@dataclass
class Job:
    """One trial for a worker. All fields are plain data (dicts from the config dataclasses).

    Attributes:
      arch: Architecture.to_dict().
      train: TrainConfig.to_dict().
      data: DataConfig as a dict.
      evaluate_test: also evaluate on the test split (final training of an exported config).
      save_model: path to save the trained model as .keras, or None.
    """

    arch: dict[str, Any]
    train: dict[str, Any]
    data: dict[str, Any]
    evaluate_test: bool = False
    save_model: str | None = None


@dataclass
class JobResult:
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)  # TrainResult.to_dict() + extras
    error: str = ""
    worker_rss_mb: float = 0.0
    worker_pid: int = 0


# ---------------------------------------------------------------------------------------------
# Worker side (runs in the child process).
def _worker_main(conn, env: dict[str, str]) -> None:
    # Ctrl-C reaches the whole process group; the search process decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)
    import logging
    import warnings
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes per new model
    warnings.filterwarnings("ignore")
    if env.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        _import_tensorflow_quietly()
    datasets: dict[str, Any] = {}
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        job = Job(**msg[1])
        try:
            result = _run_job(job, conn, datasets)
            conn.send(("done", result))
        except Exception as e:  # reported to the search, which records a failed trial
            conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"))


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow with the C++ stderr silenced.

    TensorFlow's start-up lines (oneDNN, missing CUDA drivers) come from absl before its log
    level is read, so TF_CPP_MIN_LOG_LEVEL does not stop them; they would land in the middle of
    the progress bars of every new worker. An import error still raises as usual.
    """
    import importlib
    import sys
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                tf = importlib.import_module("tensorflow")
                tf.constant(0)  # the CUDA probe runs on the first op, not at import
            except ImportError:
                pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _run_job(job: Job, conn, datasets: dict[str, Any]) -> dict[str, Any]:
    import json

    from resnet_nas.config import TrainConfig, data_config_from_dict
    from resnet_nas.data import load_dataset
    from resnet_nas.nets import Architecture
    from resnet_nas.nets.build import build_model
    from resnet_nas.train import evaluate, normalization_stats, precision_policy, train_model
    from resnet_nas.train.base import release_memory, seed_all

    train_cfg = TrainConfig.from_dict(job.train)
    data_cfg = data_config_from_dict(job.data)
    key = json.dumps([job.data, train_cfg.seed], sort_keys=True)
    if key not in datasets:
        datasets.clear()
        datasets[key] = load_dataset(data_cfg, seed=train_cfg.seed)
    data = datasets[key]
    arch = Architecture.from_dict(job.arch)
    seed_all(train_cfg.seed)
    release_memory()
    with precision_policy(train_cfg.precision):
        model = build_model(arch, train_cfg.resnet_config())

    def on_epoch(metrics) -> bool:
        conn.send(("epoch", metrics.to_dict()))
        reply = conn.recv()
        return bool(reply[1])

    result = train_model(model, data, train_cfg, on_epoch).to_dict()
    if job.evaluate_test and not result["diverged"]:
        loss, acc = evaluate(model, data.x_test, data.y_test, train_cfg, normalization_stats(data))
        result["test_loss"], result["test_accuracy"] = float(loss), float(acc)
    if job.save_model:
        # Save an inference copy: the compiled optimizer (with our LR schedule) is training
        # state, and would make the file unloadable without this package's registrations.
        with precision_policy(train_cfg.precision):
            clean = build_model(arch, train_cfg.resnet_config(), name=model.name)
        clean.set_weights(model.get_weights())
        clean.save(job.save_model)
    result["count_params"] = int(model.count_params())
    del model
    release_memory()
    result["worker_rss_mb"] = rss_mb()
    return result


# ---------------------------------------------------------------------------------------------
# Search side.
class WorkerCrashed(RuntimeError):
    pass


class TrialRunner:
    """Runs jobs in a recycled worker subprocess.

    Args:
      backend: Keras backend for the worker (KERAS_BACKEND).
      max_trials_per_worker: recycle the worker after this many jobs (bounds memory growth).
      max_worker_rss_mb: recycle the worker when its RSS after a job exceeds this.
      env: extra environment for the worker.
    """

    def __init__(self, backend: str = "tensorflow", max_trials_per_worker: int = 10,
                 max_worker_rss_mb: float = 6000.0, env: dict[str, str] | None = None):
        self.backend = backend
        self.max_trials_per_worker = max_trials_per_worker
        self.max_worker_rss_mb = max_worker_rss_mb
        self.env = {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
                    "PYTHONWARNINGS": "ignore", **(env or {})}
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None
        self._jobs_done = 0
        self.restarts = 0

    # -- process management -----------------------------------------------------------------
    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.env), daemon=True,
                                 name="resnet_nas-trial-worker")
        try:
            proc.start()
        finally:
            child.close()
        self._proc, self._conn = proc, parent
        self._jobs_done = 0

    def close(self) -> None:
        """Stops the worker (gracefully if it is idle, else by force)."""
        if self._proc is None or self._conn is None:
            self._proc = None
            return
        try:
            self._conn.send(("stop",))
            self._proc.join(timeout=5)
        except (OSError, BrokenPipeError):
            pass
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()
        self._proc = None
        self._conn = None

    def kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._proc = None
        self._conn = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> "TrialRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------------
    def run(self, job: Job, on_epoch: Callable[[dict[str, Any]], bool] | None = None,
            poll_seconds: float = 0.5) -> JobResult:
        """Runs one job; `on_epoch(metrics) -> continue?` is called for every epoch.

        A worker crash (segfault, OOM kill) gives JobResult(ok=False, error='worker crashed...')
        and a fresh worker for the next job.
        """
        if self._proc is None or not self._proc.is_alive():
            if self._proc is not None:
                self.restarts += 1
            self._start()
        try:
            self._conn.send(("run", job.__dict__))
        except OSError:  # the idle worker died since its last job: start a fresh one
            self.kill()
            self._start()
            self._conn.send(("run", job.__dict__))
        pid = self._proc.pid
        try:
            while True:
                if not self._conn.poll(poll_seconds):
                    if not self._proc.is_alive():
                        return self._crashed(pid)
                    continue
                try:
                    kind, payload = self._conn.recv()
                    if kind == "epoch":
                        keep_going = True if on_epoch is None else bool(on_epoch(payload))
                        self._conn.send(("continue", keep_going))
                        continue
                except (EOFError, OSError):  # the pipe died with the worker
                    return self._crashed(pid)
                if kind == "done":
                    self._after_job(payload.get("worker_rss_mb", 0.0))
                    return JobResult(True, payload, worker_rss_mb=payload.get("worker_rss_mb", 0.0),
                                     worker_pid=pid)
                if kind == "error":
                    # The worker survived, but its state after an exception is suspect: recycle.
                    self.close()
                    return JobResult(False, error=payload, worker_pid=pid)
        except BaseException:
            self.kill()  # interrupted mid-trial: never leave an orphan training
            raise

    def _crashed(self, pid: int) -> JobResult:
        self._proc.join(timeout=5)
        code = self._proc.exitcode
        self.kill()
        return JobResult(False, error=f"worker crashed (exit code {code})", worker_pid=pid)

    def _after_job(self, worker_rss: float) -> None:
        self._jobs_done += 1
        if (self._jobs_done >= self.max_trials_per_worker
                or worker_rss > self.max_worker_rss_mb):
            self.close()
            self.restarts += 1


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()

"""Trial isolation: each trial trains in a recycled trial process, never in the search process.

Keras (and TensorFlow in particular) keeps growing host memory across many models in one process
(a known Keras Tuner / Optuna report), and a crash inside a backend would otherwise take the whole
study down. The search process therefore never imports Keras: it hands one job at a time to a
`TrialRunner`, which owns a `spawn`ed trial process. The trial process sets the Keras backend
before importing Keras, keeps the loaded data set between jobs, and streams per-epoch metrics
back so the search can prune. The runner recycles the process after `max_trials_per_worker`
jobs or when its resident memory passes `max_worker_rss_mb`, and replaces it after a crash.

A trial process never outlives its search: it asks the kernel to kill it when its parent dies
(Linux PR_SET_PDEATHSIG; a parent-pid watchdog elsewhere), ignores the Ctrl-C and SIGTERM that
reach its process group (the search decides, and stops it), and exits quietly when the pipe
to its search breaks.

Protocol over a multiprocessing Pipe (pickled plain data):
  search -> trial: ("run", Job)                      trial -> search: ("epoch", metrics dict)
  search -> trial: ("continue", bool)                trial -> search: ("done", result dict)
  search -> trial: ("stop",)                         trial -> search: ("error", message)
  search -> trial: ("warm", (DataConfig, seed, input shape))
  search -> trial: ("prepare", Job)                  trial -> search: ("step", progress dict)
("step" needs no answer: a long epoch reports its progress every few seconds. "warm" needs
none either: an idle process loads the data set of the coming jobs before the first arrives.
Nor does "prepare": the process sets that job up (model, trainer, warm-up) ahead of its "run";
an error there is left to the run, which sets the job up again and reports it
(resnet_nas.lookahead, resnet_nas.job_runner).)

Start-up is paid once per process, so the runner starts its process as soon as the search
knows its data (`warm`): the backend's import and the data set's loading then overlap the
search's own start (study, first sample) instead of delaying the first trial.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from resnet_nas.config import DataConfig
from resnet_nas.interrupts import check_stop
from resnet_nas.jobs import Job, JobResult
from resnet_nas.train.metrics import TrainResult
from resnet_nas.trial_startup import start_trial_process

#: Seconds between the watchdog's looks at the parent pid (where PR_SET_PDEATHSIG is missing).
WATCHDOG_SECONDS = 0.5


def default_rss_limit_mb() -> float:
    """The trial process's memory limit: 6000 MiB, or a quarter of the machine's memory when
    that is less (several workers may share a machine)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return 6000.0
    return float(min(6000.0, total / 4))


class TrialRunnerLike:
    """What the engines need of a runner (TrialRunner, or a test's fake)."""

    #: `prepare` sets a job up while another job runs (resnet_nas.lookahead): a search then
    #: samples its next trial while the current one trains.
    prepares_ahead = False

    def run(self, job: Job, on_epoch: Callable[[dict[str, Any]], bool] | None = None,
            on_step: Callable[[dict[str, Any]], None] | None = None,
            while_running: Callable[[], None] | None = None) -> JobResult:
        """Runs `job`; `while_running()` is called once the job has started (the search's
        own work that need not delay it)."""

    def close(self) -> None: ...

    def start(self) -> None:
        """Starts the trial process (its backend's import) ahead of its data; optional."""

    def warm(self, data: DataConfig, seed: int,
             input_shape: tuple[int, int, int] | None = None) -> None:
        """Prepares for jobs on `data` at `input_shape` (start the process, open the data
        set); optional."""

    def prepare(self, job: Job, after: Job | None = None) -> None:
        """Sets `job` up ahead of its `run`, to run after `after` (the job about to run);
        optional."""


# ---------------------------------------------------------------------------------------------
# Trial-process side.
def die_with_parent(parent_pid: int) -> None:
    """Ends this process as soon as `parent_pid` is gone, quietly (no traceback, no output)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # it died before the request above
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def become_trial_process(parent_pid: int) -> None:
    """First thing in a trial process: leave Ctrl-C and SIGTERM to the search (they reach the
    whole process group; the search decides and stops this process), and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(parent_pid)


def serve_jobs(conn, run_job: Callable[..., dict[str, Any]],
               warm: Callable[..., None] | None = None,
               prepare: Callable[[Job], None] | None = None) -> None:
    """The trial process's loop: runs the jobs it receives until told to stop.

    A job's exception is reported as an error (the search records a failed trial); when the
    pipe to the search breaks, the process exits quietly.

    Args:
      run_job: (job, on_epoch, on_step) -> result dict {"train": TrainResult.to_dict(), ...},
        where on_epoch(metrics dict) -> continue? and on_step(StepProgress dict) -> None.
      warm: (data config, seed, input shape) -> None, for a "warm" message (opens the data
        set ahead); an error there is left to the first job, which opens it again and reports
        it.
      prepare: job -> None, for a "prepare" message (sets the job up ahead of its "run").
    """
    def on_epoch(metrics: dict[str, Any]) -> bool:
        conn.send(("epoch", metrics))
        return bool(conn.recv()[1])

    def on_step(progress: dict[str, Any]) -> None:
        conn.send(("step", progress))  # no answer: the trial goes on at once

    try:
        while True:
            msg = conn.recv()
            if msg[0] == "stop":
                return
            if msg[0] == "warm":
                if warm is not None:
                    try:
                        warm(*msg[1])
                    except Exception:  # noqa: BLE001 - the first job reports it
                        pass
                continue
            if msg[0] == "prepare":
                if prepare is not None:
                    prepare(msg[1])  # it keeps its errors for the job's run to report
                continue
            try:
                reply = ("done", run_job(msg[1], on_epoch, on_step))
            except (EOFError, BrokenPipeError, ConnectionResetError):
                raise  # the search is gone (below)
            except Exception as e:  # reported to the search, which records a failed trial
                reply = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
            conn.send(reply)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        os._exit(0)  # the search is gone: nothing to report to, nothing to say


def refuse_jobs(conn, why: str) -> None:
    """A trial process whose start-up failed: every job gets `why` as its error (the trial's
    row then says it), until the search stops it or goes."""
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "stop":
                return
            if msg[0] == "run":
                conn.send(("error", why))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return


def trial_main(conn, env: dict[str, str], parent_pid: int) -> None:
    """The trial process: trains the jobs it receives (TrialRunner's default target)."""
    become_trial_process(parent_pid)
    os.environ.update(env)
    import logging
    import warnings
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes per new model
    warnings.filterwarnings("ignore")
    backend = env.get("KERAS_BACKEND", "tensorflow")
    try:
        start_trial_process(backend)
    except Exception as e:  # noqa: BLE001 - every job is told why, and the search records it
        refuse_jobs(conn, f"the trial process could not start its Keras backend {backend!r}: "
                          f"{type(e).__name__}: {e}")
        os._exit(0)
    from resnet_nas.job_runner import JobRunner

    jobs = JobRunner()
    serve_jobs(conn, jobs.run, warm=jobs.warm, prepare=jobs.prepare)
    # Told to stop: every result is sent. The backend's own teardown at exit takes seconds
    # (TensorFlow's) and would hold up a recycling search; nothing is left to flush but stdio.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ---------------------------------------------------------------------------------------------
# Search side.
class TrialRunner(TrialRunnerLike):
    """Runs jobs in a recycled trial process.

    Args:
      backend: Keras backend of the trial process (KERAS_BACKEND).
      max_trials_per_worker: recycle the process after this many jobs at most (a backstop:
        a new process costs seconds of imports, so memory decides first).
      max_worker_rss_mb: recycle the process when its RSS after a job exceeds this (default
        default_rss_limit_mb()).
      env: extra environment for the trial process.
      target: the trial process's main function (default trial_main; tests give a light
        stand-in that trains nothing).
    """

    def __init__(self, backend: str = "tensorflow", max_trials_per_worker: int = 100,
                 max_worker_rss_mb: float | None = None, env: dict[str, str] | None = None,
                 target: Callable[..., None] = trial_main):
        self.backend = backend
        self.max_trials_per_worker = max_trials_per_worker
        self.max_worker_rss_mb = default_rss_limit_mb() if max_worker_rss_mb is None \
            else max_worker_rss_mb
        self.env = {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
                    "PYTHONWARNINGS": "ignore", **(env or {})}
        self.target = target
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None
        self._jobs_done = 0
        self._warm: tuple[DataConfig, int, tuple[int, int, int] | None] | None = None
        self._warm_sent = False  # the running process was asked to load the data set
        self.restarts = 0
        #: exit code of the last process close() stopped (0: it stopped when asked)
        self.exitcode: int | None = None

    # -- process management -----------------------------------------------------------------
    def start(self) -> None:
        """Starts the trial process now, if none runs: its imports (seconds: TensorFlow's) go
        on while the search opens its study and samples."""
        if self._proc is None or not self._proc.is_alive():
            self._start()

    def warm(self, data: DataConfig, seed: int,
             input_shape: tuple[int, int, int] | None = None) -> None:
        """Starts the trial process now, if none runs, and has it open `data` (at
        `input_shape`): its imports and the data set are ready when the first job comes (a
        process asked once already is not asked again)."""
        self.start()
        self._warm = (data, seed, input_shape)
        if self._warm_sent:
            return
        try:
            self._conn.send(("warm", self._warm))
            self._warm_sent = True
        except OSError:
            self.kill()

    def prepare(self, job: Job, after: Job | None = None) -> None:
        """Has the trial process set `job` up now (model, trainer, warm-up), for a `run` of the
        same job that comes later; returns at once. A process that died meanwhile is noticed,
        and replaced, by that run. (One process runs `after` first and drops the set-up:
        resnet_nas.lookahead pairs two.)"""
        self.start()
        try:
            self._conn.send(("prepare", job))
        except OSError:
            self.kill()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=self.target, args=(child, self.env, os.getpid()),
                                 daemon=True, name="resnet_nas-trial")
        try:
            proc.start()
        finally:
            child.close()
        self._proc, self._conn = proc, parent
        self._jobs_done = 0
        self._warm_sent = False

    def close(self) -> None:
        """Stops the trial process: gracefully once it has run a job, else by force.

        A process that has run no job holds nothing to finish, and may still be importing
        its backend (it was warmed after a recycle that followed the search's last trial): it
        would read "stop" only after the import, so asking it would cost the join's timeout.
        `exitcode` then tells how the process ended.
        """
        if self._proc is None or self._conn is None:
            self._proc = None
            return
        if self._jobs_done == 0:
            self._proc.kill()
            self._proc.join(timeout=5)
        else:
            try:
                self._conn.send(("stop",))
                self._proc.join(timeout=5)
            except OSError:
                pass
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self.exitcode = self._proc.exitcode
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
            on_step: Callable[[dict[str, Any]], None] | None = None,
            while_running: Callable[[], None] | None = None,
            poll_seconds: float = 0.5) -> JobResult:
        """Runs one job; `on_epoch(metrics) -> continue?` is called for every epoch, and
        `on_step(progress)` inside long epochs (resnet_nas.train.StepProgress as a dict);
        `while_running()` once the job is sent (an epoch that ends meanwhile waits for it).

        A crash of the trial process (segfault, OOM kill) gives JobResult(ok=False,
        error='trial process crashed...') and a fresh process for the next job. Any exception
        here (Ctrl-C, SIGTERM) kills the process first: no orphan goes on training.
        """
        if self._proc is None or not self._proc.is_alive():
            if self._proc is not None:
                self.restarts += 1
            self._start()
        try:
            self._conn.send(("run", job))
        except OSError:  # the idle process died since its last job: start a fresh one
            self.kill()
            self._start()
            self._conn.send(("run", job))
        pid = self._proc.pid
        try:
            if while_running is not None:
                while_running()  # the trial process works on the job meanwhile
            while True:
                check_stop()  # a Ctrl-C / SIGTERM of the search (resnet_nas.interrupts)
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
                    if kind == "step":
                        if on_step is not None:
                            on_step(payload)
                        continue
                except (EOFError, OSError):  # the pipe died with the process
                    return self._crashed(pid)
                if kind == "done":
                    rss = payload.get("worker_rss_mb", 0.0)
                    self._after_job(rss)
                    return JobResult(True, TrainResult.from_dict(payload["train"]),
                                     worker_rss_mb=rss, worker_pid=pid,
                                     test_accuracy=payload.get("test_accuracy"),
                                     test_loss=payload.get("test_loss"),
                                     count_params=payload.get("count_params"),
                                     ahead_seconds=payload.get("ahead_seconds"),
                                     skipped_images=payload.get("skipped_images"),
                                     skipped_names=tuple(payload.get("skipped_names") or ()),
                                     val_images=payload.get("val_images"),
                                     normalization=payload.get("normalization"))
                if kind == "error":
                    # The process survived, but its state after an exception is suspect.
                    self.close()
                    return JobResult(False, error=payload, worker_pid=pid)
        except BaseException:
            self.kill()  # interrupted mid-trial: never leave an orphan training
            raise

    def _crashed(self, pid: int) -> JobResult:
        self._proc.join(timeout=5)
        code = self._proc.exitcode
        self.kill()
        return JobResult(False, error=f"trial process crashed (exit code {code})",
                         worker_pid=pid)

    def _after_job(self, worker_rss: float) -> None:
        self._jobs_done += 1
        if (self._jobs_done >= self.max_trials_per_worker
                or worker_rss > self.max_worker_rss_mb):
            self.close()
            self.restarts += 1
            if self._warm is not None:  # the next process starts while the search samples
                self.warm(*self._warm)

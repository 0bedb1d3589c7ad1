"""Distributed search: several worker processes (on one or many machines) share one study.

    python -m resnet_nas search SPACE --storage URL --create-only     # once: creates the study
    python -m resnet_nas worker --study NAME --storage URL --gpus 0,1  # on every machine
    python -m resnet_nas collect --study NAME --storage URL --run-dir DIR   # the whole table

The study carries what a worker needs (user attributes written by `search`: the space file's
text `space_yaml`, its `space_hash` and the run metadata `run_meta`: sampler, pruner,
objectives, seed, overrides, trial target), so a worker needs only the study name and the
storage URL. Each worker writes its finished trials as rows in its own run directory; the
storage keeps every trial's record too, and `results_from_storage` / `collect` rebuild the
single table of the whole study from it.

Coordination, all through the storage:
  * no duplicates: an architecture is claimed in the storage before it trains
    (`resnet_nas.search.claim_architecture`); one already trained is reused ('duplicate').
  * trial count: a worker asks for a trial only while finished + running trials are fewer than
    the target, and a fresh trial beyond the target is dropped unrun (`StudyControl`).
  * heartbeats: every RUNNING trial has one (Optuna's for RDB storages, a trial system attribute
    for JournalStorage, see resnet_nas.storage). Before each ask a worker fails the trials whose
    heartbeat is older than the grace period (their worker died) and, with --on-stale retry
    (default), enqueues the same parameters again (`recover_stale_trials`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from resnet_nas import results
from resnet_nas.search import (RUN_META, RUN_SPACE, STUDY_RUN_META, STUDY_SPACE_YAML,
                               LoopControl, SearchError, SearchOptions, base_record,
                               effective_configs, open_study, run_trials)
from resnet_nas.storage import (GRACE_ENV, INTERVAL_ENV, StorageError, heartbeat_settings,
                                is_journal, open_storage, redact)

ON_STALE = ("retry", "fail")
STALE_ATTR = "resnet_nas:stale"  # trial system attr, set before a stale trial is failed: policy
RETRY_OF = "retry_of"  # user attr of a re-enqueued trial: number of the stale trial it repeats
COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class WorkerOptions:
    """Everything `python -m resnet_nas worker` takes.

    Attributes:
      study: study name.
      storage: storage URL (default: the run directory's run.json, else
        journal:///RUN_DIR/study.journal).
      run_dir: directory of this worker's rows (default runs/<study>).
      space: optional space file; must have the study's space hash.
      trials: finished trials the study should end with (default: the study's target).
      timeout: seconds after which this worker starts no new trial.
      gpus: GPU ids; one worker process per id, each sees only its GPU.
      per_gpu: worker processes per GPU, for trials too small to fill one: they share it, each
        with its own slice of GPU memory (JAX) instead of JAX's 75% preallocation.
      workers: worker processes on this machine when no GPUs are given.
      on_stale: 'retry' (enqueue a stale trial's parameters again) or 'fail'.
      heartbeat_interval, grace_period: seconds (default: storage.heartbeat_settings).
      data: local path of the data set (image folder / .tar.gz) on this machine.
      max_trials_per_worker: recycle the trial subprocess after N trials.
      progress: tqdm bars (turned off with several worker processes).
    """

    study: str
    storage: str | None = None
    run_dir: str | None = None
    space: str | None = None
    trials: int | None = None
    timeout: float | None = None
    gpus: list[str] = field(default_factory=list)
    per_gpu: int = 1
    workers: int = 1
    on_stale: str = "retry"
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    data: str | None = None
    max_trials_per_worker: int = 10
    progress: bool = True


@dataclass
class WorkerSummary:
    run_dir: Path
    study: str
    finished: int  # finished trials of the study in the storage (all workers)
    total: int
    table: Any  # this worker's run directory table (pandas DataFrame)
    interrupted: bool = False
    failed_workers: int = 0  # worker processes (of --gpus / --workers) that ended in an error


# ---------------------------------------------------------------------------------------------
# Storage and study checks (nothing is written before they pass).
def storage_file(url: str) -> Path | None:
    """The file behind a journal:// or sqlite:/// URL (None for database servers)."""
    if url.startswith("journal://"):
        return Path(url[len("journal://"):])
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        return None if path in ("", ":memory:") else Path(path)
    return None


def open_existing_storage(url: str, heartbeat: bool = True, interval: int | None = None,
                          grace: int | None = None) -> optuna.storages.BaseStorage:
    """Opens a storage that must exist already (a worker never creates one).

    Raises:
      StorageError: unreachable database, bad URL, or a storage file that does not exist.
    """
    path = storage_file(url)
    if path is not None and not path.is_file():
        raise StorageError(f"storage {redact(url)!r}: file {str(path)!r} does not exist; create "
                           "the study first: python -m resnet_nas search SPACE --storage URL "
                           "--create-only")
    return open_storage(url, heartbeat=heartbeat, interval=interval, grace=grace)


def load_existing_study(storage: optuna.storages.BaseStorage, url: str,
                        study: str) -> optuna.Study:
    """Loads `study` (default sampler; for reading).

    Raises:
      SearchError: no such study (the message lists the studies the storage holds).
    """
    try:
        return optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in storage.get_all_studies())
        have = f"studies there: {', '.join(names)}" if names else "the storage holds no study"
        raise SearchError(f"study {study!r} does not exist in storage {redact(url)!r} ({have}); "
                          "create it with: python -m resnet_nas search SPACE --storage URL "
                          f"--study-name {study} --create-only") from None


def study_space(study: optuna.Study, url: str) -> tuple[str, dict[str, Any]]:
    """The space file text and run metadata recorded in the study by `search`.

    Raises:
      SearchError: the study was not created by `resnet_nas search`.
    """
    attrs = study.user_attrs
    if STUDY_SPACE_YAML not in attrs or STUDY_RUN_META not in attrs:
        raise SearchError(f"study {study.study_name!r} in {redact(url)!r} has no search space "
                          "recorded (it was not created by `python -m resnet_nas search "
                          "--create-only`)")
    return attrs[STUDY_SPACE_YAML], dict(attrs[STUDY_RUN_META])


def load_space_text(text: str, name: str):
    """Validates a space file's text (as recorded in a study) and returns the SearchSpace."""
    from resnet_nas.space import load_space

    with tempfile.TemporaryDirectory(prefix="resnet_nas-space-") as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(text)
        return load_space(path)


# ---------------------------------------------------------------------------------------------
# Stale trials and counting.
def _timestamp(value: dt.datetime | None) -> float:
    # Optuna keeps naive local times (JournalStorage converts to local time before stripping)
    return value.timestamp() if value is not None else 0.0


def stale_trial_ids(study: optuna.Study, grace: int) -> list[int]:
    """RUNNING trials whose heartbeat is older than `grace` seconds.

    RDB storages: Optuna's heartbeat table (database clock). JournalStorage: the trial system
    attribute storage.HEARTBEAT_ATTR, or the trial's start when it has none yet (wall clocks of
    the workers must agree, e.g. NTP, when a journal file is shared between machines).
    """
    from resnet_nas.storage import HEARTBEAT_ATTR

    storage = study._storage
    if not is_journal(storage):
        if getattr(storage, "get_heartbeat_interval", lambda: None)() is None:
            return []
        return list(storage._get_stale_trial_ids(study._study_id))
    now = time.time()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = max(float(t.system_attrs.get(HEARTBEAT_ATTR) or 0.0),
                   _timestamp(t.datetime_start))
        if now - last > grace:
            stale.append(t._trial_id)
    return stale


def fail_trial_as_stale(study: optuna.Study, trial_id: int, policy: str) -> FrozenTrial | None:
    """Fails a RUNNING trial found stale (or interrupted); with policy 'retry' its parameters are
    enqueued again. Of several workers doing this at once exactly one succeeds.

    Returns:
      The failed trial, or None when it had finished or another worker failed it first.
    """
    storage = study._storage
    try:
        # before the state: the trial counts as retried from the moment it is failed
        storage.set_trial_system_attr(trial_id, STALE_ATTR, policy)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    trial = storage.get_trial(trial_id)
    if policy == "retry":
        study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
    return trial


def recover_stale_trials(study: optuna.Study, grace: int, policy: str) -> list[FrozenTrial]:
    """Fails (and per `policy` re-enqueues) every stale RUNNING trial of the study."""
    if policy not in ON_STALE:
        raise ValueError(f"on_stale must be one of {list(ON_STALE)}, got {policy!r}")
    out = []
    for tid in stale_trial_ids(study, grace):
        t = fail_trial_as_stale(study, tid, policy)
        if t is not None:
            out.append(t)
    return out


def counts_toward_total(t: FrozenTrial) -> bool:
    """A finished trial that counts towards the study's trial target: complete, pruned,
    duplicate, or failed, but not a sample rejected unrun and not a stale trial that was
    retried (its retry counts instead)."""
    if t.state not in COUNTED_STATES:
        return False
    if t.state == TrialState.FAIL:
        return "rejected" not in t.user_attrs and t.system_attrs.get(STALE_ATTR) != "retry"
    return True


def count_finished(trials: Sequence[FrozenTrial]) -> int:
    return sum(1 for t in trials if counts_toward_total(t))


class StudyControl(LoopControl):
    """LoopControl for one of several workers: counts the study's trials in the storage,
    recovers stale trials before each ask, and drops a fresh trial beyond the target.

    Args:
      run_dir: this worker's run directory (rows of the stale trials it fails go there too).
      meta: run metadata (for those rows).
      total: finished trials the study should end with.
      grace: heartbeat grace period in seconds.
      on_stale: 'retry' or 'fail'.
      poll: seconds between checks while waiting for other workers' last trials.
      out: where to report recovered trials.
    """

    def __init__(self, run_dir: Path, meta: dict[str, Any], total: int, grace: int,
                 on_stale: str = "retry", poll: float = 1.0,
                 out: Callable[[str], None] = print):
        super().__init__(run_dir, meta["study"], total)
        self.meta = meta
        self.grace = grace
        self.on_stale = on_stale
        self.poll = poll
        self.out = out

    wait_for_conflicts = True

    def finished(self, study: optuna.Study) -> int:
        return count_finished(study.get_trials(deepcopy=False))

    def recover(self, study: optuna.Study) -> None:
        for t in recover_stale_trials(study, self.grace, self.on_stale):
            self._record_failed(t, self._stale_reason())

    def next_action(self, study: optuna.Study) -> str:
        self.recover(study)
        trials = study.get_trials(deepcopy=False)
        finished = count_finished(trials)
        if finished >= self.total:
            return "stop"
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        # trials running elsewhere may still fail as stale: wait for them instead of stopping
        return "ask" if finished + running < self.total else "wait"

    def idle(self) -> None:
        time.sleep(self.poll)

    def admit(self, study: optuna.Study, trial: optuna.Trial) -> str | None:
        # Of any two admitted trials the later one must count the earlier: a fresh trial counts
        # the running trials created before it (lower numbers) and running enqueued ones (a
        # retry may have a lower number but start later); an enqueued one counts all running.
        trials = study.get_trials(deepcopy=False)
        mine = next(t for t in trials if t.number == trial.number)
        enqueued = "fixed_params" in mine.system_attrs
        ahead = sum(1 for t in trials
                    if t.state == TrialState.RUNNING and t.number != trial.number
                    and (enqueued or t.number < trial.number or "fixed_params" in t.system_attrs))
        if count_finished(trials) + ahead + 1 > self.total:
            return (f"surplus: the study has its {self.total} trials finished or running "
                    "(another worker asked at the same time)")
        return None

    def interrupted(self, study: optuna.Study, trial: optuna.Trial | None, run_dir: Path,
                    meta: dict[str, Any]) -> None:
        if trial is None:
            return
        t = fail_trial_as_stale(study, trial._trial_id, self.on_stale)
        if t is not None:
            self._record_failed(t, "interrupted: this worker was stopped while it ran"
                                + ("; its parameters were enqueued again"
                                   if self.on_stale == "retry" else ""))

    def _stale_reason(self) -> str:
        return (f"stale: no heartbeat for more than {self.grace}s (its worker died)"
                + ("; its parameters were enqueued again" if self.on_stale == "retry" else ""))

    def _record_failed(self, t: FrozenTrial, reason: str) -> None:
        rec = synthetic_record(t, self.meta, "failed", reason)
        results.write_record(self.run_dir, rec)
        self.out(f"trial {t.number:>3} failed    {reason}")


# ---------------------------------------------------------------------------------------------
# The table of a whole study, from the storage.
def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def synthetic_record(t: FrozenTrial, meta: dict[str, Any], state: str,
                     reason: str) -> dict[str, Any]:
    """A record for a trial that left none (its worker died, or it was interrupted)."""
    from resnet_nas.nets import Architecture

    arch = Architecture.from_dict(t.user_attrs["arch"]) if "arch" in t.user_attrs else None
    full = {"study": meta.get("study"), "space": meta.get("space"),
            "space_hash": meta.get("space_hash"), "engine": meta.get("engine", "optuna"),
            "sampler": meta.get("sampler"), "pruner": meta.get("pruner")}
    rec = base_record(full, t.number, arch, t.user_attrs.get("epochs_planned", 0),
                      meta.get("seed") or 0, t.user_attrs.get("backend", ""))
    rec.update(state=state, reason=reason, worker=t.user_attrs.get("worker"),
               started_at=_iso(t.datetime_start),
               finished_at=_iso(t.datetime_complete), seed=meta.get("seed"))
    if "record" in t.user_attrs:  # written just before its worker died: keep what it knew
        old = json.loads(t.user_attrs["record"])
        for k in ("worker", "started_at", "versions", "seed", "rejections"):
            if old.get(k) is not None:
                rec[k] = old[k]
    return rec


def storage_records(study: optuna.Study) -> list[dict[str, Any]]:
    """One record per finished trial of the study (rejected samples left out).

    Trials with a record (user attr 'record') give it; stale or interrupted trials give a failed
    record with the reason (and the trial that retried them).
    """
    meta = dict(study.user_attrs.get(STUDY_RUN_META) or {})
    meta.setdefault("study", study.study_name)
    meta.setdefault("space", study.user_attrs.get("space"))
    meta.setdefault("space_hash", study.user_attrs.get("space_hash"))
    trials = study.get_trials(deepcopy=False)
    retried_by = {t.user_attrs[RETRY_OF]: t.number for t in trials if RETRY_OF in t.user_attrs}
    out = []
    for t in trials:
        if not t.state.is_finished() or "rejected" in t.user_attrs:
            continue
        policy = t.system_attrs.get(STALE_ATTR)
        if t.state == TrialState.FAIL and policy is not None:
            reason = "stale or interrupted: its worker stopped sending heartbeats"
            if t.number in retried_by:
                reason += f"; retried as trial {retried_by[t.number]}"
            elif policy == "retry":
                reason += "; its retry is enqueued"
            out.append(synthetic_record(t, meta, "failed", reason))
        elif "record" in t.user_attrs:
            rec = json.loads(t.user_attrs["record"])
            rec["trial"] = t.number
            out.append(rec)
        elif t.state == TrialState.FAIL:
            out.append(synthetic_record(t, meta, "failed",
                                        "interrupted: the search stopped while it ran"))
        else:
            state = "complete" if t.state == TrialState.COMPLETE else "pruned"
            out.append(synthetic_record(t, meta, state, "no record: trial added outside "
                                        "resnet_nas"))
    return out


def results_from_storage(storage_url: str, study: str) -> "pd.DataFrame":
    """The results table of a whole study, read from its storage.

    Args:
      storage_url: the study's storage URL.
      study: study name.

    Returns:
      A DataFrame with results.COLUMNS: one row per finished trial (complete, pruned, failed,
      duplicate); failed stale trials included with their reason; rejected samples left out.

    Raises:
      StorageError / SearchError: the storage or the study does not exist.
    """
    storage = open_existing_storage(storage_url, heartbeat=False)
    st = load_existing_study(storage, storage_url, study)
    return results.to_frame(storage_records(st))


def collect(storage_url: str, study: str, run_dir: str | Path) -> "pd.DataFrame":
    """Writes the whole study's table from the storage into `run_dir` (rows, results.csv and
    results.parquet, plus run.json / space.yaml when missing) so that `report` and `export` work
    on it. Rows of the study's trials already in `run_dir` are replaced by the storage's.

    Returns:
      The run directory's table (pandas DataFrame).
    """
    storage = open_existing_storage(storage_url, heartbeat=False)
    st = load_existing_study(storage, storage_url, study)
    records = storage_records(st)
    run_dir = Path(run_dir)
    if STUDY_SPACE_YAML in st.user_attrs and STUDY_RUN_META in st.user_attrs:
        text, meta = study_space(st, storage_url)
        _write_run_files(run_dir, text, {**meta, "storage": redact(storage_url)})
    for rec in records:
        results.write_record(run_dir, rec, refresh_tables=False)
    results.write_tables(run_dir)
    return results.load_table(run_dir)


# ---------------------------------------------------------------------------------------------
# A worker.
def _write_run_files(run_dir: Path, space_text: str, meta: dict[str, Any]) -> None:
    """run.json and space.yaml for `export` / `report`; an existing run.json must match."""
    meta_path = run_dir / RUN_META
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("study") != meta["study"] or old.get("space_hash") != meta["space_hash"]:
            raise SearchError(f"{run_dir} holds a run of study {old.get('study')!r} (space hash "
                              f"{old.get('space_hash')}); give another --run-dir")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_SPACE).write_text(space_text)
    meta_path.write_text(json.dumps(meta, indent=1))


def default_storage(run_dir: Path) -> str:
    """A worker's storage when none is given: the run directory's (run.json of a study created
    there with --create-only), else its journal file."""
    meta_path = run_dir / RUN_META
    if meta_path.exists():
        url = json.loads(meta_path.read_text()).get("storage")
        if url and "***" not in url:
            return url
    from resnet_nas.search import JOURNAL_FILE
    return f"journal:///{(run_dir / JOURNAL_FILE).resolve().as_posix().lstrip('/')}"


def parse_gpus(text: str | None) -> list[str]:
    """'0,1,3' -> ['0', '1', '3'].

    Raises:
      ValueError: an id that is not a non-negative integer, or one given twice.
    """
    if not text:
        return []
    ids = [g.strip() for g in text.split(",") if g.strip()]
    bad = [g for g in ids if not g.isdigit()]
    if bad or not ids:
        raise ValueError(f"--gpus must be a comma-separated list of GPU ids like 0,1,2, got "
                         f"{text!r}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"--gpus lists a GPU twice: {text!r}")
    return ids


def worker_processes(opts: WorkerOptions) -> list[tuple[WorkerOptions, dict[str, str]]]:
    """The worker processes `opts` starts on this machine: options and trial-worker env each.

    One per GPU id (CUDA_VISIBLE_DEVICES=<id>, so each sees only its GPU), else `workers`.
    """
    if opts.gpus:
        if opts.per_gpu < 1:
            raise ValueError(f"--per-gpu must be >= 1, got {opts.per_gpu}")
        env: dict[str, str] = {}
        if opts.per_gpu > 1:
            env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / opts.per_gpu:.3f}"}
        return [(_single(opts, [g]), {"CUDA_VISIBLE_DEVICES": g, **env})
                for g in opts.gpus for _ in range(opts.per_gpu)]
    return [(_single(opts, []), {}) for _ in range(opts.workers)]


def _single(opts: WorkerOptions, gpus: list[str]) -> WorkerOptions:
    d = asdict(opts)
    d.update(gpus=gpus, workers=1, per_gpu=1)
    return WorkerOptions(**d)


def _sampler_seed(seed: int) -> int:
    # workers of one study must not all draw the same sequence
    blob = f"{seed}-{socket.gethostname()}-{os.getpid()}-{time.time_ns()}".encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


@dataclass
class _Prepared:
    url: str
    run_dir: Path
    space: Any
    meta: dict[str, Any]
    total: int
    interval: int
    grace: int


def prepare_worker(opts: WorkerOptions) -> _Prepared:
    """Checks everything a worker needs and writes its run directory's run.json / space.yaml.

    Raises:
      StorageError, SearchError, ConfigError, ValueError: bad input; nothing was written.
    """
    if opts.on_stale not in ON_STALE:
        raise ValueError(f"--on-stale must be one of {list(ON_STALE)}, got {opts.on_stale!r}")
    if opts.trials is not None and opts.trials < 1:
        raise ValueError(f"--trials must be >= 1, got {opts.trials}")
    if opts.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {opts.workers}")
    interval, grace = heartbeat_settings(opts.heartbeat_interval, opts.grace_period)
    run_dir = Path(opts.run_dir) if opts.run_dir else Path("runs") / opts.study
    url = opts.storage or default_storage(run_dir)
    storage = open_existing_storage(url, heartbeat=False)
    study = load_existing_study(storage, url, opts.study)
    text, meta = study_space(study, url)
    space = load_space_text(text, meta.get("space") or opts.study)
    recorded = study.user_attrs.get("space_hash", meta.get("space_hash"))
    if space.hash() != recorded:
        raise SearchError(f"study {opts.study!r}: its recorded space file has hash "
                          f"{space.hash()} but the study says {recorded} (library versions "
                          "differ?)")
    if opts.space:
        from resnet_nas.space import load_space
        given = load_space(opts.space)
        if given.hash() != recorded:
            raise SearchError(f"--space {opts.space!r} (hash {given.hash()}) differs from the "
                              f"space study {opts.study!r} was created with (hash {recorded}); "
                              "leave --space out to use the study's own")
    meta = {**meta, "study": opts.study, "storage": redact(url), "engine": "optuna"}
    if opts.data:
        meta["overrides"] = {**meta.get("overrides", {}), "data": opts.data}
    effective_configs(space, meta)  # a bad --data fails here, before anything is written
    total = opts.trials or meta.get("trials") or space.search.trials
    _write_run_files(run_dir, text, meta)
    # from the run directory from now on: its `source` must outlive this function
    from resnet_nas.space import load_space
    space = load_space(run_dir / RUN_SPACE)
    if space.hash() != recorded:
        raise SearchError(f"{run_dir / RUN_SPACE} (hash {space.hash()}) is not the space of "
                          f"study {opts.study!r} (hash {recorded}); give another --run-dir")
    return _Prepared(url, run_dir, space, meta, int(total), interval, grace)


def run_worker(opts: WorkerOptions, out: Callable[[str], None] = print) -> WorkerSummary:
    """Runs worker(s) of an existing study until it has its trials (or the timeout).

    With several GPUs (or --workers N) this process starts one worker process per GPU and waits
    for them.

    Raises:
      StorageError, SearchError, ConfigError, ValueError: bad input, before any trial runs.
    """
    prep = prepare_worker(opts)
    procs = worker_processes(opts)
    if len(procs) > 1:
        return _run_many(prep, procs, out)
    single, env = procs[0]
    return _run_one(prep, single, env, out)


def _run_one(prep: _Prepared, opts: WorkerOptions, env: dict[str, str],
             out: Callable[[str], None]) -> WorkerSummary:
    data_cfg, train_cfg = effective_configs(prep.space, prep.meta)
    # heartbeat() reads these (a JournalStorage has no interval of its own)
    os.environ[INTERVAL_ENV] = str(prep.interval)
    os.environ[GRACE_ENV] = str(prep.grace)
    storage = open_existing_storage(prep.url, heartbeat=True, interval=prep.interval,
                                    grace=prep.grace)
    study = open_study({**prep.meta, "storage": prep.url}, train_cfg.epochs, create=False,
                       storage=storage, sampler_seed=_sampler_seed(prep.meta.get("seed") or 0))
    control = StudyControl(prep.run_dir, prep.meta, prep.total, prep.grace, opts.on_stale,
                           poll=min(float(prep.interval), 2.0), out=out)
    search_opts = SearchOptions(space=None, progress=opts.progress,
                                max_trials_per_worker=opts.max_trials_per_worker,
                                worker_env=dict(env))
    where = f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if "CUDA_VISIBLE_DEVICES" in env else ""
    out(f"worker {socket.gethostname()}:{os.getpid()}{where}: study {prep.meta['study']!r} in "
        f"{redact(prep.url)}, target {prep.total} finished trials, rows in {prep.run_dir}")
    summary = run_trials(study, prep.space, prep.run_dir, prep.meta, data_cfg, train_cfg,
                         prep.total, opts.timeout, search_opts, out, control=control,
                         resume_hint="Run the worker again to continue the study.")
    finished = control.finished(study)
    return WorkerSummary(prep.run_dir, prep.meta["study"], finished, prep.total, summary.table,
                         summary.interrupted)


def _print_line(text: str) -> None:
    # one write per line: several worker processes share this stdout
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _child_main(opts: dict[str, Any]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        summary = run_worker(WorkerOptions(**opts), out=_print_line)
    except KeyboardInterrupt:
        sys.exit(130)
    except (SearchError, StorageError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(130 if summary.interrupted else 0)


def _run_many(prep: _Prepared, procs: list[tuple[WorkerOptions, dict[str, str]]],
              out: Callable[[str], None]) -> WorkerSummary:
    ctx = mp.get_context("spawn")
    children = []
    for single, env in procs:
        d = asdict(single)
        d.update(storage=prep.url, run_dir=str(prep.run_dir), progress=False)
        # the child re-checks the study; its single GPU id gives its trial-worker env
        p = ctx.Process(target=_child_main, args=(d,), name="resnet_nas-worker")
        p.start()
        children.append(p)
    out(f"started {len(children)} workers (pids {', '.join(str(p.pid) for p in children)})")
    interrupted = False
    for p in children:
        while True:
            try:
                p.join()
                break
            except KeyboardInterrupt:  # the children got it too; wait for their clean-up
                interrupted = True
    codes = [p.exitcode for p in children]
    storage = open_existing_storage(prep.url, heartbeat=False)
    study = load_existing_study(storage, prep.url, prep.meta["study"])
    finished = count_finished(study.get_trials(deepcopy=False))
    bad = [c for c in codes if c not in (0, 130)]
    if bad:
        out(f"error: {len(bad)} of {len(codes)} worker processes failed (exit codes {codes})")
    table = results.write_tables(prep.run_dir)
    return WorkerSummary(prep.run_dir, prep.meta["study"], finished, prep.total, table,
                         interrupted or 130 in codes, failed_workers=len(bad))


# ---------------------------------------------------------------------------------------------
# Command line (wired into resnet_nas.cli).
def add_worker_arguments(sub) -> None:
    """Adds the `worker` and `collect` subcommands."""
    p = sub.add_parser(
        "worker", help="attach worker(s) to an existing study (distributed search)",
        description="Run trials of a study created by `search --create-only` (or extend one "
        "created by `search`). Several workers, on one or many machines, share the study "
        "through its storage. See docs/distributed.md.")
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--storage", help="storage URL: postgresql://user:pass@host/db, "
                   "mysql+pymysql://..., journal:///path/study.journal (default: the run dir's "
                   "run.json, else journal:///RUN_DIR/study.journal)")
    p.add_argument("--run-dir", help="this worker's rows (default runs/<study>)")
    p.add_argument("--space", metavar="FILE", help="optional: check that this space file is "
                   "the study's (same hash)")
    p.add_argument("--trials", type=int, help="finished trials the whole study should end with "
                   "(default: the study's target)")
    p.add_argument("--timeout", type=float, help="start no new trial after S seconds")
    p.add_argument("--gpus", help="comma-separated GPU ids: one worker process per GPU, each "
                   "with CUDA_VISIBLE_DEVICES=<id>")
    p.add_argument("--per-gpu", type=int, default=1, metavar="K",
                   help="K worker processes share each GPU (small trials; default 1)")
    p.add_argument("--workers", type=int, default=1, help="worker processes when no --gpus "
                   "(default 1)")
    p.add_argument("--on-stale", choices=list(ON_STALE), default="retry",
                   help="a trial whose worker died: retry its parameters (default) or fail it")
    p.add_argument("--heartbeat-interval", type=int, metavar="S",
                   help="seconds between heartbeats (default $RESNET_NAS_HEARTBEAT_INTERVAL "
                   "or 10)")
    p.add_argument("--grace-period", type=int, metavar="S",
                   help="a RUNNING trial without a heartbeat for S seconds is stale (default "
                   "$RESNET_NAS_HEARTBEAT_GRACE or 40)")
    p.add_argument("--data", metavar="PATH", help="where the study's data set is on this machine "
                   "(image folder / .tar.gz)")
    p.add_argument("--max-trials-per-worker", type=int, default=10,
                   help="recycle the trial subprocess after N trials")
    p.add_argument("--no-progress", action="store_true", help="plain lines, no progress bars")
    p.add_argument("--collect", action="store_true", help="run no trials: write the whole "
                   "study's table from the storage into --run-dir (as the `collect` command)")

    c = sub.add_parser("collect", help="write a (distributed) study's whole results table from "
                       "its storage into a run directory",
                       description="One row per finished trial of the study, read from the "
                       "storage, written as RUN_DIR/rows + results.csv/parquet, so that "
                       "`python -m resnet_nas report RUN_DIR` works.")
    c.add_argument("--study", required=True)
    c.add_argument("--storage", required=True)
    c.add_argument("--run-dir", help="output run directory (default runs/<study>)")


def _cmd_collect(study: str, storage: str | None, run_dir: str | None) -> int:
    run_dir_path = Path(run_dir) if run_dir else Path("runs") / study
    url = storage or default_storage(run_dir_path)
    table = collect(url, study, run_dir_path)
    mine = table[table["study"] == study]
    counts = mine["state"].value_counts().to_dict() if len(mine) else {}
    print(f"collected study {study!r}: {len(mine)} trials {counts}")
    print(f"results: {run_dir_path / 'results.csv'}")
    print(f"report:  python -m resnet_nas report {run_dir_path}")
    return 0


def run_worker_command(args: argparse.Namespace) -> int:
    """Runs the `worker` / `collect` subcommands; returns the exit status (bad input raises the
    errors resnet_nas.cli turns into status 2)."""
    if args.command == "collect":
        return _cmd_collect(args.study, args.storage, args.run_dir)
    if args.command != "worker":
        raise ValueError(f"unknown command {args.command!r}")
    if args.collect:
        return _cmd_collect(args.study, args.storage, args.run_dir)
    opts = WorkerOptions(study=args.study, storage=args.storage, run_dir=args.run_dir,
                         space=args.space, trials=args.trials, timeout=args.timeout,
                         gpus=parse_gpus(args.gpus), per_gpu=args.per_gpu,
                         workers=args.workers,
                         on_stale=args.on_stale, heartbeat_interval=args.heartbeat_interval,
                         grace_period=args.grace_period, data=args.data,
                         max_trials_per_worker=args.max_trials_per_worker,
                         progress=not args.no_progress)
    summary = run_worker(opts)
    table = summary.table
    mine = table[table["study"] == summary.study] if len(table) else table
    print(f"\nstudy {summary.study!r}: {summary.finished}/{summary.total} finished trials in the "
          f"storage; this worker's rows: {len(mine)} in {summary.run_dir}")
    print(f"whole study: python -m resnet_nas collect --study {summary.study} --storage URL "
          f"--run-dir DIR")
    if summary.failed_workers:
        return 1
    return 130 if summary.interrupted else 0

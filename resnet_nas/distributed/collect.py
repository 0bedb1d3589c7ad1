"""The table of a whole study, read from its storage (`collect`, `worker --collect`).

Every finished trial keeps its record in the storage (user attribute 'record'), so the storage
alone rebuilds the study's table, whichever worker on whichever machine ran each trial. Trials
that left no record (their worker died, or a stop cut them short) get a failed record that says
so, and which trial retried them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from resnet_nas import results, trial_attrs
from resnet_nas.engines.optuna_study import STUDY_RUN_META, STUDY_SPACE_YAML
from resnet_nas.engines.planner import refuse_other_study
from resnet_nas.errors import SearchError
from resnet_nas.fileio import write_atomic
from resnet_nas.records import INTERRUPTED, TrialRecord, record_from_trial
from resnet_nas.lock import RunLock
from resnet_nas.run import RUN_META, RUN_SPACE, Run, file_sha256, write_run
from resnet_nas.storage import StorageError, open_storage, redact

if TYPE_CHECKING:
    import pandas as pd


def open_existing_storage(url: str, heartbeat: bool = True, interval: int | None = None,
                          grace: int | None = None, stale_callback=None
                          ) -> optuna.storages.BaseStorage:
    """Opens a storage that must exist already (a worker never creates one).

    Raises:
      StorageError: unreachable database, bad URL, or a storage file that does not exist.
    """
    from resnet_nas.run import storage_file

    path = storage_file(url)
    if path is not None and not path.is_file():
        raise StorageError(f"storage {redact(url)!r}: file {str(path)!r} does not exist; create "
                           "the study first: python -m resnet_nas search SPACE --storage URL "
                           "--create-only")
    return open_storage(url, heartbeat=heartbeat, interval=interval, grace=grace,
                        stale_callback=stale_callback)


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


def study_run(study: optuna.Study, url: str) -> tuple[str, Run]:
    """The space file text and the Run recorded in the study by `search`.

    Raises:
      SearchError: the study was not created by `resnet_nas search`.
    """
    attrs = study.user_attrs
    if STUDY_SPACE_YAML not in attrs or STUDY_RUN_META not in attrs:
        raise SearchError(f"study {study.study_name!r} in {redact(url)!r} has no search space "
                          "recorded (it was not created by `python -m resnet_nas search "
                          "--create-only`)")
    # The study's own name, not the one its record claims: the storage is shared, and a crafted
    # record must not pick the names (and so the file names) of another study's rows.
    meta = {**dict(attrs[STUDY_RUN_META]), "storage": redact(url), "study": study.study_name}
    return attrs[STUDY_SPACE_YAML], Run.from_dict(meta, f"study {study.study_name!r} run_meta")


def storage_records(study: optuna.Study, run: Run) -> list[TrialRecord]:
    """One record per finished trial of the study (rejected samples left out).

    A trial with a record gives it, unless Optuna failed it after the record was written (its
    process died before telling); trials without a record get a failed one saying why, and
    which trial retried them.
    """
    trials = study.get_trials(deepcopy=False)
    retried_by: dict[int, int] = {}
    for t in trials:
        for n in RetryHeartbeatStaleTrialCallback.retry_history(t):
            retried_by[n] = t.number
    out = []
    for t in trials:
        if not t.state.is_finished() or trial_attrs.REJECTED in t.user_attrs:
            continue
        rec = None
        if trial_attrs.RECORD in t.user_attrs:
            rec = replace(TrialRecord.from_row(json.loads(t.user_attrs[trial_attrs.RECORD])),
                          trial=t.number, study=run.study)
            if t.state == TrialState.FAIL and rec.state != "failed":
                rec = None  # its process died between the record and the tell
        if rec is None and t.state == TrialState.FAIL:
            reason = f"{INTERRUPTED} or stale: its worker stopped before recording it"
            if t.number in retried_by:
                reason += f"; retried as trial {retried_by[t.number]}"
            rec = record_from_trial(t, run, "failed", reason)
        elif rec is None:
            state = "complete" if t.state == TrialState.COMPLETE else "pruned"
            rec = record_from_trial(t, run, state, "no record: trial added outside resnet_nas")
        out.append(rec)
    return out


def results_from_storage(storage_url: str, study: str) -> "pd.DataFrame":
    """The results table of a whole study, read from its storage.

    Returns:
      A DataFrame with results.COLUMNS: one row per finished trial (complete, pruned, failed,
      duplicate); failed stale trials included with their reason; rejected samples left out.

    Raises:
      StorageError / SearchError: the storage or the study does not exist.
    """
    storage = open_existing_storage(storage_url, heartbeat=False)
    st = load_existing_study(storage, storage_url, study)
    _, run = study_run(st, storage_url)
    return results.to_frame(r.to_row() for r in storage_records(st, run))


def write_run_files(run_dir: Path, space_text: str, run: Run) -> None:
    """run.json and space.yaml for `export` / `report`; an existing run must be of the study."""
    if refuse_other_study(run_dir, run) is not None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / RUN_SPACE, space_text)
    write_run(run_dir, replace(run, space_sha256=file_sha256(run_dir / RUN_SPACE)))


def collect(storage_url: str, study: str, run_dir: str | Path) -> "pd.DataFrame":
    """Writes the whole study's table from the storage into `run_dir` (rows, results.csv and
    results.parquet, plus run.json / space.yaml when missing) so that `report` and `export` work
    on it. Rows already there are kept as they are (a finished row is never rewritten).

    Returns:
      The run directory's table (pandas DataFrame).
    """
    storage = open_existing_storage(storage_url, heartbeat=False)
    st = load_existing_study(storage, storage_url, study)
    text, run = study_run(st, storage_url)
    records = storage_records(st, run)
    run_dir = Path(run_dir)
    if (run_dir / RUN_META).exists():
        write_run_files(run_dir, text, run)  # refuses a run of another study
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir).acquire("collect") as lock:
        write_run_files(run_dir, text, run)
        lock.announce()
        for rec in records:
            if not results.row_path(run_dir, rec.study, rec.trial).exists():
                results.write_record(run_dir, rec)
        results.write_tables(run_dir)
    return results.load_table(run_dir)

"""Where a benchmark build's jobs come from: this process's own list, or a study in an Optuna
storage that the builds of several machines share.

A job is one architecture trained with one seed; its number (seed index x architectures + the
architecture's index in the enumeration) is the trial number of its row.

- `LocalJobs`: the jobs without a row in the benchmark directory, in the build's order.
- `StorageJobs` (`benchmark build ... --storage URL`): each job is claimed through a trial of
  the storage's study, with the search's own claim protocol (`claim_architecture` on the
  user attribute JOB instead of the architecture key), so that no two builds train one job;
  the trial keeps a heartbeat while its job trains (a killed build leaves a stale trial, which
  the next claim round fails, freeing the job) and, when the job is done, its record (user
  attribute 'record', as a search's trials do). `sync` writes the rows the other builds
  recorded into this build's directory, so every build's directory ends with the whole table.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from resnet_nas import results, trial_attrs
from resnet_nas.benchmark.table import BenchmarkMeta
from resnet_nas.sharing.claims import CLAIM_ATTR, claim_architecture
from resnet_nas.sharing.stale import recover_stale_trials
from resnet_nas.engines.optuna_engine import reject, tell
from resnet_nas.engines.optuna_study import STUDY_RUN_META, trial_id
from resnet_nas.errors import SearchError
from resnet_nas.records import TrialRecord
from resnet_nas.storage import heartbeat, open_storage, redact

JOB = "benchmark_job"  # trial user attribute: the number of the job the trial claims
META_ATTR = "benchmark_meta"  # study user attribute: the BenchmarkMeta of the build
SPACE_ATTR = "benchmark_space_yaml"  # study user attribute: the space file's text


@dataclass(frozen=True)
class Claim:
    """A job this build trains: its number, and the storage trial that holds it (None for a
    local build)."""

    number: int
    trial: optuna.Trial | None = None


class LocalJobs:
    """The jobs of a build that runs alone: those without a row, in `order`."""

    def __init__(self, order: Sequence[int]):
        self._todo: queue.Queue[int] = queue.Queue()
        for number in order:
            self._todo.put(number)

    def next(self) -> Claim | None:
        try:
            return Claim(self._todo.get_nowait())
        except queue.Empty:
            return None

    def done(self, claim: Claim, rec: TrialRecord) -> None:
        pass

    def release(self, claim: Claim) -> None:
        pass

    def sync(self, out: Path) -> int:
        return 0


def open_build_study(url: str, name: str, meta: BenchmarkMeta, space_text: str
                     ) -> tuple[optuna.storages.BaseStorage, optuna.Study]:
    """Creates, or joins, the study through which the builds of one benchmark share its jobs.

    Raises:
      StorageError: the storage cannot be opened.
      SearchError: the study is a search's, or another benchmark's (other space, data, epochs
        or architectures; fewer seeds than it holds).
    """
    storage = open_storage(url, heartbeat=True)
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                direction="maximize")
    where = f"study {name!r} in {redact(url)!r}"
    attrs = study.user_attrs
    if STUDY_RUN_META in attrs:
        raise SearchError(f"{where} is a search's study, not a benchmark build's; give "
                          "another --study-name")
    if META_ATTR not in attrs:
        if study.get_trials(deepcopy=False):
            raise SearchError(f"{where} has trials but no benchmark recorded (it was not made "
                              "by `benchmark build`); give another --study-name")
        study.set_user_attr(SPACE_ATTR, space_text)
        study.set_user_attr(META_ATTR, asdict(meta))
        return storage, study
    old = BenchmarkMeta.from_dict(attrs[META_ATTR])
    try:
        meta.check_continues(old, where, "another --study-name")
    except ValueError as e:
        raise SearchError(str(e)) from None
    if meta.seeds > old.seeds:
        study.set_user_attr(META_ATTR, asdict(meta))
    return storage, study


def taken_jobs(study: optuna.Study) -> set[int]:
    """Jobs done (a record) or held (a RUNNING claimant that has not lost) by any build."""
    out = set()
    for t in study.get_trials(deepcopy=False):
        job = t.user_attrs.get(JOB)
        if job is None:
            continue
        if (t.state.is_finished() and trial_attrs.RECORD in t.user_attrs) or (
                t.state == TrialState.RUNNING and t.user_attrs.get(CLAIM_ATTR) != "lost"):
            out.add(int(job))
    return out


class StorageJobs:
    """The jobs of a build shared with other builds through `study` (see the module).

    Args:
      storage / study: from open_build_study.
      order: the build's jobs in the order to train them.
    """

    def __init__(self, storage: optuna.storages.BaseStorage, study: optuna.Study,
                 order: Sequence[int]):
        self.storage = storage
        self.study = study
        self.order = list(order)
        self._lock = threading.Lock()  # this process's threads claim one at a time
        self._beats: dict[int, ExitStack] = {}

    def next(self) -> Claim | None:
        """Claims the first job of the order that no build has done or holds (None: none
        left). A job held by a stale trial becomes free here: stale trials are failed first."""
        with self._lock:
            recover_stale_trials(self.study)
            taken = taken_jobs(self.study) | set(self._beats)
            for number in self.order:
                if number in taken:
                    continue
                trial = self.study.ask()
                beat = ExitStack()
                # the first beat before the claim: a build killed while it claims leaves a
                # trial that goes stale, not one that holds its job for ever
                beat.enter_context(heartbeat(self.storage,
                                             trial_id(self.storage, self.study, trial.number)))
                holder = claim_architecture(self.study, trial, number, attr=JOB)
                if holder is None:
                    self._beats[number] = beat
                    return Claim(number, trial)
                reject(self.study, trial, f"job {number} is held by trial {holder}")
                beat.close()
                taken.add(number)
            return None

    def done(self, claim: Claim, rec: TrialRecord) -> None:
        """Tells the job's trial its outcome, with the record every build can sync."""
        assert claim.trial is not None
        try:
            tell(self.study, claim.trial, rec, ("val_accuracy",))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # found stale and failed by another build: the job is free again there
        finally:
            self._stop_beat(claim)

    def release(self, claim: Claim) -> None:
        """Fails the job's trial without a record (a stop cut it short): the job is free."""
        assert claim.trial is not None
        try:
            self.study.tell(claim.trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
        finally:
            self._stop_beat(claim)

    def _stop_beat(self, claim: Claim) -> None:
        with self._lock:
            beat = self._beats.pop(claim.number, None)
        if beat is not None:
            beat.close()

    def sync(self, out: Path) -> int:
        return sync_rows(self.study, out)


def sync_rows(study: optuna.Study, out: Path) -> int:
    """Writes into `out` the row of every job a build recorded in `study` that `out` lacks (a
    row there is never rewritten). Returns how many it wrote."""
    written = 0
    for t in study.get_trials(deepcopy=False):
        if JOB not in t.user_attrs or trial_attrs.RECORD not in t.user_attrs:
            continue
        rec = TrialRecord.from_row(json.loads(t.user_attrs[trial_attrs.RECORD]))
        if results.row_path(out, rec.study, rec.trial).exists():
            continue
        try:
            results.write_record(out, rec)
            written += 1
        except results.RowExistsError:
            pass
    return written

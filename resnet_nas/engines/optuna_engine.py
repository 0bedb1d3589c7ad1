"""The Optuna engine: ask/tell over the shared trial flow (resnet_nas.engines.common).

Each trial is asked for, sampled define-by-run and checked; an infeasible sample is told to
Optuna as pruned with the constraints it breaks (`optuna.Trial.set_constraint`: by how much) and the
user attr 'rejected', and resampled without training: Optuna's constraint-aware samplers
(TPE) learn from it where the feasible architectures are, which a failed trial would not teach
them, and the dashboard shows it as a pruned, infeasible trial rather than a failure; a
duplicate
architecture is told the original's outcome; everything else trains in the trial process, which
reports every epoch so Optuna's pruner can stop it. Every finished trial writes one row and
keeps the same record in the trial's user attributes ('record'), so the storage alone can
rebuild the study's table (resnet_nas.distributed.collect).

`run_trials` is the loop; a `LoopControl` decides when to ask, how an architecture is settled
and what an interruption does. `LoopControl` itself is the single search process of a run
directory; `resnet_nas.distributed.control.StudyControl` is the one for several workers sharing
a study.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from resnet_nas import results, trial_attrs
from resnet_nas.engines import optuna_study
from resnet_nas.engines.base import Engine
from resnet_nas.engines.common import (LoopResult, RunnerFactory, Sample, SearchContext,
                                       TrialFlow)
from resnet_nas.engines.optuna_study import (create_study, load_study, tell_infeasible,
                                             trial_id)
from resnet_nas.interrupts import check_stop, pause, safe_points, signal_name
from resnet_nas.nets import Architecture
from resnet_nas.records import INTERRUPTED, TrialRecord, record_from_trial, this_process
from resnet_nas.run import Run
from resnet_nas.sharing.heartbeats_in_use import record_heartbeat
from resnet_nas.sharing.stale import counts_toward_total, retried_numbers
from resnet_nas.storage import heartbeat, heartbeat_settings, open_storage, redact
from resnet_nas.vocabulary import OPTUNA


@dataclass
class OptunaPruning:
    """The flow's Pruning for one Optuna trial (single-objective studies only)."""

    trial: optuna.Trial
    name: str

    def report(self, epoch: int, value: float) -> None:
        self.trial.report(value, epoch)

    def should_prune(self) -> bool:
        return self.trial.should_prune()


def reject(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Tells Optuna a sample that is not run (taken, surplus, the search ended): failed +
    'rejected'."""
    try:
        trial.set_user_attr(trial_attrs.REJECTED, reason)
        study.tell(trial, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass  # another worker found it stale and failed it already


def reject_infeasible(study: optuna.Study, trial: optuna.Trial, sample: Sample) -> None:
    """Tells Optuna an infeasible sample: pruned (not run) with each constraint it breaks set
    to by how much (> 0: infeasible), and 'rejected'. A sample the builders refused (no
    violation to measure) is failed."""
    if not sample.violations:
        reject(study, trial, "; ".join(sample.reasons))
        return
    try:
        trial.set_user_attr(trial_attrs.REJECTED, "; ".join(sample.reasons))
        tell_infeasible(study, trial, sample.violations)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass


def tell(study: optuna.Study, trial: optuna.Trial, rec: TrialRecord, objectives: tuple[str, ...],
         original_state: TrialState | None = None) -> None:
    """Tells Optuna a finished trial's outcome and keeps its record in the storage."""
    trial.set_user_attr(trial_attrs.RECORD, json.dumps(rec.to_row()))
    for key in trial_attrs.DASHBOARD:
        value = getattr(rec, key)
        if value is not None:
            trial.set_user_attr(key, value)
    if rec.state == "complete" or (rec.state == "duplicate"
                                   and original_state == TrialState.COMPLETE):
        study.tell(trial, rec.objective_values(objectives))
    elif rec.state in ("pruned", "duplicate"):
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


class LoopControl:
    """When `run_trials` asks for a trial, and how it settles an architecture.

    This base is the single search process of a run directory; several workers of one study use
    resnet_nas.distributed.control.StudyControl.
    """

    def __init__(self, flow: TrialFlow):
        self.flow = flow

    def next_action(self, study: optuna.Study) -> str:
        """'ask' a new trial, 'wait' (idle() then ask again) or 'stop'."""
        return "stop" if self.counted(study) >= self.flow.ctx.target else "ask"

    def counted(self, study: optuna.Study) -> int:
        """Trials of the study that count towards the target: this run's rows, plus the
        trials that workers sharing the study finished (the target is the study's)."""
        if self.flow.done:
            return self.flow.tally.counted
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
        mine = self.flow.ctx.run.run_id
        others = sum(1 for t in trials
                     if (owner := trial_attrs.owner_of(t.user_attrs)) is not None
                     and owner.run_id != mine and counts_toward_total(t, retried))
        return self.flow.tally.counted + others

    def idle(self) -> None:
        pause(1.0)

    def admit(self, study: optuna.Study, trial: optuna.Trial) -> str | None:
        """None to run the fresh trial, else why it is dropped unrun."""
        return None

    def settle(self, study: optuna.Study, trial: optuna.Trial, key: str, epochs: int
               ) -> tuple[TrialRecord | None, TrialState | None, tuple[str, ...]]:
        """(original, its Optuna state, ()) to reuse a trained trial's result; (None, None, ())
        to train; (None, None, reasons) to reject the sample."""
        original = self.flow.original(key, epochs)
        if original is None:
            trial.set_user_attr(trial_attrs.ARCH_KEY, key)
            return None, None, ()
        state = TrialState.PRUNED if original.state == "pruned" else TrialState.COMPLETE
        return original, state, ()

    def interrupted(self, study: optuna.Study, trial: optuna.Trial | None,
                    sample: Sample | None) -> None:
        """A stop while `trial` ran: it is failed in the storage and recorded as interrupted."""
        if trial is None:
            return
        try:
            study.tell(trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # another worker failed it as stale already, and recorded it
        self.flow.interrupted(trial.number, sample.arch if sample else None,
                              self.flow.ctx.train.epochs, self.after_stop(study, trial))

    def after_stop(self, study: optuna.Study, trial: optuna.Trial) -> str:
        """What becomes of a trial a stop cut short (after it is failed); the row's note."""
        return "the search stopped while it ran"



def run_trials(study: optuna.Study, storage: optuna.storages.BaseStorage, flow: TrialFlow,
               control: LoopControl, stop_when: Callable[[], bool] | None = None) -> LoopResult:
    """Asks/tells trials until `control` says stop, the timeout passes, or the space looks
    exhausted (`search.max_duplicates` duplicates in a row).

    Each trial keeps a heartbeat from ask to tell, so that a killed process leaves a trial that
    other workers find stale. With a runner that prepares ahead (flow.looks_ahead), the next
    trial is asked for and sampled while the current one trains, and set up by the idle trial
    process; a trial sampled ahead that the search then does not run (it ended, or stopped) is
    told to Optuna as not run (reject).
    """
    current = _Current()
    try:
        with safe_points():
            return _loop(study, storage, flow, control, stop_when, current)
    except KeyboardInterrupt as e:
        control.interrupted(study, current.trial, current.sample)
        return LoopResult(interrupted=signal_name(e), ran=dict(flow.tally.here))
    finally:
        _drop(study, current.ahead, "not run: the search ended before its turn")


@dataclass
class _Opened:
    """A trial asked for, with its heartbeat running, and (once drawn) its sample."""

    trial: optuna.Trial
    beat: contextlib.ExitStack
    sample: Sample | None = None


@dataclass
class _Current:
    """The trials in flight (what a stop must record): the one being run, and the one sampled
    ahead while it trains."""

    trial: optuna.Trial | None = None
    sample: Sample | None = None
    ahead: _Opened | None = None
    #: what went wrong while sampling ahead: raised once the running trial is recorded
    ahead_error: Exception | None = None


def _ask(study: optuna.Study, storage: optuna.storages.BaseStorage) -> _Opened:
    trial = study.ask()
    beat = contextlib.ExitStack()
    beat.enter_context(heartbeat(storage, trial_id(storage, study, trial.number)))
    return _Opened(trial, beat)


def _draw(study: optuna.Study, flow: TrialFlow, control: LoopControl, opened: _Opened) -> bool:
    """Admits and samples an asked trial; False when it was dropped unrun (surplus)."""
    surplus = control.admit(study, opened.trial)
    if surplus:
        _drop(study, opened, surplus)
        return False
    try:
        opened.trial.set_user_attr(trial_attrs.OWNER, trial_attrs.TrialOwner(
            flow.ctx.run.run_id, this_process()).to_attr())
        opened.sample = flow.sample(opened.trial)
    except optuna.exceptions.UpdateFinishedTrialError:
        _taken_over(flow, opened)
        return False
    except BaseException as e:  # too many rejections, or a stop: never leave it RUNNING
        _drop(study, opened, f"not run: {type(e).__name__} while it was sampled")
        raise
    return True


def _taken_over(flow: TrialFlow, opened: _Opened) -> None:
    """An asked trial that another worker failed as stale (this process was paused past the
    grace period: SIGSTOP, a suspended laptop or VM): that worker recorded it; here it is
    dropped without a row."""
    opened.beat.close()
    flow.progress.write(f"trial {opened.trial.number:>3} taken over: another worker found no "
                        "heartbeat of it (this process was paused); dropped")


def _drop(study: optuna.Study, opened: _Opened | None, why: str) -> None:
    """Tells Optuna an asked trial that will not run (its heartbeat ends with it)."""
    if opened is not None:
        with opened.beat:
            reject(study, opened.trial, why)


def _loop(study: optuna.Study, storage: optuna.storages.BaseStorage, flow: TrialFlow,
          control: LoopControl, stop_when: Callable[[], bool] | None,
          current: _Current) -> LoopResult:
    ctx = flow.ctx
    start = time.monotonic()

    def ended(note: str | None = None) -> LoopResult:
        return LoopResult(note=note, ran=dict(flow.tally.here))

    def timed_out() -> bool:
        return ctx.timeout is not None and time.monotonic() - start > ctx.timeout

    def look_ahead(arch: Architecture, epochs: int) -> None:
        """While `arch` trains: the next trial is asked for, sampled and set up, when the run
        will want one more whatever this one's outcome."""
        if not (flow.looks_ahead and control.counted(study) + 1 < ctx.target
                and not timed_out()):
            return
        try:
            current.ahead = _ask(study, storage)
            if not _draw(study, flow, control, current.ahead):
                current.ahead = None
            elif current.ahead.sample.feasible:
                flow.prepare(current.ahead.sample.arch, epochs, after=flow.job(arch, epochs))
        except optuna.exceptions.UpdateFinishedTrialError:
            _taken_over(flow, current.ahead)
            current.ahead = None
        except Exception as e:  # noqa: BLE001 - not the running trial's: it trains on
            _drop(study, current.ahead, f"not run: {type(e).__name__} while it was sampled")
            current.ahead, current.ahead_error = None, e

    while True:
        current.trial = current.sample = None
        if current.ahead_error is not None:  # the trial it ran beside is recorded
            raise current.ahead_error
        check_stop()  # a stop signal takes effect here, or while a trial trains
        if timed_out():
            return ended(f"timeout of {ctx.timeout:g}s reached; not starting new trials")
        if flow.exhausted:
            return ended(f"stopped early: the last {flow.duplicates_in_a_row} samples were all "
                         "architectures trained already (the space looks exhausted; raise "
                         "search.max_duplicates to go on)")
        if stop_when is not None and stop_when():
            return ended()
        action = control.next_action(study)
        if action == "stop":
            return ended()
        if action == "wait":
            control.idle()
            continue
        opened, current.ahead = current.ahead, None
        if opened is None:
            opened = _ask(study, storage)
            current.trial = opened.trial
            if not _draw(study, flow, control, opened):
                continue
        trial = current.trial = opened.trial
        sample = current.sample = opened.sample
        with opened.beat:
            original = original_state = None
            reasons = sample.reasons
            epochs = ctx.train.epochs
            try:
                if sample.feasible:
                    key = sample.arch.key()
                    original, original_state, reasons = control.settle(study, trial, key, epochs)
                    if original is not None:
                        # before arch_key, so that no other worker takes it for a claimant
                        trial.set_user_attr(trial_attrs.DUPLICATE_OF, original.trial)
                        trial.set_user_attr(trial_attrs.ARCH_KEY, key)
            except optuna.exceptions.UpdateFinishedTrialError:
                _taken_over(flow, opened)
                continue
            if reasons:
                if sample.reasons:
                    reject_infeasible(study, trial, sample)
                else:  # its architecture is taken (another worker's claim)
                    reject(study, trial, "; ".join(reasons))
                continue
            rec = flow.record(trial.number, sample.arch, epochs)
            if trial_attrs.ENQUEUED in trial.user_attrs:
                rec = replace(rec, enqueued=str(trial.user_attrs[trial_attrs.ENQUEUED]))
            try:
                trial.set_user_attr(trial_attrs.PLAN, trial_attrs.TrialPlan(
                    sample.arch.to_dict(), epochs, ctx.train.backend).to_attr())
                if original is not None:
                    rec = flow.reuse(rec, original)
                else:
                    pruning = (OptunaPruning(trial, type(study.pruner).__name__)
                               if len(study.directions) == 1 else None)
                    rec = flow.train(rec, sample.arch, epochs, pruning,
                                     while_running=lambda: look_ahead(sample.arch, epochs))
                tell(study, trial, rec, ctx.run.objectives, original_state)
            except optuna.exceptions.UpdateFinishedTrialError:
                rec = record_stale_self(rec)
        flow.finish(rec)


def record_stale_self(rec: TrialRecord) -> TrialRecord:
    return replace(rec, state="failed",
                   reason="stale: another worker found no heartbeat of this trial within the "
                   "grace period and failed it; its result is not used")


def fail_orphaned_trials(study: optuna.Study, storage: optuna.storages.BaseStorage,
                         flow: TrialFlow) -> int:
    """On resume: the trials an earlier process of this run left RUNNING (it was killed; this
    process holds the run directory's lock, so none of them is live) are failed and recorded as
    interrupted; one that never started (no plan: it was being sampled, or was sampled ahead
    while another trained) is told as not run, with no row. Trials of other workers sharing
    the study are left alone. Returns how many were recorded as interrupted."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial_attrs.owner_of(t.user_attrs)
        if owner is not None and owner.run_id != flow.ctx.run.run_id:
            continue
        if trial_attrs.plan_of(t.user_attrs) is None:
            reject(study, optuna.Trial(study, trial_id(storage, study, t.number)),
                   "not run: the search stopped before it started")
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        rec = record_from_trial(t, flow.ctx.run, "failed",
                                f"{INTERRUPTED}: the search stopped while it ran")
        if not results.row_path(flow.ctx.run_dir, rec.study, rec.trial).exists():
            flow.finish(rec)
        n += 1
    return n


def run_optuna(ctx: SearchContext, resumed: bool, create_only: bool,
               out: Callable[[str], None], runner_factory: RunnerFactory | None = None
               ) -> LoopResult:
    """The Optuna engine of `search`: creates or continues the run's study and runs trials."""
    storage = open_storage(ctx.storage_url, heartbeat=True)
    if resumed:
        study = load_study(ctx.run, storage, ctx.train.epochs)
    else:
        study = create_study(ctx.run, storage, ctx.train.epochs,
                             (ctx.run_dir / "space.yaml").read_text())
        for e in ctx.enqueue:  # the first trials: Optuna hands them out before sampling
            study.enqueue_trial(e.params, user_attrs={trial_attrs.ENQUEUED: e.label})
        if ctx.enqueue:
            out(f"enqueued {len(ctx.enqueue)} known architecture(s) as the first trials: "
                + ", ".join(e.label for e in ctx.enqueue))
    if create_only:
        out(f"created study {ctx.run.study!r} in {redact(ctx.storage_url)}")
        return LoopResult()
    record_heartbeat(study, heartbeat_settings()[0], None)  # its trials beat at this interval
    with TrialFlow(ctx, runner_factory) as flow:
        if resumed:
            n = fail_orphaned_trials(study, storage, flow)
            if n:
                flow.progress.write(f"resume: {n} trial(s) left running by the stopped search "
                                    "are recorded as interrupted")
        return run_trials(study, storage, flow, LoopControl(flow))


class OptunaEngine(Engine):
    """The Optuna engine of `search` (resnet_nas.engines.base.Engine): its study is in a storage
    URL, which the base class's defaults handle; the checks and the repair of rows are the
    study's (resnet_nas.engines.optuna_study)."""

    name = OPTUNA

    def check_new(self, storage_url: str, run: Run) -> None:
        optuna_study.check_new_study(storage_url, run)

    def check_resumed(self, storage_url: str, run: Run, run_dir: Path,
                      rows: list[dict[str, Any]]) -> None:
        optuna_study.check_resumed_study(storage_url, run, run_dir, rows)

    def restore_rows(self, storage_url: str, run: Run, run_dir: Path) -> int:
        return optuna_study.restore_missing_rows(storage_url, run, run_dir)

    def run(self, ctx: SearchContext, resumed: bool, create_only: bool,
            out: Callable[[str], None], runner_factory: RunnerFactory | None) -> LoopResult:
        return run_optuna(ctx, resumed, create_only, out, runner_factory)

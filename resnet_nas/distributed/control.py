"""The trial-loop policy of a worker sharing its study with others (`StudyControl`).

It counts the study's trials in the storage (not its own rows), recovers stale trials before
each ask, drops a fresh trial beyond the target, settles architectures through claims in the
storage (waiting for another worker that trains the same one, then reusing its result), and on
a stop fails its running trial and, with the retry policy, enqueues its parameters again.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from resnet_nas import results, trial_attrs
from resnet_nas.sharing.claims import settle_architecture
from resnet_nas.sharing.stale import StaleHandler, count_finished, recover_stale_trials
from resnet_nas.engines.common import TrialFlow
from resnet_nas.engines.optuna_engine import LoopControl
from resnet_nas.interrupts import pause
from resnet_nas.records import TrialRecord, record_from_trial


class StudyControl(LoopControl):
    """LoopControl for one of several workers of a study.

    Args:
      flow: this worker's trial flow.
      stale: the storage's stale-trial callback (this worker records the rows of the stale
        trials it fails).
      poll: seconds between checks while waiting for other workers.
      out: where to report recovered trials.
    """

    def __init__(self, flow: TrialFlow, stale: StaleHandler, poll: float = 1.0,
                 out: Callable[[str], None] = print):
        super().__init__(flow)
        self.stale = stale
        self.poll = poll
        self.out = out
        self._study: optuna.Study | None = None
        stale.on_failed = self._record_stale
        flow.best_of_study = self.study_best

    def study_best(self) -> TrialRecord | None:
        """The study's best complete trial so far, whoever trained it (single objective)."""
        study = self._study
        if study is None or len(study.directions) != 1:
            return None
        # not study.best_trial: a duplicate repeats its original's value, and which of tied
        # trials a storage returns first differs (PostgreSQL's order is unspecified); the
        # original, i.e. the first trial to reach the value, is the best
        sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        best = min((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if trial_attrs.DUPLICATE_OF not in t.user_attrs
                    and trial_attrs.RECORD in t.user_attrs and t.value is not None),
                   key=lambda t: (-sign * t.value, t.number), default=None)
        if best is None:
            return None
        return TrialRecord.from_row(json.loads(best.user_attrs[trial_attrs.RECORD]))

    @property
    def retrying(self) -> bool:
        return self.stale.policy == "retry"

    def finished(self, study: optuna.Study) -> int:
        return count_finished(study.get_trials(deepcopy=False))

    def counted(self, study: optuna.Study) -> int:
        return self.finished(study)

    def next_action(self, study: optuna.Study) -> str:
        self._study = study
        recover_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        finished = count_finished(trials)
        if finished >= self.flow.ctx.target:
            return "stop"
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        # trials running elsewhere may still fail as stale: wait for them instead of stopping
        return "ask" if finished + running < self.flow.ctx.target else "wait"

    def idle(self) -> None:
        pause(self.poll)

    def admit(self, study: optuna.Study, trial: optuna.Trial) -> str | None:
        # Of any two admitted trials the later one must count the earlier: a fresh trial counts
        # the running trials created before it (lower numbers) and running retries (a retry
        # may have a lower number but start later); a retry counts all running trials.
        trials = study.get_trials(deepcopy=False)
        retry = RetryHeartbeatStaleTrialCallback.retried_trial_number
        mine = next(t for t in trials if t.number == trial.number)
        retrying = retry(mine) is not None
        ahead = sum(1 for t in trials
                    if t.state == TrialState.RUNNING and t.number != trial.number
                    and (retrying or t.number < trial.number or retry(t) is not None))
        target = self.flow.ctx.target
        if count_finished(trials) + ahead + 1 > target:
            return (f"surplus: the study has its {target} trials finished or running (another "
                    "worker asked at the same time)")
        return None

    def settle(self, study: optuna.Study, trial: optuna.Trial, key: str, epochs: int
               ) -> tuple[TrialRecord | None, TrialState | None, tuple[str, ...]]:
        def wait() -> None:
            recover_stale_trials(study)  # the trial waited for may be stale
            self.idle()

        trained, reason = settle_architecture(study, trial, key, wait)
        if reason is not None:
            return None, None, (reason,)
        if trained is None:
            return None, None, ()
        return self._record_of(trained), trained.state, ()

    def _record_of(self, t: FrozenTrial) -> TrialRecord:
        """The record of a trained trial: its storage copy, else a row here."""
        if trial_attrs.RECORD in t.user_attrs:
            return TrialRecord.from_row(json.loads(t.user_attrs[trial_attrs.RECORD]))
        state = "complete" if t.state == TrialState.COMPLETE else "pruned"
        return record_from_trial(t, self.flow.ctx.run, state, "no record")

    def after_stop(self, study: optuna.Study, trial: optuna.Trial) -> str:
        """With the retry policy, the stopped trial's parameters are enqueued again."""
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
        self.stale.retry(study, frozen)
        return ("this worker was stopped while it ran"
                + ("; its parameters were enqueued again" if self.retrying else ""))

    def _record_stale(self, t: FrozenTrial) -> None:
        reason = ("stale: no heartbeat within the grace period (its worker died)"
                  + ("; its parameters were enqueued again" if self.retrying else ""))
        rec = record_from_trial(t, self.flow.ctx.run, "failed", reason)
        try:
            results.write_record(self.flow.ctx.run_dir, rec)
        except results.RowExistsError:
            return
        self.out(f"trial {t.number:>3} failed    {reason}")

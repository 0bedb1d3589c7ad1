"""Heartbeats for Optuna's file journal, on Optuna's own heartbeat interface.

Optuna's RDB storages implement `BaseHeartbeat` (a heartbeat table, a stale-trial query and a
callback for stale trials); its `JournalStorage` does not. `HeartbeatJournalStorage` adds the
same interface to the journal, so that one mechanism serves every storage: running trials
record heartbeats (`record_heartbeat`), and `optuna.storages.fail_stale_trials(study)` fails the
RUNNING trials whose heartbeat is older than the grace period and hands each to the storage's
stale-trial callback (`optuna.storages.RetryHeartbeatStaleTrialCallback` re-enqueues its
parameters).

A journal keeps each beat as the trial's system attribute HEARTBEAT_ATTR (time.time() of the
beat); a trial without one counts from its start. Several machines sharing one journal file must
agree on the wall clock (NTP).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import optuna
from optuna.storages import JournalStorage
# Optuna's extension point for heartbeat-capable storages (RDBStorage inherits it); it has no
# public alias, and fail_stale_trials accepts exactly the storages that inherit it.
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

HEARTBEAT_ATTR = "resnet_nas:heartbeat"

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A JournalStorage with Optuna's heartbeat interface.

    Args:
      backend: the journal backend (JournalFileBackend).
      heartbeat_interval: seconds between heartbeats of a running trial.
      grace_period: a RUNNING trial without a heartbeat for longer is stale.
      stale_trial_callback: called by fail_stale_trials for every trial it fails.
    """

    def __init__(self, backend, heartbeat_interval: int, grace_period: int,
                 stale_trial_callback: StaleCallback | None = None):
        super().__init__(backend)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            start = t.datetime_start.timestamp() if t.datetime_start is not None else 0.0
            last = max(float(t.system_attrs.get(HEARTBEAT_ATTR) or 0.0), start)
            if now - last > self.grace_period:
                stale.append(self.get_trial_id_from_study_id_trial_number(study_id, t.number))
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self.stale_trial_callback

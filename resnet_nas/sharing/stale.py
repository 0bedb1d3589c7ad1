"""Stale trials (their process died) and what counts towards a study's trial target.

Stale trials are found and failed by Optuna itself: `optuna.storages.fail_stale_trials(study)`
fails every RUNNING trial whose heartbeat is older than the storage's grace period and passes
each to the storage's stale-trial callback. With the 'retry' policy that callback is Optuna's
`RetryHeartbeatStaleTrialCallback`, which enqueues the same parameters again as a WAITING trial
(system attribute 'failed_trial': the number of the trial it repeats); `StaleHandler` wraps it
so that the worker that failed the trial also records its row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from resnet_nas import trial_attrs
from resnet_nas.vocabulary import ON_STALE

COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class StaleHandler:
    """The stale-trial callback of a worker's storage.

    Args:
      policy: 'retry' (enqueue the parameters again) or 'fail'.

    Attributes:
      on_failed: called with each trial this process failed as stale (set once the worker's
        trial flow exists; it records the row).
    """

    def __init__(self, policy: str):
        if policy not in ON_STALE:
            raise ValueError(f"on_stale must be one of {list(ON_STALE)}, got {policy!r}")
        self.policy = policy
        self.on_failed: Callable[[FrozenTrial], None] | None = None
        self._retry = RetryHeartbeatStaleTrialCallback() if policy == "retry" else None

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._retry is not None:
            self._retry(study, trial)
        if self.on_failed is not None:
            self.on_failed(trial)

    def retry(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Re-enqueues a trial this worker failed itself (interrupted), per the policy."""
        if self._retry is not None:
            self._retry(study, trial)


def recover_stale_trials(study: optuna.Study) -> None:
    """Fails (and per the storage's callback, retries) the study's stale RUNNING trials; of
    several workers doing this at once exactly one fails each trial."""
    optuna.storages.fail_stale_trials(study)


def retried_numbers(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the trials that have a retry (enqueued or run): their retry counts instead."""
    out: set[int] = set()
    for t in trials:
        out.update(RetryHeartbeatStaleTrialCallback.retry_history(t))
    return out


def counts_toward_total(t: FrozenTrial, retried: set[int]) -> bool:
    """A finished trial that counts towards the study's trial target: complete, pruned or
    failed; not a sample rejected unrun, not a duplicate (nothing was trained), and not a
    stale trial that was retried (its retry counts instead)."""
    if t.state not in COUNTED_STATES or trial_attrs.REJECTED in t.user_attrs:
        return False  # rejected unrun: failed, or pruned as infeasible
    if t.state == TrialState.FAIL:
        return t.number not in retried
    return t.user_attrs.get(trial_attrs.DUPLICATE_OF) is None


def count_finished(trials: Sequence[FrozenTrial]) -> int:
    retried = retried_numbers(trials)
    return sum(1 for t in trials if counts_toward_total(t, retried))

"""No architecture trained twice by the workers of a study: claims in the storage.

A worker claims an architecture (its canonical key) for its RUNNING trial before it trains it.
The protocol needs only that an attribute written before a read is seen by later reads, which
every Optuna storage gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from resnet_nas import trial_attrs
from resnet_nas.interrupts import pause

CLAIM_ATTR = "arch_claim"  # trial user attr: 'won' / 'lost' once its architecture claim is decided
TRAINED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def claim_architecture(study: optuna.Study, trial: optuna.Trial, key: str | int,
                       timeout: float = 60.0, poll: float = 0.2,
                       attr: str = trial_attrs.ARCH_KEY) -> int | None:
    """Claims architecture `key` for the RUNNING `trial` against other workers of the study.

    `attr` is the user attribute that holds the key: the architecture's by default; a
    distributed benchmark build claims its jobs (architecture x seed) by number the same way.

    Protocol: write the trial's `arch_key`, then read the other claimants of the key (trials
    with that key that are not duplicates). A trained or lower-numbered claimant holds it. A
    higher-numbered claimant that is still RUNNING may have missed our write, so we wait until
    it has decided (user attr CLAIM_ATTR): if it won, it holds the key. Of two concurrent
    claimants at least one sees the other's write, so they never both win; a claimant waits only
    for higher-numbered ones, so waits end. A claimant that never decides (its worker died) is
    waited for at most `timeout` seconds and then counts as holding the key.

    Returns:
      None when `trial` won the key (CLAIM_ATTR 'won'), else the number of the trial holding
      it (CLAIM_ATTR 'lost').
    """
    trial.set_user_attr(CLAIM_ATTR, "pending")  # first: a second claim undoes an earlier 'lost'
    trial.set_user_attr(attr, key)
    deadline = time.monotonic() + timeout
    holder: int | None = None
    while True:
        others = [t for t in study.get_trials(deepcopy=False,
                                              states=(*TRAINED_STATES, TrialState.RUNNING))
                  if t.number != trial.number and t.user_attrs.get(attr) == key
                  and t.user_attrs.get(trial_attrs.DUPLICATE_OF) is None
                  and t.user_attrs.get(CLAIM_ATTR) != "lost"]
        first = [t for t in others if t.state != TrialState.RUNNING or t.number < trial.number
                 or t.user_attrs.get(CLAIM_ATTR) == "won"]
        if first:
            holder = min(t.number for t in first)
            break
        if not others:
            break
        if time.monotonic() > deadline:
            holder = min(t.number for t in others)
            break
        pause(poll)
    trial.set_user_attr(CLAIM_ATTR, "won" if holder is None else "lost")
    return holder


def architecture_holders(study: optuna.Study, trial_number: int,
                         key: str) -> tuple[optuna.trial.FrozenTrial | None, int | None]:
    """(trained, running): the first trial other than `trial_number` that trained `key`
    (complete or pruned, not a duplicate), and the number of the first RUNNING one that trains
    or claims it."""
    trained = None
    running = None
    for t in study.get_trials(deepcopy=False, states=(*TRAINED_STATES, TrialState.RUNNING)):
        if (t.number == trial_number or t.user_attrs.get(trial_attrs.ARCH_KEY) != key
                or t.user_attrs.get(trial_attrs.DUPLICATE_OF) is not None):
            continue
        if t.state != TrialState.RUNNING:
            if trained is None or t.number < trained.number:
                trained = t
        elif t.user_attrs.get(CLAIM_ATTR) != "lost":
            running = t.number if running is None else min(running, t.number)
    return trained, running


def settle_architecture(study: optuna.Study, trial: optuna.Trial, key: str,
                        wait: Callable[[], None] | None = None
                        ) -> tuple[optuna.trial.FrozenTrial | None, str | None]:
    """Decides how the RUNNING `trial` gets architecture `key`.

    Args:
      wait: called while another trial trains the architecture (it may recover stale trials
        and sleep); None rejects the sample instead of waiting.

    Returns:
      (None, None): train it (the claim is won); (T, None): reuse trained trial T's result (a
      duplicate); (None, reason): reject the sample (another trial trains it and `wait` is
      None).
    """
    while True:
        trained, running = architecture_holders(study, trial.number, key)
        if trained is not None:
            return trained, None
        if running is None:
            running = claim_architecture(study, trial, key)
            if running is None:
                return None, None
        if wait is None:
            return None, f"same architecture is being trained by trial {running}"
        wait()

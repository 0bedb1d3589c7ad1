"""No architecture trained twice: claims in the storage, against concurrent claimants."""

import threading
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from resnet_nas.sharing.claims import CLAIM_ATTR, claim_architecture, settle_architecture
from resnet_nas.storage import open_storage
from tests.distributed.conftest import BACKENDS, journal_url, storage_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_claims_of_one_architecture_have_one_winner(tmp_path, backend):
    url = storage_url(tmp_path, backend)
    name = f"claims-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=name, storage=open_storage(url, heartbeat=False))
    n = 3
    studies = [optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False))
               for _ in range(n)]
    for round_ in range(4):
        barrier = threading.Barrier(n)
        outcome: list = [None] * n
        errors = []

        def claim(i: int) -> None:
            try:
                trial = studies[i].ask()
                barrier.wait()
                outcome[i] = (trial, claim_architecture(studies[i], trial, f"arch{round_}",
                                                        poll=0.05))
            except Exception as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        winners = [trial for trial, holder in outcome if holder is None]
        assert len(winners) == 1, [(t.number, h) for t, h in outcome]
        claims = {t.number: t.user_attrs[CLAIM_ATTR]
                  for t in studies[0].get_trials(states=(TrialState.RUNNING,))
                  if t.user_attrs.get("arch_key") == f"arch{round_}"}
        assert sorted(claims.values()) == ["lost"] * (n - 1) + ["won"]
        for i, (trial, holder) in enumerate(outcome):
            studies[i].tell(trial, state=TrialState.FAIL)


def test_claim_yields_to_trained_and_ignores_losers_and_duplicates(tmp_path):
    study = optuna.create_study(storage=open_storage(journal_url(tmp_path), heartbeat=False))
    loser = study.ask()
    loser.set_user_attr("arch_key", "k")
    loser.set_user_attr(CLAIM_ATTR, "lost")
    dup = study.ask()
    dup.set_user_attr("duplicate_of", 99)
    dup.set_user_attr("arch_key", "k")
    me = study.ask()
    assert claim_architecture(study, me, "k") is None  # neither counts as a holder
    study.tell(me, 0.5)
    again = study.ask()
    trained, reason = settle_architecture(study, again, "k")
    assert trained.number == me.number and reason is None  # a duplicate, never trained twice


def test_without_waiting_a_sample_another_trial_trains_is_rejected(tmp_path):
    study = optuna.create_study(storage=open_storage(journal_url(tmp_path), heartbeat=False))
    first = study.ask()
    assert claim_architecture(study, first, "k") is None
    second = study.ask()
    trained, reason = settle_architecture(study, second, "k")
    assert trained is None and "being trained by trial 0" in reason

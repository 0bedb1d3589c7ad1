"""Stale trials on Optuna's own heartbeat interface: the journal's (ours) and RDB's (Optuna's),
both failed by optuna.storages.fail_stale_trials and retried by its callback."""

import time

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from resnet_nas.journal.heartbeat import HEARTBEAT_ATTR, HeartbeatJournalStorage
from resnet_nas.sharing.stale import (StaleHandler, count_finished, counts_toward_total,
                                          recover_stale_trials, retried_numbers)
from resnet_nas.storage import heartbeat, open_storage
from tests.distributed.conftest import journal_url


def test_the_journal_has_optunas_heartbeat_interface(tmp_path):
    storage = open_storage(journal_url(tmp_path), interval=1, grace=2)
    assert isinstance(storage, HeartbeatJournalStorage)
    assert storage.get_heartbeat_interval() == 1
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    tid = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), trial.number)
    with heartbeat(storage, tid):
        pass
    assert HEARTBEAT_ATTR in storage.get_trial(tid).system_attrs
    sid = storage.get_study_id_from_name(study.study_name)
    assert storage._get_stale_trial_ids(sid) == []  # fresh
    time.sleep(2.3)
    assert storage._get_stale_trial_ids(sid) == [tid]


def test_stale_journal_trial_is_failed_and_retried_exactly_once(tmp_path):
    url = journal_url(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(url, interval=1, grace=2))
    storage = open_storage(url, interval=1, grace=2)
    dead = study.ask()
    x = dead.suggest_int("x", 0, 100)
    live = study.ask()
    handlers = [StaleHandler("retry"), StaleHandler("retry")]
    failed = [[], []]
    for i, h in enumerate(handlers):
        h.on_failed = failed[i].append
    others = [optuna.load_study(study_name="s", storage=open_storage(url, interval=1, grace=2,
                                                                     stale_callback=h))
              for h in handlers]
    live_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name("s"), live.number)
    with heartbeat(storage, live_id, interval=0.2):
        recover_stale_trials(others[0])
        assert failed == [[], []]
        time.sleep(2.5)
        for s in others:
            recover_stale_trials(s)
    assert [t.number for f in failed for t in f] == [dead.number]  # exactly one worker
    trials = study.get_trials()
    assert trials[dead.number].state == TrialState.FAIL
    assert trials[live.number].state == TrialState.RUNNING  # its heartbeat is fresh
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert len(waiting) == 1
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(waiting[0]) == dead.number
    assert retried_numbers(trials) == {dead.number}
    assert not counts_toward_total(trials[dead.number], retried_numbers(trials))
    retry = others[1].ask()
    assert retry.number == waiting[0].number and retry.suggest_int("x", 0, 100) == x


def test_stale_policy_fail_counts_the_trial_and_enqueues_nothing(tmp_path):
    url = journal_url(tmp_path)
    study = optuna.create_study(study_name="s", storage=open_storage(
        url, interval=1, grace=2, stale_callback=StaleHandler("fail")))
    dead = study.ask()
    dead.suggest_int("x", 0, 100)
    time.sleep(2.3)
    recover_stale_trials(study)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert count_finished(trials) == 1


def test_stale_rdb_trial_found_by_optunas_heartbeat(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(
        url, interval=1, grace=2, stale_callback=StaleHandler("retry")))
    dead = study.ask()
    dead.suggest_float("lr", 0.1, 1.0)
    storage = open_storage(url, interval=1, grace=2)
    with heartbeat(storage, storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name("s"), dead.number)):
        pass  # one beat, then its worker "dies"
    recover_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]
    time.sleep(3.2)
    recover_stale_trials(study)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.WAITING]


def test_what_counts_towards_the_target(tmp_path):
    from optuna.trial import create_trial

    study = optuna.create_study(storage=open_storage(journal_url(tmp_path), heartbeat=False))
    study.add_trial(create_trial(value=0.1))
    study.add_trial(create_trial(value=0.2, user_attrs={"duplicate_of": 0}))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"rejected": "infeasible"}))
    study.add_trial(create_trial(state=TrialState.FAIL))  # crashed: counts
    study.add_trial(create_trial(state=TrialState.FAIL))  # stale, retried below: does not
    study.add_trial(create_trial(state=TrialState.WAITING,
                                 system_attrs={"failed_trial": 4, "retry_history": [4]}))
    trials = study.get_trials()
    assert [counts_toward_total(t, retried_numbers(trials)) for t in trials] == [
        True, False, False, True, False, False]
    assert count_finished(trials) == 2

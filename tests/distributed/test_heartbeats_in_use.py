"""Processes sharing a study agree on heartbeats: a grace period shorter than twice another
process's interval would fail that process's live trials as stale."""

import optuna
import pytest

from resnet_nas import cli
from resnet_nas.distributed.fanout import run_workers
from resnet_nas.sharing.heartbeats_in_use import (STUDY_HEARTBEAT, HeartbeatsInUse,
                                                      heartbeat_problem, record_heartbeat)
from resnet_nas.distributed.worker import WorkerOptions
from resnet_nas.storage import open_storage
from tests.distributed.conftest import create_study, journal_url
from tests.fakes import FakeRunner
from tests.helpers import files_under


def test_the_largest_interval_and_the_smallest_grace_are_kept():
    in_use = HeartbeatsInUse().joined(10, None).joined(2, 40).joined(5, 20)
    assert in_use == HeartbeatsInUse(interval=10, grace=20)
    assert heartbeat_problem(in_use, 10, 20) is None
    assert heartbeat_problem(in_use, 1, 5) == ("grace", 20)  # 5 s < 2 x 10 s
    assert heartbeat_problem(in_use, 11, 40) == ("interval", 10)  # 2 x 11 s > 20 s
    assert heartbeat_problem(HeartbeatsInUse(), 1, 2) is None
    assert HeartbeatsInUse.of({STUDY_HEARTBEAT: {"interval": "x", "grace": -1}}) == \
        HeartbeatsInUse()


def _study(url):
    return optuna.load_study(study_name="tiny", storage=open_storage(url, heartbeat=False))


@pytest.mark.parametrize("recorded, flags, says", [
    ((10, None), ["--grace-period", "5", "--heartbeat-interval", "1"],
     "argument --grace-period: must be at least 20 s: twice the largest heartbeat interval in "
     "use in study 'tiny' (10 s)"),
    ((1, 5), ["--heartbeat-interval", "10", "--grace-period", "40"],
     "argument --heartbeat-interval: must be at most 2 s: half the shortest grace period in "
     "use in study 'tiny' (5 s)"),
])
def test_a_worker_whose_settings_would_fail_live_trials_is_refused(tmp_path, capsys, recorded,
                                                                   flags, says):
    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    record_heartbeat(_study(url), *recorded)  # what a process at work on the study recorded
    before = files_under(tmp_path)
    code = cli.main(["worker", "--study", "tiny", "--storage", url, "--run-dir",
                     str(tmp_path / "w"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert files_under(tmp_path) == before


def test_workers_and_searches_record_their_settings(tmp_path, monkeypatch):
    url = journal_url(tmp_path)
    create_study(tmp_path, url, trials=1)
    assert STUDY_HEARTBEAT not in _study(url).user_attrs  # --create-only runs no trial
    run_workers(WorkerOptions(study="tiny", storage=url, run_dir=str(tmp_path / "w"), trials=1,
                              heartbeat_interval=3, grace_period=30, progress=False),
                out=lambda s: None, runner_factory=FakeRunner)
    assert _study(url).user_attrs[STUDY_HEARTBEAT] == {"interval": 3, "grace": 30}
    # the creating search, resumed with an interval the worker's grace period tolerates (the
    # study has its one trial: it trains nothing)
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_INTERVAL", "15")
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_GRACE", "30")
    assert cli.main(["search", "--resume", "--run-dir", str(tmp_path / "created"),
                     "--no-progress"]) == 0
    assert _study(url).user_attrs[STUDY_HEARTBEAT] == {"interval": 15, "grace": 30}


def test_a_search_beating_slower_than_a_workers_grace_allows_is_refused(tmp_path, monkeypatch,
                                                                        capsys):
    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    record_heartbeat(_study(url), 1, 5)
    before = files_under(tmp_path)
    code = cli.main(["search", "--resume", "--run-dir", str(tmp_path / "created")])
    err = capsys.readouterr().err
    assert code == 2 and "the heartbeat interval (10 s, RESNET_NAS_HEARTBEAT_INTERVAL) must " \
        "be at most 2 s" in err and len(err.strip().splitlines()) == 1, err
    assert files_under(tmp_path) == before

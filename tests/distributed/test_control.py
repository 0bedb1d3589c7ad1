"""A worker's loop policy: counting in the storage, surplus trials, settling architectures."""

import optuna
from optuna.trial import TrialState, create_trial

from resnet_nas.distributed.control import StudyControl
from resnet_nas.sharing.stale import StaleHandler
from resnet_nas.distributed.worker import WorkerOptions, prepare_worker, write_run_files
from resnet_nas.engines.common import SearchContext, TrialFlow
from resnet_nas.storage import open_storage
from tests.distributed.conftest import create_study, journal_url
from tests.fakes import FakeRunner


def _control(tmp_path, total: int):
    url = journal_url(tmp_path)
    create_study(tmp_path, url, trials=total)
    prep = write_run_files(prepare_worker(WorkerOptions(study="tiny", storage=url,
                                                        run_dir=str(tmp_path / "w"))))
    plan = prep.plan
    plan.lock.release()
    data_cfg, train_cfg = plan.run.configs(plan.space)
    ctx = SearchContext(plan.run, plan.run_dir, plan.space, data_cfg, train_cfg, prep.io, url,
                        progress=False)
    flow = TrialFlow(ctx, FakeRunner)
    study = optuna.load_study(study_name="tiny", storage=open_storage(url))
    return StudyControl(flow, StaleHandler("retry"), poll=0.01, out=lambda s: None), study


def test_study_control_counts_the_storage_and_drops_surplus_trials(tmp_path):
    control, study = _control(tmp_path, total=3)
    for v in (0.1, 0.2):
        study.add_trial(create_trial(value=v))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"rejected": "infeasible"}))
    study.add_trial(create_trial(value=0.3, user_attrs={"duplicate_of": 0}))
    assert control.finished(study) == 2 and control.next_action(study) == "ask"
    running = study.ask()
    assert control.admit(study, running) is None
    assert control.next_action(study) == "wait"  # 2 finished + 1 running: wait, don't stop
    surplus = study.ask()
    assert "surplus" in control.admit(study, surplus)
    study.tell(running, 0.3)
    assert control.next_action(study) == "stop"


def test_an_architecture_another_worker_trained_is_reused(tmp_path):
    control, study = _control(tmp_path, total=3)
    first = study.ask()
    original, state, reasons = control.settle(study, first, "k", 2)
    assert original is None and reasons == ()  # won the claim: train it
    study.tell(first, 0.4)
    second = study.ask()
    original, state, reasons = control.settle(study, second, "k", 2)
    assert original is not None and original.trial == first.number
    assert state == TrialState.COMPLETE and reasons == ()

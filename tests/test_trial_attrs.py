"""A storage trial's user attributes: grouped owner and plan, read back in the old layout too."""

from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from resnet_nas import trial_attrs
from resnet_nas.nets import cifar_resnet
from resnet_nas.records import record_from_trial
from tests.test_run import _run


def _arch():
    return cifar_resnet(8, widths=(4, 4, 8), input_shape=(16, 16, 3), num_classes=4)


def _trial(attrs):
    return create_trial(state=TrialState.FAIL, params={"x": 0.5},
                        distributions={"x": FloatDistribution(0, 1)}, user_attrs=attrs)


def test_owner_and_plan_read_back():
    arch = _arch()
    attrs = {trial_attrs.OWNER: trial_attrs.TrialOwner("run-1", "host:42").to_attr(),
             trial_attrs.PLAN: trial_attrs.TrialPlan(arch.to_dict(), 3, "jax").to_attr()}
    assert trial_attrs.owner_of(attrs) == trial_attrs.TrialOwner("run-1", "host:42")
    assert trial_attrs.plan_of(attrs) == trial_attrs.TrialPlan(arch.to_dict(), 3, "jax")


def test_the_layout_of_older_runs_reads_the_same():
    arch = _arch()
    legacy = {"run_id": "run-1", "worker": "host:42", "arch": arch.to_dict(),
              "epochs_planned": 3, "backend": "jax"}
    assert trial_attrs.owner_of(legacy) == trial_attrs.TrialOwner("run-1", "host:42")
    assert trial_attrs.plan_of(legacy) == trial_attrs.TrialPlan(arch.to_dict(), 3, "jax")


def test_a_trial_asked_by_another_tool_has_neither():
    assert trial_attrs.owner_of({}) is None and trial_attrs.plan_of({"x": 1}) is None


def test_a_record_rebuilt_from_the_attributes_of_a_dead_trial():
    arch = _arch()
    t = _trial({trial_attrs.OWNER: trial_attrs.TrialOwner("run-1", "host:42").to_attr(),
                trial_attrs.PLAN: trial_attrs.TrialPlan(arch.to_dict(), 3, "jax").to_attr()})
    rec = record_from_trial(t, _run(), "failed", "interrupted: it died")
    assert rec.arch_key == arch.key() and rec.epochs_planned == 3 and rec.backend == "jax"
    assert rec.worker == "host:42" and rec.state == "failed" and rec.params > 0
    # died before its architecture was sampled: a record without one
    bare = record_from_trial(_trial({}), _run(), "failed", "interrupted")
    assert bare.arch_key is None and bare.epochs_planned == 0

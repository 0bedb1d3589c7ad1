import optuna

from resnet_nas.benchmark.enumerate import enumerate_architectures
from resnet_nas.space import check_constraints, load_space, sample_architecture
from tests.benchmark.spaces import CLASSES, SHAPE, tiny_space


def test_tiny_space_has_twelve_distinct_feasible_architectures(tmp_path):
    space, _ = tiny_space(tmp_path)
    found = enumerate_architectures(space, SHAPE, CLASSES)
    keys = [a.key() for a in found.archs]
    # unit 2 x shortcut 2 x non-decreasing depth pairs of {8, 16} (3)
    assert len(keys) == 12 and len(set(keys)) == 12
    assert found.exhaustive
    assert all(not check_constraints(a, space) for a in found.archs)


def test_enumeration_covers_what_random_sampling_finds(tmp_path):
    space, _ = tiny_space(tmp_path)
    keys = {a.key() for a in enumerate_architectures(space, SHAPE, CLASSES).archs}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(60):
        arch = sample_architecture(space, study.ask(), input_shape=SHAPE, num_classes=CLASSES)
        assert arch.key() in keys


def test_quickstart_count():
    # unit 2 x root_depth 2 x shortcut 2 x (2 stages: 10 depth pairs x 4 unit counts
    # + 3 stages: 20 depth triples x 8 unit counts)
    found = enumerate_architectures(load_space("quickstart"), SHAPE, CLASSES)
    assert len(found.archs) == 1600


def test_limit_gives_unique_random_samples(tmp_path):
    space, _ = tiny_space(tmp_path)
    found = enumerate_architectures(space, SHAPE, CLASSES, limit=5, seed=3)
    assert not found.exhaustive
    assert len({a.key() for a in found.archs}) == 5
    again = enumerate_architectures(space, SHAPE, CLASSES, limit=5, seed=3)
    assert [a.key() for a in again.archs] == [a.key() for a in found.archs]


def test_limit_above_the_space_size_is_the_whole_space(tmp_path):
    space, _ = tiny_space(tmp_path)
    found = enumerate_architectures(space, SHAPE, CLASSES, limit=100)
    assert found.exhaustive and len(found.archs) == 12

"""A space's extremes (resnet_nas.space.bounds): exactly those of its enumerated architectures,
and the settings no architecture can meet."""

from __future__ import annotations

import pytest

from resnet_nas.benchmark.enumerate import enumerate_architectures
from resnet_nas.nets.complexity import complexity
from resnet_nas.space import load_space
from resnet_nas.space.bounds import infeasible_settings, space_bounds
from resnet_nas.space.sample import total_stride
from tests.helpers import run_cli


@pytest.mark.parametrize("name, shape, overrides", [
    ("quickstart", (8, 8, 1), {}),
    ("cifar_resnet", (32, 32, 3), {}),
    ("quickstart", (8, 8, 1), {"space.stages.depth": [8, 24, 16], "space.unit":
                               ["v1_basic", "v2_bottleneck"], "space.stages.bottleneck_ratio":
                               [0.25, 0.5]}),
])
def test_the_bounds_are_the_extremes_of_every_architecture(name, shape, overrides):
    space = load_space(name, overrides=overrides)
    found = enumerate_architectures(space, shape, 10, limit=20_000)
    assert found.exhaustive
    cs = [complexity(a) for a in found.archs]
    b = space_bounds(space, shape, 10)
    assert b.min_params == min(c.params for c in cs) and b.max_params == max(c.params for c in cs)
    assert b.min_flops == min(c.flops for c in cs) and b.max_flops == max(c.flops for c in cs)
    assert b.min_total_stride == min(total_stride(a) for a in found.archs)
    assert complexity(b.smallest).params == b.min_params


def test_settings_no_architecture_meets_are_named():
    assert infeasible_settings(load_space("quickstart"), (8, 8, 1), 10) == []
    space = load_space("quickstart", overrides={"constraints.max_params": 1000,
                                                "constraints.min_flops": 10**9})
    reasons = infeasible_settings(space, (8, 8, 1), 10)
    assert any("constraints.max_params is 1,000, but the smallest architecture of the space "
               "has 2,626 params" in r for r in reasons)
    assert any("constraints.min_flops is 1,000,000,000, but the largest" in r for r in reasons)
    wide = load_space("cifar_resnet")
    assert "strides by at least 4 in total, more than the 2-pixel input" in \
        infeasible_settings(wide, (2, 2, 3), 10)[0]


def test_spaces_validate_says_the_range_or_why_nothing_fits(tmp_path):
    out = run_cli("spaces", "validate", "quickstart", cwd=tmp_path)
    assert out.returncode == 0 and "2,626 to 108,810 params" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((load_space("quickstart").source and open(load_space("quickstart").source)
                    .read()).replace("depths_non_decreasing: true",
                                     "depths_non_decreasing: true\n  max_params: 1000"))
    out = run_cli("spaces", "validate", str(bad), cwd=tmp_path)
    assert out.returncode == 1 and out.stdout.startswith("INFEASIBLE")
    assert "constraints.max_params is 1,000" in out.stdout

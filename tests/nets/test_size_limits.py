"""The size limits of a config's model, counted before anything is built."""

from resnet_nas.nets import Architecture, BlockSpec
from resnet_nas.nets.size_limits import SizeLimits, size_problems


def _slim(units_per_block, image=224) -> Architecture:
    blocks = []
    for i, (n, depth) in enumerate(zip(units_per_block, (256, 512, 1024, 2048))):
        last = 2 if i < 3 else 1
        blocks.append(BlockSpec(f"block{i + 1}", ((depth, depth // 4, 1),) * (n - 1)
                                + ((depth, depth // 4, last),)))
    return Architecture(tuple(blocks), unit="v2_bottleneck", num_classes=1000,
                        input_shape=(image, image, 3))


def test_the_seeds_largest_networks_are_within_the_limits():
    assert size_problems(_slim((3, 24, 36, 3))) == []  # resnet_v2_200 at 224x224
    assert size_problems(_slim((3, 24, 36, 3), image=512)) == []


def test_each_limit_is_reported_with_its_amount():
    arch = _slim((3, 24, 36, 3))
    tight = SizeLimits(params=1_000_000, flops=10**9, units=1_000, activation_bytes=2**30)
    got = {p.what: p for p in size_problems(arch, limits=tight)}
    assert set(got) == {"params", "flops"}
    assert got["params"].amount == 64_894_440 and got["params"].limit == 1_000_000
    assert got["params"].describe() == "64,894,440 parameters (limit 1,000,000)"
    assert size_problems(arch, limits=SizeLimits(activation_bytes=2**28))[0].describe() \
        .endswith("GiB of activations per training example (limit 0.25 GiB)")


def test_too_many_units_is_said_before_anything_is_counted():
    arch = Architecture(tuple(BlockSpec(f"b{i}", ((64, 16, 1),) * 1024) for i in range(64)),
                        unit="v1_bottleneck", root="cifar")
    problems = size_problems(arch)
    assert [p.describe() for p in problems] == ["65,536 residual units (limit 1,000)"]

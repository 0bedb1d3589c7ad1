"""Architectures known by name: the papers' networks a search can start from
(`search --enqueue resnet56`, a space's `search.baselines`).

He et al. (2015) CIFAR ResNets: `resnet20`, `resnet32`, `resnet44`, `resnet56`, `resnet110`
(post-activation basic units, option-A shortcuts, 16/32/64 channels; `_v2` for the
pre-activation units of He et al. 2016). TF-slim's ImageNet ResNets: `resnet_v1_50`, `_101`,
`_152`, `_200` and `resnet_v2_*`: slim's `resnet_v1_block(scope, base_depth, num_units,
stride)` gives bottleneck units of depth 4 * base_depth and bottleneck depth base_depth with
the stride on the last unit; base depths 64/128/256/512, strides 2/2/2/1, after the 7x7/2 conv
and 3x3/2 max-pool root.
"""

from __future__ import annotations

from collections.abc import Sequence

from resnet_nas.nets.arch import Architecture, BlockSpec
from resnet_nas.nets.resnet_cifar import CIFAR_DEPTHS, cifar_resnet

#: slim's units per block of resnet_v1/v2_<depth>.
SLIM_UNITS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}
SLIM_BASE_DEPTHS = (64, 128, 256, 512)
SLIM_STRIDES = (2, 2, 2, 1)


def slim_resnet(layers: int, version: int = 1, num_classes: int = 1000,
                input_shape: Sequence[int] = (224, 224, 3)) -> Architecture:
    """slim's resnet_v{version}_{layers} as an Architecture.

    Raises:
      ValueError: a depth slim does not define (50, 101, 152, 200).
    """
    if layers not in SLIM_UNITS:
        raise ValueError(f"slim defines resnet_v{version}_{{{', '.join(map(str, SLIM_UNITS))}}}"
                         f", not {layers}")
    blocks = []
    for i, (n, base, stride) in enumerate(zip(SLIM_UNITS[layers], SLIM_BASE_DEPTHS,
                                              SLIM_STRIDES)):
        units = ((4 * base, base, 1),) * (n - 1) + ((4 * base, base, stride),)
        blocks.append(BlockSpec(f"block{i + 1}", units))
    return Architecture(blocks=tuple(blocks), unit=f"v{version}_bottleneck", root="imagenet",
                        root_depth=64, num_classes=num_classes,
                        input_shape=tuple(input_shape)).validate()


def _names() -> dict[str, tuple[str, int, int]]:
    out = {}
    for depth in CIFAR_DEPTHS:
        out[f"resnet{depth}"] = ("cifar", depth, 1)
        out[f"resnet{depth}_v2"] = ("cifar", depth, 2)
    for layers in SLIM_UNITS:
        for version in (1, 2):
            out[f"resnet_v{version}_{layers}"] = ("slim", layers, version)
    return out


#: name -> (family, depth, version).
KNOWN_ARCHITECTURES = _names()


def known_architecture(name: str, num_classes: int | None = None,
                       input_shape: Sequence[int] | None = None) -> Architecture:
    """The architecture called `name` (KNOWN_ARCHITECTURES), for the given data.

    Raises:
      KeyError: an unknown name.
    """
    family, depth, version = KNOWN_ARCHITECTURES[name]
    if family == "cifar":
        return cifar_resnet(depth, version, "A", num_classes or 10,
                            tuple(input_shape or (32, 32, 3)))
    return slim_resnet(depth, version, num_classes or 1000, input_shape or (224, 224, 3))

"""He et al. (2015) CIFAR ResNets (ResNet-20/32/44/56/110) from the same slim Blocks.

The paper's CIFAR nets: a 3x3 root conv with 16 channels, three stages of n basic units each
with 16, 32 and 64 channels (depth = 6n + 2), the stride on the FIRST unit of stages 2 and 3,
global average pooling and a 10-way classifier. Shortcuts where the depth changes:
option 'A' (the paper's CIFAR choice): subsample + zero-pad channels, parameter-free, giving
0.27M params for ResNet-20; option 'B': 1x1 projection + BN (slightly more params).
"""

from __future__ import annotations

from resnet_nas.nets.arch import Architecture, BlockSpec

CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def cifar_resnet(depth: int = 20, version: int = 1, shortcut: str = "A", num_classes: int = 10,
                 input_shape: tuple[int, int, int] = (32, 32, 3),
                 widths: tuple[int, int, int] = (16, 32, 64)) -> Architecture:
    """The Architecture of a He et al. CIFAR ResNet.

    Args:
      depth: 6n + 2 (20, 32, 44, 56, 110, ...).
      version: 1 (post-activation, He et al. 2015) or 2 (pre-activation, He et al. 2016).
      shortcut: 'A' or 'B' (see module docstring).
      num_classes: logits size.
      input_shape: (H, W, C).
      widths: channels of the three stages.

    Returns:
      The Architecture; build it with resnet_nas.nets.build_model.
    """
    if (depth - 2) % 6 != 0 or depth < 8:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
    if version not in (1, 2):
        raise ValueError(f"version must be 1 or 2, got {version}")
    n = (depth - 2) // 6
    blocks = []
    for i, width in enumerate(widths):
        stride = 1 if i == 0 else 2
        units = ((width, width, stride),) + ((width, width, 1),) * (n - 1)
        blocks.append(BlockSpec(f"block{i + 1}", units))
    return Architecture(blocks=tuple(blocks), unit=f"v{version}_basic", root="cifar",
                        root_depth=widths[0], shortcut=shortcut, num_classes=num_classes,
                        input_shape=tuple(input_shape)).validate()


def resnet_cifar(inputs, depth: int = 20, version: int = 1, shortcut: str = "A",
                 num_classes: int | None = 10, is_training: bool = True, config=None,
                 scope: str | None = None):
    """slim-style builder: returns (net, end_points) for a CIFAR ResNet on `inputs`."""
    from resnet_nas.nets.build import build_network
    arch = cifar_resnet(depth, version, shortcut, num_classes or 10, tuple(inputs.shape[1:]))
    return build_network(inputs, arch, config, is_training=is_training,
                         scope=scope or f"resnet_cifar{depth}")

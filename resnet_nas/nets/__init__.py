"""Model building (no training): a Keras 3 port of TF-slim's ResNets, plus the plain-data
Architecture the search samples. Import `resnet_nas.nets.arch`, `.plan` and `.complexity` without
paying for a Keras import; the builders import Keras lazily through this package's attributes.
"""

from resnet_nas.nets.arch import Architecture, BlockSpec, UnitKind
from resnet_nas.nets.complexity import Complexity, complexity
from resnet_nas.nets.config import ResNetConfig
from resnet_nas.nets.resnet_cifar import CIFAR_DEPTHS, cifar_resnet

__all__ = ["Architecture", "BlockSpec", "Complexity", "ResNetConfig", "CIFAR_DEPTHS", "UnitKind",
           "build_model", "cifar_resnet", "complexity"]


def __getattr__(name):
    if name in ("build_model", "build_network", "arch_blocks"):
        from resnet_nas.nets import build
        return getattr(build, name)
    raise AttributeError(name)

"""Size limits of a model described by a config, checked analytically before anything is built.

An exported config is user input: a few hundred bytes can ask for one unit of depth 8192 (672M
parameters, past 6 GB while Keras builds it), 65,536 units (minutes of graph building) or a
65,536-pixel-square input. `build --config` and `train --config` count the model first
(resnet_nas.nets.complexity: well under a second even at the largest an Architecture allows)
and refuse it past these limits, unless told `--allow-large`.

The defaults sit far above the networks this project is for (slim's resnet_v2_200 at 224x224:
65M parameters, 14.4 GMACs, 66 units, 0.35 GiB of activations per example) and below what an
ordinary machine can build or train.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_nas.nets.arch import Architecture
from resnet_nas.nets.complexity import Complexity, complexity
from resnet_nas.nets.config import ResNetConfig

#: A float32 conv output, its batch-norm output and its ReLU output are all kept for the
#: backward pass: three four-byte values per counted activation.
TRAIN_BYTES_PER_ACTIVATION = 3 * 4


@dataclass(frozen=True)
class SizeLimits:
    """The largest model a config may describe.

    Attributes:
      params: parameters (500M: 2 GB of float32 weights, 8 GB with gradients and two
        optimizer slots).
      flops: conv multiply-accumulates per example (1 TMAC: 70x resnet_v2_200 at 224x224).
      units: residual units in all blocks together (1,000: three times the 1001-layer
        pre-activation ResNet's 333; Keras builds them one at a time).
      activation_bytes: activation memory of one training example (4 GiB), estimated as
        TRAIN_BYTES_PER_ACTIVATION per conv output value.
    """

    params: int = 500_000_000
    flops: int = 1_000_000_000_000
    units: int = 1_000
    activation_bytes: int = 4 * 2**30


DEFAULT_LIMITS = SizeLimits()


@dataclass(frozen=True)
class SizeProblem:
    """One limit a model passes: what, how much, and the limit."""

    what: str
    amount: int
    limit: int

    def describe(self) -> str:
        if self.what == "activation_bytes":
            return (f"{self.amount / 2**30:,.2f} GiB of activations per training example "
                    f"(limit {self.limit / 2**30:,.2f} GiB)")
        names = {"params": "parameters", "flops": "multiply-accumulates per example",
                 "units": "residual units"}
        return f"{self.amount:,} {names[self.what]} (limit {self.limit:,})"


def size_problems(arch: Architecture, config: ResNetConfig | None = None,
                  limits: SizeLimits = DEFAULT_LIMITS,
                  counts: Complexity | None = None) -> list[SizeProblem]:
    """Every limit `arch` passes (empty: within limits).

    Args:
      counts: the architecture's complexity when already computed.
    """
    units = sum(len(b.units) for b in arch.blocks)
    if units > limits.units:  # counting a huge graph is cheap, but say the simplest thing first
        return [SizeProblem("units", units, limits.units)]
    c = counts or complexity(arch, config)
    found = {"params": c.params, "flops": c.flops, "units": units,
             "activation_bytes": c.activations * TRAIN_BYTES_PER_ACTIVATION}
    return [SizeProblem(k, v, getattr(limits, k)) for k, v in found.items()
            if v > getattr(limits, k)]

"""Architecture: the plain-data description of one network, and its bridge to Keras.

An `Architecture` is what the search samples, what a trial record stores, and what an
exported config rebuilds. It holds the final Block tuples (width multiplier already applied),
so rebuilding it gives exactly the same network. Nothing here imports Keras at module level:
the search process samples and checks architectures without paying for a backend import.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from resnet_nas.nets.plan import check_output_stride, root_stride
from resnet_nas.validation import (ConfigError, check_keys, expect_choice, expect_int,
                                   expect_name, join)

class UnitKind(StrEnum):
    """A residual unit: slim's version (v1 post-activation, v2 pre-activation) and its body
    (bottleneck: 1x1-3x3-1x1; basic: two 3x3 convs)."""

    V1_BOTTLENECK = "v1_bottleneck"
    V2_BOTTLENECK = "v2_bottleneck"
    V1_BASIC = "v1_basic"
    V2_BASIC = "v2_basic"

    @property
    def version(self) -> int:
        return 1 if self in (UnitKind.V1_BOTTLENECK, UnitKind.V1_BASIC) else 2

    @property
    def basic(self) -> bool:
        return self in (UnitKind.V1_BASIC, UnitKind.V2_BASIC)


UNIT_KINDS = tuple(k.value for k in UnitKind)
ROOTS = ("imagenet", "cifar", "none")
SHORTCUTS = ("A", "B")

UnitArgs = tuple[int, int, int]  # (depth, depth_bottleneck, stride)

# Finite ranges for everything an architecture holds (an exported config is user input).
MAX_DEPTH = 65_536
MAX_UNITS = 1_024
MAX_CLASSES = 1_000_000
MAX_IMAGE_SIZE = 65_536


@dataclass(frozen=True)
class BlockSpec:
    """One stage: a scope name and one (depth, depth_bottleneck, stride) tuple per unit."""

    scope: str
    units: tuple[UnitArgs, ...]


@dataclass(frozen=True)
class Architecture:
    """A complete ResNet, as plain data.

    Attributes:
      blocks: the stages, in order.
      unit: 'v1_bottleneck' | 'v2_bottleneck' (slim) | 'v1_basic' | 'v2_basic' (two 3x3 convs).
      root: 'imagenet' (7x7/2 conv + 3x3/2 max-pool, nominal stride 4), 'cifar' (3x3/1 conv)
        or 'none' (the blocks see the input directly).
      root_depth: output channels of the root conv (slim: 64; He et al. CIFAR: 16).
      shortcut: basic units only, where depth changes: 'A' subsample + zero-pad channels
        (parameter-free, He et al. 2015 CIFAR), 'B' 1x1 projection. Bottleneck units always
        project, as slim does.
      output_stride: slim's atrous output stride, or None for the nominal stride.
      num_classes: logits size.
      input_shape: (height, width, channels) of one example.
    """

    blocks: tuple[BlockSpec, ...]
    unit: str = "v1_bottleneck"
    root: str = "imagenet"
    root_depth: int = 64
    shortcut: str = "B"
    output_stride: int | None = None
    num_classes: int = 10
    input_shape: tuple[int, int, int] = (32, 32, 3)

    # -- validation -------------------------------------------------------------------------
    def validate(self, source: str | None = None, path: str = "architecture") -> "Architecture":
        """Raises ConfigError naming the first invalid field; returns self."""
        expect_choice(self.unit, UNIT_KINDS, source, join(path, "unit"))
        expect_choice(self.root, ROOTS, source, join(path, "root"))
        expect_choice(self.shortcut, SHORTCUTS, source, join(path, "shortcut"))
        expect_int(self.root_depth, source, join(path, "root_depth"), minimum=1,
                   maximum=MAX_DEPTH)
        expect_int(self.num_classes, source, join(path, "num_classes"), minimum=1,
                   maximum=MAX_CLASSES)
        if len(self.input_shape) != 3:
            raise ConfigError(source, join(path, "input_shape"), "[height, width, channels]",
                              list(self.input_shape))
        for i, v in enumerate(self.input_shape):
            expect_int(v, source, join(join(path, "input_shape"), i), minimum=1,
                       maximum=MAX_IMAGE_SIZE)
        if not self.blocks:
            raise ConfigError(source, join(path, "blocks"), "a non-empty list of blocks", [])
        if len(self.blocks) > 64:
            raise ConfigError(source, join(path, "blocks"), "at most 64 blocks",
                              f"{len(self.blocks)} blocks")
        for b, block in enumerate(self.blocks):
            bpath = join(join(path, "blocks"), b)
            if not block.units:
                raise ConfigError(source, join(bpath, "units"), "at least one unit", [])
            if len(block.units) > MAX_UNITS:
                raise ConfigError(source, join(bpath, "units"), f"at most {MAX_UNITS} units",
                                  f"{len(block.units)} units")
            for u, unit in enumerate(block.units):
                upath = join(join(bpath, "units"), u)
                if len(unit) != 3:
                    raise ConfigError(source, upath, "[depth, depth_bottleneck, stride]", unit)
                depth, depth_bottleneck, stride = unit
                expect_int(depth, source, join(upath, "depth"), minimum=1, maximum=MAX_DEPTH)
                expect_int(depth_bottleneck, source, join(upath, "depth_bottleneck"), minimum=1,
                           maximum=MAX_DEPTH)
                if stride not in (1, 2) or isinstance(stride, bool):
                    raise ConfigError(source, join(upath, "stride"), "1 or 2", stride)
        if self.output_stride is not None:
            try:
                check_output_stride(self.unit_strides(), self.output_stride, root=self.root)
            except ValueError as e:
                raise ConfigError(source, join(path, "output_stride"),
                                  f"an output stride the strides allow ({e})",
                                  self.output_stride) from None
        return self

    @property
    def root_stride(self) -> int:
        return root_stride(self.root)

    @property
    def kind(self) -> UnitKind:
        return UnitKind(self.unit)

    def unit_strides(self) -> list[list[int]]:
        return [[u[2] for u in b.units] for b in self.blocks]

    # -- (de)serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "root": self.root,
            "root_depth": self.root_depth,
            "shortcut": self.shortcut,
            "output_stride": self.output_stride,
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "blocks": [{"scope": b.scope, "units": [list(u) for u in b.units]}
                       for b in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None,
                  path: str = "architecture") -> "Architecture":
        names = ["unit", "root", "root_depth", "shortcut", "output_stride", "num_classes",
                 "input_shape", "blocks"]
        data = dict(check_keys(data, names, source, path, required=["blocks"]))
        raw_blocks = data.pop("blocks")
        if not isinstance(raw_blocks, list):
            raise ConfigError(source, join(path, "blocks"), "a list of blocks", raw_blocks)
        blocks = []
        for b, raw in enumerate(raw_blocks):
            bpath = join(join(path, "blocks"), b)
            raw = check_keys(raw, ["scope", "units"], source, bpath, required=["units"])
            units = raw["units"]
            if not isinstance(units, list):
                raise ConfigError(source, join(bpath, "units"),
                                  "a list of [depth, depth_bottleneck, stride]", units)
            for u, unit in enumerate(units):
                if not isinstance(unit, (list, tuple)) or len(unit) != 3:
                    raise ConfigError(source, join(join(bpath, "units"), u),
                                      "[depth, depth_bottleneck, stride]", unit)
            scope = expect_name(raw.get("scope", f"block{b + 1}"), source, join(bpath, "scope"))
            blocks.append(BlockSpec(scope,
                                    tuple(tuple(u) for u in units)))
        if "input_shape" in data:
            shape = data["input_shape"]
            if not isinstance(shape, (list, tuple)):
                raise ConfigError(source, join(path, "input_shape"), "[height, width, channels]",
                                  shape)
            data["input_shape"] = tuple(shape)
        arch = cls(blocks=tuple(blocks), **data)
        return arch.validate(source, path)

    def key(self) -> str:
        """Canonical architecture key: identical networks get identical keys.

        Scope names do not change the network, so they are left out; everything that changes
        the computation (unit tuples, unit kind, root, shortcut, output stride, classes, input)
        is in.
        """
        d = self.to_dict()
        d["blocks"] = [b["units"] for b in d["blocks"]]
        if not self.kind.basic:
            d.pop("shortcut")  # bottleneck units ignore it
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def layers(self) -> int:
        """Weighted layers along the main path, the N of ResNet-N: the root conv, two convs
        per basic unit or three per bottleneck unit, and the logits (projections left out,
        as the papers count)."""
        per_unit = 2 if self.kind.basic else 3
        return ((self.root != "none") + per_unit * sum(len(b.units) for b in self.blocks)
                + 1)

    def describe(self) -> str:
        """Compact one-line summary, e.g. 'v1_basic cifar16 | 16x3/1 32x3/2 64x3/2'."""
        stages = []
        for b in self.blocks:
            depth = b.units[-1][0]
            stride = max(u[2] for u in b.units)
            bott = "" if self.kind.basic else f"({b.units[-1][1]})"
            stages.append(f"{depth}{bott}x{len(b.units)}/{stride}")
        root = f"{self.root}{self.root_depth}" if self.root != "none" else "noroot"
        os_ = f" os{self.output_stride}" if self.output_stride else ""
        return f"{self.unit} {root}{os_} | " + " ".join(stages)

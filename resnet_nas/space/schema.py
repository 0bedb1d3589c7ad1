"""The validated, normalised form of a search-space file, and the parser that builds it.

`parse_space(data, source)` turns the mapping read from YAML into a frozen `SearchSpace`,
raising `ConfigError` (file, key path, expected, found, "did you mean") on the first problem.
The file format is documented in `resnet_nas.space` and `search_spaces/README.md`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resnet_nas.config import DataConfig, TrainConfig, data_config_from_dict
from resnet_nas.nets.known import KNOWN_ARCHITECTURES
from resnet_nas.nets.arch import (MAX_CLASSES, MAX_DEPTH, MAX_IMAGE_SIZE, MAX_UNITS, ROOTS,
                                  SHORTCUTS, UNIT_KINDS, UnitKind)
from resnet_nas.nets.plan import root_stride
from resnet_nas.space.params import (Fixed, IntRange, ParamSpec, ValueType, parse_param,
                                     possible_values, spec_to_data)
from resnet_nas.validation import (ConfigError, ErrorCollector, check_keys, expect_bool,
                                   expect_choice, expect_float, expect_int, expect_name, join)
from resnet_nas.vocabulary import (DEFAULT_OBJECTIVES, DEFAULT_PRUNER, DEFAULT_SAMPLER,
                                   DEFAULT_SEED, DEFAULT_TRIALS, MAX_TIMEOUT,
                                   MULTI_OBJECTIVE_SAMPLERS, NO_PRUNER, OBJECTIVES,
                                   OPTUNA_SAMPLERS, PRUNERS, SAMPLER_HISTORY,
                                   SEED, SINGLE_OBJECTIVE_SAMPLERS, TRIALS)

STRIDE_PLACEMENTS = ("first", "last")
#: data keys added after runs were recorded: hashed only when they differ from their defaults.
DATA_KEYS_SINCE_HASH = {"preprocessing": "auto", "cache": "auto", "labels_offset": 0}

# The study settings' names, ranges and defaults are resnet_nas.vocabulary's (shared with the
# command line and run.json).
MAX_BUDGET = 10**18  # params / FLOPs bounds

TOP_KEYS = ("name", "description", "space", "constraints", "data", "train", "search")
SPACE_KEYS = ("unit", "root", "root_depth", "width_multiplier", "round_to", "output_stride",
              "shortcut", "stride_placement", "input_shape", "num_classes", "stages")
STAGES_KEYS = ("count", "depth", "units", "stride", "bottleneck_ratio", "depth_bottleneck",
               "per_stage")
#: Keys that can be given per stage (in `stages:` as the default, or in `per_stage:`).
STAGE_PARAM_KEYS = ("depth", "units", "stride", "bottleneck_ratio", "depth_bottleneck")
BOTTLENECK_KEYS = ("bottleneck_ratio", "depth_bottleneck")

# Value types of the searchable keys. Every numeric one has a finite range.
SPACE_TYPES: dict[str, ValueType] = {
    "unit": ValueType("str", enum=UNIT_KINDS),
    "root": ValueType("str", enum=ROOTS),
    "root_depth": ValueType("int", minimum=1, maximum=MAX_DEPTH),
    "width_multiplier": ValueType("float", minimum=0.0, maximum=64.0, exclusive_minimum=True),
    "output_stride": ValueType("int", minimum=1, maximum=1024, nullable=True,
                               power_of_two=True),
    "shortcut": ValueType("str", enum=SHORTCUTS),
    "stride_placement": ValueType("str", enum=STRIDE_PLACEMENTS),
}
STAGE_TYPES: dict[str, ValueType] = {
    "count": ValueType("int", minimum=1, maximum=64),
    "depth": ValueType("int", minimum=1, maximum=MAX_DEPTH),
    "units": ValueType("int", minimum=1, maximum=MAX_UNITS),
    "stride": ValueType("int", enum=(1, 2)),
    "bottleneck_ratio": ValueType("float", minimum=0.0, maximum=64.0, exclusive_minimum=True),
    "depth_bottleneck": ValueType("int", minimum=1, maximum=MAX_DEPTH),
}
# Defaults of optional space keys (slim's resnet_v1 conventions, as in Architecture).
SPACE_DEFAULTS: dict[str, Any] = {
    "root": "imagenet",
    "root_depth": 64,
    "width_multiplier": 1.0,
    "output_stride": None,
    "shortcut": "B",
    "stride_placement": "last",
}
#: Depths are rounded to this multiple after the width multiplier when neither `round_to` nor
#: a range step says otherwise (the usual "make divisible by 8" rule).
DEFAULT_ROUND_TO = 8


@dataclass(frozen=True)
class StagesSpec:
    """How the stages (blocks) are sampled.

    Attributes:
      count: spec of the number of stages.
      depth / units / stride / bottleneck_ratio / depth_bottleneck: default specs for every
        stage (bottleneck_ratio / depth_bottleneck may be None).
      shared: keys whose value is drawn once and used for every stage (`shared: true` in the
        file); their parameter is named `stage_<key>` instead of `stage<i>_<key>`.
      per_stage: (stage index, ((key, spec), ...)) overrides; an override of either bottleneck
        key replaces both defaults.
    """

    count: ParamSpec
    depth: ParamSpec
    units: ParamSpec
    stride: ParamSpec
    bottleneck_ratio: ParamSpec | None = None
    depth_bottleneck: ParamSpec | None = None
    shared: tuple[str, ...] = ()
    per_stage: tuple[tuple[int, tuple[tuple[str, ParamSpec], ...]], ...] = ()

    def max_count(self) -> int:
        return int(self.count.bounds()[1])

    def for_stage(self, index: int) -> dict[str, tuple[ParamSpec, str]]:
        """The effective specs of stage `index`: key -> (spec, parameter name).

        Only keys with a spec appear (at most one of the two bottleneck keys).
        """
        overrides = dict(dict(self.per_stage).get(index, ()))
        out: dict[str, tuple[ParamSpec, str]] = {}
        for key in STAGE_PARAM_KEYS:
            if key in overrides:
                out[key] = (overrides[key], f"stage{index}_{key}")
                continue
            if key in BOTTLENECK_KEYS and any(k in overrides for k in BOTTLENECK_KEYS):
                continue
            spec = getattr(self, key)
            if spec is None:
                continue
            name = f"stage_{key}" if key in self.shared else f"stage{index}_{key}"
            out[key] = (spec, name)
        return out

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": spec_to_data(self.count)}
        for key in STAGE_PARAM_KEYS:
            spec = getattr(self, key)
            if spec is None:
                continue
            data = spec_to_data(spec)
            if key in self.shared:
                data = ({"choices": data} if isinstance(data, list) else dict(data))
                data["shared"] = True
            out[key] = data
        if self.per_stage:
            out["per_stage"] = {i: {k: spec_to_data(s) for k, s in specs}
                                for i, specs in self.per_stage}
        return out


@dataclass(frozen=True)
class Constraints:
    """Feasibility rules for sampled architectures.

    Attributes:
      depths_non_decreasing: each stage at least as deep as the one before (enforced while
        sampling for range specs, by rejection otherwise).
      min_total_stride / max_total_stride: bounds on root stride * product of stage strides
        (the nominal stride, before any atrous output_stride).
      min_params / max_params: bounds on all weights incl. BN statistics (the `params` column).
      min_flops / max_flops: bounds on multiply-accumulates of one forward pass of one example.
    """

    depths_non_decreasing: bool = False
    min_total_stride: int | None = None
    max_total_stride: int | None = None
    min_params: int | None = None
    max_params: int | None = None
    min_flops: int | None = None
    max_flops: int | None = None

    @property
    def needs_complexity(self) -> bool:
        return any(v is not None for v in (self.min_params, self.max_params, self.min_flops,
                                           self.max_flops))

    def to_data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchDefaults:
    """Defaults for a study over this space (the CLI may override each).

    Attributes:
      trials: number of trials to run.
      timeout: stop starting new trials after this many seconds (None: no limit).
      sampler: one of vocabulary.OPTUNA_SAMPLERS.
      sampler_history: with the TPE sampler, the number of most recent finished trials it
        models (at most twice as many between rebuilds of its window), so that its cost per
        trial stops growing with the study; None: the whole study.
      pruner: one of vocabulary.PRUNERS ('none' for multi-objective studies: Optuna cannot
        prune them).
      objectives: names from vocabulary.OBJECTIVES; more than one makes a multi-objective study.
      seed: sampler seed.
      max_rejections: infeasible samples tolerated in a row before the search gives up.
      baselines: names of known architectures (resnet_nas.nets.known) that are points of this
        space: `search --enqueue baselines` makes them the study's first trials.
    """

    trials: int = DEFAULT_TRIALS
    timeout: float | None = None
    sampler: str = DEFAULT_SAMPLER
    sampler_history: int | None = None
    pruner: str = DEFAULT_PRUNER  # why hyperband: see vocabulary.DEFAULT_PRUNER
    objectives: list[str] = field(default_factory=lambda: list(DEFAULT_OBJECTIVES))
    seed: int = DEFAULT_SEED
    max_rejections: int = 1000
    max_duplicates: int = 20
    baselines: list[str] = field(default_factory=list)

    def validate(self, source: str | None = None, path: str = "search") -> None:
        expect_int(self.trials, source, join(path, "trials"), minimum=TRIALS.low,
                   maximum=TRIALS.high)
        if self.timeout is not None:
            self.timeout = expect_float(self.timeout, source, join(path, "timeout"), minimum=0.0,
                                        maximum=MAX_TIMEOUT, exclusive_minimum=True)
        expect_choice(self.sampler, OPTUNA_SAMPLERS, source, join(path, "sampler"))
        expect_choice(self.pruner, PRUNERS, source, join(path, "pruner"))
        if self.sampler_history is not None:
            expect_int(self.sampler_history, source, join(path, "sampler_history"),
                       minimum=SAMPLER_HISTORY.low, maximum=SAMPLER_HISTORY.high)
            if self.sampler != "tpe":
                raise ConfigError(source, join(path, "sampler_history"),
                                  "null for a sampler other than tpe", self.sampler_history,
                                  hint="it bounds the history TPE models")
        if isinstance(self.objectives, str):
            self.objectives = [self.objectives]
        if not isinstance(self.objectives, list) or not self.objectives:
            raise ConfigError(source, join(path, "objectives"),
                              f"a non-empty list of {list(OBJECTIVES)}", self.objectives)
        for i, name in enumerate(self.objectives):
            expect_choice(name, list(OBJECTIVES), source, join(join(path, "objectives"), i))
            if name in self.objectives[:i]:
                raise ConfigError(source, join(join(path, "objectives"), i),
                                  "distinct objectives", name)
        if len(self.objectives) > 1:
            if self.pruner != NO_PRUNER:
                raise ConfigError(source, join(path, "pruner"),
                                  "'none' for a multi-objective study", self.pruner,
                                  hint="Optuna cannot prune multi-objective studies")
            if self.sampler in SINGLE_OBJECTIVE_SAMPLERS:
                raise ConfigError(source, join(path, "sampler"), "a multi-objective sampler "
                                  f"({', '.join(MULTI_OBJECTIVE_SAMPLERS)})", self.sampler,
                                  hint=f"{self.sampler} optimises a single objective")
        expect_int(self.seed, source, join(path, "seed"), minimum=SEED.low, maximum=SEED.high)
        expect_int(self.max_rejections, source, join(path, "max_rejections"), minimum=1,
                   maximum=10**7)
        expect_int(self.max_duplicates, source, join(path, "max_duplicates"), minimum=1,
                   maximum=10**6)
        if not isinstance(self.baselines, list):
            raise ConfigError(source, join(path, "baselines"), "a list of architecture names",
                              self.baselines)
        for i, name in enumerate(self.baselines):
            expect_choice(name, sorted(KNOWN_ARCHITECTURES), source,
                          join(join(path, "baselines"), i))

    def to_data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space with the data, training and study settings that go with it.

    Attributes:
      name / description: from the file (name defaults to the file's stem).
      source: the file it was read from ('<dict>' when parsed from a mapping).
      unit, root, root_depth, width_multiplier, output_stride, shortcut, stride_placement:
        parameter specs of the network-wide choices.
      round_to: multiple that depths are rounded to after the width multiplier (None: the depth
        range's step when > 1, else 8).
      input_shape / num_classes: fixed by the space, or None to take them from the data set.
      stages: how stages are sampled.
      constraints / data / train / search: the other sections.
    """

    name: str
    description: str
    source: str
    unit: ParamSpec
    stages: StagesSpec
    root: ParamSpec = Fixed("imagenet")
    root_depth: ParamSpec = Fixed(64)
    width_multiplier: ParamSpec = Fixed(1.0)
    output_stride: ParamSpec = Fixed(None)
    shortcut: ParamSpec = Fixed("B")
    stride_placement: ParamSpec = Fixed("last")
    round_to: int | None = None
    input_shape: tuple[int, int, int] | None = None
    num_classes: int | None = None
    constraints: Constraints = field(default_factory=Constraints)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchDefaults = field(default_factory=SearchDefaults)

    def space_to_data(self) -> dict[str, Any]:
        """The normalised `space:` section."""
        out = {key: spec_to_data(getattr(self, key)) for key in SPACE_TYPES}
        out["round_to"] = self.round_to
        out["input_shape"] = list(self.input_shape) if self.input_shape else None
        out["num_classes"] = self.num_classes
        out["stages"] = self.stages.to_data()
        return out

    def to_dict(self) -> dict[str, Any]:
        """The whole space as a normalised mapping that `parse_space` reads back unchanged."""
        return {
            "name": self.name,
            "description": self.description,
            "space": self.space_to_data(),
            "constraints": self.constraints.to_data(),
            "data": asdict(self.data),
            "train": self.train.to_dict(),
            "search": self.search.to_data(),
        }

    def hash(self) -> str:
        """Stable 16-hex-digit hash of what decides the trials' results.

        Covers the normalised `space`, `constraints`, `data` (except `cache_dir`, which only
        says where decoded data is cached) and `train` sections. Leaves out `name`,
        `description`, the file name and `search` (study defaults such as the trial count change
        when a study is extended, not what a trial is). Comments, key order and equivalent
        spellings (`[a]` vs `a`, `1` vs `1.0` for a float) do not change it.
        """
        data = asdict(self.data)
        data.pop("cache_dir", None)
        for key, default in DATA_KEYS_SINCE_HASH.items():
            if data.get(key) == default:  # the hashes of spaces written before them stay
                data.pop(key)
        payload = {"space": self.space_to_data(), "constraints": self.constraints.to_data(),
                   "data": data, "train": self.train.to_dict()}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def can_use_bottleneck(self) -> bool:
        return can_be_bottleneck(self.unit)


def can_be_bottleneck(unit: ParamSpec) -> bool:
    """Whether the unit spec can draw a bottleneck unit."""
    return any(not UnitKind(u).basic for u in possible_values(unit) or ())


# -- parsing -----------------------------------------------------------------------------------

def parse_space(data: Any, source: str | None = None) -> SearchSpace:
    """Validates and normalises a search-space mapping (the content of a YAML file).

    Args:
      data: the mapping read from YAML.
      source: file name for error messages (and the default `name`, from its stem).

    Returns:
      The SearchSpace.

    Raises:
      ConfigError: on the first invalid or unknown key, naming file, key path, expected, found.
    """
    source = str(source) if source is not None else "<dict>"
    if not isinstance(data, Mapping):
        raise ConfigError(source, "", "a mapping with the sections " + ", ".join(TOP_KEYS),
                          data)
    data = check_keys(data, TOP_KEYS, source, "", required=["space"])
    # Independent parts are all checked, so one run reports every problem (in line order);
    # a part that depends on a failed one is skipped.
    errors = ErrorCollector()
    name = data.get("name")
    if name is None:
        name = Path(source).stem if source != "<dict>" else None
    # the name becomes part of run-directory and row file names
    errors.run(expect_name, name, source, "name")
    description = data.get("description") or ""
    if not isinstance(description, str):
        errors.errors.append(ConfigError(source, "description", "a string", description))

    space = dict(check_keys(data["space"], SPACE_KEYS, source, "space",
                            required=["unit", "stages"]))
    specs: dict[str, ParamSpec] = {}
    for key, vtype in SPACE_TYPES.items():
        raw = space.get(key, SPACE_DEFAULTS.get(key))
        specs[key] = errors.run(parse_param, raw, vtype, source, join("space", key))
    round_to = space.get("round_to")
    if round_to is not None:
        round_to = errors.run(expect_int, round_to, source, "space.round_to", minimum=1,
                              maximum=MAX_DEPTH)
    input_shape = errors.run(_parse_input_shape, space.get("input_shape"), source,
                             "space.input_shape")
    num_classes = space.get("num_classes")
    if num_classes is not None:
        num_classes = errors.run(expect_int, num_classes, source, "space.num_classes",
                                 minimum=1, maximum=MAX_CLASSES)
    stages = (errors.run(_parse_stages, space["stages"], specs["unit"], source, "space.stages")
              if specs["unit"] is not None else None)
    constraints = errors.run(_parse_constraints, data.get("constraints"), source, "constraints")
    data_cfg = errors.run(data_config_from_dict, data.get("data"), source, "data")
    train_cfg = errors.run(_guard, TrainConfig.from_dict, data.get("train"), source, "train")
    search = errors.run(_guard, _parse_search, data.get("search"), source, "search")
    errors.raise_if_any()
    _check_stride_feasible(specs["root"], stages, constraints, source)
    return SearchSpace(name=name, description=description, source=source, stages=stages,
                       round_to=round_to, input_shape=input_shape, num_classes=num_classes,
                       constraints=constraints, data=data_cfg, train=train_cfg, search=search,
                       **specs)


def _guard(fn, raw: Any, source: str, path: str):
    """Runs a section parser, turning stray TypeErrors (e.g. `augment: 3`) into ConfigErrors."""
    try:
        return fn(raw, source, path)
    except ConfigError:
        raise
    except (TypeError, AttributeError) as e:
        raise ConfigError(source, path, "a mapping of the documented keys", raw,
                          hint=str(e)) from None


def _parse_search(raw: Any, source: str, path: str) -> SearchDefaults:
    names = list(SearchDefaults.__dataclass_fields__)
    cfg = SearchDefaults(**dict(check_keys(raw, names, source, path)))
    cfg.validate(source, path)
    return cfg


def _parse_input_shape(raw: Any, source: str, path: str) -> tuple[int, int, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 3:
        raise ConfigError(source, path, "[height, width, channels] or null", raw,
                          hint="input_shape is not searchable")
    return tuple(expect_int(v, source, join(path, i), minimum=1,  # type: ignore[return-value]
                            maximum=MAX_IMAGE_SIZE) for i, v in enumerate(raw))


def _split_shared(raw: Any, source: str, path: str) -> tuple[Any, bool]:
    """Pops `shared: true|false` from a mapping spec."""
    if isinstance(raw, Mapping) and "shared" in raw:
        raw = dict(raw)
        shared = expect_bool(raw.pop("shared"), source, join(path, "shared"))
        return raw, shared
    return raw, False


def _parse_stages(raw: Any, unit: ParamSpec, source: str, path: str) -> StagesSpec:
    raw = check_keys(raw, STAGES_KEYS, source, path,
                     required=["count", "depth", "units", "stride"])
    count = parse_param(raw["count"], STAGE_TYPES["count"], source, join(path, "count"))
    specs: dict[str, ParamSpec | None] = {}
    shared: list[str] = []
    for key in STAGE_PARAM_KEYS:
        if key in BOTTLENECK_KEYS and raw.get(key) is None:
            specs[key] = None  # optional: only bottleneck units use them
            continue
        value, is_shared = _split_shared(raw[key], source, join(path, key))
        spec = parse_param(value, STAGE_TYPES[key], source, join(path, key))
        specs[key] = spec
        if is_shared and not isinstance(spec, Fixed):
            shared.append(key)
    if specs["bottleneck_ratio"] is not None and specs["depth_bottleneck"] is not None:
        raise ConfigError(source, join(path, "depth_bottleneck"),
                          "either bottleneck_ratio or depth_bottleneck, not both",
                          raw["depth_bottleneck"])
    max_count = int(count.bounds()[1])
    per_stage = _parse_per_stage(raw.get("per_stage"), max_count, source,
                                 join(path, "per_stage"))
    stages = StagesSpec(count=count, shared=tuple(shared), per_stage=per_stage,
                        **specs)  # type: ignore[arg-type]
    # Every stage that can exist must know its bottleneck depth if a bottleneck unit can be drawn.
    if can_be_bottleneck(unit):
        for i in range(max_count):
            if not any(k in stages.for_stage(i) for k in BOTTLENECK_KEYS):
                raise ConfigError(source, join(path, "bottleneck_ratio"),
                                  "bottleneck_ratio or depth_bottleneck (required when the unit "
                                  f"can be a bottleneck unit; missing for stage {i})", None)
    return stages


def _parse_per_stage(raw: Any, max_count: int, source: str, path: str):
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError(source, path, "a mapping {stage index: {key: spec}}", raw)
    out = []
    for key, overrides in raw.items():
        index = key
        if isinstance(key, str) and key.isdigit():
            index = int(key)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < max_count:
            raise ConfigError(source, join(path, str(key)),
                              f"a stage index 0..{max_count - 1} (0-based; stages.count allows "
                              f"at most {max_count})", key)
        spath = join(path, str(index))
        overrides = check_keys(overrides, STAGE_PARAM_KEYS, source, spath)
        if all(k in overrides for k in BOTTLENECK_KEYS):
            raise ConfigError(source, join(spath, "depth_bottleneck"),
                              "either bottleneck_ratio or depth_bottleneck, not both",
                              overrides["depth_bottleneck"])
        specs = tuple((k, parse_param(v, STAGE_TYPES[k], source, join(spath, k)))
                      for k, v in overrides.items())
        out.append((index, tuple(sorted(specs))))
    if len({i for i, _ in out}) != len(out):
        raise ConfigError(source, path, "each stage index once", list(raw))
    return tuple(sorted(out))


def _parse_constraints(raw: Any, source: str, path: str) -> Constraints:
    names = list(Constraints.__dataclass_fields__)
    raw = check_keys(raw, names, source, path)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "depths_non_decreasing":
            values[key] = expect_bool(value, source, join(path, key))
        elif value is not None:
            values[key] = expect_int(value, source, join(path, key), minimum=1,
                                     maximum=MAX_BUDGET)
    for what in ("total_stride", "params", "flops"):
        lo, hi = values.get(f"min_{what}"), values.get(f"max_{what}")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(source, join(path, f"max_{what}"), f"a value >= min_{what} ({lo})",
                              hi)
    return Constraints(**values)


def _check_stride_feasible(root: ParamSpec, stages: StagesSpec, constraints: Constraints,
                           source: str) -> None:
    """Rejects stride bounds that no architecture of the space can meet (cheap bound check)."""
    lo_c, hi_c = constraints.min_total_stride, constraints.max_total_stride
    if lo_c is None and hi_c is None:
        return
    root_values = possible_values(root) or ()
    root_strides = [root_stride(r) for r in root_values]
    counts = possible_values(stages.count)
    if counts is None:
        assert isinstance(stages.count, IntRange)
        counts = tuple(range(stages.count.low, stages.count.high + 1, stages.count.step))
    smallest, largest = None, None
    for n in counts:
        lo, hi = min(root_strides), max(root_strides)
        for i in range(n):
            s_lo, s_hi = stages.for_stage(i)["stride"][0].bounds()
            lo, hi = lo * s_lo, hi * s_hi
        smallest = lo if smallest is None else min(smallest, lo)
        largest = hi if largest is None else max(largest, hi)
    if hi_c is not None and smallest is not None and smallest > hi_c:
        raise ConfigError(source, "constraints.max_total_stride",
                          f"a bound some architecture can meet (smallest total stride of the "
                          f"space is {smallest})", hi_c)
    if lo_c is not None and largest is not None and largest < lo_c:
        raise ConfigError(source, "constraints.min_total_stride",
                          f"a bound some architecture can meet (largest total stride of the "
                          f"space is {largest})", lo_c)

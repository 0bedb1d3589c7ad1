"""Search spaces: YAML file -> validated SearchSpace -> sampled Architecture.

    space = load_space("quickstart")              # or a path to a .yaml file
    space = load_space("slim_imagenet", overrides={"data.path": "/datasets/imagenet"})
    trial = optuna.create_study().ask()           # or KerasTunerTrial(hp), optuna FixedTrial
    arch = sample_architecture(space, trial, input_shape=(8, 8, 1), num_classes=10)
    reasons = check_constraints(arch, space)      # [] when feasible; else re-sample

Everything here is pure Python (no Keras import).

File format
-----------
A search-space file is a YAML mapping with these sections (unknown keys anywhere are errors,
with a "did you mean" hint; errors name the file, the line and the key path)::

    name: quickstart                # default: the file name without .yaml
    description: free text
    space:                          # the architecture space (required)
      unit: [v1_basic, v2_basic]    # v1_bottleneck | v2_bottleneck | v1_basic | v2_basic
      root: cifar                   # imagenet (7x7/2 conv + 3x3/2 pool) | cifar (3x3/1) | none
      root_depth: {low: 8, high: 16, step: 8}
      width_multiplier: 1.0         # scales stage depths and bottleneck depths
      round_to: null                # multiple for scaled depths (default: depth step if > 1,
                                    # else 8); a multiplier of exactly 1 changes nothing
      output_stride: null           # null or a power of two: slim's atrous output stride
      shortcut: [A, B]              # basic units: A zero-pad identity, B 1x1 projection
      stride_placement: first       # first (He et al. CIFAR) | last (slim) unit of a stage
      input_shape: null             # [h, w, c]; null: take it from the data set
      num_classes: null             # null: take it from the data set
      stages:
        count: {low: 2, high: 3}    # number of stages
        depth: {low: 8, high: 32, step: 8}   # output depth of each stage
        units: {low: 1, high: 2}    # units per stage
        stride: 2                   # stride of each stage (1 or 2)
        bottleneck_ratio: [0.25, 0.5]   # bottleneck units: depth_bottleneck = round(depth*r)
        # depth_bottleneck: {...}   # ... or give it directly (exactly one of the two)
        per_stage:                  # overrides by 0-based stage index
          0: {stride: 1}
    constraints:
      depths_non_decreasing: true
      min_total_stride: null        # bounds on root stride * stage strides
      max_total_stride: null
      min_params: null              # bounds on all weights incl. BN statistics
      max_params: null
      min_flops: null               # bounds on multiply-accumulates per example
      max_flops: null
    data: {name: digits}            # resnet_nas.config.DataConfig fields
    train: {epochs: 3, batch_size: 64, augment: {flip: false}}  # TrainConfig fields
    search:                         # study defaults (CLI flags override them)
      trials: 6
      timeout: null                 # seconds
      sampler: tpe                  # tpe | random | cmaes | nsga2
      sampler_history: null         # tpe: model only the N most recent finished trials
      pruner: hyperband             # none | median | successive_halving | hyperband
      objectives: [val_accuracy]    # val_accuracy (max), params (min), flops (min)
      seed: 0
      max_rejections: 1000          # infeasible samples in a row before giving up

Every searchable value is a *parameter spec*: a fixed scalar (used, never suggested), a list of
choices (or `{choices: [...]}`), an integer range `{low, high, step}` / `{low, high, log: true}`,
or a float range `{low, high, step}` / `{low, high, log: true}`. A stage key may add
`shared: true` (`units: {choices: [3, 5, 7], shared: true}`) to draw one value for all stages.

Sampled parameter names: `unit`, `root`, `root_depth`, `shortcut`, `stride_placement`,
`width_multiplier`, `output_stride`, `num_stages`, `stage{i}_depth`, `stage{i}_units`,
`stage{i}_stride`, `stage{i}_bottleneck_ratio`, `stage{i}_depth_bottleneck`, and `stage_<key>`
for shared keys. See `resnet_nas.space.sample` for the define-by-run rules and
`search_spaces/README.md` for a longer guide.
"""

from resnet_nas.space.kt_adapter import KerasTunerTrial
from resnet_nas.space.loader import (apply_overrides, load_space, overridden_text,
                                     parse_override, parse_overrides, read_yaml,
                                     resolve_space_path, shipped_space_paths)
from resnet_nas.space.params import (Choice, Fixed, FloatRange, IntRange, ParamSpec, TrialLike,
                                     parse_param, suggest)
from resnet_nas.space.sample import (check_constraints, output_stride_problem, resolve_io,
                                     sample_architecture, scale_depth, total_stride)
from resnet_nas.space.schema import (Constraints, SearchDefaults, SearchSpace, StagesSpec,
                                     parse_space)
from resnet_nas.validation import LocatedConfigError

__all__ = [
    "Choice", "Constraints", "Fixed", "FloatRange",
    "IntRange", "KerasTunerTrial", "LocatedConfigError", "ParamSpec", "SearchDefaults",
    "SearchSpace", "StagesSpec", "TrialLike", "apply_overrides", "check_constraints",
    "load_space", "output_stride_problem", "overridden_text", "parse_override",
    "parse_overrides", "parse_param", "parse_space", "read_yaml", "resolve_io",
    "resolve_space_path", "sample_architecture", "scale_depth", "shipped_space_paths", "suggest",
    "total_stride",
]

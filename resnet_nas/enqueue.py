"""Known architectures as a search's first trials (`search --enqueue`).

What `--enqueue` takes, each placed in the space (resnet_nas.space.locate) before anything is
created, so a network that is no point of the space is refused naming what does not fit:

- `baselines`: the space's `search.baselines` (He et al.'s CIFAR ResNets for `cifar_resnet`,
  slim's resnet_v1/v2_50/101 for `slim_imagenet`);
- a known architecture's name (resnet_nas.nets.known: `resnet56`, `resnet_v1_50`, ...);
- an architecture config (what `export` and `configs` write), or a directory of them.

The Optuna engine enqueues their parameter values (`optuna.Study.enqueue_trial`), each marked with
the user attribute `enqueued` (its name or file name), which the trial's row keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_nas.arch_config import load_config
from resnet_nas.errors import UsageError
from resnet_nas.nets.arch import Architecture
from resnet_nas.nets.known import KNOWN_ARCHITECTURES, known_architecture
from resnet_nas.space.locate import NotInSpace, locate
from resnet_nas.space.schema import SearchSpace
from resnet_nas.validation import did_you_mean

#: `--enqueue baselines`: the space's own list.
BASELINES = "baselines"
#: The most architectures one search enqueues.
MAX_ENQUEUED = 1000


@dataclass(frozen=True)
class Enqueued:
    """A known architecture placed in a space.

    Attributes:
      label: what the row's `enqueued` column says: a known name or a config's file name.
      arch: the architecture the space samples with `params` (for this data).
      params: parameter values for Optuna's enqueue_trial.
    """

    label: str
    arch: Architecture
    params: dict[str, Any]


def _sources(items: Sequence[str], space: SearchSpace) -> list[tuple[str, str, Architecture]]:
    """(what was given, label, architecture) of every item, directories and `baselines`
    expanded."""
    out: list[tuple[str, str, Architecture]] = []
    for item in items:
        if item == BASELINES:
            if not space.search.baselines:
                raise UsageError("--enqueue", item, f"space {space.name!r} lists no baselines "
                                 "(search.baselines in its file)")
            out += [(item, n, known_architecture(n)) for n in space.search.baselines]
        elif item in KNOWN_ARCHITECTURES:
            out.append((item, item, known_architecture(item)))
        elif Path(item).is_dir():
            files = sorted(Path(item).glob("*.yaml")) + sorted(Path(item).glob("*.yml"))
            if not files:
                raise UsageError("--enqueue", item, "expected a directory of architecture "
                                 "configs (*.yaml), found none there")
            out += [(str(f), f.name, load_config(f).arch) for f in files]
        elif Path(item).is_file():
            out.append((item, Path(item).name, load_config(item).arch))
        else:
            hint = did_you_mean(item, [BASELINES, *KNOWN_ARCHITECTURES])
            raise UsageError("--enqueue", item, "expected 'baselines', a known architecture ("
                             f"{', '.join(sorted(KNOWN_ARCHITECTURES))}), an architecture "
                             "config file or a directory of them"
                             + (f" ({hint})" if hint else ""))
        if len(out) > MAX_ENQUEUED:
            raise UsageError("--enqueue", item, f"at most {MAX_ENQUEUED} architectures")
    return out


def place(items: Sequence[str], space: SearchSpace, input_shape: Sequence[int],
          num_classes: int) -> tuple[Enqueued, ...]:
    """The architectures `items` name, placed in `space` for data of `input_shape` and
    `num_classes` (one of each network: a repeated one is placed once).

    Raises:
      UsageError: an unknown name or missing path, or a network that is no point of the space
        (saying what does not fit).
      ConfigError: a malformed config (naming the file).
    """
    placed: dict[str, Enqueued] = {}
    for given, label, arch in _sources(items, space):
        try:
            where = locate(space, arch, input_shape, num_classes)
        except NotInSpace as e:
            shown = label if given == BASELINES else given
            raise UsageError("--enqueue", shown, f"is not a point of space {space.name!r}: "
                             f"{e}") from None
        placed.setdefault(where.arch.key(), Enqueued(label, where.arch, where.params))
    return tuple(placed.values())

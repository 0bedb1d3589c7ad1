"""Reading search-space YAML files: shipped names, line numbers in errors, duplicate keys.

`load_space` accepts a path or the name of a shipped space. Errors are ConfigErrors whose
message starts with `file:line:` when the offending key can be located in the file, e.g.

    search_spaces/my.yaml:7: space.stagse: expected one of the keys [...], found 'stagse'
    (did you mean 'stages'?)

The YAML dialect is PyYAML's safe subset with one fix: `1e-4` is read as a float (YAML 1.1
would read it as a string because it has no dot). Files are read through
`resnet_nas.fileio`: at most 1 MiB, no aliases, nesting at most 64 deep.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from resnet_nas.fileio import read_yaml_file, parse_yaml
from resnet_nas.space.schema import SearchSpace, parse_space
from resnet_nas.validation import (ConfigError, ConfigErrors, LocatedConfigError, did_you_mean,
                                   join)

_REPO_SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
_PACKAGE_SPACES = Path(__file__).resolve().parents[1] / "spaces"
_SUFFIXES = (".yaml", ".yml")


def shipped_space_paths() -> dict[str, Path]:
    """Shipped search spaces by name.

    Looks in the checkout's `search_spaces/` first, then in the installed package's
    `resnet_nas/spaces/` (a copy made for wheels); a name found in both comes from the checkout.
    """
    found: dict[str, Path] = {}
    for directory in (_REPO_SPACES, _PACKAGE_SPACES):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in _SUFFIXES and path.is_file():
                found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def resolve_space_path(path_or_name: str | os.PathLike) -> Path:
    """The file of a path or a shipped space name.

    Raises:
      ConfigError: when neither a file nor a shipped space of that name exists.
    """
    path = Path(path_or_name)
    if path.is_file():
        return path
    shipped = shipped_space_paths()
    text = str(path_or_name)
    looks_like_name = os.sep not in text and "/" not in text and path.suffix not in _SUFFIXES
    if looks_like_name and text in shipped:
        return shipped[text]
    hint = None
    if looks_like_name:
        hint = did_you_mean(text, shipped)
    elif path.parent.is_dir():
        others = [p.name for p in path.parent.iterdir() if p.suffix in _SUFFIXES]
        hint = did_you_mean(path.name, others)
    hint = (hint + "; " if hint else "") + "shipped spaces: " + (", ".join(shipped) or "none")
    raise ConfigError(text, "", "an existing search-space YAML file or a shipped space name",
                      text, hint=f"file not found; {hint}")


def read_yaml(path: str | os.PathLike) -> tuple[Any, dict[str, int]]:
    """Reads a search-space YAML file (bounded: see resnet_nas.fileio).

    Returns:
      (data, lines) where `lines` maps each key path ('space.stages.depth', 'x[0]') to its
      1-based line number.

    Raises:
      ConfigError: a file that is missing, too large, not UTF-8, has a syntax error (with line
        and column), an alias, too deep nesting, or a duplicate key.
    """
    source = str(path)
    data, node = read_yaml_file(path, "a search-space YAML file")
    lines: dict[str, int] = {}
    if node is not None:
        _index_lines(node, "", source, lines)
    return data, lines


def _index_lines(node: yaml.Node, path: str, source: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = join(path, key)
            if key in seen:
                raise LocatedConfigError(
                    ConfigError(source, child, "each key once in a mapping", key,
                                hint=f"duplicate key: also on line {seen[key]}"), line)
            seen[key] = line
            lines[child] = line
            _index_lines(value_node, child, source, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = join(path, i)
            lines[child] = item.start_mark.line + 1
            _index_lines(item, child, source, lines)


def line_of(path: str, lines: dict[str, int]) -> int | None:
    """Line of `path`, or of its nearest ancestor that appears in the file."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def parse_override(text: str) -> tuple[str, Any]:
    """Parses 'dotted.key=value' (the value as a YAML scalar or flow collection).

    Example: 'data.path=/datasets/imagenet', 'train.epochs=5', 'space.unit=[v1_basic]'.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError("<override>", text, "'dotted.key=value'", text)
    parsed = parse_yaml(value, "<override>")[0] if value.strip() else None
    return key.strip(), parsed


def parse_overrides(texts: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """{'dotted.key': value} of '--set key=value' texts (a key given twice keeps its last).

    Raises:
      ConfigError: a text that is not 'dotted.key=value' or whose value is not YAML (named as
        the flag).
    """
    out: dict[str, Any] = {}
    for text in texts:
        try:
            key, value = parse_override(text)
        except ConfigError as e:
            raise ConfigError(flag, text, "'dotted.key=value' (the value in YAML, e.g. "
                              "train.batch_size=16 or space.input_shape=[128,128,3])",
                              text, hint=e.hint) from None
        if not all(part and (part.isidentifier() or part.isdigit())
                   for part in key.split(".")):
            raise ConfigError(flag, text, "a dotted key of names, e.g. data.cache", key)
        out[key] = value
    return out


def apply_overrides(data: Any, overrides: Mapping[str, Any], source: str) -> Any:
    """Returns a copy of `data` with each 'dotted.key' set to its value (before validation).

    Per-stage keys take the stage index as a component: 'space.stages.per_stage.0.stride'.
    """
    data = copy.deepcopy(data) if data is not None else {}
    for dotted, value in overrides.items():
        node = data
        parts = str(dotted).split(".")
        for depth, part in enumerate(parts):
            key: Any = int(part) if part.isdigit() else part
            if not isinstance(node, dict):
                raise ConfigError(source, ".".join(parts[:depth]),
                                  f"a mapping to apply the override {dotted}=...", node)
            if depth == len(parts) - 1:
                node[key] = value
            else:
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
    return data


def overridden_text(path: str | os.PathLike, overrides: Mapping[str, Any]) -> str:
    """The YAML text of a space file with `overrides` applied (comments are lost), for a
    copy that must say what was searched."""
    data, _ = read_yaml(path)
    return yaml.safe_dump(apply_overrides(data, overrides, str(path)), sort_keys=False)


def load_space(path_or_name: str | os.PathLike,
               overrides: Mapping[str, Any] | None = None) -> SearchSpace:
    """Loads and validates a search space.

    Args:
      path_or_name: a YAML file, or the name of a shipped space (see shipped_space_paths).
      overrides: optional {'dotted.key': value} applied to the file's content before
        validation, e.g. {'data.path': '/datasets/imagenet', 'train.epochs': 5}; see
        parse_override for 'key=value' strings. They are validated like the file's own values.

    Returns:
      The SearchSpace; its `source` is the file it was read from.

    Raises:
      ConfigError: missing file, YAML syntax error, or invalid content; the message names the
        file, the line (when known) and the key path.
    """
    path = resolve_space_path(path_or_name)
    data, lines = read_yaml(path)
    overridden = list(overrides or {})
    if overrides:
        data = apply_overrides(data, overrides, str(path))
    try:
        return parse_space(data, str(path))
    except ConfigErrors as e:
        raise ConfigErrors([_locate(x, lines, overridden) for x in e.errors]) from None
    except ConfigError as e:
        raise _locate(e, lines, overridden) from None


def _locate(e: ConfigError, lines: dict[str, int], overridden: list[str]) -> ConfigError:
    """The error with its line in the file (or marked as coming from an override)."""
    if isinstance(e, LocatedConfigError):
        return e
    if any(e.path == k or e.path.startswith(k + ".") or e.path.startswith(k + "[")
           for k in overridden):
        hint = ((e.hint + "; ") if e.hint else "") + "value given as an override"
        return ConfigError(e.source, e.path, e.expected, e.found, hint)
    line = line_of(e.path, lines) if e.path != "<top level>" else None
    return e if line is None else LocatedConfigError(e, line)

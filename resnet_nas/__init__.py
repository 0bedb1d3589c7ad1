"""resnet_nas: neural architecture search over TF-slim-style ResNet design spaces.

The Python API (docs/python_api.md), each function the command of the same name:

    import resnet_nas

    result = resnet_nas.search("quickstart", trials=6)   # a SearchResult
    result.table                                         # one row per trial (DataFrame)
    path = resnet_nas.export(result.run_dir, trial="best")
    model = resnet_nas.build_model(path)                 # its Keras model, untrained
    space = resnet_nas.load_space("cifar_resnet")
    table = resnet_nas.load_table("runs/quickstart-20250101-120000")

`import resnet_nas` imports none of Keras, TensorFlow, Optuna or pandas: the functions live in
resnet_nas.api, imported when one of them is first used.
"""

from resnet_nas import keras_objects as _keras_objects

__version__ = "0.1.0"

__all__ = ["__version__", "build_model", "export", "load_space", "load_table", "search"]

_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str):
    """The API's functions, from resnet_nas.api on first use (PEP 562)."""
    if name in _API:
        from resnet_nas import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)


# keras.saving.load_model(path) of a saved resnet_nas model works after `import resnet_nas`,
# without importing Keras here (see resnet_nas.keras_objects).
_keras_objects.install()

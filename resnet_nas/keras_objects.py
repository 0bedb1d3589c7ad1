"""The package's Keras layers become loadable as soon as Keras is imported.

`keras.saving.load_model("model.keras")` finds a custom layer (the option-A shortcut's
`nets.resnet_utils.ChannelPad`, slim's batch norms) only once the module defining it has run
its `keras.saving.register_keras_serializable`. Importing that module from `import resnet_nas`
would import Keras and a backend into every process, the search process included, which never
needs them. So `import resnet_nas` registers the layers at once when Keras is already imported,
and otherwise when Keras finishes its own import (a one-shot import hook, removed once used).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: The modules whose import registers the package's Keras objects.
DEFINING_MODULES = ("resnet_nas.nets.resnet_utils",)


def register() -> None:
    """Imports the modules that define (and register) the package's Keras objects."""
    for name in DEFINING_MODULES:
        importlib.import_module(name)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds `keras` with the other finders, and runs `register` once Keras has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from finding us
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            register()

        spec.loader.exec_module = exec_then_register  # this spec's own loader object
        return spec


def install() -> None:
    """Registers now if Keras is imported, else once it is (idempotent)."""
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())

"""resnet_nas: neural architecture search over TF-slim-style ResNet design spaces."""

from resnet_nas import keras_objects as _keras_objects

__version__ = "0.1.0"

# keras.saving.load_model(path) of a saved resnet_nas model works after `import resnet_nas`,
# without importing Keras here (see resnet_nas.keras_objects).
_keras_objects.install()

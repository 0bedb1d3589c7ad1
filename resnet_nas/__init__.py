"""resnet_nas: neural architecture search over TF-slim-style ResNet design spaces."""

__version__ = "0.1.0"

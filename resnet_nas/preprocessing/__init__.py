"""Input preprocessing, named after TF-slim's `preprocessing_factory`: one module per family,
each turning one encoded image (JPEG or PNG bytes) into uint8 pixels at the input size, with
TensorFlow ops inside a tf.data pipeline (resnet_nas.input).

    cifar      training: the image at the input size (a central box of its aspect ratio,
               resized, when it has another size), padded and randomly cropped back, flipped;
               evaluation: the image at the input size. Normalised by the training split's
               mean and std.                                                      cifar.py
    inception  training: a random crop of a distorted bounding box (8-100% of the area,
               aspect 3/4-4/3), resized to the input size, flipped; evaluation: the central
               87.5%, resized. Scaled to [-1, 1].                                 inception.py
    vgg        training: the shorter side resized to a random size in [256, 512] x S/224
               (aspect kept), a random S x S crop, flipped; evaluation: the shorter side to
               256 x S/224, the central crop. slim's channel means subtracted.    vgg.py

The flips follow train.augment.flip, and cifar's padding train.augment.crop_padding and
pad_mode. The normalisation is not done here: it is the model's first layer
(resnet_nas.nets.normalization), so a saved model takes raw pixels.

Random draws are stateless, seeded per image by (seed, epoch, image index): an epoch's
augmentation does not depend on how many threads decode it.

Nothing here imports TensorFlow until a function is called.
"""

from __future__ import annotations

from resnet_nas.preprocessing.family import Preprocessing, get_preprocessing

__all__ = ["Preprocessing", "get_preprocessing"]

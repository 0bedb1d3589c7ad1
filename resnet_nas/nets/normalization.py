"""The input normalisation a model carries: raw pixels (0-255) in, normalised values to the
first convolution.

Plain data (no Keras import): it travels from the trial process's data (the training split's
statistics, or the preprocessing's fixed scaling) into the results row and the exported
config, and `build_model` turns it into the model's first layer, so a saved model takes raw
images: `keras.saving.load_model(p).predict(images)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resnet_nas.validation import ConfigError, join

#: slim's vgg_preprocessing channel means (_R_MEAN, _G_MEAN, _B_MEAN).
VGG_MEANS = (123.68, 116.78, 103.94)


@dataclass(frozen=True)
class InputNormalization:
    """`(x - mean) / std` per channel, in pixel units (0-255).

    Attributes:
      mean: one value per input channel.
      std: one value per input channel (> 0).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, mean: Sequence[float], std: Sequence[float]) -> InputNormalization:
        return cls(tuple(float(m) for m in mean), tuple(float(s) for s in std))

    @classmethod
    def for_preprocessing(cls, name: str, channels: int) -> InputNormalization | None:
        """The fixed scaling of a photo preprocessing (None for 'cifar', which uses the
        training split's statistics): inception maps 0..255 to [-1, 1] as slim's
        inception_preprocessing does; vgg subtracts slim's channel means."""
        if name == "inception":
            return cls((127.5,) * channels, (127.5,) * channels)
        if name == "vgg":
            means = VGG_MEANS if channels == 3 else (sum(VGG_MEANS) / 3,) * channels
            return cls(tuple(means), (1.0,) * channels)
        return None

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None,
                  path: str = "normalization") -> InputNormalization:
        """Validates {'mean': [...], 'std': [...]} (one finite number per channel, std > 0).

        Raises:
          ConfigError: naming the key.
        """
        if not isinstance(data, dict) or set(data) != {"mean", "std"}:
            raise ConfigError(source, path, "a mapping with 'mean' and 'std' lists", data)
        values = {}
        for key in ("mean", "std"):
            v = data[key]
            if (not isinstance(v, list) or not 1 <= len(v) <= 4 or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool)
                    and math.isfinite(x) and abs(x) <= 1e6 for x in v)):
                raise ConfigError(source, join(path, key), "a list of 1 to 4 finite numbers "
                                  "(one per input channel)", v)
            values[key] = v
        if len(values["mean"]) != len(values["std"]) or min(values["std"]) <= 0:
            raise ConfigError(source, join(path, "std"), "as many values as mean, each > 0",
                              values["std"])
        return cls.of(values["mean"], values["std"])

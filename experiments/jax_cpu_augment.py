"""What the JAX trainer's on-device augmentation costs on CPU: the same training, crop+flip on
and off, side by side in one process.

    KERAS_BACKEND=jax python experiments/jax_cpu_augment.py [--epochs 4] [--out DIR]

ResNet-20 (CIFAR, v1, option A) on 2,048 synthetic 16x16 images, batch 128, float32, the JAX
trainer; runs 'on', 'off', 'on' (the repeat shows the noise). Prints steady img/s (epochs
2..N) and each epoch's seconds; writes jax_cpu_augment.json under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default="experiments/results/jax-cpu-augment")
    args = parser.parse_args()
    from resnet_nas.config import AugmentConfig, TrainConfig
    from resnet_nas.data.synthetic import make_synthetic
    from resnet_nas.nets import build_model, cifar_resnet
    from resnet_nas.train import train_model
    from resnet_nas.train.runtime import seed_all

    data = make_synthetic(n_train=2048, n_test=128, shape=(16, 16, 3), num_classes=10, seed=0,
                          n_val=128)
    runs = []
    for name, aug in (("on", AugmentConfig(crop_padding=4, flip=True)),
                      ("off", AugmentConfig(crop_padding=0, flip=False)),
                      ("on", AugmentConfig(crop_padding=4, flip=True))):
        seed_all(0)
        model = build_model(cifar_resnet(depth=20, version=1, shortcut="A", num_classes=10,
                                         input_shape=(16, 16, 3)))
        cfg = TrainConfig(epochs=args.epochs, batch_size=128, trainer="jax", augment=aug,
                          learning_rate=0.05, warmup_epochs=0)
        result = train_model(model, data, cfg)
        runs.append({"augment": name, "images_per_second": result.images_per_second,
                     "epoch_seconds": [m.seconds for m in result.history]})
        print(f"augment {name}: {result.images_per_second:.0f} img/s, epochs "
              + ", ".join(f"{m.seconds:.2f}" for m in result.history) + " s", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jax_cpu_augment.json").write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

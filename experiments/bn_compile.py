"""What TensorFlow's fused batch-norm kernel would save of a new architecture's compile.

    python experiments/bn_compile.py [--repeat 3] [--depth 8] [--out DIR]

A prototype, not the package's code: each run is a fresh trial process (its start-up, the
digits data set) that builds a CIFAR ResNet (`resnet_nas.nets.cifar_resnet`, 8x8 digits),
sets its training up, warms it up (the trace and first run of the train and evaluation
steps: a new architecture's whole compile on the TensorFlow trainer) and trains 3 epochs.
Two modes alternate run by run:

  keras  Keras' BatchNormalization, as every search builds today: moments, the normalisation
         and the moving averages as separate ops, and their gradients op by op
  fused  the same layer's training call replaced by tf.nn.fused_batch_norm (one op, one
         gradient op), with Keras' moving-average rule (biased variance) kept

Prints each mode's median set-up, warm-up and steady epoch seconds, and the validation
accuracy after 3 epochs (the same to within the kernels' rounding, if the replacement is
faithful); writes bn_compile.json under --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.search_time import (  # noqa: E402
    alternation, comparison_table, run_snippet)

REPO = Path(__file__).resolve().parents[1]
MODES = ("keras", "fused")

#: Runs in the timed process: `mode` and `depth` are filled in.
SNIPPET = """
import json, os, time
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from resnet_nas.trial_startup import start_trial_process
start_trial_process("tensorflow")
import keras
import tensorflow as tf
if {mode!r} == "fused":
    keras_call = keras.layers.BatchNormalization.call

    def fused_call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None:
            return keras_call(self, inputs, training=training, mask=mask)
        y, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)[:3]
        n = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
        biased = unbiased * (n - 1.0) / n  # the fused kernel returns n / (n - 1) times it
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + biased * (1.0 - self.momentum))
        return y

    keras.layers.BatchNormalization.call = fused_call
from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.data import load_dataset
from resnet_nas.nets import cifar_resnet
from resnet_nas.nets.build import build_model
from resnet_nas.train import prepare_training
from resnet_nas.train.runtime import seed_all
data = load_dataset(DataConfig(name="digits", validation_split=0.2), seed=0)
seed_all(0)
t0 = time.perf_counter()
model = build_model(cifar_resnet({depth}, widths=(16, 32, 32), input_shape=(8, 8, 1),
                                 num_classes=10))
training = prepare_training(model, data, TrainConfig(epochs=3, batch_size=64, seed=0))
setup = time.perf_counter() - t0
warm = training.warm_up()
result = training.run()
print(json.dumps({{"setup": setup, "warm_up": warm,
                  "epoch": min(m.seconds for m in result.history[1:]),
                  "val_accuracy": result.history[-1].val_accuracy}}))
"""


def run_once(mode: str, depth: int) -> dict:
    return {"mode": mode, **run_snippet(REPO, SNIPPET.format(mode=mode, depth=depth))}


def table(runs: dict[str, list[dict]]) -> list[str]:
    """Markdown lines: per mode, the median (range) of each figure."""
    return comparison_table({mode: {key: [r[key] for r in results]
                                    for key in ("setup", "warm_up", "epoch", "val_accuracy")}
                             for mode, results in runs.items()}, fmt=".4g")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode")
    parser.add_argument("--depth", type=int, default=8, help="CIFAR ResNet depth (6n+2)")
    parser.add_argument("--out", default="experiments/results/bn-compile")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: expected a whole number >= 1")
    if args.depth < 8 or (args.depth - 2) % 6:
        parser.error("--depth: expected 6n+2 with n >= 1 (8, 14, 20, ...)")
    runs: dict[str, list[dict]] = {}
    # the two "sides" of a side-by-side comparison are the two modes here
    for side, i in alternation(args.repeat):
        mode = MODES[0] if side == "baseline" else MODES[1]
        result = run_once(mode, args.depth)
        runs.setdefault(mode, []).append(result)
        print(f"{mode} {i}: warm-up {result['warm_up']:.3f} s, epoch {result['epoch']:.3f} s, "
              f"val_accuracy {result['val_accuracy']:.4f}", flush=True)
    print(f"\nResNet-{args.depth} on digits, {args.repeat} fresh processes a mode, alternating")
    print("\n".join(table(runs)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bn_compile.json").write_text(json.dumps(
        {"depth": args.depth, "repeat": args.repeat, "runs": runs}, indent=1))
    print(f"wrote {out / 'bn_compile.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

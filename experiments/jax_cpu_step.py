"""Is the JAX trainer's CPU speed ours or XLA:CPU's? The bare jitted gradient step, timed alone.

    KERAS_BACKEND=jax python experiments/jax_cpu_step.py [--depth 20] [--batch 128] [--size 16]

Builds the same CIFAR ResNet as experiments/bench_trainer.py and times, in one process, after
a warm-up: (a) a bare `jax.jit(jax.value_and_grad(loss))` of `model.stateless_call` (no
optimizer, no augmentation, no metrics, no Python loop of ours: the least any JAX training
step can cost) and (b) the forward pass alone. Compare its img/s with the JAX trainer's steady
img/s from bench_trainer.py on the same sizes: when (a) is no faster than the trainer, the
trainer's own work (its per-step loop, augmentation, optimizer) is not what makes it slower
than TensorFlow's fit on CPU; XLA:CPU's convolutions are.
Prints a table; writes jax_cpu_step.json under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")


def timed(fn, repeats: int) -> float:
    """Median seconds of fn() (which blocks until its result is ready)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default="experiments/results/jax-cpu-step")
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from resnet_nas.nets import build_model, cifar_resnet

    arch = cifar_resnet(depth=args.depth, version=1, shortcut="A", num_classes=10,
                        input_shape=(args.size, args.size, 3))
    model = build_model(arch)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(args.batch, args.size, args.size, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, size=args.batch), jnp.int32)

    def loss(tv, ntv, x, y):
        logits, ntv = model.stateless_call(tv, ntv, x, training=True)
        logp = jax.nn.log_softmax(logits.astype(jnp.float32))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), ntv

    grad_step = jax.jit(jax.value_and_grad(loss, has_aux=True))
    forward = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])
    t0 = time.perf_counter()
    jax.block_until_ready(grad_step(tv, ntv, x, y))
    compile_grad = time.perf_counter() - t0
    jax.block_until_ready(forward(tv, ntv, x))
    step = timed(lambda: jax.block_until_ready(grad_step(tv, ntv, x, y)), args.repeats)
    fwd = timed(lambda: jax.block_until_ready(forward(tv, ntv, x)), args.repeats)
    rows = [{"what": "bare jitted value_and_grad step", "ms": 1000 * step,
             "images_per_second": args.batch / step},
            {"what": "jitted forward pass (inference)", "ms": 1000 * fwd,
             "images_per_second": args.batch / fwd}]
    print(f"resnet{args.depth}, batch {args.batch}, {args.size}x{args.size}, device "
          f"{jax.devices()[0].platform}, jax {jax.__version__} (first grad call incl. compile "
          f"{compile_grad:.1f} s)")
    print("| step | ms | img/s |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r['ms']:.1f} | {r['images_per_second']:.0f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jax_cpu_step.json").write_text(json.dumps(
        {"args": vars(args), "jax": jax.__version__, "rows": rows,
         "compile_seconds": compile_grad}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# The GPU measurements (issue 12), in phases that each fit one 10-minute run on a GPU machine.
#
#   bash experiments/device/run_gpu.sh PHASE
#
# PHASE:
#   speed     bench_trainer side by side: the JAX trainer, the hand-written PyTorch loop, and
#             Keras model.fit on the torch and JAX backends; ResNet-20 and -56, bf16, batch
#             512, CIFAR-10 JPEG. Compile + first epoch of a new architecture is in its table.
#   accuracy  the ResNet-20 (>= 90.0%) and ResNet-56 (>= 91.5%) recipes on the JPEG test
#             split, with time-to-accuracy (ResNet-20 first).
#   search    a real search on the GPU (cifar_resnet, --backend jax, a few trials), then
#             experiments/trial_timing.py: per-trial start-up, compile, training, evaluation.
#   ablation  experiments/ablate_recipe.py on ResNet-20 with the recipe's 100 epochs; an
#             optional second argument names the variants (comma separated).
#   all       what fits one 10-minute run, most important first: search (short),
#             speed (ResNet-20 and -56, 2 epochs each), accuracy (ResNet-20, the time left).
#   smoke     the same plumbing with tiny CPU sizes (a rehearsal on CPU, no GPU needed:
#             PY=.venv/bin/python bash experiments/device/run_gpu.sh smoke).
#
# Before the run, on the machine that prepares it (the GPU machine's image has JAX and PyTorch
# but not Keras, optree or Optuna; real CPython 3.12 wheels, no stand-ins):
#   mkdir -p .whl .data && cp ../shared/data/cifar10-jpeg.tar.gz .data/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl -r experiments/device/wheels.txt
#   python3 experiments/device/check_wheels.py          # every requirement met there?
# then, on the GPU machine, in a checkout with .whl/ and .data/ copied beside the code:
#   bash experiments/device/run_gpu.sh all
# Everything lands under $OUT: one archive gpu-PHASE.tgz (a single file to fetch back)
# and the log gpu-PHASE.log.
set -uo pipefail

PHASE=${1:?usage: run_gpu.sh speed|accuracy|search|ablation|all|smoke}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
OUT=${OUT:-$REPO/experiments/results/gpu}
WORK=$OUT/gpu-$PHASE
mkdir -p "$WORK"
exec > >(tee "$OUT/gpu-$PHASE.log") 2>&1

PY=${PY:-python3}  # the GPU machine's python3 holds JAX and PyTorch
if [ "$PHASE" != smoke ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PY experiments/device/check_wheels.py --wheels .whl || exit 1
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
DATA=.data/cifar10-jpeg.tar.gz
[ -f "$DATA" ] || DATA=../shared/data/cifar10-jpeg.tar.gz

pack() {  # one archive: a single file to fetch back
    tar -czf "$OUT/gpu-$PHASE.tgz" -C "$OUT" "gpu-$PHASE"
    echo "packed $OUT/gpu-$PHASE.tgz"
}
trap pack EXIT
# A run is killed at its limit; each step gets a share of what is left, so the archive is
# always written.
LIMIT=${RESNET_NAS_PHASE_SECONDS:-540}
left() { echo $(( LIMIT - SECONDS > 30 ? LIMIT - SECONDS : 30 )); }

{ nvidia-smi || true; $PY -c "import jax, keras, optuna; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__, 'optuna', optuna.__version__)"; } \
    > "$WORK/environment.txt" 2>&1
cat "$WORK/environment.txt"

# Workers time out inside the budget, so bench_trainer still writes its table for what ran.
bench() {  # bench SECONDS ARGS...
    local b=$1; shift
    timeout $((b + 20)) $PY experiments/bench_trainer.py --timeout $((b > 40 ? b - 20 : 20)) "$@"
}
speed() {  # speed EPOCHS SECONDS
    local e=$1 b=$2
    bench $((b / 2)) --data cifar10-jpeg --data-path "$DATA" --epochs "$e" --models 20,56 \
        --trainers jax,torch --precision mixed_bfloat16 --out "$WORK/jax_torch"
    KERAS_BACKEND=torch bench $((b / 4)) --data cifar10-jpeg --data-path "$DATA" --epochs "$e" \
        --models 20,56 --trainers fit --precision mixed_bfloat16 --out "$WORK/fit_torch"
    bench $((b / 4)) --data cifar10-jpeg --data-path "$DATA" --epochs "$e" --models 20,56 \
        --trainers fit --precision mixed_bfloat16 --out "$WORK/fit_jax"
}
search() {  # search SECONDS TRIALS EPOCHS DATA-ARGS...
    local b=$1 t=$2 e=$3; shift 3
    timeout "$b" $PY -m resnet_nas search cifar_resnet "$@" --backend jax --trials "$t" \
        --epochs "$e" --run-dir "$WORK/search" --no-progress
    $PY experiments/trial_timing.py "$WORK/search" --out "$WORK"
}
case "$PHASE" in
  speed) speed 5 "$(left)" ;;
  accuracy)
    bench $(( $(left) * 2 / 5 )) --data cifar10-jpeg --data-path "$DATA" --models 20 \
        --trainers jax --recipe cifar_resnet20 --target-acc 0.90 --out "$WORK/resnet20"
    bench "$(left)" --data cifar10-jpeg --data-path "$DATA" --models 56 --trainers jax \
        --recipe cifar_resnet56 --target-acc 0.915 --out "$WORK/resnet56"
    ;;
  search) search "$(left)" 6 10 --data "$DATA" ;;
  ablation)
    timeout "$(left)" $PY experiments/ablate_recipe.py --data-path "$DATA" --depth 20 \
        --variants "${2:-recipe,per_batch_crop,probe,bn_decay_0.997,label_smoothing_0.1,lr_0.2,warmup_1}" \
        --seeds 0 --out "$WORK"
    ;;
  all)
    search 150 4 5 --data "$DATA"
    speed 2 200
    bench "$(left)" --data cifar10-jpeg --data-path "$DATA" --models 20 --trainers jax \
        --recipe cifar_resnet20 --target-acc 0.90 --out "$WORK/resnet20"
    ;;
  smoke)
    bench 240 --tiny --trainers jax,fit --models 20 --out "$WORK/bench"
    # a tiny CIFAR-shaped image folder (10 classes, 32x32 PNG), made here, not committed
    $PY - "$WORK/smoke-data" <<'PYEOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for split, n in (("train", 30), ("test", 6)):
    for c in range(10):
        d = Path(sys.argv[1]) / split / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = np.clip(rng.normal(25 * c, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i}.png")
PYEOF
    search 300 2 1 --data "$WORK/smoke-data"
    timeout "$(left)" $PY experiments/ablate_recipe.py --tiny --variants recipe,probe \
        --out "$WORK/ablation"
    ;;
  *) echo "unknown phase $PHASE (speed|accuracy|search|ablation|all|smoke)"; exit 2 ;;
esac

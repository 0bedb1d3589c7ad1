#!/usr/bin/env bash
# The GPU measurements of issue 6, in phases that each fit one 10-minute device call.
#
#   bash experiments/device/run_gpu.sh PHASE
#
# PHASE:
#   speed     bench_trainer: ResNet-20 and -56, 5 epochs on CIFAR-10 JPEG, bf16, batch 512:
#             the JAX trainer, a hand-written PyTorch loop, and Keras model.fit (torch backend,
#             then JAX backend).                                          (~5 min on an H100)
#   accuracy  the recipes to their targets: ResNet-20 (>= 90.0%) and ResNet-56 (>= 91.5%),
#             time-to-accuracy recorded.                                  (~5 min)
#   ablation  experiments/ablate_recipe.py on ResNet-20 with the recipe's 100 epochs:
#             recipe, per-batch crop, the issue's probe, BN decay, smoothing, lr, warm-up.
#             An optional second argument names the variants (comma separated), to split
#             them over calls; merge the returned runs/ folders and run ablate_recipe.py with
#             the same flags here to get one table (stored runs are reused, not retrained).
#                                                                         (~1 min a variant)
#   smoke     the same plumbing with tiny CPU sizes (rehearsal, no GPU needed).
#
# On the device machine (no TensorFlow, no package index): first, here,
#   mkdir -p .whl .data && cp ../shared/data/cifar10-jpeg.tar.gz .data/
#   cp /opt/pypi/files/keras-3.15.1-py3-none-any.whl /opt/pypi/files/namex-0.1.0-py3-none-any.whl .whl/
# (add a cp312 optree wheel to .whl/ if you can get one; otherwise the pure-Python stand-in in
# experiments/device/optree is used), then call the device tool with carry [".whl", ".data"]
# and the command `bash experiments/device/run_gpu.sh speed`. Everything lands in ONE archive,
# $OUT/gpu-PHASE.tgz (the tool returns at most 8 files), plus $OUT/gpu-PHASE.log.
set -uo pipefail

PHASE=${1:?usage: run_gpu.sh speed|accuracy|ablation|smoke}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
OUT=${OUT:-$REPO/experiments/results/gpu}
WORK=$OUT/gpu-$PHASE
mkdir -p "$WORK"
exec > >(tee "$OUT/gpu-$PHASE.log") 2>&1

if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -n "${RESNET_NAS_FORCE_OPTREE_SHIM:-}" ] || ! python3 -c "import optree" 2>/dev/null; then
    echo "optree: using the pure-Python stand-in (experiments/device/optree)"
    export PYTHONPATH=$REPO/experiments/device${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
DATA=.data/cifar10-jpeg.tar.gz
[ -f "$DATA" ] || DATA=../shared/data/cifar10-jpeg.tar.gz
PY=python3

pack() {  # one archive: the device tool returns at most 8 files
    tar -czf "$OUT/gpu-$PHASE.tgz" -C "$OUT" "gpu-$PHASE"
    echo "packed $OUT/gpu-$PHASE.tgz"
}
trap pack EXIT
# A call is killed at its limit; stop our own work first so the archive is written.
LIMIT=${RESNET_NAS_PHASE_SECONDS:-540}
budget() { echo $(( LIMIT - SECONDS > 30 ? LIMIT - SECONDS : 30 )); }

{ nvidia-smi || true; $PY -c "import jax, keras; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__)"; } \
    > "$WORK/environment.txt" 2>&1
cat "$WORK/environment.txt"

# Workers time out inside the budget, so bench_trainer still writes its table for what ran.
bench() {
    local b; b=$(budget)
    timeout $((b + 20)) $PY experiments/bench_trainer.py --timeout $((b > 40 ? b - 20 : 20)) "$@"
}
case "$PHASE" in
  speed)
    bench --data cifar10-jpeg --data-path "$DATA" --epochs 5 --models 20,56 \
        --trainers jax,torch --precision mixed_bfloat16 --out "$WORK/jax_torch"
    KERAS_BACKEND=torch bench --data cifar10-jpeg --data-path "$DATA" --epochs 5 \
        --models 20,56 --trainers fit --precision mixed_bfloat16 --out "$WORK/fit_torch"
    bench --data cifar10-jpeg --data-path "$DATA" --epochs 5 --models 20,56 \
        --trainers fit --precision mixed_bfloat16 --out "$WORK/fit_jax"
    ;;
  accuracy)
    bench --data cifar10-jpeg --data-path "$DATA" --models 20 --trainers jax \
        --recipe cifar_resnet20 --target-acc 0.90 --out "$WORK/resnet20"
    bench --data cifar10-jpeg --data-path "$DATA" --models 56 --trainers jax \
        --recipe cifar_resnet56 --target-acc 0.915 --out "$WORK/resnet56"
    ;;
  ablation)
    timeout "$(budget)" $PY experiments/ablate_recipe.py --data-path "$DATA" --depth 20 \
        --variants "${2:-recipe,per_batch_crop,probe,bn_decay_0.997,label_smoothing_0.1,lr_0.2,warmup_1}" \
        --seeds 0 --out "$WORK"
    ;;
  smoke)
    bench --tiny --trainers jax,fit --models 20 --out "$WORK/bench"
    timeout "$(budget)" $PY experiments/ablate_recipe.py --tiny --variants recipe,probe \
        --out "$WORK/ablation"
    ;;
  *) echo "unknown phase $PHASE (speed|accuracy|ablation|smoke)"; exit 2 ;;
esac

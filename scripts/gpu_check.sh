#!/usr/bin/env bash
# The README's GPU numbers and checks, in one go, on a machine with one CUDA GPU:
#   scripts/gpu_check.sh [OUT] [STEPS...]
# STEPS (default: all, in this order): recipe epochs steps suite
#   recipe  the whole 50-epoch `improved` recipe on 49,000 fake CIFAR-100 images (history.json)
#   epochs  time per epoch of the recipe, without torch.compile and with its default mode
#   steps   training steps, ours vs timm, and memory format / torch.compile / CUDA graphs
#   suite   the README's test command
# Each step has a time limit and writes what it measured to OUT (default benchmarks/results/gpu)
# as it goes: one log, and a JSON file per benchmark.
set -uo pipefail
OUT=${1:-benchmarks/results/gpu}
shift || true
STEPS=${*:-recipe epochs steps suite}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
RES=$(mktemp -d)

step() {  # step NAME SECONDS COMMAND...: run it with a limit, log its time and exit status
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $* (limit $limit s)" | tee -a "$LOG"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$LOG"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
"$PY" -c "import torch, torchvision, timm; print('torch', torch.__version__, 'torchvision',
torchvision.__version__, 'timm', timm.__version__)" | tee -a "$LOG"

for s in $STEPS; do
    case $s in
    recipe)
        step recipe 200 "$PY" -m convnext_nb run improved --dataset fake_cifar100 \
            --subset 49000 --device cuda --runs-dir "$RES/runs" --no-progress
        find "$RES/runs" -name history.json -exec cp {} "$OUT/improved_history.json" \; ;;
    epochs)
        step epochs 200 "$PY" -m benchmarks --device cuda --sections epoch \
            --epoch-compile off default --out "$RES/epochs"
        cp "$RES/epochs/benchmark.json" "$OUT/epochs.json" ;;
    steps)
        step steps 200 "$PY" -m benchmarks --device cuda --repeats 5 --compile \
            --sections timm memory --stems patchify --out "$RES/steps"
        cp "$RES/steps/benchmark.json" "$OUT/steps.json"
        step steps512 90 "$PY" -m benchmarks --device cuda --repeats 5 --sections timm \
            --variants convnextv2_atto --stems cifar --batch-size 512 --out "$RES/steps512"
        cp "$RES/steps512/benchmark.json" "$OUT/steps512.json" ;;
    suite)
        step suite 300 "$PY" -m pytest -n 8 ;;
    *)
        echo "unknown step $s" | tee -a "$LOG" ;;
    esac
done

#!/usr/bin/env bash
# Every GPU-machine check of the kernels in one go (see ../shared/device/README.md), about 7
# minutes: run from the project root on the GPU machine, with .device/ carried along, as
#
#   bash .device/on-device.sh bash bench/device_checks.sh
#
# with $OUT set. Each step has its own time limit so one slow step cannot eat the others' time.
#   1. tests: every kernel variant (GEMM tiles, split-K, Winograd) against float64, on the GPU;
#   2. profile: autotune the paper net's shapes at batch 128 (choices saved to
#      $OUT/autotune.json, reused by the later steps), then one training step kernel by kernel;
#   3. train1: full-network training images/s at batch 128 with the tuned choices;
#   4. torch: PyTorch float32 (TF32 off for matmul and cuDNN, cudnn.benchmark on) and PyTorch's
#      own defaults, in the same run (per-layer times and full training images/s);
#   5. layers: our per-layer table (bench/mod.ts, no peers);
#   6. equivalence: one device and two compute the same function.
# The autotuner's candidates include every variant: the GEMM core's tiles and split-K, the direct
# kernels, Winograd F(2×2, 3×3) (conv3–5) and F(2×2, 5×5) (conv2), and the 1×1 GEMM.
#
# TINY=1 runs every step at toy sizes (the scaled net, batch 2–4, a few steps) to check the
# script end to end on lavapipe before spending device time: `TINY=1 bash bench/device_checks.sh`.
set -uo pipefail
TINY=${TINY:-0}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export NO_COLOR=1
export ALEXNET_AUTOTUNE=1 ALEXNET_AUTOTUNE_CACHE="$OUT/autotune.json"
step() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
  tail -n 30 "$OUT/$name.log"
}
if [ "$TINY" = 1 ]; then
  command -v deno >/dev/null || PATH="$PWD/node_modules/.bin:$PATH"
  step tests 300 env ALEXNET_AUTOTUNE=0 deno test -A --no-check tests/kernel_autotune_test.ts
  step profile 300 deno run -A bench/profile.ts --model small --batch 4 --out "$OUT/profile.json"
  step train1 300 deno run -A bench/alexnet_train.ts --batch 2 --steps 2 --warmup 1 \
    --out "$OUT/train1.json"
  step torch 60 python3 bench/torch_compare.py "$OUT/torch.json" 2
  # Tuning every layer's candidates takes lavapipe far too long: the profile step tuned.
  step layers 600 env ALEXNET_AUTOTUNE=0 deno run -A bench/mod.ts --only layers --batch 2 \
    --out "$OUT/bench.json"
  step equivalence 300 deno run -A bench/alexnet_equivalence.ts --batch 2
else
  # Tests force each variant; tuning stays off there (as in `deno task test`).
  step tests 75 env ALEXNET_AUTOTUNE=0 deno test -A --no-check tests/kernel_conv2d_test.ts \
    tests/kernel_matmul_test.ts tests/kernel_autotune_test.ts tests/kernel_pipelines_test.ts \
    tests/train_profile_test.ts
  step profile 120 deno run -A bench/profile.ts --model full --batch 128 --out "$OUT/profile.json"
  step train1 60 deno run -A bench/alexnet_train.ts --batch 128 --steps 100 \
    --out "$OUT/train1.json"
  step torch 75 python3 bench/torch_compare.py "$OUT/torch.json" 128
  step layers 50 deno run -A bench/mod.ts --only layers --out "$OUT/bench.json"
  step equivalence 30 deno run -A bench/alexnet_equivalence.ts --batch 8
fi
echo
echo "autotuner choices ($ALEXNET_AUTOTUNE_CACHE):"
cat "$ALEXNET_AUTOTUNE_CACHE" 2>/dev/null || echo "(none saved)"
echo; cat "$OUT/summary.txt"

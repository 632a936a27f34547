#!/usr/bin/env bash
# Every GPU-machine check in one go (see ../shared/device/README.md): run from the project root
# on the GPU machine as `bash .device/on-device.sh bash bench/device_checks.sh`, with $OUT set.
# Each step has its own time limit so one slow step cannot eat the others' time.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export NO_COLOR=1
step() { # name, seconds, command...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
  tail -n 25 "$OUT/$name.log"
}
step tests 45 deno test -A --no-check tests/tensor_ops_test.ts tests/tensor_matmul_ops_test.ts \
  tests/nn_alexnet_test.ts tests/sgd_test.ts
step bench 60 deno run -A bench/mod.ts --no-peers --out "$OUT/bench.json"
step torch 60 python3 bench/torch_compare.py "$OUT/torch.json" 128
step train1 60 deno run -A bench/alexnet_train.ts --batch 128 --steps 100 --out "$OUT/train1.json"
step train2 40 deno run -A bench/alexnet_train.ts --batch 128 --steps 20 --devices 2 --out "$OUT/train2.json"
step equivalence 30 deno run -A bench/alexnet_equivalence.ts --batch 8
echo; cat "$OUT/summary.txt"

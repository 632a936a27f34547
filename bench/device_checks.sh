#!/usr/bin/env bash
# Every GPU-machine check of issues 10 and 11 in one run (see ../shared/device/README.md): from the
# project root on the GPU machine, with .device/ carried along and $OUT set,
#
#   bash .device/on-device.sh bash bench/device_checks.sh     (run tool: carry .device, 600 s)
#
# It fits one 600 s run: the steps share a budget of $BUDGET seconds (480; on-device.sh takes
# ~20 s before), each step has its own limit too, and they run by priority, so a slow step cuts
# only the ones after it. Logs and JSON go to $OUT; a summary table (step, exit, seconds, key
# figure) ends the output, and $OUT/summary.txt holds it too. Estimated H200 seconds per step, from
# the last measurements (paper net 52.6 ms a step, PyTorch 24.1 ms), limit in brackets:
#   profile      60 [150] autotune the paper net's shapes at batch 128 (choices saved to
#                         $OUT/autotune.json, used by every later step), then one training step
#                         kernel by kernel; its rows' sum printed beside the step's GPU span and
#                         wall time (the check of the timestamp unit on this driver)
#   train1       20  [60] full-network training images/s at batch 128, tuned choices
#   host         10  [30] bench/host_step.ts: the JavaScript time to record one training step
#                         of the paper net at batch 128 (tuned choices), per step and per
#                         dispatch, the adapter's run held apart; the step's GPU waits
#   torch        45  [90] PyTorch float32 (TF32 off for matmul and cuDNN, cudnn.benchmark on) and
#                         PyTorch's defaults in the same run: per-layer ms and training images/s
#   tests        60  [90] the kernel tests, every variant forced (GEMM tiles, split-K, Winograd,
#                         register GEMM, 1×1 GEMMs), against float64, on the GPU (lavapipe: 63 s)
#   equivalence  15  [40] one device against two on the paper net (batch 8, training mode)
#   equivalence-separate 15 [40]  the same with two GPUDevices (the two-GPU path, via the host)
#   two-full     45  [75] one device against two at batch 128, both placements, with breakdown
#                         (the two-device steps run untuned: every device would tune its own)
#   cold         15  [40] bench/cold_start.ts: the default `train`'s first step (pipelines, ms),
#                         the driver's shader cache off, tuning off
#   layers       40  [60] our per-layer table (bench/mod.ts --only layers), tuned choices
#   two-tests    40  [60] the two-device tests in both placements
#   two-small    15  [30] the scaled net at batch 32 on one device against two
#   two-polling  10  [20] what makes the host wait on this driver (map polling, submits)
#   cold-tuned   20  [40] the same cold start as a first run by default: tuning on, none saved
#   fuzz         30  [90] the randomized conv and matmul sweeps, this adapter's candidates
#   fuzz-net     30  [60] random CNNs from the nn modules, two SGD steps against float64, one
#                         device against two bit for bit (untuned: each device would tune its own)
#   augment       5  [20] bench/augment.ts: the paper's augmentation of one batch, host ms from
#                         loader.next() to the input recorded (device kernel against host floats)
#                         and the crop kernel's GPU time
#   norm-tests    5  [30] batch, layer and group norm against float64 (tests/norm_ops_test.ts)
#   norm-bench   10  [20] bench/norm.ts: batch norm's training step, fused against composed
#   acts-tests   10  [30] activations (erf within 2 ulps rests on the driver's exp) and losses
#                         against float64 (tests/activation_test.ts, tests/loss_test.ts)
#   acts-bench   10  [20] bench/activations_losses.ts: fused activations and loss terms against
#                         their compositions, 16M elements
#   optim-tests  20  [40] SGD (Nesterov, dampening), Adam, RMSprop, Adagrad and gradient clipping
#                         against float64, as many segments a dispatch as this GPU binds (lavapipe
#                         takes 2): the multi-tensor kernels' wide switches compiled and run
# About 525 s estimated in all (the norm, activation and optimiser steps last, as the budget
# allows); the profile's tuning is the least certain (about 240 candidates of 30 shapes, each
# compiled, run 4 times and read back through two ~11 ms map waits; should it fail, train1 tunes
# its own shapes after its first step).
# ONLY="a b" runs only those steps (bench/two_devices_check.sh).
#
# TINY=1 runs every step at toy sizes (the scaled net at batch 4 for the tuned profile, the paper
# net at batch 2 untuned for training and the layer table; the same tests; limits ×8, a budget of
# an hour) to check the script end to end on lavapipe before spending device time (about 3
# minutes): `TINY=1 bash bench/device_checks.sh`.
set -uo pipefail
TINY=${TINY:-0}
OUT=${OUT:-/tmp/out}
BUDGET=${BUDGET:-$([ "$TINY" = 1 ] && echo 3600 || echo 480)}
ONLY=${ONLY:-}
mkdir -p "$OUT"
export NO_COLOR=1
export ALEXNET_AUTOTUNE=1 ALEXNET_AUTOTUNE_CACHE="$OUT/autotune.json"
command -v deno >/dev/null || PATH="$PWD/node_modules/.bin:$PATH"
: >"$OUT/summary.txt"
{ date -u; git rev-parse HEAD 2>/dev/null; deno --version | head -n 1; } >"$OUT/meta.txt"

# Key figures, read from a step's log (empty when the line is missing).
joined() { paste -sd ';' | sed 's/;/; /g'; }
key_tests() { grep -Eo '(ok|FAILED) \| [0-9]+ passed.*' "$1" | tail -n 1; }
key_profile() {
  local sums='.*rows sum ([0-9.]+) ms; GPU span[^0-9]*([0-9.]+) ms.* timestamps ([0-9.]+) ms.*'
  sed -nE "s/$sums/\\1 \\2 \\3/p" "$1" |
    awk '{ printf "rows %s / span %s / wall %s ms (rows/wall %.2f)", $1, $2, $3, $1 / $3 }'
  grep -Eo '^first step: [0-9.]+ ms, [0-9]+ pipelines' "$1" | sed 's/^/; /'
}
key_host() {
  grep -Eo 'host [0-9.]+ ms a step, [0-9.]+ µs a dispatch|augmenting one batch[^:]*: [0-9.]+ ms' "$1" |
    sed 's/ (the loader, same thread)//' | joined
}
key_train1() { grep -Eo '[0-9.]+ images/s \([0-9.]+ ms/step\)' "$1" | tail -n 1; }
key_torch() {
  grep -Eo '^(fp32_tf32_off|defaults): full AlexNet training [0-9]+ images/s' "$1" |
    sed 's/full AlexNet training //' | joined
}
key_layers() { grep -Eo 'sum of all layer passes.*' "$1" | sed 's/ (.*)//'; }
key_cold() { grep -Eo 'first step [0-9]+ ms, [0-9]+ pipelines' "$1"; }
key_cold-tuned() { key_cold "$1"; }
key_equivalence() {
  grep -Eo '(NOT )?EQUIVALENT|gradients: max relative difference [^ ]+' "$1" | joined
}
key_equivalence-separate() { key_equivalence "$1"; }
key_two-full() { grep -Eo '^[B-C] / A: [0-9.]+x' "$1" | joined; }
key_two-small() { key_two-full "$1"; }
key_two-tests() { key_tests "$1"; }
key_fuzz() { key_tests "$1"; }
key_fuzz-net() { key_tests "$1"; }
key_optim-tests() { key_tests "$1"; }
key_two-polling() { grep -Eo 'idle map resolved after [^;]+' "$1" | head -n 1; }
key_augment() {
  grep -Eo 'device kernel [0-9.]+, host floats [0-9.]+|crop kernel GPU time: [0-9.]+ ms' "$1" | joined
}

# step NAME LIMIT COMMAND...: runs COMMAND under min(LIMIT × $scale, budget left), logs to
# $OUT/NAME.log and adds a row to the summary.
step() {
  local name=$1 limit=$(($2 * scale)) start=$SECONDS rc key
  shift 2
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local left=$((BUDGET - SECONDS))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    printf '%s\t-\t0\tskipped: budget spent\n' "$name" >>"$OUT/summary.txt"
    return
  fi
  echo "== $name (limit $limit s): $*"
  timeout -k 5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  case $rc in 124 | 137) printf '\n(timed out after %s s)\n' "$limit" >>"$OUT/$name.log" ;; esac
  tail -n 8 "$OUT/$name.log"
  key=$("key_$name" "$OUT/$name.log" 2>/dev/null | paste -sd ' ')
  # No key figure: the log's last line says why (an error, a time-out).
  [ -z "$key" ] && key=$(grep -v '^\s*$' "$OUT/$name.log" | tail -n 1 | cut -c1-100)
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" "${key:--}" >>"$OUT/summary.txt"
}

# Every kernel variant forced (GEMM tiles, split-K, Winograd, register GEMM, 1×1 GEMMs) against
# float64 (lavapipe: about a minute).
tests=(tests/kernel_conv2d_test.ts tests/kernel_matmul_test.ts tests/kernel_autotune_test.ts
  tests/kernel_pipelines_test.ts tests/kernel_pool_lrn_test.ts tests/kernel_relu_mask_test.ts
  tests/relu_mask_fusion_test.ts tests/fused_passes_test.ts tests/sgd_multi_tensor_test.ts
  tests/dropout_test.ts tests/cross_entropy_test.ts tests/train_profile_test.ts)
two_tests=(tests/two_devices_test.ts tests/nn_alexnet_test.ts tests/nn_towers_test.ts)
untuned=(env ALEXNET_AUTOTUNE=0) # tests, as in `deno task test`, and the steps that say why
if [ "$TINY" = 1 ]; then
  scale=8 # lavapipe: limits for a loaded 2-core machine
  model=small profile_batch=4 batch=2 eq_batch=2 steps=2 warmup=1
  two=(--model small --batch 4 --steps 1 --repeats 2)
  tuning=0 # tuning the paper net's shapes takes lavapipe 1.5 minutes: the profile step tunes
else
  scale=1
  model=full profile_batch=128 batch=128 eq_batch=8 steps=150 warmup=5
  two=(--model full --batch 128 --steps 2 --repeats 3)
  tuning=1
fi

step profile 150 deno run -A bench/profile.ts --model "$model" --batch "$profile_batch" \
  --out "$OUT/profile.json"
step train1 60 env ALEXNET_AUTOTUNE=$tuning deno run -A bench/alexnet_train.ts --batch "$batch" \
  --steps "$steps" --warmup "$warmup" --out "$OUT/train1.json"
step host 30 env ALEXNET_AUTOTUNE=$tuning deno run -A bench/host_step.ts --batch "$batch" \
  --steps 20 --warmup 3 --out "$OUT/host_step.json"
step torch 90 python3 bench/torch_compare.py "$OUT/torch.json" "$batch"
step tests 90 "${untuned[@]}" deno test -A --no-check "${tests[@]}"
# The two-device steps run the GPU defaults, untuned, on every placement alike: each of the four
# devices would tune its towers' shapes itself (est. a minute or more); the tests cover every
# variant.
step equivalence 40 "${untuned[@]}" deno run -A bench/alexnet_equivalence.ts --batch "$eq_batch"
step equivalence-separate 40 "${untuned[@]}" deno run -A bench/alexnet_equivalence.ts \
  --batch "$eq_batch" --separate-devices
step two-full 75 "${untuned[@]}" deno run -A bench/two_devices.ts "${two[@]}" \
  --out "$OUT/two_devices_full.json"
# Cold starts: the NVIDIA driver's shader cache off (and pointed at an empty folder, should the
# switch not apply), Mesa's off (cold_start.ts), no saved tuning choices. `cold`: tuning off, the
# pipelines the first step compiles; `cold-tuned` (last): a first run as by default, tuning on.
cold_cache=$(mktemp -d)
no_caches() { # NAME: sets $no_caches to env assignments with caches of NAME's own
  no_caches=(ALEXNET_AUTOTUNE_CACHE="$cold_cache/$1/autotune.json" __GL_SHADER_DISK_CACHE=0
    __GL_SHADER_DISK_CACHE_PATH="$cold_cache/$1")
}
no_caches cold
step cold 40 "${untuned[@]}" "${no_caches[@]}" deno run -A bench/cold_start.ts \
  --out "$OUT/cold_start.json"
step layers 60 env ALEXNET_AUTOTUNE=$tuning deno run -A bench/mod.ts --only layers \
  --batch "$batch" --out "$OUT/bench.json"
step two-tests 60 "${untuned[@]}" deno test -A --no-check "${two_tests[@]}"
step two-small 30 "${untuned[@]}" deno run -A bench/two_devices.ts --model small --batch 32 \
  --steps 2 --repeats 5 --out "$OUT/two_devices_small.json"
step two-polling 20 deno run -A bench/two_devices_polling.ts --repeats 3
no_caches cold-tuned
step cold-tuned 40 env -u ALEXNET_AUTOTUNE "${no_caches[@]}" deno run -A bench/cold_start.ts \
  --out "$OUT/cold_start_tuned.json"
rm -rf "$cold_cache"
# Last, as time allows: the randomized sweeps, every candidate this adapter's autotuner may pick
# (the GPU tiles, split-K, Winograd) on random shapes against float64 (lavapipe: about 80 s).
step fuzz 90 "${untuned[@]}" deno test -A --no-check tests/fuzz_conv_test.ts \
  tests/fuzz_matmul_test.ts
step fuzz-net 60 "${untuned[@]}" deno test -A --no-check tests/fuzz_net_test.ts
# The paper's augmentation of one batch (128 × 256², crop 224, flip, PCA, mean image): the host's
# ms from loader.next() to the input recorded, device kernel against floats made on the host, and
# the crop kernel's GPU time.
augment_sizes=(--repeats 7)
[ "$TINY" = 1 ] && augment_sizes=(--batch 8 --side 64 --crop 56 --repeats 2)
step augment 20 deno run -A bench/augment.ts "${augment_sizes[@]}"
# Batch, layer and group norm against float64 on this adapter (lavapipe: 5 s), then batch norm's
# training step fused against composed from tensor ops at ResNet-like sizes.
step norm-tests 30 "${untuned[@]}" deno test -A --no-check tests/norm_ops_test.ts
norm_shapes="128,64,56,56;128,256,14,14;128,512,7,7"
[ "$TINY" = 1 ] && norm_shapes="8,64,28,28"
step norm-bench 20 deno run -A bench/norm.ts --shapes "$norm_shapes" --runs 7
# The activations and losses against float64 on this adapter (erf's 2-ulp bound rests on the
# driver's exp), then the fused kernels against the compositions they replace.
step acts-tests 30 "${untuned[@]}" deno test -A --no-check tests/activation_test.ts tests/loss_test.ts
acts_size=16777216
[ "$TINY" = 1 ] && acts_size=262144
step acts-bench 20 deno run -A bench/activations_losses.ts --size "$acts_size" --runs 7
# The optimisers and gradient clipping against float64 (lavapipe: about 30 s), with this GPU's
# segments a dispatch (up to 64 parameters in one switch).
step optim-tests 40 "${untuned[@]}" deno test -A --no-check tests/sgd_nesterov_test.ts \
  tests/adam_test.ts tests/rmsprop_adagrad_test.ts tests/clip_grad_test.ts

echo
choices=$(grep -c ': "' "$ALEXNET_AUTOTUNE_CACHE" 2>/dev/null || echo 0)
echo "autotuner choices: $choices in $ALEXNET_AUTOTUNE_CACHE (listed in profile.log)"
# This run's figures only: a log of an earlier run in $OUT may remain.
ran() { grep -qE "^$1"$'\t''[0-9]' "$OUT/summary.txt" && cat "$OUT/$1.log" 2>/dev/null; }
ours=$(ran train1 | grep -Eo '[0-9.]+ images/s' | tail -n 1 | cut -d' ' -f1)
for setting in fp32_tf32_off defaults; do
  torch=$(ran torch | grep -Eo "^$setting: full AlexNet training [0-9]+" | grep -Eo '[0-9]+$')
  if [ -n "$ours" ] && [ -n "$torch" ]; then
    printf 'ours / PyTorch %s: %s / %s images/s = %.2fx\n' "$setting" "$ours" "$torch" \
      "$(awk "BEGIN { print $ours / $torch }")"
  fi
done
echo
{ printf 'step\texit\ts\tkey figure\n'; cat "$OUT/summary.txt"; } |
  awk -F '\t' '{ printf "%-21s %-5s %-4s %s\n", $1, $2, $3, $4 }'
echo "total $SECONDS s (budget $BUDGET s)"

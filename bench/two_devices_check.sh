#!/usr/bin/env bash
# The two-device checks for the GPU machine (issue 11). bench/device_checks.sh can call it;
# alone: `bash bench/two_devices_check.sh` from the project root, deno on PATH, $OUT set.
#   two-tests:  the two-device tests (transfers, one vs two devices, failures) on the adapter,
#               in both placements (one shared GPUDevice, two GPUDevices);
#   two-full:   the paper's net at batch 128, one device against two sharing one GPUDevice
#               (exchange on the GPU) and two GPUDevices (exchange through the host), side by
#               side, with the breakdown (sync points, bytes, map waits, dispatches);
#   two-small:  the scaled net at batch 32, for comparison with lavapipe;
#   two-polling: what makes the host wait (map polling, blocking submits) on this driver.
# About 4 minutes on an H200; each part has its own time limit and log in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export NO_COLOR=1
parts=(
  "two-tests 90 deno test -A --no-check tests/two_devices_test.ts tests/nn_alexnet_test.ts tests/nn_towers_test.ts"
  "two-full 180 deno run -A bench/two_devices.ts --model full --batch 128 --steps 3 --repeats 5 --out $OUT/two_devices_full.json"
  "two-small 40 deno run -A bench/two_devices.ts --model small --batch 32 --steps 2 --repeats 15 --out $OUT/two_devices_small.json"
  "two-polling 30 deno run -A bench/two_devices_polling.ts --repeats 3"
)
for part in "${parts[@]}"; do
  read -r name limit command <<<"$part"
  start=$SECONDS
  timeout "$limit" bash -c "$command" >"$OUT/$name.log" 2>&1
  echo "$name: exit $? in $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
  tail -n 12 "$OUT/$name.log"
done

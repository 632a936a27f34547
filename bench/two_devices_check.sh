#!/usr/bin/env bash
# The two-device checks of bench/device_checks.sh alone (issue 11), on the GPU machine: from the
# project root, deno on PATH, $OUT set: `bash bench/two_devices_check.sh` (about 2.5 minutes on an
# H200). The one- against two-device equivalence (one shared GPUDevice, and two GPUDevices), the
# paper's net at batch 128 on one device against two in both placements with the breakdown, the
# two-device tests, the scaled net at batch 32, and what makes the host wait on this driver; see
# bench/device_checks.sh for each step and its time limit. TINY=1 runs them at toy sizes.
ONLY="equivalence equivalence-separate two-full two-tests two-small two-polling" \
  exec bash "$(dirname "${BASH_SOURCE[0]}")/device_checks.sh"

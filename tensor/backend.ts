/**
 * The GPU backend as the layers above the tensor see it: the device class with its profiler
 * and memory counters, and the kernel autotuner. `nn/`, `train/` and the CLI import these from
 * here, never from `kernels/`, so the tensor layer stays the one seam over the kernels.
 *
 * @module
 */

export { Device, type ProfileResult, type ProfileRow } from "../kernels/device.ts";
export {
  autotune,
  autotuneChoices,
  autotuneEnabled,
  type TuneResult,
} from "../kernels/autotune.ts";

/**
 * The training loop's statistics on the GPU: per step, a guard checks the loss for NaN/±∞
 * (and lowers a flag that makes the guarded SGD updates skip the step), adds the loss to
 * running totals and counts the top-1/top-5 errors, all without a readback. The totals are
 * read back every few steps by {@link StepStatistics.drain}.
 *
 * This is the one place above `kernels/` where the loop's statistics touch GPU buffers.
 *
 * @module
 */

import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  countTopKErrors,
  decodeStepStats,
  initialStepStats,
  STEP_STATS_BYTES,
  STEP_STATS_COUNTERS_FROM,
  STEP_STATS_WORDS,
  stepGuard,
  type StepStats,
} from "../kernels/sgd.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { OptimizerStepOptions } from "./optimizer.ts";

export type { StepStats } from "../kernels/sgd.ts";

/** Running loss and error totals on one device, with the step guard's flag. */
export class StepStatistics {
  /** Where the totals live: the device of the losses and logits. */
  readonly device: Device;
  readonly #stats: GpuBuffer;
  /** Copies of the flag on the other devices that hold parameters. */
  readonly #flags = new Map<Device, GpuBuffer>();

  /** Allocates the totals on `device`, and a flag on each other of `paramDevices`. */
  constructor(device: Device, paramDevices: Iterable<Device> = []) {
    this.device = device;
    this.#stats = device.alloc(STEP_STATS_BYTES, "step stats");
    device.write(this.#stats, initialStepStats());
    for (const d of paramDevices) {
      if (d !== device && !this.#flags.has(d)) {
        const flag = d.alloc(16, "step flag");
        d.write(flag, new Uint32Array([1, 0, 0, 0]));
        this.#flags.set(d, flag);
      }
    }
  }

  /**
   * Records one batch: the guard on `loss` (a mean over `count` images) and the top-k errors
   * of `scores` `[count, classes]` against the i32 `labels`. With `guarded`, errors of a step
   * whose loss was not finite are not counted (training); evaluation counts them all.
   */
  record(loss: Tensor, scores: Tensor, labels: Tensor, guarded: boolean): void {
    const count = labels.shape[0] as number;
    const s = scores.isContiguous ? scores : scores.contiguous();
    stepGuard(this.device, loss.storage.buffer, this.#stats, count);
    countTopKErrors(
      this.device,
      s.storage.buffer,
      labels.storage.buffer,
      this.#stats,
      count,
      s.shape[1] as number,
      { guarded },
    );
    if (s !== scores) s.dispose();
  }

  /**
   * The step options that make an optimiser obey the guard. With parameters on other devices
   * the flag reaches them through the host without the host waiting: call this right after
   * {@link record}; the other devices' updates, recorded later, run once it has arrived.
   */
  guard(): Promise<OptimizerStepOptions> {
    if (this.#flags.size === 0) return Promise.resolve({ guard: this.#stats });
    const copies = [...this.#flags.values()].map((flag) => ({
      source: this.#stats,
      target: flag,
      bytes: 4,
    }));
    // A failure stops the devices; their next read or sync raises it, naming the device.
    Device.copyAcross(copies).catch(() => {});
    return Promise.resolve({ guard: new Map([[this.device, this.#stats], ...this.#flags]) });
  }

  /** Reads the totals back and zeroes the counters (the flag and the non-finite runs stay). */
  async drain(): Promise<StepStats> {
    const pending = this.device.read(this.#stats, 0, STEP_STATS_BYTES);
    const zero = new Uint32Array(STEP_STATS_WORDS - STEP_STATS_COUNTERS_FROM);
    this.device.write(this.#stats, zero, STEP_STATS_COUNTERS_FROM * 4);
    return decodeStepStats(await pending);
  }

  /** Restores the non-finite counters of a checkpoint, with the flag raised. */
  restore(consecutive: number, total: number): void {
    const words = initialStepStats();
    words[1] = consecutive;
    words[2] = total;
    this.device.write(this.#stats, words);
  }

  /** Frees the buffers. */
  dispose(): void {
    this.device.release(this.#stats);
    for (const [device, flag] of this.#flags) device.release(flag);
    this.#flags.clear();
  }
}

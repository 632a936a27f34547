/**
 * The step guard: a training step's verdict and running statistics, kept on the GPU so that a
 * loop never reads a loss back per step. A step is accepted only when its loss, every gradient
 * and every updated weight and velocity are finite; otherwise every update is skipped on the
 * GPU (weights and momentum stay as they were) and the step is counted as skipped.
 *
 * One step: {@link StepGuard.begin} on the loss, backward, the optimiser's checks (`sgdCheckAll`),
 * {@link StepGuard.settle} (the verdict, through the host only when parameters live on several
 * GPUDevices), the guarded updates (`sgdUpdateAll`) and {@link StepGuard.countTopK}.
 *
 * @module
 */

import { Device, StagingBuffer } from "../kernels/device.ts";
import {
  commitStep,
  countTopKErrors,
  decodeStepStats,
  guardLoss,
  initialStepStats,
  STEP_STATS_BYTES,
  STEP_STATS_COUNTERS_FROM,
  STEP_STATS_WORDS,
  type StepStats,
} from "../kernels/step_stats.ts";
import type { RawTensor } from "./_core.ts";
import { contiguous, upload } from "./_primitives.ts";
import { rawOf, type Tensor } from "./tensor.ts";

export type { StepStats, StepTotals } from "../kernels/step_stats.ts";

const RAISED = new Uint32Array([1, 0, 0, 0]);

let flagOf: (guard: StepGuard, device: Device) => RawTensor;

/**
 * The flag of `guard` on `device`, for the fused optimiser ops (`fused_sgd.ts`): created
 * raised on first use.
 */
export function guardFlag(guard: StepGuard, device: Device): RawTensor {
  return flagOf(guard, device);
}

/**
 * A training step's guard flag and statistics, on the device of the loss (with a copy of the
 * flag on every other device that holds parameters).
 *
 * @example A step whose gradient holds ∞ is skipped and counted
 * ```ts
 * import { defaultDevice, sgdCheck, sgdUpdate, StepGuard, tensor, zeros } from "../mod.ts";
 * const device = await defaultDevice();
 * const guard = new StepGuard(device);
 * const slot = { param: tensor([1, 2]), velocity: zeros([2]), grad: tensor([1, Infinity]) };
 * const h = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
 * guard.begin(tensor([0.5]), 8); // the step's loss, a mean over 8 images
 * sgdCheck(slot, h, guard); // every parameter is checked first…
 * await guard.settle();
 * sgdUpdate(slot, h, guard); // …then updated, unless the step is bad
 * const stats = await guard.drain();
 * console.log(stats.skipped, await slot.param.toArray()); // 1 [1, 2]
 * ```
 */
export class StepGuard {
  static {
    flagOf = (guard, device) => guard.#flagOn(device);
  }

  /** The device of the losses and logits, which holds the statistics. */
  readonly device: Device;
  readonly #stats: RawTensor;
  readonly #flags = new Map<Device, RawTensor>();
  #flagStaging: StagingBuffer[] = [];
  #loss: RawTensor | null = null;
  #images = 0;

  /** Allocates the statistics on `device`, and a flag on each other of `paramDevices`. */
  constructor(device: Device, paramDevices: Iterable<Device> = []) {
    this.device = device;
    this.#stats = upload(device, initialStepStats(), [STEP_STATS_WORDS], "i32", "step stats");
    for (const d of paramDevices) this.#flagOn(d);
  }

  /** Every device with a flag: the statistics' device first. */
  get devices(): Device[] {
    return [this.device, ...this.#flags.keys()];
  }

  /** Whether a step was begun and not yet settled. */
  get pending(): boolean {
    return this.#loss !== null;
  }

  /**
   * Begins a training step on `loss` (a mean over `images` images): the flag is raised when
   * the loss is finite and lowered otherwise. Call it before backward.
   */
  begin(loss: Tensor, images: number): void {
    if (loss.device !== this.device) {
      throw new Error(
        `StepGuard: the loss is on ${loss.device.label}, the statistics on ${this.device.label}`,
      );
    }
    if (!Number.isInteger(images) || images < 0) {
      throw new RangeError(`StepGuard: images must be a non-negative integer, got ${images}`);
    }
    this.#loss?.dispose();
    this.#loss = contiguous(rawOf(loss));
    this.#images = images;
    guardLoss(this.device, this.#loss.buffer, this.#stats.buffer);
    for (const [device, flag] of this.#flags) device.write(flag.buffer, RAISED);
  }

  /** The flag on `device` (created raised on first use): a u32 that is 1 while the step is good. */
  #flagOn(device: Device): RawTensor {
    // A device that shares the statistics' GPUDevice uses their flag itself: its checks and
    // updates are in the same submission order, so nothing needs to cross (no host wait).
    if (device === this.device || device.sharesGpuWith(this.device)) return this.#stats;
    let flag = this.#flags.get(device);
    if (!flag) {
      flag = upload(device, RAISED, [4], "i32", "step flag");
      this.#flags.set(device, flag);
    }
    return flag;
  }

  /**
   * Settles the step begun by {@link StepGuard.begin}, after every check: with flags on
   * several devices, their conjunction is made through the host (one read of them all) and
   * written back to each, without the caller waiting: the updates recorded next run once it has
   * arrived. Then counts the step as accepted or skipped. With one device nothing crosses.
   */
  async settle(): Promise<void> {
    if (!this.#loss) return;
    if (this.#flags.size > 0) {
      const flags = [this.#stats, ...this.#flags.values()].map((f) => f.buffer);
      const allUp = (parts: readonly Uint8Array[]): Uint8Array =>
        new Uint8Array(Uint32Array.of(parts.every((p) => p.some((b) => b !== 0)) ? 1 : 0).buffer);
      const staging = this.#staging();
      await Promise.all(staging.map((s) => s.ready()));
      // A failure stops the devices; their next read or sync raises it, naming the device.
      Device.combineAcross(flags, 4, flags, allUp, staging).catch(() => {});
    }
    this.#commit();
  }

  /** One staging buffer per device's flag, kept across steps. */
  #staging(): StagingBuffer[] {
    const devices = this.devices;
    if (this.#flagStaging.length !== devices.length) {
      for (const s of this.#flagStaging) s.destroy();
      this.#flagStaging = devices.map((d) => new StagingBuffer(d, "step flag"));
    }
    return this.#flagStaging;
  }

  /**
   * {@link StepGuard.settle} without a wait, for a guard on one device (what an optimiser's
   * `step` does when the loop has not settled). Throws when flags live on several devices.
   */
  settleOnDevice(): void {
    if (!this.#loss) return;
    if (this.#flags.size > 0) {
      throw new Error(
        `StepGuard: parameters live on ${this.devices.length} devices; run the optimiser's ` +
          "checks, then `await guard.settle()`, before its step",
      );
    }
    this.#commit();
  }

  #commit(): void {
    commitStep(this.device, this.#loss!.buffer, this.#stats.buffer, this.#images);
    this.#loss!.dispose();
    this.#loss = null;
  }

  /**
   * Counts the top-1 and top-5 errors of `logits [N, classes]` against i32 `labels [N]`: an
   * image errs at k when k or more classes score strictly higher than its label, or when its
   * label's score is NaN. With `guarded` (training), a skipped step's errors are not counted.
   */
  countTopK(logits: Tensor, labels: Tensor, guarded = true): void {
    const scores = contiguous(rawOf(logits));
    const [batch, classes] = scores.shape;
    const labelData = contiguous(rawOf(labels));
    countTopKErrors(
      this.device,
      scores.buffer,
      labelData.buffer,
      this.#stats.buffer,
      batch,
      classes,
      {
        guarded,
      },
    );
    scores.dispose();
    labelData.dispose();
  }

  /**
   * Records an evaluation batch: its loss (a mean over the batch) and top-k errors, all counted
   * (a non-finite loss counts as a skipped step, which makes the mean loss NaN).
   */
  record(loss: Tensor, logits: Tensor, labels: Tensor): void {
    this.begin(loss, labels.shape[0] as number);
    this.settleOnDevice();
    this.countTopK(logits, labels, false);
  }

  /** Reads the statistics back (waits for the GPU). */
  async read(): Promise<StepStats> {
    return decodeStepStats(await this.device.read(this.#stats.buffer, 0, STEP_STATS_BYTES));
  }

  /** Reads the statistics back and zeroes the totals (the flag and the runs persist). */
  async drain(): Promise<StepStats> {
    const pending = this.device.read(this.#stats.buffer, 0, STEP_STATS_BYTES);
    const zero = new Uint32Array(STEP_STATS_WORDS - STEP_STATS_COUNTERS_FROM);
    this.device.write(this.#stats.buffer, zero, STEP_STATS_COUNTERS_FROM * 4);
    return decodeStepStats(await pending);
  }

  /**
   * Restores the skipped-step runs of a resumed run (the totals start from zero): `consecutive`
   * skipped steps in a row, `total` in all.
   */
  restore(consecutive: number, total: number): void {
    const words = initialStepStats();
    words[1] = consecutive;
    words[2] = total;
    this.device.write(this.#stats.buffer, words);
  }

  /** Frees the statistics and the flags. */
  dispose(): void {
    this.#loss?.dispose();
    this.#loss = null;
    this.#stats.dispose();
    for (const flag of this.#flags.values()) flag.dispose();
    this.#flags.clear();
    for (const staging of this.#flagStaging) staging.destroy();
    this.#flagStaging = [];
  }
}

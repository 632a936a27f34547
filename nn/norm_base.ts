/**
 * What batch and instance normalisation layers share, as PyTorch's `_NormBase`: the channel
 * count and constants, the optional per-channel scale and shift, and the optional running
 * statistics kept as buffers under PyTorch's names.
 *
 * @module
 */

import { requireBoolean, requireCount, requireNumber } from "../tensor/options.ts";
import { fromTypedArray, ones, zeros } from "../tensor/creation.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { noGrad } from "../tensor/_autograd.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module, type Parameter } from "./module.ts";

/** Options of a {@link NormBase}, PyTorch's arguments (each layer has its own defaults). */
export interface NormConfig {
  /** C, the channels (features) normalised. */
  numFeatures: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** The batch's weight in the running statistics (default 0.1); null: see the layer. */
  momentum?: number | null;
  /** Learn a per-channel scale (`weight`, ones) and shift (`bias`, zeros). */
  affine?: boolean;
  /** Keep running statistics (`running_mean`, `running_var`, `num_batches_tracked`). */
  trackRunningStats?: boolean;
  /** Where the parameters and buffers live (default: the default device). */
  device?: Device;
}

/**
 * The parameters, buffers and constants of a normalisation layer over C channels; the layers
 * add `forward` ({@link BatchNorm1d}, {@link InstanceNorm2d}, ...).
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { BatchNorm2d, type NormBase } from "./mod.ts";
 * await defaultDevice();
 * const layer: NormBase = new BatchNorm2d({ numFeatures: 3 });
 * console.log(layer.namedBuffers().map(([name]) => name)); // ["running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export abstract class NormBase extends Module {
  /** C. */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** The running statistics' update weight, or null (see the layer). */
  readonly momentum: number | null;
  /** Whether the layer has `weight` and `bias`. */
  readonly affine: boolean;
  /** Whether the layer keeps running statistics. */
  readonly trackRunningStats: boolean;

  /** Creates the parameters and buffers on `config.device`; `defaults` fill what is not set. */
  constructor(
    config: NormConfig,
    defaults: { affine: boolean; trackRunningStats: boolean },
  ) {
    super();
    const c = config.numFeatures, op = new.target.name;
    requireCount(op, "numFeatures", c);
    this.numFeatures = c;
    this.eps = config.eps ?? 1e-5;
    this.momentum = config.momentum === undefined ? 0.1 : config.momentum;
    this.affine = config.affine ?? defaults.affine;
    this.trackRunningStats = config.trackRunningStats ?? defaults.trackRunningStats;
    // A string or NaN here would reach the kernels as NaN statistics, found only in training.
    requireNumber(op, "eps", this.eps);
    if (this.momentum !== null) requireNumber(op, "momentum", this.momentum);
    requireBoolean(op, "affine", this.affine);
    requireBoolean(op, "trackRunningStats", this.trackRunningStats);
    const device = config.device ?? currentDevice();
    if (this.affine) {
      this.registerParameter("weight", ones([c], { device }));
      this.registerParameter("bias", zeros([c], { device }));
    }
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", zeros([c], { device }));
      this.registerBuffer("running_var", ones([c], { device }));
      // Optional in a state dict, as PyTorch's _NormBase loads one without it (older
      // checkpoints, plain dicts of weights and statistics): the count is kept.
      this.registerBuffer(
        "num_batches_tracked",
        fromTypedArray(new Int32Array(1), [], { device, dtype: "i32" }),
        { optional: true },
      );
    }
  }

  /** The scale `[C]`, or null without `affine`. */
  get weight(): Parameter | null {
    return this.affine ? this.getParameter("weight") : null;
  }

  /** The shift `[C]`, or null without `affine`. */
  get bias(): Parameter | null {
    return this.affine ? this.getParameter("bias") : null;
  }

  /** The running mean `[C]`, or null without running statistics. */
  get runningMean(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer("running_mean") : null;
  }

  /** The running variance `[C]`, or null without running statistics. */
  get runningVar(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer("running_var") : null;
  }

  /** The count of training batches (i32, shape `[]`), or null without running statistics. */
  get numBatchesTracked(): Tensor | null {
    return this.trackRunningStats ? this.getBuffer("num_batches_tracked") : null;
  }

  /**
   * Sets the running statistics back to their start, as PyTorch's `reset_running_stats`: mean
   * 0, variance 1, count 0 (nothing without running statistics).
   *
   * @example
   * ```ts
   * import { defaultDevice, randn } from "../mod.ts";
   * import { BatchNorm1d } from "./mod.ts";
   * await defaultDevice();
   * const bn = new BatchNorm1d({ numFeatures: 2 });
   * bn.forward(randn([4, 2])).dispose();
   * bn.resetRunningStats();
   * console.log(await bn.runningVar!.data(), await bn.numBatchesTracked!.data()); // [1, 1] [0]
   * ```
   */
  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    const c = this.numFeatures;
    noGrad(() => {
      this.getBuffer("running_mean").assign(new Float32Array(c));
      this.getBuffer("running_var").assign(new Float32Array(c).fill(1));
      this.getBuffer("num_batches_tracked").assign(new Int32Array(1));
    });
  }
}

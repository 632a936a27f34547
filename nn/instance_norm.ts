/**
 * Instance normalisation layers, as PyTorch's `nn.InstanceNorm1d`, `nn.InstanceNorm2d` and
 * `nn.InstanceNorm3d`: each channel of each sample normalised by its own statistics, with an
 * optional per-channel scale and shift and optional running statistics.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { instanceNorm } from "../tensor/ops_norm.ts";
import { type Shape, ShapeError } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { NormBase, type NormConfig } from "./norm_base.ts";

/** Options of the instance norm layers, PyTorch's arguments and defaults. */
export interface InstanceNormConfig extends NormConfig {
  /** The batch's weight in the running statistics (default 0.1; null: they stay as they are). */
  momentum?: number | null;
  /** Learn a per-channel scale (`weight`, ones) and shift (`bias`, zeros); default false. */
  affine?: boolean;
  /**
   * Keep running statistics (the batch's mean of the instances') and normalise by them in
   * evaluation; default false: every instance by its own statistics, always. The count
   * `num_batches_tracked` is kept for PyTorch's state dict and never advances, as there.
   */
  trackRunningStats?: boolean;
}

const INSTANCE_NORM_OPTIONS = optionNames<InstanceNormConfig>({
  numFeatures: true,
  eps: true,
  momentum: true,
  affine: true,
  trackRunningStats: true,
  device: true,
});

/**
 * What {@link InstanceNorm1d}, {@link InstanceNorm2d} and {@link InstanceNorm3d} share
 * (PyTorch's `_InstanceNorm`): they differ only in the input ranks they accept, each with or
 * without the batch axis.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { type InstanceNorm, InstanceNorm2d } from "./instance_norm.ts";
 * await defaultDevice();
 * const layer: InstanceNorm = new InstanceNorm2d({ numFeatures: 3, trackRunningStats: true });
 * console.log(Object.keys(await layer.stateDict())); // ["running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export abstract class InstanceNorm extends NormBase {
  /** The rank of a batch; one less is a single unbatched sample. */
  protected abstract readonly rank: number;

  /** Creates the parameters and buffers on `config.device`. */
  constructor(config: InstanceNormConfig) {
    super(config, { affine: false, trackRunningStats: false });
    checkOptions("InstanceNorm", config, INSTANCE_NORM_OPTIONS, true);
  }

  /**
   * Normalises `x` (batched, or one unbatched sample): by each instance's statistics, or in
   * evaluation with running statistics by those.
   */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    const shape = x.shape as readonly number[];
    this.outputShape(shape);
    const batched = shape.length === this.rank;
    const input = batched ? x : x.reshape([1, ...shape]);
    const tracking = this.trackRunningStats;
    const useInputStats = this.training || !tracking;
    // Read in evaluation; updated in training unless momentum is null (PyTorch's 0).
    const running = tracking && (!useInputStats || this.momentum !== null)
      ? { runningMean: this.runningMean, runningVar: this.runningVar }
      : {};
    const y = instanceNorm(input, {
      weight: this.weight,
      bias: this.bias,
      ...running,
      useInputStats,
      momentum: this.momentum ?? 0,
      eps: this.eps,
    });
    if (batched) return y as Tensor<S, "f32">;
    input.dispose();
    const out = y.reshape(shape);
    y.dispose();
    return out as Tensor<S, "f32">;
  }

  /** The output shape: the input's, checked as `forward` checks it. */
  outputShape(input: readonly number[]): number[] {
    const name = this.constructor.name;
    if (input.length !== this.rank && input.length !== this.rank - 1) {
      throw new ShapeError(
        `${name}: expected ${this.rank - 1}D (unbatched) or ${this.rank}D (batched) input ` +
          `(got ${input.length}D input)`,
      );
    }
    const channels = input[input.length - this.rank + 1];
    // Without affine or running statistics nothing has C's size, and PyTorch only warns.
    if (channels !== this.numFeatures && (this.affine || this.trackRunningStats)) {
      throw new ShapeError(
        `${name}: expected input's size at dim=${input.length - this.rank + 1} to match ` +
          `num_features (${this.numFeatures}), but got: ${channels}.`,
      );
    }
    return [...input];
  }
}

/**
 * Instance normalisation of `[N, C, L]` (or unbatched `[C, L]`) over L, as PyTorch's
 * `nn.InstanceNorm1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { InstanceNorm1d } from "./instance_norm.ts";
 * await defaultDevice();
 * const norm = new InstanceNorm1d({ numFeatures: 2 });
 * console.log(await norm.forward(tensor([[1, 3], [10, 30]])).toArray()); // ≈ [[-1, 1], [-1, 1]]
 * ```
 */
export class InstanceNorm1d extends InstanceNorm {
  /** `[N, C, L]`. */
  protected readonly rank = 3;
}

/**
 * Instance normalisation of `[N, C, H, W]` (or unbatched `[C, H, W]`) over H and W, as
 * PyTorch's `nn.InstanceNorm2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { InstanceNorm2d } from "./instance_norm.ts";
 * await defaultDevice();
 * const norm = new InstanceNorm2d({ numFeatures: 3, affine: true });
 * console.log(norm.forward(randn([2, 3, 4, 4])).shape, norm.parameters().length); // [2, 3, 4, 4] 2
 * ```
 */
export class InstanceNorm2d extends InstanceNorm {
  /** `[N, C, H, W]`. */
  protected readonly rank = 4;
}

/**
 * Instance normalisation of `[N, C, D, H, W]` (or unbatched `[C, D, H, W]`) over D, H and W,
 * as PyTorch's `nn.InstanceNorm3d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { InstanceNorm3d } from "./instance_norm.ts";
 * await defaultDevice();
 * console.log(new InstanceNorm3d({ numFeatures: 2 }).forward(randn([2, 2, 2, 3, 3])).shape); // [2, 2, 2, 3, 3]
 * ```
 */
export class InstanceNorm3d extends InstanceNorm {
  /** `[N, C, D, H, W]`. */
  protected readonly rank = 5;
}

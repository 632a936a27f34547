/**
 * Batch normalisation layers, as PyTorch's `nn.BatchNorm1d`, `nn.BatchNorm2d` and
 * `nn.BatchNorm3d`: a learned per-channel scale and shift, and running statistics kept as
 * buffers (`running_mean`, `running_var`, `num_batches_tracked`) that training updates on the
 * device and evaluation normalises by.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { batchNorm } from "../tensor/ops_norm.ts";
import { type Shape, ShapeError } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { NormBase, type NormConfig } from "./norm_base.ts";

/** Options of the batch norm layers, PyTorch's arguments. */
export interface BatchNormConfig extends NormConfig {
  /**
   * The batch's weight in the running statistics (default 0.1), or null for their cumulative
   * average over every batch seen.
   */
  momentum?: number | null;
  /** Learn a per-channel scale (`weight`, ones) and shift (`bias`, zeros); default true. */
  affine?: boolean;
  /**
   * Keep running statistics and normalise by them in evaluation (default true); without them
   * the batch's statistics are used in evaluation too.
   */
  trackRunningStats?: boolean;
}

const BATCH_NORM_OPTIONS = optionNames<BatchNormConfig>({
  numFeatures: true,
  eps: true,
  momentum: true,
  affine: true,
  trackRunningStats: true,
  device: true,
});

/**
 * What {@link BatchNorm1d}, {@link BatchNorm2d} and {@link BatchNorm3d} share (PyTorch's
 * `_BatchNorm`); they differ only in the input ranks they accept.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { BatchNorm, BatchNorm2d } from "./batch_norm.ts";
 * await defaultDevice();
 * const layer: BatchNorm = new BatchNorm2d({ numFeatures: 3, momentum: null });
 * layer.forward(randn([2, 3, 4, 4])).dispose();
 * console.log(await layer.numBatchesTracked!.data()); // Int32Array [1]
 * ```
 */
export abstract class BatchNorm extends NormBase {
  /** The input ranks the layer accepts, and how PyTorch's message names them. */
  protected abstract readonly ranks: readonly number[];

  /** Creates the parameters and buffers on `config.device`. */
  constructor(config: BatchNormConfig) {
    super(config, { affine: true, trackRunningStats: true });
    checkOptions("BatchNorm", config, BATCH_NORM_OPTIONS, true);
  }

  /**
   * Normalises `x`: by the batch's statistics in training mode (updating the running ones and
   * the count, on the device), by the running ones in evaluation mode.
   */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    this.outputShape(x.shape as readonly number[]);
    const training = this.training;
    return batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      numBatchesTracked: training ? this.numBatchesTracked : null,
      training,
      momentum: this.momentum,
      eps: this.eps,
    }) as Tensor<S, "f32">;
  }

  /** The output shape: the input's, checked as `forward` checks it. */
  outputShape(input: readonly number[]): number[] {
    const name = this.constructor.name;
    if (!this.ranks.includes(input.length)) {
      const expected = this.ranks.map((r) => `${r}D`).join(" or ");
      throw new ShapeError(`${name}: expected ${expected} input (got ${input.length}D input)`);
    }
    if (input[1] !== this.numFeatures) {
      throw new ShapeError(
        `${name}: expected ${this.numFeatures} channels on axis 1, got input [${input}]`,
      );
    }
    return [...input];
  }
}

/**
 * Batch normalisation of `[N, C]` or `[N, C, L]` inputs over N (and L), as PyTorch's
 * `nn.BatchNorm1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { BatchNorm1d } from "./batch_norm.ts";
 * await defaultDevice();
 * const bn = new BatchNorm1d({ numFeatures: 2 });
 * const y = bn.forward(tensor([[1, 10], [3, 30]]));
 * console.log(await y.toArray()); // ≈ [[-1, -1], [1, 1]]
 * console.log(await bn.runningMean!.toArray()); // [0.2, 2]: 0.1 of the batch mean
 * console.log(await bn.eval().forward(tensor([[0, 2]])).toArray()); // ≈ [[-0.19, 0]]: (0 − 0.2) / √1.1
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** `[N, C]` or `[N, C, L]`. */
  protected readonly ranks = [2, 3];
}

/**
 * Batch normalisation of `[N, C, H, W]` images per channel over N, H and W, as PyTorch's
 * `nn.BatchNorm2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { BatchNorm2d } from "./batch_norm.ts";
 * await defaultDevice();
 * const bn = new BatchNorm2d({ numFeatures: 3 });
 * const y = bn.forward(randn([4, 3, 5, 5]));
 * console.log(y.shape, bn.parameters().length, bn.buffers().length); // [4, 3, 5, 5] 2 3
 * console.log(Object.keys(await bn.stateDict())); // weight, bias, running_mean, running_var, num_batches_tracked
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  /** `[N, C, H, W]`. */
  protected readonly ranks = [4];
}

/**
 * Batch normalisation of `[N, C, D, H, W]` volumes per channel over N, D, H and W, as
 * PyTorch's `nn.BatchNorm3d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { BatchNorm3d } from "./batch_norm.ts";
 * await defaultDevice();
 * const bn = new BatchNorm3d({ numFeatures: 2 }).eval();
 * console.log(bn.forward(randn([1, 2, 3, 4, 5])).shape); // [1, 2, 3, 4, 5]
 * ```
 */
export class BatchNorm3d extends BatchNorm {
  /** `[N, C, D, H, W]`. */
  protected readonly ranks = [5];
}

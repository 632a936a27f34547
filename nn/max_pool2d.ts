/**
 * The max pooling layer.
 *
 * @module
 */

import { checkPoolPadding, maxPool2d, type Pair, pair, windowOutput } from "../tensor/ops_cnn.ts";
import type { Dim } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dConfig {
  /** Window size. */
  kernelSize: Pair;
  /** Step between windows (default: the kernel size; smaller overlaps, as in AlexNet). */
  stride?: Pair;
  /** −∞ padding on each side, at most half the kernel (of its span, dilated; default 0). */
  padding?: Pair;
  /** Spacing between window taps, square or `[height, width]` (PyTorch's `dilation`, default 1). */
  dilation?: Pair;
  /**
   * Keep a last window that runs past the padded input, clipped to it (PyTorch's `ceil_mode`,
   * default false).
   */
  ceilMode?: boolean;
}

/**
 * Max pooling over NCHW tensors, as PyTorch's `nn.MaxPool2d` (floor mode by default, or
 * `ceilMode`). AlexNet pools 3×3 windows at stride 2, so neighbouring windows overlap.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { MaxPool2d } from "./max_pool2d.ts";
 * await defaultDevice();
 * const pool = new MaxPool2d({ kernelSize: 3, stride: 2 });
 * console.log(pool.forward(randn([1, 4, 55, 55]).withRank(4)).shape); // [1, 4, 27, 27]
 * const ceil = new MaxPool2d({ kernelSize: 3, stride: 2, ceilMode: true });
 * console.log(ceil.forward(randn([1, 4, 56, 56]).withRank(4)).shape); // [1, 4, 28, 28]
 * const dilated = new MaxPool2d({ kernelSize: 3, stride: 2, dilation: 2 });
 * console.log(dilated.forward(randn([1, 4, 55, 55]).withRank(4)).shape); // [1, 4, 26, 26]
 * ```
 */
export class MaxPool2d extends Module {
  /** `[KH, KW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[SH, SW]`. */
  readonly stride: readonly [number, number];
  /** `[PH, PW]`. */
  readonly padding: readonly [number, number];
  /** `[DH, DW]`: spacing between window taps. */
  readonly dilation: readonly [number, number];
  /** Whether a last window past the padded input is kept (PyTorch's `ceil_mode`). */
  readonly ceilMode: boolean;

  /** Creates the layer. */
  constructor(config: MaxPool2dConfig) {
    super();
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? config.kernelSize);
    this.padding = pair(config.padding ?? 0);
    this.dilation = pair(config.dilation ?? 1);
    this.ceilMode = config.ceilMode ?? false;
    if (!this.dilation.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `MaxPool2d: dilation must be a positive integer (or a pair of them), got ${config.dilation}`,
      );
    }
    checkPoolPadding("MaxPool2d", config.kernelSize, config.padding ?? 0, this.dilation);
  }

  /** Pools `x [N, C, H, W]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim, Dim], "f32">,
  ): Tensor<[N, C, number, number], "f32"> {
    return maxPool2d(x, {
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    }) as unknown as Tensor<[N, C, number, number], "f32">;
  }

  /** The output shape for an input shape `[N, C, H, W]`. */
  outputShape(input: readonly number[]): number[] {
    if (input.length !== 4) {
      throw new RangeError(`MaxPool2d: expected [N, C, H, W], got [${input}]`);
    }
    const [n, c, h, w] = input;
    const size = [h, w] as const;
    const { kernelSize, stride, padding, ceilMode, dilation } = this;
    return [n, c, ...windowOutput(size, kernelSize, stride, padding, ceilMode, dilation)];
  }
}

/**
 * The average pooling layer.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import {
  avgPool2d,
  checkPoolPadding,
  checkSizes,
  type Pair,
  pair,
  windowOutput,
} from "../tensor/ops_cnn.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { pooledShape } from "./_unbatched.ts";

/** Options of {@link AvgPool2d}, PyTorch's `nn.AvgPool2d` arguments. */
export interface AvgPool2dConfig {
  /** Window size. */
  kernelSize: Pair;
  /** Step between windows (default: the kernel size). */
  stride?: Pair;
  /** Zero padding on each side, at most half the kernel (default 0). */
  padding?: Pair;
  /** Keep a last window that runs past the padded input, clipped to it (default false). */
  ceilMode?: boolean;
  /** Divide by the window's size including the padding it covers (default true). */
  countIncludePad?: boolean;
  /** Divide every window by this positive integer instead (default: none). */
  divisorOverride?: number;
}

const AVG_POOL2D_OPTIONS = optionNames<AvgPool2dConfig>({
  kernelSize: true,
  stride: true,
  padding: true,
  ceilMode: true,
  countIncludePad: true,
  divisorOverride: true,
});

/**
 * Average pooling over NCHW tensors, as PyTorch's `nn.AvgPool2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AvgPool2d } from "./avg_pool2d.ts";
 * await defaultDevice();
 * const pool = new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 });
 * console.log(pool.forward(randn([1, 4, 15, 15]).withRank(4)).shape); // [1, 4, 8, 8]
 * ```
 */
export class AvgPool2d extends Module {
  /** `[KH, KW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[SH, SW]`. */
  readonly stride: readonly [number, number];
  /** `[PH, PW]`. */
  readonly padding: readonly [number, number];
  /** Whether a last window past the padded input is kept (PyTorch's `ceil_mode`). */
  readonly ceilMode: boolean;
  /** Whether the padding a window covers counts in its divisor. */
  readonly countIncludePad: boolean;
  /** The divisor of every window, or null for the window's own count. */
  readonly divisorOverride: number | null;

  /** Creates the layer. */
  constructor(config: AvgPool2dConfig) {
    super();
    checkOptions("AvgPool2d", config, AVG_POOL2D_OPTIONS, true);
    checkSizes("AvgPool2d", [
      ["kernelSize", config.kernelSize, 1],
      ["stride", config.stride ?? config.kernelSize, 1],
      ["padding", config.padding ?? 0, 0],
    ]);
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? config.kernelSize);
    this.padding = pair(config.padding ?? 0);
    this.ceilMode = config.ceilMode ?? false;
    this.countIncludePad = config.countIncludePad ?? true;
    this.divisorOverride = config.divisorOverride ?? null;
    checkPoolPadding("AvgPool2d", config.kernelSize, config.padding ?? 0);
  }

  /** Pools `x [N, C, H, W]`, or one unbatched `[C, H, W]`. */
  forward<C extends Dim>(
    x: Tensor<readonly [C, Dim, Dim], "f32">,
  ): Tensor<[C, number, number], "f32">;
  /** The same over a batch, `x [N, C, H, W]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim, Dim], "f32">,
  ): Tensor<[N, C, number, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return avgPool2d(x, {
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride ?? undefined,
    });
  }

  /** The output shape for an input shape `[N, C, H, W]` (or `[C, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    return pooledShape(
      "AvgPool2d",
      input,
      2,
      ([h, w]) => windowOutput([h, w], this.kernelSize, this.stride, this.padding, this.ceilMode),
    );
  }
}

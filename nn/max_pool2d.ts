/**
 * The max pooling layer.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import {
  checkPoolPadding,
  checkSizes,
  maxPool2d,
  type MaxPool2dOptions,
  type Pair,
  pair,
  windowOutput,
} from "../tensor/ops_cnn.ts";
import { maxPool2dWithIndices, type PoolWinners } from "../tensor/ops_pool_family.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { pooledShape } from "./_unbatched.ts";

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
  /**
   * PyTorch's `return_indices`: the layer gives each window's winner too, for `MaxUnpool2d`
   * (default false). A module's `forward` returns one tensor here, so such a layer is called
   * through `forwardWithIndices` (`{ values, indices }`, PyTorch's pair), and its `forward`
   * refuses, as PyTorch's pair would fail in the next layer.
   */
  returnIndices?: boolean;
}

const MAX_POOL2D_OPTIONS = optionNames<MaxPool2dConfig>({
  kernelSize: true,
  stride: true,
  padding: true,
  dilation: true,
  ceilMode: true,
  returnIndices: true,
});

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
 * console.log(pool.forward(randn([4, 55, 55]).withRank(3)).shape); // [4, 27, 27] (unbatched)
 * ```
 *
 * @example The winners, for unpooling (PyTorch's `return_indices=True`)
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { MaxPool2d } from "./max_pool2d.ts";
 * import { MaxUnpool2d } from "./max_unpool2d.ts";
 * await defaultDevice();
 * const pool = new MaxPool2d({ kernelSize: 2, returnIndices: true });
 * const { values, indices } = pool.forwardWithIndices(randn([1, 3, 6, 6]).withRank(4));
 * console.log(values.shape, indices.shape); // [1, 3, 3, 3] [1, 3, 3, 3]
 * const unpool = new MaxUnpool2d({ kernelSize: 2 });
 * console.log(unpool.forward(values.withRank(4), indices).shape); // [1, 3, 6, 6]
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
  /** Whether the layer gives its winners too (PyTorch's `return_indices`). */
  readonly returnIndices: boolean;

  /** Creates the layer. */
  constructor(config: MaxPool2dConfig) {
    super();
    checkOptions("MaxPool2d", config, MAX_POOL2D_OPTIONS, true);
    checkSizes("MaxPool2d", [
      ["kernelSize", config.kernelSize, 1],
      ["stride", config.stride ?? config.kernelSize, 1],
      ["padding", config.padding ?? 0, 0],
    ]);
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? config.kernelSize);
    this.padding = pair(config.padding ?? 0);
    this.dilation = pair(config.dilation ?? 1);
    this.ceilMode = config.ceilMode ?? false;
    this.returnIndices = config.returnIndices ?? false;
    if (!this.dilation.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `MaxPool2d: dilation must be a positive integer (or a pair of them), got ${config.dilation}`,
      );
    }
    checkPoolPadding("MaxPool2d", config.kernelSize, config.padding ?? 0, this.dilation);
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
    if (this.returnIndices) {
      throw new TypeError(
        "MaxPool2d: a layer with returnIndices gives { values, indices }: call " +
          "forwardWithIndices(x), not forward(x)",
      );
    }
    return maxPool2d(x, this.#options);
  }

  /**
   * Pools `x [N, C, H, W]` (or one unbatched `[C, H, W]`) and gives each window's winner, as
   * PyTorch's layer with `return_indices=True`: see `maxPool2dWithIndices`.
   */
  forwardWithIndices(x: Tensor<Shape, "f32">): PoolWinners<Tensor<Shape, "f32">> {
    return maxPool2dWithIndices(x, this.#options);
  }

  /** The pooling's options, as `maxPool2d` takes them. */
  get #options(): MaxPool2dOptions {
    const { kernelSize: kernel, stride, padding, dilation, ceilMode } = this;
    return { kernel, stride, padding, dilation, ceilMode };
  }

  /** The output shape for an input shape `[N, C, H, W]` (or `[C, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    const { kernelSize, stride, padding, ceilMode, dilation } = this;
    return pooledShape(
      "MaxPool2d",
      input,
      2,
      ([h, w]) => windowOutput([h, w], kernelSize, stride, padding, ceilMode, dilation),
    );
  }
}

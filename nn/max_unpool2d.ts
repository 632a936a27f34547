/**
 * The max unpooling layer.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { checkSizes, type Pair, pair } from "../tensor/ops_cnn.ts";
import { maxUnpool2d } from "../tensor/ops_pool_family.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link MaxUnpool2d}: the pooling's window. */
export interface MaxUnpool2dConfig {
  /** The pooling's window. */
  kernelSize: Pair;
  /** The pooling's stride (default: the kernel). */
  stride?: Pair;
  /** The pooling's padding (default 0). */
  padding?: Pair;
}

const MAX_UNPOOL2D_OPTIONS = optionNames<MaxUnpool2dConfig>({
  kernelSize: true,
  stride: true,
  padding: true,
});

/**
 * The partial inverse of a max pooling, as PyTorch's `nn.MaxUnpool2d` (SegNet's decoder): each
 * value goes back to the position its pooling's `indices` name (`maxPool2dWithIndices`),
 * zeros elsewhere. `forward(x, indices, outputSize?)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, maxPool2dWithIndices, randn } from "../mod.ts";
 * import { MaxUnpool2d } from "./max_unpool2d.ts";
 * await defaultDevice();
 * const { values, indices } = maxPool2dWithIndices(randn([1, 3, 7, 7]), { kernel: 2 });
 * const unpool = new MaxUnpool2d({ kernelSize: 2 });
 * console.log(unpool.forward(values, indices).shape); // [1, 3, 6, 6]
 * console.log(unpool.forward(values, indices, [7, 7]).shape); // [1, 3, 7, 7]
 * ```
 */
export class MaxUnpool2d extends Module {
  /** `[KH, KW]`. */
  readonly kernelSize: readonly [number, number];
  /** `[SH, SW]`. */
  readonly stride: readonly [number, number];
  /** `[PH, PW]`. */
  readonly padding: readonly [number, number];

  /** Creates the layer. */
  constructor(config: MaxUnpool2dConfig) {
    super();
    checkOptions("MaxUnpool2d", config, MAX_UNPOOL2D_OPTIONS, true);
    checkSizes("MaxUnpool2d", [
      ["kernelSize", config.kernelSize, 1],
      ["stride", config.stride ?? config.kernelSize, 1],
      ["padding", config.padding ?? 0, 0],
    ]);
    this.kernelSize = pair(config.kernelSize);
    this.stride = pair(config.stride ?? config.kernelSize);
    this.padding = pair(config.padding ?? 0);
  }

  /**
   * Unpools `x [N, C, H, W]` (or one unbatched `[C, H, W]`) by its pooling's `indices` (i32,
   * shaped as `x`).
   */
  forward<C extends Dim>(
    x: Tensor<readonly [C, Dim, Dim], "f32">,
    indices?: Tensor,
    outputSize?: readonly [number, number],
  ): Tensor<[C, number, number], "f32">;
  /** The same over a batch, `x [N, C, H, W]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim, Dim], "f32">,
    indices?: Tensor,
    outputSize?: readonly [number, number],
  ): Tensor<[N, C, number, number], "f32">;
  forward(
    x: Tensor<Shape, "f32">,
    indices?: Tensor,
    outputSize?: readonly [number, number],
  ): Tensor<Shape, "f32"> {
    if (!indices) throw new TypeError("MaxUnpool2d: forward needs the pooling's indices");
    return maxUnpool2d(x, indices, {
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      outputSize,
    });
  }
}

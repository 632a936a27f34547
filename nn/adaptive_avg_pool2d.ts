/**
 * The adaptive average pooling layer.
 *
 * @module
 */

import { adaptiveAvgPool2d } from "../tensor/ops_cnn.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { pooledShape } from "./_unbatched.ts";

/** An output size: one for both axes, or `[OH, OW]` with null to keep that axis's size. */
export type AdaptiveSize = number | readonly [number | null, number | null];

/**
 * Average pooling to a fixed output size whatever the input's, as PyTorch's
 * `nn.AdaptiveAvgPool2d`: output `i` averages rows `floor(i·H/OH)` to `ceil((i+1)·H/OH)`
 * (exclusive), likewise columns. `outputSize: 1` is a global average.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AdaptiveAvgPool2d } from "./adaptive_avg_pool2d.ts";
 * await defaultDevice();
 * const pool = new AdaptiveAvgPool2d(6);
 * console.log(pool.forward(randn([2, 4, 13, 13]).withRank(4)).shape); // [2, 4, 6, 6]
 * console.log(new AdaptiveAvgPool2d([1, null]).outputShape([2, 4, 13, 9])); // [2, 4, 1, 9]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output size as given. */
  readonly outputSize: AdaptiveSize;

  /** Creates the layer. */
  constructor(outputSize: AdaptiveSize) {
    super();
    const sizes = typeof outputSize === "number" ? [outputSize] : outputSize;
    if (!sizes.every((s) => s === null || (Number.isInteger(s) && s >= 1))) {
      throw new RangeError(
        `AdaptiveAvgPool2d: outputSize must be positive integers (or null), got ${outputSize}`,
      );
    }
    this.outputSize = outputSize;
  }

  /** Pools `x [N, C, H, W]` to `[N, C, OH, OW]` (or one unbatched `[C, H, W]` to `[C, OH, OW]`). */
  forward<C extends Dim>(
    x: Tensor<readonly [C, Dim, Dim], "f32">,
  ): Tensor<[C, number, number], "f32">;
  /** The same over a batch, `x [N, C, H, W]`. */
  forward<N extends Dim, C extends Dim>(
    x: Tensor<readonly [N, C, Dim, Dim], "f32">,
  ): Tensor<[N, C, number, number], "f32">;
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  /** The output shape for an input shape `[N, C, H, W]` (or `[C, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    const [oh, ow] = typeof this.outputSize === "number"
      ? [this.outputSize, this.outputSize]
      : this.outputSize;
    return pooledShape("AdaptiveAvgPool2d", input, 2, ([h, w]) => [oh ?? h, ow ?? w]);
  }
}

/**
 * The adaptive max pooling layer.
 *
 * @module
 */

import { adaptiveMaxPool2d, type AdaptiveSize2d } from "../tensor/ops_pool_family.ts";
import type { Dim, Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";
import { pooledShape } from "./_unbatched.ts";

/**
 * Max pooling to a fixed output size whatever the input's, as PyTorch's
 * `nn.AdaptiveMaxPool2d`: output `i` is the maximum over rows `floor(i·H/OH)` to
 * `ceil((i+1)·H/OH)` (exclusive), likewise columns. `outputSize: 1` is a global maximum; null
 * in a place keeps that axis.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AdaptiveMaxPool2d } from "./adaptive_max_pool2d.ts";
 * await defaultDevice();
 * const pool = new AdaptiveMaxPool2d([3, null]);
 * console.log(pool.forward(randn([2, 4, 13, 9]).withRank(4)).shape); // [2, 4, 3, 9]
 * ```
 */
export class AdaptiveMaxPool2d extends Module {
  /** The output size as given. */
  readonly outputSize: AdaptiveSize2d;

  /** Creates the layer. */
  constructor(outputSize: AdaptiveSize2d) {
    super();
    const sizes = typeof outputSize === "number" ? [outputSize] : outputSize;
    if (!sizes.every((s) => s === null || (Number.isInteger(s) && s >= 1))) {
      throw new RangeError(
        `AdaptiveMaxPool2d: outputSize must be positive integers (or null), got ${outputSize}`,
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
    return adaptiveMaxPool2d(x, this.outputSize);
  }

  /** The output shape for an input shape `[N, C, H, W]` (or `[C, H, W]`). */
  outputShape(input: readonly number[]): number[] {
    const [oh, ow] = typeof this.outputSize === "number"
      ? [this.outputSize, this.outputSize]
      : this.outputSize;
    return pooledShape("AdaptiveMaxPool2d", input, 2, ([h, w]) => [oh ?? h, ow ?? w]);
  }
}

/**
 * The flatten layer.
 *
 * @module
 */

import type { Dim } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * `[N, d1, d2, …]` → `[N, d1·d2·…]`, keeping the batch axis (a view when `x` is contiguous).
 * NCHW maps flatten channel-major, as PyTorch's `nn.Flatten`, so fc6's weight layout matches.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { Flatten } from "./flatten.ts";
 * await defaultDevice();
 * console.log(new Flatten().forward(zeros([2, 256, 6, 6])).shape); // [2, 9216]
 * ```
 */
export class Flatten extends Module {
  /** Flattens every axis after the first. */
  forward<N extends Dim>(x: Tensor<readonly [N, ...Dim[]], "f32">): Tensor<[N, number], "f32"> {
    if (x.rank < 1) throw new RangeError("Flatten: expected at least one axis");
    // The size spelt out: a −1 cannot be inferred from an empty batch.
    return x.reshape(this.outputShape(x.shape)) as unknown as Tensor<[N, number], "f32">;
  }

  /** The output shape for an input shape `[N, …]`. */
  outputShape(input: readonly number[]): number[] {
    return [input[0], input.slice(1).reduce((a, b) => a * b, 1)];
  }
}

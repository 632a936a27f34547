/**
 * Reductions as functions: `sum(x, axes)` is `x.sum(axes)`. Their rules are in
 * `_rules/reduce.ts`.
 *
 * @module
 */

import type { Shape } from "./shape.ts";
import type { Axes, Tensor } from "./tensor.ts";

/**
 * Sum over `axes` (all when omitted); `keepdim` keeps them as size 1.
 *
 * @example
 * ```ts
 * import { defaultDevice, sum, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sum(tensor([[1, 2], [3, 4]]), 1).toArray()); // [3, 7]
 * ```
 */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
  return x.sum(axes, keepdim);
}

/**
 * Mean over `axes` (all when omitted).
 *
 * @example
 * ```ts
 * import { defaultDevice, mean, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await mean(tensor([1, 2, 3, 6])).item()); // 3
 * ```
 */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
  return x.mean(axes, keepdim);
}

/**
 * Maximum over `axes` (all when omitted). The gradient goes to the maxima; tied maxima share
 * it equally (the subgradient PyTorch's `amax` uses).
 *
 * @example
 * ```ts
 * import { defaultDevice, max, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await max(tensor([[1, 5], [7, 2]]), 0).toArray()); // [7, 5]
 * ```
 */
export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
  return x.max(axes, keepdim);
}

/**
 * Elementwise arithmetic as functions: `add(a, b)` is `a.add(b)`. Their rules (forward and
 * backward) are in `_rules/elementwise.ts`.
 *
 * @module
 */

import type { Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** A tensor or a number (a scalar operand keeps the tensor's shape). */
export type Operand = Tensor | number;

/**
 * `a + b` with broadcasting; `b` may be a number.
 *
 * @example
 * ```ts
 * import { add, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await add(tensor([[1, 2], [3, 4]]), tensor([10, 20])).toArray()); // [[11, 22], [13, 24]]
 * ```
 */
export function add(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return (a as Tensor<Shape, "f32">).add(b as Tensor<Shape, "f32">);
}

/**
 * `a − b` with broadcasting; `b` may be a number.
 *
 * @example
 * ```ts
 * import { defaultDevice, sub, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sub(tensor([5, 7]), 2).toArray()); // [3, 5]
 * ```
 */
export function sub(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return (a as Tensor<Shape, "f32">).sub(b as Tensor<Shape, "f32">);
}

/**
 * `a · b` elementwise with broadcasting; `b` may be a number.
 *
 * @example
 * ```ts
 * import { defaultDevice, mul, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await mul(tensor([1, 2, 3]), tensor([2, 2, 2])).toArray()); // [2, 4, 6]
 * ```
 */
export function mul(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return (a as Tensor<Shape, "f32">).mul(b as Tensor<Shape, "f32">);
}

/**
 * `a / b` elementwise with broadcasting; `b` may be a number (`x / 0` is ±∞, `0 / 0` NaN, as IEEE and PyTorch).
 *
 * @example
 * ```ts
 * import { defaultDevice, div, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await div(tensor([2, 4]), 2).toArray()); // [1, 2]
 * ```
 */
export function div(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return (a as Tensor<Shape, "f32">).div(b as Tensor<Shape, "f32">);
}

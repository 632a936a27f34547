/**
 * Elementwise ops as functions: `add(a, b)` is `a.add(b)`. Their rules (forward and backward)
 * are in `_rules/elementwise.ts`. Comparisons return f32 1 and 0 (PyTorch's bool tensors
 * `.float()`), which `where`, `mul`, `sum` and `mean` take as they are.
 *
 * @module
 */

import { describeValue, type DType, type Shape } from "./shape.ts";
import { selected, Tensor, tensorArgument } from "./tensor.ts";

/** A tensor or a number (a scalar operand keeps the tensor's shape). */
export type Operand = Tensor | number;

/**
 * `a`, checked to be a tensor: as `torch.add(input, other)`, the first operand is one (for
 * `1 − x`, write `sub(x, 1).neg()` or `x.neg().add(1)`).
 */
function first(op: string, a: unknown): Tensor {
  if (!(a instanceof Tensor)) {
    throw new TypeError(
      `${op}: the first operand must be a Tensor, got ${
        describeValue(a)
      }; the second may be a number`,
    );
  }
  return a;
}

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
  return (first("add", a) as Tensor<Shape, "f32">).add(b as Tensor<Shape, "f32">);
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
  return (first("sub", a) as Tensor<Shape, "f32">).sub(b as Tensor<Shape, "f32">);
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
  return (first("mul", a) as Tensor<Shape, "f32">).mul(b as Tensor<Shape, "f32">);
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
  return (first("div", a) as Tensor<Shape, "f32">).div(b as Tensor<Shape, "f32">);
}

/**
 * `a // b` (floored quotient), as `torch.floor_divide`: `a` an i32 tensor, `b` an i32 tensor or
 * integer; see {@link Tensor.floorDivide}.
 *
 * @example
 * ```ts
 * import { defaultDevice, floorDivide, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await floorDivide(tensor([-7, 7], { dtype: "i32" }), 2).toArray()); // [-4, 3]
 * ```
 */
export function floorDivide(a: Tensor, b: Operand): Tensor<Shape, "i32"> {
  return (first("floorDivide", a) as Tensor<Shape, "i32">).floorDivide(b as Tensor<Shape, "i32">);
}

/**
 * `a % b` with the divisor's sign, as `torch.remainder`; i32 as {@link floorDivide}.
 *
 * @example
 * ```ts
 * import { defaultDevice, remainder, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await remainder(tensor([-7, 7], { dtype: "i32" }), 3).toArray()); // [2, 1]
 * ```
 */
export function remainder(a: Tensor, b: Operand): Tensor<Shape, "i32"> {
  return (first("remainder", a) as Tensor<Shape, "i32">).remainder(b as Tensor<Shape, "i32">);
}

/**
 * C's remainder, with the dividend's sign, as `torch.fmod`; i32 as {@link floorDivide}.
 *
 * @example
 * ```ts
 * import { defaultDevice, fmod, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await fmod(tensor([-7, 7], { dtype: "i32" }), 3).toArray()); // [-1, 1]
 * ```
 */
export function fmod(a: Tensor, b: Operand): Tensor<Shape, "i32"> {
  return (first("fmod", a) as Tensor<Shape, "i32">).fmod(b as Tensor<Shape, "i32">);
}

/**
 * `|x|` elementwise; the gradient is `sign(x)`, 0 at 0 (as PyTorch).
 *
 * @example
 * ```ts
 * import { abs, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await abs(tensor([-2, 0, 3])).toArray()); // [2, 0, 3]
 * ```
 */
export function abs<S extends Shape, D extends DType>(x: Tensor<S, D>): Tensor<S, D> {
  return tensorArgument("abs", x).abs();
}

/**
 * `log(1 + x)` elementwise, as `torch.log1p`: accurate where `x` is small (where `1 + x` would
 * round it away); the gradient is `1 / (1 + x)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, log1p, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await log1p(tensor([1e-7, 0, -0.5])).toArray()); // [1e-7, 0, -0.6931…]
 * ```
 */
export function log1p<S extends Shape, D extends DType>(x: Tensor<S, D>): Tensor<S, D> {
  return tensorArgument("log1p", x).log1p();
}

/**
 * Each element of `x` limited to `[min, max]`, as `torch.clamp`: either bound may be omitted
 * (`null` or `undefined`), not both; where `min > max` every element is `max`; NaN stays NaN.
 * The gradient passes where `min ≤ x ≤ max`, the bounds included, and is 0 outside. A bound
 * may be a tensor, broadcast with `x`, which gets the gradient where it binds.
 *
 * @example
 * ```ts
 * import { clamp, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await clamp(tensor([-2, 0.5, 3]), 0, 1).toArray()); // [0, 0.5, 1]
 * console.log(await clamp(tensor([-2, 0.5, 3]), null, 1).toArray()); // [-2, 0.5, 1]
 * console.log(await clamp(tensor([-2, 0.5, 3]), tensor([-1, 1, 0]), 2).toArray()); // [-1, 1, 2]
 * ```
 */
export function clamp<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  min?: number | Tensor<Shape, D> | null,
  max?: number | Tensor<Shape, D> | null,
): Tensor<Shape, D> {
  return tensorArgument("clamp", x).clamp(min, max);
}

/**
 * The elementwise maximum of `a` and `b` with broadcasting, NaN where either is NaN
 * (`torch.maximum`). The gradient goes to the larger; on a tie each gets half, as PyTorch.
 *
 * @example
 * ```ts
 * import { defaultDevice, maximum, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await maximum(tensor([[1, 5], [7, 2]]), tensor([3, 3])).toArray()); // [[3, 5], [7, 3]]
 * ```
 */
export function maximum(a: Tensor, b: Tensor): Tensor<Shape, "f32"> {
  return (first("maximum", a) as Tensor<Shape, "f32">).maximum(b as Tensor<Shape, "f32">);
}

/**
 * The elementwise minimum of `a` and `b` with broadcasting, NaN where either is NaN
 * (`torch.minimum`); on a tie each gets half the gradient.
 *
 * @example
 * ```ts
 * import { defaultDevice, minimum, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await minimum(tensor([1, 5]), tensor([3, 3])).toArray()); // [1, 3]
 * ```
 */
export function minimum(a: Tensor, b: Tensor): Tensor<Shape, "f32"> {
  return (first("minimum", a) as Tensor<Shape, "f32">).minimum(b as Tensor<Shape, "f32">);
}

/**
 * `a == b` elementwise with broadcasting, as f32 1 or 0 (PyTorch's bool result `.float()`); `b`
 * may be a number. NaN equals nothing. Two i32 tensors compare as integers; an i32 tensor
 * against an f32 one or a number compares as f32 (exact up to 2²⁴), as PyTorch promotes it.
 * Not differentiable (no gradient flows through a comparison).
 *
 * @example Accuracy of predictions against i32 labels
 * ```ts
 * import { defaultDevice, eq, tensor } from "../mod.ts";
 * await defaultDevice();
 * const predicted = tensor([1, 0, 1], { dtype: "i32" });
 * const labels = tensor([1, 1, 1], { dtype: "i32" });
 * console.log(await eq(predicted, labels).mean().item()); // 0.6666…
 * ```
 */
export function eq(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("eq", a).eq(b as Tensor);
}

/**
 * `a != b` as f32 1 or 0 (1 where either is NaN); see {@link eq}.
 *
 * @example
 * ```ts
 * import { defaultDevice, ne, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await ne(tensor([1, 2, NaN]), 2).toArray()); // [1, 0, 1]
 * ```
 */
export function ne(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("ne", a).ne(b as Tensor);
}

/**
 * `a < b` as f32 1 or 0 (0 where either is NaN); see {@link eq}.
 *
 * @example
 * ```ts
 * import { defaultDevice, lt, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await lt(tensor([1, 2, 3]), tensor([2, 2, 2])).toArray()); // [1, 0, 0]
 * ```
 */
export function lt(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("lt", a).lt(b as Tensor);
}

/**
 * `a <= b` as f32 1 or 0 (0 where either is NaN); see {@link eq}.
 *
 * @example
 * ```ts
 * import { defaultDevice, le, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await le(tensor([1, 2, 3]), 2).toArray()); // [1, 1, 0]
 * ```
 */
export function le(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("le", a).le(b as Tensor);
}

/**
 * `a > b` as f32 1 or 0 (0 where either is NaN); see {@link eq}.
 *
 * @example
 * ```ts
 * import { defaultDevice, gt, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await gt(tensor([[1, 5]]), tensor([[2], [0]])).toArray()); // [[0, 1], [1, 1]]
 * ```
 */
export function gt(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("gt", a).gt(b as Tensor);
}

/**
 * `a >= b` as f32 1 or 0 (0 where either is NaN); see {@link eq}.
 *
 * @example
 * ```ts
 * import { defaultDevice, ge, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await ge(tensor([1, 2, 3]), 2).toArray()); // [0, 1, 1]
 * ```
 */
export function ge(a: Tensor, b: Operand): Tensor<Shape, "f32"> {
  return first("ge", a).ge(b as Tensor);
}

/**
 * `a` where `condition` is nonzero and `b` elsewhere, the three broadcast together
 * (`torch.where`). The condition is a comparison's f32 1/0 (any f32 or i32 tensor: nonzero and
 * NaN count as true); `a` and `b` share a dtype, which the result has, and either may be a
 * number. The gradient goes to `a` where the condition holds and to `b` elsewhere, none to the
 * condition.
 *
 * @example ReLU written with a comparison
 * ```ts
 * import { defaultDevice, tensor, where } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([-1, 2, -3, 4]);
 * console.log(await where(x.gt(0), x, 0).toArray()); // [0, 2, 0, 4]
 * ```
 */
export function where<D extends DType = "f32">(
  condition: Tensor,
  a: Tensor<Shape, D> | number,
  b: Tensor<Shape, D> | number,
): Tensor<Shape, D> {
  tensorArgument("where", condition);
  return selected(condition, a as Tensor, b as Tensor) as Tensor<Shape, D>;
}

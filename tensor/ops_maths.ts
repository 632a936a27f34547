/**
 * Elementwise maths as functions: `sin(x)` is `x.sin()`. Each is one scalar-function pass
 * forward and one backward (`kernels/maths.ts`), with PyTorch's gradient; the rounding
 * functions and `sign` have a zero gradient, as PyTorch's.
 *
 * @module
 */

import { tensor } from "./creation.ts";
import type { Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { tensorArgument } from "./tensor.ts";

/**
 * `base^exponent` elementwise, as `torch.pow`: either may be a number (not both), tensors
 * broadcast, with C's special cases (NaN stays NaN, `0^−1` is ∞, a negative base is NaN for a
 * fractional exponent, `1^y` and `x^0` are 1). Gradients as PyTorch's: `p · x^(p−1)` for the
 * base, `y · log x` for the exponent (0 where `x = 0` and `p ≥ 0`).
 *
 * @example
 * ```ts
 * import { defaultDevice, pow, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await pow(tensor([1, 2, 3]), 2).toArray()); // [1, 4, 9]
 * console.log(await pow(tensor([[2], [-2]]), tensor([2, 3])).toArray()); // [[4, 8], [4, -8]]
 * console.log(await pow(2, tensor([0, 1, 10])).toArray()); // [1, 2, 1024]
 * ```
 */
export function pow(
  base: Tensor<Shape, "f32"> | number,
  exponent: Tensor<Shape, "f32"> | number,
): Tensor<Shape, "f32"> {
  if (typeof base !== "number") {
    return typeof exponent === "number" ? base.pow(exponent) : base.pow(exponent);
  }
  if (typeof exponent === "number") {
    throw new TypeError("pow: give at least one tensor (both are numbers)");
  }
  // A number base is a 0-d tensor on the exponent's device, as PyTorch's scalar.
  const scalar = tensor(base, { device: exponent.device });
  const out = scalar.pow(exponent);
  scalar.dispose();
  return out;
}

/**
 * The sine, as `torch.sin`; the gradient is `cos x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, sin, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sin(tensor([0, Math.PI / 2])).toArray()); // [0, 1]
 * ```
 */
export function sin<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("sin", x).sin();
}

/**
 * The cosine, as `torch.cos`; the gradient is `−sin x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, cos, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await cos(tensor([0, Math.PI])).toArray()); // [1, -1]
 * ```
 */
export function cos<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("cos", x).cos();
}

/**
 * The tangent, as `torch.tan`; the gradient is `1 + tan² x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tan, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await tan(tensor([0, Math.PI / 4])).toArray()); // [0, 1.0000001]
 * ```
 */
export function tan<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("tan", x).tan();
}

/**
 * The arcsine, as `torch.asin` (NaN outside [−1, 1]); the gradient is `1/√(1 − x²)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, asin, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await asin(tensor([0, 1])).toArray()); // [0, 1.5707964]
 * ```
 */
export function asin<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("asin", x).asin();
}

/**
 * The arccosine, as `torch.acos` (NaN outside [−1, 1]); the gradient is `−1/√(1 − x²)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, acos, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await acos(tensor([1, 0])).toArray()); // [0, 1.5707964]
 * ```
 */
export function acos<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("acos", x).acos();
}

/**
 * The arctangent, as `torch.atan`; the gradient is `1/(1 + x²)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, atan, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await atan(tensor([0, 1])).toArray()); // [0, 0.7853982]
 * ```
 */
export function atan<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("atan", x).atan();
}

/**
 * The hyperbolic sine, as `torch.sinh`; the gradient is `cosh x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, sinh, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sinh(tensor([0, 1])).toArray()); // [0, 1.1752013]
 * ```
 */
export function sinh<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("sinh", x).sinh();
}

/**
 * The hyperbolic cosine, as `torch.cosh`; the gradient is `sinh x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, cosh, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await cosh(tensor([0, 1])).toArray()); // [1, 1.5430807]
 * ```
 */
export function cosh<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("cosh", x).cosh();
}

/**
 * `1/√x`, as `torch.rsqrt`; the gradient is `−½·x^(−3/2)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, rsqrt, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await rsqrt(tensor([4, 0.25])).toArray()); // [0.5, 2]
 * ```
 */
export function rsqrt<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("rsqrt", x).rsqrt();
}

/**
 * `1/x`, as `torch.reciprocal`; the gradient is `−1/x²`.
 *
 * @example
 * ```ts
 * import { defaultDevice, reciprocal, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await reciprocal(tensor([2, -0.5])).toArray()); // [0.5, -2]
 * ```
 */
export function reciprocal<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("reciprocal", x).reciprocal();
}

/**
 * `x²`, as `torch.square`; the gradient is `2x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, square, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await square(tensor([3, -2])).toArray()); // [9, 4]
 * ```
 */
export function square<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("square", x).square();
}

/**
 * `2^x`, as `torch.exp2`; the gradient is `2^x·ln 2`.
 *
 * @example
 * ```ts
 * import { defaultDevice, exp2, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await exp2(tensor([3, -1])).toArray()); // [8, 0.5]
 * ```
 */
export function exp2<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("exp2", x).exp2();
}

/**
 * The base-2 logarithm, as `torch.log2`; the gradient is `1/(x·ln 2)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, log2, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await log2(tensor([8, 0.5])).toArray()); // [3, -1]
 * ```
 */
export function log2<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("log2", x).log2();
}

/**
 * The base-10 logarithm, as `torch.log10`; the gradient is `1/(x·ln 10)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, log10, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await log10(tensor([1000, 0.1])).toArray()); // [3, -1]
 * ```
 */
export function log10<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("log10", x).log10();
}

/**
 * `eˣ − 1`, as `torch.expm1`, accurate near 0 (where `exp(x) − 1` cancels); the gradient is `eˣ`.
 *
 * @example
 * ```ts
 * import { defaultDevice, expm1, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await expm1(tensor([1e-7, 1])).toArray()); // [1e-7, 1.7182820]
 * ```
 */
export function expm1<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("expm1", x).expm1();
}

/**
 * The fractional part `x − trunc(x)`, as `torch.frac` (the sign of x); the gradient passes.
 *
 * @example
 * ```ts
 * import { defaultDevice, frac, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await frac(tensor([2.5, -1.25])).toArray()); // [0.5, -0.25]
 * ```
 */
export function frac<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("frac", x).frac();
}

/**
 * −1, 0 or 1 by the sign, as `torch.sign` (0 for ±0 and NaN); the gradient is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, sign, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sign(tensor([-3, 0, 2])).toArray()); // [-1, 0, 1]
 * ```
 */
export function sign<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("sign", x).sign();
}

/**
 * Rounded down, as `torch.floor`; the gradient is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, floor, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await floor(tensor([1.5, -1.5])).toArray()); // [1, -2]
 * ```
 */
export function floor<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("floor", x).floor();
}

/**
 * Rounded up, as `torch.ceil`; the gradient is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, ceil, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await ceil(tensor([1.5, -1.5])).toArray()); // [2, -1]
 * ```
 */
export function ceil<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("ceil", x).ceil();
}

/**
 * Rounded to the nearest integer, halves to even, as `torch.round`; the gradient is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, round, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await round(tensor([0.5, 1.5, 2.6])).toArray()); // [0, 2, 3]
 * ```
 */
export function round<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("round", x).round();
}

/**
 * Rounded toward zero, as `torch.trunc`; the gradient is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, trunc, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await trunc(tensor([1.7, -1.7])).toArray()); // [1, -1]
 * ```
 */
export function trunc<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("trunc", x).trunc();
}

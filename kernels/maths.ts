/**
 * Elementwise maths beyond the core maps (trigonometric, hyperbolic, reciprocal roots, powers
 * of 2 and 10, rounding), each a {@link ScalarFunction} with PyTorch's gradient formula: one
 * pass forward, one pass backward. The rounding functions and `sign` have a zero gradient
 * almost everywhere, as PyTorch's, and need no backward pass (`ZERO_GRADIENT`).
 *
 * @module
 */

import { SMOOTH } from "./activation.ts";
import { f32Literal, signBit } from "./_program.ts";
import type { ScalarFunction } from "./_scalar_map.ts";

/** The functions of {@link MATH_FUNCTIONS}. */
export type MathFn =
  | "sin"
  | "cos"
  | "tan"
  | "asin"
  | "acos"
  | "atan"
  | "sinh"
  | "cosh"
  | "rsqrt"
  | "reciprocal"
  | "square"
  | "exp2"
  | "log2"
  | "log10"
  | "expm1"
  | "frac"
  | "sign"
  | "floor"
  | "ceil"
  | "round"
  | "trunc";

/** The functions whose gradient is 0 wherever it exists (PyTorch returns zeros). */
export const ZERO_GRADIENT: ReadonlySet<MathFn> = new Set<MathFn>([
  "sign",
  "floor",
  "ceil",
  "round",
  "trunc",
]);

const [LN2, LN10, LOG10_2] = [Math.LN2, Math.LN10, Math.log10(2)].map(f32Literal);
const [PI, HALF_PI, QUARTER_PI] = [Math.PI, Math.PI / 2, Math.PI / 4].map(f32Literal);

/**
 * WGSL of `atanOf`, `asinOf`, `acosOf`, `sinhOf` and `coshOf`, within a few ulp of f32: Vulkan
 * lets the built-in inverse trigonometric functions err by thousands of ulp (lavapipe's `atan`
 * errs by 4e-6 at 1), and `sinh` written with exponentials cancels near 0 (and overflows to
 * NaN past 88.7, where e^|x| is ∞ though sinh still fits f32 up to 89.4). The inverse
 * functions are Cephes' single-precision ones (range reduction, then a short polynomial). Each
 * odd function takes its sign from `x`'s sign bit, so f(−0) = −0, as PyTorch's.
 */
const INVERSE_TRIG: readonly string[] = [
  ...SMOOTH,
  `
fn atanOf(x: f32) -> f32 {
  let a = abs(x);
  var base = 0.0;
  var z = a;
  if (a > 2.414213562373095) {
    base = ${HALF_PI};
    z = -1.0 / a;
  } else if (a > 0.4142135623730950) {
    base = ${QUARTER_PI};
    z = (a - 1.0) / (a + 1.0);
  }
  let zz = z * z;
  let r = base + ((((8.05374449538e-2 * zz - 1.38776856032e-1) * zz + 1.99777106478e-1) * zz
    - 3.33329491539e-1) * zz * z + z);
  return select(r, -r, ${signBit("x")});
}
fn asinOf(x: f32) -> f32 {
  let a = abs(x);
  let wide = a > 0.5;
  let z = select(a * a, 0.5 * (1.0 - a), wide);
  let s = select(a, sqrt(z), wide);
  let p = ((((4.2163199048e-2 * z + 2.4181311049e-2) * z + 4.5470025998e-2) * z
    + 7.4953002686e-2) * z + 1.6666752422e-1) * z * s + s;
  let r = select(p, ${HALF_PI} - 2.0 * p, wide);
  return select(r, -r, ${signBit("x")});
}
fn acosOf(x: f32) -> f32 {
  if (x < -0.5) { return ${PI} - 2.0 * asinOf(sqrt(0.5 * (1.0 + x))); }
  if (x > 0.5) { return 2.0 * asinOf(sqrt(0.5 * (1.0 - x))); }
  return ${HALF_PI} - asinOf(x);
}
fn sinhOf(x: f32) -> f32 {
  let a = abs(x);
  var r = halfExpOf(a);
  if (a < 1.0) {
    let u = expm1Of(a);
    r = 0.5 * (u + u / (u + 1.0));
  } else if (a < 88.0) {
    r = r - 0.25 / r;
  }
  return select(r, -r, ${signBit("x")});
}
fn coshOf(x: f32) -> f32 {
  let a = abs(x);
  let h = halfExpOf(a);
  return select(h + 0.25 / h, h, a >= 88.0);
}
// e^a / 2 for a ≥ 0, finite up to a = 89.4 (where f32 ends) though e^a overflows past 88.7:
// there (e^(a/2) / 2) · e^(a/2); at +∞ it is +∞, never ∞ − ∞.
fn halfExpOf(a: f32) -> f32 {
  if (a < 88.0) { return 0.5 * exp(a); }
  let h = exp(0.5 * a);
  return (0.5 * h) * h;
}`,
];

/** A function of `x`: its value's body and its gradient's (reading `g`). */
function fn(
  name: MathFn,
  value: string,
  grad: string,
  helpers: readonly string[] = [],
): ScalarFunction {
  return { name, inputs: ["x"], params: [], helpers, value, grads: [grad] };
}

/** A function whose gradient is 0: the backward never runs (see {@link ZERO_GRADIENT}). */
function flat(name: MathFn, value: string): ScalarFunction {
  return fn(name, value, "return g * 0.0;");
}

/** Every function, by name. */
export const MATH_FUNCTIONS: { readonly [K in MathFn]: ScalarFunction } = {
  sin: fn("sin", "return sin(x);", "return g * cos(x);"),
  cos: fn("cos", "return cos(x);", "return -g * sin(x);"),
  // PyTorch: g · (1 + tan²x).
  tan: fn("tan", "return tan(x);", "let t = tan(x);\n  return g * (1.0 + t * t);"),
  asin: fn("asin", "return asinOf(x);", "return g / sqrt(1.0 - x * x);", INVERSE_TRIG),
  acos: fn("acos", "return acosOf(x);", "return -g / sqrt(1.0 - x * x);", INVERSE_TRIG),
  atan: fn("atan", "return atanOf(x);", "return g / (1.0 + x * x);", INVERSE_TRIG),
  sinh: fn("sinh", "return sinhOf(x);", "return g * coshOf(x);", INVERSE_TRIG),
  cosh: fn("cosh", "return coshOf(x);", "return g * sinhOf(x);", INVERSE_TRIG),
  // 1/√x rather than inverseSqrt, which WGSL allows 2 ulp; the gradient −½·g·y³.
  rsqrt: fn(
    "rsqrt",
    "return 1.0 / sqrt(x);",
    "let y = 1.0 / sqrt(x);\n  return -0.5 * g * y * y * y;",
  ),
  reciprocal: fn("reciprocal", "return 1.0 / x;", "let y = 1.0 / x;\n  return -g * y * y;"),
  square: fn("square", "return x * x;", "return 2.0 * g * x;"),
  exp2: fn("exp2", "return exp2(x);", `return g * exp2(x) * ${LN2};`),
  log2: fn("log2", "return log2(x);", `return g / (x * ${LN2});`),
  log10: fn("log10", `return log2(x) * ${LOG10_2};`, `return g / (x * ${LN10});`),
  // Accurate near 0, where exp(x) − 1 cancels; the gradient g·eˣ.
  expm1: fn("expm1", "return expm1Of(x);", "return g * exp(x);", [...SMOOTH]),
  // x − trunc(x), as PyTorch; its gradient passes.
  frac: fn("frac", "return x - trunc(x);", "return g;"),
  // PyTorch's sign: 0 at ±0 and for NaN.
  sign: flat("sign", "return f32(x > 0.0) - f32(x < 0.0);"),
  floor: flat("floor", "return floor(x);"),
  ceil: flat("ceil", "return ceil(x);"),
  // WGSL's round is half to even, as PyTorch's.
  round: flat("round", "return round(x);"),
  trunc: flat("trunc", "return trunc(x);"),
};

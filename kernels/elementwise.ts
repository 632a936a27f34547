/**
 * Elementwise kernels: unary maps (with up to two baked-in scalars), and maps of several
 * operands with NumPy broadcasting (binary ops, `where`, dtype casts). Same-shape contiguous
 * operands take a vec4 path split into binding windows, so tensors larger than one storage
 * binding work; broadcast or strided operands take an indexed path.
 *
 * @module
 */

import type { Device, FaultSlot, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import {
  f32Literal,
  flatMain,
  forEachWindow,
  nanTest,
  relu,
  reluMasked,
  signBit,
  stridedWindows,
} from "./_program.ts";
import { stridedIndex, Uniforms } from "./_uniforms.ts";

/** The comparisons: each gives 1 where it holds and 0 where not (false for a NaN but `ne`'s). */
export type Comparison = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

/**
 * Unary maps. The `*Scalar` forms and `pow` use the scalar `value`; `clamp` and `inRange` use
 * `value` as the lower bound and `value2` as the upper.
 */
export type UnaryOp =
  | "copy"
  | "neg"
  | "sign"
  | "exp"
  | "log"
  | "log1p"
  | "sqrt"
  | "abs"
  | "relu"
  | "tanh"
  | "sigmoid"
  | "pow"
  | "clamp"
  | "inRange"
  | "addScalar"
  | "mulScalar"
  | "divScalar"
  | "rsubScalar"
  | "rdivScalar"
  | `${Comparison}Scalar`;

/**
 * Binary maps. Comparisons return 1 or 0. `reluMask(g, y)` is `g` where `y > 0`, else 0.
 * `max` and `min` keep a NaN, as PyTorch's `maximum` and `minimum`; `maxShare(a, b)` is the share
 * of `maximum(a, b)`'s gradient that goes to `a` (1 where `a` is larger, ½ on a tie, 0 where `b`
 * is), and `minShare` the same for `minimum`.
 */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "max"
  | "min"
  | "maxShare"
  | "minShare"
  | Comparison
  | "reluMask"
  | "pow"
  | IntegerDivision;

/**
 * The integer divisions, of two i32 operands into i32: `floorDivide` rounds the quotient down
 * (Python's `//`: −7 // 2 = −4), `remainder` takes the divisor's sign (Python's `%`: −7 % 3 = 2)
 * and `fmod` the dividend's (C's `%`: −7 fmod 3 = −1). A zero divisor gives 0 and records a
 * device fault (see {@link binary}).
 */
export type IntegerDivision = "floorDivide" | "remainder" | "fmod";

/** The WGSL element types that a map reads and writes (32 bits each). */
export type ElementType = "f32" | "i32" | "u32";

type Template = (x: string, c: string, t: string, c2: string) => string;

/** `1` where `condition` holds, else `0`, in type `t`. */
const indicator = (condition: string, t: string) => `select(${t}(0.0), ${t}(1.0), ${condition})`;

const SYMBOL: { readonly [K in Comparison]: string } = {
  eq: "==",
  ne: "!=",
  lt: "<",
  le: "<=",
  gt: ">",
  ge: ">=",
};

/** Whether either of two float operands (of type `t`, `f32` or `vec4f`) is NaN. */
const eitherNan = (a: string, b: string, t: string) => `(${nanTest(a, t)}) | (${nanTest(b, t)})`;

/**
 * The condition `a op b` on operands of type `t`. A NaN compares unequal to everything, as in
 * IEEE and PyTorch, but WGSL lets a compiler assume there are no NaNs, so a float operand's bits
 * are tested; integers have none. `&` and `|` are WGSL's logic for vectors of bools too.
 */
function compare(op: Comparison, a: string, b: string, t: string): string {
  const holds = `(${a} ${SYMBOL[op]} ${b})`;
  if (!isFloat(t)) return holds;
  return op === "ne" ? `${holds} | ${eitherNan(a, b, t)}` : `${holds} & !(${eitherNan(a, b, t)})`;
}

/** `which(a, b)` (WGSL's `max` or `min`), NaN where either operand is NaN. */
const nanKeeping = (which: "max" | "min", a: string, b: string, t: string) =>
  isFloat(t)
    ? `select(${which}(${a}, ${b}), ${a} + ${b}, ${eitherNan(a, b, t)})`
    : `${which}(${a}, ${b})`;

/** Whether the WGSL type `t` (`f32`, `vec4f`, `i32` …) holds floats, which may be NaN. */
function isFloat(t: string): boolean {
  return t === "f32" || t === "vec4f";
}

/** The comparison of a tensor with the scalar `c`, as 1 or 0. */
const scalarComparison = (op: Comparison): Template => (x, c, t) =>
  indicator(compare(op, x, c, t), t);

/**
 * `log(1 + x)`, accurate for small `x`: there as `2·atanh(s)` with `s = x / (2 + x)` by its
 * series in `s²` (|s| ≤ ⅓ for |x| ≤ ½: the eight terms leave a relative error below 1e-9),
 * since `log(1 + x)` would lose `x` to the rounding of `1 + x`, and WGSL's `log` is only held
 * to an absolute error near 1. Elsewhere `log(1 + x)` is accurate.
 */
export function log1p(x: string, _c: string, t: string): string {
  const s = `(${x} / (${t}(2.0) + ${x}))`;
  const s2 = `(${s} * ${s})`;
  let series = `${t}(${f32Literal(1 / 15)})`;
  for (const k of [13, 11, 9, 7, 5, 3, 1]) {
    series = `${t}(${f32Literal(1 / k)}) + ${s2} * (${series})`;
  }
  return `select(log(${t}(1.0) + ${x}), ${t}(2.0) * ${s} * (${series}), abs(${x}) <= ${t}(0.5))`;
}

/**
 * `eˣ − 1`, accurate for small `x`: its Taylor series (to degree 9) where `exp(x) − 1` would
 * cancel (|x| < ½: relative error below 1e-9), `exp(x) − 1` elsewhere.
 */
export function expm1(x: string, _c: string, t: string): string {
  let series = `${t}(${f32Literal(1 / 3628800)})`;
  for (let k = 9, factorial = 362880; k >= 1; factorial /= k, k--) {
    series = `${t}(${f32Literal(1 / factorial)}) + ${x} * (${series})`;
  }
  return `select(exp(${x}) - ${t}(1.0), ${x} * (${series}), abs(${x}) < ${t}(0.5))`;
}

/**
 * `tanh(x)` as `±|e/(2 + e)|` with `e = expm1(−2|x|)`, the sign `x`'s (its sign bit, so
 * tanh(−0) = −0 as PyTorch's): never overflows, and keeps full precision for small |x| (where
 * `1 − exp(−2|x|)` would cancel).
 */
export function tanh(x: string, _c: string, t: string): string {
  const e = `(${expm1(`(${t}(-2.0) * abs(${x}))`, "", t)})`;
  const magnitude = `abs(${e} / (${t}(2.0) + ${e}))`;
  return `select(${magnitude}, -${magnitude}, ${signBit(x, t)})`;
}

// One WGSL expression per op, written so it is valid for both f32 and vec4f (`t` is the type).
const UNARY: { readonly [K in UnaryOp]: Template } = {
  copy: (x) => x,
  neg: (x) => `-${x}`,
  sign: (x) => `sign(${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  log1p: log1p,
  sqrt: (x) => `sqrt(${x})`,
  abs: (x) => `abs(${x})`,
  relu: (x, _c, t) => relu(x, t),
  tanh: tanh,
  sigmoid: (x, _c, t) => `${t}(1.0) / (${t}(1.0) + exp(-${x}))`,
  pow: (x, c) => `pow(${x}, ${c})`, // replaced by powExpression for negative bases
  // min(max(x, lo), hi), as PyTorch (all hi when lo > hi), keeping a NaN.
  clamp: (x, lo, t, hi) =>
    isFloat(t)
      ? `select(min(max(${x}, ${lo}), ${hi}), ${x}, ${nanTest(x, t)})`
      : `min(max(${x}, ${lo}), ${hi})`,
  // Where clamp passes its gradient: lo ≤ x ≤ hi, the bounds included (not at a NaN).
  inRange: (x, lo, t, hi) =>
    indicator(`(${x} >= ${lo}) & (${x} <= ${hi}) & !(${nanTest(x, t)})`, t),
  addScalar: (x, c) => `${x} + ${c}`,
  mulScalar: (x, c) => `${x} * ${c}`,
  // A true quotient, not `x · (1/c)`: that would lose a subnormal or huge c to 0 or ∞.
  divScalar: (x, c) => `${x} / ${c}`,
  rsubScalar: (x, c) => `${c} - ${x}`,
  rdivScalar: (x, c, t) => `${t}(${c}) / ${x}`,
  eqScalar: scalarComparison("eq"),
  neScalar: scalarComparison("ne"),
  ltScalar: scalarComparison("lt"),
  leScalar: scalarComparison("le"),
  gtScalar: scalarComparison("gt"),
  geScalar: scalarComparison("ge"),
};

/**
 * A binary op's WGSL: operands `a` and `b` of type `operand`, a result of type `t` (the same
 * but for comparisons, which compare operands of either dtype into f32 0 or 1).
 */
type BinaryTemplate = (a: string, b: string, t: string, operand: string) => string;

/**
 * `a`'s share of the gradient of `maximum(a, b)` (`loses` "<") or `minimum(a, b)` (">"): none
 * where it loses, half on a tie, all where it wins or either side is NaN (tested on the bits).
 */
function share(a: string, b: string, t: string, loses: "<" | ">"): string {
  const ordered =
    `select(select(${t}(1.0), ${t}(0.0), ${a} ${loses} ${b}), ${t}(0.5), ${a} == ${b})`;
  return `select(${ordered}, ${t}(1.0), ${eitherNan(a, b, t)})`;
}

/** A comparison of two operands of type `operand`, as 1 or 0 of type `t`. */
const comparison = (op: Comparison): BinaryTemplate => (a, b, t, operand) =>
  indicator(compare(op, a, b, operand), t);

const BINARY: { readonly [K in BinaryOp]: BinaryTemplate } = {
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  div: (a, b) => `${a} / ${b}`,
  max: (a, b, t) => nanKeeping("max", a, b, t),
  min: (a, b, t) => nanKeeping("min", a, b, t),
  // PyTorch's: ½ on a tie, else all or nothing; a NaN on either side sends all to both.
  maxShare: (a, b, t) => share(a, b, t, "<"),
  minShare: (a, b, t) => share(a, b, t, ">"),
  eq: comparison("eq"),
  ne: comparison("ne"),
  lt: comparison("lt"),
  le: comparison("le"),
  gt: comparison("gt"),
  ge: comparison("ge"),
  reluMask: (a, b, t) => reluMasked(a, b, t),
  pow: (a, b, t) => powOfTensors(a, b, t),
  floorDivide: (a, b, t) => integerDivision("floorDivide", a, b, t),
  remainder: (a, b, t) => integerDivision("remainder", a, b, t),
  fmod: (a, b, t) => integerDivision("fmod", a, b, t),
};

/**
 * `a op b` for i32 operands of type `t`, from WGSL's truncating `/` and `%` (both defined for
 * every operand, −2³¹ / −1 wrapping to −2³¹ as PyTorch's int32 does): where the truncated
 * remainder is nonzero and its sign differs from the divisor's, the floored quotient is one less
 * and Python's remainder one divisor more. 0 where `b` is 0.
 */
function integerDivision(op: IntegerDivision, a: string, b: string, t: string): string {
  const zero = `${t}(0)`;
  const truncated = `(${a} % ${b})`;
  const adjust = `((${truncated} != ${zero}) & ((${truncated} < ${zero}) != (${b} < ${zero})))`;
  const result = {
    fmod: truncated,
    floorDivide: `(${a} / ${b}) - select(${zero}, ${t}(1), ${adjust})`,
    remainder: `${truncated} + select(${zero}, ${b}, ${adjust})`,
  }[op];
  return `select(${result}, ${zero}, ${b} == ${zero})`;
}

const INTEGER_DIVISIONS: ReadonlySet<BinaryOp> = new Set<IntegerDivision>([
  "floorDivide",
  "remainder",
  "fmod",
]);

/**
 * `a^b` elementwise with C's (and PyTorch's) special cases, the exponent a tensor: the rules of
 * {@link powExpression} decided per element. `|a|^|b|` from WGSL's `pow`, its reciprocal for a
 * negative `b`, its sign flipped for an odd integer `b` and a negative `a` (the sign bit, so
 * (−0)⁻¹ = −∞), NaN for a negative finite `a` and a fractional `b`, 1 for `b = 0` or `a = 1`
 * (NaN included) and for `|a| = 1` with `b = ±∞`, else NaN where either is NaN.
 */
function powOfTensors(a: string, b: string, t: string): string {
  const [one, zero, half] = [`${t}(1.0)`, `${t}(0.0)`, `${t}(0.5)`];
  const nan = `${t}(bitcast<f32>(0x7fc00000u))`;
  const infinity = `${t}(${f32Literal(Infinity)})`;
  const whole = `(trunc(${b}) == ${b})`;
  const odd = `(${whole} & (trunc(${b} * ${half}) != ${b} * ${half}))`;
  const negative = `(${signBit(a, t)})`;
  const magnitude = `pow(abs(${a}), abs(${b}))`;
  const unsigned = `select(${magnitude}, ${one} / ${magnitude}, ${b} < ${zero})`;
  const signed = `select(${unsigned}, -${unsigned}, ${odd} & ${negative})`;
  const rootOfNegative = `(${a} < ${zero}) & (${a} > -${infinity}) & !${whole}`;
  const real = `select(${signed}, ${nan}, ${rootOfNegative})`;
  const unitToInfinity = `(abs(${a}) == ${one}) & (abs(${b}) == ${infinity})`;
  const finite = `select(${real}, ${one}, ${unitToInfinity})`;
  const propagated = `select(${finite}, ${a} + ${b}, ${eitherNan(a, b, t)})`;
  return `select(${propagated}, ${one}, (${b} == ${zero}) | (${a} == ${one}))`;
}

/**
 * `x^p` for any real `p`, with C's (and so PyTorch's) special cases. WGSL's `pow(x, y)` is
 * undefined for negative bases (integer `p` is not), for a zero base with `y ≤ 0` (lavapipe
 * gives 0 where C's pow gives +∞) and for a NaN base (lavapipe gives 0), so the power is taken
 * of `|x|`, its sign set for an odd `p` from the sign bit (−0 included: (−0)⁻¹ = −∞), a negative
 * `p` is the reciprocal of the positive power, a negative finite base is NaN for a fractional
 * `p`, and a NaN base stays NaN. `p` of ±∞ or NaN follows C: 1 at |x| = 1, else 0 or ∞ by
 * |x| ≶ 1, and NaN.
 */
function powExpression(x: string, p: number, t: string): string {
  if (p === 0) return `${t}(1.0)`;
  if (p === 1) return x;
  if (p === 2) return `${x} * ${x}`;
  const [one, zero] = [`${t}(1.0)`, `${t}(0.0)`];
  const nan = `${t}(bitcast<f32>(0x7fc00000u))`;
  const infinity = `${t}(${f32Literal(Infinity)})`;
  const unit = `abs(${x}) == ${one}`;
  let power: string;
  if (Number.isNaN(p)) {
    power = `select(${nan}, ${one}, ${x} == ${one})`;
  } else if (!Number.isFinite(p)) {
    const [above, below] = p > 0 ? [infinity, zero] : [zero, infinity];
    power = `select(select(${below}, ${above}, abs(${x}) > ${one}), ${one}, ${unit})`;
  } else {
    const magnitude = `pow(abs(${x}), ${t}(${f32Literal(Math.abs(p))}))`;
    let signed = magnitude;
    if (Number.isInteger(p) && p % 2 !== 0) {
      signed = `select(${magnitude}, -${magnitude}, ${signBit(x, t)})`;
    }
    power = p > 0 ? signed : `${one} / (${signed})`;
    if (!Number.isInteger(p)) {
      power = `select(${power}, ${nan}, (${x} < ${zero}) & (${x} > -${infinity}))`;
    }
  }
  return `select(${power}, ${x}, ${nanTest(x, t)})`;
}

const WORKGROUP = 256;

/** The unary maps that take i32 elements too (the rest are f32 only). */
export const INTEGER_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>([
  "copy",
  "neg",
  "abs",
  "sign",
  "clamp",
]);

/**
 * Applies a unary map to `n` contiguous elements: `out[i] = op(x[i])`, f32, or i32 for the
 * {@link INTEGER_UNARY} maps (whose scalars are then integers).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { unary } from "./elementwise.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([-1, 0, 2, 3]));
 * unary(device, "relu", x, out, 4);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [0, 0, 2, 3]
 * ```
 */
export function unary(
  device: Device,
  op: UnaryOp,
  x: GpuBuffer,
  out: GpuBuffer,
  n: number,
  value = 0,
  value2 = 0,
  type: "f32" | "i32" = "f32",
): void {
  // The scalars are uniforms (a new scale compiles nothing), except pow's exponent, which
  // picks the expression.
  const uf = new Uniforms();
  const vec = VEC4[type];
  const [scalar, scalar2] = [`${vec}(SCALAR)`, `${vec}(SECOND)`];
  let expression = op === "pow"
    ? powExpression("v", value, vec)
    : UNARY[op]("v", scalar, vec, scalar2);
  const uniform = (name: string, v: number) =>
    type === "f32" ? uf.f32(name, v) : `bitcast<i32>(${uf.u32(name, v)})`;
  // Registered only where the op reads them: an unread uniform block would leave the layout.
  if (expression.includes(scalar)) {
    expression = expression.replaceAll("SCALAR", uniform("value", value));
  }
  if (expression.includes(scalar2)) {
    expression = expression.replaceAll("SECOND", uniform("value2", value2));
  }
  const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<${vec}>;
@group(0) @binding(1) var<storage, read_write> out: array<${vec}>;
${uf.declare(2)}
${flatMain(WORKGROUP, "arrayLength(&out)", `\n  let v = x[i];\n  out[i] = ${expression};`)}`;
  dispatchVec4(device, `unary ${op} (${n})`, wgsl, uf, n, [x, out]);
}

/**
 * Writes `value` into `n` f32 elements of `out`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { fill } from "./elementwise.ts";
 * const device = await Device.acquire();
 * const out = device.alloc(12);
 * fill(device, out, 3, 7);
 * console.log(new Float32Array(await device.read(out, 0, 12))); // [7, 7, 7]
 * ```
 */
export function fill(device: Device, out: GpuBuffer, n: number, value: number): void {
  const uf = new Uniforms();
  const wgsl = `
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
${flatMain(WORKGROUP, "arrayLength(&out)", `\n  out[i] = vec4f(${uf.f32("value", value)});`)}
${uf.declare(1)}`;
  dispatchVec4(device, `fill (${n})`, wgsl, uf, n, [out]);
}

/** Element strides of one operand of a broadcast map (0 along broadcast axes). */
export interface BinaryOperand {
  /** The buffer. */
  buffer: GpuBuffer;
  /** Element strides for each output axis; 0 where the operand is broadcast. */
  strides: readonly number[];
  /** Element offset of the operand's first element. */
  offset?: number;
  /** What the buffer holds (default f32). */
  type?: ElementType;
}

/**
 * `out = op(a, b)` over an output of shape `shape` (contiguous); operands are read through
 * their strides, so broadcasting and views cost no copies. Operands are f32, but `add`, `sub`,
 * `mul`, `max` and `min` take two i32 too (an i32 result, wrapping as WGSL's integers do), the
 * {@link IntegerDivision}s take only two i32 (a zero divisor records a device fault), and the
 * comparisons take i32 operands too (two compared as integers; an i32 against an f32 as f32, as
 * PyTorch promotes it) and write f32.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { binary } from "./elementwise.ts";
 * const device = await Device.acquire();
 * const a = device.alloc(24), b = device.alloc(12), out = device.alloc(24);
 * device.write(a, new Float32Array([1, 2, 3, 4, 5, 6]));
 * device.write(b, new Float32Array([10, 20, 30]));
 * // [2, 3] + [3] broadcast over rows.
 * binary(device, "add", [2, 3], { buffer: a, strides: [3, 1] }, { buffer: b, strides: [0, 1] }, out);
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [11, 22, 33, 14, 25, 36]
 * ```
 */
export function binary(
  device: Device,
  op: BinaryOp,
  shape: readonly number[],
  a: BinaryOperand,
  b: BinaryOperand,
  out: GpuBuffer,
): void {
  const both = a.type === "i32" && b.type === "i32" ? "i32" : "f32";
  // A comparison gives f32 0 or 1; the other ops keep the operands' type.
  const result = op in SYMBOL ? "f32" : both;
  // PyTorch raises ZeroDivisionError on an integer division by zero; here the element is 0 and
  // the next read from the device throws, as for an index out of range.
  const check = INTEGER_DIVISIONS.has(op)
    ? {
      fault: device.faultSlot(`integer division by zero: ${op}`, () =>
        `${op}: integer division by zero (PyTorch: ZeroDivisionError)`),
      fails: ([, divisor]: string[]) =>
        `${divisor} == 0`,
    }
    : undefined;
  mapOperands(
    device,
    `binary ${op}`,
    shape,
    [a, b],
    { buffer: out, type: result },
    (
      [x, y],
      type,
    ) => BINARY[op](x, y, type(result), type(both)),
    both,
    check,
  );
}

/**
 * `out = cond ≠ 0 ? a : b` over an output of shape `shape`, operands read through their
 * strides (broadcast where 0). `a`, `b` and `out` are moved as bits (`a.type`: f32 or i32);
 * `cond` is f32 (NaN counts as true, as PyTorch's `bool()` of it) or i32.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { where } from "./elementwise.ts";
 * const device = await Device.acquire();
 * const c = device.alloc(12), a = device.alloc(12), b = device.alloc(4), out = device.alloc(12);
 * device.write(c, new Float32Array([1, 0, 1]));
 * device.write(a, new Float32Array([1, 2, 3]));
 * device.write(b, new Float32Array([-1]));
 * const [row, scalar] = [{ strides: [1] }, { strides: [0] }];
 * where(device, [3], { buffer: c, ...row }, { buffer: a, ...row }, { buffer: b, ...scalar }, out);
 * console.log(new Float32Array(await device.read(out, 0, 12))); // [1, -1, 3]
 * ```
 */
export function where(
  device: Device,
  shape: readonly number[],
  cond: BinaryOperand,
  a: BinaryOperand,
  b: BinaryOperand,
  out: GpuBuffer,
): void {
  const condType = cond.type ?? "f32";
  const bits = (o: BinaryOperand) => ({ ...o, type: "u32" as const });
  mapOperands(
    device,
    "where",
    shape,
    [cond, bits(a), bits(b)],
    { buffer: out, type: "u32" },
    ([c, x, y], type) => {
      const nonzero = `${c} != ${type(condType)}(0)`;
      // A NaN is nonzero, but a compiler may fold its comparison to false: its bits say.
      const truth = condType === "f32" ? `(${nonzero}) | (${nanTest(c, type("f32"))})` : nonzero;
      return `select(${y}, ${x}, ${truth})`;
    },
  );
}

/**
 * Converts `n` contiguous elements of `x` from `from` to `to` into `out`: i32 to f32 rounds to
 * the nearest f32, f32 to i32 rounds toward zero (as PyTorch's `.float()` and `.int()`).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { cast } from "./elementwise.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(12), out = device.alloc(12);
 * device.write(x, new Float32Array([2.7, -2.7, 5]));
 * cast(device, x, "f32", out, "i32", 3);
 * console.log(new Int32Array(await device.read(out, 0, 12))); // [2, -2, 5]
 * ```
 */
export function cast(
  device: Device,
  x: GpuBuffer,
  from: "f32" | "i32",
  out: GpuBuffer,
  to: "f32" | "i32",
  n: number,
): void {
  const operand = { buffer: x, strides: [1], type: from };
  mapOperands(device, `cast ${from} to ${to}`, [n], [operand], { buffer: out, type: to }, (
    [v],
    type,
  ) => `${type(to)}(${v})`);
}

/**
 * The one map over broadcast operands behind {@link binary}, {@link where} and {@link cast}:
 * `out = expression(operands)` over the contiguous `shape`. `expression` gets each operand's
 * element (converted to `computeIn` where given; else as stored) and `type`, which names an
 * element type in the form of the path that runs (vec4 or scalar). `check` raises its fault
 * where its condition holds of an element's operands.
 */
function mapOperands(
  device: Device,
  name: string,
  shape: readonly number[],
  operands: readonly BinaryOperand[],
  out: { buffer: GpuBuffer; type: ElementType },
  expression: (elements: string[], type: (element: ElementType) => string) => string,
  computeIn?: ElementType,
  check?: ElementCheck,
): void {
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  const names = operands.map((_, k) => "abc"[k]);
  const load = (o: BinaryOperand, element: string, type: (e: ElementType) => string) => {
    const stored = o.type ?? "f32";
    return computeIn && computeIn !== stored ? `${type(computeIn)}(${element})` : element;
  };
  const declarations = (vector: boolean) =>
    [...operands, out].map((o, k) => {
      const type = o.type ?? "f32";
      const access = k === operands.length ? "read_write" : "read";
      const element = vector ? VEC4[type] : type;
      return `@group(0) @binding(${k}) var<storage, ${access}> ${
        names[k] ?? "out"
      }: array<${element}>;`;
    }).join("\n");
  const contiguous = stridesOf(shape);
  const same = (o: BinaryOperand) =>
    (o.offset ?? 0) === 0 && o.strides.every((s, i) => s === contiguous[i] || shape[i] === 1);
  // A checked map takes the indexed path, whose lanes past the end do nothing: the vec4 path's
  // last vector may read padding that would fail the check.
  if (!check && operands.every(same)) {
    const vec = (e: ElementType) => VEC4[e];
    const body = expression(
      operands.map((o, k) => load(o, `${names[k]}[i]`, vec)),
      vec,
    );
    const wgsl = `
${declarations(true)}
${flatMain(WORKGROUP, "arrayLength(&out)", `\n  out[i] = ${body};`)}`;
    const buffers = [...operands.map((o) => o.buffer), out.buffer];
    dispatchVec4(device, `${name} (${n})`, wgsl, null, n, buffers);
    return;
  }
  // Operands or a result larger than one binding are read and written in windows.
  const views = [...operands, { buffer: out.buffer, strides: contiguous }].map((v) => ({
    ...v,
    offset: v.offset ?? 0,
  }));
  const scalar = (e: ElementType) => e;
  for (const w of stridedWindows(device, shape, views)) {
    const uf = new Uniforms();
    const elements = operands.map((v, k) => {
      const index = stridedIndex(uf, names[k], shape, v.strides, (v.offset ?? 0) - w.bases[k]);
      return load(v, `${names[k]}[${index}]`, scalar);
    });
    const raise = check
      ? `\n  if (${check.fails(elements)}) { raiseFault(${check.fault.code}u, 0u, 0u, 0u); }`
      : "";
    // The result is contiguous: element i sits at i, less its binding's first element.
    const body = `
  let i = ${uf.u32("start", w.start)} + t;${raise}
  out[i - ${uf.u32("outBase", w.bases[operands.length])}] = ${expression(elements, scalar)};`;
    const count = uf.u32("n", w.count);
    const wgsl = `
${declarations(false)}
${check ? faultWgsl(operands.length + 1) : ""}
${uf.declare(operands.length + (check ? 2 : 1))}
${flatMain(WORKGROUP, count, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `${name} [${shape}] broadcast`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 4 * (operands.length + 1) * w.count },
      },
      check ? [...w.bindings, { buffer: check.fault.buffer }] : w.bindings,
    );
  }
}

/** A device-side check of a map's elements: where `fails` holds, `fault` is raised. */
interface ElementCheck {
  readonly fault: FaultSlot;
  readonly fails: (elements: string[]) => string;
}

const VEC4: { readonly [K in ElementType]: string } = { f32: "vec4f", i32: "vec4i", u32: "vec4u" };

/** Row-major element strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Dispatches a vec4 kernel (bound by `arrayLength(&out)`, one invocation per vec4) over `n`
 * contiguous f32 elements of `buffers`, once per binding window.
 */
export function dispatchVec4(
  device: Device,
  name: string,
  wgsl: string,
  uniforms: Uniforms | null,
  n: number,
  buffers: readonly GpuBuffer[],
): void {
  const values = uniforms?.data();
  forEachWindow(device, n, buffers, (bindings, count) => {
    const workgroups = Math.ceil(count / 4 / WORKGROUP);
    const cost = { bytes: 4 * count * buffers.length };
    device.dispatch({ name, wgsl, uniforms: values, workgroups, cost }, bindings);
  });
}

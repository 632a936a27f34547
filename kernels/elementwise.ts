/**
 * Elementwise kernels: unary maps (with an optional baked-in scalar) and binary maps with
 * NumPy broadcasting. Same-shape contiguous operands take a vec4 path split into binding
 * windows, so tensors larger than one storage binding work; broadcast or strided operands
 * take an indexed path.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import {
  f32Literal,
  flatMain,
  forEachWindow,
  relu,
  reluMasked,
  stridedWindows,
} from "./_program.ts";
import { stridedIndex, Uniforms } from "./_uniforms.ts";

/** Unary maps. The `*Scalar` forms and `pow` use the scalar `value`. */
export type UnaryOp =
  | "copy"
  | "neg"
  | "sign"
  | "exp"
  | "log"
  | "sqrt"
  | "abs"
  | "relu"
  | "tanh"
  | "sigmoid"
  | "pow"
  | "addScalar"
  | "mulScalar"
  | "divScalar"
  | "rsubScalar"
  | "rdivScalar"
  | "gtScalar";

/** Binary maps. Comparisons return 1 or 0. `reluMask(g, y)` is `g` where `y > 0`, else 0. */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "max" | "min" | "eq" | "gt" | "reluMask";

type Template = (x: string, c: string, t: string) => string;

// One WGSL expression per op, written so it is valid for both f32 and vec4f (`t` is the type).
const UNARY: { readonly [K in UnaryOp]: Template } = {
  copy: (x) => x,
  neg: (x) => `-${x}`,
  sign: (x) => `sign(${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  abs: (x) => `abs(${x})`,
  relu: (x, _c, t) => relu(x, t),
  // tanh through exp of a non-positive argument: never overflows, exact sign.
  tanh: (x, _c, t) =>
    `sign(${x}) * (${t}(1.0) - exp(${t}(-2.0) * abs(${x}))) / (${t}(1.0) + exp(${t}(-2.0) * abs(${x})))`,
  sigmoid: (x, _c, t) => `${t}(1.0) / (${t}(1.0) + exp(-${x}))`,
  pow: (x, c) => `pow(${x}, ${c})`, // replaced by powExpression for negative bases
  addScalar: (x, c) => `${x} + ${c}`,
  mulScalar: (x, c) => `${x} * ${c}`,
  // A true quotient, not `x · (1/c)`: that would lose a subnormal or huge c to 0 or ∞.
  divScalar: (x, c) => `${x} / ${c}`,
  rsubScalar: (x, c) => `${c} - ${x}`,
  rdivScalar: (x, c, t) => `${t}(${c}) / ${x}`,
  gtScalar: (x, c, t) => `select(${t}(0.0), ${t}(1.0), ${x} > ${t}(${c}))`,
};

const BINARY: { readonly [K in BinaryOp]: (a: string, b: string, t: string) => string } = {
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  div: (a, b) => `${a} / ${b}`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
  eq: (a, b, t) => `select(${t}(0.0), ${t}(1.0), ${a} == ${b})`,
  gt: (a, b, t) => `select(${t}(0.0), ${t}(1.0), ${a} > ${b})`,
  reluMask: (a, b, t) => reluMasked(a, b, t),
};

/**
 * `x^p` for any real `p`. WGSL's `pow(x, y)` is undefined for negative bases (integer `p` is
 * not) and for a zero base with `y ≤ 0` (lavapipe gives 0 where C's pow gives +∞), so a
 * negative `p` is the reciprocal of the positive power.
 */
function powExpression(x: string, p: number, t: string): string {
  if (p === 0) return `${t}(1.0)`;
  if (p === 1) return x;
  if (p === 2) return `${x} * ${x}`;
  const base = Number.isInteger(p) ? `abs(${x})` : x;
  const magnitude = `pow(${base}, ${t}(${f32Literal(Math.abs(p))}))`;
  const signed = Number.isInteger(p) && p % 2 !== 0 ? `sign(${x}) * ${magnitude}` : magnitude;
  return p > 0 ? signed : `${t}(1.0) / (${signed})`;
}

const WORKGROUP = 256;

/**
 * Applies a unary map to `n` contiguous f32 elements: `out[i] = op(x[i])`.
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
): void {
  // The scalar is a uniform (a new scale compiles nothing), except pow's exponent, which
  // picks the expression.
  const uf = new Uniforms();
  const scalar = "vec4f(SCALAR)";
  let expression = op === "pow"
    ? powExpression("v", value, "vec4f")
    : UNARY[op]("v", scalar, "vec4f");
  // Registered only where the op reads it: an unread uniform block would leave the layout.
  if (expression.includes(scalar)) {
    expression = expression.replaceAll("SCALAR", uf.f32("value", value));
  }
  const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
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

/** Element strides of one operand of a broadcast binary op (0 along broadcast axes). */
export interface BinaryOperand {
  /** The buffer. */
  buffer: GpuBuffer;
  /** Element strides for each output axis; 0 where the operand is broadcast. */
  strides: readonly number[];
  /** Element offset of the operand's first element. */
  offset?: number;
}

/**
 * `out = op(a, b)` over an output of shape `shape` (contiguous); operands are read through
 * their strides, so broadcasting and views cost no copies.
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
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  const contiguous = stridesOf(shape);
  const same = (o: BinaryOperand) =>
    (o.offset ?? 0) === 0 && o.strides.every((s, i) => s === contiguous[i] || shape[i] === 1);
  if (same(a) && same(b)) {
    const vec4Expression = BINARY[op]("a[i]", "b[i]", "vec4f");
    const wgsl = `
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
${flatMain(WORKGROUP, "arrayLength(&out)", `\n  out[i] = ${vec4Expression};`)}`;
    dispatchVec4(device, `binary ${op} (${n})`, wgsl, null, n, [a.buffer, b.buffer, out]);
    return;
  }
  // Operands or a result larger than one binding are read and written in windows.
  const views = [a, b, { buffer: out, strides: contiguous }].map((v) => ({
    ...v,
    offset: v.offset ?? 0,
  }));
  for (const w of stridedWindows(device, shape, views)) {
    const uf = new Uniforms();
    const [ia, ib] = [a, b].map((v, k) =>
      stridedIndex(uf, "ab"[k], shape, v.strides, (v.offset ?? 0) - w.bases[k])
    );
    const expression = BINARY[op](`a[${ia}]`, `b[${ib}]`, "f32");
    // The result is contiguous: element i sits at i, less its binding's first element.
    const body = `
  let i = ${uf.u32("start", w.start)} + t;
  out[i - ${uf.u32("outBase", w.bases[2])}] = ${expression};`;
    const count = uf.u32("n", w.count);
    const wgsl = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${uf.declare(3)}
${flatMain(WORKGROUP, count, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `binary ${op} [${shape}] broadcast`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 12 * w.count },
      },
      w.bindings,
    );
  }
}

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
function dispatchVec4(
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

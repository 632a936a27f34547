/**
 * Row reductions: `out[r] = reduce(x[r, 0..cols))` over a contiguous `[rows, cols]` matrix, as a
 * tree reduction in workgroup memory. No float atomics: every run adds in the same order, so
 * results are identical from run to run on one device. Reductions over other axes are built
 * above this by moving the reduced axes last. The arg-reductions (`argReduceRows`) give each
 * row's index of its maximum or minimum the same way, carrying (value, index) pairs.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { alignedStart, flatMain, IS_NAN } from "./_program.ts";
import { gather } from "./gather_scatter.ts";
import { Uniforms } from "./_uniforms.ts";

/** The reductions available. */
export type ReduceOp = "sum" | "prod" | "max" | "min";

/** The arg-reductions: the index of each row's maximum or minimum. */
export type ArgReduceOp = "argmax" | "argmin";

const WORKGROUP = 128;
/**
 * Rows of at most this many columns are each reduced by one invocation, in order (on lavapipe
 * 4–40× faster than a workgroup per row up to 169 columns; see `dispatchRows`).
 */
const SHORT_ROW = 256;
/** Columns one workgroup reduces in one pass; longer rows take two passes. */
const MAX_COLS_PER_PASS = 65536;

const IDENTITY: { readonly [K in ReduceOp]: string } = {
  sum: "0.0",
  prod: "1.0",
  max: "bitcast<f32>(0xff800000u)",
  min: "bitcast<f32>(0x7f800000u)",
};

const COMBINE: { readonly [K in ReduceOp]: (a: string, b: string) => string } = {
  sum: (a, b) => `${a} + ${b}`,
  prod: (a, b) => `${a} * ${b}`,
  // NaN wins, as in PyTorch: a comparison with NaN is false, so test for it explicitly.
  max: (a, b) => `select(max(${a}, ${b}), ${a} + ${b}, isNan(${a}) || isNan(${b}))`,
  min: (a, b) => `select(min(${a}, ${b}), ${a} + ${b}, isNan(${a}) || isNan(${b}))`,
};

/**
 * Reduces each row of a contiguous `[rows, cols]` f32 or i32 (`type`) matrix into `out[rows]`.
 * An i32 sum or product wraps around on overflow (two's complement), where PyTorch's, in
 * int64, would not until 2⁶³.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { reduceRows } from "./reduce.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), out = device.alloc(8);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * reduceRows(device, "sum", x, out, 2, 3);
 * console.log(new Float32Array(await device.read(out, 0, 8))); // [6, 15]
 * ```
 */
export function reduceRows(
  device: Device,
  op: ReduceOp,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  cols: number,
  type: "f32" | "i32" = "f32",
): void {
  if (rows === 0) return;
  const program = reduceProgram(op, type);
  const most = colsPerPass(device);
  if (cols > most) {
    // Partial results per chunk of each row, then the chunks of each row (in as many passes
    // again as they need: a device whose bindings hold fewer than 65,536 elements).
    const chunks = Math.ceil(cols / most);
    const partial = device.alloc(rows * chunks * 4, "reduce partials");
    dispatchRows(device, program, x, partial, rows, cols, chunks);
    reduceRows(device, op, partial, out, rows, chunks, type);
    device.release(partial);
    return;
  }
  dispatchRows(device, program, x, out, rows, cols, 1);
}

/** Columns one workgroup reduces in one pass: a chunk must also fit one binding. */
function colsPerPass(device: Device): number {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  return Math.min(MAX_COLS_PER_PASS, Math.floor((limit - align) / 4));
}

/** The shader of a row pass, given the names of its uniforms (see {@link dispatchRows}). */
interface RowProgram {
  /** Names the dispatch. */
  name: string;
  /** The element types of `x` and `out`. */
  types: readonly [string, string];
  /** WGSL declared once: helper functions, and `scratch` for the workgroup form. */
  declarations: (short: boolean) => string;
  /**
   * The body that reduces `x[base + c]` for `c` in `[begin, end)`, one invocation per row
   * (`short`) or a workgroup per row chunk (lane `lid` strides by the workgroup), and writes
   * `out[g - outBase]`.
   */
  body: (short: boolean) => string;
}

/** The extreme i32 values: the identities of an i32 maximum and minimum. */
const I32_LOWEST = "i32(-2147483647 - 1)", I32_HIGHEST = "2147483647";

/** The i32 identities: an i32 sum's and product's, and the extreme values. */
const I32_IDENTITY: { readonly [K in ReduceOp]: string } = {
  sum: "0",
  prod: "1",
  max: I32_LOWEST,
  min: I32_HIGHEST,
};

/** The i32 combinations: WGSL's i32 `+` and `*` wrap around, as two's complement does. */
const I32_COMBINE: { readonly [K in ReduceOp]: (a: string, b: string) => string } = {
  sum: (a, b) => `${a} + ${b}`,
  prod: (a, b) => `${a} * ${b}`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
};

/** The WGSL of a sum, product, maximum or minimum pass over f32 or i32. */
function reduceProgram(op: ReduceOp, type: "f32" | "i32"): RowProgram {
  const combine = type === "f32" ? COMBINE[op] : I32_COMBINE[op];
  const identity = type === "f32" ? IDENTITY[op] : I32_IDENTITY[op];
  let tree = "";
  for (let width = WORKGROUP / 2; width >= 1; width /= 2) {
    tree += `
  if (lid < ${width}u) { scratch[lid] = ${combine("scratch[lid]", `scratch[lid + ${width}u]`)}; }
  workgroupBarrier();`;
  }
  return {
    name: `reduce ${op}${type === "f32" ? "" : " i32"}`,
    types: [type, type],
    declarations: (short) =>
      `${op === "sum" || op === "prod" || type === "i32" ? "" : IS_NAN}
${short ? "" : `var<workgroup> scratch: array<${type}, ${WORKGROUP}>;`}`,
    body: (short) =>
      short
        ? `
  var acc = ${identity};
  for (var c = begin; c < end; c++) {
    acc = ${combine("acc", "x[base + c]")};
  }
  out[g - outBase] = acc;`
        : `
  var acc = ${identity};
  for (var c = begin + lid; c < end; c += ${WORKGROUP}u) {
    acc = ${combine("acc", "x[base + c]")};
  }
  scratch[lid] = acc;
  workgroupBarrier();${tree}
  if (lid == 0u) { out[g - outBase] = scratch[0]; }`,
  };
}

/**
 * The WGSL of an argmax or argmin pass over f32 or i32 values, as PyTorch's: the first index
 * of the extreme value, and a NaN counts as more extreme than any number (its first index wins).
 * Each accumulator is a (value, index) pair that starts past every index with the identity, so
 * an empty lane loses to any element; pairs of the tree are ordered by value then index.
 */
function argReduceProgram(op: ArgReduceOp, type: "f32" | "i32"): RowProgram {
  const beyond = op === "argmax" ? ">" : "<";
  const identity = type === "f32"
    ? (op === "argmax" ? IDENTITY.max : IDENTITY.min)
    : (op === "argmax" ? I32_LOWEST : I32_HIGHEST);
  const nanRule = type === "f32"
    ? `
  let vNan = isNan(v);
  if (vNan != isNan(w)) { return vNan; }
  if (vNan) { return i < j; }`
    : "";
  let tree = "";
  for (let width = WORKGROUP / 2; width >= 1; width /= 2) {
    tree += `
  if (lid < ${width}u && better(values[lid + ${width}u], indices[lid + ${width}u], values[lid], indices[lid])) {
    values[lid] = values[lid + ${width}u];
    indices[lid] = indices[lid + ${width}u];
  }
  workgroupBarrier();`;
  }
  const scan = (start: string, step: string) => `
  var best = ${identity};
  var at = 2147483647;
  for (var c = ${start}; c < end; c += ${step}) {
    let v = x[base + c];
    if (better(v, i32(c), best, at)) {
      best = v;
      at = i32(c);
    }
  }`;
  return {
    name: op,
    types: [type, "i32"],
    declarations: (short) =>
      `${type === "f32" ? IS_NAN : ""}
/** Whether (v, i) comes before (w, j): more extreme, or as extreme and earlier. */
fn better(v: ${type}, i: i32, w: ${type}, j: i32) -> bool {${nanRule}
  if (v == w) { return i < j; }
  return v ${beyond} w;
}
${
        short ? "" : `var<workgroup> values: array<${type}, ${WORKGROUP}>;
var<workgroup> indices: array<i32, ${WORKGROUP}>;`
      }`,
    body: (short) =>
      short
        ? `${scan("begin", "1u")}
  out[g - outBase] = at;`
        : `${scan("begin + lid", `${WORKGROUP}u`)}
  values[lid] = best;
  indices[lid] = at;
  workgroupBarrier();${tree}
  if (lid == 0u) { out[g - outBase] = indices[0]; }`,
  };
}

/**
 * Writes the index along each row of a contiguous `[rows, cols]` matrix (`cols` ≥ 1) of its
 * maximum (`argmax`) or minimum (`argmin`) into the i32 `out[rows]`: the first on ties, and the
 * first NaN where there is one, as PyTorch. `type` is the element type of `x`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { argReduceRows } from "./reduce.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), out = device.alloc(8);
 * device.write(x, new Float32Array([1, 3, 3, 4, 0, 4]));
 * argReduceRows(device, "argmax", x, "f32", out, 2, 3);
 * console.log(new Int32Array(await device.read(out, 0, 8))); // [1, 0]
 * ```
 */
export function argReduceRows(
  device: Device,
  op: ArgReduceOp,
  x: GpuBuffer,
  type: "f32" | "i32",
  out: GpuBuffer,
  rows: number,
  cols: number,
): void {
  if (rows === 0) return;
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const most = Math.floor((limit - align) / 4);
  if (cols <= most) {
    // One pass whatever the length: a workgroup walks a long row (pairs do not chain passes).
    dispatchRows(device, argReduceProgram(op, type), x, out, rows, cols, 1);
    return;
  }
  // A row larger than a binding: each chunk's winner (its column in the row), the winners'
  // values, the first chunk whose value wins, and its column. Ties and NaNs go as in one
  // pass: the first winning chunk holds the first winning column.
  const chunks = Math.ceil(cols / most);
  const columns = device.alloc(rows * chunks * 4, "arg-reduce columns");
  const values = device.alloc(rows * chunks * 4, "arg-reduce values");
  const chunk = device.alloc(rows * 4, "arg-reduce chunk");
  dispatchRows(device, argReduceProgram(op, type), x, columns, rows, cols, chunks);
  const matrix = (buffer: GpuBuffer, width: number) => ({
    buffer,
    strides: [width, 1],
    offset: 0,
  });
  gather(device, type, [rows, chunks], 1, cols, matrix(x, cols), matrix(columns, chunks), values);
  argReduceRows(device, op, values, type, chunk, rows, chunks);
  gather(device, "i32", [rows, 1], 1, chunks, matrix(columns, chunks), matrix(chunk, 1), out);
  for (const buffer of [columns, values, chunk]) device.release(buffer);
}

/**
 * One pass: workgroup `(r, c)` reduces chunk `c` of row `r` (chunks of ceil(cols/chunks)). When
 * `x` or `out` is larger than one binding, the workgroups are dispatched in windows, each bound
 * to the part of `x` it reads and of `out` it writes.
 */
function dispatchRows(
  device: Device,
  program: RowProgram,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  cols: number,
  chunks: number,
): void {
  const chunk = Math.ceil(cols / chunks);
  // A short row is one invocation's loop: a workgroup of 128 lanes and 7 barriers per row of
  // a few values cost lavapipe 6.5 s for a million rows of 3 (the loop: 24 ms), 0.5 s for 1e5
  // rows of 17 (14 ms) and 72 ms for 2e4 rows of 169 (15–21 ms).
  const short = chunks === 1 && cols <= SHORT_ROW;
  const groups = rows * chunks;
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const whole = x.capacity <= limit && out.capacity <= limit;
  // A workgroup reads at most `chunk` elements of x and writes one of out.
  const per = whole ? groups : Math.max(1, Math.floor((limit - align) / 4 / chunk));
  /** The first element of x that workgroup g reads (its row's end for g = groups). */
  const xStart = (g: number) =>
    Math.floor(g / chunks) * cols + Math.min((g % chunks) * chunk, cols);
  const alignDown = (element: number) => alignedStart(element, align);
  for (let first = 0; first < groups; first += per) {
    const count = Math.min(per, groups - first);
    const [xBase, outBase] = whole ? [0, 0] : [alignDown(xStart(first)), alignDown(first)];
    const uf = new Uniforms();
    const u = uf.all({ groups: count, first, chunks, chunk, cols, xBase, outBase });
    const body = `
  let g = ${u.first} + group;
  let row = g / ${u.chunks};
  let begin = (g % ${u.chunks}) * ${u.chunk};
  let end = min(begin + ${u.chunk}, ${u.cols});
  let base = row * ${u.cols} - ${u.xBase};
  let outBase = ${u.outBase};${program.body(short)}`;
    const [xType, outType] = program.types;
    const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<${xType}>;
@group(0) @binding(1) var<storage, read_write> out: array<${outType}>;
${uf.declare(2)}
${program.declarations(short)}
${flatMain(WORKGROUP, u.groups, body, { index: "group", perWorkgroup: !short })}`;
    const bindings = whole ? [{ buffer: x }, { buffer: out }] : [
      { buffer: x, offset: xBase * 4, size: (xStart(first + count) - xBase) * 4 },
      { buffer: out, offset: outBase * 4, size: (first + count - outBase) * 4 },
    ];
    device.dispatch(
      {
        name: `${program.name} [${rows}, ${cols}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: short ? Math.ceil(count / WORKGROUP) : count,
        cost: { bytes: 4 * (xStart(first + count) - xStart(first) + count) },
      },
      bindings,
    );
  }
}

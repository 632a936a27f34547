/**
 * Row reductions: `out[r] = reduce(x[r, 0..cols))` over a contiguous `[rows, cols]` matrix, as a
 * tree reduction in workgroup memory. No float atomics: every run adds in the same order, so
 * results are identical from run to run on one device. Reductions over other axes are built
 * above this by moving the reduced axes last.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, IS_NAN } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/** The reductions available. */
export type ReduceOp = "sum" | "max";

const WORKGROUP = 128;
/**
 * Rows of at most this many columns are each reduced by one invocation, in order (on lavapipe
 * 4–40× faster than a workgroup per row up to 169 columns; see `dispatchReduce`).
 */
const SHORT_ROW = 256;
/** Columns one workgroup reduces in one pass; longer rows take two passes. */
const MAX_COLS_PER_PASS = 65536;

const IDENTITY: { readonly [K in ReduceOp]: string } = {
  sum: "0.0",
  max: "bitcast<f32>(0xff800000u)",
};

const COMBINE: { readonly [K in ReduceOp]: (a: string, b: string) => string } = {
  sum: (a, b) => `${a} + ${b}`,
  // NaN wins, as in PyTorch: a comparison with NaN is false, so test for it explicitly.
  max: (a, b) => `select(max(${a}, ${b}), ${a} + ${b}, isNan(${a}) || isNan(${b}))`,
};

/**
 * Reduces each row of a contiguous `[rows, cols]` f32 matrix into `out[rows]`.
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
): void {
  if (rows === 0) return;
  if (cols > MAX_COLS_PER_PASS) {
    // Two passes: partial results per chunk of each row, then the chunks of each row.
    const chunks = Math.ceil(cols / MAX_COLS_PER_PASS);
    const partial = device.alloc(rows * chunks * 4, "reduce partials");
    dispatchReduce(device, op, x, partial, rows, cols, chunks);
    dispatchReduce(device, op, partial, out, rows, chunks, 1);
    device.release(partial);
    return;
  }
  dispatchReduce(device, op, x, out, rows, cols, 1);
}

/**
 * One pass: workgroup `(r, c)` reduces chunk `c` of row `r` (chunks of ceil(cols/chunks)). When
 * `x` or `out` is larger than one binding, the workgroups are dispatched in windows, each bound
 * to the part of `x` it reads and of `out` it writes.
 */
function dispatchReduce(
  device: Device,
  op: ReduceOp,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  cols: number,
  chunks: number,
): void {
  const chunk = Math.ceil(cols / chunks);
  const combine = COMBINE[op];
  // A short row is one invocation's loop: a workgroup of 128 lanes and 7 barriers per row of
  // a few values cost lavapipe 6.5 s for a million rows of 3 (the loop: 24 ms), 0.5 s for 1e5
  // rows of 17 (14 ms) and 72 ms for 2e4 rows of 169 (15–21 ms).
  const short = chunks === 1 && cols <= SHORT_ROW;
  let tree = "";
  for (let width = WORKGROUP / 2; width >= 1; width /= 2) {
    tree += `
  if (lid < ${width}u) { scratch[lid] = ${combine("scratch[lid]", `scratch[lid + ${width}u]`)}; }
  workgroupBarrier();`;
  }
  const groups = rows * chunks;
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const whole = x.capacity <= limit && out.capacity <= limit;
  // A workgroup reads at most `chunk` elements of x and writes one of out.
  const per = whole ? groups : Math.max(1, Math.floor((limit - align) / 4 / chunk));
  /** The first element of x that workgroup g reads (its row's end for g = groups). */
  const xStart = (g: number) =>
    Math.floor(g / chunks) * cols + Math.min((g % chunks) * chunk, cols);
  const alignDown = (element: number) => Math.floor((element * 4) / align) * align / 4;
  for (let first = 0; first < groups; first += per) {
    const count = Math.min(per, groups - first);
    const [xBase, outBase] = whole ? [0, 0] : [alignDown(xStart(first)), alignDown(first)];
    const uf = new Uniforms();
    const u = uf.all({ groups: count, first, chunks, chunk, cols, xBase, outBase });
    const body = short
      ? `
  let g = ${u.first} + group;
  let base = g * ${u.cols} - ${u.xBase};
  var acc = ${IDENTITY[op]};
  for (var c = 0u; c < ${u.cols}; c++) {
    acc = ${combine("acc", "x[base + c]")};
  }
  out[g - ${u.outBase}] = acc;`
      : `
  let g = ${u.first} + group;
  let row = g / ${u.chunks};
  let begin = (g % ${u.chunks}) * ${u.chunk};
  let end = min(begin + ${u.chunk}, ${u.cols});
  let base = row * ${u.cols} - ${u.xBase};
  var acc = ${IDENTITY[op]};
  for (var c = begin + lid; c < end; c += ${WORKGROUP}u) {
    acc = ${combine("acc", "x[base + c]")};
  }
  scratch[lid] = acc;
  workgroupBarrier();${tree}
  if (lid == 0u) { out[g - ${u.outBase}] = scratch[0]; }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${uf.declare(2)}
${op === "max" ? IS_NAN : ""}
${short ? "" : `var<workgroup> scratch: array<f32, ${WORKGROUP}>;`}
${flatMain(WORKGROUP, u.groups, body, { index: "group", perWorkgroup: !short })}`;
    const bindings = whole ? [{ buffer: x }, { buffer: out }] : [
      { buffer: x, offset: xBase * 4, size: (xStart(first + count) - xBase) * 4 },
      { buffer: out, offset: outBase * 4, size: (first + count - outBase) * 4 },
    ];
    device.dispatch(
      {
        name: `reduce ${op} [${rows}, ${cols}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: short ? Math.ceil(count / WORKGROUP) : count,
        cost: { bytes: 4 * (xStart(first + count) - xStart(first) + count) },
      },
      bindings,
    );
  }
}

/**
 * Inclusive scans along rows, `torch.cumsum` and `torch.cumprod`, forward or from the end of
 * each row (the gradient of a cumulative sum is one from the end). Each of ⌈log₂ n⌉ passes
 * combines every element with the one `2ᵏ` before it (Hillis and Steele), so any row length
 * runs in parallel, with no atomics: the same result on every run. Lengths are uniforms.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, IS_NAN } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { alternatingPasses } from "./_passes.ts";
import { SMOOTH } from "./activation.ts";

/** The scans: a running sum, product, or `log Σ exp` (f32 only; `torch.logcumsumexp`). */
export type ScanOp = "sum" | "prod" | "logaddexp";

/**
 * WGSL of `combine(a, b)` per scan. `log(eᵃ + eᵇ)` is `max + log1p(e^−|a−b|)`: no overflow, and
 * exact where one side is −∞ (the difference is then infinite); two equal infinities give
 * themselves, a NaN propagates.
 */
const COMBINE: { readonly [K in ScanOp]: (type: string) => string } = {
  sum: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a + b; }`,
  prod: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a * b; }`,
  logaddexp: () =>
    `${IS_NAN}
${SMOOTH.join("\n")}
fn combine(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b)) { return a + b; }
  let m = max(a, b);
  let d = -abs(a - b);
  if (isNan(d)) { return m; }
  return m + log1pOf(exp(d));
}`,
};

const WORKGROUP = 256;

/** One pass: `target[j] = source[j] ⊕ source[j ∓ step]` within each row (where it exists). */
function scanPass(
  device: Device,
  op: ScanOp,
  type: "f32" | "i32",
  reverse: boolean,
  source: GpuBuffer,
  target: GpuBuffer,
  rows: number,
  length: number,
  step: number,
): void {
  const uf = new Uniforms();
  const u = uf.all({ length, step, n: rows * length });
  const [has, from] = reverse
    ? [`p + ${u.step} < ${u.length}`, `i + ${u.step}`]
    : [`p >= ${u.step}`, `i - ${u.step}`];
  const body = `
  let p = i % ${u.length};
  var v = src[i];
  if (${has}) { v = combine(v, src[${from}]); }
  dst[i] = v;`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${type}>;
${uf.declare(2)}
${COMBINE[op](type)}
${flatMain(WORKGROUP, u.n, body)}`;
  device.dispatch(
    {
      name: `cum${op}${reverse ? " reversed" : ""} [${rows}, ${length}] step ${step}`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil((rows * length) / WORKGROUP),
      cost: { bytes: 12 * rows * length },
    },
    [{ buffer: source }, { buffer: target }],
  );
}

/**
 * The running sum, product or `log Σ exp` along each row of a contiguous `[rows, length]` matrix
 * `x` (f32, or i32 wrapping on overflow for a sum or product) into `out`:
 * `out[r, j] = x[r, 0] ⊕ … ⊕ x[r, j]`, or with `reverse`, `x[r, j] ⊕ … ⊕ x[r, length − 1]`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { scanRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), out = device.alloc(24);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * scanRows(device, "sum", "f32", x, out, 2, 3);
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [1, 3, 6, 4, 9, 15]
 * ```
 */
export function scanRows(
  device: Device,
  op: ScanOp,
  type: "f32" | "i32",
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  reverse = false,
): void {
  const n = rows * length;
  if (n === 0) return;
  if (op === "logaddexp" && type !== "f32") throw new TypeError("scanRows: logcumsumexp of i32");
  const passes = Math.ceil(Math.log2(length));
  if (passes === 0) {
    device.copy(x, 0, out, 0, n * 4);
    return;
  }
  alternatingPasses(device, out, n * 4, passes, x, "scan partials", (source, target, k) => {
    scanPass(device, op, type, reverse, source!, target, rows, length, 2 ** k);
  });
}

/**
 * One pass of a running extremum's index: `target[j]` is whichever of the positions
 * `source[j − step]` and `source[j]` holds the extremum, the later on ties (the identity
 * positions when `source` is null, the first pass).
 */
function extremumPass(
  device: Device,
  op: "max" | "min",
  type: "f32" | "i32",
  keys: GpuBuffer,
  source: GpuBuffer | null,
  target: GpuBuffer,
  rows: number,
  length: number,
  step: number,
): void {
  const uf = new Uniforms();
  const u = uf.all({ length, step, n: rows * length });
  const first = source === null;
  // The first pass starts from each element's own position in its row.
  const at = (j: string) => (first ? `i32(${j} - base)` : `previous[${j}]`);
  const beats = op === "max" ? ">=" : "<=";
  // PyTorch's rule: a later element wins if it is NaN, or neither is and it is at least as
  // extreme (so ties go to the later index, and the first NaN stays until a later one).
  const wins = type === "f32" ? `isNan(b) || (!isNan(a) && b ${beats} a)` : `b ${beats} a`;
  const body = `
  let p = i % ${u.length};
  let base = i - p;
  var best = ${at("i")};
  if (p >= ${u.step}) {
    let earlier = ${at(`i - ${u.step}`)};
    let a = keys[base + u32(earlier)];
    let b = keys[base + u32(best)];
    if (!(${wins})) { best = earlier; }
  }
  positions[i] = best;`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> keys: array<${type}>;
@group(0) @binding(1) var<storage, read_write> positions: array<i32>;
${first ? "" : "@group(0) @binding(2) var<storage, read> previous: array<i32>;"}
${uf.declare(first ? 2 : 3)}
${type === "f32" ? IS_NAN : ""}
${flatMain(WORKGROUP, u.n, body)}`;
  const bindings = [{ buffer: keys }, { buffer: target }];
  device.dispatch(
    {
      name: `cum${op} [${rows}, ${length}] step ${step}`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil((rows * length) / WORKGROUP),
      cost: { bytes: 16 * rows * length },
    },
    first ? bindings : [...bindings, { buffer: source }],
  );
}

/**
 * The i32 position of the running maximum or minimum along each row of a contiguous
 * `[rows, length]` matrix `keys` (f32 or i32) into `out`, as `torch.cummax`'s and
 * `torch.cummin`'s indices: the later position on ties, a NaN the extremum from where it
 * stands (the latest NaN so far).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { cumulativeExtremumRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const keys = device.alloc(20), out = device.alloc(20);
 * device.write(keys, new Float32Array([1, 3, 2, 3, 0]));
 * cumulativeExtremumRows(device, "max", "f32", keys, out, 1, 5);
 * console.log(new Int32Array(await device.read(out, 0, 20))); // [0, 1, 1, 3, 3]
 * ```
 */
export function cumulativeExtremumRows(
  device: Device,
  op: "max" | "min",
  type: "f32" | "i32",
  keys: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
): void {
  const n = rows * length;
  if (n === 0) return;
  const passes = Math.max(1, Math.ceil(Math.log2(length)));
  alternatingPasses(device, out, n * 4, passes, null, "running extremum", (source, target, k) => {
    extremumPass(device, op, type, keys, source, target, rows, length, 2 ** k);
  });
}

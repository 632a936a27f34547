/**
 * Inclusive scans along rows, `torch.cumsum` and `torch.cumprod`, forward or from the end of
 * each row (the gradient of a cumulative sum is one from the end). Each of ⌈log₂ n⌉ passes
 * combines every element with the one `2ᵏ` before it (Hillis and Steele), so any row length
 * runs in parallel, with no atomics: the same result on every run. Lengths are uniforms.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { alignedStart, flatMain, IS_NAN, rowRuns } from "./_program.ts";
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
  const n = rows * length;
  for (const w of shiftedWindows(device, n, reverse ? step : -step, [[source, target]])) {
    const uf = new Uniforms();
    const u = uf.all({ length, step, n: w.count, start: w.start, base: w.base, back: w.back });
    const [has, from] = reverse
      ? [`p + ${u.step} < ${u.length}`, `i + ${u.step}`]
      : [`p >= ${u.step}`, `i - ${u.step}`];
    const body = `
  let i = ${u.start} + t;
  let p = i % ${u.length};
  var v = src[i - ${u.base}];
  if (${has}) { v = combine(v, other[${from} - ${u.back}]); }
  dst[i - ${u.base}] = v;`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<${type}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${type}>;
@group(0) @binding(2) var<storage, read> other: array<${type}>;
${uf.declare(3)}
${COMBINE[op](type)}
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `cum${op}${reverse ? " reversed" : ""} [${rows}, ${length}] step ${step}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 12 * w.count },
      },
      w.bindings,
    );
  }
}

/** A window of a pass that reads each element and the one `shift` from it. */
interface ShiftedWindow {
  /** The first flat element, and how many. */
  start: number;
  count: number;
  /** Where the source's and the target's bindings start (they are alike), in elements. */
  base: number;
  /** Where the binding of the source `shift` away starts. */
  back: number;
  /** Per pair: the source, the target, and the source again from `back`. */
  bindings: Binding[];
}

/**
 * Splits a pass over `n` elements whose lane `i` reads `source[i]` and `source[i + shift]` (where
 * that lies in `[0, n)`) and writes `target[i]`, for each `[source, target]` pair alike, into
 * windows whose bindings fit: per pair, the element's own range of source and target, and the
 * source's range `shift` away, bound a second time. One window binding them whole when they
 * fit, so a scan along one huge row (a flat `cumsum` of a whole data set, `nonzero`'s
 * positions) runs as any other.
 */
function shiftedWindows(
  device: Device,
  n: number,
  shift: number,
  pairs: readonly (readonly [source: GpuBuffer, target: GpuBuffer])[],
): ShiftedWindow[] {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  if (pairs.flat().every((buffer) => buffer.capacity <= limit)) {
    const whole = pairs.flatMap(([source, target]) => [
      { buffer: source },
      { buffer: target },
      { buffer: source },
    ]);
    return [{ start: 0, count: n, base: 0, back: 0, bindings: whole }];
  }
  const alignDown = (element: number) => alignedStart(element, align);
  const per = Math.floor((limit - align) / 4);
  const out: ShiftedWindow[] = [];
  for (let start = 0; start < n; start += per) {
    const count = Math.min(per, n - start);
    const base = alignDown(start);
    // The other range, clamped to the elements that exist (lanes read only those); an empty
    // one binds the window's own range, which no lane reads.
    const [lo, hi] = [Math.max(0, start + shift), Math.min(n, start + shift + count)];
    const back = hi > lo ? alignDown(lo) : base;
    const backEnd = hi > lo ? hi : start + count;
    const range = { offset: base * 4, size: (start + count - base) * 4 };
    const bindings = pairs.flatMap(([source, target]) => [
      { buffer: source, ...range },
      { buffer: target, ...range },
      { buffer: source, offset: back * 4, size: (backEnd - back) * 4 },
    ]);
    out.push({ start, count, base, back, bindings });
  }
  return out;
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
  const first = source === null;
  const buffers = first ? [keys, target] : [keys, target, source];
  for (const run of rowRuns(device, `cum${op}`, rows, length, buffers)) {
    const uf = new Uniforms();
    const u = uf.all({ length, step, n: run.rows * length, shift: run.shift });
    // The first pass starts from each element's own position in its row.
    const at = (j: string) => (first ? `i32(${j} - base)` : `previous[${j}]`);
    const beats = op === "max" ? ">=" : "<=";
    // PyTorch's rule: a later element wins if it is NaN, or neither is and it is at least as
    // extreme (so ties go to the later index, and the first NaN stays until a later one).
    const wins = type === "f32" ? `isNan(b) || (!isNan(a) && b ${beats} a)` : `b ${beats} a`;
    const body = `
  let p = t % ${u.length};
  let i = t + ${u.shift};
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
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `cum${op} [${rows}, ${length}] step ${step}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil((run.rows * length) / WORKGROUP),
        cost: { bytes: 16 * run.rows * length },
      },
      run.bindings,
    );
  }
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
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  if (length * 4 > limit - align) {
    longExtremumPasses(device, op, type, keys, out, length, n, passes);
    return;
  }
  alternatingPasses(device, out, n * 4, passes, null, "running extremum", (source, target, k) => {
    extremumPass(device, op, type, keys, source, target, rows, length, 2 ** k);
  });
}

/**
 * {@link cumulativeExtremumRows} along rows longer than a binding: each pass carries the running
 * extremum's value with its position, so a lane reads only its own element and the one `2ᵏ`
 * before it, which {@link shiftedWindows} binds wherever they lie.
 */
function longExtremumPasses(
  device: Device,
  op: "max" | "min",
  type: "f32" | "i32",
  keys: GpuBuffer,
  out: GpuBuffer,
  length: number,
  n: number,
  passes: number,
): void {
  const values = [0, 1].map(() => device.alloc(n * 4, "running extremum values"));
  const positions = [out, device.alloc(n * 4, "running extremum positions")];
  const beats = op === "max" ? ">=" : "<=";
  const wins = type === "f32" ? `isNan(b) || (!isNan(a) && b ${beats} a)` : `b ${beats} a`;
  let [valueSource, positionSource] = [keys, keys];
  for (let k = 0; k < passes; k++) {
    // The last pass writes `out`; the first reads positions from nowhere (its own).
    const [valueTarget, positionTarget] = [values[k % 2], positions[(passes - 1 - k) % 2]];
    const pairs = [[valueSource, valueTarget], [positionSource, positionTarget]] as const;
    for (const w of shiftedWindows(device, n, -(2 ** k), pairs)) {
      const uf = new Uniforms();
      const u = uf.all({
        length,
        step: 2 ** k,
        n: w.count,
        start: w.start,
        base: w.base,
        back: w.back,
        first: k === 0 ? 1 : 0,
      });
      const body = `
  let i = ${u.start} + t;
  let p = i % ${u.length};
  var b = value[i - ${u.base}];
  var at = select(position[i - ${u.base}], i32(p), ${u.first} != 0u);
  if (p >= ${u.step}) {
    let a = valueBack[i - ${u.step} - ${u.back}];
    let earlier = select(positionBack[i - ${u.step} - ${u.back}], i32(p - ${u.step}), ${u.first} != 0u);
    if (!(${wins})) {
      b = a;
      at = earlier;
    }
  }
  valueOut[i - ${u.base}] = b;
  positionOut[i - ${u.base}] = at;`;
      const wgsl = `
@group(0) @binding(0) var<storage, read> value: array<${type}>;
@group(0) @binding(1) var<storage, read_write> valueOut: array<${type}>;
@group(0) @binding(2) var<storage, read> valueBack: array<${type}>;
@group(0) @binding(3) var<storage, read> position: array<i32>;
@group(0) @binding(4) var<storage, read_write> positionOut: array<i32>;
@group(0) @binding(5) var<storage, read> positionBack: array<i32>;
${uf.declare(6)}
${type === "f32" ? IS_NAN : ""}
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
      device.dispatch(
        {
          name: `cum${op} long rows [${n / length}, ${length}] step ${2 ** k}`,
          wgsl,
          uniforms: uf.data(),
          workgroups: Math.ceil(w.count / WORKGROUP),
          cost: { bytes: 24 * w.count },
        },
        w.bindings,
      );
    }
    [valueSource, positionSource] = [valueTarget, positionTarget];
  }
  for (const buffer of [...values, positions[1]]) device.release(buffer);
}

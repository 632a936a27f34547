/**
 * What the kernels share to build what they hand to `Device.dispatch` (see `_dispatch.ts`): the
 * entry-point boilerplate of a flat grid, WGSL literals and indices, and the split of operands
 * larger than one storage binding: into windows (flat, or strided views along a shape), runs of
 * whole samples (NCHW batches) or rows (sorts), and windows of a buffer read or written at
 * positions a lane computes from data (a gather's source), each lane acting in the one window
 * that holds its position (`passWindows`).
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import type { Dispatch } from "./_dispatch.ts";

// The dispatch record and the grid folding live with the device that consumes them (so that
// the device imports nothing from here); the kernels get them from this file as before.
export { type Dispatch, foldWorkgroups } from "./_dispatch.ts";

/**
 * WGSL that defines `flatWorkgroup(wid, nwg)`, the flat index of a workgroup in a folded grid.
 * Kernels declare `@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u`.
 */
export const FLAT_WORKGROUP = `
fn flatWorkgroup(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}`;

/** How {@link flatMain} names and counts its flat index. */
export interface FlatMainOptions {
  /** WGSL name of the flat index; default `i`. */
  index?: string;
  /**
   * Count workgroups instead of invocations: the index is the workgroup's, the same for all its
   * invocations, so the early return keeps barriers in uniform control flow. Default false.
   */
  perWorkgroup?: boolean;
}

/**
 * The opening of a kernel's entry point `main` on a folded flat grid, preceded by the
 * {@link FLAT_WORKGROUP} it calls: it defines the flat index (of the invocation, or of the
 * workgroup) and returns at once past `bound` (a count, or a WGSL u32 expression), since the folded grid may
 * overshoot. The local invocation index is `lid`. The caller writes the body and the closing
 * brace; {@link flatMain} does both for a body given whole.
 */
export function flatMainHead(
  workgroupSize: number,
  bound: number | string,
  options: FlatMainOptions = {},
): string {
  const { index = "i", perWorkgroup = false } = options;
  const flat = perWorkgroup
    ? "flatWorkgroup(wid, nwg)"
    : `flatWorkgroup(wid, nwg) * ${workgroupSize}u + lid`;
  return `${FLAT_WORKGROUP}

@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let ${index} = ${flat};
  if (${index} >= ${typeof bound === "number" ? `${bound}u` : bound}) { return; }`;
}

/**
 * A kernel's whole entry point: {@link flatMainHead}, then `body` (WGSL statements, each line
 * starting on a new line), then the closing brace.
 *
 * @example A kernel that doubles `n` floats
 * ```ts
 * import { flatMain } from "./_program.ts";
 * const n = 1000;
 * const wgsl = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
 * ${flatMain(256, n, "\n  x[i] = 2.0 * x[i];")}`;
 * console.log(wgsl.includes("if (i >= 1000u) { return; }")); // true
 * ```
 */
export function flatMain(
  workgroupSize: number,
  bound: number | string,
  body: string,
  options: FlatMainOptions = {},
): string {
  return `${flatMainHead(workgroupSize, bound, options)}${body}
}`;
}

/**
 * WGSL of `isNan(v: f32) -> bool`, a test on the bits: WGSL lets compilers assume that NaNs
 * are absent, and lavapipe folds `v != v` to false (a max written with it dropped NaNs).
 */
export const IS_NAN = `
fn isNan(v: f32) -> bool {
  return ${nanTest("v")};
}`;

/**
 * WGSL of the NaN test on the bits of `value` (`type` is `f32` or `vec4f`; a `vec4<bool>` for
 * the latter): see {@link IS_NAN}.
 *
 * @example
 * ```ts
 * import { nanTest } from "./_program.ts";
 * console.log(nanTest("v")); // (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u
 * ```
 */
export function nanTest(value: string, type = "f32"): string {
  const [bits, mask, infinity] = type === "f32"
    ? ["u32", "0x7fffffffu", "0x7f800000u"]
    : ["vec4u", "vec4u(0x7fffffffu)", "vec4u(0x7f800000u)"];
  return `(bitcast<${bits}>(${value}) & ${mask}) > ${infinity}`;
}

/**
 * WGSL testing the sign bit of `value` (of type `f32` or `vec4f`): true for −0 and negative
 * NaNs too, where `value < 0` is false, so a result built from `|x|` keeps the sign of −0.
 *
 * @example
 * ```ts
 * import { signBit } from "./_program.ts";
 * console.log(signBit("v")); // (bitcast<u32>(v) & 0x80000000u) != 0u
 * ```
 */
export function signBit(value: string, type = "f32"): string {
  const bits = type === "f32" ? "u32" : "vec4u";
  return `(bitcast<${bits}>(${value}) & ${bits}(0x80000000u)) != ${bits}(0u)`;
}

/** Formats a number as a WGSL f32 literal (always with a decimal point or exponent). */
export function f32Literal(x: number): string {
  if (Number.isNaN(x)) throw new RangeError("NaN cannot be a WGSL literal");
  if (x === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (x === -Infinity) return "bitcast<f32>(0xff800000u)";
  const s = Math.fround(x).toString();
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * WGSL of `max(value, 0)` that keeps a NaN, as PyTorch's ReLU does (`type` is `f32` or
 * `vec4f`): WGSL's `max` may return either operand for a NaN, and lavapipe returns 0, which
 * hid a NaN activation. The one expression of ReLU, for the map and every fused epilogue.
 *
 * @example
 * ```ts
 * import { relu } from "./_program.ts";
 * console.log(relu("v").startsWith("select(max(v, f32(0.0)), v,")); // true
 * ```
 */
export function relu(value: string, type = "f32"): string {
  return `select(max(${value}, ${type}(0.0)), ${value}, ${nanTest(value, type)})`;
}

/**
 * WGSL of `value` times the ReLU mask of `mask`: `value` where `mask > 0`, else 0 (`type` is
 * `f32` or `vec4f`). The one expression of the mask, shared by the elementwise `reluMask` and
 * every kernel epilogue that folds the mask in, so a fused gradient has the unfused one's bits.
 *
 * @example
 * ```ts
 * import { reluMasked } from "./_program.ts";
 * console.log(reluMasked("v", "y[i]")); // select(f32(0.0), v, y[i] > f32(0.0))
 * ```
 */
export function reluMasked(value: string, mask: string, type = "f32"): string {
  return `select(${type}(0.0), ${value}, ${mask} > ${type}(0.0))`;
}

/** Rounds `n` up to a multiple of `m`. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Splits `count` elements of `bytesPerElement` into windows that each fit in one binding and
 * start at an aligned byte offset. Kernels over huge buffers dispatch once per window; no
 * elements make no window (a binding of 0 bytes is invalid in WebGPU).
 */
export function windows(
  count: number,
  bytesPerElement: number,
  maxBindingBytes: number,
  alignment: number,
): { start: number; count: number }[] {
  if (count === 0) return [];
  const total = count * bytesPerElement;
  if (total <= maxBindingBytes) return [{ start: 0, count }];
  // Largest element count whose byte size is a multiple of the alignment and fits the limit.
  const unit = lcm(bytesPerElement, alignment) / bytesPerElement;
  const per = Math.floor(maxBindingBytes / bytesPerElement / unit) * unit;
  if (per === 0) {
    throw new RangeError(
      `one aligned unit of ${
        unit * bytesPerElement
      } bytes exceeds the binding limit ${maxBindingBytes}`,
    );
  }
  const out: { start: number; count: number }[] = [];
  for (let start = 0; start < count; start += per) {
    out.push({ start, count: Math.min(per, count - start) });
  }
  return out;
}

/**
 * Runs `body` once per binding window of `n` contiguous f32 elements (vec4 granularity) over
 * buffers that are all indexed alike, with the window's element count and first element.
 * Small tensors get one window covering exactly their vec4 length.
 */
export function forEachWindow(
  device: Device,
  n: number,
  buffers: readonly GpuBuffer[],
  body: (bindings: Binding[], count: number, start: number) => void,
): void {
  const parts = windows(
    Math.ceil(n / 4),
    16,
    device.limits.maxStorageBufferBindingSize,
    device.limits.minStorageBufferOffsetAlignment,
  );
  for (const part of parts) {
    const bindings = buffers.map((buffer) => ({
      buffer,
      offset: part.start * 16,
      size: part.count * 16,
    }));
    body(bindings, part.count * 4, part.start * 4);
  }
}

/** A strided view of a buffer, in 32-bit elements: a stride per axis and the first element. */
export interface StridedView {
  /** The buffer. */
  buffer: GpuBuffer;
  /** Element stride of each axis of the shape the pass runs over (non-negative). */
  strides: readonly number[];
  /** Element offset of the view's first element. */
  offset: number;
}

/**
 * One dispatch of a pass over a strided shape: the flat output indices `[start, start + count)`
 * (row-major over the shape), each view bound from element `bases[v]` on (so the kernel reads
 * element `e` of view v at `e − bases[v]`, in wrapping u32 arithmetic).
 */
export interface StridedWindow {
  start: number;
  count: number;
  bindings: Binding[];
  bases: number[];
}

/**
 * Splits a pass over `shape` that reads or writes every view at
 * `offset + Σ index_axis · stride_axis` into dispatches whose views each fit one binding. When
 * every buffer fits, one window binds them whole; otherwise each window is a run along the
 * outermost axis whose single step (the axes inside it complete) fits every view, so a
 * permuted, sliced or broadcast view larger than a binding is read in pieces, in order.
 */
export function stridedWindows(
  device: Device,
  shape: readonly number[],
  views: readonly StridedView[],
): StridedWindow[] {
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return [];
  const limit = device.limits.maxStorageBufferBindingSize;
  if (views.every((v) => v.buffer.capacity <= limit)) {
    const bindings = views.map((v) => ({ buffer: v.buffer }));
    return [{ start: 0, count: n, bindings, bases: views.map(() => 0) }];
  }
  const align = device.limits.minStorageBufferOffsetAlignment;
  // Elements a binding may span once its start is aligned down.
  const budget = Math.floor((limit - align) / 4);
  // Elements a view spans over one index of axis k with the axes inside it complete.
  const extent = (v: StridedView, k: number) =>
    1 + shape.reduce((t, d, j) => (j > k ? t + (d - 1) * v.strides[j] : t), 0);
  const k = shape.findIndex((_, axis) => views.every((v) => extent(v, axis) <= budget));
  const step = Math.min(
    shape[k],
    ...views.map((v) =>
      v.strides[k] === 0 ? Infinity : Math.floor((budget - extent(v, k)) / v.strides[k]) + 1
    ),
  );
  const inner = shape.slice(k + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, k).reduce((p, d) => p * d, 1);
  const out: StridedWindow[] = [];
  for (let o = 0; o < outer; o++) {
    // The element of each view where outer index o (the axes before k) starts.
    const firsts = views.map((v) => {
      let first = v.offset, rest = o;
      for (let j = k - 1; j >= 0; j--) {
        first += (rest % shape[j]) * v.strides[j];
        rest = Math.floor(rest / shape[j]);
      }
      return first;
    });
    for (let a = 0; a < shape[k]; a += step) {
      const b = Math.min(a + step, shape[k]);
      const bases: number[] = [];
      const bindings = views.map((v, i) => {
        const lo = firsts[i] + a * v.strides[k];
        const hi = lo + (b - a - 1) * v.strides[k] + extent(v, k);
        const base = alignedStart(lo, align);
        bases.push(base);
        return { buffer: v.buffer, offset: base * 4, size: (hi - base) * 4 };
      });
      out.push({ start: (o * shape[k] + a) * inner, count: (b - a) * inner, bindings, bases });
    }
  }
  return out;
}

/** The first 4-byte element at or below `element` where a binding may start (`align` bytes). */
export function alignedStart(element: number, align: number): number {
  return Math.floor((element * 4) / align) * align / 4;
}

/**
 * The binding of the 4-byte elements `[first, first + count)` of `buffer`, from the aligned
 * element at or below `first` (its `base`): the caller reads element `e` at `e − base`.
 */
export function boundElements(
  device: Device,
  buffer: GpuBuffer,
  first: number,
  count: number,
): { binding: Binding; base: number } {
  const base = alignedStart(first, device.limits.minStorageBufferOffsetAlignment);
  return { binding: { buffer, offset: base * 4, size: (first + count - base) * 4 }, base };
}

/**
 * A window of a buffer that a kernel reads at positions it computes from data (a gather's
 * source, a flip's input): element `p` of the buffer is at `p − base` of the binding when
 * `p − base < count` (in wrapping u32 arithmetic, so a `p` below `base` is outside too).
 */
export interface ReadWindow {
  /** The binding: the whole buffer, or an aligned range of it. */
  binding: Binding;
  /** The buffer's element (4 bytes) where the binding starts. */
  base: number;
  /** Elements the binding covers. */
  count: number;
}

/**
 * The windows a buffer read at data-dependent positions is bound in: one covering it whole
 * when it fits a binding, else aligned ranges that each fit. A kernel runs once per window, and
 * only the lanes whose position falls in it read (and write what they read), so every lane reads
 * once over all the windows: the way a small gather from a huge source works.
 */
export function readWindows(device: Device, buffer: GpuBuffer): ReadWindow[] {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const elements = Math.floor(buffer.capacity / 4);
  if (buffer.capacity <= limit) return [{ binding: { buffer }, base: 0, count: elements }];
  return windows(elements, 4, limit, align).map(({ start, count }) => ({
    binding: { buffer, offset: start * 4, size: count * 4 },
    base: start,
    count,
  }));
}

/**
 * The binding of just the elements a strided view spans over `shape` (the whole buffer when it
 * fits), and the element it starts at: for an operand every lane may read anywhere in (a
 * scatter's index), which cannot be windowed, but may be a small view of a huge buffer. Null
 * when the span is larger than a binding.
 */
export function spanBinding(
  device: Device,
  shape: readonly number[],
  view: StridedView,
): { binding: Binding; base: number } | null {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  if (view.buffer.capacity <= limit) return { binding: { buffer: view.buffer }, base: 0 };
  const last = view.offset + shape.reduce((t, d, a) => t + Math.max(0, d - 1) * view.strides[a], 0);
  const base = alignedStart(view.offset, align);
  const bytes = (last + 1 - base) * 4;
  if (bytes > limit) return null;
  return { binding: { buffer: view.buffer, offset: base * 4, size: bytes }, base };
}

/** One dispatch of {@link passWindows}. */
export interface PassWindow extends StridedWindow {
  /** One window per buffer read at data-dependent positions, in the order given. */
  reads: ReadWindow[];
  /** Whether every read window is the buffer's first: where a lane reports a fault, once. */
  firstRead: boolean;
}

/**
 * The dispatches of a pass over the flat indices of `shape` whose operands are either strided
 * views indexed by the lane's coordinates (`views`, windowed along the shape as
 * {@link stridedWindows} does) or buffers read at positions the lane computes from data
 * (`reads`, bound in {@link readWindows}): every window of the views with every combination of
 * read windows. When everything fits one binding this is one dispatch binding it all whole.
 */
export function passWindows(
  device: Device,
  shape: readonly number[],
  views: readonly StridedView[],
  reads: readonly GpuBuffer[],
): PassWindow[] {
  let combinations: ReadWindow[][] = [[]];
  for (const buffer of reads) {
    const options = readWindows(device, buffer);
    combinations = combinations.flatMap((c) => options.map((w) => [...c, w]));
  }
  return stridedWindows(device, shape, views).flatMap((w) =>
    combinations.map((c) => ({ ...w, reads: c, firstRead: c.every((r) => r.base === 0) }))
  );
}

/** One operand's share of a {@link BatchRun}. */
export interface RunPart {
  /** The bytes to bind: an aligned offset, and a size that ends with the run's last sample. */
  range: { offset: number; size: number };
  /**
   * 4-byte elements between the binding's start and the run's first sample: 0 when the run
   * starts aligned, else the shader bakes it in.
   */
  shift: number;
}

/** A run of whole samples that one dispatch covers. */
export interface BatchRun {
  /** First sample. */
  start: number;
  /** Number of samples. */
  count: number;
  /** One part per operand, in the order of the sample sizes given to {@link splitBatch}. */
  parts: RunPart[];
}

/** What {@link splitBatch} needs to know. */
export interface BatchSplit {
  /** Names the kernel in errors. */
  what: string;
  /** Samples in the batch. */
  batch: number;
  /** Bytes per sample of each operand (NCHW tensors: a sample is contiguous), multiples of 4. */
  sampleBytes: readonly number[];
  /** Largest byte range to bind at once (default and ceiling: the device's limit). */
  maxBindingBytes?: number;
  /** The error message (after `what: `) when one sample of `bytes` cannot fit `limit` bytes. */
  tooLarge?: (bytes: number, limit: number) => string;
}

/**
 * Splits a batch of NCHW operands into runs of whole samples so that every operand's run fits
 * one binding. A run's binding starts at the aligned offset at or below its first sample; where
 * that is below it, the part's `shift` says how far. Runs whose starts are all aligned are
 * preferred (their shaders are all alike), and runs are equal but for the last, so a split
 * batch costs at most two distinct shaders.
 *
 * @example Two operands of 756 and 700 bytes a sample under an 800-byte limit
 * ```ts
 * import { splitBatch } from "./_program.ts";
 * const limits = { maxStorageBufferBindingSize: 800, minStorageBufferOffsetAlignment: 32 };
 * const runs = splitBatch(limits, { what: "demo", batch: 3, sampleBytes: [756, 700] });
 * console.log(runs[1].parts[0]); // { range: { offset: 736, size: 776 }, shift: 5 }
 * ```
 */
export function splitBatch(
  limits: { maxStorageBufferBindingSize: number; minStorageBufferOffsetAlignment: number },
  split: BatchSplit,
): BatchRun[] {
  const { what, batch, sampleBytes } = split;
  const ceiling = limits.maxStorageBufferBindingSize;
  const asked = split.maxBindingBytes ?? ceiling;
  if (!(asked > 0)) throw new RangeError(`${what}: maxBindingBytes must be positive, got ${asked}`);
  const maxBinding = Math.min(asked, ceiling);
  const alignment = limits.minStorageBufferOffsetAlignment;
  const largest = Math.max(...sampleBytes);
  let per = batch;
  if (largest * batch > maxBinding) {
    const fit = Math.floor(maxBinding / largest);
    // Samples per run that keep every operand's run start aligned.
    const unit = sampleBytes.reduce((u, b) => lcm(u, alignment / gcd(b, alignment)), 1);
    const aligned = fit >= unit;
    // An unaligned start lies at most alignment − 4 bytes above its binding's offset.
    const most = aligned
      ? Math.floor(fit / unit) * unit
      : Math.floor((maxBinding - (alignment - 4)) / largest);
    if (most < 1) {
      const message = split.tooLarge ??
        ((bytes: number, limit: number) =>
          `one sample needs ${bytes} bytes in one binding, more than the ${limit} bytes a ` +
          `binding may cover`);
      throw new RangeError(`${what}: ${message(largest, maxBinding)}`);
    }
    // Equal runs (rounded up to the unit): balanced, and all but the last share a shader.
    per = roundUp(Math.ceil(batch / Math.ceil(batch / most)), aligned ? unit : 1);
  }
  const runs: BatchRun[] = [];
  for (let start = 0; start < batch; start += per) {
    const count = Math.min(per, batch - start);
    const parts = sampleBytes.map((bytes) => {
      const first = start * bytes;
      const offset = first - (first % alignment);
      return {
        range: { offset, size: first - offset + count * bytes },
        shift: (first - offset) / 4,
      };
    });
    runs.push({ start, count, parts });
  }
  return runs;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** One dispatch of {@link rowRuns}: a run of whole rows, and where it is bound. */
export interface RowRun {
  /** The run's first row. */
  first: number;
  /** Rows in the run. */
  rows: number;
  /** Elements between each binding's start and the run's first row (the same for every buffer). */
  shift: number;
  /** One binding per buffer, in the order given. */
  bindings: Binding[];
}

/**
 * Splits a row kernel over contiguous `[rows, length]` matrices of 4-byte elements (every
 * buffer alike: a sort's keys and permutations, a running extremum's) into runs of whole rows
 * that fit one binding, with {@link splitBatch}; a kernel whose lane may read anywhere in its
 * own row needs no more. One row larger than a binding is a RangeError naming `what`.
 */
export function rowRuns(
  device: Device,
  what: string,
  rows: number,
  length: number,
  buffers: readonly GpuBuffer[],
): RowRun[] {
  const runs = splitBatch(device.limits, {
    what,
    batch: rows,
    sampleBytes: buffers.map(() => length * 4),
    tooLarge: (bytes, limit) =>
      `one row of ${length} elements takes ${bytes} bytes, more than the ${limit} bytes one ` +
      `binding may cover (sort along a shorter axis, or in parts)`,
  });
  return runs.map(({ start, count, parts }) => ({
    first: start,
    rows: count,
    shift: parts[0].shift,
    bindings: parts.map((part, i) => ({ buffer: buffers[i], ...part.range })),
  }));
}

/** An NCHW operand in @binding order: its name (for errors), buffer and bytes per sample. */
export type SampleOperand = readonly [name: string, buffer: GpuBuffer, sampleBytes: number];

/**
 * {@link splitBatch} for operands given with their buffers: first a RangeError naming the first
 * operand whose buffer holds fewer than `batch` samples, then the runs.
 *
 * @example
 * ```ts
 * import { sampleRuns } from "./_program.ts";
 * const limits = { maxStorageBufferBindingSize: 800, minStorageBufferOffsetAlignment: 32 };
 * const buffer = { capacity: 64 } as Parameters<typeof sampleRuns>[3][number][1];
 * console.log(sampleRuns(limits, "demo", 2, [["x", buffer, 32]]).length); // 1
 * ```
 */
export function sampleRuns(
  limits: { maxStorageBufferBindingSize: number; minStorageBufferOffsetAlignment: number },
  op: string,
  batch: number,
  operands: readonly SampleOperand[],
  maxBindingBytes?: number,
): BatchRun[] {
  for (const [name, buffer, bytes] of operands) {
    if (buffer.capacity < batch * bytes) {
      throw new RangeError(
        `${op}: ${name} holds ${buffer.capacity} bytes but the shape needs ${batch * bytes}`,
      );
    }
  }
  const sampleBytes = operands.map(([, , bytes]) => bytes);
  return splitBatch(limits, { what: op, batch, sampleBytes, maxBindingBytes });
}

/** One slice of {@link dispatchSampleRuns}: its samples, its operands' element shifts, its threads. */
export interface SampleRun {
  /** Samples in the slice. */
  count: number;
  /** Elements between each operand's binding offset and the slice's first sample, in operand order. */
  shifts: readonly number[];
  /** Threads: one per f32 of the last operand's slice. */
  threads: number;
}

/**
 * Dispatches a per-sample kernel: checks the operands' capacities, slices the batch to fit the
 * binding limit ({@link sampleRuns}) and records one dispatch per slice of `shader`'s making,
 * with one thread per f32 of the last operand (the one the kernel writes per thread) in
 * workgroups of `workgroupSize`, and every operand's bytes as its cost.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { dispatchSampleRuns } from "./_program.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(64);
 * const wgsl = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
 *   if (id.x < 16u) { x[id.x] = f32(id.x); }
 * }`;
 * dispatchSampleRuns(device, "iota", 2, [["x", x, 32]], undefined, 64, () => ({ name: "iota", wgsl }));
 * console.log(new Float32Array(await device.read(x, 0, 64))[15]); // 15
 * ```
 */
export function dispatchSampleRuns(
  device: Device,
  op: string,
  batch: number,
  operands: readonly SampleOperand[],
  maxBindingBytes: number | undefined,
  workgroupSize: number,
  shader: (run: SampleRun) => Omit<Dispatch, "workgroups" | "cost">,
): void {
  for (const { count, parts } of sampleRuns(device.limits, op, batch, operands, maxBindingBytes)) {
    const threads = (count * operands[operands.length - 1][2]) / 4;
    const shifts = parts.map((part) => part.shift);
    device.dispatch(
      {
        ...shader({ count, shifts, threads }),
        workgroups: Math.ceil(threads / workgroupSize),
        cost: { bytes: operands.reduce((sum, [, , bytes]) => sum + count * bytes, 0) },
      },
      parts.map((part, i) => ({ buffer: operands[i][1], ...part.range })),
    );
  }
}

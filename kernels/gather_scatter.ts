/**
 * Gather and scatter along one axis, as PyTorch's `gather`, `scatter`, `scatter_add` and
 * `scatter_reduce`: every operand is read through its strides (a permuted or broadcast view
 * costs no copy, so an `index_select` is a gather with its 1-D index broadcast), every size and
 * stride is a uniform (a pipeline per rank, dtype and mode), and an index outside the axis is a
 * device-side fault (`_fault.ts`), reported at the next read without a readback per call.
 *
 * The scatter runs one invocation per destination element, which finds the index entries that
 * reach it (along the axis, at its other coordinates) as a run of the index's stable sorted
 * order and combines them in order: no atomics, so a scatter-add sums in the same order on every
 * run, and a plain scatter keeps the last write of duplicated indices.
 *
 * @module
 */

import type { Binding, Device, FaultSlot, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import {
  boundElements,
  flatMain,
  IS_NAN,
  passWindows,
  spanBinding,
  splitBatch,
} from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { stridesOf } from "./elementwise.ts";
import { coordinates, type IndexedView, offsetOf } from "./_coordinates.ts";

export type { IndexedView } from "./_coordinates.ts";

/** The element types the gather and scatter move: bits are copied, sums are typed. */
export type IndexedType = "f32" | "i32";

/**
 * How a scatter combines what it writes with what is there: `assign` keeps the last entry,
 * `add`, `prod`, `amax` and `amin` combine them all (a NaN wins `amax` and `amin`), `mean`
 * averages them (f32 only), as `torch.scatter_reduce`'s `sum`, `prod`, `amax`, `amin`, `mean`.
 */
export type ScatterMode = "assign" | "add" | "prod" | "amax" | "amin" | "mean";

/** The WGSL that folds the entry `v` into `acc`, per mode and type. */
function combined(mode: ScatterMode, type: IndexedType): string {
  const nanWins = (pick: string) =>
    type === "f32" ? `select(${pick}(acc, v), acc + v, isNan(acc) || isNan(v))` : `${pick}(acc, v)`;
  return {
    assign: "v",
    add: "acc + v",
    mean: "acc + v",
    prod: "acc * v",
    amax: nanWins("max"),
    amin: nanWins("min"),
  }[mode];
}

const WORKGROUP = 256;

/** The fault slot of an index out of range along `dim`, its message PyTorch's. */
function rangeFault(device: Device, op: string, dim: number) {
  return device.faultSlot(
    `index range: ${op} dim ${dim}`,
    ([, index, size]) =>
      `${op}: index ${index | 0} is out of bounds for dimension ${dim} with size ${size}`,
  );
}

/**
 * `out[c] = x[c with c[dim] = index[c]]` for every coordinate `c` of `shape` (the index's and
 * the output's shape; `out` is contiguous). `dimSize` is the size of `x` along `dim`; an index
 * outside `[0, dimSize)` writes NaN (0 for i32) and records a fault naming `op`, the index and
 * the size, thrown at the next read from the device.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { gather } from "./gather_scatter.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), index = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6])); // [[1, 2, 3], [4, 5, 6]]
 * device.write(index, new Int32Array([2, 0, 1, 1])); // [[2, 0], [1, 1]]
 * gather(device, "f32", [2, 2], 1, 3, { buffer: x, strides: [3, 1], offset: 0 },
 *   { buffer: index, strides: [2, 1], offset: 0 }, out);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [3, 1, 5, 5]
 * ```
 */
export function gather(
  device: Device,
  type: IndexedType,
  shape: readonly number[],
  dim: number,
  dimSize: number,
  x: IndexedView,
  index: IndexedView,
  out: GpuBuffer,
  op = "gather",
): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const fault = rangeFault(device, op, dim);
  const poison = type === "f32" ? "bitcast<f32>(0x7fc00000u)" : "0";
  // The index and the output are read and written at the lane's coordinates; the source, at a
  // position its index entry picks, so a huge source is bound in windows (a minibatch of rows
  // from a whole data set: each row is read in the one window that holds it).
  const views = [index, { buffer: out, strides: stridesOf(shape), offset: 0 }];
  for (const w of passWindows(device, shape, views, [x.buffer])) {
    const uf = new Uniforms();
    const size = uf.u32("dimSize", dimSize);
    const [read] = w.reads;
    const indexView = { ...index, offset: index.offset - w.bases[0] };
    const body = `
  let i = ${uf.u32("start", w.start)} + t;
${coordinates(uf, shape)}
  let o = i - ${uf.u32("outBase", w.bases[1])};
  let at = index[${offsetOf(uf, "index", indexView, -1)}];
  if (at < 0 || at >= i32(${size})) {
    // Reported, and poisoned, by the lanes of the source's first window only.
    if (${uf.u32("firstRead", w.firstRead ? 1 : 0)} != 0u) {
      raiseFault(${fault.code}u, i, bitcast<u32>(at), ${size});
      out[o] = ${poison};
    }
    return;
  }
  let p = ${offsetOf(uf, "x", x, dim)} + u32(at) * ${uf.u32("x.dimStride", x.strides[dim])} - ${
      uf.u32("x.base", read.base)
    };
  if (p < ${uf.u32("x.count", read.count)}) { out[o] = x[p]; }`;
    const count = uf.u32("n", w.count);
    const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<${type}>;
${faultWgsl(3)}
${uf.declare(4)}
${flatMain(WORKGROUP, count, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `${op} [${shape}] dim ${dim}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 12 * w.count },
      },
      [read.binding, w.bindings[0], w.bindings[1], { buffer: fault.buffer }],
    );
  }
}

/** The operands of {@link scatter}. */
export interface ScatterArgs {
  /** The element type of `base`, `src` and `out`. */
  readonly type: IndexedType;
  /** How the entries that reach an element combine (see {@link ScatterMode}). */
  readonly mode: ScatterMode;
  /**
   * Whether the destination's own value takes part (default true); when false, an element that
   * some entry reaches starts from its first entry, as `scatter_reduce`'s `include_self=False`.
   */
  readonly includeSelf?: boolean;
  /** The destination's shape (of `base` and `out`). */
  readonly shape: readonly number[];
  /** The axis the index runs along. */
  readonly dim: number;
  /** The index's shape: at most `shape` along every axis but `dim`, and at most `src`'s. */
  readonly indexShape: readonly number[];
  /** What the destination starts from, read as `shape`. */
  readonly base: IndexedView;
  /** The i32 index, read as `indexShape`. */
  readonly index: IndexedView;
  /**
   * The index's stable ascending order along `dim` (i32, `indexShape`; see `sort.ts`): each
   * element finds the entries that reach it as one run, by a binary search. Null when the index
   * and `src` already come in that order, as rows along `dim` longer than one binding (see
   * `scatterInRows`): each dispatch then folds one chunk of a line into the destination.
   */
  readonly order: IndexedView | null;
  /** The values scattered, read at the index's coordinates. */
  readonly src: IndexedView;
  /** The contiguous result, `shape`. */
  readonly out: GpuBuffer;
  /** Names the op in the fault's message. */
  readonly op?: string;
  /** The axis the caller's lines run along, for errors, when it passes them as rows. */
  readonly lineAxis?: number;
}

/**
 * `out = base`, then for every coordinate `c` of the index, `out[c with c[dim] = index[c]]`
 * becomes `src[c]` (`assign`; the last such `c` along `dim` wins) or combines it (`add`,
 * `prod`, `amax`, `amin`, `mean`: in order along `dim`). An index outside `[0, shape[dim])`
 * records a fault naming the op, the index and the size (it reaches nothing).
 *
 * Each destination element binary-searches the index's sorted line for the run of entries
 * equal to its position and combines them in order: `O(log L)` per element plus one read per
 * entry, where `L` is the index's length along `dim`, so an index-add into a large table costs
 * what its entries do, not the table's size times their count.
 *
 * @example A scatter-add of [1, 2, 3] into 2 slots by [1, 0, 1]
 * ```ts
 * import { Device } from "./device.ts";
 * import { scatter } from "./gather_scatter.ts";
 * const device = await Device.acquire();
 * const base = device.alloc(8), index = device.alloc(12), src = device.alloc(12);
 * const order = device.alloc(12), out = device.alloc(8);
 * device.write(base, new Float32Array([10, 20]));
 * device.write(index, new Int32Array([1, 0, 1]));
 * device.write(order, new Int32Array([1, 0, 2])); // the index's stable ascending order
 * device.write(src, new Float32Array([1, 2, 3]));
 * const view = (buffer: typeof base) => ({ buffer, strides: [1], offset: 0 });
 * scatter(device, {
 *   type: "f32", mode: "add", shape: [2], dim: 0, indexShape: [3],
 *   base: view(base), index: view(index), order: view(order), src: view(src), out,
 * });
 * console.log(new Float32Array(await device.read(out, 0, 8))); // [12, 24]
 * ```
 */
export function scatter(device: Device, args: ScatterArgs): void {
  const { type, mode, shape, dim, indexShape, base, index, order, src, out } = args;
  const op = args.op ?? "scatter";
  if (mode === "mean" && type !== "f32") throw new TypeError(`${op}: no i32 mean`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const fault = rangeFault(device, op, dim);
  if (order === null) {
    scatterLongLines(device, args, fault);
    return;
  }
  // Every lane may read anywhere along its line of these: each is bound whole (its span) ...
  const spans = [index, order, src].map((view) => spanBinding(device, indexShape, view));
  if (spans.every((span) => span !== null)) {
    const [indexSpan, orderSpan, srcSpan] = spans as NonNullable<(typeof spans)[number]>[];
    // ... and the destination is windowed (an index-add of a minibatch's gradient into a whole
    // table).
    const views = [base, { buffer: out, strides: stridesOf(shape), offset: 0 }];
    for (const w of passWindows(device, shape, views, [])) {
      dispatchScatter(device, args, fault, w, {
        base: { binding: w.bindings[0], base: w.bases[0] },
        index: indexSpan,
        order: orderSpan,
        src: srcSpan,
        out: { binding: w.bindings[1], base: w.bases[1] },
      });
    }
    return;
  }
  // ... unless the index is larger than a binding: then the operands come as rows along the
  // axis (see `scatterInRows`), and each dispatch takes a run of whole rows of all five.
  const [rows, length] = indexShape;
  const contiguousRows = (view: IndexedView, width: number) =>
    view.offset === 0 && view.strides[0] === width && view.strides[1] === 1;
  const inRows = shape.length === 2 && dim === 1 && rows === shape[0] &&
    contiguousRows(base, shape[1]) &&
    [index, order, src].every((view) => contiguousRows(view, length));
  if (!inRows) {
    throw new RangeError(
      `${op}: the index [${indexShape}] spans more than the ` +
        `${device.limits.maxStorageBufferBindingSize} bytes one binding may cover; a larger ` +
        `one must come as contiguous rows along the axis`,
    );
  }
  const runs = splitBatch(device.limits, {
    what: op,
    batch: rows,
    sampleBytes: [shape[1], length, length, length, shape[1]].map((elements) => elements * 4),
    tooLarge: (bytes, limit) =>
      `one line along axis ${args.lineAxis ?? dim} (of the index, the source or the destination) ` +
      `takes ${bytes} bytes, more than the ${limit} bytes one binding may cover`,
  });
  const buffers = [base.buffer, index.buffer, order.buffer, src.buffer, out];
  for (const { start, count, parts } of runs) {
    const [b, i, o, s, d] = parts.map((part, k) => ({
      binding: { buffer: buffers[k], ...part.range },
      base: part.range.offset / 4,
    }));
    const lanes = { start: start * shape[1], count: count * shape[1] };
    dispatchScatter(device, args, fault, lanes, { base: b, index: i, order: o, src: s, out: d });
  }
}

/** Where {@link dispatchScatter} finds each operand: its binding and first element. */
type ScatterBound =
  & Record<"base" | "index" | "src" | "out", { binding: Binding; base: number }>
  & { order?: { binding: Binding; base: number } };

/** One dispatch of {@link scatter}: the destination's lanes `[start, start + count)`. */
function dispatchScatter(
  device: Device,
  args: ScatterArgs,
  fault: FaultSlot,
  lanes: { start: number; count: number },
  bound: ScatterBound,
  fromOut = false,
): void {
  const { type, mode, shape, dim, indexShape, base, index, order, src } = args;
  const op = args.op ?? "scatter";
  const uf = new Uniforms();
  const j = `i32(c${dim})`;
  // Only the index entries at this element's other coordinates can reach it; past the index's
  // extent along another axis, none does.
  const inside = indexShape.map((d, axis) =>
    axis === dim ? "true" : `c${axis} < ${uf.u32(`index.size${axis}`, d)}`
  ).join(" && ");
  const size = uf.u32("dimSize", shape[dim]);
  const keepSelf = uf.u32("includeSelf", args.includeSelf === false ? 0 : 1);
  const [indexStep, srcStep] = [
    uf.u32("index.dimStride", index.strides[dim]),
    uf.u32("src.dimStride", src.strides[dim]),
  ];
  const shifted = (view: IndexedView, at: number) => ({ ...view, offset: view.offset - at });
  // With an order, the p-th entry is at order[p]; without, the entries are in order.
  const ordered = order !== null && bound.order !== undefined;
  const orderAt = ordered ? offsetOf(uf, "order", shifted(order, bound.order!.base), dim) : "0u";
  const entry = ordered
    ? `order[orderAt + p * ${uf.u32("order.dimStride", order.strides[dim])}]`
    : "i32(p)";
  const o = `i - ${uf.u32("outBase", bound.out.base)}`;
  const body = `
  let i = ${uf.u32("start", lanes.start)} + t;
${coordinates(uf, shape)}
  // A later chunk of a long line folds into what the earlier ones left.
  var acc = base[${offsetOf(uf, "base", shifted(base, bound.base.base), -1)}];
  if (${uf.u32("fromOut", fromOut ? 1 : 0)} != 0u) { acc = out[${o}]; }
  if (${inside}) {
    let indexAt = ${offsetOf(uf, "index", shifted(index, bound.index.base), dim)};
    let orderAt = ${orderAt};
    let srcAt = ${offsetOf(uf, "src", shifted(src, bound.src.base), dim)};
    let length = ${uf.u32("length", indexShape[dim])};
    // The first entry, in ascending order, that is not below this element's position.
    var lo = 0u;
    var hi = length;
    while (lo < hi) {
      let mid = (lo + hi) / 2u;
      if (entryAt(indexAt, orderAt, mid).y < ${j}) { lo = mid + 1u; } else { hi = mid; }
    }
    var count = 0u;
    for (var p = lo; p < length; p++) {
      let entry = entryAt(indexAt, orderAt, p);
      if (entry.y != ${j}) { break; }
      let v = src[srcAt + u32(entry.x) * ${srcStep}];
      // Without the destination's own value, the first entry starts the fold.
      if (count == 0u && ${keepSelf} == 0u) { acc = v; } else { acc = ${combined(mode, type)}; }
      count++;
    }${
    mode === "mean"
      ? `
    if (count > 0u) { acc = acc / f32(count + ${keepSelf}); }`
      : ""
  }
    // The element at 0 along the axis checks its line's smallest and largest entries.
    if (${j} == 0 && length > 0u) {
      let low = entryAt(indexAt, orderAt, 0u).y;
      let high = entryAt(indexAt, orderAt, length - 1u).y;
      if (low < 0) { raiseFault(${fault.code}u, 0u, bitcast<u32>(low), ${size}); }
      else if (high >= i32(${size})) { raiseFault(${fault.code}u, 0u, bitcast<u32>(high), ${size}); }
    }
  }
  out[${o}] = acc;`;
  const count = uf.u32("n", lanes.count);
  const wgsl = `
@group(0) @binding(0) var<storage, read> base: array<${type}>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<${type}>;
@group(0) @binding(3) var<storage, read_write> out: array<${type}>;
${faultWgsl(4)}
${ordered ? "@group(0) @binding(5) var<storage, read> order: array<i32>;" : ""}
${uf.declare(ordered ? 6 : 5)}
${type === "f32" && (mode === "amax" || mode === "amin") ? IS_NAN : ""}
/** The p-th entry of a line in ascending order: its position along the axis, and its value. */
fn entryAt(indexAt: u32, orderAt: u32, p: u32) -> vec2i {
  let k = ${entry};
  return vec2i(k, index[indexAt + u32(k) * ${indexStep}]);
}
${flatMain(WORKGROUP, count, body, { index: "t" })}`;
  device.dispatch(
    {
      name: `${op} ${mode} [${shape}] dim ${dim} by [${indexShape}]`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil(lanes.count / WORKGROUP),
      cost: { bytes: 8 * lanes.count + 12 * indexShape.reduce((a, b) => a * b, 1) },
    },
    [
      bound.base.binding,
      bound.index.binding,
      bound.src.binding,
      bound.out.binding,
      { buffer: fault.buffer },
      ...(ordered ? [bound.order!.binding] : []),
    ],
  );
}

/**
 * A scatter whose lines (of the index, the source or the destination) are longer than one
 * binding, given as rows along the axis with the index and source already in the index's
 * stable order: for each row, each window of the destination folds in the line's chunks one
 * after another (each lane reading what the chunk before left), so the entries still combine
 * in order along the line, as in one pass. A mean, or a fold without the destination's own
 * value, would need counts across chunks: a RangeError.
 */
function scatterLongLines(device: Device, args: ScatterArgs, fault: FaultSlot): void {
  const { shape, dim, indexShape, base, index, src, out, mode } = args;
  const op = args.op ?? "scatter";
  const [rows, length] = indexShape, width = shape[1];
  const contiguousRows = (view: IndexedView, size: number) =>
    view.offset === 0 && view.strides[0] === size && view.strides[1] === 1;
  if (
    shape.length !== 2 || dim !== 1 || rows !== shape[0] || !contiguousRows(base, width) ||
    !contiguousRows(index, length) || !contiguousRows(src, length)
  ) {
    throw new RangeError(`${op}: long lines must come as contiguous rows along the last axis`);
  }
  if (mode === "mean" || args.includeSelf === false) {
    throw new RangeError(
      `${op}: a line of ${Math.max(length, width)} elements along axis ${args.lineAxis ?? dim} ` +
        `is longer than one binding, and a ${mode} ${
          args.includeSelf === false ? "without the destination's values " : ""
        }cannot be split along it`,
    );
  }
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const chunk = Math.floor((limit - align) / 4);
  const range = (buffer: GpuBuffer, first: number, count: number) =>
    boundElements(device, buffer, first, count);
  for (let row = 0; row < rows; row++) {
    for (let d = 0; d < width; d += chunk) {
      const lanes = { start: row * width + d, count: Math.min(chunk, width - d) };
      for (let p = 0; p < length; p += chunk) {
        const count = Math.min(chunk, length - p);
        // The chunk read as a line of `count` entries at every row's coordinates.
        const part = (view: IndexedView) => ({
          ...view,
          strides: [0, 1],
          offset: row * length + p,
        });
        const chunkArgs = {
          ...args,
          indexShape: [rows, count],
          index: part(index),
          src: part(src),
        };
        dispatchScatter(device, chunkArgs, fault, lanes, {
          base: range(base.buffer, lanes.start, lanes.count),
          index: range(index.buffer, row * length + p, count),
          src: range(src.buffer, row * length + p, count),
          out: range(out, lanes.start, lanes.count),
        }, p > 0);
      }
    }
  }
}

/**
 * Whether a scatter must come as rows along its axis (each operand moved so that the axis is
 * last and contiguous, as `[rows, length]`): when its index, or the source read at the index's
 * coordinates, spans more than one binding, so that each dispatch can take whole lines.
 */
export function scatterInRows(
  device: Device,
  indexShape: readonly number[],
  index: IndexedView,
  src: IndexedView,
): boolean {
  const elements = indexShape.reduce((a, b) => a * b, 1);
  return elements * 4 > device.limits.maxStorageBufferBindingSize ||
    spanBinding(device, indexShape, index) === null ||
    spanBinding(device, indexShape, src) === null;
}

/**
 * `out[target[i]] = i` for each of the `n` i32 `target` entries below `total` (the others are
 * dropped): the positions of a compaction's kept elements in order, when `target` sends each
 * kept element to a distinct slot (a running count of them) and the rest to `total`. The lanes
 * run over `target`, which is windowed with them; `out` is written at the slot, and bound in
 * windows of its own when large, so a `maskedSelect` of a whole data set needs no sort.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { placeIndices } from "./gather_scatter.ts";
 * const device = await Device.acquire();
 * const target = device.alloc(16), out = device.alloc(8);
 * device.write(target, new Int32Array([2, 0, 2, 1])); // elements 1 and 3 kept, 2 slots
 * placeIndices(device, { buffer: target, strides: [1], offset: 0 }, 4, out, 2);
 * console.log(new Int32Array(await device.read(out, 0, 8))); // [1, 3]
 * ```
 */
export function placeIndices(
  device: Device,
  target: IndexedView,
  n: number,
  out: GpuBuffer,
  total: number,
): void {
  if (n === 0 || total === 0) return;
  for (const w of passWindows(device, [n], [target], [out])) {
    const uf = new Uniforms();
    const [place] = w.reads;
    const u = uf.all({
      n: w.count,
      start: w.start,
      targetBase: w.bases[0] - target.offset,
      total,
      outBase: place.base,
      outCount: place.count,
    });
    const body = `
  let i = ${u.start} + t;
  let slot = u32(slots[i - ${u.targetBase}]);
  let at = slot - ${u.outBase};
  if (slot < ${u.total} && at < ${u.outCount}) { out[at] = i32(i); }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> slots: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
${uf.declare(2)}
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `place indices (${n} into ${total})`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 8 * w.count },
      },
      [w.bindings[0], place.binding],
    );
  }
}

/**
 * Gather and scatter along one axis, as PyTorch's `gather`, `scatter` and `scatter_add`: every
 * operand is read through its strides (a permuted or broadcast view costs no copy, so an
 * `index_select` is a gather with its 1-D index broadcast), every size and stride is a uniform
 * (a pipeline per rank, dtype and mode), and an index outside the axis is a device-side fault
 * (`_fault.ts`), reported at the next read without a readback per call.
 *
 * The scatter runs one invocation per destination element, which walks the index entries that
 * can reach it (those along the axis, at its other coordinates) in order: no atomics, so a
 * scatter-add sums in the same order on every run, and a plain scatter keeps the last write of
 * duplicated indices. Its cost is the destination's size times the index's length along the axis.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { coordinates, type IndexedView, offsetOf } from "./_coordinates.ts";

export type { IndexedView } from "./_coordinates.ts";

/** The element types the gather and scatter move: bits are copied, sums are typed. */
export type IndexedType = "f32" | "i32";

/** How a scatter combines what it writes with what is there. */
export type ScatterMode = "assign" | "add";

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
  const uf = new Uniforms();
  const fault = rangeFault(device, op, dim);
  const size = uf.u32("dimSize", dimSize);
  const poison = type === "f32" ? "bitcast<f32>(0x7fc00000u)" : "0";
  const body = `
${coordinates(uf, shape)}
  let at = index[${offsetOf(uf, "index", index, -1)}];
  if (at < 0 || at >= i32(${size})) {
    raiseFault(${fault.code}u, i, bitcast<u32>(at), ${size});
    out[i] = ${poison};
    return;
  }
  out[i] = x[${offsetOf(uf, "x", x, dim)} + u32(at) * ${uf.u32("x.dimStride", x.strides[dim])}];`;
  const count = uf.u32("n", n);
  const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<${type}>;
${faultWgsl(3)}
${uf.declare(4)}
${flatMain(WORKGROUP, count, body)}`;
  device.dispatch(
    {
      name: `${op} [${shape}] dim ${dim}`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil(n / WORKGROUP),
      cost: { bytes: 12 * n },
    },
    [{ buffer: x.buffer }, { buffer: index.buffer }, { buffer: out }, { buffer: fault.buffer }],
  );
}

/** The operands of {@link scatter}. */
export interface ScatterArgs {
  /** The element type of `base`, `src` and `out`. */
  readonly type: IndexedType;
  /** `assign`: the last entry that reaches an element replaces it; `add`: every one adds. */
  readonly mode: ScatterMode;
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
  /** The values scattered, read at the index's coordinates. */
  readonly src: IndexedView;
  /** The contiguous result, `shape`. */
  readonly out: GpuBuffer;
  /** Names the op in the fault's message. */
  readonly op?: string;
}

/**
 * `out = base`, then for every coordinate `c` of the index, `out[c with c[dim] = index[c]]`
 * becomes `src[c]` (`assign`; the last such `c` along `dim` wins) or has `src[c]` added
 * (`add`, in order along `dim`). An index outside `[0, shape[dim])` records a fault naming the
 * op, the index and the size (it reaches nothing).
 *
 * @example A scatter-add of [1, 2, 3] into 2 slots by [1, 0, 1]
 * ```ts
 * import { Device } from "./device.ts";
 * import { scatter } from "./gather_scatter.ts";
 * const device = await Device.acquire();
 * const base = device.alloc(8), index = device.alloc(12), src = device.alloc(12);
 * const out = device.alloc(8);
 * device.write(base, new Float32Array([10, 20]));
 * device.write(index, new Int32Array([1, 0, 1]));
 * device.write(src, new Float32Array([1, 2, 3]));
 * const view = (buffer: typeof base) => ({ buffer, strides: [1], offset: 0 });
 * scatter(device, {
 *   type: "f32", mode: "add", shape: [2], dim: 0, indexShape: [3],
 *   base: view(base), index: view(index), src: view(src), out,
 * });
 * console.log(new Float32Array(await device.read(out, 0, 8))); // [12, 24]
 * ```
 */
export function scatter(device: Device, args: ScatterArgs): void {
  const { type, mode, shape, dim, indexShape, base, index, src, out, op = "scatter" } = args;
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const uf = new Uniforms();
  const fault = rangeFault(device, op, dim);
  const j = `c${dim}`;
  // Only the index entries at this element's other coordinates can reach it; past the index's
  // extent along another axis, none does.
  const inside = indexShape.map((d, axis) =>
    axis === dim ? "true" : `c${axis} < ${uf.u32(`index.size${axis}`, d)}`
  ).join(" && ");
  const size = uf.u32("dimSize", shape[dim]);
  const combine = mode === "add" ? "acc + src[source]" : "src[source]";
  const body = `
${coordinates(uf, shape)}
  var acc = base[${offsetOf(uf, "base", base, -1)}];
  if (${inside || "true"}) {
    let indexAt = ${offsetOf(uf, "index", index, dim)};
    let srcAt = ${offsetOf(uf, "src", src, dim)};
    for (var k = 0u; k < ${uf.u32("length", indexShape[dim])}; k++) {
      let at = index[indexAt + k * ${uf.u32("index.dimStride", index.strides[dim])}];
      // The element at 0 along the axis checks every entry that reaches its row.
      if (${j} == 0u && (at < 0 || at >= i32(${size}))) {
        raiseFault(${fault.code}u, k, bitcast<u32>(at), ${size});
      }
      if (at == i32(${j})) {
        let source = srcAt + k * ${uf.u32("src.dimStride", src.strides[dim])};
        acc = ${combine};
      }
    }
  }
  out[i] = acc;`;
  const count = uf.u32("n", n);
  const wgsl = `
@group(0) @binding(0) var<storage, read> base: array<${type}>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<${type}>;
@group(0) @binding(3) var<storage, read_write> out: array<${type}>;
${faultWgsl(4)}
${uf.declare(5)}
${flatMain(WORKGROUP, count, body)}`;
  device.dispatch(
    {
      name: `${op} ${mode} [${shape}] dim ${dim} by [${indexShape}]`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil(n / WORKGROUP),
      cost: { bytes: 8 * n * (1 + indexShape[dim]) },
    },
    [
      { buffer: base.buffer },
      { buffer: index.buffer },
      { buffer: src.buffer },
      { buffer: out },
      { buffer: fault.buffer },
    ],
  );
}

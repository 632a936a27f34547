/**
 * Copies that move or mask elements by their coordinates, reading the source through its
 * strides: flips and rolls along any axes (one kernel, each axis flipped, rolled or kept), and
 * the lower or upper triangle of the last two axes. Sizes, strides, shifts and the diagonal are
 * uniforms: one pipeline per rank.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { coordinates, type IndexedView, offsetOf } from "./_coordinates.ts";
import { flatMain, passWindows } from "./_program.ts";
import { stridesOf } from "./elementwise.ts";
import { Uniforms } from "./_uniforms.ts";

const WORKGROUP = 256;

/** What a lane of {@link elementwise} computes: its source position, and the value it writes. */
interface LaneBody {
  /** WGSL statements before the position (they may use the coordinates `c0…`). */
  prelude: string;
  /** The WGSL element position in `x`'s binding (the view given has its offset shifted). */
  position: string;
  /** The value written, from the element read (default: the element). */
  value?: (element: string) => string;
}

/**
 * A pass over the elements of `shape` from `x` into the contiguous `out`. Where `x` is read at
 * the lane's coordinates (`anywhere` false) it is windowed with the output; where at other
 * coordinates (a flip or roll's), it is bound in windows of its own and each lane writes in the
 * one that holds its source (`passWindows`), so either works on tensors larger than a binding.
 */
function elementwise(
  device: Device,
  name: string,
  shape: readonly number[],
  x: IndexedView,
  out: GpuBuffer,
  anywhere: boolean,
  lane: (uf: Uniforms, x: IndexedView) => LaneBody,
): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const outView = { buffer: out, strides: stridesOf(shape), offset: 0 };
  const views = anywhere ? [outView] : [x, outView];
  for (const w of passWindows(device, shape, views, anywhere ? [x.buffer] : [])) {
    const uf = new Uniforms();
    const [read] = w.reads;
    const xBase = anywhere ? read.base : w.bases[0];
    const { prelude, position, value = (v: string) => v } = lane(uf, {
      ...x,
      offset: x.offset - xBase,
    });
    const store = `out[i - ${uf.u32("outBase", w.bases[views.length - 1])}] = ${value("x[p]")};`;
    const body = `
  let i = ${uf.u32("start", w.start)} + t;
${coordinates(uf, shape)}${prelude}
  let p = ${position};
  ${anywhere ? `if (p < ${uf.u32("x.count", read.count)}) { ${store} }` : store}`;
    // Every uniform is registered before the block is declared.
    const main = flatMain(WORKGROUP, uf.u32("n", w.count), body, { index: "t" });
    const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
${uf.declare(2)}
${main}`;
    const xBinding = anywhere ? read.binding : w.bindings[0];
    device.dispatch(
      {
        name: `${name} [${shape}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 8 * w.count },
      },
      [xBinding, w.bindings[views.length - 1]],
    );
  }
}

/**
 * `out[c] = x[s]` over `shape` (32-bit elements of any dtype), where along each axis `a`
 * `s[a] = size − 1 − c[a]` when `flip[a]`, else `(c[a] − shift[a]) mod size`: `torch.flip`
 * and `torch.roll` (a shift of 0 keeps the axis).
 *
 * @example Roll [1, 2, 3, 4, 5] by 2
 * ```ts
 * import { Device } from "./device.ts";
 * import { flipRoll } from "./reorder.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(20), out = device.alloc(20);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5]));
 * flipRoll(device, [5], { buffer: x, strides: [1], offset: 0 }, out, [false], [2]);
 * console.log(new Float32Array(await device.read(out, 0, 20))); // [4, 5, 1, 2, 3]
 * ```
 */
export function flipRoll(
  device: Device,
  shape: readonly number[],
  x: IndexedView,
  out: GpuBuffer,
  flip: readonly boolean[],
  shift: readonly number[],
): void {
  elementwise(device, "flip/roll", shape, x, out, true, (uf, view) => {
    // Per axis: the source is (flip ? size − 1 − c : c) + start, mod size.
    const lines = shape.map((d, a) => {
      const start = d === 0 ? 0 : ((-shift[a] % d) + d) % d;
      const [size, mirror, from] = [
        uf.u32(`size${a}`, d),
        uf.u32(`flip${a}`, flip[a] ? 1 : 0),
        uf.u32(`start${a}`, start),
      ];
      return `
  let s${a} = (select(c${a}, ${size} - 1u - c${a}, ${mirror} != 0u) + ${from}) % ${size};`;
    });
    return { prelude: lines.join(""), position: offsetOf(uf, "x", view, -1, "s") };
  });
}

/**
 * `out = x` on the lower triangle of the last two axes (`torch.tril`: column − row ≤
 * `diagonal`) or the upper one (`torch.triu`: column − row ≥ `diagonal`), 0 elsewhere; 32-bit
 * elements of any dtype (zero bits are 0 in both). `shape` has at least two axes.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { triangle } from "./reorder.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4]));
 * triangle(device, [2, 2], { buffer: x, strides: [2, 1], offset: 0 }, out, false, 0);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [1, 0, 3, 4]
 * ```
 */
export function triangle(
  device: Device,
  shape: readonly number[],
  x: IndexedView,
  out: GpuBuffer,
  upper: boolean,
  diagonal: number,
): void {
  const [row, column] = [`c${shape.length - 2}`, `c${shape.length - 1}`];
  // column − row compared as i32; the diagonal is clamped to a range no index reaches past.
  const limit = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, diagonal));
  const offset = `i32(${column}) - i32(${row})`;
  const keep = upper ? `${offset} >= d` : `${offset} <= d`;
  elementwise(device, upper ? "triu" : "tril", shape, x, out, false, (uf, view) => ({
    prelude: `
  let d = bitcast<i32>(${uf.u32("diagonal", limit)});`,
    position: offsetOf(uf, "x", view, -1),
    value: (element) => `select(0u, ${element}, ${keep})`,
  }));
}

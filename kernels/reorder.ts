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
import { flatMain } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

const WORKGROUP = 256;

/** One dispatch of `body` over the `n` elements of `shape`, from `x` into the contiguous `out`. */
function elementwise(
  device: Device,
  name: string,
  uf: Uniforms,
  shape: readonly number[],
  body: string,
  x: IndexedView,
  out: GpuBuffer,
): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  // Every uniform is registered before the block is declared.
  const main = flatMain(WORKGROUP, uf.u32("n", n), `\n${coordinates(uf, shape)}${body}`);
  const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
${uf.declare(2)}
${main}`;
  device.dispatch(
    {
      name: `${name} [${shape}]`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil(n / WORKGROUP),
      cost: { bytes: 8 * n },
    },
    [{ buffer: x.buffer }, { buffer: out }],
  );
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
  const uf = new Uniforms();
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
  const body = `${lines.join("")}
  out[i] = x[${offsetOf(uf, "x", x, -1, "s")}];`;
  elementwise(device, "flip/roll", uf, shape, body, x, out);
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
  const uf = new Uniforms();
  const [row, column] = [`c${shape.length - 2}`, `c${shape.length - 1}`];
  // column − row compared as i32; the diagonal is clamped to a range no index reaches past.
  const limit = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, diagonal));
  const offset = `i32(${column}) - i32(${row})`;
  const keep = upper ? `${offset} >= d` : `${offset} <= d`;
  const body = `
  let d = bitcast<i32>(${uf.u32("diagonal", limit)});
  out[i] = select(0u, x[${offsetOf(uf, "x", x, -1)}], ${keep});`;
  elementwise(device, upper ? "triu" : "tril", uf, shape, body, x, out);
}

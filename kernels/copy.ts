/**
 * Strided copy: gathers a view (shape, strides, offset) of one buffer into a view of another.
 * It makes permuted or sliced views contiguous and writes the parts of a concatenation.
 *
 * @module
 */

import type { Device } from "./device.ts";
import { flatMain, type StridedView, stridedWindows } from "./_program.ts";
import { stridedIndex, Uniforms } from "./_uniforms.ts";

/** A strided view of a buffer, in elements (strides per axis of the copied shape). */
export type View = StridedView;

const WORKGROUP = 256;

/**
 * Copies every element of `shape` from `src` to `dst` (32-bit elements, any dtype).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { stridedCopy } from "./copy.ts";
 * const device = await Device.acquire();
 * const a = device.alloc(24), t = device.alloc(24);
 * device.write(a, new Float32Array([1, 2, 3, 4, 5, 6]));
 * // Transpose a [2, 3] matrix: read it with strides [1, 3] as shape [3, 2].
 * stridedCopy(device, [3, 2], { buffer: a, strides: [1, 3], offset: 0 },
 *   { buffer: t, strides: [2, 1], offset: 0 });
 * console.log(new Float32Array(await device.read(t, 0, 24))); // [1, 4, 2, 5, 3, 6]
 * ```
 */
export function stridedCopy(
  device: Device,
  shape: readonly number[],
  src: View,
  dst: View,
): void {
  // Views larger than one binding are copied in windows (one dispatch each).
  for (const w of stridedWindows(device, shape, [src, dst])) {
    const uf = new Uniforms();
    const index = (name: string, view: View, base: number): string =>
      stridedIndex(uf, name, shape, view.strides, view.offset - base);
    const body = `
  let i = ${uf.u32("start", w.start)} + t;
  dst[${index("dst", dst, w.bases[1])}] = src[${index("src", src, w.bases[0])}];`;
    const count = uf.u32("n", w.count);
    const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
${uf.declare(2)}
${flatMain(WORKGROUP, count, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `copy [${shape}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 8 * w.count },
      },
      w.bindings,
    );
  }
}

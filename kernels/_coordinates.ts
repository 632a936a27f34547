/**
 * WGSL of the coordinates of a flat index and of a strided view's element at them, every size
 * and stride a uniform: the WGSL depends only on the rank, so the kernels that index by
 * coordinates (gather, scatter, flip and roll, triangles) compile once per rank.
 *
 * @module
 */

import type { GpuBuffer } from "./device.ts";
import type { Uniforms } from "./_uniforms.ts";

/** A strided view of a buffer, in elements: strides per axis of the shape it is read as. */
export interface IndexedView {
  /** The buffer. */
  readonly buffer: GpuBuffer;
  /** The stride of each axis, in elements. */
  readonly strides: readonly number[];
  /** The first element. */
  readonly offset: number;
}

/**
 * WGSL that sets `c0 … c{rank−1}`, the coordinates of the flat index `i` in the row-major
 * `shape`, whose sizes are the uniforms `size{a}`.
 *
 * @example
 * ```ts
 * import { coordinates } from "./_coordinates.ts";
 * import { Uniforms } from "./_uniforms.ts";
 * console.log(coordinates(new Uniforms(), [2, 3])); // "  let c0 = (i / uni.v[0].z) % uni.v[0].w;\n  let c1 = …"
 * ```
 */
export function coordinates(uf: Uniforms, shape: readonly number[]): string {
  let inner = 1;
  const lines: string[] = [];
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const [i, d] = [uf.u32(`inner${axis}`, inner), uf.u32(`size${axis}`, shape[axis])];
    lines.unshift(`  let c${axis} = (i / ${i}) % ${d};`);
    inner *= shape[axis];
  }
  return lines.join("\n");
}

/**
 * The WGSL element offset in `view` of the coordinates named `{prefix}{a}` (default the
 * `c{a}` of {@link coordinates}), the axis `skip` left out (−1: none).
 *
 * @example
 * ```ts
 * import { offsetOf } from "./_coordinates.ts";
 * import { Uniforms } from "./_uniforms.ts";
 * const uf = new Uniforms();
 * console.log(offsetOf(uf, "x", { buffer: null!, strides: [3, 1], offset: 0 }, -1)); // uni.v[0].z + c0 * uni.v[0].x + c1 * uni.v[0].y
 * ```
 */
export function offsetOf(
  uf: Uniforms,
  name: string,
  view: IndexedView,
  skip: number,
  prefix = "c",
): string {
  const terms = view.strides.flatMap((stride, axis) =>
    axis === skip ? [] : [`${prefix}${axis} * ${uf.u32(`${name}.stride${axis}`, stride)}`]
  );
  return [uf.u32(`${name}.offset`, view.offset), ...terms].join(" + ");
}

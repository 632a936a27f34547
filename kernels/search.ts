/**
 * Binary search in sorted rows, as `torch.searchsorted`: for each value, the number of a row's
 * elements that sort before it (`left`) or before or equal to it (`right`), so that inserting it
 * there keeps the row sorted. One invocation per value; the row length and the number of values
 * per row are uniforms. NaN sorts as the largest value, as in `sort.ts`.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, IS_NAN } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

const WORKGROUP = 256;

/** The sizes of {@link searchSorted}. */
export interface SearchSizes {
  /** Rows of the sorted sequence (1: one row for every value). */
  readonly rows: number;
  /** Elements of each sorted row. */
  readonly length: number;
  /** Values searched in each row. */
  readonly perRow: number;
}

/**
 * Writes into the i32 `out` the insertion point of each value of `values` (contiguous, row `r`
 * holding values `r·perRow …`) in row `r` of the contiguous, ascending `sorted` (f32 or i32 as
 * `type`): the first position whose element is not below the value (`right` false), or is above
 * it (`right` true).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { searchSorted } from "./search.ts";
 * const device = await Device.acquire();
 * const sorted = device.alloc(16), values = device.alloc(12), out = device.alloc(12);
 * device.write(sorted, new Float32Array([1, 3, 3, 5]));
 * device.write(values, new Float32Array([3, 0, 9]));
 * searchSorted(device, "f32", sorted, values, out, { rows: 1, length: 4, perRow: 3 }, false);
 * console.log(new Int32Array(await device.read(out, 0, 12))); // [1, 0, 4]
 * ```
 */
export function searchSorted(
  device: Device,
  type: "f32" | "i32",
  sorted: GpuBuffer,
  values: GpuBuffer,
  out: GpuBuffer,
  sizes: SearchSizes,
  right: boolean,
): void {
  const n = sizes.rows * sizes.perRow;
  if (n === 0) return;
  const uf = new Uniforms();
  const u = uf.all({ length: sizes.length, perRow: sizes.perRow, n });
  const before = type === "f32"
    ? `${IS_NAN}
fn before(a: f32, b: f32) -> bool { return !isNan(a) && (isNan(b) || a < b); }`
    : "fn before(a: i32, b: i32) -> bool { return a < b; }";
  // Left: skip the elements before the value; right: those before it or equal to it.
  const skips = right ? "!before(v, s)" : "before(s, v)";
  const body = `
  let base = (i / ${u.perRow}) * ${u.length};
  let v = values[i];
  var lo = 0u;
  var hi = ${u.length};
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let s = sorted[base + mid];
    if (${skips}) { lo = mid + 1u; } else { hi = mid; }
  }
  out[i] = i32(lo);`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> sorted: array<${type}>;
@group(0) @binding(1) var<storage, read> values: array<${type}>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
${uf.declare(3)}
${before}
${flatMain(WORKGROUP, u.n, body)}`;
  device.dispatch(
    {
      name: `searchsorted [${sizes.rows}, ${sizes.length}] for ${sizes.perRow}`,
      wgsl,
      uniforms: uf.data(),
      workgroups: Math.ceil(n / WORKGROUP),
      cost: { bytes: 8 * n + 4 * n * Math.ceil(Math.log2(sizes.length + 1)) },
    },
    [{ buffer: sorted }, { buffer: values }, { buffer: out }],
  );
}

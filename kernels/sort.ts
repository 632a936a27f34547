/**
 * Sorting along rows, as a merge sort in passes: each pass merges pairs of sorted runs of
 * `width` elements into runs of `2·width`, every element finding its place by a binary search
 * in the run it is merged with. ⌈log₂ n⌉ passes of n invocations each, any length (no power of
 * two needed), no atomics and no workgroup memory, and stable: of equal keys the earlier keeps
 * its place before the later. The passes move a permutation of each row, not its values; the
 * values are read through it, so the result is each row's order (`argsort`), and the sorted
 * values are a gather through it. NaN sorts as the largest value, as PyTorch's.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, IS_NAN, rowRuns } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { alternatingPasses } from "./_passes.ts";

const WORKGROUP = 256;

/** The WGSL of `before(a, b)`: whether key `a` sorts strictly before key `b`. */
function order(type: "f32" | "i32", descending: boolean): string {
  if (type === "i32") {
    return `fn before(a: i32, b: i32) -> bool { return a ${descending ? ">" : "<"} b; }`;
  }
  // NaN is the largest key: last ascending, first descending.
  return `${IS_NAN}
fn before(a: f32, b: f32) -> bool {
  ${
    descending
      ? "return !isNan(b) && (isNan(a) || a > b);"
      : "return !isNan(a) && (isNan(b) || a < b);"
  }
}`;
}

/** One merge pass: runs of `width` merged in pairs, from `source` into `target`. */
function mergePass(
  device: Device,
  type: "f32" | "i32",
  descending: boolean,
  keys: GpuBuffer,
  source: GpuBuffer | null,
  target: GpuBuffer,
  rows: number,
  length: number,
  width: number,
): void {
  // The first pass starts from the identity: each element is its own run.
  const first = source === null;
  const buffers = first ? [keys, target] : [keys, target, source];
  for (const run of rowRuns(device, "sort", rows, length, buffers)) {
    const uf = new Uniforms();
    const u = uf.all({ length, width, n: run.rows * length, shift: run.shift });
    const at = (p: string) => (first ? p : `perm[base + ${p}]`);
    const body = `
  let row = i / ${u.length};
  let p = i % ${u.length};
  let base = row * ${u.length} + ${u.shift};
  let start = p - p % ${u.width};
  let left = (start / ${u.width}) % 2u == 0u;
  let other = select(start - ${u.width}, start + ${u.width}, left);
  let me = ${at("p")};
  if (left && other >= ${u.length}) {
    out[base + p] = ${first ? "i32(me)" : "me"};
    return;
  }
  let key = keys[base + u32(me)];
  // How many of the other run come before this element: strictly before it from the
  // right-hand run, before or equal from the left-hand one (so that ties keep their order).
  var lo = other;
  var hi = min(other + ${u.width}, ${u.length});
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let k = keys[base + u32(${at("mid")})];
    let goes = select(!before(key, k), before(k, key), left);
    if (goes) { lo = mid + 1u; } else { hi = mid; }
  }
  out[base + min(start, other) + (p - start) + (lo - other)] = ${first ? "i32(me)" : "me"};`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> keys: array<${type}>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
${first ? "" : "@group(0) @binding(2) var<storage, read> perm: array<i32>;"}
${uf.declare(first ? 2 : 3)}
${order(type, descending)}
${flatMain(WORKGROUP, u.n, body)}`;
    device.dispatch(
      {
        name: `sort merge [${rows}, ${length}] runs of ${width}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil((run.rows * length) / WORKGROUP),
        cost: { bytes: 8 * run.rows * length * Math.ceil(Math.log2(width + 1)) },
      },
      run.bindings,
    );
  }
}

/**
 * Writes into the i32 `out` each row's order of a contiguous `[rows, length]` matrix of keys
 * (f32 or i32): `out[r, p]` is the position in row `r` of its `p`-th smallest key (largest when
 * `descending`), stable, NaN the largest.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { argsortRows } from "./sort.ts";
 * const device = await Device.acquire();
 * const keys = device.alloc(24), out = device.alloc(24);
 * device.write(keys, new Float32Array([3, 1, 2, 0, 5, 0]));
 * argsortRows(device, "f32", keys, out, 2, 3, false);
 * console.log(new Int32Array(await device.read(out, 0, 24))); // [1, 2, 0, 0, 2, 1]
 * ```
 */
export function argsortRows(
  device: Device,
  type: "f32" | "i32",
  keys: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  descending: boolean,
): void {
  if (rows * length === 0) return;
  const passes = Math.max(1, Math.ceil(Math.log2(length)));
  alternatingPasses(device, out, rows * length * 4, passes, null, "sort", (source, target, k) => {
    mergePass(device, type, descending, keys, source, target, rows, length, 2 ** k);
  });
}

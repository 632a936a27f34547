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
import { flatMain, IS_NAN, passWindows, rowRuns } from "./_program.ts";
import { gather } from "./gather_scatter.ts";
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
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  // Chunks of a long row: as many elements as a binding holds past an unaligned start, a
  // whole number of alignment units (so that every chunk of a buffer counted from 0 starts
  // aligned).
  const chunk = Math.floor((limit - align) / align) * (align / 4);
  if (length > chunk) {
    for (let row = 0; row < rows; row++) {
      argsortLongRow(device, type, descending, keys, out, row * length, length, chunk);
    }
    return;
  }
  const passes = Math.max(1, Math.ceil(Math.log2(length)));
  alternatingPasses(device, out, rows * length * 4, passes, null, "sort", (source, target, k) => {
    mergePass(device, type, descending, keys, source, target, rows, length, 2 ** k);
  });
}

/**
 * The order of one row larger than a binding, the `length` keys from element `first` of `keys`,
 * written from element `first` of `out`: each chunk of `chunk` keys is sorted on its own (the
 * merge sort above), then every key's place in the row is its place in its chunk plus, for
 * every other chunk, how many of that chunk's keys sort before it (a binary search there; for
 * an earlier chunk, equal keys count too, so the order stays stable), and each position is
 * written at its place. Chunks are searched two at a time, so every binding holds at most one.
 */
function argsortLongRow(
  device: Device,
  type: "f32" | "i32",
  descending: boolean,
  keys: GpuBuffer,
  out: GpuBuffer,
  first: number,
  length: number,
  chunk: number,
): void {
  const chunks = Math.ceil(length / chunk);
  const span = (c: number) => Math.min(chunk, length - c * chunk);
  // Each chunk's keys in order, and their positions within the chunk.
  const sortedKeys = device.alloc(length * 4, "long sort keys");
  const sortedAt = device.alloc(length * 4, "long sort positions");
  const part = device.alloc(chunk * 4, "long sort chunk");
  const partOrder = device.alloc(chunk * 4, "long sort chunk order");
  const partSorted = device.alloc(chunk * 4, "long sort chunk keys");
  for (let c = 0; c < chunks; c++) {
    const n = span(c);
    device.copy(keys, (first + c * chunk) * 4, part, 0, n * 4);
    argsortRows(device, type, part, partOrder, 1, n, descending);
    const line = (buffer: GpuBuffer) => ({ buffer, strides: [1], offset: 0 });
    gather(device, type, [n], 0, n, line(part), line(partOrder), partSorted, "sort");
    device.copy(partSorted, 0, sortedKeys, c * chunk * 4, n * 4);
    device.copy(partOrder, 0, sortedAt, c * chunk * 4, n * 4);
  }
  for (const buffer of [part, partOrder, partSorted]) device.release(buffer);
  // Each key's place in the row: its place in its chunk, plus what sorts before it elsewhere.
  const places = device.alloc(length * 4, "long sort places");
  const range = (buffer: GpuBuffer, c: number) => ({
    buffer,
    offset: c * chunk * 4,
    size: span(c) * 4,
  });
  for (let c = 0; c < chunks; c++) {
    for (let other = 0; other < chunks; other++) {
      if (other === c) continue;
      const uf = new Uniforms();
      const u = uf.all({
        n: span(c),
        length: span(other),
        // The first pass over a chunk starts from its own places; later ones add to them.
        fresh: other === (c === 0 ? 1 : 0) ? 1 : 0,
        // Equal keys of an earlier chunk sort first (stability); of a later one, after.
        earlier: other < c ? 1 : 0,
      });
      const body = `
  let key = mine[i];
  var lo = 0u;
  var hi = ${u.length};
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let k = theirs[mid];
    let goes = select(before(k, key), !before(key, k), ${u.earlier} != 0u);
    if (goes) { lo = mid + 1u; } else { hi = mid; }
  }
  places[i] = select(places[i], i, ${u.fresh} != 0u) + lo;`;
      const wgsl = `
@group(0) @binding(0) var<storage, read> mine: array<${type}>;
@group(0) @binding(1) var<storage, read> theirs: array<${type}>;
@group(0) @binding(2) var<storage, read_write> places: array<u32>;
${uf.declare(3)}
${order(type, descending)}
${flatMain(WORKGROUP, u.n, body)}`;
      device.dispatch(
        {
          name: `sort long row [${length}] chunk ${c} against ${other}`,
          wgsl,
          uniforms: uf.data(),
          workgroups: Math.ceil(span(c) / WORKGROUP),
          cost: { bytes: 8 * span(c) * Math.ceil(Math.log2(span(other) + 1)) },
        },
        [range(sortedKeys, c), range(sortedKeys, other), range(places, c)],
      );
    }
  }
  device.release(sortedKeys);
  // Every key's position in the row, written at its place.
  const views = [
    { buffer: places, strides: [1], offset: 0 },
    { buffer: sortedAt, strides: [1], offset: 0 },
  ];
  for (const w of passWindows(device, [length], views, [out])) {
    const uf = new Uniforms();
    const [written] = w.reads;
    const u = uf.all({
      n: w.count,
      start: w.start,
      placesBase: w.bases[0],
      atBase: w.bases[1],
      chunk,
      outBase: written.base - first,
      outCount: written.count,
    });
    const body = `
  let s = ${u.start} + t;
  let at = places[s - ${u.placesBase}] - ${u.outBase};
  let position = (s / ${u.chunk}) * ${u.chunk} + u32(order[s - ${u.atBase}]);
  if (at < ${u.outCount}) { out[at] = i32(position); }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> places: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
${uf.declare(3)}
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `sort long row [${length}] placed`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 12 * w.count },
      },
      [...w.bindings, written.binding],
    );
  }
  for (const buffer of [places, sortedAt]) device.release(buffer);
}

/**
 * Binary search in sorted rows, as `torch.searchsorted`: for each value, the number of a row's
 * elements that sort before it (`left`) or before or equal to it (`right`), so that inserting it
 * there keeps the row sorted. One invocation per value; the row length and the number of values
 * per row are uniforms. NaN sorts as the largest value, as in `sort.ts`.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { alignedStart, boundElements, flatMain, IS_NAN } from "./_program.ts";
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
  const before = type === "f32"
    ? `${IS_NAN}
fn before(a: f32, b: f32) -> bool { return !isNan(a) && (isNan(b) || a < b); }`
    : "fn before(a: i32, b: i32) -> bool { return a < b; }";
  // Left: skip the elements before the value; right: those before it or equal to it.
  const skips = right ? "!before(v, s)" : "before(s, v)";
  for (const w of searchWindows(device, sorted, values, out, sizes)) {
    const uf = new Uniforms();
    const u = uf.all({
      length: sizes.length,
      perRow: sizes.perRow,
      n: w.count,
      start: w.start,
      sortedBase: w.sortedBase,
      valuesBase: w.valuesBase,
      from: w.from,
      span: w.span,
      add: w.from > 0 ? 1 : 0,
    });
    const body = `
  let i = ${u.start} + t;
  let base = (i / ${u.perRow}) * ${u.length} + ${u.from} - ${u.sortedBase};
  let v = values[i - ${u.valuesBase}];
  var lo = 0u;
  var hi = ${u.span};
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let s = sorted[base + mid];
    if (${skips}) { lo = mid + 1u; } else { hi = mid; }
  }
  // A row longer than a binding is searched a chunk at a time: the counts add up.
  var counted = 0;
  if (${u.add} != 0u) { counted = out[i - ${u.valuesBase}]; }
  out[i - ${u.valuesBase}] = counted + i32(lo);`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> sorted: array<${type}>;
@group(0) @binding(1) var<storage, read> values: array<${type}>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
${uf.declare(3)}
${before}
${flatMain(WORKGROUP, u.n, body, { index: "t" })}`;
    device.dispatch(
      {
        name: `searchsorted [${sizes.rows}, ${sizes.length}] for ${sizes.perRow}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(w.count / WORKGROUP),
        cost: { bytes: 8 * w.count + 4 * w.count * Math.ceil(Math.log2(sizes.length + 1)) },
      },
      w.bindings,
    );
  }
}

/**
 * A dispatch of {@link searchSorted}: values `[start, start + count)`, and the part of the rows
 * they search, `span` elements from `from` of each row (all of it, but for a row larger than a
 * binding, searched a chunk at a time).
 */
interface SearchWindow {
  start: number;
  count: number;
  sortedBase: number;
  valuesBase: number;
  from: number;
  span: number;
  bindings: Binding[];
}

/**
 * Splits a search into windows of values (and their results) that fit one binding, each with
 * the sorted rows its values search bound whole: many values in one sorted row (a `bucketize`
 * of a whole data set) or many rows. A sorted row larger than a binding is searched in chunks,
 * one dispatch each, whose counts add up to the insertion point.
 */
function searchWindows(
  device: Device,
  sorted: GpuBuffer,
  values: GpuBuffer,
  out: GpuBuffer,
  { length, perRow, rows }: SearchSizes,
): SearchWindow[] {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  if ([sorted, values, out].every((b) => b.capacity <= limit)) {
    const bindings = [{ buffer: sorted }, { buffer: values }, { buffer: out }];
    const all = { start: 0, count: rows * perRow, sortedBase: 0, valuesBase: 0 };
    return [{ ...all, from: 0, span: length, bindings }];
  }
  const budget = Math.floor((limit - align) / 4);
  const alignDown = (element: number) => alignedStart(element, align);
  const range = (buffer: GpuBuffer, first: number, count: number) =>
    boundElements(device, buffer, first, count).binding;
  if (length > budget) {
    // Each row's values, in windows, against each chunk of the row in turn.
    const windows: SearchWindow[] = [];
    for (let row = 0; row < rows; row++) {
      for (let v = 0; v < perRow; v += budget) {
        const [start, count] = [row * perRow + v, Math.min(budget, perRow - v)];
        for (let from = 0; from < length; from += budget) {
          const span = Math.min(budget, length - from);
          windows.push({
            start,
            count,
            sortedBase: alignDown(row * length + from),
            valuesBase: alignDown(start),
            from,
            span,
            bindings: [
              range(sorted, row * length + from, span),
              range(values, start, count),
              range(out, start, count),
            ],
          });
        }
      }
    }
    return windows;
  }
  const n = rows * perRow, rowsPerWindow = Math.floor(budget / length);
  const windows: SearchWindow[] = [];
  for (let start = 0; start < n;) {
    const firstRow = Math.floor(start / perRow);
    const end = Math.min(n, start + budget, (firstRow + rowsPerWindow) * perRow);
    const lastRow = Math.floor((end - 1) / perRow);
    const [sortedBase, valuesBase] = [alignDown(firstRow * length), alignDown(start)];
    const valuesRange = { offset: valuesBase * 4, size: (end - valuesBase) * 4 };
    windows.push({
      start,
      count: end - start,
      sortedBase,
      valuesBase,
      from: 0,
      span: length,
      bindings: [
        { buffer: sorted, offset: sortedBase * 4, size: ((lastRow + 1) * length - sortedBase) * 4 },
        { buffer: values, ...valuesRange },
        { buffer: out, ...valuesRange },
      ],
    });
    start = end;
  }
  return windows;
}

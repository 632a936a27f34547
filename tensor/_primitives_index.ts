/**
 * The primitives of indexing and reordering along axes: a gather and a scatter that read every
 * operand through its strides (`kernels/gather_scatter.ts`), a sort's order (`kernels/sort.ts`),
 * running sums and products (`kernels/scan.ts`), flips, rolls and triangles
 * (`kernels/reorder.ts`), and binary searches in sorted rows (`kernels/search.ts`). Each returns
 * a new raw tensor that the caller owns. Shapes are checked a layer up
 * (`_tensor_index_args.ts`); a 0-d operand is read as one element along axis 0.
 *
 * @module
 */

import {
  gather as gatherKernel,
  placeIndices,
  scatter as scatterKernel,
  scatterInRows,
  type ScatterMode,
} from "../kernels/gather_scatter.ts";
import { flipRoll as flipRollKernel, triangle as triangleKernel } from "../kernels/reorder.ts";
import { cumulativeExtremumRows, type ScanOp, scanRows } from "../kernels/scan.ts";
import { searchSorted as searchSortedKernel } from "../kernels/search.ts";
import { argsortRows } from "../kernels/sort.ts";
import { empty, type RawTensor } from "./_core.ts";
import { contiguous, contiguousCopy, fill } from "./_primitives.ts";

export type { ScatterMode } from "../kernels/gather_scatter.ts";
export type { ScanOp } from "../kernels/scan.ts";

/** How the kernels read `t`: at least rank 1 (a 0-d tensor as `[1]`). */
function viewed(t: RawTensor) {
  return {
    shape: t.rank === 0 ? [1] : t.shape,
    view: { buffer: t.buffer, strides: t.rank === 0 ? [1] : t.strides, offset: t.offset },
  };
}

/**
 * `out[c] = x[c with c[dim] = index[c]]`, shaped as the i32 `index` (PyTorch's `gather`). An
 * index outside `x`'s axis makes its element NaN (0 for i32) and raises a device-side fault
 * naming `op` at the next read.
 */
export function gather(x: RawTensor, dim: number, index: RawTensor, op = "gather"): RawTensor {
  const out = empty(x.device, index.shape, x.dtype);
  const [source, at] = [viewed(x), viewed(index)];
  gatherKernel(
    x.device,
    x.dtype,
    at.shape,
    dim,
    source.shape[dim],
    source.view,
    at.view,
    out.buffer,
    op,
  );
  return out;
}

/**
 * The stable ascending order of `index` along `dim` (i32, `index`'s shape), in which a scatter
 * finds the entries that reach each element. Lines repeated by broadcasting (stride 0, as an
 * `indexSelect`'s 1-D index spread over the other axes) are sorted once, and the order is
 * broadcast the same way.
 */
function lineOrder(index: RawTensor, dim: number): RawTensor {
  if (index.rank === 0) return argsort(index, 0, false);
  const repeated = index.shape.map((d, a) => a !== dim && d > 1 && index.strides[a] === 0);
  const lines = index.view(
    index.shape.map((d, a) => (repeated[a] ? 1 : d)),
    index.strides,
    index.offset,
  );
  const sorted = argsort(lines, dim, false);
  const order = sorted.view(
    index.shape,
    sorted.strides.map((stride, a) => (repeated[a] ? 0 : stride)),
    sorted.offset,
  );
  for (const t of [lines, sorted]) t.dispose();
  return order;
}

/**
 * `base` with `src[c]` written to (`assign`) or combined into (`add`, `prod`, `amax`, `amin`,
 * `mean`) `c with c[dim] = index[c]` for every coordinate `c` of the i32 `index` (PyTorch's
 * `scatter`, `scatter_add` and `scatter_reduce`); `base` null starts from zeros. A plain scatter
 * keeps the last of duplicated indices along `dim`; `includeSelf` false leaves the destination's
 * own value out where an entry reaches it. Errors name `op`.
 */
export function scatter(
  base: RawTensor | null,
  shape: readonly number[],
  dim: number,
  index: RawTensor,
  src: RawTensor,
  mode: ScatterMode,
  { op = mode === "add" ? "scatterAdd" : "scatter", includeSelf = true } = {},
): RawTensor {
  const device = src.device;
  const zero = base ? null : fill(device, [], 0);
  // Zeros broadcast: one element read through strides of 0.
  const start = base ?? zero!.view(shape, shape.map(() => 0));
  const [at, values] = [viewed(index), viewed(src)];
  if (scatterInRows(device, at.shape, at.view, values.view)) {
    const out = scatterRows(start, dim, index, src, mode, op, includeSelf);
    if (zero) {
      start.dispose();
      zero.dispose();
    }
    return out;
  }
  const out = empty(device, shape, src.dtype);
  const order = lineOrder(index, dim);
  const [from, sorted] = [viewed(start), viewed(order)];
  scatterKernel(device, {
    type: src.dtype,
    mode,
    shape: from.shape,
    dim,
    indexShape: at.shape,
    base: from.view,
    index: at.view,
    order: sorted.view,
    src: values.view,
    out: out.buffer,
    op,
    includeSelf,
  });
  order.dispose();
  if (zero) {
    start.dispose();
    zero.dispose();
  }
  return out;
}

/**
 * {@link scatter} of an index larger than one binding: every operand as contiguous rows along
 * `dim` (`[rows, length]`, see {@link rowsAlong}), so the kernel takes runs of whole lines, and
 * the result viewed back in the destination's axis order. The index must then span the
 * destination along every other axis (as a gather's gradient does).
 */
function scatterRows(
  start: RawTensor,
  dim: number,
  index: RawTensor,
  src: RawTensor,
  mode: ScatterMode,
  op: string,
  includeSelf: boolean,
): RawTensor {
  const device = src.device;
  const narrower = index.shape.findIndex((d, a) => a !== dim && d !== start.shape[a]);
  if (narrower >= 0) {
    throw new RangeError(
      `${op}: an index [${index.shape}] larger than one binding must span the destination ` +
        `[${start.shape}] along every axis but ${dim} (axis ${narrower} does not)`,
    );
  }
  // The source is read at the index's coordinates only.
  const picked = src.view(index.shape, src.strides, src.offset);
  const [base, at, values] = [start, index, picked].map((t) => rowsAlong(t, dim));
  picked.dispose();
  // The kernel binds runs of rows counted from each buffer's start.
  for (const part of [base, at, values]) {
    if (part.rows.offset !== 0) {
      const copy = contiguousCopy(part.rows);
      part.rows.dispose();
      part.rows = copy;
    }
  }
  let order: RawTensor | null = empty(device, at.rows.shape, "i32");
  argsortRows(device, "i32", at.rows.buffer, order.buffer, at.count, at.length, false);
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  if (Math.max(at.length, base.length) * 4 > limit - align) {
    // Lines longer than a binding: the index and source gathered into the index's order, so
    // the kernel can fold each line in chunks.
    const last = at.rows.rank - 1;
    for (const part of [at, values]) {
      const sorted = gather(part.rows, last, order);
      part.rows.dispose();
      part.rows = sorted;
    }
    order.dispose();
    order = null;
  }
  const out = empty(device, base.rows.shape, src.dtype);
  // Every operand as a matrix of rows (a 1-D scatter is one row).
  const rowsView = (t: RawTensor) => {
    const length = t.rank === 0 ? 1 : t.shape[t.rank - 1];
    return { buffer: t.buffer, strides: [length, 1], offset: t.offset };
  };
  scatterKernel(device, {
    type: src.dtype,
    mode,
    shape: [base.count, base.length],
    dim: 1,
    indexShape: [at.count, at.length],
    base: rowsView(base.rows),
    index: rowsView(at.rows),
    order: order && rowsView(order),
    src: rowsView(values.rows),
    out: out.buffer,
    op,
    includeSelf,
    lineAxis: dim,
  });
  for (const t of [order, base.rows, at.rows, values.rows]) t?.dispose();
  return base.back(out);
}

/**
 * `x` as a contiguous `[count, length]` matrix whose rows run along `axis` (moved last), the
 * axis order that moved it, and how to view a result of the moved shape back in `x`'s order
 * (a view: the moved axis's stride goes back to its place). A 0-d `x` is one row of one.
 */
function rowsAlong(x: RawTensor, axis: number) {
  const shape = x.rank === 0 ? [1] : x.shape, strides = x.rank === 0 ? [1] : x.strides;
  const order = [...shape.keys()].filter((a) => a !== axis).concat(axis);
  const moved = x.view(order.map((a) => shape[a]), order.map((a) => strides[a]), x.offset);
  const rows = contiguous(moved);
  moved.dispose();
  const length = shape[axis];
  const back = (result: RawTensor) => {
    const out = x.rank === 0
      ? result.view([], [])
      : result.view(x.shape, shape.map((_, a) => result.strides[order.indexOf(a)]));
    result.dispose();
    return out;
  };
  return { rows, count: length === 0 ? 0 : rows.size / length, length, back };
}

/**
 * The i32 order of `x` along `axis` (`torch.argsort`, stable): at each position along the axis,
 * the index of the element that sorts there, ascending or `descending`, NaN the largest. The
 * axis is sorted last and contiguous, and the result is a view back in `x`'s axis order.
 */
export function argsort(x: RawTensor, axis: number, descending: boolean): RawTensor {
  const { rows, count, length, back } = rowsAlong(x, axis);
  const sorted = empty(x.device, rows.shape, "i32");
  argsortRows(x.device, x.dtype, rows.buffer, sorted.buffer, count, length, descending);
  rows.dispose();
  return back(sorted);
}

/**
 * The i32 `[total]` positions of a compaction's kept elements, in order: `target` (contiguous
 * i32 `[n]`) sends each kept element to its slot in `[0, total)`, distinct and rising, and the
 * others to `total` (see `kernels/gather_scatter.ts`'s `placeIndices`).
 */
export function keptPositions(target: RawTensor, total: number): RawTensor {
  const out = empty(target.device, [total], "i32");
  const packed = contiguous(target);
  const view = { buffer: packed.buffer, strides: [1], offset: packed.offset };
  placeIndices(target.device, view, packed.size, out.buffer, total);
  packed.dispose();
  return out;
}

/**
 * The running sum or product of `x` along `axis` (`torch.cumsum`, `torch.cumprod`; from the
 * end of the axis when `reverse`), f32 or i32 (wrapping), as a view in `x`'s axis order.
 */
export function cumulative(x: RawTensor, axis: number, op: ScanOp, reverse = false): RawTensor {
  const { rows, count, length, back } = rowsAlong(x, axis);
  const out = empty(x.device, rows.shape, x.dtype);
  scanRows(x.device, op, x.dtype, rows.buffer, out.buffer, count, length, reverse);
  rows.dispose();
  return back(out);
}

/**
 * The i32 position along `axis` of the running maximum or minimum of `x` (`torch.cummax`'s and
 * `torch.cummin`'s indices: the later on ties, NaN the extremum), as a view in `x`'s axis order.
 */
export function cumulativeExtremum(x: RawTensor, axis: number, op: "max" | "min"): RawTensor {
  const { rows, count, length, back } = rowsAlong(x, axis);
  const out = empty(x.device, rows.shape, "i32");
  cumulativeExtremumRows(x.device, op, x.dtype, rows.buffer, out.buffer, count, length);
  rows.dispose();
  return back(out);
}

/**
 * `x` flipped along the axes where `flip` is true and rolled by `shift` along the others
 * (`torch.flip`, `torch.roll`), contiguous.
 */
export function flipRoll(
  x: RawTensor,
  flip: readonly boolean[],
  shift: readonly number[],
): RawTensor {
  const out = empty(x.device, x.shape, x.dtype);
  const view = { buffer: x.buffer, strides: x.strides, offset: x.offset };
  flipRollKernel(x.device, x.shape, view, out.buffer, flip, shift);
  return out;
}

/**
 * The lower (`torch.tril`) or upper (`torch.triu`) triangle of the last two axes of `x` from
 * `diagonal` on, zeros elsewhere, contiguous.
 */
export function triangle(x: RawTensor, upper: boolean, diagonal: number): RawTensor {
  const out = empty(x.device, x.shape, x.dtype);
  const view = { buffer: x.buffer, strides: x.strides, offset: x.offset };
  triangleKernel(x.device, x.shape, view, out.buffer, upper, diagonal);
  return out;
}

/**
 * The i32 insertion points of `values` in the rows of the ascending `sorted` (its last axis;
 * one row for all values when 1-D, else one per leading index, shared with `values`), as
 * `torch.searchsorted`: shaped as `values`.
 */
export function searchSorted(sorted: RawTensor, values: RawTensor, right: boolean): RawTensor {
  const [rows, length] = sorted.rank <= 1
    ? [1, sorted.shape[0] ?? 1]
    : [sorted.size / sorted.shape[sorted.rank - 1], sorted.shape[sorted.rank - 1]];
  const out = empty(values.device, values.shape, "i32");
  const [seq, vals] = [contiguous(sorted), contiguous(values)];
  const perRow = rows === 0 ? 0 : values.size / rows;
  searchSortedKernel(values.device, values.dtype, seq.buffer, vals.buffer, out.buffer, {
    rows,
    length,
    perRow,
  }, right);
  seq.dispose();
  vals.dispose();
  return out;
}

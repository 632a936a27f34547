/**
 * Shape ops. reshape, permute and transpose are views (no copy) when the layout allows; slice,
 * concat and split copy with the strided-copy kernel.
 *
 * @module
 */

import { stridedCopy, type View } from "../kernels/copy.ts";
import { recordOp } from "./_autograd.ts";
import { contiguousStrides, normalizeAxes, numel, type Shape, ShapeError } from "./shape.ts";
import { Tensor } from "./tensor.ts";
import { empty, full, sameDevice } from "./ops_elementwise.ts";
import type { DType } from "./shape.ts";

function view(t: Tensor): View {
  return { buffer: t.storage.buffer, strides: t.strides, offset: t.offset };
}

/** A contiguous version of `x`: `x` itself when already contiguous, else a copy. */
export function contiguous<D extends DType>(x: Tensor<Shape, D>): Tensor<Shape, D> {
  if (x.isContiguous) return x;
  const out = empty(x.device, x.shape, x.dtype);
  stridedCopy(x.device, x.shape, view(x), {
    buffer: out.storage.buffer,
    strides: out.strides,
    offset: 0,
  });
  return recordOp(out, "contiguous", [x], [], () => (g) => [g.alias()]);
}

/** Resolves a single −1 and checks the element count. */
function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError(`reshape: at most one −1 in [${shape}]`);
  const known = numel(shape.filter((d) => d !== -1));
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  if (numel(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`reshape: cannot view [${x.shape}] (${x.size} elements) as [${shape}]`);
  }
  return resolved;
}

/** The same elements in a new shape: a view when `x` is contiguous. */
export function reshape<D extends DType>(
  x: Tensor<Shape, D>,
  shape: readonly number[],
): Tensor<Shape, D> {
  const resolved = resolveShape(x, shape);
  const source = contiguous(x);
  const out = new Tensor<Shape, D>(source.storage, resolved, x.dtype);
  if (source !== x) source.dispose();
  return recordOp(out, "reshape", [x], [], () => (g) => [reshape(g, x.shape)]);
}

/** Reorders axes as a view. */
export function permute<D extends DType>(
  x: Tensor<Shape, D>,
  order: readonly number[],
): Tensor<Shape, D> {
  const axes = order.map((a) => (a < 0 ? a + x.rank : a));
  if (
    axes.length !== x.rank || new Set(axes).size !== x.rank ||
    axes.some((a) => a < 0 || a >= x.rank)
  ) {
    throw new ShapeError(`permute: [${order}] is not a permutation of ${x.rank} axes`);
  }
  const out = new Tensor<Shape, D>(x.storage, axes.map((a) => x.shape[a]), x.dtype, {
    strides: axes.map((a) => x.strides[a]),
    offset: x.offset,
  });
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, i) => (inverse[a] = i));
  return recordOp(out, "permute", [x], [], () => (g) => [permute(g, inverse)]);
}

/** Swaps two axes as a view. */
export function transpose<D extends DType>(
  x: Tensor<Shape, D>,
  axis0: number,
  axis1: number,
): Tensor<Shape, D> {
  const [a, b] = [axis0, axis1].map((axis) => normalizeAxes(axis, x.rank, "transpose")[0]);
  const order = x.shape.map((_, i) => i);
  [order[a], order[b]] = [order[b], order[a]];
  return permute(x, order);
}

/** A contiguous copy of `x` broadcast to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor<Shape, "f32"> {
  const shift = shape.length - x.rank;
  if (shift < 0) throw new ShapeError(`broadcastTo: cannot broadcast [${x.shape}] to [${shape}]`);
  const strides = shape.map((d, axis) => {
    const own = axis - shift;
    if (own < 0 || x.shape[own] === 1) return 0;
    if (x.shape[own] !== d) {
      throw new ShapeError(`broadcastTo: cannot broadcast [${x.shape}] to [${shape}]`);
    }
    return x.strides[own];
  });
  const out = empty(x.device, shape, "f32");
  stridedCopy(x.device, shape, { buffer: x.storage.buffer, strides, offset: x.offset }, {
    buffer: out.storage.buffer,
    strides: contiguousStrides(shape),
    offset: 0,
  });
  return out;
}

/** Elements `[start, end)` along `axis` (negative indices count from the end), copied. */
export function slice<D extends DType>(
  x: Tensor<Shape, D>,
  axis: number,
  start: number,
  end: number,
): Tensor<Shape, D> {
  const a = normalizeAxes(axis, x.rank, "slice")[0];
  const length = x.shape[a];
  const from = start < 0 ? start + length : start;
  const to = end < 0 ? end + length : Math.min(end, length);
  if (from < 0 || from > to || to > length) {
    throw new ShapeError(`slice: [${start}, ${end}) is out of range for axis ${a} of [${x.shape}]`);
  }
  const shape = x.shape.map((d, i) => (i === a ? to - from : d));
  const out = empty(x.device, shape, x.dtype);
  stridedCopy(x.device, shape, { ...view(x), offset: x.offset + from * x.strides[a] }, {
    buffer: out.storage.buffer,
    strides: out.strides,
    offset: 0,
  });
  return recordOp(out, "slice", [x], [], () => (g) => {
    const grad = full(x.device, x.shape, 0);
    const strides = contiguousStrides(x.shape);
    stridedCopy(x.device, shape, view(g), {
      buffer: grad.storage.buffer,
      strides,
      offset: from * strides[a],
    });
    return [grad];
  });
}

/** Joins tensors along `axis`; all other sizes must agree. */
export function concat<D extends DType>(
  xs: readonly Tensor<Shape, D>[],
  axis: number,
): Tensor<Shape, D> {
  if (xs.length === 0) throw new ShapeError("concat: no tensors given");
  const device = sameDevice("concat", ...xs);
  const first = xs[0];
  const a = normalizeAxes(axis, first.rank, "concat")[0];
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: shapes [${first.shape}] and [${t.shape}] differ off axis ${a}`);
    }
    if (t.dtype !== first.dtype) {
      throw new TypeError(`concat: dtypes ${first.dtype} and ${t.dtype}`);
    }
  }
  const sizes = xs.map((t) => t.shape[a]);
  const shape = first.shape.map((d, i) => (i === a ? sizes.reduce((p, s) => p + s, 0) : d));
  const out = empty(device, shape, first.dtype);
  let start = 0;
  for (const t of xs) {
    stridedCopy(device, t.shape, view(t), {
      buffer: out.storage.buffer,
      strides: out.strides,
      offset: start * out.strides[a],
    });
    start += t.shape[a];
  }
  return recordOp(out, "concat", xs, [], () => (g) => {
    let at = 0;
    return sizes.map((size) => {
      const part = slice(g, a, at, at + size);
      at += size;
      return part;
    });
  });
}

/** Splits `x` along `axis` into parts of the given sizes (which must add up). */
export function split<D extends DType>(
  x: Tensor<Shape, D>,
  sizes: readonly number[],
  axis: number,
): Tensor<Shape, D>[] {
  const a = normalizeAxes(axis, x.rank, "split")[0];
  const total = sizes.reduce((p, s) => p + s, 0);
  if (total !== x.shape[a]) {
    throw new ShapeError(
      `split: sizes [${sizes}] add up to ${total}, not ${x.shape[a]} (axis ${a})`,
    );
  }
  let at = 0;
  return sizes.map((size) => {
    const part = slice(x, a, at, at + size);
    at += size;
    return part;
  });
}

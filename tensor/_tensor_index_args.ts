/**
 * The checks of the indexing ops' arguments, on the host and before any dispatch, with
 * PyTorch's rules and one-line messages that name the op, the shapes and the axis. Values of
 * the index are checked on the device (`kernels/gather_scatter.ts`), without a readback.
 *
 * @module
 */

import { type Described, sameDevice } from "./_core.ts";
import { normalizeAxes, reductionAxes, ShapeError } from "./shape.ts";
import { requireList } from "./_tensor_args.ts";

/** Throws unless `index` is i32. */
export function requireIndex(op: string, index: Described): void {
  if (index.dtype !== "i32") {
    throw new TypeError(
      `${op}: the index must be i32, got ${index.dtype} of shape [${index.shape}]; ` +
        "convert it with .int()",
    );
  }
}

/** `shape` with at least one axis (a 0-d tensor counts as one element along axis 0). */
function atLeast1d(shape: readonly number[]): readonly number[] {
  return shape.length === 0 ? [1] : shape;
}

/**
 * The axis of `gather(dim, index)` on `x`, checked as PyTorch checks it: an i32 index on the
 * same device, of the same rank, no larger than `x` along every other axis.
 */
export function gatherAxis(op: string, x: Described, dim: number, index: Described): number {
  requireIndex(op, index);
  sameDevice(op, x, index);
  const [xs, is] = [atLeast1d(x.shape), atLeast1d(index.shape)];
  const axis = normalizeAxes(dim, xs.length, op)[0];
  if (is.length !== xs.length) {
    throw new ShapeError(
      `${op}: the index [${index.shape}] must have the rank of the input [${x.shape}]`,
    );
  }
  const over = is.findIndex((d, a) => a !== axis && d > xs[a]);
  if (over >= 0) {
    throw new ShapeError(
      `${op}: the index [${index.shape}] is larger than the input [${x.shape}] along axis ` +
        `${over} (only axis ${axis}, the one indexed, may be)`,
    );
  }
  return axis;
}

/**
 * The axis of `scatter(dim, index, src)` into `x`: {@link gatherAxis}'s checks, and a `src` of
 * `x`'s dtype, on its device, of its rank and at least the index's size along every axis.
 */
export function scatterAxis(
  op: string,
  x: Described,
  dim: number,
  index: Described,
  src: Described,
): number {
  const axis = gatherAxis(op, x, dim, index);
  sameDevice(op, x, src);
  if (src.dtype !== x.dtype) {
    throw new TypeError(`${op}: src is ${src.dtype} and the input ${x.dtype}; they must match`);
  }
  const [ss, is] = [atLeast1d(src.shape), atLeast1d(index.shape)];
  const short = is.findIndex((d, a) => a >= ss.length || d > ss[a]);
  if (ss.length !== is.length || short >= 0) {
    throw new ShapeError(
      `${op}: src [${src.shape}] must have the index's rank and cover the index ` +
        `[${index.shape}] along every axis`,
    );
  }
  return axis;
}

/**
 * The axis of `indexSelect(dim, index)` on `x` and the shape of the index broadcast to the
 * result: `x`'s shape with `index.size` along the axis (a 1-D or 0-d i32 index).
 */
export function indexSelectPlan(
  x: Described,
  dim: number,
  index: Described,
  op = "indexSelect",
): { axis: number; shape: number[]; indexShape: number[] } {
  requireIndex(op, index);
  sameDevice(op, x, index);
  if (index.shape.length > 1) {
    throw new ShapeError(`${op}: the index must be 1-D or 0-d, got shape [${index.shape}]`);
  }
  const xs = atLeast1d(x.shape);
  const axis = normalizeAxes(dim, xs.length, op)[0];
  const length = index.shape[0] ?? 1;
  if (x.shape.length === 0 && length !== 1) {
    throw new ShapeError(`${op}: the index into a 0-d tensor must hold 1 value, got ${length}`);
  }
  const shape = xs.map((d, a) => (a === axis ? length : d));
  return {
    axis,
    // A 0-d input stays 0-d, as PyTorch's.
    shape: x.shape.length === 0 ? [] : shape,
    indexShape: xs.map((_, a) => (a === axis ? length : 1)),
  };
}

/** Per axis of a tensor of rank `rank`, whether `dims` (an axis or several) names it. */
export function flippedAxes(rank: number, dims: number | readonly number[]): boolean[] {
  // Omitted, the axes would read as every axis; torch.flip requires them.
  if (dims == null) throw new TypeError("flip: give the axes to flip, as flip([0])");
  const named = reductionAxes(dims, rank, "flip");
  return Array.from({ length: rank }, (_, a) => named.includes(a));
}

/** Per axis of `shape`, the roll of `roll(shifts, dims)` (0 where not rolled). */
export function rollShifts(
  shape: readonly number[],
  shifts: number | readonly number[],
  dims: number | readonly number[],
): number[] {
  const [by, axes] = [shifts, dims].map((v) => (typeof v === "number" ? [v] : [...v]));
  if (by.length !== axes.length || by.some((s) => !Number.isInteger(s))) {
    throw new RangeError(
      `roll: shifts [${by}] and dims [${axes}] must be integers, as many of one as of the other`,
    );
  }
  const shift = shape.map(() => 0);
  axes.forEach((dim, k) => {
    const axis = normalizeAxes(dim, shape.length, "roll")[0];
    shift[axis] += by[k];
  });
  return shift;
}

/**
 * The views of `repeat(sizes)` on `shape`, as `torch.Tensor.repeat`: the tensor with leading
 * axes of 1 and a unit axis before each (`unit`), broadcast to `[sizes[0], d0, sizes[1], d1, …]`
 * (`spread`), and merged pairwise (`shape`).
 */
export function repeatPlan(
  op: string,
  shape: readonly number[],
  sizes: readonly number[],
): { unit: number[]; spread: number[]; shape: number[] } {
  requireList(op, "the repeats", sizes);
  if (sizes.length < shape.length) {
    throw new ShapeError(
      `${op}: ${sizes.length} repeats for a tensor of rank ${shape.length} [${shape}]: ` +
        "give at least one per axis",
    );
  }
  if (sizes.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new ShapeError(`${op}: repeats [${sizes}] must be integers ≥ 0`);
  }
  const full = [...sizes.slice(shape.length).map(() => 1), ...shape];
  return {
    unit: full.flatMap((d) => [1, d]),
    spread: full.flatMap((d, a) => [sizes[a], d]),
    shape: full.map((d, a) => d * sizes[a]),
  };
}

/**
 * Throws unless a tensor of `shape` has the two axes a triangle of `op` needs, and `diagonal`
 * is an integer.
 */
export function requireMatrix(op: string, shape: readonly number[], diagonal: number): void {
  if (shape.length < 2) {
    throw new ShapeError(`${op}: the input [${shape}] needs at least two axes`);
  }
  if (!Number.isInteger(diagonal)) {
    throw new RangeError(`${op}: the diagonal ${diagonal} is not an integer`);
  }
}

/**
 * Throws unless `ord` is a norm's order (a number, ±∞ included) that `axes` of `shape` allow:
 * ±∞ has no value over no elements, as in PyTorch.
 */
export function requireNormOrder(shape: readonly number[], ord: number, axes: number[]): void {
  if (typeof ord !== "number" || Number.isNaN(ord)) {
    throw new RangeError(`norm: the order ${ord} is not a number (use Infinity for the max norm)`);
  }
  if (!Number.isFinite(ord) && axes.some((a) => shape[a] === 0)) {
    throw new ShapeError(`norm: the ${ord} norm of [${shape}] over axes [${axes}] has no elements`);
  }
}

/**
 * Throws unless `values` can be searched in `sorted` (`torch.searchsorted`'s rules): one dtype
 * and device, `sorted` at least 1-D, and where it has more axes, `values` with the same
 * leading axes (one row of `sorted` per row of values).
 */
export function checkSearch(op: string, sorted: Described, values: Described): void {
  sameDevice(op, sorted, values);
  if (sorted.dtype !== values.dtype) {
    throw new TypeError(
      `${op}: the sorted sequence is ${sorted.dtype} and the values ${values.dtype}`,
    );
  }
  if (sorted.shape.length === 0) {
    throw new ShapeError(`${op}: the sorted sequence must have at least one axis, got a scalar`);
  }
  const lead = sorted.shape.slice(0, -1);
  const valuesLead = values.shape.slice(0, -1);
  if (
    lead.length > 0 &&
    (lead.length !== valuesLead.length || lead.some((d, a) => d !== valuesLead[a]))
  ) {
    throw new ShapeError(
      `${op}: the sorted sequence [${sorted.shape}] and the values [${values.shape}] must share ` +
        "their leading axes (all but the last)",
    );
  }
}

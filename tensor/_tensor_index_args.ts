/**
 * The checks of the indexing ops' arguments, on the host and before any dispatch, with
 * PyTorch's rules and one-line messages that name the op, the shapes and the axis. Values of
 * the index are checked on the device (`kernels/gather_scatter.ts`), without a readback.
 *
 * @module
 */

import { type Described, sameDevice } from "./_core.ts";
import { normalizeAxes, ShapeError } from "./shape.ts";

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
): { axis: number; shape: number[]; indexShape: number[] } {
  const op = "indexSelect";
  requireIndex(op, index);
  sameDevice(op, x, index);
  if (index.shape.length > 1) {
    throw new ShapeError(`${op}: the index must be 1-D or 0-d, got shape [${index.shape}]`);
  }
  const xs = atLeast1d(x.shape);
  const axis = normalizeAxes(dim, xs.length, op)[0];
  const length = index.shape[0] ?? 1;
  const shape = xs.map((d, a) => (a === axis ? length : d));
  return {
    axis,
    // A 0-d input stays 0-d, as PyTorch's.
    shape: x.shape.length === 0 ? [] : shape,
    indexShape: xs.map((_, a) => (a === axis ? length : 1)),
  };
}

/**
 * Shape ops as functions: `reshape`, `permute`, `transpose`, `squeeze`, `unsqueeze`, `flatten`
 * and `broadcastTo` are views when the layout allows; `slice`, `concat`, `split` and `stack`
 * copy. Their rules are in `_rules/shape.ts`.
 *
 * @module
 */

import { sameDevice } from "./_core.ts";
import {
  describeValue,
  type DType,
  normalizeAxes,
  sameShape,
  type Shape,
  ShapeError,
} from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

/**
 * The same elements in a new shape (one dimension may be −1): a view when `x` is contiguous.
 *
 * @example
 * ```ts
 * import { defaultDevice, reshape, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(reshape(tensor([1, 2, 3, 4, 5, 6]), [2, -1]).shape); // [2, 3]
 * ```
 */
export function reshape<D extends DType>(
  x: Tensor<Shape, D>,
  shape: readonly number[],
): Tensor<Shape, D> {
  return tensorArgument("reshape", x).reshape(shape);
}

/**
 * Reorders axes, as a view.
 *
 * @example
 * ```ts
 * import { defaultDevice, permute, zeros } from "../mod.ts";
 * await defaultDevice();
 * console.log(permute(zeros([2, 3, 4]), [2, 0, 1]).shape); // [4, 2, 3]
 * ```
 */
export function permute<D extends DType>(
  x: Tensor<Shape, D>,
  order: readonly number[],
): Tensor<Shape, D> {
  return tensorArgument("permute", x).permute(order);
}

/**
 * Swaps two axes, as a view.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, transpose } from "../mod.ts";
 * await defaultDevice();
 * console.log(await transpose(tensor([[1, 2, 3]]), 0, 1).toArray()); // [[1], [2], [3]]
 * ```
 */
export function transpose<D extends DType>(
  x: Tensor<Shape, D>,
  axis0: number,
  axis1: number,
): Tensor<Shape, D> {
  return tensorArgument("transpose", x).transpose(axis0, axis1);
}

/**
 * Every `step`-th element (default 1) of `[start, end)` along `axis`, copied, as Python's
 * `x[start:end:step]` along that axis: negative indices count from the end, bounds past either
 * end are clamped to it, and `end ≤ start` gives an empty axis. The step is positive, as
 * PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, slice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(await slice(x, 1, 1, 3).toArray()); // [[2, 3], [5, 6]]
 * console.log(await slice(x, 1, -2, 100).toArray()); // [[2, 3], [5, 6]]
 * console.log(slice(x, 0, 2, 1).shape); // [0, 3]
 * console.log(await slice(x, 1, 0, 3, 2).toArray()); // [[1, 3], [4, 6]]
 * ```
 */
export function slice<D extends DType>(
  x: Tensor<Shape, D>,
  axis: number,
  start: number,
  end: number,
  step = 1,
): Tensor<Shape, D> {
  return tensorArgument("slice", x).slice(axis, start, end, step);
}

/**
 * Joins tensors along `axis`; all other sizes must agree.
 *
 * @example
 * ```ts
 * import { concat, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await concat([tensor([[1, 2]]), tensor([[3, 4]])], 0).toArray()); // [[1, 2], [3, 4]]
 * ```
 */
export function concat<D extends DType>(
  xs: readonly Tensor<Shape, D>[],
  axis: number,
): Tensor<Shape, D> {
  requireTensorList("concat", xs);
  if (xs.length === 0) throw new ShapeError("concat: no tensors given");
  sameDevice("concat", ...xs);
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
  return apply("concat", xs, { axis: a }) as Tensor<Shape, D>;
}

/**
 * Splits `x` along `axis` into parts of the given sizes (which must add up), or, as
 * `torch.split` with one size, into parts of that size (the last smaller where it does not
 * divide).
 *
 * @example
 * ```ts
 * import { defaultDevice, split, tensor } from "../mod.ts";
 * await defaultDevice();
 * const [a, b] = split(tensor([1, 2, 3]), [1, 2], 0);
 * console.log(await a.toArray(), await b.toArray()); // [1] [2, 3]
 * console.log(split(tensor([1, 2, 3, 4, 5]), 2, 0).map((t) => t.shape)); // [[2], [2], [1]]
 * ```
 */
export function split<D extends DType>(
  x: Tensor<Shape, D>,
  sizesOrSize: readonly number[] | number,
  axis: number,
): Tensor<Shape, D>[] {
  tensorArgument("split", x);
  const a = normalizeAxes(axis, x.rank, "split")[0];
  const length = x.shape[a] as number;
  if (typeof sizesOrSize === "number" && !(Number.isInteger(sizesOrSize) && sizesOrSize > 0)) {
    throw new ShapeError(`split: the part size must be an integer ≥ 1, got ${sizesOrSize}`);
  }
  const sizes = typeof sizesOrSize === "number"
    ? Array.from(
      { length: Math.max(1, Math.ceil(length / sizesOrSize)) },
      (_, i) => Math.min(sizesOrSize, length - i * sizesOrSize),
    )
    : sizesOrSize;
  if (!Array.isArray(sizes) || !sizes.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new ShapeError(`split: sizes must be integers ≥ 0, got [${sizes}]`);
  }
  const total = sizes.reduce((p, s) => p + s, 0);
  if (total !== x.shape[a]) {
    throw new ShapeError(
      `split: sizes [${sizes}] add up to ${total}, not ${x.shape[a]} (axis ${a})`,
    );
  }
  let at = 0;
  return sizes.map((size) => {
    const part = x.slice(a, at, at + size);
    at += size;
    return part;
  });
}

/**
 * `x` without the size-1 axes among `axes` (every size-1 axis when omitted), as a view; an axis
 * of another size stays, as `torch.squeeze` leaves it.
 *
 * @example
 * ```ts
 * import { defaultDevice, squeeze, zeros } from "../mod.ts";
 * await defaultDevice();
 * const x = zeros([2, 1, 3, 1]);
 * console.log(squeeze(x).shape, squeeze(x, 1).shape, squeeze(x, [0, -1]).shape); // [2, 3] [2, 3, 1] [2, 1, 3]
 * ```
 */
export function squeeze<D extends DType>(
  x: Tensor<Shape, D>,
  axes?: number | readonly number[],
): Tensor<Shape, D> {
  return tensorArgument("squeeze", x).squeeze(axes);
}

/**
 * `x` with a size-1 axis inserted at `axis` (in `[−rank − 1, rank]`), as a view.
 *
 * @example
 * ```ts
 * import { defaultDevice, unsqueeze, zeros } from "../mod.ts";
 * await defaultDevice();
 * console.log(unsqueeze(zeros([2, 3]), 0).shape, unsqueeze(zeros([2, 3]), -1).shape); // [1, 2, 3] [2, 3, 1]
 * ```
 */
export function unsqueeze<D extends DType>(x: Tensor<Shape, D>, axis: number): Tensor<Shape, D> {
  return tensorArgument("unsqueeze", x).unsqueeze(axis);
}

/**
 * Axes `startDim` to `endDim` of `x` (default: all) merged into one, as `torch.flatten`: a view
 * when the layout allows, else a copy; a 0-d tensor becomes `[1]`.
 *
 * @example Features of a batch of images for a linear layer
 * ```ts
 * import { defaultDevice, flatten, zeros } from "../mod.ts";
 * await defaultDevice();
 * console.log(flatten(zeros([8, 256, 6, 6]), 1).shape); // [8, 9216]
 * ```
 */
export function flatten<D extends DType>(
  x: Tensor<Shape, D>,
  startDim = 0,
  endDim = -1,
): Tensor<Shape, D> {
  return tensorArgument("flatten", x).flatten(startDim, endDim);
}

/**
 * `x` broadcast to `shape`, as a view with no copy (`torch.broadcast_to`, `Tensor.expand`):
 * new axes lead, −1 keeps an axis, and only size-1 axes grow.
 *
 * @example
 * ```ts
 * import { broadcastTo, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await broadcastTo(tensor([1, 2]), [2, 2]).toArray()); // [[1, 2], [1, 2]]
 * ```
 */
export function broadcastTo<D extends DType>(
  x: Tensor<Shape, D>,
  shape: readonly number[],
): Tensor<Shape, D> {
  return tensorArgument("broadcastTo", x).expand(shape);
}

/**
 * Joins tensors of one shape along a new axis `axis` (in `[−rank − 1, rank]`, default 0), as
 * `torch.stack`; copied.
 *
 * @example
 * ```ts
 * import { defaultDevice, stack, tensor } from "../mod.ts";
 * await defaultDevice();
 * const [a, b] = [tensor([1, 2]), tensor([3, 4])];
 * console.log(await stack([a, b]).toArray(), await stack([a, b], 1).toArray()); // [[1, 2], [3, 4]] [[1, 3], [2, 4]]
 * ```
 */
export function stack<D extends DType>(
  xs: readonly Tensor<Shape, D>[],
  axis = 0,
): Tensor<Shape, D> {
  requireTensorList("stack", xs);
  if (xs.length === 0) throw new ShapeError("stack: no tensors given");
  const first = xs[0];
  const differs = xs.find((t) =>
    !sameShape(t.shape as readonly number[], first.shape as readonly number[])
  );
  if (differs) {
    throw new ShapeError(`stack: shapes [${first.shape}] and [${differs.shape}] differ`);
  }
  const at = normalizeAxes(axis, first.rank + 1, "stack")[0];
  const parts = xs.map((t) => t.unsqueeze(at));
  try {
    return concat(parts, at);
  } finally {
    parts.forEach((t) => t.dispose());
  }
}

/** Throws unless `xs` is an array (of tensors: each is checked where it is used). */
function requireTensorList(op: string, xs: unknown): void {
  if (!Array.isArray(xs)) {
    throw new TypeError(
      `${op}: takes an array of tensors, as ${op}([a, b], axis), got ${describeValue(xs)}`,
    );
  }
}

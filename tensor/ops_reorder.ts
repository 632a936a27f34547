/**
 * Reordering and accumulating along axes as functions: `cumsum(x, dim)` is `x.cumsum(dim)`.
 * Flips, rolls and triangles are one copy each through the input's strides
 * (`kernels/reorder.ts`); running sums and products are parallel scans (`kernels/scan.ts`);
 * `tile` (and the method `repeat`) broadcast and copy. Their rules are in `_rules/reorder.ts`.
 *
 * @module
 */

import { requireFloat } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import { tidy } from "./memory.ts";
import { concat } from "./ops_shape.ts";
import { type DType, normalizeAxes, type Shape } from "./shape.ts";
import type { SumType, Tensor, ValuesAndIndices } from "./tensor.ts";
import { tensorArgument } from "./tensor.ts";

/**
 * The running sum of `x` along `dim`, as `torch.cumsum` (i32 stays i32, wrapping on
 * overflow). The gradient is the running sum of the output's gradient from the end.
 *
 * @example
 * ```ts
 * import { cumsum, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await cumsum(tensor([[1, 2, 3], [4, 5, 6]]), 1).toArray()); // [[1, 3, 6], [4, 9, 15]]
 * ```
 */
export function cumsum<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
): Tensor<S, D> {
  return tensorArgument("cumsum", x).cumsum(dim);
}

/**
 * The running product of `x` along `dim`, as `torch.cumprod`; the gradient is PyTorch's,
 * exact where `x` has zeros.
 *
 * @example
 * ```ts
 * import { cumprod, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await cumprod(tensor([1, 2, 0, 4]), 0).toArray()); // [1, 2, 0, 0]
 * ```
 */
export function cumprod<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
): Tensor<S, D> {
  return tensorArgument("cumprod", x).cumprod(dim);
}

/**
 * `x` in reverse order along `dims`, as `torch.flip` (a copy).
 *
 * @example
 * ```ts
 * import { defaultDevice, flip, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await flip(tensor([[1, 2], [3, 4]]), [0, 1]).toArray()); // [[4, 3], [2, 1]]
 * ```
 */
export function flip<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dims: number | readonly number[],
): Tensor<S, D> {
  return tensorArgument("flip", x).flip(dims);
}

/**
 * `x` shifted by `shifts` along `dims`, wrapping around, as `torch.roll`; without `dims` the
 * flattened tensor is rolled.
 *
 * @example
 * ```ts
 * import { defaultDevice, roll, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await roll(tensor([[1, 2, 3], [4, 5, 6]]), 1, 1).toArray()); // [[3, 1, 2], [6, 4, 5]]
 * console.log(await roll(tensor([[1, 2, 3], [4, 5, 6]]), -1).toArray()); // [[2, 3, 4], [5, 6, 1]]
 * ```
 */
export function roll<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  shifts: number | readonly number[],
  dims?: number | readonly number[],
): Tensor<S, D> {
  return tensorArgument("roll", x).roll(shifts, dims);
}

/**
 * `x` repeated `dims[a]` times along each axis, as `torch.tile` (see `Tensor.repeat` for
 * PyTorch's `repeat`); the gradient sums the copies.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, tile } from "../mod.ts";
 * await defaultDevice();
 * console.log(await tile(tensor([[1, 2]]), [2, 2]).toArray()); // [[1, 2, 1, 2], [1, 2, 1, 2]]
 * ```
 */
export function tile<D extends DType>(
  x: Tensor<Shape, D>,
  dims: readonly number[],
): Tensor<Shape, D> {
  return tensorArgument("tile", x).tile(dims);
}

/**
 * The lower triangle of the last two axes of `x`, as `torch.tril`: column − row ≤ `diagonal`
 * kept, the rest 0.
 *
 * @example A causal mask
 * ```ts
 * import { defaultDevice, ones, tril } from "../mod.ts";
 * await defaultDevice();
 * console.log(await tril(ones([3, 3])).toArray()); // [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
 * ```
 */
export function tril<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  diagonal = 0,
): Tensor<S, D> {
  return tensorArgument("tril", x).tril(diagonal);
}

/**
 * The upper triangle of the last two axes of `x`, as `torch.triu`: column − row ≥ `diagonal`
 * kept, the rest 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones, triu } from "../mod.ts";
 * await defaultDevice();
 * console.log(await triu(ones([2, 3]), 1).toArray()); // [[0, 1, 1], [0, 0, 1]]
 * ```
 */
export function triu<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  diagonal = 0,
): Tensor<S, D> {
  return tensorArgument("triu", x).triu(diagonal);
}

/**
 * The diagonal of `x` between `dim1` and `dim2` (default the first two), `offset` above the main
 * one, as a view, as `torch.diagonal`: the two axes removed, the diagonal's axis appended.
 *
 * @example
 * ```ts
 * import { defaultDevice, diagonal, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(await diagonal(x).toArray(), await diagonal(x, 1).toArray()); // [1, 5] [2, 6]
 * ```
 */
export function diagonal<D extends DType>(
  x: Tensor<Shape, D>,
  offset = 0,
  dim1 = 0,
  dim2 = 1,
): Tensor<Shape, D> {
  return tensorArgument("diagonal", x).diagonal(offset, dim1, dim2);
}

/**
 * The sum of the main diagonal of a matrix, as `torch.trace`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, trace } from "../mod.ts";
 * await defaultDevice();
 * console.log(await trace(tensor([[1, 2], [3, 4]])).item()); // 5
 * ```
 */
export function trace<D extends DType>(x: Tensor<Shape, D>): Tensor<[], SumType<D>> {
  return tensorArgument("trace", x).trace();
}

/**
 * The running maximum of `x` along `dim` and where it was found, as `torch.cummax` (the later
 * index on ties, NaN the maximum); the gradient goes to the element each value came from.
 *
 * @example
 * ```ts
 * import { cummax, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = cummax(tensor([1, 3, 2, 3, 0]), 0);
 * console.log(await values.toArray(), await indices.toArray()); // [1, 3, 3, 3, 3] [0, 1, 1, 3, 3]
 * ```
 */
export function cummax<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
): ValuesAndIndices<S, D> {
  return tensorArgument("cummax", x).cummax(dim);
}

/**
 * The running minimum of `x` along `dim` and where it was found, as `torch.cummin`.
 *
 * @example
 * ```ts
 * import { cummin, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = cummin(tensor([[3, 1, 2, 1]]), 1);
 * console.log(await values.toArray(), await indices.toArray()); // [[3, 1, 1, 1]] [[0, 1, 1, 3]]
 * ```
 */
export function cummin<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
): ValuesAndIndices<S, D> {
  return tensorArgument("cummin", x).cummin(dim);
}

/**
 * The running `log Σ exp` of `x` along `dim`, as `torch.logcumsumexp`, without overflow.
 *
 * @example
 * ```ts
 * import { defaultDevice, logcumsumexp, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await logcumsumexp(tensor([0, 0, 1000]), 0).toArray()); // [0, 0.6931…, 1000]
 * ```
 */
export function logcumsumexp<S extends Shape>(x: Tensor<S, "f32">, dim: number): Tensor<S, "f32"> {
  return tensorArgument("logcumsumexp", x).logcumsumexp(dim);
}

/** The options of {@link diff}: tensors joined to either end of the input along the axis first. */
export interface DiffOptions<D extends DType = "f32"> {
  /** Joined before the input (its shape but along the axis, its dtype). */
  prepend?: Tensor<Shape, D>;
  /** Joined after the input. */
  append?: Tensor<Shape, D>;
}

const DIFF_OPTIONS = optionNames<DiffOptions>({ prepend: true, append: true });

/**
 * The `n`-th forward difference of `x` along `dim` (default last), as `torch.diff`:
 * `out[i] = x[i + 1] − x[i]`, applied `n` times, after joining `prepend` and `append`; each
 * pass shortens the axis by one. Differentiable (slices and a subtraction). An i32 tensor's
 * differences are i32, wrapping past ±2³¹ (as PyTorch's int32).
 *
 * @example
 * ```ts
 * import { defaultDevice, diff, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await diff(tensor([1, 4, 9, 16])).toArray()); // [3, 5, 7]
 * console.log(await diff(tensor([1, 4, 9, 16]), 2).toArray()); // [2, 2]
 * console.log(await diff(tensor([1, 4]), 1, 0, { prepend: tensor([0]) }).toArray()); // [1, 3]
 * ```
 */
export function diff<D extends DType = "f32">(
  x: Tensor<Shape, D>,
  n = 1,
  dim = -1,
  options: DiffOptions<D> = {},
): Tensor<Shape, D> {
  tensorArgument("diff", x);
  checkOptions("diff", options, DIFF_OPTIONS);
  // f32 and i32 both subtract.
  if (x.dtype !== "i32") requireFloat("diff", x);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`diff: n = ${n} is not an integer ≥ 0`);
  const axis = normalizeAxes(dim, x.rank, "diff")[0];
  return tidy(() => {
    const parts = [options.prepend, x, options.append].filter((t) => t !== undefined);
    let y = parts.length > 1 ? concat(parts, axis) : x;
    for (let k = 0; k < n; k++) {
      const length = y.shape[axis] as number;
      y = y.slice(axis, 1, length).sub(y.slice(axis, 0, Math.max(0, length - 1)));
    }
    return y;
  });
}

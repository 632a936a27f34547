/**
 * Sorting as functions: `sort(x, options)` is `x.sort(options)`. One stable merge sort
 * (`kernels/sort.ts`) gives each row's order; the values are a gather through it, so their
 * gradient goes back to where each came from. NaN sorts as the largest value, as PyTorch's.
 *
 * @module
 */

import type { DType, Shape } from "./shape.ts";
import type { SortOptions, Tensor, TopkOptions, ValuesAndIndices } from "./tensor.ts";

/**
 * The i32 order of `x` along `options.dim` (default last), as `torch.argsort`: ascending unless
 * `descending`, stable, NaN the largest. No gradient.
 *
 * @example
 * ```ts
 * import { argsort, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await argsort(tensor([[3, 1, 2], [0, NaN, -1]])).toArray()); // [[1, 2, 0], [2, 0, 1]]
 * ```
 */
export function argsort<S extends Shape>(
  x: Tensor<S, DType>,
  options: SortOptions = {},
): Tensor<S, "i32"> {
  return x.argsort(options);
}

/**
 * The elements of `x` sorted along `options.dim` (default last) and the i32 indices they came
 * from, as `torch.sort`: stable, NaN the largest (last ascending, first descending).
 *
 * @example
 * ```ts
 * import { defaultDevice, sort, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = sort(tensor([2, 9, 2, 4]), { descending: true });
 * console.log(await values.toArray(), await indices.toArray()); // [9, 4, 2, 2] [1, 3, 0, 2]
 * ```
 */
export function sort<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  options: SortOptions = {},
): ValuesAndIndices<S, D> {
  return x.sort(options);
}

/**
 * The `k` largest elements of `x` along `options.dim` (default last; the smallest when
 * `largest` is false) and their i32 indices, in order, as `torch.topk`.
 *
 * @example The top-2 classes of each row
 * ```ts
 * import { defaultDevice, tensor, topk } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = topk(tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]), 2);
 * console.log(await indices.toArray()); // [[1, 2], [0, 2]]
 * console.log(await values.toArray()); // [[0.6, 0.3], [0.5, 0.3]]
 * ```
 */
export function topk<D extends DType>(
  x: Tensor<Shape, D>,
  k: number,
  options: TopkOptions = {},
): ValuesAndIndices<Shape, D> {
  return x.topk(k, options);
}

/**
 * The `k`-th smallest element of `x` along `dim` (default last) and its i32 index, as
 * `torch.kthvalue` (`k` from 1, NaN the largest).
 *
 * @example
 * ```ts
 * import { defaultDevice, kthvalue, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = kthvalue(tensor([[5, 1, 4], [2, 8, 3]]), 2);
 * console.log(await values.toArray(), await indices.toArray()); // [4, 3] [2, 2]
 * ```
 */
export function kthvalue<D extends DType>(
  x: Tensor<Shape, D>,
  k: number,
  dim = -1,
  keepdim = false,
): ValuesAndIndices<Shape, D> {
  return x.kthvalue(k, dim, keepdim);
}

/**
 * The lower median of `x` along `dim` and its i32 index, as `torch.median(x, dim)` (NaN where
 * a row has one); without `dim`, of all elements as a 0-d tensor.
 *
 * @example
 * ```ts
 * import { defaultDevice, median, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[5, 1, 4, 2], [2, NaN, 3, 0]]);
 * const { values, indices } = median(x, 1);
 * console.log(await values.toArray(), await indices.toArray()); // [2, NaN] [3, 1]
 * console.log(await median(tensor([3, 1, 2])).item()); // 2
 * ```
 */
export function median<D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  keepdim?: boolean,
): ValuesAndIndices<Shape, D>;
/** The lower median of all elements of `x`, as `torch.median(x)`. */
export function median<D extends DType>(x: Tensor<Shape, D>): Tensor<[], D>;
export function median<D extends DType>(
  x: Tensor<Shape, D>,
  dim?: number,
  keepdim = false,
): ValuesAndIndices<Shape, D> | Tensor<[], D> {
  return dim === undefined ? x.median() : x.median(dim, keepdim);
}

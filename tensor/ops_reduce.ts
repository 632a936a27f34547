/**
 * Reductions as functions: `sum(x, axes)` is `x.sum(axes)`. Their rules are in
 * `_rules/reduce.ts`; `var`, `std` and `logsumexp` are composed of other ops, and `argmax` and
 * `argmin` (i32 indices, no gradient) run a kernel of their own.
 *
 * @module
 */

import type { DType, Shape } from "./shape.ts";
import type { Axes, SumType, Tensor, ValuesAndIndices, VarianceOptions } from "./tensor.ts";
import { tensorArgument } from "./tensor.ts";

/**
 * Sum over `axes` (all when omitted); `keepdim` keeps them as size 1. An i32 tensor sums to
 * i32 (PyTorch: int64), wrapping around past 2³¹ − 1: convert with `.float()` first where a sum
 * may overflow.
 *
 * @example
 * ```ts
 * import { defaultDevice, sum, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sum(tensor([[1, 2], [3, 4]]), 1).toArray()); // [3, 7]
 * ```
 */
export function sum<D extends DType>(
  x: Tensor<Shape, D>,
  axes?: Axes,
  keepdim = false,
): Tensor<Shape, SumType<D>> {
  return tensorArgument("sum", x).sum(axes, keepdim);
}

/**
 * Mean over `axes` (all when omitted).
 *
 * @example
 * ```ts
 * import { defaultDevice, mean, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await mean(tensor([1, 2, 3, 6])).item()); // 3
 * ```
 */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
  return tensorArgument("mean", x).mean(axes, keepdim);
}

/**
 * Maximum over `axes` (all when omitted), PyTorch's `amax`: f32 or i32. The gradient goes to
 * the maxima; tied maxima share it equally (the subgradient `amax` uses); NaN wins.
 *
 * @example
 * ```ts
 * import { defaultDevice, max, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await max(tensor([[1, 5], [7, 2]]), 0).toArray()); // [7, 5]
 * ```
 */
export function max<D extends DType>(
  x: Tensor<Shape, D>,
  axes?: Axes,
  keepdim = false,
): Tensor<Shape, D> {
  return tensorArgument("max", x).max(axes, keepdim);
}

/**
 * Minimum over `axes` (all when omitted), PyTorch's `amin`: the gradient goes to the minima,
 * tied minima sharing it equally; NaN wins.
 *
 * @example
 * ```ts
 * import { defaultDevice, min, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await min(tensor([[1, 5], [7, 2]]), 1).toArray()); // [1, 2]
 * ```
 */
export function min<D extends DType>(
  x: Tensor<Shape, D>,
  axes?: Axes,
  keepdim = false,
): Tensor<Shape, D> {
  return tensorArgument("min", x).min(axes, keepdim);
}

/**
 * The i32 index of the maximum along `axis` (of the flattened tensor when omitted), as
 * `torch.argmax`: the first index on ties, a NaN counting as the maximum. f32 or i32 input; no
 * gradient.
 *
 * @example Predicted classes, and the accuracy against i32 labels
 * ```ts
 * import { argmax, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const logits = tensor([[0.1, 2, 2], [3, 0.5, 1]]);
 * const predicted = argmax(logits, 1);
 * console.log(await predicted.toArray()); // [1, 0]
 * console.log(await predicted.eq(tensor([1, 2], { dtype: "i32" })).mean().item()); // 0.5
 * console.log(await argmax(logits).item()); // 3
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor<Shape, "i32"> {
  return tensorArgument("argmax", x).argmax(axis, keepdim);
}

/**
 * The i32 index of the minimum along `axis`, as `torch.argmin`; see {@link argmax}.
 *
 * @example
 * ```ts
 * import { argmin, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await argmin(tensor([[4, 1, 1], [0, 2, 0]]), 1, true).toArray()); // [[1], [0]]
 * ```
 */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor<Shape, "i32"> {
  return tensorArgument("argmin", x).argmin(axis, keepdim);
}

/**
 * The variance over `axes` (all when omitted), as `torch.var`: `Σ (x − mean)² / max(0, N −
 * correction)`, `correction` 1 by default (0: the population variance).
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, variance } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, 2, 3, 4], [2, 2, 2, 2]]);
 * console.log(await variance(x, 1).toArray()); // [1.6666…, 0]
 * console.log(await variance(x, 1, { correction: 0, keepdim: true }).toArray()); // [[1.25], [0]]
 * ```
 */
export function variance(x: Tensor, axes?: Axes, options?: VarianceOptions): Tensor<Shape, "f32"> {
  return tensorArgument("variance", x).var(axes, options);
}

/**
 * The standard deviation over `axes`, as `torch.std`: the square root of {@link variance}.
 *
 * @example
 * ```ts
 * import { defaultDevice, std, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await std(tensor([2, 4, 4, 4, 5, 5, 7, 9]), 0, { correction: 0 }).item()); // 2
 * ```
 */
export function std(x: Tensor, axes?: Axes, options?: VarianceOptions): Tensor<Shape, "f32"> {
  return tensorArgument("std", x).std(axes, options);
}

/**
 * `log Σ exp(x)` over `axes` (all when omitted), computed stably, as `torch.logsumexp`; its
 * gradient is the softmax.
 *
 * @example
 * ```ts
 * import { defaultDevice, logsumexp, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await logsumexp(tensor([1000, 1000]), 0).item()); // 1000.6931…
 * ```
 */
export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
  return tensorArgument("logsumexp", x).logsumexp(axes, keepdim);
}

/**
 * The product over `axes` (all when omitted), as `torch.prod`; the gradient is the product of
 * the other elements, exact where some are zero. An i32 tensor's product is i32, wrapping
 * around on overflow.
 *
 * @example
 * ```ts
 * import { defaultDevice, prod, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, 2, 3], [4, 0, 5]], { requiresGrad: true });
 * console.log(await prod(x, 1).toArray()); // [6, 0]
 * await prod(x, 1).sum().backward();
 * console.log(await x.grad!.toArray()); // [[6, 3, 2], [0, 20, 0]]
 * ```
 */
export function prod<D extends DType>(
  x: Tensor<Shape, D>,
  axes?: Axes,
  keepdim = false,
): Tensor<Shape, SumType<D>> {
  return tensorArgument("prod", x).prod(axes, keepdim);
}

/**
 * The maximum of `x` along `dim` and its i32 index, as `torch.max(x, dim)`: the first index on
 * ties, NaN the maximum. The gradient goes to the element the index names (`max(x, dim)`,
 * PyTorch's `amax`, shares it among ties instead).
 *
 * @example
 * ```ts
 * import { defaultDevice, maxWithIndices, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = maxWithIndices(tensor([[1, 5, 5], [7, 2, 0]]), 1);
 * console.log(await values.toArray(), await indices.toArray()); // [5, 7] [1, 0]
 * ```
 */
export function maxWithIndices<D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  keepdim = false,
): ValuesAndIndices<Shape, D> {
  return tensorArgument("maxWithIndices", x).maxWithIndices(dim, keepdim);
}

/**
 * The minimum of `x` along `dim` and its i32 index, as `torch.min(x, dim)`; see
 * {@link maxWithIndices}.
 *
 * @example
 * ```ts
 * import { defaultDevice, minWithIndices, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = minWithIndices(tensor([[1, 5, 1], [7, 2, 0]]), 1, true);
 * console.log(await values.toArray(), await indices.toArray()); // [[1], [0]] [[0], [2]]
 * ```
 */
export function minWithIndices<D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  keepdim = false,
): ValuesAndIndices<Shape, D> {
  return tensorArgument("minWithIndices", x).minWithIndices(dim, keepdim);
}

/**
 * The vector `ord`-norm of `x` over `dims` (all when omitted), as `torch.linalg.vector_norm`:
 * `(Σ |x|^ord)^(1/ord)` (2 by default), the largest magnitude for `Infinity`, the smallest for
 * `-Infinity`, the count of nonzeros for 0. Its gradient is PyTorch's, 0 where the norm is 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, vectorNorm } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[3, 4], [0, -2]]);
 * console.log(await vectorNorm(x).item()); // 5.3851…
 * console.log(await vectorNorm(x, 1, 1).toArray()); // [7, 2]
 * console.log(await vectorNorm(x, Infinity, 0).toArray()); // [3, 4]
 * ```
 */
export function vectorNorm(
  x: Tensor,
  ord = 2,
  dims?: Axes,
  keepdim = false,
): Tensor<Shape, "f32"> {
  return tensorArgument("vectorNorm", x).norm(ord, dims, keepdim);
}

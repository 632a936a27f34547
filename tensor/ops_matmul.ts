/**
 * Matrix products as functions. A transposed operand (a view with swapped strides, such as
 * `w.T()`) is read in place, so `x.matmul(w.T())` and every backward product cost no copy.
 * Their rules are in `_rules/products.ts`.
 *
 * @module
 */

import type { Shape } from "./shape.ts";
import { apply, type Tensor } from "./tensor.ts";

/**
 * `a @ b` for `[M, K] × [K, N]` or batched `[B, M, K] × [B, K, N]` (a batch of 1 broadcasts).
 *
 * @example
 * ```ts
 * import { defaultDevice, matmul, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await matmul(tensor([[1, 2]]), tensor([[3], [4]])).toArray()); // [[11]]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor<Shape, "f32"> {
  return apply("matmul", [a, b], {});
}

/**
 * `x · wᵀ + bias`, optionally followed by ReLU, in one kernel (bias and ReLU in the epilogue).
 * `x` is `[N, in]`, `w` is `[out, in]` (PyTorch's `nn.Linear` layout).
 *
 * @example
 * ```ts
 * import { defaultDevice, linear, tensor } from "../mod.ts";
 * await defaultDevice();
 * const y = linear(tensor([[1, 2]]), tensor([[1, 1], [1, -1]]), tensor([0, 5]), { relu: true });
 * console.log(await y.toArray()); // [[3, 4]]
 * ```
 */
export function linear(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: { relu?: boolean } = {},
): Tensor<Shape, "f32"> {
  return apply("linear", bias ? [x, w, bias] : [x, w], { relu: options.relu ?? false });
}

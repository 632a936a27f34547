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
 * `a @ b` as `torch.matmul`: matrices, a 1-D operand as a row (left) or a column (right) whose
 * axis is removed from the result, and stacks of matrices whose batch axes broadcast. See
 * {@link Tensor.matmul}.
 *
 * @example
 * ```ts
 * import { defaultDevice, matmul, ones, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await matmul(tensor([[1, 2]]), tensor([[3], [4]])).toArray()); // [[11]]
 * console.log(await matmul(tensor([1, 2]), tensor([3, 4])).toArray()); // 11 (a 0-d tensor)
 * console.log(matmul(ones([2, 1, 3, 4, 5]), ones([7, 1, 5, 6])).shape); // [2, 7, 3, 4, 6]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor<Shape, "f32"> {
  return (a as Tensor<Shape, "f32">).matmul(b as Tensor<Shape, "f32">);
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

/**
 * Matrix products as functions. A transposed operand (a view with swapped strides, such as
 * `w.T()`) is read in place, so `x.matmul(w.T())` and every backward product cost no copy.
 * Their rules are in `_rules/products.ts`.
 *
 * @module
 */

import { numel, type Shape, ShapeError } from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

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
  tensorArgument("matmul", a);
  return (a as Tensor<Shape, "f32">).matmul(b as Tensor<Shape, "f32">);
}

/**
 * `x · wᵀ + bias`, optionally followed by ReLU, in one kernel (bias and ReLU in the epilogue).
 * `w` is `[out, in]` (PyTorch's `nn.Linear` layout); `x` is `[*, in]` as in PyTorch's
 * `F.linear`: `[N, in]`, a single `[in]`, or any leading axes, which fold into the rows of one
 * product (a view of a contiguous `x`) and come back in the result `[*, out]`.
 *
 * @example
 * ```ts
 * import { defaultDevice, linear, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const y = linear(tensor([[1, 2]]), tensor([[1, 1], [1, -1]]), tensor([0, 5]), { relu: true });
 * console.log(await y.toArray()); // [[3, 4]]
 * console.log(linear(zeros([2, 7, 3]), zeros([5, 3]), null).shape); // [2, 7, 5]
 * ```
 */
export function linear(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: { relu?: boolean } = {},
): Tensor<Shape, "f32"> {
  tensorArgument("linear", x);
  const params = { relu: options.relu ?? false };
  const product = (rows: Tensor) => apply("linear", bias ? [rows, w, bias] : [rows, w], params);
  if (x.rank === 2) return product(x);
  const features = x.shape[x.rank - 1];
  if (x.rank === 0 || w.rank !== 2 || features !== w.shape[1]) {
    throw new ShapeError(
      `linear: input [${x.shape}] does not match weight [${w.shape}] ([*, in] × [out, in])`,
    );
  }
  const lead = x.shape.slice(0, -1) as number[];
  const rows = x.reshape([numel(lead), features]);
  try {
    const y = product(rows);
    const out = y.reshape([...lead, w.shape[0] as number]);
    y.dispose();
    return out;
  } finally {
    rows.dispose();
  }
}

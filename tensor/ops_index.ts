/**
 * Indexing along an axis as functions: `gather(x, dim, index)` is `x.gather(dim, index)`. The
 * index is an i32 tensor; its values are checked on the device, so one outside the axis is
 * reported at the next read (a `DeviceAssertionError` naming the op, the index and the size)
 * without a readback per call. The rules are in `_rules/index.ts`.
 *
 * @module
 */

import { sameDevice } from "./_core.ts";
import { fromTypedArray, zeros } from "./creation.ts";
import { tidy } from "./memory.ts";
import { concat, stack } from "./ops_shape.ts";
import { broadcastShapes, type DType, numel, type Shape } from "./shape.ts";
import {
  fromRaw,
  rawOf,
  type ScatterReduction,
  selected,
  type Tensor,
  tensorArgument,
} from "./tensor.ts";
import { keptPositions as keptPositionsPrimitive } from "./_primitives_index.ts";

/**
 * The elements of `x` picked along `dim` by `index` (i32, of `x`'s rank), as `torch.gather`:
 * `out[i][j] = x[i][index[i][j]]` for `dim` 1; shaped as the index. The gradient is added into
 * the positions read.
 *
 * @example Each row's value at its label
 * ```ts
 * import { defaultDevice, gather, tensor } from "../mod.ts";
 * await defaultDevice();
 * const scores = tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]);
 * const labels = tensor([[1], [0]], { dtype: "i32" });
 * console.log(await gather(scores, 1, labels).toArray()); // [[0.7], [0.5]]
 * ```
 */
export function gather<I extends Shape, D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  index: Tensor<I, "i32">,
): Tensor<I, D> {
  return tensorArgument("gather", x).gather(dim, index);
}

/**
 * A copy of `x` with `src` (or a number) written where `index` sends it along `dim`, as
 * `torch.scatter`: `out[i][index[i][j]] = src[i][j]` for `dim` 1. Of duplicated indices the
 * last along `dim` wins. The gradient of `src` is gathered from the positions written; what
 * was written over gets none.
 *
 * @example
 * ```ts
 * import { defaultDevice, scatter, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const index = tensor([[2], [0]], { dtype: "i32" });
 * console.log(await scatter(zeros([2, 3]), 1, index, 1).toArray()); // [[0, 0, 1], [1, 0, 0]]
 * ```
 */
export function scatter<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
  index: Tensor<Shape, "i32">,
  src: Tensor<Shape, D> | number,
): Tensor<S, D> {
  return tensorArgument("scatter", x).scatter(dim, index, src);
}

/**
 * A copy of `x` with `src` added where `index` sends it along `dim`, as `torch.scatter_add`:
 * duplicates all add, in order along `dim`, so every run gives the same sum.
 *
 * @example Counting labels
 * ```ts
 * import { defaultDevice, ones, scatterAdd, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const labels = tensor([2, 0, 2, 2], { dtype: "i32" });
 * console.log(await scatterAdd(zeros([3]), 0, labels, ones([4])).toArray()); // [1, 0, 3]
 * ```
 */
export function scatterAdd<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
  index: Tensor<Shape, "i32">,
  src: Tensor<Shape, D>,
): Tensor<S, D> {
  return tensorArgument("scatterAdd", x).scatterAdd(dim, index, src);
}

/**
 * The slices of `x` at the positions of a 1-D i32 `index` along `dim`, as
 * `torch.index_select` (an embedding lookup along `dim` 0). The gradient is added into the
 * slices read.
 *
 * @example Rows 2 and 0 of a table
 * ```ts
 * import { defaultDevice, indexSelect, tensor } from "../mod.ts";
 * await defaultDevice();
 * const table = tensor([[1, 2], [3, 4], [5, 6]]);
 * const rows = tensor([2, 0], { dtype: "i32" });
 * console.log(await indexSelect(table, 0, rows).toArray()); // [[5, 6], [1, 2]]
 * ```
 */
export function indexSelect<D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  index: Tensor<Shape, "i32">,
): Tensor<Shape, D> {
  return tensorArgument("indexSelect", x).indexSelect(dim, index);
}

/**
 * A copy of `x` with the slices of `source` (times `alpha`) added at the positions of a 1-D i32
 * `index` along `dim`, as `torch.index_add`: duplicates all add, in order.
 *
 * @example Adding rows into a table
 * ```ts
 * import { defaultDevice, indexAdd, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const rows = tensor([2, 0, 2], { dtype: "i32" });
 * const updates = tensor([[1, 1], [2, 2], [3, 3]]);
 * console.log(await indexAdd(zeros([3, 2]), 0, rows, updates).toArray()); // [[2, 2], [0, 0], [4, 4]]
 * ```
 */
export function indexAdd<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
  index: Tensor<Shape, "i32">,
  source: Tensor<Shape, D>,
  alpha = 1,
): Tensor<S, D> {
  return tensorArgument("indexAdd", x).indexAdd(dim, index, source, alpha);
}

/**
 * A copy of `x` with `value` where `mask` (f32 1/0 or i32, broadcast to `x`) is nonzero, as
 * `torch.masked_fill`; the gradient passes where the mask is 0.
 *
 * @example A causal mask on scores
 * ```ts
 * import { defaultDevice, maskedFill, ones, tensor } from "../mod.ts";
 * await defaultDevice();
 * const scores = tensor([[1, 2], [3, 4]]);
 * const future = ones([2, 2]).triu(1);
 * console.log(await maskedFill(scores, future, -Infinity).toArray()); // [[1, -Infinity], [3, 4]]
 * ```
 */
export function maskedFill<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  mask: Tensor,
  value: number,
): Tensor<S, D> {
  return tensorArgument("maskedFill", x).maskedFill(mask, value);
}

/**
 * A copy of `x` with `src` reduced into the positions `index` sends it to along `dim`, as
 * `torch.scatter_reduce` (`"sum"`, `"prod"`, `"mean"`, `"amax"`, `"amin"`; `includeSelf`
 * default true), deterministic, with PyTorch's gradients.
 *
 * @example The largest value per group
 * ```ts
 * import { defaultDevice, scatterReduce, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const groups = tensor([0, 1, 0, 1, 1], { dtype: "i32" });
 * const values = tensor([3, -1, 7, 2, 5]);
 * const peaks = scatterReduce(zeros([2]), 0, groups, values, "amax", { includeSelf: false });
 * console.log(await peaks.toArray()); // [7, 5]
 * const means = scatterReduce(zeros([2]), 0, groups, values, "mean", { includeSelf: false });
 * console.log(await means.toArray()); // [5, 2]
 * ```
 */
export function scatterReduce<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  dim: number,
  index: Tensor<Shape, "i32">,
  src: Tensor<Shape, D>,
  reduce: ScatterReduction,
  options: { includeSelf?: boolean } = {},
): Tensor<S, D> {
  return tensorArgument("scatterReduce", x).scatterReduce(dim, index, src, reduce, options);
}

/**
 * Where each nonzero element of `mask` (flattened) goes in a compacted list, and how many there
 * are: the one value read back, since it is the result's size (PyTorch synchronises here too).
 * Zero elements are sent one past the end, to a slot that the callers cut off.
 */
async function compaction(mask: Tensor): Promise<{ target: Tensor<Shape, "i32">; total: number }> {
  const n = mask.size;
  const flags = tidy(() => mask.ne(0).int().reshape([n]));
  const running = flags.cumsum(0);
  const last = running.slice(0, n - 1, n);
  const total = n === 0 ? 0 : await last.item();
  const target = tidy(() => {
    if (n === 0) return flags;
    // A kept element's place is the number of kept elements before it.
    const zero = fromTypedArray(Int32Array.of(0), [1], { device: mask.device });
    const before = concat([zero, running.slice(0, 0, n - 1)], 0);
    return selected(flags, before, total) as Tensor<Shape, "i32">;
  });
  for (const t of [last, running, ...(target === flags ? [] : [flags])]) t.dispose();
  return { target, total };
}

/**
 * The elements of `x` where `mask` (f32 1/0 or i32; the two broadcast together) is nonzero, in
 * row-major order, as a 1-D tensor, as `torch.masked_select`. Asynchronous: the result's length
 * is read back. The gradient goes back to the elements selected.
 *
 * @example
 * ```ts
 * import { defaultDevice, maskedSelect, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, -2], [-3, 4]]);
 * console.log(await (await maskedSelect(x, x.gt(0))).toArray()); // [1, 4]
 * ```
 */
export async function maskedSelect<D extends DType>(
  x: Tensor<Shape, D>,
  mask: Tensor,
): Promise<Tensor<[number], D>> {
  tensorArgument("maskedSelect", x);
  sameDevice("maskedSelect", x, mask);
  const shape = broadcastShapes(x.shape as number[], mask.shape as number[], "maskedSelect");
  const spread = mask.expand(shape);
  const { target, total } = await compaction(spread).finally(() => spread.dispose());
  try {
    // A gather of the kept elements' positions: differentiable, and no sort of the whole mask.
    return tidy(() => {
      const values = x.expand(shape).reshape([numel(shape)]);
      return values.gather(0, keptPositions(target, total)) as Tensor<[number], D>;
    });
  } finally {
    target.dispose();
  }
}

/** The positions of the kept elements of a {@link compaction}, in order: i32 `[total]`. */
function keptPositions(target: Tensor<Shape, "i32">, total: number): Tensor<[number], "i32"> {
  return fromRaw(keptPositionsPrimitive(rawOf(target), total)) as Tensor<[number], "i32">;
}

/**
 * The i32 coordinates of the nonzero elements of `x`, one row each in row-major order, as
 * `torch.nonzero`: `[count, rank]`. Asynchronous: the count is read back. No gradient.
 *
 * @example
 * ```ts
 * import { defaultDevice, nonzero, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await (await nonzero(tensor([[0, 3], [5, 0]]))).toArray()); // [[0, 1], [1, 0]]
 * ```
 */
export async function nonzero(x: Tensor): Promise<Tensor<[number, number], "i32">> {
  tensorArgument("nonzero", x);
  const { target, total } = await compaction(x);
  const shape = x.shape as readonly number[], n = x.size;
  try {
    return tidy(() => {
      if (shape.length === 0) return zeros([total, 0], { device: x.device }).int();
      // Each element's coordinate along each axis, as columns of `[n, rank]`.
      const columns = shape.map((d, a) =>
        fromTypedArray(Int32Array.from({ length: d }, (_, k) => k), [d], {
          device: x.device,
          dtype: "i32",
        })
          .reshape(shape.map((s, b) => (a === b ? s : 1)))
          .expand(shape)
          .reshape([n])
      );
      const coords = stack(columns, 1);
      const rows = keptPositions(target, total).reshape([total, 1]).expand([total, shape.length]);
      return coords.gather(0, rows as Tensor<Shape, "i32">);
    }) as Tensor<[number, number], "i32">;
  } finally {
    target.dispose();
  }
}

/**
 * The indexing behind `Tensor`'s methods: `scatter` with a tensor or a number, and the running
 * extremum with its index (`cummax`, `cummin`).
 *
 * @module
 */

import { upload } from "./_primitives.ts";
import { cumulativeExtremum, type ScatterMode } from "./_primitives_index.ts";
import { scatterAxis } from "./_tensor_index_args.ts";
import {
  apply,
  type HandlesWithIndices,
  rawOfTensor,
  type TensorHandle,
  wrap,
} from "./_tensor_handle.ts";
import { normalizeAxis } from "./shape.ts";

/** The running extremum along `dim` and its index: a gather through the index, not recorded. */
export function runningExtremum(
  x: TensorHandle,
  dim: number,
  op: "max" | "min",
): HandlesWithIndices {
  const axis = normalizeAxis(dim, Math.max(x.rank, 1), `cum${op}`);
  const indices = wrap(cumulativeExtremum(rawOfTensor(x), axis, op));
  return { values: x.gather(axis, indices), indices };
}

/** `x.scatter` or `x.scatterAdd`: `src` a tensor, or a number broadcast to the index's shape. */
export function scattered(
  op: "scatter" | "scatterAdd",
  x: TensorHandle,
  dim: number,
  index: TensorHandle,
  src: TensorHandle | number,
  mode: ScatterMode,
): TensorHandle {
  if (typeof src !== "number") {
    const axis = scatterAxis(op, x, dim, index, src);
    return apply("scatter", [x, index, src], { dim: axis, mode, includeSelf: true });
  }
  if (x.dtype === "i32" && !Number.isInteger(src)) {
    throw new TypeError(`${op}: ${src} is not an integer, and the input is i32`);
  }
  const data = x.dtype === "i32" ? Int32Array.of(src) : Float32Array.of(src);
  using value = wrap(upload(x.device, data, [], x.dtype));
  using spread = value.expand(index.shape as readonly number[]);
  return scattered(op, x, dim, index, spread, mode);
}

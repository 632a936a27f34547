/**
 * The indexing behind `Tensor`'s methods: `scatter` with a tensor or a number, `scatterReduce`,
 * `indexAdd`, and the running extremum with its index (`cummax`, `cummin`).
 *
 * @module
 */

import { upload } from "./_primitives.ts";
import { cumulativeExtremum, type ScatterMode } from "./_primitives_index.ts";
import { sameDevice } from "./_core.ts";
import { sameDtype } from "./_tensor_args.ts";
import { indexSelectPlan, scatterAxis } from "./_tensor_index_args.ts";
import { tidy } from "./memory.ts";
import {
  apply,
  type HandlesWithIndices,
  rawOfTensor,
  type TensorHandle,
  wrap,
} from "./_tensor_handle.ts";
import { normalizeAxis, sameShape, ShapeError } from "./shape.ts";

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

/** The reductions of `scatterReduce`, as `torch.scatter_reduce` names them. */
export type ScatterReduction = "sum" | "prod" | "mean" | "amax" | "amin";

/** `x.scatterReduce(dim, index, src, reduce, options)`, checked, as one scatter op. */
export function scatterReduced(
  x: TensorHandle,
  dim: number,
  index: TensorHandle,
  src: TensorHandle,
  reduce: ScatterReduction,
  options: { includeSelf?: boolean },
): TensorHandle {
  const axis = scatterAxis("scatterReduce", x, dim, index, src);
  const mode: ScatterMode = reduce === "sum" ? "add" : reduce;
  if (!["add", "prod", "mean", "amax", "amin"].includes(mode)) {
    throw new RangeError(
      `scatterReduce: reduce "${reduce}" is not one of "sum", "prod", "mean", "amax", "amin"`,
    );
  }
  if (mode === "mean" && x.dtype !== "f32") {
    throw new TypeError(`scatterReduce: the mean of an ${x.dtype} tensor (use .float())`);
  }
  const params = { dim: axis, mode, includeSelf: options.includeSelf ?? true };
  return apply("scatter", [x, index, src], params);
}

/** `x.indexAdd(dim, index, source, alpha)`: a scatter-add of `alpha · source` along `dim`. */
export function indexAdded(
  x: TensorHandle,
  dim: number,
  index: TensorHandle,
  source: TensorHandle,
  alpha: number,
): TensorHandle {
  const plan = indexSelectPlan(x, dim, index, "indexAdd");
  sameDevice("indexAdd", x, source);
  sameDtype("indexAdd", x, source);
  if (!sameShape(source.shape, plan.shape)) {
    throw new ShapeError(
      `indexAdd: source [${source.shape}] must be [${plan.shape}]: the input's shape with the ` +
        `index's length along axis ${plan.axis}`,
    );
  }
  if (alpha !== 1 && x.dtype === "i32") {
    // The scaling is an f32 product; PyTorch scales integers exactly, so refuse rather than
    // round above 2²⁴ (it was an error naming mulScalar, an internal op).
    throw new TypeError(`indexAdd: alpha = ${alpha} on an i32 tensor; only alpha 1 is supported`);
  }
  return tidy(() => {
    const spread = index.reshape(plan.indexShape).expand(plan.shape);
    const scaled = alpha === 1 ? source : source.mul(alpha);
    return scattered("scatterAdd", x, plan.axis, spread, scaled, "add");
  });
}

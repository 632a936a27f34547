/**
 * The reductions behind `Tensor`'s methods that choose along an axis or need options: the
 * extremum and its index, the shift of a softmax, and the options of `sort`, `topk`, `var` and
 * `std`.
 *
 * @module
 */

import { requireFloat } from "./_core.ts";
import { noGrad } from "./_autograd.ts";
import { argReduce } from "./_primitives.ts";
import { type HandlesWithIndices, rawOfTensor, type TensorHandle, wrap } from "./_tensor_handle.ts";
import { tidy } from "./memory.ts";
import { optionNames, requireBoolean } from "./options.ts";
import { reductionAxes, ShapeError } from "./shape.ts";

/** `x − max(x)` along `axis`; the shift is a constant for the gradient (softmax ignores it). */
export function shiftedByMax(x: TensorHandle, axis: number, op: string): TensorHandle {
  requireFloat(op, x);
  reductionAxes(axis, x.rank, op); // named here, not as the max inside
  // An empty tensor has no maximum to shift by, and nothing to shift.
  if (x.size === 0) return x.add(0);
  const peak = noGrad(() => x.max(axis, true));
  const out = x.sub(peak);
  peak.dispose();
  return out;
}

/** The options of `sort` and `argsort`. */
export interface SortOptions {
  /** The axis sorted along (default −1, the last). */
  dim?: number;
  /** Largest first (default false: smallest first). */
  descending?: boolean;
  /** Accepted for PyTorch's signature: the sort is always stable. */
  stable?: boolean;
}

export const SORT_OPTIONS = optionNames<SortOptions>({ dim: true, descending: true, stable: true });

/** The options of `topk`. */
export interface TopkOptions {
  /** The axis chosen along (default −1, the last). */
  dim?: number;
  /** The `k` largest (default true), else the `k` smallest. */
  largest?: boolean;
  /** Accepted for PyTorch's signature: the result is always in order. */
  sorted?: boolean;
}

export const TOPK_OPTIONS = optionNames<TopkOptions>({ dim: true, largest: true, sorted: true });

/** The extremum along `dim` and its index: the index's gather, so the gradient follows it. */
export function extremumWithIndex(
  x: TensorHandle,
  op: "argmax" | "argmin",
  dim: number,
  keepdim: boolean,
): HandlesWithIndices {
  requireBoolean(op === "argmax" ? "maxWithIndices" : "minWithIndices", "keepdim", keepdim);
  return tidy(() => {
    const index = indexOfExtremum(x, op, dim, true);
    const values = x.gather(dim, index);
    if (keepdim || x.rank === 0) return { values, indices: index };
    return { values: values.squeeze(dim), indices: index.squeeze(dim) };
  });
}

/** The options of `var` and `std`. */
export interface VarianceOptions {
  /** Subtracted from the count of elements to divide by (default 1: the unbiased estimate). */
  correction?: number;
  /**
   * PyTorch's older spelling: `false` is `correction: 0`, `true` is `correction: 1`; it may not
   * be given with `correction`.
   */
  unbiased?: boolean;
  /** Keep the reduced axes as size 1 (default false). */
  keepdim?: boolean;
}

export const VARIANCE_OPTIONS = optionNames<VarianceOptions>({
  correction: true,
  unbiased: true,
  keepdim: true,
});

/** The correction of `var` and `std`: `correction`, or 0 for `unbiased: false`, else 1. */
export function varianceCorrection({ correction, unbiased }: VarianceOptions): number {
  if (unbiased === undefined) return correction ?? 1;
  if (correction !== undefined) {
    throw new TypeError("var: give correction or unbiased, not both (as torch.var)");
  }
  return unbiased ? 1 : 0;
}

/** The index of the extremum along `axis` (the flattened tensor when omitted); not recorded. */
export function indexOfExtremum(
  x: TensorHandle,
  op: "argmax" | "argmin",
  axis: number | undefined,
  keepdim: boolean,
): TensorHandle {
  requireBoolean(op, "keepdim", keepdim);
  // A 0-d tensor takes axis 0 or −1, as PyTorch's: its one element is at index 0.
  const axes = reductionAxes(axis, x.rank, op);
  if (axes.some((a) => x.shape[a] === 0)) {
    throw new ShapeError(`${op}: no elements to choose from along [${axes}] of [${x.shape}]`);
  }
  const index = argReduce(rawOfTensor(x), op, axes, keepdim);
  return wrap(index);
}

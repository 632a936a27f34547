/**
 * The reductions behind `Tensor`'s methods that choose along an axis or need options: the
 * extremum and its index, the sort order, `topk` and `kthvalue` through the sort order, the median, the variance
 * and the standard deviation, `logsumexp`, the softmax and its logarithm, and the options of `sort`, `topk`,
 * `var` and `std`.
 *
 * @module
 */

import { requireFloat } from "./_core.ts";
import { noGrad } from "./_autograd.ts";
import { argReduce } from "./_primitives.ts";
import { argsort } from "./_primitives_index.ts";
import { type HandlesWithIndices, rawOfTensor, type TensorHandle, wrap } from "./_tensor_handle.ts";
import { tidy } from "./memory.ts";
import { checkOptions, optionNames, requireBoolean, requireNumber } from "./options.ts";
import { normalizeAxis, numel, reductionAxes, ShapeError } from "./shape.ts";
import { selected } from "./_tensor_arithmetic.ts";

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

const TOPK_OPTIONS = optionNames<TopkOptions>({ dim: true, largest: true, sorted: true });

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

const VARIANCE_OPTIONS = optionNames<VarianceOptions>({
  correction: true,
  unbiased: true,
  keepdim: true,
});

/** The correction of `var` and `std`: `correction`, or 0 for `unbiased: false`, else 1. */
function varianceCorrection({ correction, unbiased }: VarianceOptions): number {
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

/** `x.topk(k, options)`: the `k` largest (or smallest) along an axis, through the sort order. */
export function topkOf(x: TensorHandle, k: number, options: TopkOptions): HandlesWithIndices {
  checkOptions("topk", options, TOPK_OPTIONS);
  const { dim = -1, largest = true, sorted = true } = options;
  requireBoolean("topk", "largest", largest);
  requireBoolean("topk", "sorted", sorted);
  const axis = normalizeAxis(dim, Math.max(x.rank, 1), "topk");
  const size = x.shape[axis] ?? 1;
  if (!Number.isInteger(k) || k < 0 || k > size) {
    throw new RangeError(`topk: k = ${k} is out of range for size ${size} along axis ${axis}`);
  }
  return tidy(() => {
    const order = x.argsort({ dim: axis, descending: largest });
    const indices = x.rank === 0 ? order : order.slice(axis, 0, k);
    return { values: x.gather(axis, indices), indices };
  });
}

/** `x.kthvalue(k, dim, keepdim)`: the `k`-th smallest along `dim`, through the sort order. */
export function kthvalueOf(
  x: TensorHandle,
  k: number,
  dim: number,
  keepdim: boolean,
): HandlesWithIndices {
  requireBoolean("kthvalue", "keepdim", keepdim);
  const axis = normalizeAxis(dim, Math.max(x.rank, 1), "kthvalue");
  const size = x.shape[axis] ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > size) {
    throw new RangeError(`kthvalue: k = ${k} is out of range [1, ${size}] along axis ${axis}`);
  }
  return tidy(() => {
    const order = x.argsort({ dim: axis });
    const picked = x.rank === 0 ? order : order.slice(axis, k - 1, k);
    const values = x.gather(axis, picked);
    if (keepdim || x.rank === 0) return { values, indices: picked };
    return { values: values.squeeze(axis), indices: picked.squeeze(axis) };
  });
}

/** `x.var(axes, options)`: the mean squared deviation, divided by the count less the correction. */
export function varianceOf(
  x: TensorHandle,
  axes: number | readonly number[] | undefined,
  options: VarianceOptions,
): TensorHandle {
  checkOptions("var", options, VARIANCE_OPTIONS);
  requireFloat("var", x);
  const { keepdim = false } = options;
  requireBoolean("var", "keepdim", keepdim);
  if (options.unbiased !== undefined) requireBoolean("var", "unbiased", options.unbiased);
  const correction = varianceCorrection(options);
  requireNumber("var", "correction", correction);
  const list = reductionAxes(axes, x.rank, "var");
  const count = numel(list.map((i) => x.shape[i]));
  return tidy(() => {
    const centred = x.sub(x.mean(list, true));
    return centred.pow(2).sum(list, keepdim).div(Math.max(0, count - correction));
  });
}

/** `x.std(axes, options)`: the square root of the variance, its gradient 0 where that is 0. */
export function standardDeviationOf(
  x: TensorHandle,
  axes: number | readonly number[] | undefined,
  options: VarianceOptions,
): TensorHandle {
  checkOptions("std", options, VARIANCE_OPTIONS);
  return tidy(() => {
    const variance = varianceOf(x, axes, options);
    const zero = noGrad(() => variance.eq(0));
    // The root of 1 where the variance is 0, so its backward sees a finite factor there.
    const root = selected(zero, 1, variance).sqrt();
    return selected(zero, 0, root);
  });
}

/** `x.logsumexp(axes, keepdim)`, shifted by the maximum (0 where it is infinite). */
export function logsumexpOf(
  x: TensorHandle,
  axes: number | readonly number[] | undefined,
  keepdim: boolean,
): TensorHandle {
  requireFloat("logsumexp", x);
  requireBoolean("logsumexp", "keepdim", keepdim);
  const list = reductionAxes(axes, x.rank, "logsumexp");
  return tidy(() => {
    // The shift is a constant to the gradient: the result does not depend on it.
    const shift = noGrad(() => {
      if (x.size === 0) return x.sum(list, true);
      const peak = x.max(list, true);
      return selected(peak.abs().eq(Infinity), 0, peak);
    });
    const kept = x.sub(shift).exp().sum(list, true).log().add(shift);
    return keepdim ? kept : kept.reshape(kept.shape.filter((_, i) => !list.includes(i)));
  });
}

/**
 * `x.median(dim, keepdim)`: the lower median along `dim` (NaN, at the first NaN, where a row has
 * one), or of all the elements when `dim` is omitted.
 */
export function medianOf(
  x: TensorHandle,
  dim: number | undefined,
  keepdim: boolean,
): HandlesWithIndices | TensorHandle {
  if (dim === undefined) {
    return tidy(() => (medianOf(x.flatten(), 0, false) as HandlesWithIndices).values);
  }
  const axis = normalizeAxis(dim, Math.max(x.rank, 1), "median");
  const size = x.shape[axis] ?? 1;
  if (size === 0) throw new ShapeError(`median: axis ${axis} of [${x.shape}] is empty`);
  return tidy(() => {
    const middle = kthvalueOf(x, Math.floor((size + 1) / 2), axis, keepdim);
    if (x.dtype === "i32") return middle;
    // A NaN anywhere in a row makes its median NaN, at the first NaN (argmax finds it).
    const first = extremumWithIndex(x, "argmax", axis, keepdim);
    const nan = first.values.ne(first.values);
    return {
      values: selected(nan, first.values, middle.values),
      indices: selected(nan, first.indices, middle.indices),
    };
  });
}

/** `x.softmax(axis)`: `exp(x − max) / Σ exp(x − max)`. */
export function softmaxOf(x: TensorHandle, axis: number): TensorHandle {
  const z = shiftedByMax(x, axis, "softmax");
  const e = z.exp();
  const total = e.sum(axis, true);
  const out = e.div(total);
  [z, e, total].forEach((t) => t.dispose());
  return out;
}

/** `x.logSoftmax(axis)`: `(x − max) − log Σ exp(x − max)`. */
export function logSoftmaxOf(x: TensorHandle, axis: number): TensorHandle {
  const z = shiftedByMax(x, axis, "logSoftmax");
  const e = z.exp();
  const total = e.sum(axis, true);
  const logTotal = total.log();
  const out = z.sub(logTotal);
  [z, e, total, logTotal].forEach((t) => t.dispose());
  return out;
}

/** `x.argsort(options)`: the stable order along an axis, not recorded. */
export function sortOrder(x: TensorHandle, options: SortOptions): TensorHandle {
  checkOptions("argsort", options, SORT_OPTIONS);
  const { dim = -1, descending = false, stable = true } = options;
  requireBoolean("argsort", "descending", descending);
  requireBoolean("argsort", "stable", stable);
  const axis = normalizeAxis(dim, Math.max(x.rank, 1), "argsort");
  return wrap(argsort(rawOfTensor(x), axis, descending));
}

/**
 * Reductions over axes, built on one row-reduction kernel: the reduced axes are moved last (a
 * copy only when they are not already there), then each row is reduced.
 *
 * @module
 */

import { type ReduceOp, reduceRows } from "../kernels/reduce.ts";
import { noGrad, recordOp } from "./_autograd.ts";
import { normalizeAxes, numel, type Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { binaryOp, empty, requireFloat, unaryOp } from "./ops_elementwise.ts";
import { broadcastTo, contiguous, permute, reshape } from "./ops_shape.ts";

function reduceForward(
  op: ReduceOp,
  x: Tensor,
  axes: number[],
  keepdim: boolean,
): Tensor<Shape, "f32"> {
  requireFloat(op, x);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const moved = permute(x, [...kept, ...axes]);
  const rowsMajor = contiguous(moved);
  const rows = numel(kept.map((i) => x.shape[i]));
  const cols = numel(axes.map((i) => x.shape[i]));
  const outShape = keepdim
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : kept.map((i) => x.shape[i]);
  const out = empty(x.device, outShape, "f32");
  reduceRows(x.device, op, rowsMajor.storage.buffer, out.storage.buffer, rows, cols);
  if (rowsMajor !== moved) rowsMajor.dispose();
  moved.dispose();
  return out;
}

/** The shape of a reduction's result with the reduced axes kept as size 1. */
function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Sum over `axes` (all when undefined). */
export function sum(
  x: Tensor,
  axes?: number | readonly number[],
  keepdim = false,
): Tensor<Shape, "f32"> {
  const list = normalizeAxes(axes, x.rank, "sum");
  const out = reduceForward("sum", x, list, keepdim);
  return recordOp(out, "sum", [x], [], () => (g) => {
    const g1 = reshape(g, keptShape(x, list));
    const spread = broadcastTo(g1, x.shape);
    if (g1 !== g) g1.dispose();
    return [spread];
  });
}

/** Mean over `axes` (all when undefined). */
export function mean(
  x: Tensor,
  axes?: number | readonly number[],
  keepdim = false,
): Tensor<Shape, "f32"> {
  const list = normalizeAxes(axes, x.rank, "mean");
  const count = numel(list.map((i) => x.shape[i]));
  const total = sum(x, list, keepdim);
  const out = unaryOp(total, "mulScalar", 1 / count);
  total.dispose();
  return out;
}

/**
 * Maximum over `axes`. The gradient goes to the maxima; tied maxima share it equally (the
 * subgradient PyTorch's `amax` uses).
 */
export function max(
  x: Tensor,
  axes?: number | readonly number[],
  keepdim = false,
): Tensor<Shape, "f32"> {
  const list = normalizeAxes(axes, x.rank, "max");
  const out = reduceForward("max", x, list, keepdim);
  return recordOp(out, "max", [x], [x, out], ([sx, sOut]) => (g) =>
    noGrad(() => {
      const shape = keptShape(x, list);
      const peak = reshape(sOut, shape);
      const mask = binaryOp(sx, peak, "eq");
      const ties = sum(mask, list, true);
      const upstream = reshape(g, shape);
      const share = binaryOp(upstream, ties, "div");
      const grad = binaryOp(mask, share, "mul");
      [peak, mask, ties, upstream, share].forEach((t) => t.dispose());
      return [grad];
    }));
}

/**
 * What the losses of `ops_losses.ts` and `ops_margin_losses.ts` share: PyTorch's `reduction`
 * option and its checking, the reduction itself, the checks of input, target and weight, and the
 * elementwise loss term (one kernel pass each way, `kernels/loss_terms.ts`).
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { checkOptions } from "./options.ts";
import type { LossTerm } from "./_primitives_maps.ts";
import { tidy } from "./memory.ts";
import { broadcastShapes, sameShape, type Shape, ShapeError } from "./shape.ts";
import { apply, Tensor } from "./tensor.ts";

/** How a loss reduces its elementwise (or per-sample) terms: PyTorch's `reduction`. */
export type Reduction = "mean" | "sum" | "none";

/** The options every loss takes. */
export interface ReductionOptions {
  /**
   * `"mean"` (default) of the terms, `"sum"` of them, or `"none"`: the terms themselves, in the
   * broadcast shape of input and target (per sample for `nllLoss`).
   */
  reduction?: Reduction;
}

/** An f32 tensor of any shape: what a loss computes. */
export type F32 = Tensor<Shape, "f32">;

/**
 * The reduction of `options`, after checking them: an option not in `names` (a typo would
 * otherwise be ignored) or a bad reduction is a one-line error.
 */
export function optionsOf(
  op: string,
  options: object,
  names: readonly string[],
  extraReductions: readonly string[] = [],
): string {
  checkOptions(op, options, ["reduction", ...names]);
  const { reduction = "mean" } = options as { reduction?: string };
  const allowed = ["mean", "sum", "none", ...extraReductions];
  if (!allowed.includes(reduction)) {
    throw new TypeError(
      `${op}: reduction must be ${allowed.map((r) => `"${r}"`).join(", ")}, got ` +
        JSON.stringify(reduction),
    );
  }
  return reduction;
}

/**
 * `terms` reduced as `reduction` says (`"batchmean"`: the sum over the first axis' size), which
 * frees `terms` (the graph keeps what it needs) unless they are the result.
 */
export function reduced(terms: F32, reduction: string): F32 {
  if (reduction === "none") return terms;
  const out = tidy(() => {
    if (reduction === "sum") return terms.sum();
    if (reduction === "mean") return terms.mean();
    return terms.sum().div(terms.rank === 0 ? 1 : terms.shape[0]);
  });
  terms.dispose();
  return out;
}

/** Throws unless `input` and `target` are f32 on one device (and, with `same`, of one shape). */
export function checkPair(op: string, input: Tensor, target: Tensor, same: boolean): void {
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) {
    throw new TypeError(`${op}: input and target must be tensors`);
  }
  requireFloat(op, input, target);
  sameDevice(op, input, target);
  if (same && !sameShape(input.shape, target.shape)) {
    throw new ShapeError(
      `${op}: target [${target.shape}] and input [${input.shape}] must have the same shape`,
    );
  }
  broadcastShapes(input.shape, target.shape, op);
}

/** The elementwise term `term(input, target)`, broadcast together, recorded for autograd. */
export function lossTerm(
  input: Tensor,
  target: Tensor,
  term: LossTerm,
  params: number[] = [],
): F32 {
  return apply("lossTerm", [input, target], { term, params });
}

/** Throws unless `value` is a finite number, at least `min` (strictly above with `above`). */
export function requireNumber(op: string, name: string, value: number, min: number, above = false) {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min || (above && value === min)
  ) {
    throw new RangeError(
      `${op}: ${name} must be a finite number ${above ? ">" : "≥"} ${min}, got ${value}`,
    );
  }
}

/** Throws unless the optional `weight` (named `name`) broadcasts to `input`'s shape. */
export function checkWeight(
  op: string,
  name: string,
  weight: Tensor | undefined,
  input: Tensor,
): void {
  if (weight === undefined) return;
  if (!(weight instanceof Tensor) || weight.dtype !== "f32") {
    throw new TypeError(`${op}: ${name} must be an f32 tensor`);
  }
  sameDevice(op, input, weight);
  const shape = broadcastShapes(input.shape, weight.shape, op);
  if (!sameShape(shape, input.shape)) {
    throw new ShapeError(
      `${op}: ${name} [${weight.shape}] does not broadcast to the input's shape [${input.shape}]`,
    );
  }
}

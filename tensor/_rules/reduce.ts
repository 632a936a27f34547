/**
 * Reductions over axes: a sum spreads its gradient back over the reduced axes; a maximum or a
 * minimum sends it to the extrema, shared equally among ties (the subgradient PyTorch's `amax`
 * and `amin` use).
 *
 * @module
 */

import { binary, broadcast, reduce, reshape } from "../_primitives.ts";
import { freeing } from "./elementwise.ts";
import type { Rule, Rules } from "./rule.ts";

/** `shape` with the reduced `axes` kept as size 1. */
function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** The rule of a maximum or a minimum over axes. */
function extremumRule(op: "max" | "min"): Rule<"max" | "min"> {
  return {
    forward([x], { axes, keepdim }, ctx) {
      const out = reduce(x, op, axes, keepdim);
      ctx.save(x, out);
      return out;
    },
    backward(g, { axes }, ctx) {
      const [x, out] = ctx.saved;
      const shape = keptShape(x.shape, axes);
      const peak = out.view(shape);
      const mask = binary(x, peak, "eq");
      const ties = reduce(mask, "sum", axes, true);
      const upstream = reshape(g, shape);
      const share = binary(upstream, ties, "div");
      return freeing([peak, mask, ties, upstream, share], [binary(mask, share, "mul")]);
    },
  };
}

/** The reduction rules. */
export const reduceRules: Rules<"sum" | "max" | "min"> = {
  sum: {
    forward: ([x], { axes, keepdim }) => reduce(x, "sum", axes, keepdim),
    backward(g, { axes }, ctx) {
      const shape = ctx.inputs[0].shape;
      const kept = reshape(g, keptShape(shape, axes));
      return freeing([kept], [broadcast(kept, shape)]);
    },
  },
  max: extremumRule("max"),
  min: extremumRule("min"),
};

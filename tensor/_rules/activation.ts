/**
 * The rules of the scalar-function maps: an activation or a maths function of one input, and a
 * loss term of an input and a target (broadcast together, as PyTorch's losses broadcast them). Each forward is
 * one kernel pass and saves its inputs; each backward is one pass per input that needs a
 * gradient (a broadcast operand's gradient then summed back to its shape).
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { broadcast, fill } from "../_primitives.ts";
import {
  ACTIVATION_FUNCTIONS,
  LOSS_TERMS,
  MATH_FUNCTIONS,
  scalarMap,
  scalarMapGrad,
  ZERO_GRADIENT,
} from "../_primitives_maps.ts";
import { broadcastShapes, sameShape } from "../shape.ts";
import { freeing, summedTo } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** `x` and `t` broadcast to one shape (new references; copies only where a shape differs). */
function together(x: RawTensor, t: RawTensor, name: string): RawTensor[] {
  const shape = broadcastShapes(x.shape, t.shape, name);
  return [x, t].map((a) => (sameShape(a.shape, shape) ? a.alias() : broadcast(a, shape)));
}

/** The activation, maths and loss-term rules. */
export const activationRules: Rules<"activation" | "math" | "lossTerm"> = {
  activation: {
    forward([x], { fn, params }, ctx) {
      ctx.save(x);
      return scalarMap(ACTIVATION_FUNCTIONS[fn], [x], params);
    },
    backward: (g, { fn, params }, ctx) => [
      scalarMapGrad(ACTIVATION_FUNCTIONS[fn], 0, g, ctx.saved, params),
    ],
  },
  // Where the gradient is 0 almost everywhere (rounding, sign), it is zeros with no pass over x.
  math: {
    forward([x], { fn }, ctx) {
      if (!ZERO_GRADIENT.has(fn)) ctx.save(x);
      return scalarMap(MATH_FUNCTIONS[fn], [x], []);
    },
    backward: (g, { fn }, ctx) => [
      ZERO_GRADIENT.has(fn)
        ? fill(g.device, g.shape, 0)
        : scalarMapGrad(MATH_FUNCTIONS[fn], 0, g, ctx.saved, []),
    ],
  },
  lossTerm: {
    forward([x, t], { term, params }, ctx) {
      const operands = together(x, t, term);
      ctx.save(...operands);
      return freeing(operands, scalarMap(LOSS_TERMS[term], operands, params));
    },
    backward: (g, { term, params }, ctx) =>
      ctx.inputs.map((input, i) => {
        if (!ctx.needsGrad[i]) return null;
        const grad = scalarMapGrad(LOSS_TERMS[term], i, g, ctx.saved, params);
        return sameShape(grad.shape, input.shape)
          ? grad
          : freeing([grad], summedTo(grad, input.shape));
      }),
  },
};

/**
 * Normalisation's ops: batch normalisation, whose forward normalises by the batch's statistics
 * (updating the running ones in place) or by the running ones, and whose backward takes the
 * gradients of x, weight and bias from one reduction and one pass. With `perSample` it is the
 * normalisation of layer and group norm (statistics per sample and channel).
 *
 * @module
 */

import { batchNorm, batchNormGrad } from "../_primitives_norm.ts";
import type { Grads, Rules } from "./rule.ts";

/** The normalisation rules. */
export const normRules: Rules<"batchNorm"> = {
  batchNorm: {
    // Inputs: x, then the weight and the bias where the op has them.
    forward([x, ...affine], p, ctx) {
      const w = p.weight ? affine[0] : null, b = p.bias ? affine[p.weight ? 1 : 0] : null;
      const { out, coef } = batchNorm(x, w, b, p.running, p);
      ctx.save(x, coef);
      coef.dispose();
      return out;
    },
    backward(g, p, ctx) {
      const { weight, bias } = p;
      const [x, coef] = ctx.saved;
      const { gradX, gradWeight, gradBias } = batchNormGrad(g, x, coef, p);
      const needs = ctx.needsGrad;
      const grads: Grads = [needs[0] ? gradX : null];
      if (weight) grads.push(needs[1] ? gradWeight : null);
      if (bias) grads.push(needs[weight ? 2 : 1] ? gradBias : null);
      for (const t of [gradX, gradWeight, gradBias]) if (!grads.includes(t)) t.dispose();
      return grads;
    },
  },
};

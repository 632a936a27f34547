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
      // Per sample, the weight scales dy in the backward.
      ctx.save(x, coef, ...(p.perSample && w ? [w] : []));
      coef.dispose();
      return out;
    },
    backward(g, p, ctx) {
      const { weight, bias } = p;
      const [x, coef, w = null] = ctx.saved;
      const needs = ctx.needsGrad;
      // Per sample, the weight's and bias's gradients take a reduction of their own.
      const affine = p.perSample && (weight || bias)
        ? { weight: w, shape: ctx.inputs[1].shape, sums: needs.slice(1).some((n) => n) }
        : null;
      const { gradX, gradWeight, gradBias } = batchNormGrad(g, x, coef, p, affine);
      const grads: Grads = [needs[0] ? gradX : null];
      if (weight) grads.push(needs[1] ? gradWeight : null);
      if (bias) grads.push(needs[weight ? 2 : 1] ? gradBias : null);
      for (const t of [gradX, gradWeight, gradBias]) if (!grads.includes(t)) t.dispose();
      return grads;
    },
  },
};

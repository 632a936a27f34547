/**
 * The loss's rule: cross-entropy as one op, as PyTorch fuses log-softmax and the negative
 * log-likelihood, with `F.cross_entropy`'s options (the reduction, the ignored label and label
 * smoothing as parameters; the class weights as input 2). The forward keeps four numbers per
 * row (its maximum and its gradient's three coefficients) rather than an `[N, C]` softmax;
 * the backward recomputes the softmax from them in its one pass. Logits `[N, C, d1, …, dk]`
 * are read in place, a row per position. The labels (input 1) are i32 class indices, which get
 * no gradient, or f32 class probabilities shaped as the logits, which get one (as in PyTorch,
 * from the same pass). The class weights get none, as in PyTorch: class weights that require
 * one are an error at the backward.
 *
 * @module
 */

import { crossEntropy, crossEntropyGrad } from "../_primitives.ts";
import type { Rules } from "./rule.ts";

/** The loss rules. */
export const lossRules: Rules<"crossEntropy"> = {
  crossEntropy: {
    forward([logits, labels, weight], params, ctx) {
      const { loss, stats } = crossEntropy(logits, labels, { ...params, weight });
      ctx.save(logits, labels, stats, ...(weight ? [weight] : []));
      stats.dispose();
      return loss;
    },
    backward(g, params, ctx) {
      if (ctx.needsGrad[2]) {
        // As PyTorch: F.cross_entropy raises "the derivative for 'weight' is not implemented".
        throw new Error(
          "crossEntropy: the class weight requires a gradient, which is not implemented (as in " +
            "PyTorch); pass a weight without requiresGrad, or detach() it",
        );
      }
      const [logits, labels, stats, weight] = ctx.saved;
      // Probabilities (f32 targets) have a gradient too, computed in the same pass.
      const targetsGrad = labels.dtype === "f32" && ctx.needsGrad[1];
      const grads = ctx.needsGrad[0] || targetsGrad
        ? crossEntropyGrad(g, logits, labels, stats, { ...params, weight }, targetsGrad)
        : null;
      if (grads && !ctx.needsGrad[0]) grads.logits.dispose();
      return [
        ctx.needsGrad[0] ? grads!.logits : null,
        grads?.targets ?? null,
        ...ctx.inputs.slice(2).map(() => null),
      ];
    },
  },
};

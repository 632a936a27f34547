/**
 * The loss's rule: cross-entropy as one op, as PyTorch fuses log-softmax and the negative
 * log-likelihood. The forward keeps two numbers per row (its maximum and log-sum-exp) rather
 * than an `[N, C]` softmax; the backward recomputes the softmax from them in its one pass. The
 * labels (input 1, i32) get no gradient.
 *
 * @module
 */

import { crossEntropy, crossEntropyGrad } from "../_primitives.ts";
import type { Rules } from "./rule.ts";

/** The loss rules. */
export const lossRules: Rules<"crossEntropy"> = {
  crossEntropy: {
    forward([logits, labels], _params, ctx) {
      const { loss, stats } = crossEntropy(logits, labels);
      ctx.save(logits, labels, stats);
      stats.dispose();
      return loss;
    },
    backward(g, _params, ctx) {
      const [logits, labels, stats] = ctx.saved;
      return [ctx.needsGrad[0] ? crossEntropyGrad(g, logits, labels, stats) : null, null];
    },
  },
};

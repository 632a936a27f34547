/**
 * The negative log-likelihood's rule: one gather pass forward (each position's loss and the
 * weight it counts for), reduced as `F.nll_loss` reduces (`"mean"` divides by the weights
 * counted), and one scatter pass backward into the chosen classes, instead of a one-hot
 * matrix, selects and sums. The labels (input 1) and the class weights (input 2) get no
 * gradient, as in PyTorch.
 *
 * @module
 */

import { binary, reduce } from "../_primitives.ts";
import { nllGrad, nllPositions } from "../_primitives_nll.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** The rule of `nllLoss`. */
export const nllRules: Rules<"nllLoss"> = {
  nllLoss: {
    forward([input, labels, weight], { ignoreIndex, reduction }, ctx) {
      const { loss, counted } = nllPositions(input, labels, weight, ignoreIndex, "nllLoss");
      ctx.save(labels, ...(weight ? [weight] : []));
      if (reduction === "none") return freeing([counted], loss);
      const axes = loss.shape.map((_, i) => i);
      const total = freeing([loss], reduce(loss, "sum", axes, false));
      if (reduction === "sum") return freeing([counted], total);
      const divisor = freeing([counted], reduce(counted, "sum", axes, false));
      ctx.save(divisor);
      return freeing([total, divisor], binary(total, divisor, "div"));
    },
    backward(g, { ignoreIndex, reduction }, ctx) {
      if (ctx.needsGrad[2]) {
        throw new Error(
          "nllLoss: the class weight requires a gradient, which is not implemented (as in " +
            "PyTorch); pass a weight without requiresGrad, or detach() it",
        );
      }
      const weighted = ctx.inputs.length === 3;
      const [labels, weight] = [ctx.saved[0], weighted ? ctx.saved[1] : undefined];
      const shape = ctx.inputs[0].shape;
      const grads = [null, null, ...ctx.inputs.slice(2).map(() => null)];
      if (!ctx.needsGrad[0]) return grads;
      if (reduction !== "mean") {
        const scalar = reduction === "sum";
        return [nllGrad(g, labels, weight, shape, ignoreIndex, scalar), ...grads.slice(1)];
      }
      const scaled = binary(g, ctx.saved[ctx.saved.length - 1], "div");
      return [
        freeing([scaled], nllGrad(scaled, labels, weight, shape, ignoreIndex, true)),
        ...grads.slice(1),
      ];
    },
  },
};

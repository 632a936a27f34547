/**
 * The convolutional network's ops: 2-D convolution (bias and ReLU fused into its epilogue),
 * max and average pooling and local response normalisation, each backward beside its forward.
 * All but average pooling fold a ReLU mask into their input's gradient (`reluFusion.foldsInto`), and a convolution
 * with `relu` offers its output as one (`reluFusion.output`).
 *
 * @module
 */

import { binary, contiguous } from "../_primitives.ts";
import {
  avgPool2d,
  avgPool2dGrad,
  conv2d,
  conv2dGradBias,
  conv2dGradInput,
  conv2dGradWeight,
  conv2dGradWeightBias,
  lrn,
  lrnGrad,
  maxPool2d,
  maxPool2dGrad,
} from "../_primitives_cnn.ts";
import { freeing } from "./elementwise.ts";
import type { Grads, Rules } from "./rule.ts";

/** The convolutional network's rules. */
export const cnnRules: Rules<"conv2d" | "maxPool2d" | "avgPool2d" | "lrn"> = {
  conv2d: {
    forward([x, w, bias], { geometry, outH, outW, relu }, ctx) {
      const out = conv2d(x, w, bias ?? null, geometry, { outH, outW }, relu);
      ctx.save(x, w);
      if (relu) ctx.save(out);
      return out;
    },
    backward(g, { geometry, relu }, ctx, fold) {
      const [x, w, out] = ctx.saved;
      const gz = relu && !fold.gradMasked ? binary(g, out, "reluMask") : contiguous(g);
      const [, needW, needB = false] = ctx.needsGrad;
      const grads: Grads = [
        ctx.needsGrad[0] ? conv2dGradInput(gz, w, geometry, x.shape, fold.masks[0]) : null,
      ];
      if (needW && needB) {
        // The bias gradient comes out of the weight gradient's pass.
        const { gradW, gradB } = conv2dGradWeightBias(x, gz, geometry, w.shape);
        grads.push(gradW, gradB);
      } else {
        grads.push(needW ? conv2dGradWeight(x, gz, geometry, w.shape) : null);
        if (ctx.inputs.length === 3) grads.push(needB ? conv2dGradBias(gz, geometry) : null);
      }
      return freeing([gz], grads);
    },
    reluFusion: { output: ({ relu }, ctx) => relu ? ctx.saved[2] : null, foldsInto: [0] },
  },
  maxPool2d: {
    forward([x], { geometry, outShape }, ctx) {
      const { out, argmax } = maxPool2d(x, geometry, outShape);
      ctx.save(argmax);
      argmax.dispose();
      return out;
    },
    backward: (g, { geometry }, ctx, fold) => [
      maxPool2dGrad(g, ctx.saved[0], geometry, ctx.inputs[0].shape, fold.masks[0]),
    ],
    reluFusion: { foldsInto: [0] },
  },
  avgPool2d: {
    forward: ([x], { geometry }) => avgPool2d(x, geometry),
    backward: (g, { geometry }) => [avgPool2dGrad(g, geometry)],
  },
  lrn: {
    forward([x], { params }, ctx) {
      const { out, scale } = lrn(x, params);
      ctx.save(x, scale);
      scale.dispose();
      return out;
    },
    backward: (g, { params }, ctx, fold) => [
      lrnGrad(ctx.saved[0], ctx.saved[1], g, params, fold.masks[0]),
    ],
    reluFusion: { foldsInto: [0] },
  },
};

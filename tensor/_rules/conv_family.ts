/**
 * The convolution family's rules. The transposed convolution is written over the
 * convolution's own kernels: its forward is a convolution's input gradient, its input gradient
 * is that convolution's forward, and its weight gradient is the convolution's weight gradient
 * with the roles of input and output swapped (the transposed convolution's output gradient in
 * the place of the convolution's input, its input in the place of the convolution's output
 * gradient). Adaptive max pooling saves each window's winner, as max pooling does, and routes
 * the gradient back to it. Resampling's gradient gathers each input's share from the outputs
 * that read it.
 *
 * @module
 */

import { binary, reduce, reshape } from "../_primitives.ts";
import { conv2d, conv2dGradInput, conv2dGradWeight } from "../_primitives_cnn.ts";
import {
  adaptiveMaxPool2d,
  adaptiveMaxPool2dGrad,
  resample,
  resampleGrad,
} from "../_primitives_conv_family.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** The transposed convolution's, adaptive max pooling's and resampling's rules. */
export const convFamilyRules: Rules<
  "convTranspose2d" | "adaptiveMaxPool2d" | "interpolate"
> = {
  convTranspose2d: {
    forward([x, w, bias], { geometry: g }, ctx) {
      // x [N, Cin, H, W] is the gradient of the convolution g describes, whose input
      // [N, Cout, OH, OW] is this op's output.
      const shape = [g.batch, g.inChannels, g.height, g.width];
      const out = conv2dGradInput(x, w, g, shape);
      ctx.save(x, w);
      if (!bias) return out;
      const channels = reshape(bias, [1, g.inChannels, 1, 1]);
      return freeing([out, channels], binary(out, channels, "add"));
    },
    backward(g, { geometry }, ctx) {
      const [x, w] = ctx.saved;
      const [needX, needW, needB = false] = ctx.needsGrad;
      const outSize = { outH: x.shape[2], outW: x.shape[3] };
      return [
        needX ? conv2d(g, w, null, geometry, outSize, false) : null,
        needW ? conv2dGradWeight(g, x, geometry, w.shape) : null,
        ...(ctx.inputs.length === 3 ? [needB ? reduce(g, "sum", [0, 2, 3], false) : null] : []),
      ];
    },
  },
  adaptiveMaxPool2d: {
    forward([x], { geometry }, ctx) {
      const { out, argmax } = adaptiveMaxPool2d(x, geometry);
      ctx.save(argmax);
      argmax.dispose();
      return out;
    },
    backward: (g, { geometry }, ctx) => [adaptiveMaxPool2dGrad(g, ctx.saved[0], geometry)],
  },
  interpolate: {
    forward: ([x], { geometry }) => resample(x, geometry),
    backward: (g, { geometry }) => [resampleGrad(g, geometry)],
  },
};

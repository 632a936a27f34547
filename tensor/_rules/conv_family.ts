/**
 * The convolution family's rules. The transposed convolution is written over the
 * convolution's own kernels: its forward is a convolution's input gradient, its input gradient
 * is that convolution's forward, and its weight gradient is the convolution's weight gradient
 * with the roles of input and output swapped (the transposed convolution's output gradient in
 * the place of the convolution's input, its input in the place of the convolution's output
 * gradient). Adaptive max pooling saves each window's winner, as max pooling does, and routes
 * the gradient back to it. Resampling (interpolation, and padding by reflection, replication
 * or wrapping) gathers each input's gradient from the outputs that read it; constant padding
 * copies the input into a filled output, and its gradient is the kept region of the output's.
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { binary, copyInto, fill, place, reduce, reshape } from "../_primitives.ts";
import { contiguousStrides } from "../shape.ts";
import { conv2d, conv2dGradInput, conv2dGradWeight } from "../_primitives_cnn.ts";
import {
  adaptiveMaxPool2d,
  adaptiveMaxPool2dGrad,
  resample,
  resampleGrad,
} from "../_primitives_conv_family.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** The transposed convolution's, adaptive max pooling's, resampling's and padding's rules. */
export const convFamilyRules: Rules<
  "convTranspose2d" | "adaptiveMaxPool2d" | "resample" | "padConstant"
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
  resample: {
    forward: ([x], { geometry }) => resample(x, geometry),
    backward: (g, { geometry }) => [resampleGrad(g, geometry)],
  },
  padConstant: {
    forward([x], { before, after, value }) {
      const shape = x.shape.map((d, i) => d + before[i] + after[i]);
      const kept = keptRegion(x, before, after);
      const out = fill(x.device, shape, value);
      copyInto(kept.view, out, kept.at(out.strides));
      kept.view.dispose();
      return out;
    },
    backward(g, { before, after }, ctx) {
      // The kept region of g, placed where it came from in x; cropped elements get zeros.
      const shape = ctx.inputs[0].shape;
      const inX = before.map((b) => Math.max(0, -b));
      const kept = shape.map((d, i) => d - inX[i] - Math.max(0, -after[i]));
      const start = before.map((b) => Math.max(0, b));
      const offset = g.offset + start.reduce((sum, s, i) => sum + s * g.strides[i], 0);
      const region = g.view(kept, g.strides, offset);
      const strides = contiguousStrides(shape);
      const at = inX.reduce((sum, s, i) => sum + s * strides[i], 0);
      return [freeing([region], place(region, shape, at))];
    },
  },
};

/**
 * The part of `x` a constant padding keeps (all of it, less what negative pads crop), as a
 * view, and where it starts in an output of the given strides.
 */
function keptRegion(x: RawTensor, before: readonly number[], after: readonly number[]) {
  const crop = before.map((b) => Math.max(0, -b));
  const shape = x.shape.map((d, i) => d - crop[i] - Math.max(0, -after[i]));
  const offset = x.offset + crop.reduce((sum, c, i) => sum + c * x.strides[i], 0);
  return {
    view: x.view(shape, x.strides, offset),
    at: (strides: readonly number[]) =>
      before.reduce((sum, b, i) => sum + Math.max(0, b) * strides[i], 0),
  };
}

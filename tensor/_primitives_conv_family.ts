/**
 * The convolution family's primitives beyond the convolution kernels it reuses: adaptive max
 * pooling with its argmax, resampling (`interpolate`), and their gradients. Like `_primitives_cnn.ts`, each takes raw tensors
 * (made contiguous here, as the kernels read NCHW) and returns new ones.
 *
 * @module
 */

import {
  adaptiveMaxPool2d as poolKernel,
  adaptiveMaxPool2dBackward as poolBackwardKernel,
  type AdaptivePool2dGeometry,
} from "../kernels/adaptive_max_pool2d.ts";
import {
  resample as resampleKernel,
  resampleBackward,
  type ResampleGeometry,
} from "../kernels/interpolate.ts";
import { empty, type RawTensor } from "./_core.ts";
import { contiguous } from "./_primitives.ts";

export type { AdaptivePool2dGeometry } from "../kernels/adaptive_max_pool2d.ts";
export type { ResampleGeometry } from "../kernels/interpolate.ts";

/** Adaptive max pooling: the output and, for the backward, each window's winner (i32). */
export function adaptiveMaxPool2d(
  x: RawTensor,
  g: AdaptivePool2dGeometry,
): { out: RawTensor; argmax: RawTensor } {
  const shape = [g.batch, g.channels, g.outH, g.outW];
  const out = empty(x.device, shape);
  const argmax = empty(x.device, shape, "i32", "pool argmax");
  if (out.size === 0) return { out, argmax };
  const xs = contiguous(x);
  poolKernel(x.device, g, { x: xs.buffer, out: out.buffer, argmax: argmax.buffer });
  xs.dispose();
  return { out, argmax };
}

/** ∂L/∂x of adaptive max pooling: each window's gradient goes to its winner. */
export function adaptiveMaxPool2dGrad(
  gradOut: RawTensor,
  argmax: RawTensor,
  g: AdaptivePool2dGeometry,
): RawTensor {
  const gradX = empty(gradOut.device, [g.batch, g.channels, g.height, g.width]);
  if (gradX.size === 0) return gradX;
  const gs = contiguous(gradOut);
  poolBackwardKernel(gradOut.device, g, {
    gradOut: gs.buffer,
    argmax: argmax.buffer,
    gradX: gradX.buffer,
  });
  gs.dispose();
  return gradX;
}

/** `x [N, C, H, W]` resampled to `[N, C, OH, OW]` as `g`'s axes map it. */
export function resample(x: RawTensor, g: ResampleGeometry): RawTensor {
  const out = empty(x.device, [g.batch, g.channels, g.rows.out, g.cols.out]);
  if (out.size === 0) return out;
  const xs = contiguous(x);
  resampleKernel(x.device, g, { x: xs.buffer, out: out.buffer });
  xs.dispose();
  return out;
}

/** ∂L/∂x of {@link resample}: each input gathers the weighted gradients of its readers. */
export function resampleGrad(gradOut: RawTensor, g: ResampleGeometry): RawTensor {
  const gradX = empty(gradOut.device, [g.batch, g.channels, g.rows.size, g.cols.size]);
  if (gradX.size === 0) return gradX;
  const gs = contiguous(gradOut);
  resampleBackward(gradOut.device, g, { gradOut: gs.buffer, gradX: gradX.buffer });
  gs.dispose();
  return gradX;
}

/**
 * The convolutional network's primitives: convolution and its three gradients, max pooling
 * with its argmax, average pooling, and local response normalisation with its scale. Like `_primitives.ts`,
 * each takes raw tensors (made contiguous here, as the kernels read NCHW) and returns new ones.
 *
 * @module
 */

import { conv2d as conv2dKernel, type Conv2dGeometry } from "../kernels/conv2d.ts";
import {
  conv2dBackwardBias as biasKernel,
  conv2dBackwardInput as inputKernel,
  conv2dBackwardWeight as weightKernel,
} from "../kernels/conv2d_backward.ts";
import {
  maxPool2d as poolKernel,
  maxPool2dBackward,
  type Pool2dGeometry,
} from "../kernels/max_pool2d.ts";
import {
  avgPool2d as avgPoolKernel,
  avgPool2dBackward,
  type AvgPool2dGeometry,
} from "../kernels/avg_pool2d.ts";
import {
  lrn as lrnKernel,
  lrnBackward as lrnBackwardKernel,
  type LrnParams,
} from "../kernels/lrn.ts";
import { empty, type RawTensor } from "./_core.ts";
import { contiguous, fill } from "./_primitives.ts";

export type { Conv2dGeometry } from "../kernels/conv2d.ts";
export type { Pool2dGeometry } from "../kernels/max_pool2d.ts";
export type { LrnParams } from "../kernels/lrn.ts";
export type { AvgPool2dGeometry } from "../kernels/avg_pool2d.ts";

/** Runs `body` on contiguous versions of `tensors` (an absent one stays null), then drops them. */
function packed<const T extends readonly (RawTensor | null)[], R>(
  tensors: T,
  body: (packed: T) => R,
): R {
  const list = tensors.map((t) => t && contiguous(t));
  try {
    return body(list as unknown as T);
  } finally {
    list.forEach((t) => t?.dispose());
  }
}

/** `conv2d(x, w) (+ bias) (then ReLU)` into a new `[N, O, OH, OW]` tensor. */
export function conv2d(
  x: RawTensor,
  w: RawTensor,
  bias: RawTensor | null,
  g: Conv2dGeometry,
  outSize: { outH: number; outW: number },
  relu: boolean,
): RawTensor {
  const out = empty(x.device, [g.batch, g.outChannels, outSize.outH, outSize.outW]);
  if (g.batch === 0) return out;
  packed(
    [x, w, bias],
    ([xs, ws, bs]) =>
      conv2dKernel(x.device, g, {
        x: xs.buffer,
        w: ws.buffer,
        out: out.buffer,
        bias: bs?.buffer,
        relu,
      }),
  );
  return out;
}

/**
 * ∂L/∂x of a convolution, shaped as `x` (`xShape`); times the ReLU mask of `mask` (a ReLU's
 * output shaped as `x`) in the kernel's epilogue when one is given.
 */
export function conv2dGradInput(
  gradOut: RawTensor,
  w: RawTensor,
  g: Conv2dGeometry,
  xShape: readonly number[],
  mask: RawTensor | null = null,
): RawTensor {
  const gradX = empty(gradOut.device, xShape);
  if (g.batch === 0) return gradX;
  packed(
    [gradOut, w, mask],
    ([gs, ws, ms]) =>
      inputKernel(gradOut.device, g, {
        gradOut: gs.buffer,
        w: ws.buffer,
        gradX: gradX.buffer,
        mask: ms?.buffer,
      }),
  );
  return gradX;
}

/** ∂L/∂w of a convolution, shaped as `w` (`wShape`). */
export function conv2dGradWeight(
  x: RawTensor,
  gradOut: RawTensor,
  g: Conv2dGeometry,
  wShape: readonly number[],
): RawTensor {
  // No samples: no products, a zero gradient.
  if (g.batch === 0) return fill(x.device, wShape, 0);
  const gradW = empty(x.device, wShape);
  packed(
    [x, gradOut],
    ([xs, gs]) =>
      weightKernel(x.device, g, { x: xs.buffer, gradOut: gs.buffer, gradW: gradW.buffer }),
  );
  return gradW;
}

/**
 * ∂L/∂w and ∂L/∂bias of a convolution from one pass: the weight gradient's kernel also sums
 * gradOut per channel, which it reads anyway.
 */
export function conv2dGradWeightBias(
  x: RawTensor,
  gradOut: RawTensor,
  g: Conv2dGeometry,
  wShape: readonly number[],
): { gradW: RawTensor; gradB: RawTensor } {
  if (g.batch === 0) {
    return { gradW: fill(x.device, wShape, 0), gradB: fill(x.device, [g.outChannels], 0) };
  }
  const gradW = empty(x.device, wShape), gradB = empty(x.device, [g.outChannels]);
  packed([x, gradOut], ([xs, gs]) =>
    weightKernel(x.device, g, {
      x: xs.buffer,
      gradOut: gs.buffer,
      gradW: gradW.buffer,
      gradB: gradB.buffer,
    }));
  return { gradW, gradB };
}

/** ∂L/∂bias of a convolution alone (frozen weights): `[O]`. */
export function conv2dGradBias(gradOut: RawTensor, g: Conv2dGeometry): RawTensor {
  if (g.batch === 0) return fill(gradOut.device, [g.outChannels], 0);
  const gradB = empty(gradOut.device, [g.outChannels]);
  packed(
    [gradOut],
    ([gs]) => biasKernel(gradOut.device, g, { gradOut: gs.buffer, gradB: gradB.buffer }),
  );
  return gradB;
}

/** Max pooling: the output and, for the backward, each window's winner (i32). */
export function maxPool2d(
  x: RawTensor,
  g: Pool2dGeometry,
  outShape: readonly number[],
): { out: RawTensor; argmax: RawTensor } {
  const out = empty(x.device, outShape);
  const argmax = empty(x.device, outShape, "i32", "pool argmax");
  if (x.size === 0) return { out, argmax };
  packed(
    [x],
    ([xs]) => poolKernel(x.device, g, { x: xs.buffer, out: out.buffer, argmax: argmax.buffer }),
  );
  return { out, argmax };
}

/**
 * ∂L/∂x of max pooling: each window's gradient goes to its winner; times the ReLU mask of
 * `mask` (a ReLU's output shaped as `x`) as it is stored when one is given.
 */
export function maxPool2dGrad(
  gradOut: RawTensor,
  argmax: RawTensor,
  g: Pool2dGeometry,
  xShape: readonly number[],
  mask: RawTensor | null = null,
): RawTensor {
  const gradX = empty(gradOut.device, xShape);
  if (gradX.size === 0) return gradX;
  packed([gradOut, mask], ([gs, ms]) =>
    maxPool2dBackward(gradOut.device, g, {
      gradOut: gs.buffer,
      argmax: argmax.buffer,
      gradX: gradX.buffer,
      mask: ms?.buffer,
    }));
  return gradX;
}

/** Average pooling (fixed or adaptive windows) into a new `[N, C, OH, OW]` tensor. */
export function avgPool2d(x: RawTensor, g: AvgPool2dGeometry): RawTensor {
  const out = empty(x.device, [g.batch, g.channels, g.outH, g.outW]);
  if (out.size === 0 || x.size === 0) return out;
  packed([x], ([xs]) => avgPoolKernel(x.device, g, { x: xs.buffer, out: out.buffer }));
  return out;
}

/** ∂L/∂x of average pooling: each window's gradient spread over it, divided as the forward. */
export function avgPool2dGrad(gradOut: RawTensor, g: AvgPool2dGeometry): RawTensor {
  const gradX = empty(gradOut.device, [g.batch, g.channels, g.height, g.width]);
  if (gradX.size === 0) return gradX;
  packed(
    [gradOut],
    ([gs]) => avgPool2dBackward(gradOut.device, g, { gradOut: gs.buffer, gradX: gradX.buffer }),
  );
  return gradX;
}

/** Local response normalisation: the output and the per-element scale its backward needs. */
export function lrn(x: RawTensor, p: LrnParams): { out: RawTensor; scale: RawTensor } {
  const [batch, channels, height, width] = x.shape;
  const out = empty(x.device, x.shape);
  const scale = empty(x.device, x.shape, "f32", "lrn scale");
  if (x.size === 0) return { out, scale };
  packed([x], ([xs]) =>
    lrnKernel(x.device, { batch, channels, height, width }, p, {
      x: xs.buffer,
      out: out.buffer,
      scale: scale.buffer,
    }));
  return { out, scale };
}

/**
 * ∂L/∂x of local response normalisation; times the ReLU mask of `mask` (a ReLU's output
 * shaped as `x`; usually `x` itself, which the kernel then reads once) when one is given.
 */
export function lrnGrad(
  x: RawTensor,
  scale: RawTensor,
  gradOut: RawTensor,
  p: LrnParams,
  mask: RawTensor | null = null,
): RawTensor {
  const [batch, channels, height, width] = x.shape;
  const gradX = empty(x.device, x.shape);
  if (x.size === 0) return gradX;
  packed(
    [x, gradOut, mask],
    ([xs, gs, ms]) =>
      lrnBackwardKernel(x.device, { batch, channels, height, width }, p, {
        x: xs.buffer,
        scale: scale.buffer,
        gradOut: gs.buffer,
        gradX: gradX.buffer,
        mask: ms?.buffer,
      }),
  );
  return gradX;
}

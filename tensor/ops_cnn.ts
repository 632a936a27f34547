/**
 * The convolutional network ops: 2-D convolution (bias and ReLU fused into its epilogue), max
 * pooling, local response normalisation and dropout, each with its backward beside it.
 *
 * @module
 */

import {
  conv2d as conv2dKernel,
  type Conv2dGeometry,
  conv2dOutputSize,
} from "../kernels/conv2d.ts";
import {
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
} from "../kernels/conv2d_backward.ts";
import { maxPool2d as maxPoolKernel, maxPool2dBackward } from "../kernels/max_pool2d.ts";
import { lrn as lrnKernel, lrnBackward, type LrnParams } from "../kernels/lrn.ts";
import { recordOp } from "./_autograd.ts";
import { type Dim, type Shape, ShapeError } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { binaryOp, empty, requireFloat, sameDevice, unaryOp } from "./ops_elementwise.ts";
import { contiguous } from "./ops_shape.ts";
import { type Generator, globalGenerator } from "./random.ts";

/** An NCHW tensor type. */
export type Tensor4D = Tensor<readonly [Dim, Dim, Dim, Dim], "f32">;

/** A size given once for both axes or as `[height, width]`. */
export type Pair = number | readonly [number, number];

function pair(p: Pair): [number, number] {
  return typeof p === "number" ? [p, p] : [p[0], p[1]];
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Zero padding on each side (default 0). */
  padding?: Pair;
  /** Channel groups: each output group sees only its input group (default 1). */
  groups?: number;
  /** Apply ReLU in the kernel's epilogue. */
  relu?: boolean;
}

function withContiguous<R>(tensors: (Tensor | null)[], body: (packed: (Tensor | null)[]) => R): R {
  const packed = tensors.map((t) => (t ? contiguous(t) : null));
  try {
    return body(packed);
  } finally {
    packed.forEach((p, i) => {
      if (p && p !== tensors[i]) p.dispose();
    });
  }
}

/**
 * 2-D convolution (cross-correlation, as PyTorch) of `x [N, C, H, W]` with `w [O, C/groups, KH,
 * KW]` and optional `bias [O]`.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { conv2d } from "./ops_cnn.ts";
 * await defaultDevice();
 * const y = conv2d(ones([1, 1, 3, 3]), ones([1, 1, 2, 2]), null);
 * console.log(await y.toArray()); // [[[[4, 4], [4, 4]]]]
 * ```
 */
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
): Tensor4D {
  requireFloat("conv2d", x, w, ...(bias ? [bias] : []));
  const device = sameDevice("conv2d", x, w, ...(bias ? [bias] : []));
  if (x.rank !== 4 || w.rank !== 4) {
    throw new ShapeError(
      `conv2d: expected x [N, C, H, W] and w [O, C/groups, KH, KW], got [${x.shape}] and [${w.shape}]`,
    );
  }
  const groups = options.groups ?? 1;
  const [strideH, strideW] = pair(options.stride ?? 1);
  const [padH, padW] = pair(options.padding ?? 0);
  const g: Conv2dGeometry = {
    batch: x.shape[0],
    inChannels: x.shape[1],
    height: x.shape[2],
    width: x.shape[3],
    outChannels: w.shape[0],
    kernelH: w.shape[2],
    kernelW: w.shape[3],
    strideH,
    strideW,
    padH,
    padW,
    groups,
  };
  if (x.shape[1] !== w.shape[1] * groups) {
    throw new ShapeError(
      `conv2d: input has ${
        x.shape[1]
      } channels but weight [${w.shape}] with ${groups} group(s) expects ${w.shape[1] * groups}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new ShapeError(
      `conv2d: bias [${bias.shape}] does not match ${w.shape[0]} output channels`,
    );
  }
  const { outH, outW } = conv2dOutputSize(g);
  if (outH < 1 || outW < 1) {
    throw new ShapeError(
      `conv2d: input [${x.shape}] is smaller than the kernel [${w.shape}] with padding ${padH}×${padW}`,
    );
  }
  const out = empty(device, [g.batch, g.outChannels, outH, outW], "f32");
  withContiguous([x, w, bias], ([xs, ws, bs]) =>
    conv2dKernel(device, g, {
      x: xs!.storage.buffer,
      w: ws!.storage.buffer,
      out: out.storage.buffer,
      bias: bs?.storage.buffer,
      relu: options.relu ?? false,
    }));
  const inputs = bias ? [x, w, bias] : [x, w];
  return recordOp(out, "conv2d", inputs, [x, w, out], ([sx, sw, sOut]) => (gradOut) => {
    const gz = options.relu ? binaryOp(gradOut, sOut, "reluMask") : contiguous(gradOut);
    const grads: (Tensor | null)[] = [null, null];
    withContiguous([sx, sw], ([xs, ws]) => {
      if (x.requiresGrad) {
        const gradX = empty(device, x.shape, "f32");
        conv2dBackwardInput(device, g, {
          gradOut: gz.storage.buffer,
          w: ws!.storage.buffer,
          gradX: gradX.storage.buffer,
        });
        grads[0] = gradX;
      }
      if (w.requiresGrad) {
        const gradW = empty(device, w.shape, "f32");
        conv2dBackwardWeight(device, g, {
          x: xs!.storage.buffer,
          gradOut: gz.storage.buffer,
          gradW: gradW.storage.buffer,
        });
        grads[1] = gradW;
      }
    });
    if (bias) {
      let gradB: Tensor | null = null;
      if (bias.requiresGrad) {
        gradB = empty(device, bias.shape, "f32");
        conv2dBackwardBias(device, g, { gradOut: gz.storage.buffer, gradB: gradB.storage.buffer });
      }
      grads.push(gradB);
    }
    if (gz !== gradOut) gz.dispose();
    return grads;
  }) as Tensor4D;
}

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: Pair;
  /** Step between windows (default: the kernel size). */
  stride?: Pair;
  /** −∞ padding on each side (default 0). */
  padding?: Pair;
}

/**
 * Max pooling over `x [N, C, H, W]`. Overlapping windows (stride < kernel) are allowed; a tie
 * goes to the first maximum in row-major window order, every run.
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor4D {
  requireFloat("maxPool2d", x);
  if (x.rank !== 4) throw new ShapeError(`maxPool2d: expected [N, C, H, W], got [${x.shape}]`);
  const [kernelH, kernelW] = pair(options.kernel);
  const [strideH, strideW] = pair(options.stride ?? options.kernel);
  const [padH, padW] = pair(options.padding ?? 0);
  const [batch, channels, height, width] = x.shape;
  const g = { batch, channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW };
  const outH = Math.floor((height + 2 * padH - kernelH) / strideH) + 1;
  const outW = Math.floor((width + 2 * padW - kernelW) / strideW) + 1;
  if (outH < 1 || outW < 1) {
    throw new ShapeError(
      `maxPool2d: input [${x.shape}] is smaller than the ${kernelH}×${kernelW} window`,
    );
  }
  const device = x.device;
  const out = empty(device, [batch, channels, outH, outW], "f32");
  const argmax = empty(device, [batch, channels, outH, outW], "i32", "pool argmax");
  withContiguous([x], ([xs]) =>
    maxPoolKernel(device, g, {
      x: xs!.storage.buffer,
      out: out.storage.buffer,
      argmax: argmax.storage.buffer,
    }));
  const result = recordOp(
    out,
    "maxPool2d",
    [x],
    [argmax],
    ([sArgmax]) => (gradOut) =>
      withContiguous([gradOut], ([gs]) => {
        const gradX = empty(device, x.shape, "f32");
        maxPool2dBackward(device, g, {
          gradOut: gs!.storage.buffer,
          argmax: sArgmax.storage.buffer,
          gradX: gradX.storage.buffer,
        });
        return [gradX];
      }),
  );
  argmax.dispose();
  return result as Tensor4D;
}

/** The AlexNet paper's LRN constants (section 3.3): n = 5, k = 2, α = 1e-4, β = 0.75. */
export const PAPER_LRN: Omit<LrnParams, "groupSize"> = { size: 5, k: 2, alpha: 1e-4, beta: 0.75 };

/**
 * Local response normalisation across channels, exactly as the AlexNet paper writes it (α is
 * not divided by the window size). `groupSize` channels form a group; windows stay inside a
 * group, so each tower of the paper's network normalises only its own maps.
 */
export function lrn(
  x: Tensor,
  params: Partial<LrnParams> = {},
): Tensor4D {
  requireFloat("lrn", x);
  if (x.rank !== 4) throw new ShapeError(`lrn: expected [N, C, H, W], got [${x.shape}]`);
  const [batch, channels, height, width] = x.shape;
  const p: LrnParams = { ...PAPER_LRN, groupSize: channels, ...params };
  const shape = { batch, channels, height, width };
  const device = x.device;
  const out = empty(device, x.shape, "f32");
  const scale = empty(device, x.shape, "f32", "lrn scale");
  withContiguous([x], ([xs]) =>
    lrnKernel(device, shape, p, {
      x: xs!.storage.buffer,
      out: out.storage.buffer,
      scale: scale.storage.buffer,
    }));
  const result = recordOp(
    out,
    "lrn",
    [x],
    [x, scale],
    ([sx, sScale]) => (gradOut) =>
      withContiguous([sx, gradOut], ([xs, gs]) => {
        const gradX = empty(device, x.shape, "f32");
        lrnBackward(device, shape, p, {
          x: xs!.storage.buffer,
          scale: sScale.storage.buffer,
          gradOut: gs!.storage.buffer,
          gradX: gradX.storage.buffer,
        });
        return [gradX];
      }),
  );
  scale.dispose();
  return result as Tensor4D;
}

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Whether to drop (training) or pass through (evaluation). */
  training: boolean;
  /** Random stream for the mask (default: the global generator). */
  generator?: Generator;
}

/**
 * Dropout with probability `p`: in training each element is zeroed with probability `p` and the
 * survivors are scaled by `1 / (1 − p)`, so evaluation is the identity (the paper's "multiply
 * by 0.5 at test time", moved to training time). The mask comes from the counter-based
 * generator and its backward reuses it through the product's gradient.
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor<Shape, "f32"> {
  requireFloat("dropout", x);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability ${p} is not in [0, 1]`);
  if (!options.training || p === 0) return unaryOp(x, "copy");
  const generator = options.generator ?? globalGenerator();
  const mask = p === 1
    ? generator.bernoulli(x.shape, 0, 0, x.device)
    : generator.bernoulli(x.shape, 1 - p, 1 / (1 - p), x.device);
  const out = binaryOp(x, mask, "mul");
  mask.dispose();
  return out;
}

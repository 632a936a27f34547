/**
 * Gradients of {@link conv2d}: with respect to the input (a transposed convolution: per stride
 * phase a stride-1 direct convolution of gradOut with the flipped sub-kernel, all phases in one
 * dispatch), the weights (an implicit GEMM over the N·OH·OW output pixels, split over
 * invocations into partial sums that a second kernel adds in a fixed order) and the bias (a
 * fixed-order tree sum alone, or summed by the weight gradient's kernel as it reads gradOut, in
 * the same partial sums). No float atomics anywhere, so every run gives identical bits.
 *
 * Those are the direct kernels; the input and weight gradients also run on the GEMM core
 * (`_conv_gemm.ts`, split-K for the weights), the input gradient of a 3×3 or 5×5 stride-1
 * convolution as Winograd F(2×2, r×r) (`_winograd.ts`) and a 1×1 one's as a matmul
 * (`_pointwise.ts`), chosen as for the forward pass.
 *
 * This file holds the input gradient; the weight and bias gradients live in
 * `_conv2d_backward_weight.ts` and are re-exported here.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { choose, withScratch } from "./autotune.ts";
import { checkGemm } from "./_conv_gemm.ts";
import { inputGradGemm } from "./_conv_gemm_input.ts";
import { type ConvAlgorithm, convCandidates } from "./_conv_algorithms.ts";
import { stridedInputGradGemm } from "./_conv_gemm_strided.ts";
import {
  WINOGRAD_ONLY,
  winogradApplies,
  winogradInputGrad,
  winogradScratchPerSample,
  winogradTooLarge,
} from "./_winograd.ts";
import { POINTWISE_ONLY, pointwiseApplies, pointwiseInputGrad } from "./_pointwise.ts";
import { directConv } from "./conv2d.ts";
import {
  batchRuns,
  checkCapacity,
  type Conv2dGeometry,
  dilationTag,
  type DirectTile,
  geometryKey,
  gradInputPhases,
  phaseTapSteps,
  resolve,
} from "./_conv_geometry.ts";

export { conv2dTiles, type WeightTile } from "./_conv_geometry.ts";
export {
  conv2dBackwardBias,
  type Conv2dBackwardBiasArgs,
  conv2dBackwardWeight,
  type Conv2dBackwardWeightArgs,
} from "./_conv2d_backward_weight.ts";

/** Buffers and options of {@link conv2dBackwardInput}. */
export interface Conv2dBackwardInputArgs {
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Weights `[O, C/groups, KH, KW]`. */
  w: GpuBuffer;
  /** Gradient of the input `[N, C, H, W]`, written (every element). */
  gradX: GpuBuffer;
  /**
   * A ReLU's output `[N, C, H, W]` (the convolution's input, when a ReLU made it): gradX is
   * then multiplied by its mask (`gradX` where `mask > 0`, else 0) as it is stored, which
   * gives the gradient of the ReLU's input without a separate pass over memory.
   */
  mask?: GpuBuffer;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
  /** Register tile of the direct kernel (forces it); by default one chosen for the problem. */
  tile?: DirectTile;
  /** Forces an algorithm; by default the autotuner's choice, else the adapter's default. */
  algorithm?: ConvAlgorithm;
}

/**
 * gradX = ∂L/∂x of `out = conv2d(x, w)` given gradOut = ∂L/∂out.
 *
 * Input row iy receives gradOut row oy through kernel row ky exactly when
 * iy + padH − dilationH·ky = oy·strideH, so the rows of one phase φ = (iy + padH) mod strideH
 * use only the kernel rows with dilationH·ky ≡ φ: per phase pair a stride-1 convolution of
 * gradOut with that sub-kernel, flipped. Pixels that no kernel tap reaches (kernel smaller than
 * the stride) get zeros.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardInput } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const gradOut = device.alloc(16), w = device.alloc(16), gradX = device.alloc(36);
 * device.write(gradOut, new Float32Array([1, 1, 1, 1]));
 * device.write(w, new Float32Array([1, 2, 3, 4]));
 * conv2dBackwardInput(device, g, { gradOut, w, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 36))); // [1, 3, 2, 4, 10, 6, 3, 7, 4]
 * ```
 */
export function conv2dBackwardInput(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardInputArgs,
): void {
  const what = "conv2dBackwardInput";
  const g = resolve(geometry, what);
  const inSample = g.inChannels * g.height * g.width;
  const outSample = g.outChannels * g.outH * g.outW;
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.w, g.outChannels * g.wk, `${what}: w`);
  checkCapacity(args.gradX, g.batch * inSample, `${what}: gradX`);
  if (args.mask) checkCapacity(args.mask, g.batch * inSample, `${what}: mask`);
  let algorithm = args.algorithm ?? (args.tile ? { kind: "direct" } : choose(
    device,
    "conv2d.gradInput",
    geometryKey(g),
    () => convCandidates(device, "gradInput", g),
    (algorithm) =>
      withScratch(
        device,
        // Every buffer the timed run binds is scratch: it runs after the caller's step, when
        // the caller's mask may have been released (and reused as one of these).
        [g.batch * outSample, g.outChannels * g.wk, g.batch * inSample, g.batch * inSample],
        ([gradOut, w, gradX, mask]) =>
          conv2dBackwardInput(device, g, {
            ...args,
            gradOut,
            w,
            gradX,
            mask: args.mask && mask,
            algorithm,
          }),
      ),
  ).value);
  if (algorithm.kind === "winograd") {
    const tooLarge = winogradTooLarge(device, g, "gradInput", args.maxBindingBytes);
    if (tooLarge && args.algorithm) throw new RangeError(`${what}: ${tooLarge}`);
    if (tooLarge) algorithm = { kind: "direct" };
  }
  if (algorithm.kind === "pointwise") {
    if (!pointwiseApplies(g)) throw new RangeError(`${what}: ${POINTWISE_ONLY}`);
    const { gradOut: dy, w, gradX: dx, mask, maxBindingBytes } = args;
    const { tile, splits } = algorithm;
    pointwiseInputGrad(device, g, { dy, w, dx, mask }, { tile, splits, maxBindingBytes });
    return;
  }
  const scratch = algorithm.kind === "winograd" ? winogradScratchPerSample(g, "gradInput") : [];
  const perSample = [outSample, inSample, ...scratch];
  const runs = batchRuns(device, g.batch, perSample, args.maxBindingBytes, what);
  for (const { count, parts: [dy, dx] } of runs) {
    // The mask has gradX's shape, so it is bound over the same range.
    const mask = args.mask ? { buffer: args.mask, ...dx.range } : undefined;
    const name = `${what} ${count}×${g.outChannels}×${g.outH}×${g.outW}→${g.inChannels} ` +
      `k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} p${g.padH}×${g.padW} g${g.groups}` +
      dilationTag(g);
    const bind = {
      x: { buffer: args.gradOut, ...dy.range },
      w: { buffer: args.w, size: g.outChannels * g.wk * 4 },
      out: { buffer: args.gradX, ...dx.range },
    };
    if (algorithm.kind === "gemm") {
      checkGemm(device, algorithm, name);
      const gemmBind = { dy: bind.x, w: bind.w, dx: bind.out, mask };
      const strided = g.strideH > 1 || g.strideW > 1;
      (strided ? stridedInputGradGemm : inputGradGemm)(
        device,
        g,
        algorithm,
        { count, dy, dx },
        gemmBind,
        name,
      );
      continue;
    }
    if (algorithm.kind === "winograd") {
      if (!winogradApplies(g, "gradInput")) {
        throw new RangeError(
          `${name}: ${WINOGRAD_ONLY} with padding below the kernel size`,
        );
      }
      const gemmBind = { dy: bind.x, w: bind.w, dx: bind.out, mask };
      winogradInputGrad(device, g, { count, dy, dx }, gemmBind, { name, tile: algorithm.tile });
      continue;
    }
    const rows = phaseTapSteps(g.strideH, g.dilationH);
    const cols = phaseTapSteps(g.strideW, g.dilationW);
    directConv(device, {
      name,
      batch: count,
      groups: g.groups,
      reduce: g.og,
      outChannels: g.cg,
      inH: g.outH,
      inW: g.outW,
      inSample: outSample,
      inShift: dy.shift,
      strideY: 1,
      strideX: 1,
      phasesY: gradInputPhases(g.strideH, g.kernelH, g.padH, g.height, g.dilationH),
      phasesX: gradInputPhases(g.strideW, g.kernelW, g.padW, g.width, g.dilationW),
      // The sub-kernel is flipped: tap a is kernel row tapFirst − kernelStep·a (strideH at
      // dilation 1), reading gradOut readStep·a rows on (see `phaseTapSteps`).
      tapStepY: -rows.kernelStep,
      tapStepX: -cols.kernelStep,
      dilationY: rows.readStep,
      dilationX: cols.readStep,
      kernelW: g.kernelW,
      wGroup: g.og * g.wk,
      wOut: g.kernelH * g.kernelW,
      wReduce: g.wk,
      outH: g.height,
      outW: g.width,
      scaleY: g.strideH,
      scaleX: g.strideW,
      outSample: inSample,
      outShift: dx.shift,
      bias: false,
      relu: false,
      reluMask: !!mask,
      maskable: true,
      tile: args.tile,
    }, { ...bind, mask });
  }
}

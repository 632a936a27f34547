/**
 * A 1×1, stride-1, unpadded, ungrouped convolution over NCHW is a plain batched GEMM, with no
 * gather and no offset table: per sample, out[b] (O × HW) = W (O × C) · x[b] (C × HW). The three
 * passes run on {@link matmul} (which splits operands larger than one binding into windows):
 *
 * - forward: W · x[b], the bias per row (output channel), ReLU in the epilogue;
 * - input gradient: Wᵀ · dy[b] (W read transposed in place);
 * - weight gradient: Σ_b dy[b] · x[b]ᵀ, the per-sample products into scratch and summed in
 *   sample order (a fixed order: every run gives the same bits).
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import type { GemmTile } from "./_gemm.ts";
import { matmul } from "./matmul.ts";
import { sumPartials } from "./_split_k.ts";
import type { Resolved } from "./_conv_geometry.ts";

/** Whether a convolution is a plain GEMM over NCHW: 1×1, stride 1, no padding, one group. */
export function pointwiseApplies(g: Resolved): boolean {
  return g.kernelH === 1 && g.kernelW === 1 && g.strideH === 1 && g.strideW === 1 &&
    g.padH === 0 && g.padW === 0 && g.groups === 1;
}

/** Why the pointwise algorithm refuses a convolution. */
export const POINTWISE_ONLY =
  "the pointwise algorithm needs a 1×1 kernel, stride 1, no padding and one group";

/** Options every pass takes: a GEMM tile (default: matmul's choice) and a binding cap. */
export interface PointwiseOptions {
  tile?: GemmTile;
  maxBindingBytes?: number;
}

/** out = conv1×1(x, w) (+ bias) (ReLU). */
export function pointwiseForward(
  device: Device,
  g: Resolved,
  buffers: { x: GpuBuffer; w: GpuBuffer; out: GpuBuffer; bias?: GpuBuffer },
  o: PointwiseOptions & { relu: boolean },
): void {
  const hw = g.height * g.width;
  matmul(device, {
    a: buffers.w,
    b: buffers.x,
    out: buffers.out,
    m: g.outChannels,
    n: hw,
    k: g.inChannels,
    batch: g.batch,
    batchStrideA: 0,
    batchStrideB: g.inChannels * hw,
    bias: buffers.bias,
    biasPerRow: true,
    relu: o.relu,
    tile: o.tile,
    maxBindingBytes: o.maxBindingBytes,
  });
}

/** gradX = Wᵀ · gradOut per sample (times the ReLU mask of `mask`, shaped as gradX, if given). */
export function pointwiseInputGrad(
  device: Device,
  g: Resolved,
  buffers: { dy: GpuBuffer; w: GpuBuffer; dx: GpuBuffer; mask?: GpuBuffer },
  o: PointwiseOptions,
): void {
  const hw = g.height * g.width;
  matmul(device, {
    a: buffers.w,
    b: buffers.dy,
    out: buffers.dx,
    m: g.inChannels,
    n: hw,
    k: g.outChannels,
    batch: g.batch,
    batchStrideA: 0,
    batchStrideB: g.outChannels * hw,
    transA: true,
    mask: buffers.mask,
    tile: o.tile,
    maxBindingBytes: o.maxBindingBytes,
  });
}

/** Scratch for the per-sample weight gradients is kept under this size. */
const PARTIAL_BYTES = 64 << 20;

/** gradW (=|+=) Σ_b gradOut[b] · x[b]ᵀ, samples added in order. */
export function pointwiseWeightGrad(
  device: Device,
  g: Resolved,
  buffers: { x: GpuBuffer; dy: GpuBuffer; dw: GpuBuffer },
  o: PointwiseOptions & { accumulate: boolean },
): void {
  const hw = g.height * g.width, nw = g.outChannels * g.inChannels;
  const limit = Math.min(PARTIAL_BYTES, o.maxBindingBytes ?? Infinity);
  const chunk = Math.max(1, Math.min(g.batch, Math.floor(limit / (nw * 4))));
  const product = (first: number, count: number, out: GpuBuffer, accumulate: boolean) =>
    matmul(device, {
      a: buffers.dy,
      b: buffers.x,
      out,
      m: g.outChannels,
      n: g.inChannels,
      k: hw,
      batch: count,
      batchStrideA: g.outChannels * hw,
      batchStrideB: g.inChannels * hw,
      transB: true,
      accumulate,
      tile: o.tile,
      maxBindingBytes: o.maxBindingBytes,
      offsetA: first * g.outChannels * hw,
      offsetB: first * g.inChannels * hw,
    });
  if (g.batch === 1) {
    product(0, 1, buffers.dw, o.accumulate);
    return;
  }
  const bytes = chunk * nw * 4;
  const partial = device.alloc(bytes, "conv1×1 per-sample weight gradients");
  for (let first = 0; first < g.batch; first += chunk) {
    const count = Math.min(chunk, g.batch - first);
    product(first, count, partial, false);
    sumPartials(device, {
      name: `conv2dBackwardWeight 1×1 ${count}×${g.inChannels}→${g.outChannels}`,
      partial: { buffer: partial, size: count * nw * 4 },
      dst: { buffer: buffers.dw, size: nw * 4 },
      n: nw,
      splits: count,
      accumulate: first > 0 || o.accumulate,
    });
  }
  device.release(partial);
}

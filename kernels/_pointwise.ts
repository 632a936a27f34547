/**
 * A 1×1, stride-1, unpadded, ungrouped convolution over NCHW is a plain batched GEMM, with no
 * gather and no offset table: per sample, out[b] (O × HW) = W (O × C) · x[b] (C × HW). The three
 * passes run on {@link matmul} (which splits operands larger than one binding into windows):
 *
 * - forward: W · x[b], the bias per row (output channel), ReLU in the epilogue;
 * - input gradient: Wᵀ · dy[b] (W read transposed in place);
 * - weight gradient: Σ_b dy[b] · x[b]ᵀ as ONE product of depth batch·HW (matmul's `sumBatch`:
 *   depth index k' reads sample k' div HW, pixel k' mod HW), in a fixed order (every run gives
 *   the same bits), and the bias gradient as its row sums (the sums of dy per channel) in the
 *   same pass.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import type { GemmTile } from "./_gemm.ts";
import { matmul } from "./matmul.ts";
import type { Resolved } from "./_conv_geometry.ts";

/** Whether a convolution is a plain GEMM over NCHW: 1×1, stride 1, no padding, one group. */
export function pointwiseApplies(g: Resolved): boolean {
  return g.kernelH === 1 && g.kernelW === 1 && g.strideH === 1 && g.strideW === 1 &&
    g.padH === 0 && g.padW === 0 && g.groups === 1;
}

/** Why the pointwise algorithm refuses a convolution. */
export const POINTWISE_ONLY =
  "the pointwise algorithm needs a 1×1 kernel, stride 1, no padding and one group";

/**
 * Options every pass takes: a GEMM tile and split-K (default: matmul's choice) and a binding
 * cap.
 */
export interface PointwiseOptions {
  tile?: GemmTile;
  splits?: number;
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
    splits: o.splits,
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
    splits: o.splits,
    maxBindingBytes: o.maxBindingBytes,
  });
}

/**
 * gradW (=|+=) Σ_b gradOut[b] · x[b]ᵀ as one product of depth batch·HW (`sumBatch`), and with
 * `db` the bias gradient, Σ over samples and pixels of gradOut per channel: the row sums of
 * gradOut, which the product stages anyway.
 */
export function pointwiseWeightGrad(
  device: Device,
  g: Resolved,
  buffers: { x: GpuBuffer; dy: GpuBuffer; dw: GpuBuffer; db?: GpuBuffer },
  o: PointwiseOptions & { accumulate: boolean },
): void {
  const hw = g.height * g.width;
  matmul(device, {
    a: buffers.dy,
    b: buffers.x,
    out: buffers.dw,
    m: g.outChannels,
    n: g.inChannels,
    k: hw,
    batch: g.batch,
    batchStrideA: g.outChannels * hw,
    batchStrideB: g.inChannels * hw,
    transB: true,
    sumBatch: true,
    rowSums: buffers.db,
    accumulate: o.accumulate,
    tile: o.tile,
    splits: o.splits,
    maxBindingBytes: o.maxBindingBytes,
  });
}

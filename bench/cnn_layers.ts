/**
 * AlexNet's layers one by one at a given batch: each convolution's forward, gradient for the
 * input and gradient for the weights (GFLOP/s), the pools and LRNs (GB/s), and the sum of all
 * layers as an estimate of one training step.
 *
 * @module
 */

import type { Device, GpuBuffer } from "../kernels/device.ts";
import { conv2d, type Conv2dGeometry, conv2dOutputSize } from "../kernels/conv2d.ts";
import { conv2dBackwardInput, conv2dBackwardWeight } from "../kernels/conv2d_backward.ts";
import { maxPool2d, maxPool2dBackward, type Pool2dGeometry } from "../kernels/max_pool2d.ts";
import { lrn, lrnBackward } from "../kernels/lrn.ts";
import { matmul } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";
import { gflops, timeGpu, tunedSync } from "./_timing.ts";

/** One row of the layer table. */
export interface LayerResult {
  layer: string;
  pass: string;
  ms: number;
  /** GFLOP/s for convolutions and products, GB/s for pools and LRN. */
  rate: number;
  unit: "GFLOP/s" | "GB/s";
}

/** A square convolution's geometry: `c` channels of `hw`², `o` outputs, `k`² kernel. */
export function squareConv(
  batch: number,
  c: number,
  hw: number,
  o: number,
  k: number,
  s: number,
  p: number,
  groups = 1,
): Conv2dGeometry {
  return {
    batch,
    inChannels: c,
    height: hw,
    width: hw,
    outChannels: o,
    kernelH: k,
    kernelW: k,
    strideH: s,
    strideW: s,
    padH: p,
    padW: p,
    groups,
  };
}

/** AlexNet's convolutions as kernel geometries at batch `batch`. */
export function alexnetConvs(batch: number): { name: string; g: Conv2dGeometry }[] {
  const conv = (
    name: string,
    ...shape: [number, number, number, number, number, number, number]
  ) => ({
    name,
    g: squareConv(batch, ...shape),
  });
  return [
    conv("conv1", 3, 227, 96, 11, 4, 0, 1),
    conv("conv2", 96, 27, 256, 5, 1, 2, 2),
    conv("conv3", 256, 13, 384, 3, 1, 1, 1),
    conv("conv4", 384, 13, 384, 3, 1, 1, 2),
    conv("conv5", 384, 13, 256, 3, 1, 1, 2),
  ];
}

/** Multiply-adds ×2 of one convolution's forward pass (each gradient costs the same). */
export function convFlops(g: Conv2dGeometry): number {
  const { outH, outW } = conv2dOutputSize(g);
  return 2 * g.batch * g.outChannels * outH * outW * (g.inChannels / g.groups) * g.kernelH *
    g.kernelW;
}

function randomBuffer(device: Device, n: number, std: number): GpuBuffer {
  const buffer = device.alloc(n * 4);
  fillRandom(device, buffer, n, { kind: "normal", mean: 0, std }, { seed: [3, 4], offset: 0 });
  return buffer;
}

/** Measures every AlexNet layer's passes at `batch` on `device`. */
export async function benchLayers(device: Device, batch: number): Promise<LayerResult[]> {
  const results: LayerResult[] = [];
  const iterations = device.isSoftware ? 1 : 10;
  const time = (body: () => void) =>
    timeGpu(body, () => tunedSync(device), { iterations, minMs: device.isSoftware ? 0 : 200 });
  for (const { name, g } of alexnetConvs(batch)) {
    const { outH, outW } = conv2dOutputSize(g);
    const x = randomBuffer(device, g.batch * g.inChannels * g.height * g.width, 1);
    const w = randomBuffer(
      device,
      g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW,
      0.01,
    );
    const out = randomBuffer(device, g.batch * g.outChannels * outH * outW, 1);
    const gradX = device.alloc(g.batch * g.inChannels * g.height * g.width * 4);
    const gradW = device.alloc(
      g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW * 4,
    );
    const flops = convFlops(g);
    const passes: [string, () => void][] = [
      ["forward", () => conv2d(device, g, { x, w, out })],
      ["grad input", () => conv2dBackwardInput(device, g, { gradOut: out, w, gradX })],
      ["grad weight", () => conv2dBackwardWeight(device, g, { x, gradOut: out, gradW })],
    ];
    for (const [pass, body] of passes) {
      const t = await time(body);
      results.push({ layer: name, pass, ms: t.ms, rate: gflops(flops, t.ms), unit: "GFLOP/s" });
    }
    [x, w, out, gradX, gradW].forEach((b) => device.release(b));
  }
  const pools: [string, number, number][] = [["pool1", 96, 55], ["pool2", 256, 27], [
    "pool5",
    256,
    13,
  ]];
  for (const [name, channels, size] of pools) {
    const g: Pool2dGeometry = {
      batch,
      channels,
      height: size,
      width: size,
      kernelH: 3,
      kernelW: 3,
      strideH: 2,
      strideW: 2,
      padH: 0,
      padW: 0,
    };
    const outSize = Math.floor((size - 3) / 2) + 1;
    const inN = batch * channels * size * size, outN = batch * channels * outSize * outSize;
    const x = randomBuffer(device, inN, 1), out = device.alloc(outN * 4);
    const argmax = device.alloc(outN * 4), gradX = device.alloc(inN * 4);
    const fwd = await time(() => maxPool2d(device, g, { x, out, argmax }));
    results.push({
      layer: name,
      pass: "forward",
      ms: fwd.ms,
      rate: (inN + 2 * outN) * 4 / fwd.ms / 1e6,
      unit: "GB/s",
    });
    const bwd = await time(() => maxPool2dBackward(device, g, { gradOut: out, argmax, gradX }));
    results.push({
      layer: name,
      pass: "backward",
      ms: bwd.ms,
      rate: (inN + 2 * outN) * 4 / bwd.ms / 1e6,
      unit: "GB/s",
    });
    [x, out, argmax, gradX].forEach((b) => device.release(b));
  }
  const norms: [string, number, number][] = [["norm1", 96, 55], ["norm2", 256, 27]];
  for (const [name, channels, size] of norms) {
    const shape = { batch, channels, height: size, width: size };
    const p = { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: channels / 2 };
    const n = batch * channels * size * size;
    const x = randomBuffer(device, n, 1), out = device.alloc(n * 4), scale = device.alloc(n * 4);
    const gradX = device.alloc(n * 4);
    const fwd = await time(() => lrn(device, shape, p, { x, out, scale }));
    results.push({
      layer: name,
      pass: "forward",
      ms: fwd.ms,
      rate: 3 * n * 4 / fwd.ms / 1e6,
      unit: "GB/s",
    });
    const bwd = await time(() => lrnBackward(device, shape, p, { x, scale, gradOut: out, gradX }));
    results.push({
      layer: name,
      pass: "backward",
      ms: bwd.ms,
      rate: 4 * n * 4 / bwd.ms / 1e6,
      unit: "GB/s",
    });
    [x, out, scale, gradX].forEach((b) => device.release(b));
  }
  const fcs: [string, number, number][] = [["fc6", 9216, 4096], ["fc7", 4096, 4096], [
    "fc8",
    4096,
    1000,
  ]];
  for (const [name, inF, outF] of fcs) {
    const x = randomBuffer(device, batch * inF, 1), w = randomBuffer(device, outF * inF, 0.01);
    const y = randomBuffer(device, batch * outF, 1);
    const gx = device.alloc(batch * inF * 4), gw = device.alloc(outF * inF * 4);
    const flops = 2 * batch * inF * outF;
    const passes: [string, () => void][] = [
      [
        "forward",
        () => matmul(device, { a: x, b: w, out: y, m: batch, n: outF, k: inF, transB: true }),
      ],
      ["grad input", () => matmul(device, { a: y, b: w, out: gx, m: batch, n: inF, k: outF })],
      [
        "grad weight",
        () => matmul(device, { a: y, b: x, out: gw, m: outF, n: inF, k: batch, transA: true }),
      ],
    ];
    for (const [pass, body] of passes) {
      const t = await time(body);
      results.push({ layer: name, pass, ms: t.ms, rate: gflops(flops, t.ms), unit: "GFLOP/s" });
    }
    [x, w, y, gx, gw].forEach((b) => device.release(b));
  }
  return results;
}

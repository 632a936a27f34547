/**
 * The convolution kernels' reference check: runs the forward pass, both gradients and the bias
 * gradient (alone and from the weight gradient's kernel) under forced variants on random data,
 * and compares each with the float64 references of `_reference.ts` (dilation included).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Device, GpuBuffer } from "../kernels/device.ts";
import {
  conv2d,
  type Conv2dGeometry,
  conv2dOutputSize,
  type ConvAlgorithm,
  type DirectTile,
} from "../kernels/conv2d.ts";
import {
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  type WeightTile,
} from "../kernels/conv2d_backward.ts";
import { relativeError } from "./_gradcheck.ts";
import * as ref from "./_reference.ts";

/** Largest relative error (L2) of a kernel against the float64 reference. */
export const TOL = 1e-5;

/** The reference's options for a kernel geometry. */
export function refOptions(g: Conv2dGeometry): ref.Conv2dOptions {
  return {
    stride: [g.strideH, g.strideW],
    padding: [g.padH, g.padW],
    groups: g.groups,
    dilation: [g.dilationH ?? 1, g.dilationW ?? 1],
  };
}

/** ∂L/∂x, ∂L/∂w, ∂L/∂b of L = Σ conv2d(x, w, b) ⊙ dy, in float64, by the definition. */
export function backwardReference(g: Conv2dGeometry, x: ref.F64, w: ref.F64, dy: ref.F64) {
  const { dx, dw, db } = ref.conv2dBackward(x, w, dy, refOptions(g));
  return { dx: dx.data, dw: dw.data, db: db.data };
}

/** `data` as f32 in a new buffer. */
export function upload(device: Device, data: ArrayLike<number>): GpuBuffer {
  const buf = device.alloc(data.length * 4);
  device.write(buf, Float32Array.from(data));
  return buf;
}

/** `count` f32 values of `buf`. */
export async function download(
  device: Device,
  buf: GpuBuffer,
  count: number,
): Promise<Float32Array> {
  return new Float32Array(await device.read(buf, 0, count * 4));
}

/** Asserts a relative error of at most {@link TOL}. */
export function close(label: string, got: Float32Array, want: ArrayLike<number>): void {
  const err = relativeError(got, want);
  assert.ok(err <= TOL, `${label}: relative error ${err} > ${TOL}`);
}

/** One reference check: a geometry and the variants forced per pass. */
export interface Case {
  g: Conv2dGeometry;
  bias?: boolean;
  relu?: boolean;
  maxBindingBytes?: number;
  tiles?: { forward?: DirectTile; gradInput?: DirectTile; gradWeight?: WeightTile };
  /** Forces an algorithm per pass. */
  algorithms?: { forward?: ConvAlgorithm; gradInput?: ConvAlgorithm; gradWeight?: ConvAlgorithm };
  splits?: number;
  /** Add to random initial gradW and gradB. */
  accumulate?: boolean;
  /** The weight gradient computes no bias gradient (default: it does, checked separately). */
  noFusedBias?: boolean;
  seed?: number;
}

/** Runs all four kernels on random data and compares each with the float64 references. */
export async function check(device: Device, label: string, c: Case): Promise<void> {
  const { g } = c;
  const { outH, outW } = conv2dOutputSize(g);
  const rng = ref.mulberry32(c.seed ?? 1);
  const X = ref.randn([g.batch, g.inChannels, g.height, g.width], rng);
  const W = ref.randn([g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW], rng);
  const B = ref.randn([g.outChannels], rng);
  const DY = ref.randn([g.batch, g.outChannels, outH, outW], rng);
  const W0 = ref.randn(W.shape, rng), B0 = ref.randn(B.shape, rng);
  const nan = (n: number) => new Float64Array(n).fill(Number.NaN);
  const x = upload(device, X.data), w = upload(device, W.data), dy = upload(device, DY.data);
  const bias = c.bias ? upload(device, B.data) : undefined;
  // Outputs start as NaN (or the values to add to), so an element never written shows.
  const out = upload(device, nan(DY.data.length)), dx = upload(device, nan(X.data.length));
  const dw = upload(device, c.accumulate ? W0.data : nan(W.data.length));
  const db = upload(device, c.accumulate ? B0.data : nan(B.data.length));
  // The bias gradient twice: alone, and from the weight gradient's kernel.
  const dbFused = upload(device, c.accumulate ? B0.data : nan(B.data.length));
  const mb = c.maxBindingBytes;
  const algorithm = c.algorithms?.forward, tile = c.tiles?.forward;
  conv2d(device, g, { x, w, out, bias, relu: c.relu, maxBindingBytes: mb, tile, algorithm });
  conv2dBackwardInput(device, g, {
    gradOut: dy,
    w,
    gradX: dx,
    maxBindingBytes: mb,
    tile: c.tiles?.gradInput,
    algorithm: c.algorithms?.gradInput,
  });
  conv2dBackwardWeight(device, g, {
    x,
    gradOut: dy,
    gradW: dw,
    gradB: c.noFusedBias ? undefined : dbFused,
    accumulate: c.accumulate,
    maxBindingBytes: mb,
    tile: c.tiles?.gradWeight,
    splits: c.splits,
    algorithm: c.algorithms?.gradWeight,
  });
  conv2dBackwardBias(device, g, {
    gradOut: dy,
    gradB: db,
    accumulate: c.accumulate,
    maxBindingBytes: mb,
  });
  const got = {
    out: await download(device, out, DY.data.length),
    dx: await download(device, dx, X.data.length),
    dw: await download(device, dw, W.data.length),
    db: await download(device, db, B.data.length),
    dbFused: await download(device, dbFused, B.data.length),
  };
  const all = [x, w, dy, out, dx, dw, db, dbFused, ...(bias ? [bias] : [])];
  for (const buf of all) device.release(buf);
  let y = ref.conv2d(X, W, c.bias ? B : null, refOptions(g));
  if (c.relu) y = ref.relu(y);
  const r = backwardReference(g, X, W, DY);
  if (c.accumulate) {
    r.dw.forEach((v, i) => r.dw[i] = v + W0.data[i]);
    r.db.forEach((v, i) => r.db[i] = v + B0.data[i]);
  }
  close(`${label}: forward`, got.out, y.data);
  close(`${label}: gradInput`, got.dx, r.dx);
  close(`${label}: gradWeight`, got.dw, r.dw);
  close(`${label}: gradBias`, got.db, r.db);
  if (!c.noFusedBias) close(`${label}: gradBias from the weight gradient`, got.dbFused, r.db);
}

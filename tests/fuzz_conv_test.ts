/**
 * A seeded randomized sweep of the convolution kernels on shapes no other test names: batch
 * 1–5, 1–40 channels (odd, prime, grouped), 1–35 pixels, kernels 1–7 (non-square too), stride
 * 1–4, padding 0–3, dilation 1–3 (non-square too), with and without bias and ReLU, the input gradient's ReLU mask and the
 * weight gradient's accumulation. Every pass runs under EVERY candidate the autotuner could pick
 * on this adapter (direct, the GEMM core's tiles, the register GEMM, split-K, Winograd, the 1×1
 * GEMM, the stride-phase input gradient), plus the direct kernels' GPU tiles and split counts
 * (dilated too), and each is compared elementwise with the float64 reference under the accumulation bound of
 * `_fuzz.ts`. `FUZZ_SEED=s FUZZ_ITERS=k` runs k times as many shapes from seed s.
 */

import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  conv2d,
  type Conv2dGeometry,
  conv2dOutputSize,
  type ConvAlgorithm,
  convCandidates,
  type ConvPass,
  type DirectTile,
} from "../kernels/conv2d.ts";
import {
  conv2dBackwardBias,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dTiles,
  type WeightTile,
} from "../kernels/conv2d_backward.ts";
import { isDilated, resolve } from "../kernels/_conv_geometry.ts";
import { winogradTooLarge } from "../kernels/_winograd.ts";
import * as ref from "./_reference.ts";
import { assertAccumulated, Draw, fuzzing, fuzzSeeds, WINOGRAD_AMPLIFICATION } from "./_fuzz.ts";
import assert, { AssertionError } from "node:assert/strict";

/** Largest multiply-adds of one drawn convolution (keeps the float64 reference and lavapipe quick). */
const MAX_MACS = 600_000;

interface ConvCase {
  g: Conv2dGeometry;
  bias: boolean;
  relu: boolean;
  /** The input gradient is masked by a ReLU output. */
  mask: boolean;
  /** The weight and bias gradients add to what their buffers hold. */
  accumulate: boolean;
  /** A binding limit that splits the batch into runs of samples (unaligned starts too). */
  maxBindingBytes?: number;
}

/**
 * A random valid convolution; one in five is 1×1, one in five 3×3 or 5×5 at stride 1 and one
 * in five dilated (and a quarter of the rest), stratified by the seed (seed mod 5 picks the
 * fifth), so any five seeds in a row hold all three.
 */
function drawCase(d: Draw, seed: number): ConvCase {
  for (;;) {
    const form = (seed % 5 + d.next()) / 5;
    const kernelH = form < 0.2 ? 1 : form < 0.4 ? d.pick([3, 5]) : d.int(1, 7);
    const kernelW = form < 0.4 || d.chance(0.6) ? kernelH : d.int(1, 7);
    const strideH = form < 0.4 ? 1 : d.pick([1, 1, 2, 2, 3, 4]);
    const strideW = form < 0.4 || d.chance(0.7) ? strideH : d.int(1, 4);
    const padH = form < 0.2 ? 0 : d.int(0, 3);
    const padW = form < 0.2 || d.chance(0.7) ? padH : d.int(0, 3);
    const groups = form < 0.2 ? 1 : d.pick([1, 1, 1, 2, 3]);
    const cg = d.int(1, Math.floor(40 / groups)), og = d.int(1, Math.floor(40 / groups));
    const dilate = form >= 0.4 && (form < 0.6 || d.chance(0.25));
    const dilationH = dilate ? d.int(1, 3) : 1;
    const dilationW = dilate && d.chance(0.4) ? d.int(1, 3) : dilationH;
    const g: Conv2dGeometry = {
      batch: d.int(1, 5),
      inChannels: cg * groups,
      outChannels: og * groups,
      height: d.int(1, 35),
      width: d.int(1, 35),
      kernelH,
      kernelW,
      strideH,
      strideW,
      padH,
      padW,
      groups,
      ...(dilate ? { dilationH: Math.max(dilationH, 2), dilationW } : {}),
    };
    const spanH = (g.dilationH ?? 1) * (kernelH - 1) + 1;
    const spanW = (g.dilationW ?? 1) * (kernelW - 1) + 1;
    if (g.height + 2 * padH < spanH || g.width + 2 * padW < spanW) continue;
    const { outH, outW } = conv2dOutputSize(g);
    if (g.batch * g.outChannels * outH * outW * cg * kernelH * kernelW > MAX_MACS) continue;
    // Room for one or two samples of the largest tensor, plus an unaligned start.
    const sample = 4 * Math.max(g.inChannels * g.height * g.width, g.outChannels * outH * outW);
    return {
      g,
      bias: d.chance(0.5),
      relu: d.chance(0.3),
      mask: d.chance(0.3),
      accumulate: d.chance(0.3),
      maxBindingBytes: g.batch > 1 && d.chance(0.3) ? sample * d.int(1, 2) + 256 : undefined,
    };
  }
}

/** `n` f32 values of `data`, on the device. */
function upload(device: Device, data: ArrayLike<number>): GpuBuffer {
  const buf = device.alloc(Math.max(data.length, 1) * 4);
  device.write(buf, Float32Array.from(data));
  return buf;
}

/** An algorithm run for one pass, by name: the candidates, then the direct kernels' other tiles. */
interface Variant {
  name: string;
  algorithm?: ConvAlgorithm;
  /** Forces the direct kernel with the tiles a GPU would pick. */
  gpuTiles?: boolean;
  /** Forces the direct kernel with this register tile. */
  tile?: DirectTile | WeightTile;
  /** The direct weight gradient's partial sums per run. */
  splits?: number;
}

/** The candidates of a pass, the direct kernels with a GPU's tiles, and maybe a random tile. */
function withTiles(device: Device, pass: ConvPass, g: Conv2dGeometry, d: Draw): Variant[] {
  const list: Variant[] = convCandidates(device, pass, resolve(g, "fuzz")).map((c) => ({
    name: c.name,
    algorithm: c.value,
  }));
  list.push({ name: "direct, GPU tiles", gpuTiles: true });
  // A register tile of the direct kernel that no cost model picked, within its register limits:
  // in one pass of three (each tile compiles a pipeline of its own, seconds on lavapipe).
  if (!d.chance(1 / 3)) return list;
  const wg = d.pick([8, 64]);
  let tile: DirectTile | WeightTile;
  if (pass === "gradWeight") {
    const q = d.pick([4, 8, 12, 16]), qc = d.int(1, 4);
    const most = Math.min(g.kernelH, Math.floor(256 / (q * qc * g.kernelW)));
    tile = { q, qc, kb: d.int(1, Math.max(1, most)), wg };
  } else {
    // At most 64 vec4 accumulators (ty·tx·q/4) and 128 row registers (ty·columns).
    // Columns a row: (tx − 1)·stride + the kernel's span (an upper bound for the input gradient's).
    const q = d.pick([4, 8]), ty = d.int(1, 8), sx = g.strideW;
    const kx = (g.dilationW ?? 1) * (g.kernelW - 1) + 1;
    const most = Math.min(Math.floor(256 / (ty * q)), Math.floor((128 / ty - kx) / sx) + 1);
    tile = { ty, tx: d.int(1, Math.max(1, most)), q, wg };
  }
  list.push({ name: `direct, tile ${JSON.stringify(tile)}`, tile });
  return list;
}

/** The candidates of a pass plus the direct kernels' other tiles, and split counts. */
function variants(device: Device, pass: ConvPass, g: Conv2dGeometry, d: Draw): Variant[] {
  const list = withTiles(device, pass, g, d);
  if (pass === "gradWeight") {
    const splits = d.int(2, 9);
    list.push({ name: `direct, ${splits} splits`, algorithm: { kind: "direct" }, splits });
  }
  return list;
}

/**
 * Whether a forced Winograd refuses the case: its scratch for one sample exceeds the binding
 * limit (a default choice of Winograd falls back to the direct kernel instead).
 */
function refuses(device: Device, c: ConvCase, v: Variant, pass: "forward" | "gradInput"): boolean {
  const g = resolve(c.g, "fuzz");
  return v.algorithm?.kind === "winograd" &&
    winogradTooLarge(device, g, pass, c.maxBindingBytes) !== null;
}

function amplification(v: Variant, g: Conv2dGeometry): number {
  return v.algorithm?.kind === "winograd" ? WINOGRAD_AMPLIFICATION[g.kernelH] : 1;
}

const abs = (x: ref.F64): ref.F64 => ref.map(x, Math.abs);

/** Runs every variant of the three passes on one case and checks each against float64. */
async function checkCase(device: Device, seed: number): Promise<string[]> {
  const d = new Draw(seed);
  const c = drawCase(d, seed);
  const { g } = c;
  const { outH, outW } = conv2dOutputSize(g);
  const opts: ref.Conv2dOptions = {
    stride: [g.strideH, g.strideW],
    padding: [g.padH, g.padW],
    groups: g.groups,
    dilation: [g.dilationH ?? 1, g.dilationW ?? 1],
  };
  const f32 = (x: ref.F64) => ref.f64(x.shape, Float32Array.from(x.data));
  // Inputs of 1e4 too: the bound scales with them, and nothing may overflow or flush.
  const scale = d.pick([1, 1, 1e4]);
  const X = f32(ref.randn([g.batch, g.inChannels, g.height, g.width], d.next, scale));
  const W = f32(ref.randn([g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW], d.next));
  const B = f32(ref.randn([g.outChannels], d.next));
  const DY = f32(ref.randn([g.batch, g.outChannels, outH, outW], d.next));
  // The mask: a ReLU's output, zero (+0 or −0) where the ReLU cut.
  const M = ref.map(ref.randn(X.shape, d.next), (v) => (v > 0 ? v : d.chance(0.5) ? 0 : -0));
  const W0 = f32(ref.randn(W.shape, d.next)), B0 = f32(ref.randn(B.shape, d.next));

  let y = ref.conv2d(X, W, c.bias ? B : null, opts);
  if (c.relu) y = ref.relu(y);
  const yMag = ref.conv2d(abs(X), abs(W), c.bias ? abs(B) : null, opts);
  const grads = ref.conv2dBackward(X, W, DY, opts);
  const mags = ref.conv2dBackward(abs(X), abs(W), abs(DY), opts);
  const dx = c.mask ? ref.map(grads.dx, (v) => v) : grads.dx;
  if (c.mask) M.data.forEach((m, i) => (dx.data[i] = m > 0 ? grads.dx.data[i] : 0));
  const dw = c.accumulate ? ref.add(grads.dw, W0) : grads.dw;
  const db = c.accumulate ? ref.add(grads.db, B0) : grads.db;
  const dwMag = c.accumulate ? ref.add(mags.dw, abs(W0)) : mags.dw;
  const dbMag = c.accumulate ? ref.add(mags.db, abs(B0)) : mags.db;

  const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
  const depth = {
    forward: cg * g.kernelH * g.kernelW + 1,
    gradInput: og * g.kernelH * g.kernelW,
    gradWeight: g.batch * outH * outW + 1,
  };
  const label = `seed ${seed}: ${JSON.stringify(c)}`;
  const x = upload(device, X.data), w = upload(device, W.data), dyBuf = upload(device, DY.data);
  const bias = c.bias ? upload(device, B.data) : undefined;
  const mask = c.mask ? upload(device, M.data) : undefined;
  const owned = [x, w, dyBuf, ...(bias ? [bias] : []), ...(mask ? [mask] : [])];
  const tiles = conv2dTiles(g, false);
  const nan = (n: number) => new Float32Array(n).fill(Number.NaN);
  const read = async (buf: GpuBuffer, n: number) =>
    new Float32Array(await device.read(buf, 0, n * 4));
  const ran: string[] = [];
  /** The pass and variant running, for an error the kernels throw. */
  let running = "";
  try {
    for (const v of variants(device, "forward", g, d)) {
      running = `forward, ${v.name}`;
      const out = upload(device, nan(y.data.length));
      const tile = v.gpuTiles ? tiles.forward : v.tile as DirectTile | undefined;
      const { relu, maxBindingBytes } = c;
      const call = () =>
        conv2d(device, g, { x, w, out, bias, relu, algorithm: v.algorithm, tile, maxBindingBytes });
      if (refuses(device, c, v, "forward")) {
        device.release(out);
        assert.throws(
          call,
          /conv2d: Winograd forward of \d+x.* scratch takes \d+ bytes, more than the \d+-byte binding limit/,
        );
        continue;
      }
      call();
      const got = await read(out, y.data.length);
      device.release(out);
      const at = `${label}\n  forward, ${v.name}`;
      assertAccumulated(at, got, y.data, yMag.data, depth.forward, amplification(v, g));
      ran.push(`forward ${v.name}`);
    }
    for (const v of variants(device, "gradInput", g, d)) {
      running = `gradInput, ${v.name}`;
      const gradX = upload(device, nan(X.data.length));
      const tile = v.gpuTiles ? tiles.gradInput : v.tile as DirectTile | undefined;
      const call = () =>
        conv2dBackwardInput(device, g, {
          gradOut: dyBuf,
          w,
          gradX,
          mask,
          algorithm: v.algorithm,
          tile,
          maxBindingBytes: c.maxBindingBytes,
        });
      if (refuses(device, c, v, "gradInput")) {
        device.release(gradX);
        assert.throws(
          call,
          /conv2dBackwardInput: Winograd input gradient of .* more than the \d+-byte/,
        );
        continue;
      }
      call();
      const got = await read(gradX, X.data.length);
      device.release(gradX);
      const at = `${label}\n  gradInput, ${v.name}`;
      assertAccumulated(at, got, dx.data, mags.dx.data, depth.gradInput, amplification(v, g));
      ran.push(`gradInput ${v.name}`);
    }
    for (const v of variants(device, "gradWeight", g, d)) {
      running = `gradWeight, ${v.name}`;
      const gradW = upload(device, c.accumulate ? W0.data : nan(W.data.length));
      const gradB = upload(device, c.accumulate ? B0.data : nan(B.data.length));
      const tile = v.gpuTiles ? tiles.gradWeight : v.tile as WeightTile | undefined;
      conv2dBackwardWeight(device, g, {
        x,
        gradOut: dyBuf,
        gradW,
        gradB,
        accumulate: c.accumulate,
        algorithm: v.algorithm,
        tile,
        splits: v.splits,
        maxBindingBytes: c.maxBindingBytes,
      });
      const gotW = await read(gradW, W.data.length), gotB = await read(gradB, B.data.length);
      device.release(gradW);
      device.release(gradB);
      const at = `${label}\n  gradWeight, ${v.name}`;
      assertAccumulated(`${at}: weights`, gotW, dw.data, dwMag.data, depth.gradWeight);
      assertAccumulated(`${at}: bias`, gotB, db.data, dbMag.data, depth.gradWeight);
      ran.push(`gradWeight ${v.name}`);
    }
    running = "gradBias alone";
    const gradB = upload(device, c.accumulate ? B0.data : nan(B.data.length));
    const { accumulate, maxBindingBytes } = c;
    conv2dBackwardBias(device, g, { gradOut: dyBuf, gradB, accumulate, maxBindingBytes });
    const got = await read(gradB, B.data.length);
    device.release(gradB);
    assertAccumulated(`${label}\n  gradBias alone`, got, db.data, dbMag.data, depth.gradWeight);
    if (isDilated(resolve(g, "fuzz"))) {
      ran.push("dilated");
    }
  } catch (error) {
    if (error instanceof AssertionError) throw error;
    throw new Error(`${label}\n  ${running}: ${(error as Error).message}`, { cause: error });
  } finally {
    for (const buf of owned) device.release(buf);
  }
  return ran;
}

Deno.test("fuzz: every convolution variant on random shapes against float64", async (t) => {
  const device = await Device.acquire();
  const seen = new Set<string>();
  try {
    for (const seed of fuzzSeeds("conv2d", 6)) {
      await t.step(`seed ${seed}`, async () => {
        for (const name of await checkCase(device, seed)) seen.add(name.replace(/ split \d+/, ""));
      });
    }
    // The fixed seeds reach the special algorithms, not only the general ones.
    const kinds = [...seen].join("; ");
    for (const kind of ["winograd", "pointwise", "gemm", "dilated"]) {
      if (!fuzzing() && !kinds.includes(kind)) {
        throw new Error(`the sweep never ran ${kind}: ${kinds}`);
      }
    }
  } finally {
    device.destroy();
  }
});

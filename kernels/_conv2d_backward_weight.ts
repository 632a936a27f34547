/**
 * Gradients of {@link conv2d}'s parameters: the weights (an implicit GEMM over the N·OH·OW
 * output pixels, split over invocations into partial sums that a second kernel adds in a fixed
 * order) and the bias (a fixed-order tree sum alone, or summed by the weight gradient's kernel
 * as it reads gradOut, in the same partial sums). No float atomics, so every run gives
 * identical bits. The weight gradient also runs on the GEMM core (`_conv_gemm.ts`, split-K)
 * and a 1×1 one's as a matmul (`_pointwise.ts`), chosen as for the forward pass.
 *
 * Public through `conv2d_backward.ts`, which holds the input gradient.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { Uniforms } from "./_uniforms.ts";
import { memoised } from "./_memo.ts";
import { sumPartials } from "./_split_k.ts";
import { choose, withScratch } from "./autotune.ts";
import { checkGemm, weightGradGemm } from "./_conv_gemm.ts";
import { type ConvAlgorithm, convCandidates } from "./_conv_algorithms.ts";
import { POINTWISE_ONLY, pointwiseApplies, pointwiseWeightGrad } from "./_pointwise.ts";
import { flatMainHead } from "./_program.ts";
import {
  batchRuns,
  checkCapacity,
  type Conv2dGeometry,
  dilationTag,
  freshColumns,
  geometryKey,
  lines,
  pickWeightTile,
  resolve,
  type Resolved,
  weightInvocations,
  type WeightTile,
} from "./_conv_geometry.ts";

/** Buffers and options of {@link conv2dBackwardWeight}. */
export interface Conv2dBackwardWeightArgs {
  /** Input `[N, C, H, W]` of the forward pass. */
  x: GpuBuffer;
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Gradient of the weights `[O, C/groups, KH, KW]`, written (or added to). */
  gradW: GpuBuffer;
  /**
   * Gradient of the bias `[O]`, written (or added to) by the same pass: the sums of gradOut per
   * channel, which the weight gradient's kernel reads anyway. Without it no bias gradient is
   * computed ({@link conv2dBackwardBias} computes it alone).
   */
  gradB?: GpuBuffer;
  /** Add to gradW (and gradB) instead of overwriting them. */
  accumulate?: boolean;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
  /** Register tile of the direct kernel (forces it); by default one chosen for the problem. */
  tile?: WeightTile;
  /** Partial sums per run of samples of the direct kernel (default: enough to fill the device). */
  splits?: number;
  /** Forces an algorithm; by default the autotuner's choice, else the adapter's default. */
  algorithm?: ConvAlgorithm;
}

/** Scratch for partial sums is kept under this size (and under one binding). */
const PARTIAL_BYTES = 64 << 20;

/**
 * gradW = ∂L/∂w of `out = conv2d(x, w)` given gradOut: for every weight, the sum over samples
 * and output pixels of gradOut times the input value that weight met. The (sample, output row)
 * pairs are split into `splits` ranges whose partial sums land in a scratch buffer and are then
 * added in ascending order; runs of samples (batch splitting) add to gradW in order. With
 * `gradB`, the same kernels also sum gradOut per channel (the bias gradient), in the same
 * partial sums: no pass of its own.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardWeight } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const x = device.alloc(36), gradOut = device.alloc(16), gradW = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
 * device.write(gradOut, new Float32Array([1, 1, 1, 1]));
 * conv2dBackwardWeight(device, g, { x, gradOut, gradW });
 * console.log(new Float32Array(await device.read(gradW, 0, 16))); // [12, 16, 24, 28]
 * ```
 */
export function conv2dBackwardWeight(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardWeightArgs,
): void {
  const what = "conv2dBackwardWeight";
  const g = resolve(geometry, what);
  const inSample = g.inChannels * g.height * g.width;
  const outSample = g.outChannels * g.outH * g.outW;
  const nw = g.outChannels * g.wk;
  checkCapacity(args.x, g.batch * inSample, `${what}: x`);
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.gradW, nw, `${what}: gradW`);
  if (args.gradB) checkCapacity(args.gradB, g.outChannels, `${what}: gradB`);
  const algorithm = args.algorithm ??
    (args.tile || args.splits ? { kind: "direct" } : choose(
      device,
      "conv2d.gradWeight",
      geometryKey(g),
      () => convCandidates(device, "gradWeight", g),
      (algorithm) =>
        withScratch(
          device,
          [g.batch * inSample, g.batch * outSample, nw, g.outChannels],
          ([x, gradOut, gradW, gradB]) =>
            conv2dBackwardWeight(device, g, {
              ...args,
              x,
              gradOut,
              gradW,
              gradB: args.gradB && gradB,
              algorithm,
            }),
        ),
    ).value);
  if (algorithm.kind === "pointwise") {
    if (!pointwiseApplies(g)) throw new RangeError(`${what}: ${POINTWISE_ONLY}`);
    const { x, gradOut, gradW: dw, gradB: db, maxBindingBytes, accumulate } = args;
    const { tile, splits } = algorithm;
    const o = { tile, splits, maxBindingBytes, accumulate: !!accumulate };
    pointwiseWeightGrad(device, g, { x, dy: gradOut, dw, db }, o);
    return;
  }
  const tile = args.tile ?? pickWeightTile(g, device.isSoftware);
  if (tile.q % 4 !== 0 || tile.qc < 1 || tile.kb < 1 || tile.kb > g.kernelH || tile.wg < 1) {
    throw new RangeError(`${what}: unusable tile ${JSON.stringify(tile)}`);
  }
  const limit = Math.min(
    args.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
  );
  const invocations = weightInvocations(g, tile);
  const gradW = { buffer: args.gradW, size: nw * 4 };
  const gradB = args.gradB && { buffer: args.gradB, size: g.outChannels * 4 };
  // A block of partial sums: the weights, then the bias.
  const block = nw + (gradB ? g.outChannels : 0);
  const runs = batchRuns(device, g.batch, [inSample, outSample], args.maxBindingBytes, what);
  runs.forEach(({ count, parts: [xPart, dyPart] }, index) => {
    const accumulate = index > 0 || !!args.accumulate;
    const x = { buffer: args.x, ...xPart.range };
    const dy = { buffer: args.gradOut, ...dyPart.range };
    // A GPU wants many more invocations than a direct kernel (each walks a long reduction):
    // splitting conv2–5 at batch 128 into ~64K invocations ran 1.5–3× faster on an H200.
    const wanted = args.splits ?? Math.ceil((device.isSoftware ? 64 : 65536) / invocations);
    const room = Math.floor(Math.min(limit, PARTIAL_BYTES) / (block * 4));
    const splits = Math.max(1, Math.min(wanted, count * g.outH, room));
    const name = `${what} ${count}×${g.inChannels}×${g.height}×${g.width}→` +
      `${g.outChannels} k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} g${g.groups}` +
      dilationTag(g);
    if (algorithm.kind === "winograd") {
      throw new RangeError(`${name}: Winograd is offered for the forward pass and input gradient`);
    }
    if (algorithm.kind === "gemm") {
      checkGemm(device, algorithm, name);
      // Split-K scratch stays within one binding and PARTIAL_BYTES, like the direct kernel's.
      const v = { ...algorithm, splits: Math.max(1, Math.min(algorithm.splits ?? 1, room)) };
      const run = { count, x: xPart, dy: dyPart };
      weightGradGemm(device, g, v, run, { x, dy, dw: gradW, db: gradB }, accumulate, name);
      return;
    }
    // Partial sums (split) and a plain write share one kernel; adding to gradW is another.
    const store = splits === 1 && accumulate ? "add" : "write";
    const { wgsl, uniforms } = weightGradKernel(
      g,
      tile,
      count,
      xPart.shift,
      dyPart.shift,
      splits,
      store,
      !!gradB,
    );
    const workgroups = Math.ceil((invocations * splits) / tile.wg);
    const variant = `direct ${tile.q}×${tile.qc}×${tile.kb}/${tile.wg} split ${splits}` +
      (gradB ? " +bias" : "");
    const flops = 2 * count * g.outH * g.outW * g.outChannels * g.wk;
    const kernel = { name, wgsl, uniforms, workgroups, variant, cost: { flops } };
    if (splits === 1) {
      device.dispatch(kernel, [x, dy, gradW, ...(gradB ? [gradB] : [])]);
      return;
    }
    const bytes = splits * block * 4;
    const partial = { buffer: device.alloc(bytes, "conv2d partials"), size: bytes };
    // The bias sums go after the weights in each split's block: `db` is the scratch again.
    device.dispatch(kernel, [x, dy, partial, ...(gradB ? [partial] : [])]);
    const tail = gradB && { dst: gradB, n: g.outChannels };
    sumPartials(device, { name, partial, dst: gradW, n: nw, splits, accumulate, tail });
    // Commands already recorded keep the buffer's contents; later users are ordered after them.
    device.release(partial.buffer);
  });
}

/** {@link weightGradWgsl}, generated once per arguments (a step repeats its shapes). */
const weightGradKernel = memoised(weightGradWgsl);

/**
 * The weight-gradient kernel and its uniforms. An invocation owns q output channels × qc input
 * channels × kb kernel rows × every kernel column of one group and walks its share of the
 * (sample, output row) pairs. Along an output row it keeps, per (input channel, kernel row), a
 * window of KW input columns in registers and slides it by the stride, so each input value is
 * loaded once per row; accumulator n·q4 + j holds tap n (channel, row, column) for channels
 * 4j..4j+3. With `bias`, every invocation also sums its channels' gradOut (the values it
 * multiplies), and those of the first input-channel and kernel-row block store the sums: the
 * bias gradient, after the weights in a block of partial sums. Dilated, the taps sit dilationH
 * rows and dilationW columns apart, and the window slides where dilationW divides the stride
 * (`freshColumns`). The WGSL depends on the tile, KW, the fresh columns, the dilation, the store
 * mode and `bias` only: split s writes its block at s·block
 * of `dst` (and its bias sums at `biasAt` + s·block of `db`), so an unsplit write (s = 0,
 * gradW and gradB) and the partial sums (`dst` and `db` both the scratch, `biasAt` past the
 * weights) are one pipeline.
 */
function weightGradWgsl(
  g: Resolved,
  t: WeightTile,
  count: number,
  xShift: number,
  dyShift: number,
  splits: number,
  store: "write" | "add",
  bias: boolean,
): { wgsl: string; uniforms: Uint32Array } {
  const { q, qc, kb } = t;
  const kw = g.kernelW;
  const [dH, dW] = [g.dilationH, g.dilationW];
  const fresh = freshColumns(g); // new input columns per output column
  const q4 = q / 4;
  const taps = qc * kb * kw;
  const rows = count * g.outH;
  const [blocksK, blocksC, blocksO] = [g.kernelH / kb, g.cg / qc, g.og / q].map(Math.ceil);
  const invocations = blocksK * blocksC * blocksO * g.groups;
  const uf = new Uniforms();
  const U = uf.all({
    total: invocations * splits,
    invocations,
    blocksK,
    blocksC,
    blocksO,
    groups: g.groups,
    og: g.og,
    cg: g.cg,
    lastO: g.og - 1,
    lastC: g.cg - 1,
    hw: g.height * g.width,
    ohw: g.outH * g.outW,
    height: g.height,
    width: g.width,
    outH: g.outH,
    outW: g.outW,
    strideH: g.strideH,
    strideW: g.strideW,
    padH: g.padH,
    padW: g.padW,
    kernelH: g.kernelH,
    wk: g.wk,
    kernelPlane: g.kernelH * kw,
    rows,
    per: Math.ceil(rows / splits),
    xSample: g.inChannels * g.height * g.width,
    dySample: g.outChannels * g.outH * g.outW,
    xShift,
    dyShift,
    block: g.outChannels * g.wk + (bias ? g.outChannels : 0),
  });
  // Where the bias sums start in `db`: past the weights when `db` is the partial scratch.
  const biasAt = bias && splits > 1 ? g.outChannels * g.wk : 0;
  // Tap n = (c·kb + r)·KW + k: input channel c0 + c, kernel row ky0 + r, column k. Columns
  // k < KW − fresh come from the previous output column; the rest are loaded.
  const col = (n: number): number => n % kw;
  // Dilated, tap n's row and column sit dH and dW input pixels apart (literals, as KW is).
  const ld = (n: number, ox: string): string =>
    `v${n} = ldx(xs + xc${Math.floor(n / (kb * kw))}, iy0 + ${
      (Math.floor(n / kw) % kb) * dH
    }u, ${ox});`;
  const kept = (n: number): boolean => col(n) + fresh < kw;
  const preload = lines(taps, (n) => kept(n) ? ld(n, `${col(n) * dW}u - ${U.padW}`) : "");
  const ox = (n: number): string => `ox * ${U.strideW} + ${col(n) * dW}u - ${U.padW}`;
  const load = lines(taps, (n) => kept(n) ? "" : ld(n, ox(n)));
  const dy4 = (j: number): string => lines(4, (e) => `dy[ds + dc${j * 4 + e} + ox]`, ", ");
  const dys = lines(q4, (j) => `let d${j} = vec4<f32>(${dy4(j)});`);
  const fmas = lines(
    taps * q4,
    (i) => `a${i} = fma(vec4<f32>(v${i / q4 | 0}), d${i % q4}, a${i});`,
  );
  const slide = lines(taps, (n) => kept(n) ? `v${n} = v${n + fresh};` : "", " ");
  const shift = lines(taps * q4 - q4, (i) => `a${i} = a${i + q4};`, " ");
  const puts = lines(
    q,
    (j) => `if (o0 + ${j}u < ${U.og}) { put(wi + ${j}u * ${U.wk}, a${j >> 2}.${"xyzw"[j & 3]}); }`,
  );
  const put = store === "add" ? "dst[i] = dst[i] + v;" : `dst[s * ${U.block} + i] = v;`;
  // The bias gradient of channel o: its own buffer, or after the weights in the partial block.
  const putBias = !bias
    ? ""
    : store === "add"
    ? "db[o] = db[o] + v;"
    : `db[${uf.u32("biasAt", biasAt)} + s * ${U.block} + o] = v;`;
  const biasSums = bias ? lines(q4, (j) => `bs${j} += d${j};`) : "";
  const biasStores = bias
    ? `if (c0 == 0u && ky0 == 0u) {
    ${
      lines(q, (j) =>
        `if (o0 + ${j}u < ${U.og}) { putBias(g * ${U.og} + o0 + ${j}u, bs${j >> 2}.${
          "xyzw"[j & 3]
        }); }`)
    }
  }`
    : "";
  const body = `
var<private> s: u32;

fn put(i: u32, v: f32) {
  ${put}
}
${
    bias
      ? `
fn putBias(o: u32, v: f32) {
  ${putBias}
}
`
      : ""
  }
fn ldx(cb: u32, iy: u32, ix: u32) -> f32 {
  let ok = iy < ${U.height} && ix < ${U.width};
  return select(0.0, x[select(0u, cb + iy * ${U.width} + ix, ok)], ok);
}

${flatMainHead(t.wg, U.total, { index: "inv" })}
  let ky0 = (inv % ${U.blocksK}) * ${kb}u;
  let c0 = ((inv / ${U.blocksK}) % ${U.blocksC}) * ${qc}u;
  let o0 = ((inv / (${U.blocksK} * ${U.blocksC})) % ${U.blocksO}) * ${q}u;
  let g = (inv / (${U.blocksK} * ${U.blocksC} * ${U.blocksO})) % ${U.groups};
  s = inv / ${U.invocations};
  // Channels past the end read valid rows; their sums are never stored.
  ${lines(q, (j) => `let dc${j} = (g * ${U.og} + min(o0 + ${j}u, ${U.lastO})) * ${U.ohw};`)}
  ${lines(qc, (c) => `let xc${c} = (g * ${U.cg} + min(c0 + ${c}u, ${U.lastC})) * ${U.hw};`)}
  ${lines(taps * q4, (i) => `var a${i} = vec4<f32>(0.0);`)}
  ${lines(taps, (n) => `var v${n} = 0.0;`, " ")}
  ${bias ? lines(q4, (j) => `var bs${j} = vec4<f32>(0.0);`, " ") : ""}
  for (var row = s * ${U.per}; row < min(${U.rows}, (s + 1u) * ${U.per}); row++) {
    let b = row / ${U.outH};
    let oy = row % ${U.outH};
    let xs = ${U.xShift} + b * ${U.xSample};
    let ds = ${U.dyShift} + b * ${U.dySample} + oy * ${U.outW};
    // Kernel row ky0 meets input row oy·SH − PH + ky0 (wrapping u32: rows above are huge).
    let iy0 = oy * ${U.strideH} - ${U.padH} + ${dH === 1 ? "ky0" : `ky0 * ${dH}u`};
    ${preload}
    for (var ox = 0u; ox < ${U.outW}; ox++) {
      ${load}
      ${dys}
      ${biasSums}
      ${fmas}
      ${slide}
    }
  }
  // Taps leave in a run-time loop (store tap 0, shift the rest down): unrolled, every store
  // site would be a loop over the SIMD lanes on a software driver.
  for (var n = 0u; n < ${taps}u; n++) {
    let c = c0 + n / ${kb * kw}u;
    let ky = ky0 + (n / ${kw}u) % ${kb}u;
    if (c < ${U.cg} && ky < ${U.kernelH}) {
      let wi = (g * ${U.og} + o0) * ${U.wk} + c * ${U.kernelPlane} + ky * ${kw}u + n % ${kw}u;
      ${puts}
    }
    ${shift}
  }
  ${biasStores}
}
`;
  const head = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${bias ? "@group(0) @binding(3) var<storage, read_write> db: array<f32>;" : ""}
${uf.declare(bias ? 4 : 3)}`;
  return { wgsl: head + body, uniforms: uf.data() };
}

/** Buffers and options of {@link conv2dBackwardBias}. */
export interface Conv2dBackwardBiasArgs {
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Gradient of the bias `[O]`, written (or added to). */
  gradB: GpuBuffer;
  /** Add to gradB instead of overwriting it. */
  accumulate?: boolean;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
}

const BIAS_WG = 256;

/**
 * gradB[o] = Σ over samples and pixels of gradOut[·, o, ·, ·]: one workgroup per channel, each
 * invocation summing a fixed strided share, then a fixed tree in workgroup memory.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardBias } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const gradOut = device.alloc(16), gradB = device.alloc(4);
 * device.write(gradOut, new Float32Array([1, 2, 3, 4]));
 * conv2dBackwardBias(device, g, { gradOut, gradB });
 * console.log(new Float32Array(await device.read(gradB, 0, 4))); // [10]
 * ```
 */
export function conv2dBackwardBias(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardBiasArgs,
): void {
  const what = "conv2dBackwardBias";
  const g = resolve(geometry, what);
  const ohw = g.outH * g.outW;
  const outSample = g.outChannels * ohw;
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.gradB, g.outChannels, `${what}: gradB`);
  const runs = batchRuns(device, g.batch, [outSample], args.maxBindingBytes, what);
  runs.forEach(({ count, parts: [dy] }, index) => {
    const add = index > 0 || args.accumulate ? "gb[o] + " : "";
    const uf = new Uniforms();
    const U = uf.all({
      channels: g.outChannels,
      count: count * ohw,
      ohw,
      outSample,
      shift: dy.shift,
    });
    const wgsl = `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> gb: array<f32>;
${uf.declare(2)}
var<workgroup> part: array<f32, ${BIAS_WG}>;
${flatMainHead(BIAS_WG, U.channels, { index: "o", perWorkgroup: true })}
  var v = 0.0;
  for (var e = lid; e < ${U.count}; e += ${BIAS_WG}u) {
    v += dy[${U.shift} + (e / ${U.ohw}) * ${U.outSample} + o * ${U.ohw} + e % ${U.ohw}];
  }
  part[lid] = v;
  for (var half = ${BIAS_WG / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) { part[lid] += part[lid + half]; }
  }
  if (lid == 0u) { gb[o] = ${add}part[0]; }
}
`;
    device.dispatch(
      {
        name: `${what} ${count}×${g.outChannels}×${g.outH}×${g.outW}`,
        wgsl,
        uniforms: uf.data(),
        workgroups: g.outChannels,
        variant: "tree",
        cost: { bytes: 4 * count * outSample },
      },
      [{ buffer: args.gradOut, ...dy.range }, { buffer: args.gradB, size: g.outChannels * 4 }],
    );
  });
}

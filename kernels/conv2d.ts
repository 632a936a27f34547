/**
 * 2-D convolution forward over NCHW f32 tensors: an implicit GEMM per group (M = N·OH·OW output
 * pixels by N = O/groups channels, over K = (C/groups)·KH·KW) in which every invocation owns a
 * 2-D block of output pixels × a block of channels, gathers the input patch that block reads
 * (never an im2col buffer: conv1's would take 536 MiB at batch 128) and slides the kernel over
 * it. Bias and ReLU are applied as the results are stored.
 *
 * Why register patches and not shared-memory tiles: on a software Vulkan driver (lavapipe)
 * every storage or workgroup-memory load is a scalar loop over the SIMD lanes (~15–30 ns per
 * lane and element, shared memory no cheaper than global) while a multiply-add costs under
 * 1 ns. An invocation that loads its (TY+KH−1)×(TX+KW−1) patch once per input channel reuses
 * each value up to KH·KW times from registers; an im2col tile in shared memory is read once
 * per use.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { flatMainHead } from "./_program.ts";
import {
  type AxisPhase,
  batchRuns,
  checkCapacity,
  type Conv2dGeometry,
  directShape,
  type DirectTile,
  forwardPhase,
  lines,
  pickDirectTile,
  resolve,
} from "./_conv_geometry.ts";

export { type Conv2dGeometry, conv2dOutputSize, type DirectTile } from "./_conv_geometry.ts";

/** Buffers and options of {@link conv2d}. */
export interface Conv2dArgs {
  /** Input `[N, C, H, W]`. */
  x: GpuBuffer;
  /** Weights `[O, C/groups, KH, KW]`. */
  w: GpuBuffer;
  /** Output `[N, O, OH, OW]`, written. */
  out: GpuBuffer;
  /** Optional bias `[O]`, added to every output pixel. */
  bias?: GpuBuffer;
  /** Apply max(·, 0) after the bias. */
  relu?: boolean;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
  /** Register tile; by default one chosen for the device and the problem. */
  tile?: DirectTile;
}

/**
 * out = conv2d(x, w) (+ bias) (then ReLU), PyTorch semantics (cross-correlation, zero padding,
 * grouped). The batch is split into runs of whole samples when a tensor would exceed one
 * storage binding.
 *
 * @example 1 channel, a 2×2 box filter over a 3×3 image
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2d } from "./conv2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const x = device.alloc(36), w = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
 * device.write(w, new Float32Array([1, 1, 1, 1]));
 * conv2d(device, g, { x, w, out });
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [12, 16, 24, 28]
 * ```
 */
export function conv2d(device: Device, geometry: Conv2dGeometry, args: Conv2dArgs): void {
  const g = resolve(geometry, "conv2d");
  const inSample = g.inChannels * g.height * g.width;
  const outSample = g.outChannels * g.outH * g.outW;
  checkCapacity(args.x, g.batch * inSample, "conv2d: x");
  checkCapacity(args.w, g.outChannels * g.wk, "conv2d: w");
  checkCapacity(args.out, g.batch * outSample, "conv2d: out");
  if (args.bias) checkCapacity(args.bias, g.outChannels, "conv2d: bias");
  const runs = batchRuns(device, g.batch, [inSample, outSample], args.maxBindingBytes, "conv2d");
  for (const { count, parts: [x, out] } of runs) {
    directConv(device, {
      name: `conv2d ${count}×${g.inChannels}×${g.height}×${g.width}→${g.outChannels} ` +
        `k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} p${g.padH}×${g.padW} g${g.groups}`,
      batch: count,
      groups: g.groups,
      reduce: g.cg,
      outChannels: g.og,
      inH: g.height,
      inW: g.width,
      inSample,
      inShift: x.shift,
      strideY: g.strideH,
      strideX: g.strideW,
      phasesY: forwardPhase(g.outH, g.kernelH, g.padH),
      phasesX: forwardPhase(g.outW, g.kernelW, g.padW),
      tapStepY: 1,
      tapStepX: 1,
      kernelW: g.kernelW,
      wGroup: g.og * g.wk,
      wOut: g.wk,
      wReduce: g.kernelH * g.kernelW,
      outH: g.outH,
      outW: g.outW,
      scaleY: 1,
      scaleX: 1,
      outSample,
      outShift: out.shift,
      bias: !!args.bias,
      relu: !!args.relu,
      tile: args.tile,
    }, {
      x: { buffer: args.x, ...x.range },
      w: { buffer: args.w, size: g.outChannels * g.wk * 4 },
      bias: args.bias ? { buffer: args.bias, size: g.outChannels * 4 } : undefined,
      out: { buffer: args.out, ...out.range },
    });
  }
}

/**
 * One direct-convolution dispatch, generic enough for the forward pass and for the input
 * gradient (whose stride phases each are a stride-1 convolution). For every phase pair
 * (φy, φx), position u < count, output channel o of group g:
 *
 *   out[b, g·OC + o, scaleY·u_y + φy.outOffset, scaleX·u_x + φx.outOffset] =
 *     Σ_{r, a < φy.taps, c < φx.taps} in[b, g·R + r, strideY·u_y + φy.origin + a, (likewise x)]
 *       · w[g·wGroup + o·wOut + r·wReduce + (φy.tapFirst + tapStepY·a)·kernelW + φx.tapFirst + tapStepX·c]
 */
export interface DirectConvParams {
  name: string;
  batch: number;
  groups: number;
  /** Channels summed over, per group (R). */
  reduce: number;
  /** Channels produced, per group (OC). */
  outChannels: number;
  inH: number;
  inW: number;
  /** Elements per sample of the input, and where sample 0 starts in its binding. */
  inSample: number;
  inShift: number;
  strideY: number;
  strideX: number;
  phasesY: AxisPhase[];
  phasesX: AxisPhase[];
  tapStepY: number;
  tapStepX: number;
  kernelW: number;
  /** Weight strides between groups, output channels (of this op) and reduced channels. */
  wGroup: number;
  wOut: number;
  wReduce: number;
  outH: number;
  outW: number;
  scaleY: number;
  scaleX: number;
  outSample: number;
  outShift: number;
  bias: boolean;
  relu: boolean;
  tile?: DirectTile;
}

/** Buffers of {@link directConv}, in binding order. */
export interface DirectConvBindings {
  x: Binding;
  w: Binding;
  bias?: Binding;
  out: Binding;
}

/**
 * Records one {@link DirectConvParams} dispatch. Internal: {@link conv2d} and the input gradient
 * in `conv2d_backward.ts` describe their convolutions with it.
 */
export function directConv(device: Device, p: DirectConvParams, bind: DirectConvBindings): void {
  const shape = directShape(p, p.phasesY, p.phasesX);
  const tile = p.tile ?? pickDirectTile(shape, device.isSoftware);
  if (tile.q % 4 !== 0 || tile.ty < 1 || tile.tx < 1 || tile.wg < 1) {
    throw new RangeError(`${p.name}: unusable tile ${JSON.stringify(tile)}`);
  }
  const { wgsl, invocations } = directConvWgsl(p, tile);
  device.dispatch(
    { name: p.name, wgsl, workgroups: Math.ceil(invocations / tile.wg) },
    [bind.x, bind.w, ...(bind.bias ? [bind.bias] : []), bind.out],
  );
}

/** WGSL for one per-phase constant: a literal with one phase, else a constant-array lookup. */
function perPhase(list: AxisPhase[], key: keyof AxisPhase, name: string, index: string): string {
  if (list.length === 1) return `${list[0][key] >>> 0}u`;
  return `${name}[${index}]`;
}

function phaseTable(list: AxisPhase[], key: keyof AxisPhase, name: string): string {
  if (list.length === 1) return "";
  return `const ${name} = array<u32, ${list.length}>(${list.map((f) => `${f[key] >>> 0}u`)});`;
}

/**
 * The WGSL of one direct-convolution dispatch and how many invocations it needs.
 *
 * Input rows are visited by row phase (kernel rows a ≡ ψ mod strideY), so the TY rows a kernel
 * row needs form a window that slides by one input row per step: every input value is loaded
 * once per reduced channel and then lives in registers. The kernel-column loop shifts a copy of
 * the window left by one column per step, so every register index is a constant: on a software
 * driver a private array read at a run-time index compiles into a chain of selects, and
 * unrolling the columns instead multiplies compile time. Offsets that may be negative are
 * wrapped u32 constants; the sums wrap back, and a row or column outside the input becomes huge
 * and fails the bounds test: that is the zero padding.
 */
function directConvWgsl(
  p: DirectConvParams,
  tile: DirectTile,
): { wgsl: string; invocations: number } {
  const { ty, tx, q, wg } = tile;
  const nY = p.phasesY.length;
  const nX = p.phasesX.length;
  const maxTapsX = Math.max(...p.phasesX.map((f) => f.taps));
  const blocksY = Math.ceil(Math.max(...p.phasesY.map((f) => f.count)) / ty);
  const blocksX = Math.ceil(Math.max(...p.phasesX.map((f) => f.count)) / tx);
  const blocksC = Math.ceil(p.outChannels / q);
  const invocations = blocksX * blocksY * nX * nY * blocksC * p.batch * p.groups;
  const cols = (tx - 1) * p.strideX + Math.max(1, maxTapsX);
  const q4 = q / 4;
  const pix = ty * tx;
  const plane = p.outH * p.outW;
  const inPlane = p.inH * p.inW;
  const sy = p.strideY;
  const py = (key: keyof AxisPhase): string => perPhase(p.phasesY, key, `PY_${key}`, "fy");
  const px = (key: keyof AxisPhase): string => perPhase(p.phasesX, key, `PX_${key}`, "fx");
  const tables = (["count", "taps", "origin", "outOffset", "tapFirst"] as const)
    .map((k) => phaseTable(p.phasesY, k, `PY_${k}`) + phaseTable(p.phasesX, k, `PX_${k}`))
    .join("\n");
  const reg = (name: string, i: number): string => `${name}${Math.floor(i / cols)}_${i % cols}`;
  const load = (i: number, row: string): string =>
    `for (var k = 0u; k < ${cols}u; k++) { nr[k] = ld(cb, ${row}, px0 + k); }\n` +
    lines(cols, (k) => `r${i}_${k} = nr[${k}];`, " ");
  const weights = lines(
    q4,
    (j) => `let w${j} = vec4<f32>(${lines(4, (e) => `w[wr${j * 4 + e} + wt]`, ", ")});`,
  );
  const fmas = lines(pix * q4, (n) => {
    const i = Math.floor(n / q4);
    const j = n % q4;
    const v = `t${Math.floor(i / tx)}_${(i % tx) * p.strideX}`;
    return `acc${i}_${j} = fma(vec4<f32>(${v}), w${j}, acc${i}_${j});`;
  });
  const weightRows = lines(
    q,
    (j) => `let wr${j} = g * ${p.wGroup}u + min(co0 + ${j}u, ${p.outChannels - 1}u) * ${p.wOut}u;`,
  );
  const slideCols = lines(ty * (cols - 1), (i) => {
    const [y, k] = [Math.floor(i / (cols - 1)), i % (cols - 1)];
    return `t${y}_${k} = t${y}_${k + 1};`;
  }, " ");
  const puts = lines(q, (j) => {
    const v = `acc0_${j >> 2}.${"xyzw"[j & 3]}`;
    return `if (co0 + ${j}u < ${p.outChannels}u) { put(o + ${j * plane}u, ${j}u, ${v}); }`;
  });
  const shiftAcc = lines((pix - 1) * q4, (i) => {
    const [k, j] = [Math.floor(i / q4), i % q4];
    return `acc${k}_${j} = acc${k + 1}_${j};`;
  }, " ");
  let value = p.bias ? `v + bias[g * ${p.outChannels}u + co0 + j]` : `v`;
  if (p.relu) value = `max(${value}, 0.0)`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
${p.bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> out: array<f32>;
${tables}

var<private> co0: u32;
var<private> g: u32;

fn put(i: u32, j: u32, v: f32) {
  out[i] = ${value};
}

fn ld(cb: u32, iy: u32, ix: u32) -> f32 {
  let ok = iy < ${p.inH}u && ix < ${p.inW}u;
  return select(0.0, x[select(0u, cb + iy * ${p.inW}u + ix, ok)], ok);
}

${flatMainHead(wg, invocations, { index: "inv" })}
  let ux0 = (inv % ${blocksX}u) * ${tx}u;
  let uy0 = ((inv / ${blocksX}u) % ${blocksY}u) * ${ty}u;
  var rest = inv / ${blocksX * blocksY}u;
  let fx = rest % ${nX}u;
  let fy = (rest / ${nX}u) % ${nY}u;
  rest = rest / ${nX * nY}u;
  co0 = (rest % ${blocksC}u) * ${q}u;
  let b = (rest / ${blocksC}u) % ${p.batch}u;
  g = rest / ${blocksC * p.batch}u;
  let tapsY = ${py("taps")};
  let tapsX = ${px("taps")};
  let py0 = uy0 * ${sy}u + ${py("origin")};
  let px0 = ux0 * ${p.strideX}u + ${px("origin")};
  let wy0 = ${py("tapFirst")};
  let wx0 = ${px("tapFirst")};
  let xb = ${p.inShift}u + b * ${p.inSample}u + g * ${p.reduce * inPlane}u;
  // Weight rows of this invocation's channels; channels past the end read a valid row and
  // their results are never stored.
  ${weightRows}
  ${lines(pix * q4, (i) => `var acc${Math.floor(i / q4)}_${i % q4} = vec4<f32>(0.0);`, "\n  ")}
  ${lines(ty * cols, (i) => `var ${reg("r", i)} = 0.0; var ${reg("t", i)} = 0.0;`, "\n  ")}
  var nr: array<f32, ${cols}>;
  for (var r = 0u; r < ${p.reduce}u; r++) {
    let cb = xb + r * ${inPlane}u;
    let wrr = r * ${p.wReduce}u;
    for (var ph = 0u; ph < min(${sy}u, tapsY); ph++) {
      ${lines(ty - 1, (i) => load(i, `py0 + ph + ${sy * i}u`), "\n")}
      for (var a = ph; a < tapsY; a += ${sy}u) {
        ${load(ty - 1, `py0 + a + ${sy * (ty - 1)}u`)}
        ${lines(ty * cols, (i) => `${reg("t", i)} = ${reg("r", i)};`, " ")}
        let wya = (wy0 + ${p.tapStepY >>> 0}u * a) * ${p.kernelW}u;
        for (var c = 0u; c < tapsX; c++) {
          let wt = wrr + wya + wx0 + ${p.tapStepX >>> 0}u * c;
          ${weights}
          ${fmas}
          ${slideCols}
        }
        ${lines((ty - 1) * cols, (i) => `${reg("r", i)} = ${reg("r", i + cols)};`, " ")}
      }
    }
  }
  // The epilogue stores pixel 0's results and shifts the accumulators down, in a run-time
  // loop: unrolled stores would be P·Q store sites, each a loop over the SIMD lanes on a
  // software driver, and an array of results read at run time compiles into select chains.
  let ob = ${p.outShift}u + b * ${p.outSample}u + (g * ${p.outChannels}u + co0) * ${plane}u +
    ${py("outOffset")} * ${p.outW}u + ${px("outOffset")};
  for (var i = 0u; i < ${pix}u; i++) {
    let uy = uy0 + i / ${tx}u;
    let ux = ux0 + i % ${tx}u;
    if (uy < ${py("count")} && ux < ${px("count")}) {
      let o = ob + uy * ${p.scaleY * p.outW}u + ux * ${p.scaleX}u;
      ${puts}
    }
    ${shiftAcc}
  }
}
`;
  return { wgsl, invocations };
}

/**
 * 2-D convolution forward over NCHW f32 tensors, by one of four algorithms chosen per adapter
 * and shape (`autotune.ts`; the default when tuning is off: on software adapters Winograd or
 * the 1×1 GEMM where they apply, the register GEMM where the convolution is strided, dilated or
 * has at least 16 input and output channels per group, else this file's direct kernel; the GEMM
 * core on GPUs):
 *
 * - direct (here): an implicit GEMM per group (M = N·OH·OW output pixels by N = O/groups
 *   channels, over K = (C/groups)·KH·KW) in which every invocation owns a 2-D block of output
 *   pixels × a block of channels, gathers the input patch that block reads (never an im2col
 *   buffer: conv1's would take 536 MiB at batch 128) and slides the kernel over it;
 * - gemm (`_conv_gemm.ts`): the same implicit GEMM on the shared workgroup-memory core;
 * - winograd (`_winograd.ts`): F(2×2, 3×3) and F(2×2, 5×5) for 3×3 and 5×5 stride-1
 *   convolutions;
 * - pointwise (`_pointwise.ts`): a 1×1 stride-1 convolution as a batched matmul over NCHW.
 *
 * Bias and ReLU are applied as the results are stored.
 *
 * Why register patches on a software Vulkan driver (lavapipe): every storage or
 * workgroup-memory load is a scalar loop over the SIMD lanes (~15–30 ns per lane and element,
 * shared memory no cheaper than global) while a multiply-add costs under 1 ns. An invocation
 * that loads its (TY+KH−1)×(TX+KW−1) patch once per input channel reuses each value up to
 * KH·KW times from registers; an im2col tile in shared memory is read once per use. GPUs are
 * the opposite, hence the GEMM core there.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { flatMainHead, relu, reluMasked } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { memoised } from "./_memo.ts";
import { choose, withScratch } from "./autotune.ts";
import { checkGemm, forwardGemm } from "./_conv_gemm.ts";
import { type ConvAlgorithm, convCandidates } from "./_conv_algorithms.ts";
import {
  WINOGRAD_ONLY,
  winogradApplies,
  winogradForward,
  winogradScratchPerSample,
  winogradTooLarge,
} from "./_winograd.ts";
import { POINTWISE_ONLY, pointwiseApplies, pointwiseForward } from "./_pointwise.ts";
import {
  type AxisPhase,
  batchRuns,
  checkCapacity,
  columnsRead,
  type Conv2dGeometry,
  dilationTag,
  directShape,
  type DirectTile,
  forwardPhase,
  geometryKey,
  lines,
  NOMINAL_BATCH,
  phaseTapSteps,
  pickDirectTile,
  resolve,
} from "./_conv_geometry.ts";

export { type Conv2dGeometry, conv2dOutputSize, type DirectTile } from "./_conv_geometry.ts";
export {
  algorithmName,
  CONV_GPU_TILES,
  CONV_SMALL_TILE,
  CONV_SUBGROUP_TILES,
  type ConvAlgorithm,
  convCandidates,
  type ConvPass,
} from "./_conv_algorithms.ts";

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
  /** Register tile of the direct kernel (forces it); by default one chosen for the problem. */
  tile?: DirectTile;
  /** Forces an algorithm; by default the autotuner's choice, else the adapter's default. */
  algorithm?: ConvAlgorithm;
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
  let algorithm = args.algorithm ?? (args.tile ? { kind: "direct" } : choose(
    device,
    "conv2d.forward",
    geometryKey(g),
    () => convCandidates(device, "forward", g),
    (algorithm) =>
      withScratch(
        device,
        [g.batch * inSample, g.outChannels * g.wk, g.batch * outSample, g.outChannels],
        ([x, w, out, bias]) =>
          conv2d(device, g, { ...args, x, w, out, bias: args.bias && bias, algorithm }),
      ),
  ).value);
  if (algorithm.kind === "winograd") {
    const tooLarge = winogradTooLarge(device, g, "forward", args.maxBindingBytes);
    if (tooLarge && args.algorithm) throw new RangeError(`conv2d: ${tooLarge}`);
    if (tooLarge) algorithm = { kind: "direct" };
  }
  if (algorithm.kind === "pointwise") {
    if (!pointwiseApplies(g)) {
      throw new RangeError(`conv2d: ${POINTWISE_ONLY}`);
    }
    const { x, w, out, bias, relu, maxBindingBytes } = args;
    pointwiseForward(device, g, { x, w, out, bias }, {
      relu: !!relu,
      tile: algorithm.tile,
      splits: algorithm.splits,
      maxBindingBytes,
    });
    return;
  }
  // Winograd's scratch must fit one binding too: it splits the batch like the operands.
  const scratch = algorithm.kind === "winograd" ? winogradScratchPerSample(g, "forward") : [];
  const perSample = [inSample, outSample, ...scratch];
  const runs = batchRuns(device, g.batch, perSample, args.maxBindingBytes, "conv2d");
  for (const { count, parts: [x, out] } of runs) {
    const name = `conv2d ${count}×${g.inChannels}×${g.height}×${g.width}→${g.outChannels} ` +
      `k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} p${g.padH}×${g.padW} g${g.groups}` +
      dilationTag(g);
    const bind = {
      x: { buffer: args.x, ...x.range },
      w: { buffer: args.w, size: g.outChannels * g.wk * 4 },
      bias: args.bias ? { buffer: args.bias, size: g.outChannels * 4 } : undefined,
      out: { buffer: args.out, ...out.range },
    };
    if (algorithm.kind === "gemm") {
      checkGemm(device, algorithm, name);
      forwardGemm(device, g, algorithm, { count, x, out }, bind, { relu: !!args.relu, name });
      continue;
    }
    if (algorithm.kind === "winograd") {
      if (!winogradApplies(g, "forward")) {
        throw new RangeError(`${name}: ${WINOGRAD_ONLY}`);
      }
      const flags = { relu: !!args.relu, name, tile: algorithm.tile };
      winogradForward(device, g, { count, x, out }, bind, flags);
      continue;
    }
    directConv(device, {
      name,
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
      dilationY: g.dilationH,
      dilationX: g.dilationW,
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
    }, bind);
  }
}

/**
 * One direct-convolution dispatch, generic enough for the forward pass and for the input
 * gradient (whose stride phases each are a stride-1 convolution). For every phase pair
 * (φy, φx), position u < count, output channel o of group g:
 *
 *   out[b, g·OC + o, scaleY·u_y + φy.outOffset, scaleX·u_x + φx.outOffset] =
 *     Σ_{r, a < φy.taps, c < φx.taps}
 *       in[b, g·R + r, strideY·u_y + φy.origin + dilationY·a, (likewise x)]
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
  /** Input rows and columns between consecutive taps (default 1). */
  dilationY?: number;
  dilationX?: number;
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
  /** Multiplies each result by the ReLU mask of `mask` (bound like `out`) as it is stored. */
  reluMask?: boolean;
  /**
   * The kernel binds a mask operand, and a uniform says whether to apply it (`reluMask`): one
   * pipeline serves layers with and without a ReLU below (the input gradient's kernels), where
   * two would each be compiled (0.3–0.5 s each on lavapipe) for one select per stored value.
   */
  maskable?: boolean;
  tile?: DirectTile;
}

/** Buffers of {@link directConv}, in binding order. */
export interface DirectConvBindings {
  x: Binding;
  w: Binding;
  bias?: Binding;
  out: Binding;
  /** The ReLU mask's operand, with `out`'s shape and range (when `reluMask`). */
  mask?: Binding;
}

/** Whether a direct convolution's kernel binds a mask operand (see `maskable`). */
function bindsMask(p: DirectConvParams): boolean {
  return !!(p.maskable || p.reluMask);
}

/**
 * Records one {@link DirectConvParams} dispatch. Internal: {@link conv2d} and the input gradient
 * in `conv2d_backward.ts` describe their convolutions with it.
 */
export function directConv(device: Device, p: DirectConvParams, bind: DirectConvBindings): void {
  const shape = directShape({ ...p, batch: NOMINAL_BATCH }, p.phasesY, p.phasesX);
  const tile = p.tile ?? pickDirectTile(shape, device.isSoftware);
  if (!Number.isInteger(tile.q) || tile.q < 1 || tile.ty < 1 || tile.tx < 1 || tile.wg < 1) {
    throw new RangeError(`${p.name}: unusable tile ${JSON.stringify(tile)}`);
  }
  const { wgsl, invocations, uniforms } = directConvKernel(p, tile);
  const taps = p.phasesY.reduce((s, fy) => s + fy.count * fy.taps, 0) *
    p.phasesX.reduce((s, fx) => s + fx.count * fx.taps, 0);
  device.dispatch(
    {
      name: p.name,
      wgsl,
      uniforms,
      workgroups: Math.ceil(invocations / tile.wg),
      variant: `direct ${tile.ty}×${tile.tx}×${tile.q}/${tile.wg}${p.reluMask ? " relu-mask" : ""}`,
      cost: { flops: 2 * taps * p.reduce * p.outChannels * p.groups * p.batch },
    },
    [
      bind.x,
      bind.w,
      ...(bind.bias ? [bind.bias] : []),
      bind.out,
      // Not read when the mask is off: any read-only operand of the dispatch holds its place.
      ...(bindsMask(p) ? [p.reluMask ? bind.mask! : bind.x] : []),
    ],
  );
}

/** {@link directConvWgsl}, generated once per parameters and tile (a step repeats its shapes). */
const directConvKernel = memoised(directConvWgsl);

/**
 * The WGSL of one direct-convolution dispatch, its uniforms and how many invocations it needs.
 * The text depends only on the tile, the strides and the kernel width along x (which shape the
 * unrolled column window and the row loop), the number of phases per axis and the bias/ReLU/
 * mask-operand flags: every size, offset and phase constant (and whether the mask applies) is
 * a uniform.
 *
 * Input rows are visited by row phase (kernel rows a ≡ ψ mod strideY), so the TY rows a kernel
 * row needs form a window that slides by one input row per step: every input value is loaded
 * once per reduced channel and then lives in registers. Dilated, a phase's kernel rows are
 * strideY / gcd(strideY, dilationY) apart and the window slides dilationY / gcd rows per step
 * (`phaseTapSteps`). The kernel-column loop shifts a copy of the window left by one column
 * (dilationX columns) per step, so every register index is a constant: on a software
 * driver a private array read at a run-time index compiles into a chain of selects, and
 * unrolling the columns instead multiplies compile time. Offsets that may be negative are
 * wrapped u32 values; the sums wrap back, and a row or column outside the input becomes huge
 * and fails the bounds test: that is the zero padding.
 */
function directConvWgsl(
  p: DirectConvParams,
  tile: DirectTile,
): { wgsl: string; invocations: number; uniforms: Uint32Array } {
  const { ty, tx, q, wg } = tile;
  const nY = p.phasesY.length;
  const nX = p.phasesX.length;
  const maxTapsX = Math.max(...p.phasesX.map((f) => f.taps));
  const blocksY = Math.ceil(Math.max(...p.phasesY.map((f) => f.count)) / ty);
  const blocksX = Math.ceil(Math.max(...p.phasesX.map((f) => f.count)) / tx);
  const blocksC = Math.ceil(p.outChannels / q);
  const invocations = blocksX * blocksY * nX * nY * blocksC * p.batch * p.groups;
  // Taps `dilationX` columns apart: the window holds the tile's columns and the taps' span.
  const [dY, dX] = [p.dilationY ?? 1, p.dilationX ?? 1];
  const cols = columnsRead(tx, p.strideX, Math.max(1, maxTapsX), dX);
  // Kernel rows visited by row phase: the taps of one phase are `rowPhases` apart and each reads
  // `rowShift` tile rows below the previous one (stride phases, and 1 row, at dilation 1), so a
  // tap loads `fresh` new rows and keeps the others from the tap before.
  const { kernelStep: rowPhases, readStep: rowShift } = phaseTapSteps(p.strideY, dY);
  const fresh = Math.min(rowShift, ty), kept = ty - fresh;
  const phaseStep = dY === 1 ? "sy" : `${rowPhases}u`;
  const tapRow = (a: string): string => (dY === 1 ? a : `${a} * ${dY}u`);
  // Channels in vec4 accumulators, the last one narrower when q is not a multiple of 4: a
  // software driver runs a vecN as N SIMD operations, so 5 channels cost 5, not 8.
  const q4 = Math.ceil(q / 4);
  const width = (j: number): number => Math.min(4, q - 4 * j);
  const vec = (j: number): string => width(j) === 1 ? "f32" : `vec${width(j)}<f32>`;
  const lane = (v: string, j: number): string => width(j >> 2) === 1 ? v : `${v}.${"xyzw"[j & 3]}`;
  const pix = ty * tx;
  const uf = new Uniforms();
  const U = uf.all({
    invocations,
    blocksX,
    blocksY,
    blocksC,
    batch: p.batch,
    reduce: p.reduce,
    outChannels: p.outChannels,
    lastChannel: p.outChannels - 1,
    inH: p.inH,
    inW: p.inW,
    inPlane: p.inH * p.inW,
    inSample: p.inSample,
    inShift: p.inShift,
    groupIn: p.reduce * p.inH * p.inW,
    kernelW: p.kernelW,
    tapStepY: p.tapStepY,
    tapStepX: p.tapStepX,
    wGroup: p.wGroup,
    wOut: p.wOut,
    wReduce: p.wReduce,
    outW: p.outW,
    plane: p.outH * p.outW,
    rowStep: p.scaleY * p.outW,
    scaleX: p.scaleX,
    outSample: p.outSample,
    outShift: p.outShift,
  });
  const masked = bindsMask(p) ? uf.u32("masked", p.reluMask ? 1 : 0) : null;
  // A per-phase value: the phase's uniform, chosen by the phase index at run time.
  const phase = (axis: "y" | "x", key: keyof AxisPhase): string => {
    const list = axis === "y" ? p.phasesY : p.phasesX;
    const values = list.map((f, i) => uf.u32(`phase${axis}${i}.${key}`, f[key]));
    return values.slice(1).reduce(
      (acc, v, i) => `select(${acc}, ${v}, f${axis} == ${i + 1}u)`,
      values[0],
    );
  };
  const py = (key: keyof AxisPhase): string => phase("y", key);
  const px = (key: keyof AxisPhase): string => phase("x", key);
  const reg = (name: string, i: number): string => `${name}${Math.floor(i / cols)}_${i % cols}`;
  const load = (i: number, row: string): string =>
    `for (var k = 0u; k < ${cols}u; k++) { nr[k] = ld(cb, ${row}, px0 + k); }\n` +
    lines(cols, (k) => `r${i}_${k} = nr[${k}];`, " ");
  const weights = lines(
    q4,
    (j) => `let w${j} = ${vec(j)}(${lines(width(j), (e) => `w[wr${j * 4 + e} + wt]`, ", ")});`,
  );
  const fmas = lines(pix * q4, (n) => {
    const i = Math.floor(n / q4);
    const j = n % q4;
    const v = `t${Math.floor(i / tx)}_${(i % tx) * p.strideX}`;
    return `acc${i}_${j} = fma(${vec(j)}(${v}), w${j}, acc${i}_${j});`;
  });
  const weightRows = lines(
    q,
    (j) => `let wr${j} = g * ${U.wGroup} + min(co0 + ${j}u, ${U.lastChannel}) * ${U.wOut};`,
  );
  const slideCols = lines(ty * (cols - dX), (i) => {
    const [y, k] = [Math.floor(i / (cols - dX)), i % (cols - dX)];
    return `t${y}_${k} = t${y}_${k + dX};`;
  }, " ");
  const puts = lines(q, (j) => {
    const v = lane(`acc0_${j >> 2}`, j);
    return `if (co0 + ${j}u < ${U.outChannels}) { put(o + ${j}u * ${U.plane}, ${j}u, ${v}); }`;
  });
  const shiftAcc = lines((pix - 1) * q4, (i) => {
    const [k, j] = [Math.floor(i / q4), i % q4];
    return `acc${k}_${j} = acc${k + 1}_${j};`;
  }, " ");
  let value = p.bias ? `v + bias[g * ${U.outChannels} + co0 + j]` : `v`;
  if (p.relu) value = relu(value);
  const put = masked === null ? `out[i] = ${value};` : `var r = ${value};
  if (${masked} != 0u) { r = ${reluMasked("r", "mask[i]")}; }
  out[i] = r;`;
  const body = `
var<private> co0: u32;
var<private> g: u32;

fn put(i: u32, j: u32, v: f32) {
  ${put}
}

fn ld(cb: u32, iy: u32, ix: u32) -> f32 {
  let ok = iy < ${U.inH} && ix < ${U.inW};
  return select(0.0, x[select(0u, cb + iy * ${U.inW} + ix, ok)], ok);
}

${flatMainHead(wg, U.invocations, { index: "inv" })}
  let ux0 = (inv % ${U.blocksX}) * ${tx}u;
  let uy0 = ((inv / ${U.blocksX}) % ${U.blocksY}) * ${ty}u;
  var rest = inv / (${U.blocksX} * ${U.blocksY});
  let fx = rest % ${nX}u;
  let fy = (rest / ${nX}u) % ${nY}u;
  rest = rest / ${nX * nY}u;
  co0 = (rest % ${U.blocksC}) * ${q}u;
  let b = (rest / ${U.blocksC}) % ${U.batch};
  g = rest / (${U.blocksC} * ${U.batch});
  let tapsY = ${py("taps")};
  let tapsX = ${px("taps")};
  // The strides shape the row and column loops (a literal lets the compiler unroll them).
  let sy = ${p.strideY}u;
  let py0 = uy0 * sy + ${py("origin")};
  let px0 = ux0 * ${p.strideX}u + ${px("origin")};
  let wy0 = ${py("tapFirst")};
  let wx0 = ${px("tapFirst")};
  let xb = ${U.inShift} + b * ${U.inSample} + g * ${U.groupIn};
  // Weight rows of this invocation's channels; channels past the end read a valid row and
  // their results are never stored.
  ${weightRows}
  ${lines(pix * q4, (i) => `var acc${Math.floor(i / q4)}_${i % q4} = ${vec(i % q4)}(0.0);`, "\n  ")}
  ${lines(ty * cols, (i) => `var ${reg("r", i)} = 0.0; var ${reg("t", i)} = 0.0;`, "\n  ")}
  var nr: array<f32, ${cols}>;
  for (var r = 0u; r < ${U.reduce}; r++) {
    let cb = xb + r * ${U.inPlane};
    let wrr = r * ${U.wReduce};
    for (var ph = 0u; ph < min(${phaseStep}, tapsY); ph++) {
      ${lines(kept, (i) => load(i, `py0 + ${tapRow("ph")} + ${i}u * sy`), "\n")}
      for (var a = ph; a < tapsY; a += ${phaseStep}) {
        ${lines(fresh, (f) => load(kept + f, `py0 + ${tapRow("a")} + ${kept + f}u * sy`), "\n")}
        ${lines(ty * cols, (i) => `${reg("t", i)} = ${reg("r", i)};`, " ")}
        let wya = (wy0 + ${U.tapStepY} * a) * ${U.kernelW};
        for (var c = 0u; c < tapsX; c++) {
          let wt = wrr + wya + wx0 + ${U.tapStepX} * c;
          ${weights}
          ${fmas}
          ${slideCols}
        }
        ${lines(kept * cols, (i) => `${reg("r", i)} = ${reg("r", i + fresh * cols)};`, " ")}
      }
    }
  }
  // The epilogue stores pixel 0's results and shifts the accumulators down, in a run-time
  // loop: unrolled stores would be P·Q store sites, each a loop over the SIMD lanes on a
  // software driver, and an array of results read at run time compiles into select chains.
  let ob = ${U.outShift} + b * ${U.outSample} + (g * ${U.outChannels} + co0) * ${U.plane} +
    ${py("outOffset")} * ${U.outW} + ${px("outOffset")};
  let countY = ${py("count")};
  let countX = ${px("count")};
  for (var i = 0u; i < ${pix}u; i++) {
    let uy = uy0 + i / ${tx}u;
    let ux = ux0 + i % ${tx}u;
    if (uy < countY && ux < countX) {
      let o = ob + uy * ${U.rowStep} + ux * ${U.scaleX};
      ${puts}
    }
    ${shiftAcc}
  }
}
`;
  const bindings = [
    "@group(0) @binding(0) var<storage, read> x: array<f32>;",
    "@group(0) @binding(1) var<storage, read> w: array<f32>;",
    ...(p.bias ? ["@group(0) @binding(2) var<storage, read> bias: array<f32>;"] : []),
    `@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> out: array<f32>;`,
    ...(masked !== null
      ? [`@group(0) @binding(${p.bias ? 4 : 3}) var<storage, read> mask: array<f32>;`]
      : []),
    uf.declare((p.bias ? 4 : 3) + (masked !== null ? 1 : 0)),
  ];
  return { wgsl: bindings.join("\n") + "\n" + body, invocations, uniforms: uf.data() };
}

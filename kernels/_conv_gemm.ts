/**
 * Convolution forward, input gradient and weight gradient as implicit GEMMs on the shared core
 * (`_gemm.ts`), per group:
 *
 * - forward: M = N·OH·OW output pixels, N = O/groups channels, K = C/groups·KH·KW taps;
 * - input gradient: M = N·H·W input pixels, N = C/groups, K = O/groups·KH·KW (at stride 1;
 *   strided, a GEMM per stride phase in one dispatch, `_conv_gemm_strided.ts`);
 * - weight gradient: M = O/groups, N = C/groups·KH·KW, K = N·OH·OW (split-K over pixels).
 *
 * Operands are gathered on the fly: a pixel's coordinates are decoded once per load unit
 * (hoisted out of the K loop), a tap's through an offset table in a storage buffer, so no
 * im2col buffer exists. This is the GPU path: on a software adapter, where every
 * workgroup-memory access is a loop over SIMD lanes, the register-patch kernels of `conv2d.ts`
 * win, or the register GEMM (subgroups, no workgroup memory) for the passes of a strided
 * convolution (`_conv_algorithms.ts`).
 *
 * This file holds the forward pass and the weight gradient; the input gradient lives in
 * `_conv_gemm_input.ts` (stride 1) and `_conv_gemm_strided.ts`, what they share in
 * `_conv_operands.ts`, and the choice among algorithms in `_conv_algorithms.ts`.
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { type GemmTile, gemmWgsl, tileName, tileRunsOn } from "./_gemm.ts";
import { sumPartials } from "./_split_k.ts";
import type { Resolved } from "./_conv_geometry.ts";
import { relu, type RunPart } from "./_program.ts";
import type { ConvGemm } from "./_conv_algorithms.ts";
import {
  type ConvGemmNames,
  convGemmSetup,
  convGemmWgsl,
  forwardTable,
  gatheredA,
  pixelTable,
  tableReads,
} from "./_conv_operands.ts";

/** Checks a GEMM variant against the device. */
export function checkGemm(device: Device, v: ConvGemm, what: string): void {
  if (!tileRunsOn(v.tile, device)) {
    throw new RangeError(`${what}: GEMM tile ${JSON.stringify(v.tile)} does not fit this device`);
  }
  if (v.splits !== undefined && !(Number.isInteger(v.splits) && v.splits >= 1)) {
    throw new RangeError(`${what}: splits must be a positive integer, got ${v.splits}`);
  }
}

/** What the forward pass's WGSL depends on besides the uniforms' names. */
interface ForwardParams {
  tile: GemmTile;
  /** Weights read as vec4s (taps per output channel a multiple of 4). */
  wVec: boolean;
  bias: boolean;
  relu: boolean;
}

const forwardWgsl = convGemmWgsl((
  { tile, wVec, bias, relu: reluOut }: ForwardParams,
  { uf, G, S, sizes }: ConvGemmNames<"xShift" | "outShift">,
): string => {
  let value = bias ? `v + bias[g * ${G.og} + n]` : "v";
  if (reluOut) value = relu(value);
  const helpers = `
// Where output pixel m of group g reads x: its sample and group's base, and its top-left
// input corner (wrapping u32: a corner above or left of the input is huge).
fn corner(m: u32, g: u32) -> vec4u {
  let b = m / ${G.ohw};
  let r = m % ${G.ohw};
  let iy = (r / ${G.outW}) * ${G.strideH} - ${G.padH};
  let ix = (r % ${G.outW}) * ${G.strideW} - ${G.padW};
  return vec4u(${S.xShift} + b * ${G.inSample} + g * ${G.cg} * ${G.hw}, 0u, iy, ix);
}
fn gatherX(pr: vec4u, t: vec4u) -> f32 {
  let iy = pr.z + t.y;
  let ix = pr.w + t.z;
  let ok = iy < ${G.height} && ix < ${G.width};
  // t.x already holds ky·W + kx: the pixel adds its corner.
  return select(0.0, x[select(0u, pr.x + t.x + pr.z * ${G.width} + pr.w, ok)], ok);
}
// Where output pixel m of group g goes for channel 0: once per row, so the stores of its
// channels do no division.
fn outRow(g: u32, m: u32) -> u32 {
  return ${S.outShift} + (m / ${G.ohw}) * ${G.outSample} + g * ${G.og} * ${G.ohw} + m % ${G.ohw};
}
fn put(g: u32, row: u32, n: u32, v: f32) {
  out[row + n * ${G.ohw}] = ${value};
}`;
  return gemmWgsl({
    tile,
    // A unit's pixel: base of its sample and group in x, then its top-left input corner.
    a: gatheredA("gatherX"),
    b: {
      vec4: wVec,
      kContig: true,
      load: (n, k) =>
        wVec
          ? `w[((p * ${G.og} + ${n}) * ${G.wk} + ${k}) / 4u]`
          : `w[(p * ${G.og} + ${n}) * ${G.wk} + ${k}]`,
    },
    sizes,
    rowStart: (m) => `let row = outRow(p, ${m});`,
    store: (_m, n, val) => `put(p, row, ${n}, ${val});`,
    declarations: () =>
      [
        "@group(0) @binding(0) var<storage, read> x: array<f32>;",
        `@group(0) @binding(1) var<storage, read> w: array<${wVec ? "vec4f" : "f32"}>;`,
        "@group(0) @binding(2) var<storage, read> tab: array<vec4u>;",
        ...(bias ? ["@group(0) @binding(3) var<storage, read> bias: array<f32>;"] : []),
        `@group(0) @binding(${bias ? 4 : 3}) var<storage, read_write> out: array<f32>;`,
        uf.declare(bias ? 5 : 4),
        helpers,
      ].join("\n"),
  });
});

/** One run of samples of the forward pass: out = conv(x, w) (+ bias) (ReLU). */
export function forwardGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: { count: number; x: RunPart; out: RunPart },
  bind: { x: Binding; w: Binding; bias?: Binding; out: Binding },
  flags: { relu: boolean; name: string },
): void {
  const M = run.count * g.outH * g.outW, N = g.og, K = g.wk;
  const setup = convGemmSetup(g, v, run.count, [M, N, K], {
    xShift: run.x.shift,
    outShift: run.out.shift,
  });
  const params = { tile: v.tile, wVec: g.wk % 4 === 0, bias: !!bind.bias, relu: flags.relu };
  const tab = { buffer: forwardTable(device, g), size: 16 * g.wk };
  device.dispatch({
    name: flags.name,
    wgsl: forwardWgsl(params, setup),
    uniforms: setup.uf.data(),
    workgroups: setup.grid.workgroups,
    variant: `gemm ${tileName(v.tile)}`,
    cost: { flops: 2 * M * N * K * g.groups },
  }, [bind.x, bind.w, tab, ...(bind.bias ? [bind.bias] : []), bind.out]);
}

/** What the weight gradient's WGSL depends on besides the uniforms' names. */
interface WeightGradParams {
  tile: GemmTile;
  /** dY read as vec4s of 4 pixels (planes of a multiple of 4 pixels, an aligned run). */
  dyVec: boolean;
  bias: boolean;
  /** Partial sums per K range into scratch (else straight into dw, and db). */
  split: boolean;
  accumulate: boolean;
}

const weightGradWgsl = convGemmWgsl((
  { tile, dyVec, bias, split, accumulate }: WeightGradParams,
  { uf, G, S, sizes }: ConvGemmNames<"xShift" | "dyShift" | "weights" | "block">,
): string => {
  const helpers = `
// Weight column n (channel, kernel row, column) of group g: where its channel starts in x,
// and its kernel row and column.
fn tap(n: u32, g: u32) -> vec4u {
  let t = tab[n];
  return vec4u(${S.xShift} + g * ${G.cg} * ${G.hw} + t.x - t.y * ${G.width} - t.z, t.y, t.z, 0u);
}
// Pixel k of the run, from its table entry t (no division in the K loop).
fn loadDy(base: u32, t: vec4u) -> ${dyVec ? "vec4f" : "f32"} {
  return dy[${dyVec ? "(base + t.x) / 4u" : "base + t.x"}];
}
fn gatherX(pr: vec4u, t: vec4u) -> f32 {
  let iy = t.z + pr.y;
  let ix = t.w + pr.z;
  let ok = iy < ${G.height} && ix < ${G.width};
  return select(0.0, x[select(0u, pr.x + t.y + iy * ${G.width} + ix, ok)], ok);
}`;
  // Split, a block of scratch per K range: the weights, then (with a bias) the bias.
  const dst = split
    ? (m: string, n: string) => `dw[s * ${S.block} + (p * ${G.og} + ${m}) * ${G.wk} + ${n}]`
    : (m: string, n: string) => `dw[(p * ${G.og} + ${m}) * ${G.wk} + ${n}]`;
  const biasDst = split
    ? (m: string) => `dw[s * ${S.block} + ${S.weights} + p * ${G.og} + ${m}]`
    : (m: string) => `db[p * ${G.og} + ${m}]`;
  const put = (at: string, val: string): string =>
    !split && accumulate ? `${at} = ${at} + ${val};` : `${at} = ${val};`;
  const pixels = tableReads("pix");
  return gemmWgsl({
    tile,
    a: {
      vec4: dyVec,
      kContig: true,
      prep: (m) => `vec4u(${S.dyShift} + (p * ${G.og} + ${m}) * ${G.ohw}, 0u, 0u, 0u)`,
      // A vec4 of 4 pixels from the first one's entry; a pixel from its own.
      load: (_m, k, pr, kk) => `loadDy(${pr}.x, ${dyVec ? `pix[${k}]` : pixels.at(k, kk)})`,
      step: pixels.step,
    },
    b: {
      vec4: false,
      kContig: true,
      // A unit's tap: where its channel starts in x, and its kernel row and column.
      prep: (n) => `tap(${n}, p)`,
      load: (_n, k, pr, kk) => `gatherX(${pr}, ${pixels.at(k, kk)})`,
      step: pixels.step,
    },
    sizes,
    store: (m, n, val) => put(dst(m, n), val),
    rowSum: bias ? (m, val) => put(biasDst(m), val) : undefined,
    declarations: () =>
      [
        "@group(0) @binding(0) var<storage, read> x: array<f32>;",
        `@group(0) @binding(1) var<storage, read> dy: array<${dyVec ? "vec4f" : "f32"}>;`,
        "@group(0) @binding(2) var<storage, read> tab: array<vec4u>;",
        "@group(0) @binding(3) var<storage, read> pix: array<vec4u>;",
        "@group(0) @binding(4) var<storage, read_write> dw: array<f32>;",
        ...(bias && !split
          ? ["@group(0) @binding(5) var<storage, read_write> db: array<f32>;"]
          : []),
        uf.declare(bias && !split ? 6 : 5),
        helpers,
      ].join("\n"),
  });
});

/**
 * One run of samples of the weight gradient, split-K over its pixels: partial sums land in
 * scratch and are added in a fixed order, so every run gives the same bits. With `db` bound,
 * the bias gradient (the row sums of dY over the same pixels) comes out of the same GEMM: its
 * split-K partials follow the weights' in each block of scratch and are added in the same sum.
 */
export function weightGradGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: { count: number; x: RunPart; dy: RunPart },
  bind: { x: Binding; dy: Binding; dw: Binding; db?: Binding },
  accumulate: boolean,
  name: string,
): void {
  const M = g.og, N = g.wk, K = run.count * g.outH * g.outW;
  const bias = bind.db !== undefined;
  const nw = g.outChannels * g.wk;
  const setup = convGemmSetup(g, v, run.count, [M, N, K], {
    xShift: run.x.shift,
    dyShift: run.dy.shift,
    weights: nw,
    block: nw + (bias ? g.outChannels : 0),
  }, v.splits ?? 1);
  const { grid, uf } = setup;
  const split = grid.splits > 1;
  // A row of dY (one output channel's pixels) is contiguous within a sample: with planes of a
  // multiple of 4 pixels and an aligned run, every step of 4 pixels is one aligned vec4 (a
  // vector load costs about half as much per element as a scalar on a software adapter).
  const dyVec = (g.outH * g.outW) % 4 === 0 && run.dy.shift % 4 === 0;
  const wgsl = weightGradWgsl({ tile: v.tile, dyVec, bias, split, accumulate }, setup);
  const tab = { buffer: forwardTable(device, g), size: 16 * g.wk };
  const pix = { buffer: pixelTable(device, g, run.count), size: 16 * K };
  const kernel = {
    name,
    wgsl,
    uniforms: uf.data(),
    workgroups: grid.workgroups,
    variant: `gemm ${tileName(v.tile)}${split ? ` split ${grid.splits}` : ""}${
      bias ? " +bias" : ""
    }`,
    cost: { flops: 2 * M * N * K * g.groups },
  };
  if (!split) {
    device.dispatch(kernel, [bind.x, bind.dy, tab, pix, bind.dw, ...(bind.db ? [bind.db] : [])]);
    return;
  }
  const block = nw + (bias ? g.outChannels : 0), bytes = grid.splits * block * 4;
  const partial = { buffer: device.alloc(bytes, "conv2d partials"), size: bytes };
  device.dispatch(kernel, [bind.x, bind.dy, tab, pix, partial]);
  sumPartials(device, {
    name,
    partial,
    dst: bind.dw,
    n: nw,
    splits: grid.splits,
    accumulate,
    tail: bind.db ? { dst: bind.db, n: g.outChannels } : undefined,
  });
  device.release(partial.buffer);
}

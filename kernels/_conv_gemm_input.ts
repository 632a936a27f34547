/**
 * The input gradient of a convolution at stride 1 as one implicit GEMM per run of samples
 * (M = N·H·W input pixels, N = C/groups, K = O/groups·KH·KW), and what it shares with the
 * strided one (`_conv_gemm_strided.ts`, a GEMM per stride phase, one dispatch): the weights
 * repacked as B, the gather of A = dY, the dispatch and the ReLU-masked store.
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { type gemmSizeUniforms, type GemmTile, gemmWgsl, tileName } from "./_gemm.ts";
import type { Uniforms } from "./_uniforms.ts";
import { memoisedKernel } from "./_memo.ts";
import type { Resolved } from "./_conv_geometry.ts";
import { flatMain, reluMasked, type RunPart } from "./_program.ts";
import type { ConvGemm } from "./_conv_algorithms.ts";
import {
  type ConvGemmNames,
  convGemmSetup,
  convGemmWgsl,
  gatheredA,
  type geometryUniforms,
  inputTable,
  tableReads,
} from "./_conv_operands.ts";

/** A run of samples of the input gradient: where it reads dY and writes dX. */
export interface InputGradRun {
  count: number;
  dy: RunPart;
  dx: RunPart;
}

/** The input gradient's buffers: dY, the weights, dX and the ReLU mask laid out as dX. */
export interface InputGradBindings {
  dy: Binding;
  w: Binding;
  dx: Binding;
  mask?: Binding;
}

/**
 * One run of samples of the input gradient at stride 1: gradX = conv2d's transpose applied to
 * gradOut, every tap landing on an output (strided: `_conv_gemm_strided.ts`), times the ReLU
 * mask of `bind.mask` (bound like `dx`) in the epilogue when one is given.
 */
export function inputGradGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: InputGradRun,
  bind: InputGradBindings,
  name: string,
): void {
  if (g.strideH !== 1 || g.strideW !== 1) {
    throw new RangeError(`${name}: inputGradGemm is for stride 1`);
  }
  const M = run.count * g.height * g.width, N = g.cg, K = g.og * g.kernelH * g.kernelW;
  const setup = convGemmSetup(g, v, run.count, [M, N, K], {
    dyShift: run.dy.shift,
    dxShift: run.dx.shift,
  });
  withPackedWeights(device, g, bind.w, name, (packed) =>
    inputGradDispatch(device, v, {
      name,
      wgsl: stride1Wgsl(inputGradParams(g, v, bind), setup),
      uf: setup.uf,
      tab: { buffer: inputTable(device, g), size: 16 * K },
      packed,
      workgroups: setup.grid.workgroups,
      flops: 2 * M * N * K * g.groups,
      variant: "",
    }, bind));
}

const stride1Wgsl = convGemmWgsl((
  p: InputGradParams,
  { uf, G, S, sizes }: ConvGemmNames<"dyShift" | "dxShift">,
): string => {
  // Input pixel m's padded coordinates; tap (ky, kx) reads dy at those minus its offsets
  // (dilation·(ky, kx), from the table).
  const pixels = { plane: G.hw, cols: G.width, originY: G.padH, originX: G.padW };
  const helpers = `${dyGatherWgsl(G, S.dyShift, pixels, "-")}
fn dxRow(g: u32, m: u32) -> u32 {
  return ${S.dxShift} + (m / ${G.hw}) * ${G.inSample} + g * ${G.cg} * ${G.hw} + m % ${G.hw};
}
${putDx(G, p.masked)}`;
  // Row k of the group's packed kernel is tap k.
  return inputGradWgsl(p, { uf, G, sizes, helpers, row: (k) => `p * ${sizes.k} + ${k}` });
});

/**
 * The WGSL helpers through which an input-gradient GEMM reads A = dY: `corner(m, g)` gives
 * pixel m's sample and group base in dy and its dy coordinates (a grid of `plane` pixels per
 * sample in rows of `cols`, offset by the origin; wrapping u32 where negative; `group`, an
 * expression of g, names the group where g also counts something else), and
 * `gatherDy(pr, t)` steps them by the tap row and column of table entry t (`tapStep`), zero
 * outside dy.
 */
export function dyGatherWgsl(
  G: ReturnType<typeof geometryUniforms>,
  dyShift: string,
  pixels: { plane: string; cols: string; originY: string; originX: string; group?: string },
  tapStep: "+" | "-",
): string {
  const { plane, cols, originY, originX, group = "g" } = pixels;
  return `
fn corner(m: u32, g: u32) -> vec4u {
  let b = m / ${plane};
  let r = m % ${plane};
  let base = ${dyShift} + b * ${G.outSample} + ${group} * ${G.og} * ${G.ohw};
  return vec4u(base, 0u, r / ${cols} + ${originY}, r % ${cols} + ${originX});
}
fn gatherDy(pr: vec4u, t: vec4u) -> f32 {
  let oy = pr.z ${tapStep} t.y;
  let ox = pr.w ${tapStep} t.z;
  let ok = oy < ${G.outH} && ox < ${G.outW};
  return select(0.0, dy[select(0u, pr.x + t.x + oy * ${G.outW} + ox, ok)], ok);
}`;
}

/**
 * An input-gradient GEMM's `put(row, n, v)`: stores `v` at channel n of the dx row whose
 * channel-0 offset `row` the caller's `dxRow(g, m)` gave (once per row: its divisions stay out
 * of the per-element stores), ReLU-masked by `mask` where one is bound.
 */
export function putDx(G: ReturnType<typeof geometryUniforms>, masked: boolean): string {
  return `fn put(row: u32, n: u32, v: f32) {
  let at = row + n * ${G.hw};
  dx[at] = ${masked ? reluMasked("v", "mask[at]") : "v"};
}`;
}

/** What an input-gradient GEMM's WGSL depends on besides the uniforms' names and its form. */
export interface InputGradParams {
  tile: GemmTile;
  /** The packed kernel read as vec4s (input channels a group a multiple of 4). */
  wVec: boolean;
  /** A ReLU mask bound, applied as dX is stored. */
  masked: boolean;
}

/** The parameters of an input-gradient GEMM dispatch, as the given algorithm `v` runs it. */
export function inputGradParams(g: Resolved, v: ConvGemm, bind: InputGradBindings) {
  return { tile: v.tile, wVec: g.cg % 4 === 0, masked: !!bind.mask };
}

/**
 * The WGSL of an input-gradient GEMM: A is dY through the caller's `corner` and `gatherDy`
 * (helpers), B the packed kernel's row `row(k)` (contiguous along input channels), and the
 * stores go through the caller's `dxRow` and {@link putDx}.
 */
export function inputGradWgsl(
  { tile, wVec, masked }: InputGradParams,
  d: {
    uf: Uniforms;
    G: ReturnType<typeof geometryUniforms>;
    sizes: ReturnType<typeof gemmSizeUniforms>;
    helpers: string;
    /** The kernel's row at depth k (`kk`: its offset in a register-GEMM step, as `load`'s). */
    row: (k: string, kk?: number) => string;
    /** Where the taps start in the table (a WGSL expression of `p`; default entry 0). */
    tabBase?: string;
  },
): string {
  const cg = d.G.cg;
  return gemmWgsl({
    tile,
    a: gatheredA("gatherDy", d.tabBase),
    // The packed kernel is contiguous along N (input channels): vec4 loads where they divide.
    b: {
      vec4: wVec,
      kContig: false,
      load: (n, k, _prep, kk) =>
        wVec
          ? `wt[((${d.row(k, kk)}) * ${cg} + ${n}) / 4u]`
          : `wt[(${d.row(k, kk)}) * ${cg} + ${n}]`,
      // The table's step, shared with A's (its rows are the taps A gathers).
      step: tableReads("tab", d.tabBase).step,
    },
    sizes: d.sizes,
    rowStart: (m) => `let row = dxRow(p, ${m});`,
    store: (_m, n, val) => `put(row, ${n}, ${val});`,
    declarations: () =>
      [
        "@group(0) @binding(0) var<storage, read> dy: array<f32>;",
        `@group(0) @binding(1) var<storage, read> wt: array<${wVec ? "vec4f" : "f32"}>;`,
        "@group(0) @binding(2) var<storage, read> tab: array<vec4u>;",
        "@group(0) @binding(3) var<storage, read_write> dx: array<f32>;",
        ...(masked ? ["@group(0) @binding(4) var<storage, read> mask: array<f32>;"] : []),
        d.uf.declare(masked ? 5 : 4),
        d.helpers,
      ].join("\n"),
  });
}

/** The dispatch of an input-gradient GEMM whose WGSL ({@link inputGradWgsl}) is `d.wgsl`. */
export function inputGradDispatch(
  device: Device,
  v: ConvGemm,
  d: {
    name: string;
    wgsl: string;
    uf: Uniforms;
    tab: Binding;
    packed: Binding;
    workgroups: number;
    flops: number;
    variant: string;
  },
  bind: { dy: Binding; dx: Binding; mask?: Binding },
): void {
  device.dispatch({
    name: d.name,
    wgsl: d.wgsl,
    uniforms: d.uf.data(),
    workgroups: d.workgroups,
    variant: `gemm ${tileName(v.tile)}${d.variant}${bind.mask ? " relu-mask" : ""}`,
    cost: { flops: d.flops },
  }, [bind.dy, d.packed, d.tab, bind.dx, ...(bind.mask ? [bind.mask] : [])]);
}

/**
 * Runs `use` with the weights repacked for the input gradient ({@link packForInputGrad}) in
 * scratch, released afterwards.
 */
export function withPackedWeights(
  device: Device,
  g: Resolved,
  w: Binding,
  name: string,
  use: (packed: Binding) => void,
): void {
  const bytes = g.outChannels * g.wk * 4;
  const packed = { buffer: device.alloc(bytes, "conv2d packed weights"), size: bytes };
  packForInputGrad(device, g, w, packed, name);
  use(packed);
  device.release(packed.buffer);
}

/**
 * Weights `[O, C/g, KH, KW]` repacked as the input gradient's B operand: per group, rows
 * k = (o, ky, kx) of C/g contiguous input channels, `wt[(g·K + k)·(C/g) + c]`.
 */
export function packForInputGrad(
  device: Device,
  g: Resolved,
  w: Binding,
  wt: Binding,
  name: string,
): void {
  const pairs = g.outChannels * g.cg;
  const kernel = packKernel({}, { pairs, cg: g.cg, wk: g.wk, taps: g.kernelH * g.kernelW });
  device.dispatch({
    name: `${name} pack`,
    wgsl: kernel.wgsl,
    uniforms: kernel.uniforms,
    workgroups: Math.ceil(pairs / 64),
    variant: "pack",
    cost: { bytes: 8 * g.outChannels * g.wk },
  }, [w, wt]);
}

/** The weight pack's WGSL (one text for every shape) and its uniforms. */
const packKernel = memoisedKernel((
  _: Record<string, never>,
  u: Record<"pairs" | "cg" | "wk" | "taps", string>,
  uf,
) => {
  // Invocation i moves the taps of one (output channel o, input channel c) pair: two
  // divisions per pair, not per element (a software driver divides lane by lane).
  const body = `
  let c = i % ${u.cg};
  let o = i / ${u.cg};
  let src = o * ${u.wk} + c * ${u.taps};
  let dst = o * ${u.wk} + c;
  for (var t = 0u; t < ${u.taps}; t++) {
    wt[dst + t * ${u.cg}] = w[src + t];
  }`;
  return `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
${uf.declare(2)}
${flatMain(64, u.pairs, body)}
`;
});

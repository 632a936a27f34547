/**
 * Convolution forward, input gradient and weight gradient as implicit GEMMs on the shared core
 * (`_gemm.ts`), per group:
 *
 * - forward: M = N·OH·OW output pixels, N = O/groups channels, K = C/groups·KH·KW taps;
 * - input gradient: M = N·H·W input pixels, N = C/groups, K = O/groups·KH·KW (at stride 1;
 *   strided, one GEMM per stride phase, `_conv_gemm_strided.ts`);
 * - weight gradient: M = O/groups, N = C/groups·KH·KW, K = N·OH·OW (split-K over pixels).
 *
 * Operands are gathered on the fly: a pixel's coordinates are decoded once per load unit
 * (hoisted out of the K loop), a tap's through an offset table in a storage buffer, so no
 * im2col buffer exists. This is the GPU path: on a software adapter, where every
 * workgroup-memory access is a loop over SIMD lanes, the register-patch kernels of `conv2d.ts`
 * win, or the register GEMM (subgroups, no workgroup memory) for a forward pass strided by at
 * least half its kernel.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import {
  gemmGrid,
  type GemmOperand,
  type GemmTile,
  gemmTile,
  gemmWgsl,
  subgroupTile,
  tileFits,
  tileName,
} from "./_gemm.ts";
import { sumPartials } from "./_split_k.ts";
import { Uniforms } from "./_uniforms.ts";
import type { Resolved } from "./_conv_geometry.ts";
import { flatMain, reluMasked, type RunPart } from "./_program.ts";
import { winogradApplies } from "./_winograd.ts";
import { pointwiseApplies } from "./_pointwise.ts";

/** The GEMM variant of a convolution pass: a core tile and, for the weight gradient, split-K. */
export interface ConvGemm {
  tile: GemmTile;
  /** K ranges of the weight gradient summed in a fixed order (default 1). */
  splits?: number;
}

const tables = new WeakMap<Device, Map<string, GpuBuffer>>();

/** A per-geometry table of vec4u, built once per device and kept (it is a few KiB). */
export function table(device: Device, key: string, build: () => Uint32Array): GpuBuffer {
  let map = tables.get(device);
  if (!map) tables.set(device, map = new Map());
  let buffer = map.get(key);
  if (!buffer) {
    const data = build();
    buffer = device.alloc(data.byteLength, "conv offset table");
    device.write(buffer, data);
    map.set(key, buffer);
  }
  return buffer;
}

/** Forward taps k = (c, ky, kx): vec4u(c·H·W + ky·W + kx, ky, kx, 0). */
function forwardTable(device: Device, g: Resolved): GpuBuffer {
  const key = `f ${g.cg} ${g.kernelH} ${g.kernelW} ${g.height} ${g.width}`;
  return table(device, key, () => {
    const t = new Uint32Array(4 * g.wk);
    for (let k = 0; k < g.wk; k++) {
      const c = Math.floor(k / (g.kernelH * g.kernelW)), r = k % (g.kernelH * g.kernelW);
      const ky = Math.floor(r / g.kernelW), kx = r % g.kernelW;
      t.set([c * g.height * g.width + ky * g.width + kx, ky, kx, 0], 4 * k);
    }
    return t;
  });
}

/** Input-gradient taps k = (o, ky, kx): vec4u(o·OH·OW, ky, kx, o·wk + ky·KW + kx). */
function inputTable(device: Device, g: Resolved): GpuBuffer {
  const key = `i ${g.og} ${g.wk} ${g.kernelH} ${g.kernelW} ${g.outH} ${g.outW}`;
  return table(device, key, () => {
    const taps = g.kernelH * g.kernelW, t = new Uint32Array(4 * g.og * taps);
    for (let k = 0; k < g.og * taps; k++) {
      const o = Math.floor(k / taps), r = k % taps;
      const ky = Math.floor(r / g.kernelW), kx = r % g.kernelW;
      t.set([o * g.outH * g.outW, ky, kx, o * g.wk + ky * g.kernelW + kx], 4 * k);
    }
    return t;
  });
}

/**
 * Output pixels k = (b, oy, ox) of a run of `count` samples: vec4u(b·outSample + oy·OW + ox,
 * b·inSample, oy·SH − PH, ox·SW − PW) (wrapping u32 where negative). The weight gradient's K
 * loop walks pixels; the table spares it three divisions per load.
 */
function pixelTable(device: Device, g: Resolved, count: number): GpuBuffer {
  const key = `p ${count} ${g.inChannels} ${g.height} ${g.width} ${g.outChannels} ${g.outH} ` +
    `${g.outW} ${g.strideH} ${g.strideW} ${g.padH} ${g.padW}`;
  return table(device, key, () => {
    const ohw = g.outH * g.outW, t = new Uint32Array(4 * count * ohw);
    const inSample = g.inChannels * g.height * g.width, outSample = g.outChannels * ohw;
    for (let b = 0, k = 0; b < count; b++) {
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++, k++) {
          const iy = (oy * g.strideH - g.padH) >>> 0, ix = (ox * g.strideW - g.padW) >>> 0;
          t.set([b * outSample + oy * g.outW + ox, b * inSample, iy, ix], 4 * k);
        }
      }
    }
    return t;
  });
}

/** The sizes every conv GEMM shares as uniforms. */
export function geometryUniforms(uf: Uniforms, g: Resolved, count: number) {
  return uf.all({
    batchRun: count,
    height: g.height,
    width: g.width,
    hw: g.height * g.width,
    outH: g.outH,
    outW: g.outW,
    ohw: g.outH * g.outW,
    strideH: g.strideH,
    strideW: g.strideW,
    padH: g.padH,
    padW: g.padW,
    cg: g.cg,
    og: g.og,
    wk: g.wk,
    taps: g.kernelH * g.kernelW,
    inSample: g.inChannels * g.height * g.width,
    outSample: g.outChannels * g.outH * g.outW,
  });
}

/** The GEMM core's sizes as uniforms. */
export function sizeUniforms(
  uf: Uniforms,
  grid: ReturnType<typeof gemmGrid>,
  m: number,
  n: number,
  k: number,
  batch: number,
) {
  return {
    ...uf.all({ m, n, k, batch, tilesM: grid.tilesM, tilesN: grid.tilesN }),
    ...uf.all({ splits: grid.splits, kPerSplit: grid.kPerSplit, workgroups: grid.workgroups }),
  };
}

/**
 * A conv GEMM's grid and uniforms, in the order every pass registers them: the shared
 * geometry (`G`), the pass's own values (`S`: run shifts, phase sizes), then the core's sizes.
 * Only the weight gradient splits K (its `v.splits`); the other passes keep one range.
 */
export function convGemmSetup<K extends string>(
  g: Resolved,
  v: ConvGemm,
  count: number,
  [m, n, k]: [number, number, number],
  own: Record<K, number>,
  splits = 1,
) {
  const grid = gemmGrid(v.tile, m, n, k, g.groups, splits);
  const uf = new Uniforms();
  const G = geometryUniforms(uf, g, count);
  const S = uf.all(own);
  const sizes = sizeUniforms(uf, grid, m, n, k, g.groups);
  return { grid, uf, G, S, sizes };
}

/**
 * The A operand of the forward pass and the input gradient: per load unit the caller's
 * `corner(m, p)` (its pixel's base and coordinates, decoded once), per tap its `gather`.
 */
function gatheredA(gather: string): GemmOperand {
  return {
    vec4: false,
    kContig: false,
    prep: (m) => `corner(${m}, p)`,
    load: (_m, k, pr) => `${gather}(${pr}, ${k})`,
  };
}

/** Checks a GEMM variant against the device. */
export function checkGemm(device: Device, v: ConvGemm, what: string): void {
  if (!tileFits(v.tile, device.limits) || (v.tile.lanes && !device.hasSubgroups)) {
    throw new RangeError(`${what}: GEMM tile ${JSON.stringify(v.tile)} does not fit this device`);
  }
  if (v.splits !== undefined && !(Number.isInteger(v.splits) && v.splits >= 1)) {
    throw new RangeError(`${what}: splits must be a positive integer, got ${v.splits}`);
  }
}

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
  const { grid, uf, G, S, sizes } = convGemmSetup(g, v, run.count, [M, N, K], {
    xShift: run.x.shift,
    outShift: run.out.shift,
  });
  const wVec = g.wk % 4 === 0;
  const bias = !!bind.bias;
  let value = bias ? `v + bias[g * ${G.og} + n]` : "v";
  if (flags.relu) value = `max(${value}, 0.0)`;
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
fn gatherX(pr: vec4u, k: u32) -> f32 {
  let t = tab[k];
  let iy = pr.z + t.y;
  let ix = pr.w + t.z;
  let ok = iy < ${G.height} && ix < ${G.width};
  // t.x already holds ky·W + kx: the pixel adds its corner.
  return select(0.0, x[select(0u, pr.x + t.x + pr.z * ${G.width} + pr.w, ok)], ok);
}
fn put(g: u32, m: u32, n: u32, v: f32) {
  let b = m / ${G.ohw};
  let r = m % ${G.ohw};
  out[${S.outShift} + b * ${G.outSample} + (g * ${G.og} + n) * ${G.ohw} + r] = ${value};
}`;
  const wgsl = gemmWgsl({
    tile: v.tile,
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
    store: (m, n, val) => `put(p, ${m}, ${n}, ${val});`,
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
  const tab = { buffer: forwardTable(device, g), size: 16 * g.wk };
  device.dispatch({
    name: flags.name,
    wgsl,
    uniforms: uf.data(),
    workgroups: grid.workgroups,
    variant: `gemm ${tileName(v.tile)}`,
    cost: { flops: 2 * M * N * K * g.groups },
  }, [bind.x, bind.w, tab, ...(bind.bias ? [bind.bias] : []), bind.out]);
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
  run: { count: number; dy: RunPart; dx: RunPart },
  bind: { dy: Binding; w: Binding; dx: Binding; mask?: Binding },
  name: string,
): void {
  if (g.strideH !== 1 || g.strideW !== 1) {
    throw new RangeError(`${name}: inputGradGemm is for stride 1`);
  }
  const M = run.count * g.height * g.width, N = g.cg, K = g.og * g.kernelH * g.kernelW;
  const { grid, uf, G, S, sizes } = convGemmSetup(g, v, run.count, [M, N, K], {
    dyShift: run.dy.shift,
    dxShift: run.dx.shift,
  });
  // Input pixel m's padded coordinates; tap (ky, kx) reads dy at those minus (ky, kx).
  const pixels = { plane: G.hw, cols: G.width, originY: G.padH, originX: G.padW };
  const helpers = `${dyGatherWgsl(G, S.dyShift, pixels, "-")}
fn put(g: u32, m: u32, n: u32, v: f32) {
  let b = m / ${G.hw};
  let at = ${S.dxShift} + b * ${G.inSample} + (g * ${G.cg} + n) * ${G.hw} + m % ${G.hw};
  ${storeDx(!!bind.mask)}
}`;
  withPackedWeights(device, g, bind.w, name, (packed) =>
    inputGradDispatch(device, g, v, {
      name,
      uf,
      sizes,
      helpers,
      // Row k of the group's packed kernel is tap k.
      row: (k) => `p * ${sizes.k} + ${k}`,
      tab: { buffer: inputTable(device, g), size: 16 * K },
      packed,
      workgroups: grid.workgroups,
      flops: 2 * M * N * K * g.groups,
      variant: "",
    }, bind));
}

/**
 * The WGSL helpers through which an input-gradient GEMM reads A = dY: `corner(m, g)` gives
 * pixel m's sample and group base in dy and its dy coordinates (a grid of `plane` pixels per
 * sample in rows of `cols`, offset by the origin; wrapping u32 where negative), and
 * `gatherDy` steps them by its table's tap row and column (`tapStep`), zero outside dy.
 */
export function dyGatherWgsl(
  G: ReturnType<typeof geometryUniforms>,
  dyShift: string,
  pixels: { plane: string; cols: string; originY: string; originX: string },
  tapStep: "+" | "-",
): string {
  const { plane, cols, originY, originX } = pixels;
  return `
fn corner(m: u32, g: u32) -> vec4u {
  let b = m / ${plane};
  let r = m % ${plane};
  let base = ${dyShift} + b * ${G.outSample} + g * ${G.og} * ${G.ohw};
  return vec4u(base, 0u, r / ${cols} + ${originY}, r % ${cols} + ${originX});
}
fn gatherDy(pr: vec4u, k: u32) -> f32 {
  let t = tab[k];
  let oy = pr.z ${tapStep} t.y;
  let ox = pr.w ${tapStep} t.z;
  let ok = oy < ${G.outH} && ox < ${G.outW};
  return select(0.0, dy[select(0u, pr.x + t.x + oy * ${G.outW} + ox, ok)], ok);
}`;
}

/** The statement of an input-gradient GEMM's `put` storing `v` at `at`, ReLU-masked by `mask`. */
export function storeDx(masked: boolean): string {
  return `dx[at] = ${masked ? reluMasked("v", "mask[at]") : "v"};`;
}

/**
 * The dispatch of an input-gradient GEMM: A is dY through the caller's `corner` and
 * `gatherDy` (helpers), B the packed kernel's row `row(k)` (contiguous along input channels),
 * and the caller's `put` stores by {@link storeDx}.
 */
export function inputGradDispatch(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  d: {
    name: string;
    uf: Uniforms;
    sizes: ReturnType<typeof sizeUniforms>;
    helpers: string;
    row: (k: string) => string;
    tab: Binding;
    packed: Binding;
    workgroups: number;
    flops: number;
    variant: string;
  },
  bind: { dy: Binding; dx: Binding; mask?: Binding },
): void {
  const cg = d.uf.u32("cg", g.cg);
  const wVec = g.cg % 4 === 0;
  const wgsl = gemmWgsl({
    tile: v.tile,
    a: gatheredA("gatherDy"),
    // The packed kernel is contiguous along N (input channels): vec4 loads where they divide.
    b: {
      vec4: wVec,
      kContig: false,
      load: (n, k) =>
        wVec ? `wt[((${d.row(k)}) * ${cg} + ${n}) / 4u]` : `wt[(${d.row(k)}) * ${cg} + ${n}]`,
    },
    sizes: d.sizes,
    store: (m, n, val) => `put(p, ${m}, ${n}, ${val});`,
    declarations: () =>
      [
        "@group(0) @binding(0) var<storage, read> dy: array<f32>;",
        `@group(0) @binding(1) var<storage, read> wt: array<${wVec ? "vec4f" : "f32"}>;`,
        "@group(0) @binding(2) var<storage, read> tab: array<vec4u>;",
        "@group(0) @binding(3) var<storage, read_write> dx: array<f32>;",
        ...(bind.mask ? ["@group(0) @binding(4) var<storage, read> mask: array<f32>;"] : []),
        d.uf.declare(bind.mask ? 5 : 4),
        d.helpers,
      ].join("\n"),
  });
  device.dispatch({
    name: d.name,
    wgsl,
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
  const uf = new Uniforms();
  const u = uf.all({ n: g.outChannels * g.wk, cg: g.cg, wk: g.wk, taps: g.kernelH * g.kernelW });
  // Element i of wt is (row k, channel c); row k = (group·og + o)·taps + t.
  const body = `
  let c = i % ${u.cg};
  let row = i / ${u.cg};
  let t = row % ${u.taps};
  let o = row / ${u.taps};
  wt[i] = w[o * ${u.wk} + c * ${u.taps} + t];`;
  device.dispatch({
    name: `${name} pack`,
    wgsl: `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
${uf.declare(2)}
${flatMain(64, u.n, body)}
`,
    uniforms: uf.data(),
    workgroups: Math.ceil((g.outChannels * g.wk) / 64),
    variant: "pack",
    cost: { bytes: 8 * g.outChannels * g.wk },
  }, [w, wt]);
}

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
  const { grid, uf, G, S, sizes } = convGemmSetup(g, v, run.count, [M, N, K], {
    xShift: run.x.shift,
    dyShift: run.dy.shift,
    weights: nw,
    block: nw + (bias ? g.outChannels : 0),
  }, v.splits ?? 1);
  const split = grid.splits > 1;
  const helpers = `
// Weight column n (channel, kernel row, column) of group g: where its channel starts in x,
// and its kernel row and column.
fn tap(n: u32, g: u32) -> vec4u {
  let t = tab[n];
  return vec4u(${S.xShift} + g * ${G.cg} * ${G.hw} + t.x - t.y * ${G.width} - t.z, t.y, t.z, 0u);
}
// Pixel k of the run, from its table entry (no division in the K loop).
fn loadDy(base: u32, k: u32) -> f32 {
  return dy[base + pix[k].x];
}
fn gatherX(pr: vec4u, k: u32) -> f32 {
  let t = pix[k];
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
  const wgsl = gemmWgsl({
    tile: v.tile,
    a: {
      vec4: false,
      kContig: true,
      prep: (m) => `vec4u(${S.dyShift} + (p * ${G.og} + ${m}) * ${G.ohw}, 0u, 0u, 0u)`,
      load: (_m, k, pr) => `loadDy(${pr}.x, ${k})`,
    },
    b: {
      vec4: false,
      kContig: true,
      // A unit's tap: where its channel starts in x, and its kernel row and column.
      prep: (n) => `tap(${n}, p)`,
      load: (_n, k, pr) => `gatherX(${pr}, ${k})`,
    },
    sizes,
    store: (m, n, val) => put(dst(m, n), val),
    rowSum: bias ? (m, val) => put(biasDst(m), val) : undefined,
    declarations: () =>
      [
        "@group(0) @binding(0) var<storage, read> x: array<f32>;",
        "@group(0) @binding(1) var<storage, read> dy: array<f32>;",
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

/**
 * Which kernel runs a convolution pass: the register-patch kernel, the GEMM core, (3×3
 * or 5×5 stride 1, forward and input gradient) Winograd F(2×2, r×r) around batched GEMMs, or (1×1,
 * stride 1, no padding, one group) a plain batched matmul (`_pointwise.ts`).
 */
export type ConvAlgorithm =
  | { kind: "direct" }
  | ({ kind: "gemm" } & ConvGemm)
  | { kind: "winograd"; tile?: GemmTile }
  | { kind: "pointwise"; tile?: GemmTile };

/** The three passes of a convolution that have candidates. */
export type ConvPass = "forward" | "gradInput" | "gradWeight";

/** The GPU tiles the candidates draw on: 128×128 of 8×8, 128×64 of 8×4, 64×64 of 4×4. */
export const CONV_GPU_TILES: readonly GemmTile[] = [
  gemmTile(128, 128, 8, 8, 8),
  gemmTile(128, 64, 8, 8, 4),
  gemmTile(64, 64, 16, 4, 4),
];

/** The register-GEMM tiles (software adapters with subgroups): 32 × 32 and 16 × 64. */
export const CONV_SUBGROUP_TILES: readonly GemmTile[] = [subgroupTile(32, 4), subgroupTile(16, 8)];

/** A small tile of the core, for software adapters and small problems. */
export const CONV_SMALL_TILE: GemmTile = gemmTile(32, 32, 4, 4, 4);

/** Work per sample from which Winograd is the default on software adapters (see below). */
const WINOGRAD_SOFTWARE_FLOPS = 30e6;

/** Workgroups a GPU wants in flight before split-K stops paying. */
const GPU_FILL = 256;

/** The name of an algorithm, as the profiler, the bench and the autotuner's cache show it. */
export function algorithmName(a: ConvAlgorithm): string {
  if (a.kind === "direct") return "direct";
  if (a.kind === "winograd" || a.kind === "pointwise") {
    return `${a.kind}${a.tile ? ` ${tileName(a.tile)}` : ""}`;
  }
  return `gemm ${tileName(a.tile)}${(a.splits ?? 1) > 1 ? ` split ${a.splits}` : ""}`;
}

/**
 * The candidates of a pass, the deterministic default first: on software adapters Winograd
 * (from 30 MFLOP per sample) or the 1×1 GEMM where they apply (with subgroups), the register
 * GEMM for a forward pass strided by at least half its kernel (with subgroups), else the
 * direct kernel; on GPUs the GEMM
 * core with a tile by the size of the product (split-K for the weight gradient, to fill the
 * device), except the input gradient of a strided convolution: its GEMMs (one per stride
 * phase, no zero taps) are candidates the autotuner times, but the default stays the direct
 * kernel until a GPU has measured them (conv1's 3 input channels fill 3 of a tile's 64–128
 * columns). On lavapipe they ran even with the direct kernel (3×3 s2, 8–96 channels: 0.8–1.2×).
 */
export function convCandidates(
  device: Device,
  pass: ConvPass,
  g: Resolved,
): { name: string; value: ConvAlgorithm }[] {
  const [M, N, K] = pass === "forward"
    ? [g.batch * g.outH * g.outW, g.og, g.wk]
    : pass === "gradInput"
    ? [g.batch * g.height * g.width, g.cg, g.og * g.kernelH * g.kernelW]
    : [g.og, g.wk, g.batch * g.outH * g.outW];
  const fit = CONV_GPU_TILES.filter((t) => tileFits(t, device.limits));
  const splitsFor = (t: GemmTile): number => {
    if (pass !== "gradWeight") return 1;
    const tiles = Math.ceil(M / t.tileM) * Math.ceil(N / t.tileN) * g.groups;
    const deep = Math.floor(K / (32 * t.tileK));
    return Math.max(1, Math.min(Math.ceil(GPU_FILL / tiles), deep, 64));
  };
  const gemm = (t: GemmTile): ConvAlgorithm => ({ kind: "gemm", tile: t, splits: splitsFor(t) });
  const rule = pass === "gradWeight"
    ? (M >= 128 ? fit[0] : fit.at(-1))
    : N > 64
    ? fit[0]
    : M >= 16384
    ? fit[1]
    : fit.at(-1);
  const direct: ConvAlgorithm = { kind: "direct" };
  const strided = pass === "gradInput" && (g.strideH > 1 || g.strideW > 1);
  let list: ConvAlgorithm[];
  if (device.isSoftware || !rule) {
    const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES.map(gemm) : [];
    // A strided forward pass whose stride is at least half its kernel runs on the register
    // GEMM first. The direct kernel slides a patch of (tile − 1)·stride + taps input columns
    // along x: about stride/kernel loads per multiply-add, where the GEMM's gather does not
    // depend on the stride. GPU ms, medians (bench/RESULTS.md): 3×3 s2 48→64 28² 1.5–2.8
    // against 4.0–5.3, 1×1 s2 0.4 against 0.8–1.2, 5×5 s3 4.0 against 5.6; below half the
    // direct kernel keeps it (5×5 s2 even, 7×7 s2 5→29 1.2 against 1.6, conv1 11×11 s4 30
    // against 62).
    const stridedForward = pass === "forward" && (g.strideH > 1 || g.strideW > 1) &&
      2 * g.strideH >= g.kernelH && 2 * g.strideW >= g.kernelW;
    list = stridedForward && registerTiles.length > 0
      ? [...registerTiles, direct, gemm(CONV_SMALL_TILE), ...fit.map(gemm)]
      : [direct, ...registerTiles, gemm(CONV_SMALL_TILE), ...fit.map(gemm)];
  } else {
    const others = fit.filter((t) => t !== rule).map(gemm);
    list = strided ? [direct, gemm(rule), ...others] : [gemm(rule), ...others, direct];
  }
  // Winograd and the 1×1 GEMM over NCHW run their products on matmul: on software adapters
  // with subgroups (the register GEMM) they ran 1.6–3× faster than the direct kernel
  // (bench/RESULTS.md), so they come first there. Winograd's four dispatches pay from about
  // 30 MFLOP per sample (a 5×5 layer of 35 MFLOP per sample broke even, conv2–5's 75–450 ran
  // 1.6–2× faster); judged per sample, so a new batch size never switches the algorithm.
  const registerGemm = device.isSoftware && device.hasSubgroups;
  const perSample = 2 * g.outChannels * g.outH * g.outW * g.wk;
  const add = (a: ConvAlgorithm, first: boolean) => (first ? list.unshift(a) : list.push(a));
  if (pass !== "gradWeight" && winogradApplies(g, pass)) {
    add({ kind: "winograd" }, registerGemm && perSample >= WINOGRAD_SOFTWARE_FLOPS);
  }
  if (pointwiseApplies(g)) add({ kind: "pointwise" }, registerGemm);
  // Split-K alternatives of the weight gradient: none, and the default's.
  if (pass === "gradWeight") {
    list = list.flatMap((a) =>
      a.kind === "gemm" && (a.splits ?? 1) > 1 ? [a, { ...a, splits: 1 }] : [a]
    );
  }
  return list.map((value) => ({ name: algorithmName(value), value }));
}

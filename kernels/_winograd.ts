/**
 * Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions: each 2×2 block of outputs comes from a
 * 4×4 input tile with 16 multiplications per channel pair instead of 36,
 *
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 *
 * done as three transforms around 16·groups batched GEMMs on the shared core (`matmul`):
 * U[ξ, g] = (G g Gᵀ)ξ as [C/groups × O/groups], V[ξ, g] = (Bᵀ d B)ξ as [tiles × C/groups],
 * M[ξ, g] = V·U, and the output transform with bias and ReLU. The input gradient of a 3×3
 * stride-1 convolution is the same algorithm on gradOut with the kernel flipped and its channel
 * axes swapped, padded by 2 − pad.
 *
 * Error: the transforms use only 0, ±1 and ±½, so the extra rounding is a few additions per
 * value; tests bound it against the float64 reference (kernel_conv2d_test.ts) and bench/RESULTS.md
 * records the measured error.
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { flatMain, reluMasked } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { matmul, type MatmulTile } from "./matmul.ts";
import type { Resolved } from "./_conv_geometry.ts";
import type { RunPart } from "./_program.ts";

/** Whether Winograd F(2×2, 3×3) applies: a 3×3 kernel at stride 1 (and pad ≤ 2 for gradients). */
export function winogradApplies(g: Resolved, pass: "forward" | "gradInput"): boolean {
  const shape = g.kernelH === 3 && g.kernelW === 3 && g.strideH === 1 && g.strideW === 1;
  return shape && (pass === "forward" || (g.padH <= 2 && g.padW <= 2));
}

/** One Winograd convolution: input [N, C, H, W] → output [N, O, H + 2p − 2, W + 2p − 2]. */
interface WinogradConv {
  name: string;
  count: number;
  groups: number;
  /** Input channels per group (the GEMM's K) and output channels per group (its N). */
  cin: number;
  cout: number;
  height: number;
  width: number;
  padH: number;
  padW: number;
  /** The 3×3 kernel of (o, c) is at w[o·cin·9 + c·9] unless `gradient`, which reads the flipped
   * kernel of the forward pass's (c, o): w[(g·cin + c)·cout·9 + o·9 + 8 − tap]. */
  gradient: boolean;
  xShift: number;
  outShift: number;
  relu: boolean;
  tile?: MatmulTile;
}

/**
 * Records one run of samples: transforms, the batched GEMMs, the output transform. Scratch
 * (U, V, M) is allocated for the call and released after recording.
 */
export function winogradConv(
  device: Device,
  c: WinogradConv,
  bind: { x: Binding; w: Binding; bias?: Binding; out: Binding; mask?: Binding },
): void {
  const outH = c.height + 2 * c.padH - 2, outW = c.width + 2 * c.padW - 2;
  const tilesH = Math.ceil(outH / 2), tilesW = Math.ceil(outW / 2);
  const P = c.count * tilesH * tilesW, G = c.groups;
  const uf = new Uniforms();
  const U = uf.all({
    count: c.count,
    groups: G,
    cin: c.cin,
    cout: c.cout,
    height: c.height,
    width: c.width,
    hw: c.height * c.width,
    padH: c.padH,
    padW: c.padW,
    outH,
    outW,
    ohw: outH * outW,
    tilesH,
    tilesW,
    tiles: tilesH * tilesW,
    p: P,
    xShift: c.xShift,
    outShift: c.outShift,
    weights: G * c.cin * c.cout,
    vSize: G * P * c.cin,
    mSize: G * P * c.cout,
    inSample: G * c.cin * c.height * c.width,
    outSample: G * c.cout * outH * outW,
  });
  const uBuf = device.alloc(16 * G * c.cin * c.cout * 4, "winograd U");
  const vBuf = device.alloc(16 * G * P * c.cin * 4, "winograd V");
  const mBuf = device.alloc(16 * G * P * c.cout * 4, "winograd M");
  const uniforms = uf.data();
  const whole = (buffer: typeof uBuf) => ({ buffer });

  // U[ξ][g][c][o] = (G g Gᵀ)ξ.
  const tap = c.gradient
    ? `w[(g * ${U.cin} + ci) * ${U.cout} * 9u + o * 9u + 8u - t]`
    : `w[((g * ${U.cout} + o) * ${U.cin} + ci) * 9u + t]`;
  const weightBody = `
  let ci = i % ${U.cin};
  let o = (i / ${U.cin}) % ${U.cout};
  let g = i / (${U.cin} * ${U.cout});
  var k: array<f32, 9>;
  for (var t = 0u; t < 9u; t++) { k[t] = ${tap}; }
  // Gg (4×3), then (Gg)Gᵀ (4×4); G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
  var h: array<f32, 12>;
  for (var j = 0u; j < 3u; j++) {
    let a = k[j]; let b = k[3u + j]; let d = k[6u + j];
    h[j] = a; h[3u + j] = 0.5 * (a + b + d); h[6u + j] = 0.5 * (a - b + d); h[9u + j] = d;
  }
  let at = (g * ${U.cin} + ci) * ${U.cout} + o;
  for (var r = 0u; r < 4u; r++) {
    let a = h[3u * r]; let b = h[3u * r + 1u]; let d = h[3u * r + 2u];
    let row = array<f32, 4>(a, 0.5 * (a + b + d), 0.5 * (a - b + d), d);
    for (var q = 0u; q < 4u; q++) { wt[(4u * r + q) * ${U.weights} + at] = row[q]; }
  }`;
  const weightWgsl = `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
${uf.declare(2)}
${flatMain(64, U.weights, weightBody)}
`;
  const transformCost = { bytes: 4 * 25 * G * c.cin * c.cout };
  device.dispatch({
    name: `${c.name} winograd weights`,
    wgsl: weightWgsl,
    uniforms,
    workgroups: Math.ceil((G * c.cin * c.cout) / 64),
    variant: "winograd F(2×2,3×3)",
    cost: transformCost,
  }, [bind.w, whole(uBuf)]);

  // V[ξ][g][p][c] = (Bᵀ d B)ξ, d the 4×4 input tile at (2·ty − padH, 2·tx − padW).
  const inputBody = `
  let ci = i % ${U.cin};
  let p = (i / ${U.cin}) % ${U.p};
  let g = i / (${U.cin} * ${U.p});
  let n = p / ${U.tiles};
  let t = p % ${U.tiles};
  let y0 = (t / ${U.tilesW}) * 2u - ${U.padH};
  let x0 = (t % ${U.tilesW}) * 2u - ${U.padW};
  let base = ${U.xShift} + n * ${U.inSample} + (g * ${U.cin} + ci) * ${U.hw};
  var d: array<f32, 16>;
  for (var r = 0u; r < 4u; r++) {
    for (var q = 0u; q < 4u; q++) {
      let iy = y0 + r; let ix = x0 + q;
      let ok = iy < ${U.height} && ix < ${U.width};
      d[4u * r + q] = select(0.0, x[select(0u, base + iy * ${U.width} + ix, ok)], ok);
    }
  }
  // Bᵀd then (Bᵀd)B; Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
  var e: array<f32, 16>;
  for (var q = 0u; q < 4u; q++) {
    e[q] = d[q] - d[8u + q]; e[4u + q] = d[4u + q] + d[8u + q];
    e[8u + q] = d[8u + q] - d[4u + q]; e[12u + q] = d[4u + q] - d[12u + q];
  }
  let at = (g * ${U.p} + p) * ${U.cin} + ci;
  for (var r = 0u; r < 4u; r++) {
    let a = e[4u * r]; let b = e[4u * r + 1u]; let cc = e[4u * r + 2u]; let dd = e[4u * r + 3u];
    let row = array<f32, 4>(a - cc, b + cc, cc - b, b - dd);
    for (var q = 0u; q < 4u; q++) { v[(4u * r + q) * ${U.vSize} + at] = row[q]; }
  }`;
  device.dispatch({
    name: `${c.name} winograd input`,
    wgsl: `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
${uf.declare(2)}
${flatMain(64, U.vSize, inputBody)}
`,
    uniforms,
    workgroups: Math.ceil((G * P * c.cin) / 64),
    variant: "winograd F(2×2,3×3)",
    cost: { bytes: 4 * 17 * G * P * c.cin },
  }, [bind.x, whole(vBuf)]);

  // M[ξ][g] = V[ξ][g] · U[ξ][g]: 16·groups products of [P × cin]·[cin × cout].
  matmul(device, {
    a: vBuf,
    b: uBuf,
    out: mBuf,
    m: P,
    n: c.cout,
    k: c.cin,
    batch: 16 * G,
    tile: c.tile,
  });

  // Y = Aᵀ M A per tile, Aᵀ = [1 1 1 0; 0 1 −1 −1], then bias and ReLU.
  const bias = !!bind.bias;
  let value = bias ? `y + bias[g * ${U.cout} + o]` : "y";
  if (c.relu) value = `max(${value}, 0.0)`;
  if (bind.mask) value = reluMasked(value, "mask[outAt]");
  const outputBody = `
  let o = i % ${U.cout};
  let p = (i / ${U.cout}) % ${U.p};
  let g = i / (${U.cout} * ${U.p});
  var m: array<f32, 16>;
  let at = (g * ${U.p} + p) * ${U.cout} + o;
  for (var j = 0u; j < 16u; j++) { m[j] = mm[j * ${U.mSize} + at]; }
  var s: array<f32, 8>;
  for (var q = 0u; q < 4u; q++) {
    s[q] = m[q] + m[4u + q] + m[8u + q];
    s[4u + q] = m[4u + q] - m[8u + q] - m[12u + q];
  }
  let n = p / ${U.tiles};
  let t = p % ${U.tiles};
  let oy = (t / ${U.tilesW}) * 2u;
  let ox = (t % ${U.tilesW}) * 2u;
  let base = ${U.outShift} + n * ${U.outSample} + (g * ${U.cout} + o) * ${U.ohw};
  for (var r = 0u; r < 2u; r++) {
    let a = s[4u * r]; let b = s[4u * r + 1u]; let cc = s[4u * r + 2u]; let dd = s[4u * r + 3u];
    let pair = array<f32, 2>(a + b + cc, b - cc - dd);
    for (var q = 0u; q < 2u; q++) {
      if (oy + r < ${U.outH} && ox + q < ${U.outW}) {
        let y = pair[q];
        let outAt = base + (oy + r) * ${U.outW} + ox + q;
        out[outAt] = ${value};
      }
    }
  }`;
  device.dispatch({
    name: `${c.name} winograd output`,
    wgsl: `
@group(0) @binding(0) var<storage, read> mm: array<f32>;
${bias ? "@group(0) @binding(1) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${bias ? 2 : 1}) var<storage, read_write> out: array<f32>;
${bind.mask ? `@group(0) @binding(${bias ? 3 : 2}) var<storage, read> mask: array<f32>;` : ""}
${uf.declare((bias ? 3 : 2) + (bind.mask ? 1 : 0))}
${flatMain(64, U.mSize, outputBody)}
`,
    uniforms,
    workgroups: Math.ceil((G * P * c.cout) / 64),
    variant: `winograd F(2×2,3×3)${bind.mask ? " relu-mask" : ""}`,
    cost: { bytes: 4 * 20 * G * P * c.cout },
  }, [whole(mBuf), ...(bind.bias ? [bind.bias] : []), bind.out, ...(bind.mask ? [bind.mask] : [])]);
  for (const b of [uBuf, vBuf, mBuf]) device.release(b);
}

/** Per-sample f32 counts of the scratch (V and M) of one sample, for splitting the batch. */
export function winogradScratchPerSample(g: Resolved, pass: "forward" | "gradInput"): number[] {
  const [h, w, cin, cout] = pass === "forward"
    ? [g.outH, g.outW, g.cg, g.og]
    : [g.height, g.width, g.og, g.cg];
  const tiles = Math.ceil(h / 2) * Math.ceil(w / 2);
  return [16 * g.groups * tiles * cin, 16 * g.groups * tiles * cout];
}

/** The forward pass of one run of samples. */
export function winogradForward(
  device: Device,
  g: Resolved,
  run: { count: number; x: RunPart; out: RunPart },
  bind: { x: Binding; w: Binding; bias?: Binding; out: Binding },
  flags: { relu: boolean; name: string; tile?: MatmulTile },
): void {
  winogradConv(device, {
    name: flags.name,
    count: run.count,
    groups: g.groups,
    cin: g.cg,
    cout: g.og,
    height: g.height,
    width: g.width,
    padH: g.padH,
    padW: g.padW,
    gradient: false,
    xShift: run.x.shift,
    outShift: run.out.shift,
    relu: flags.relu,
    tile: flags.tile,
  }, bind);
}

/**
 * The input gradient of one run of samples: the forward algorithm on gradOut, kernel flipped;
 * times the ReLU mask of `bind.mask` (bound like `dx`) in the output transform when given.
 */
export function winogradInputGrad(
  device: Device,
  g: Resolved,
  run: { count: number; dy: RunPart; dx: RunPart },
  bind: { dy: Binding; w: Binding; dx: Binding; mask?: Binding },
  flags: { name: string; tile?: MatmulTile },
): void {
  winogradConv(device, {
    name: flags.name,
    count: run.count,
    groups: g.groups,
    cin: g.og,
    cout: g.cg,
    height: g.outH,
    width: g.outW,
    padH: 2 - g.padH,
    padW: 2 - g.padW,
    gradient: true,
    xShift: run.dy.shift,
    outShift: run.dx.shift,
    relu: false,
    tile: flags.tile,
  }, { x: bind.dy, w: bind.w, out: bind.dx, mask: bind.mask });
}

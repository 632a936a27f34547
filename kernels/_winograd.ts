/**
 * Winograd F(2×2, r×r) for square r×r stride-1 convolutions, r = 3 (conv3–conv5) or 5 (conv2):
 * each 2×2 block of outputs comes from an n×n input tile (n = r + 1) with n² multiplications
 * per channel pair instead of 4r² (16 instead of 36, 36 instead of 100),
 *
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 *
 * done as three transforms around n²·groups batched GEMMs on `matmul` (the shared GEMM core,
 * or the register GEMM on software adapters): U[ξ, g] = (G g Gᵀ)ξ as [C/groups × O/groups],
 * V[ξ, g] = (Bᵀ d B)ξ as [tiles × C/groups], M[ξ, g] = V·U, and the output transform with bias
 * and ReLU. The input gradient of an r×r stride-1 convolution is the same algorithm on gradOut
 * with the kernel flipped and its channel axes swapped, padded by r − 1 − pad.
 *
 * The matrices come from the Toom–Cook construction at the points 0, ±1 (r = 3) and 0, ±1, ±2
 * (r = 5), plus ∞: Aᵀ evaluates the two outputs, G the kernel, Bᵀ is the inverse
 * transposed Vandermonde matrix scaled to integers. The transforms are generated as unrolled
 * sums of the non-zero terms.
 *
 * Error: F(2×2, 3×3) uses only 0, ±1 and ±½, so the extra rounding is a few additions per
 * value; F(2×2, 5×5) has coefficients up to 5 in Bᵀ and 1/24 in G, so it rounds more.
 * Tests bound both against the float64 reference (kernel_conv2d_test.ts) and
 * bench/RESULTS.md records the measured error (bench/conv_error.ts).
 *
 * @module
 */

import type { Binding, Device } from "./device.ts";
import { f32Literal, flatMain, relu, reluMasked } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { memoised } from "./_memo.ts";
import { matmul, type MatmulTile } from "./matmul.ts";
import { geometryKey, isDilated, type Resolved } from "./_conv_geometry.ts";
import type { RunPart } from "./_program.ts";

/** The transforms of F(2×2, r×r): Aᵀ (2 × n), G (n × r), Bᵀ (n × n). */
interface WinogradForm {
  r: number;
  n: number;
  AT: number[][];
  G: number[][];
  BT: number[][];
}

const FORMS: Record<number, WinogradForm> = {
  3: {
    r: 3,
    n: 4,
    AT: [[1, 1, 1, 0], [0, 1, -1, 1]],
    G: [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]],
  },
  5: {
    r: 5,
    n: 6,
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]],
    G: [
      [1 / 4, 0, 0, 0, 0],
      [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6],
      [1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 6],
      [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
      [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
      [0, 0, 0, 0, 1],
    ],
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, 4, 4, -1, -1, 0],
      [0, -4, 4, 1, -1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
  },
};

/**
 * Whether Winograd F(2×2, r×r) applies: a square 3×3 or 5×5 kernel at stride 1 (and, for the
 * input gradient, padding ≤ r − 1).
 */
export function winogradApplies(g: Resolved, pass: "forward" | "gradInput"): boolean {
  const r = g.kernelH;
  // F(2×2, r×r) transforms adjacent taps: a dilated kernel is not one of its forms.
  const shape = r === g.kernelW && r in FORMS && g.strideH === 1 && g.strideW === 1 &&
    !isDilated(g);
  return shape && (pass === "forward" || (g.padH <= r - 1 && g.padW <= r - 1));
}

/** Why Winograd refuses a convolution (the error names the pass). */
export const WINOGRAD_ONLY = "Winograd needs a 3×3 or 5×5 kernel at stride 1, undilated";

/** WGSL of Σ c[k]·x[k] over the non-zero coefficients. */
function combine(coefs: readonly number[], xs: readonly string[]): string {
  const terms: string[] = [];
  coefs.forEach((c, k) => {
    if (c === 0) return;
    const term = Math.abs(c) === 1 ? xs[k] : `${f32Literal(Math.abs(c))} * ${xs[k]}`;
    terms.push(terms.length === 0 ? (c < 0 ? `-${term}` : term) : `${c < 0 ? "-" : "+"} ${term}`);
  });
  return terms.length === 0 ? "0.0" : terms.join(" ");
}

/**
 * WGSL `let`s of Y = T·X·Tᵀ (T is b × a, X is a × a named `${x}${i}_${j}`), named
 * `${y}${i}_${j}`, through `${y}h${i}_${j}` = (T·X).
 */
function twoSidedWgsl(T: readonly number[][], x: string, y: string): string[] {
  const a = T[0].length, b = T.length, out: string[] = [];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < a; j++) {
      const col = Array.from({ length: a }, (_, k) => `${x}${k}_${j}`);
      out.push(`let ${y}h${i}_${j} = ${combine(T[i], col)};`);
    }
  }
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      const row = Array.from({ length: a }, (_, k) => `${y}h${i}_${k}`);
      out.push(`let ${y}${i}_${j} = ${combine(T[j], row)};`);
    }
  }
  return out;
}

/** {@link twoSidedWgsl}, generated once per matrix and names (every dispatch repeats them). */
const twoSided = memoised(twoSidedWgsl);

/** One Winograd convolution: input [N, C, H, W] → output [N, O, H + 2p − r + 1, W + 2p − r + 1]. */
interface WinogradConv {
  name: string;
  /** The kernel size r (3 or 5). */
  r: number;
  count: number;
  groups: number;
  /** Input channels per group (the GEMM's K) and output channels per group (its N). */
  cin: number;
  cout: number;
  height: number;
  width: number;
  padH: number;
  padW: number;
  /**
   * The r×r kernel of (o, c) is at w[o·cin·r² + c·r²] unless `gradient`, which reads the
   * flipped kernel of the forward pass's (c, o): w[(g·cin + c)·cout·r² + o·r² + r² − 1 − tap].
   */
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
  const { r, n } = FORMS[c.r], n2 = n * n;
  const outH = c.height + 2 * c.padH - r + 1, outW = c.width + 2 * c.padW - r + 1;
  const tilesH = Math.ceil(outH / 2), tilesW = Math.ceil(outW / 2);
  const P = c.count * tilesH * tilesW, G = c.groups;
  const stages = winogradStages({
    r,
    gradient: c.gradient,
    relu: c.relu,
    bias: !!bind.bias,
    mask: !!bind.mask,
  }, {
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
  const uBuf = device.alloc(n2 * G * c.cin * c.cout * 4, "winograd U");
  const vBuf = device.alloc(n2 * G * P * c.cin * 4, "winograd V");
  const mBuf = device.alloc(n2 * G * P * c.cout * 4, "winograd M");
  const { uniforms } = stages;
  const whole = (buffer: typeof uBuf) => ({ buffer });
  const variant = `winograd F(2×2,${r}×${r})`;
  const transform = (name: "weights" | "input", elements: number, bytes: number) =>
    device.dispatch({
      name: `${c.name} winograd ${name}`,
      wgsl: stages[name],
      uniforms,
      workgroups: Math.ceil(elements / 64),
      variant,
      cost: { bytes },
    }, name === "weights" ? [bind.w, whole(uBuf)] : [bind.x, whole(vBuf)]);
  transform("weights", G * c.cin * c.cout, 4 * (r * r + n2) * G * c.cin * c.cout);
  transform("input", G * P * c.cin, 4 * 2 * n2 * G * P * c.cin);

  // M[ξ, g] = V[ξ, g] · U[ξ, g]: n²·groups products of [P × cin]·[cin × cout].
  matmul(device, {
    a: vBuf,
    b: uBuf,
    out: mBuf,
    m: P,
    n: c.cout,
    k: c.cin,
    batch: n2 * G,
    tile: c.tile,
  });

  device.dispatch({
    name: `${c.name} winograd output`,
    wgsl: stages.output,
    uniforms,
    workgroups: Math.ceil((G * P * c.cout) / 64),
    variant: `${variant}${bind.mask ? " relu-mask" : ""}`,
    cost: { bytes: 4 * (n2 + 4) * G * P * c.cout },
  }, [whole(mBuf), ...(bind.bias ? [bind.bias] : []), bind.out, ...(bind.mask ? [bind.mask] : [])]);
  for (const b of [uBuf, vBuf, mBuf]) device.release(b);
}

/** What the stages' WGSL depends on: the form, the pass and the output's epilogue. */
interface StageVariant {
  r: number;
  /** The input gradient's flipped kernel (see {@link WinogradConv.gradient}). */
  gradient: boolean;
  relu: boolean;
  bias: boolean;
  mask: boolean;
}

/** The sizes the stages read from their (shared) uniforms. */
type StageSizes =
  | "count"
  | "groups"
  | "cin"
  | "cout"
  | "height"
  | "width"
  | "hw"
  | "padH"
  | "padW"
  | "outH"
  | "outW"
  | "ohw"
  | "tilesH"
  | "tilesW"
  | "tiles"
  | "p"
  | "xShift"
  | "outShift"
  | "weights"
  | "vSize"
  | "mSize"
  | "inSample"
  | "outSample";

/**
 * The WGSL of the weight and input transforms and of the output transform, and their shared
 * uniforms, generated once per variant and sizes (every step repeats its convolutions).
 */
const winogradStages = memoised((v: StageVariant, sizes: Record<StageSizes, number>) => {
  const form = FORMS[v.r];
  const { r, n } = form, r2 = r * r;
  const uf = new Uniforms();
  const U = uf.all(sizes);
  const cells = (rows: number, cols: number, f: (i: number, j: number) => string): string[] =>
    Array.from({ length: rows * cols }, (_, e) => f(Math.floor(e / cols), e % cols));
  // Every stage's flat index i is (group g, outer, inner), inner fastest.
  const decode = (inner: string, innerSize: string, outer: string, outerSize: string) =>
    `let ${inner} = i % ${innerSize};
  let ${outer} = (i / ${innerSize}) % ${outerSize};
  let g = i / (${innerSize} * ${outerSize});`;
  // Cell (y, x) of position `at` in the n² planes of U, V or M, `planeSize` apart.
  const planeCell = (array: string, planeSize: string, y: number, x: number) =>
    `${array}[${y * n + x}u * ${planeSize} + at]`;
  // The cells `from` transformed by `matrix` on both sides into `to`, stored at `at` in the
  // planes of `array`.
  const transformInto = (
    matrix: Parameters<typeof twoSided>[0],
    from: string,
    to: string,
    plane: { array: string; size: string; at: string },
  ) =>
    `${twoSided(matrix, from, to).join("\n  ")}
  let at = ${plane.at};
  ${
      cells(n, n, (y, x) => `${planeCell(plane.array, plane.size, y, x)} = ${to}${y}_${x};`).join(
        "\n  ",
      )
    }`;
  // A transform stage: one invocation per element of a plane of `dst`, reading `src`.
  const transformStage = (src: string, dst: string, count: string, body: string, helpers = "") => `
@group(0) @binding(0) var<storage, read> ${src}: array<f32>;
@group(0) @binding(1) var<storage, read_write> ${dst}: array<f32>;
${uf.declare(2)}${helpers}
${flatMain(64, count, body)}
`;

  // U[ξ][g][c][o] = (G g Gᵀ)ξ.
  const tap = (t: number) => v.gradient ? `w[base + ${r2 - 1 - t}u]` : `w[base + ${t}u]`;
  const weights = transformStage(
    "w",
    "wt",
    U.weights,
    `
  ${decode("ci", U.cin, "o", U.cout)}
  let base = ${
      v.gradient
        ? `((g * ${U.cin} + ci) * ${U.cout} + o) * ${r2}u`
        : `((g * ${U.cout} + o) * ${U.cin} + ci) * ${r2}u`
    };
  ${cells(r, r, (y, x) => `let k${y}_${x} = ${tap(y * r + x)};`).join("\n  ")}
  ${
      transformInto(form.G, "k", "u", {
        array: "wt",
        size: U.weights,
        at: `(g * ${U.cin} + ci) * ${U.cout} + o`,
      })
    }`,
  );

  // V[ξ][g][p][c] = (Bᵀ d B)ξ, d the n×n input tile at (2·ty − padH, 2·tx − padW).
  const input = transformStage(
    "x",
    "v",
    U.vSize,
    `
  ${decode("ci", U.cin, "p", U.p)}
  let t = p % ${U.tiles};
  let y0 = (t / ${U.tilesW}) * 2u - ${U.padH};
  let x0 = (t % ${U.tilesW}) * 2u - ${U.padW};
  let base = ${U.xShift} + (p / ${U.tiles}) * ${U.inSample} + (g * ${U.cin} + ci) * ${U.hw};
  ${cells(n, n, (y, x) => `let d${y}_${x} = ld(base, y0 + ${y}u, x0 + ${x}u);`).join("\n  ")}
  ${
      transformInto(form.BT, "d", "v", {
        array: "v",
        size: U.vSize,
        at: `(g * ${U.p} + p) * ${U.cin} + ci`,
      })
    }`,
    `
// Zero outside the input (wrapping u32: a row or column above or left of it is huge).
fn ld(base: u32, iy: u32, ix: u32) -> f32 {
  let ok = iy < ${U.height} && ix < ${U.width};
  return select(0.0, x[select(0u, base + iy * ${U.width} + ix, ok)], ok);
}`,
  );

  // Y = Aᵀ M A per tile, then bias and ReLU, or the ReLU mask of `mask` (laid out as out).
  const finish = (y: string, at: string) => {
    let value = v.bias ? `${y} + bias[g * ${U.cout} + o]` : y;
    if (v.relu) value = relu(value);
    return v.mask ? reluMasked(value, `mask[${at}]`) : value;
  };
  const outputBody = `
  ${decode("o", U.cout, "p", U.p)}
  let at = (g * ${U.p} + p) * ${U.cout} + o;
  ${cells(n, n, (y, x) => `let m${y}_${x} = ${planeCell("mm", U.mSize, y, x)};`).join("\n  ")}
  ${twoSided(form.AT, "m", "y").join("\n  ")}
  let t = p % ${U.tiles};
  let oy = (t / ${U.tilesW}) * 2u;
  let ox = (t % ${U.tilesW}) * 2u;
  let base = ${U.outShift} + (p / ${U.tiles}) * ${U.outSample} + (g * ${U.cout} + o) * ${U.ohw};
  ${
    cells(2, 2, (y, x) =>
      `if (oy + ${y}u < ${U.outH} && ox + ${x}u < ${U.outW}) { ` +
      `let at${y}${x} = base + (oy + ${y}u) * ${U.outW} + ox + ${x}u; ` +
      `out[at${y}${x}] = ${finish(`y${y}_${x}`, `at${y}${x}`)}; }`).join(
        "\n  ",
      )
  }`;
  const output = `
@group(0) @binding(0) var<storage, read> mm: array<f32>;
${v.bias ? "@group(0) @binding(1) var<storage, read> bias: array<f32>;" : ""}
@group(0) @binding(${v.bias ? 2 : 1}) var<storage, read_write> out: array<f32>;
${v.mask ? `@group(0) @binding(${v.bias ? 3 : 2}) var<storage, read> mask: array<f32>;` : ""}
${uf.declare((v.bias ? 3 : 2) + (v.mask ? 1 : 0))}
${flatMain(64, U.mSize, outputBody)}
`;
  return { weights, input, output, uniforms: uf.data() };
});

/** Per-sample f32 counts of the scratch (V and M) of one sample, for splitting the batch. */
export function winogradScratchPerSample(g: Resolved, pass: "forward" | "gradInput"): number[] {
  const [h, w, cin, cout] = pass === "forward"
    ? [g.outH, g.outW, g.cg, g.og]
    : [g.height, g.width, g.og, g.cg];
  const tiles = Math.ceil(h / 2) * Math.ceil(w / 2), n2 = (g.kernelH + 1) ** 2;
  return [n2 * g.groups * tiles * cin, n2 * g.groups * tiles * cout];
}

/**
 * Why one sample's Winograd scratch does not fit a binding of at most `maxBindingBytes` (the
 * algorithm, the pass, the shape, the bytes and the limit, in one line), or null where it fits.
 * A default choice of Winograd then falls back to the direct kernel (which splits the batch
 * down to single samples); a forced one throws this.
 */
export function winogradTooLarge(
  device: Device,
  g: Resolved,
  pass: "forward" | "gradInput",
  maxBindingBytes?: number,
): string | null {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, maxBindingBytes ?? Infinity);
  const largest = Math.max(...winogradScratchPerSample(g, pass)) * 4;
  if (largest <= limit) return null;
  return `Winograd ${pass === "forward" ? "forward" : "input gradient"} of ${geometryKey(g)}: ` +
    `one sample's scratch takes ${largest} bytes, more than the ${limit}-byte binding limit ` +
    `(force another algorithm, or leave the choice to the default)`;
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
    r: g.kernelH,
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
    r: g.kernelH,
    count: run.count,
    groups: g.groups,
    cin: g.og,
    cout: g.cg,
    height: g.outH,
    width: g.outW,
    padH: g.kernelH - 1 - g.padH,
    padW: g.kernelW - 1 - g.padW,
    gradient: true,
    xShift: run.dy.shift,
    outShift: run.dx.shift,
    relu: false,
    tile: flags.tile,
  }, { x: bind.dy, w: bind.w, out: bind.dx, mask: bind.mask });
}

/**
 * A float64 reference of small sequential CNNs (the layers of `nn/`: convolution, linear,
 * ReLU, tanh, local response normalisation, max and average pooling (floor or ceil mode),
 * adaptive average and max pooling, batch normalisation by the batch's statistics, dropout,
 * flatten, nearest upsampling by whole factors, the transposed convolution; a convolution's
 * input padded by reflection, replication or wrapping), their
 * cross-entropy loss, the backward pass and SGD steps, where every value carries a bound on the
 * error of the float32 computation that the GPU makes of it.
 *
 * The bound is a first-order running error analysis. Each tensor is a value `v` and an
 * elementwise bound `e`; each layer maps them as the GPU's rounding can at worst move its
 * result: the error it inherits, through the absolute value of its Jacobian (|W|·e_x for a
 * product, (1 − tanh²)·e_x, the maximum's own e, …), plus the rounding it adds itself: for a
 * sum of K products λ·√K·u·Σ|terms| (`roundingBound`, the probabilistic bound of `_fuzz.ts`,
 * Higham & Mary 2019), for a transcendental function its WGSL accuracy (exp: 3 + 2|x| ulp, log:
 * 2⁻²¹ absolute near 1, inverseSqrt 2 ulp). Errors of the parameters (after an SGD step
 * computed from inexact gradients) enter the same way. The bound so follows from the lengths of
 * the sums and the magnitudes in them, never from a fixed epsilon: a wrong index, a missing tap
 * or a term counted twice moves an element by about Σ|terms|/K, far above it.
 *
 * A decision that rounding can flip, a ReLU whose input lies within its bound of 0 or a pooling
 * window whose largest values lie within their bounds of each other, sends the gradient one way
 * or the other: the reference takes float64's way and bounds the other by |g| at every element
 * the gradient may reach, which the backward then carries like any other error. Such a bound is
 * loose, so the reference also reports the case as ambiguous, and the caller draws other inputs
 * for a while first. (Values equal in float64, a bias seen through padding, are computed alike
 * in float32 and are no ambiguity.)
 *
 * @module
 */

import * as ref from "./_reference.ts";
import type { F64 } from "./_reference.ts";
import { roundingBound, UNIT_ROUNDOFF, WINOGRAD_AMPLIFICATION } from "./_fuzz.ts";
import { convTranspose2d as convTransposeRef } from "./_conv_family_reference.ts";

const u = UNIT_ROUNDOFF;
/** float32's smallest normal number: below it a GPU may flush results to 0. */
const TINY = 2 ** -126;

/** The nonlinearity of a convolution or linear layer. */
export type ActivationSpec = null | "relu" | "tanh";

/** One layer of a sequential network, as `nn/` builds it. */
export type LayerSpec =
  | {
    kind: "conv";
    inChannels: number;
    outChannels: number;
    kernel: [number, number];
    stride: [number, number];
    padding: [number, number];
    groups: number;
    bias: boolean;
    activation: ActivationSpec;
    /** Spacing between kernel taps (default 1). */
    dilation?: [number, number];
    /** What the padding holds (PyTorch's `padding_mode`; default zeros). */
    paddingMode?: "reflect" | "replicate" | "circular";
  }
  | {
    kind: "convTranspose";
    inChannels: number;
    outChannels: number;
    kernel: [number, number];
    stride: [number, number];
    padding: [number, number];
    /** Rows and columns added after the output (each below the stride or the dilation). */
    outputPadding: [number, number];
    groups: number;
    bias: boolean;
    dilation: [number, number];
  }
  | {
    kind: "linear";
    inFeatures: number;
    outFeatures: number;
    bias: boolean;
    activation: ActivationSpec;
  }
  | { kind: "relu" }
  | { kind: "tanh" }
  | { kind: "lrn"; size: number; k: number; alpha: number; beta: number; groupSize?: number }
  | {
    kind: "pool";
    kernel: [number, number];
    stride: [number, number];
    padding: [number, number];
    /** PyTorch's ceil_mode (default false). */
    ceilMode?: boolean;
    /** Average pooling (padding counted in the divisor, PyTorch's default) instead of max. */
    average?: boolean;
    /** Spacing between window taps (max pooling only, as PyTorch's; default 1). */
    dilation?: [number, number];
  }
  /** Adaptive average pooling, or with `max` adaptive max pooling. */
  | { kind: "adaptive"; size: [number, number]; max?: boolean }
  /** BatchNorm2d without running statistics: the batch's in training and evaluation alike. */
  | { kind: "batchnorm"; features: number; affine: boolean }
  | { kind: "dropout"; p: number }
  /** Nearest upsampling by whole factors (`Upsample`'s default mode). */
  | { kind: "upsample"; scale: [number, number] }
  | { kind: "flatten" };

/** The cross-entropy's options, as `crossEntropy` takes them (class weights on the host). */
export interface LossSpec {
  reduction: "mean" | "sum" | "none";
  ignoreIndex?: number;
  labelSmoothing: number;
  weight?: Float64Array;
  /** Class probabilities `[N, C]` (row-major) as the targets instead of the labels. */
  probabilities?: Float64Array;
}

/** A float64 value and an elementwise bound on the error of its float32 computation. */
export interface Bounded {
  v: F64;
  e: F64;
}

/** What one forward and backward pass of the reference gives. */
export interface PassResult {
  logits: Bounded;
  loss: Bounded;
  /** The gradient of the loss with respect to the input. */
  dx: Bounded;
  /** The gradient of every parameter, named as `Sequential` names it (`"3.weight"`). */
  grads: Map<string, Bounded>;
  /** Why a decision of this pass could go either way in float32, or null. */
  ambiguous: string | null;
}

const abs = (x: F64): F64 => ref.map(x, Math.abs);
const exact = (v: F64): Bounded => ({ v, e: ref.zeros(v.shape) });

/** Σ of same-shaped tensors, elementwise. */
function plus(...xs: F64[]): F64 {
  const out = ref.zeros(xs[0].shape);
  for (const x of xs) x.data.forEach((v, i) => (out.data[i] += v));
  return out;
}

/** a·x elementwise (γ·Σ|terms|: the rounding of sums). */
function scaled(x: F64, a: number): F64 {
  return ref.map(x, (v) => a * v);
}

function convOptions(s: Extract<LayerSpec, { kind: "conv" }>): ref.Conv2dOptions {
  return { stride: s.stride, padding: s.padding, groups: s.groups, dilation: s.dilation };
}

/** Winograd's amplification where the library may run the pass as Winograd, else 1. */
function winograd(s: Extract<LayerSpec, { kind: "conv" }>, pass: "forward" | "gradInput"): number {
  const [kh, kw] = s.kernel;
  // Winograd takes no dilation (an axis of one tap has none to take).
  const dilated = s.kernel.some((k, axis) => k > 1 && (s.dilation?.[axis] ?? 1) > 1);
  const applies = !dilated && kh === kw && kh in WINOGRAD_AMPLIFICATION && s.stride[0] === 1 &&
    s.stride[1] === 1 &&
    (pass === "forward" || (s.padding[0] <= kh - 1 && s.padding[1] <= kw - 1));
  return applies ? WINOGRAD_AMPLIFICATION[kh] : 1;
}

/** Where position `j` of a padded axis of `size` reads from, in PyTorch's padding modes. */
function padSource(mode: "reflect" | "replicate" | "circular", j: number, size: number): number {
  if (mode === "replicate") return Math.min(Math.max(j, 0), size - 1);
  if (mode === "circular") return ((j % size) + size) % size;
  const period = 2 * (size - 1);
  const r = size === 1 ? 0 : ((Math.abs(j) % period) + period) % period;
  return r < size ? r : period - r;
}

/** For each element of `x [N, C, H, W]` padded by `padding` in `mode`: the element it copies. */
function padSources(
  shape: readonly number[],
  padding: [number, number],
  mode: "reflect" | "replicate" | "circular",
): { shape: number[]; source: Int32Array } {
  const [n, c, h, w] = shape, [ph, pw] = padding;
  const [oh, ow] = [h + 2 * ph, w + 2 * pw];
  const source = new Int32Array(n * c * oh * ow);
  let at = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < oh; y++) {
      const iy = padSource(mode, y - ph, h);
      for (let x = 0; x < ow; x++) source[at++] = (plane * h + iy) * w + padSource(mode, x - pw, w);
    }
  }
  return { shape: [n, c, oh, ow], source };
}

/** For each element of `x [N, C, H, W]` upsampled (nearest) by `scale`: the one it copies. */
function upsampleSources(
  shape: readonly number[],
  [sh, sw]: [number, number],
): { shape: number[]; source: Int32Array } {
  const [n, c, h, w] = shape, [oh, ow] = [h * sh, w * sw];
  const source = new Int32Array(n * c * oh * ow);
  let at = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        source[at++] = (plane * h + Math.floor(y / sh)) * w + Math.floor(x / sw);
      }
    }
  }
  return { shape: [n, c, oh, ow], source };
}

/** A layer that copies elements of `x` (padding, nearest upsampling): exact. */
function copyForward(x: Bounded, copies: { shape: number[]; source: Int32Array }): Bounded {
  const copy = (t: F64) => ref.f64(copies.shape, Array.from(copies.source, (i) => t.data[i]));
  return { v: copy(x.v), e: copy(x.e) };
}

/** Its gradient: each element's copies summed (rounded as a sum of that many). */
function copyBackward(x: Bounded, source: Int32Array, g: Bounded): Bounded {
  const v = ref.zeros(x.v.shape), e = ref.zeros(x.v.shape), magnitude = ref.zeros(x.v.shape);
  const copies = new Float64Array(v.data.length);
  source.forEach((i, at) => {
    v.data[i] += g.v.data[at];
    e.data[i] += g.e.data[at];
    magnitude.data[i] += Math.abs(g.v.data[at]);
    copies[i]++;
  });
  magnitude.data.forEach((m, i) => (e.data[i] += roundingBound(copies[i]) * m));
  return { v, e };
}

/** The input of a convolution with a padding mode, padded in that mode. */
function padCopies(s: Extract<LayerSpec, { kind: "conv" }>, x: Bounded) {
  return padSources(x.v.shape, s.padding, s.paddingMode!);
}

/** A convolution with a padding mode as it runs: unpadded, on its padded input. */
function unpadded(s: Extract<LayerSpec, { kind: "conv" }>): Extract<LayerSpec, { kind: "conv" }> {
  return s.paddingMode ? { ...s, padding: [0, 0] } : s;
}

/** The reference's state of a pass: the first ambiguous decision it met. */
class Pass {
  ambiguous: string | null = null;
  flag(why: string): void {
    this.ambiguous ??= why;
  }
}

/** Whether rounding may put the ReLU input `pre` at element i on either side of 0. */
function straddles(pre: Bounded, i: number): boolean {
  return pre.e.data[i] > 0 && Math.abs(pre.v.data[i]) <= pre.e.data[i];
}

function activate(y: Bounded, kind: "relu" | "tanh", pass: Pass, where: string): Bounded {
  if (kind === "relu") {
    y.v.data.forEach((v, i) => {
      if (straddles(y, i)) pass.flag(`${where}: ReLU input ${v} within ${y.e.data[i]} of 0`);
    });
    return {
      v: ref.relu(y.v),
      e: ref.f64(y.e.shape, y.e.data.map((e, i) => (y.v.data[i] > 0 || straddles(y, i) ? e : 0))),
    };
  }
  const t = ref.tanh(y.v);
  // tanh as sign·(1 − E)/(1 + E), E = exp(−2|x|): a few ulps of 1, absolute (0 at 0).
  const local = (t: number) => (t === 0 ? 0 : 12 * u);
  return { v: t, e: ref.f64(t.shape, t.data.map((t, i) => (1 - t * t) * y.e.data[i] + local(t))) };
}

/** The gradient through the activation from `pre` to `out`. */
function activateBackward(
  pre: Bounded,
  out: Bounded,
  g: Bounded,
  kind: "relu" | "tanh",
): Bounded {
  if (kind === "relu") {
    const keep = (i: number) => pre.v.data[i] > 0;
    return {
      v: ref.f64(g.v.shape, g.v.data.map((v, i) => (keep(i) ? v : 0))),
      e: ref.f64(
        g.e.shape,
        g.e.data.map((e, i) => straddles(pre, i) ? e + Math.abs(g.v.data[i]) : keep(i) ? e : 0),
      ),
    };
  }
  const t = out.v.data, et = out.e.data;
  const v = ref.f64(g.v.shape, g.v.data.map((gv, i) => gv * (1 - t[i] * t[i])));
  const e = ref.f64(
    g.e.shape,
    g.e.data.map((ge, i) =>
      (1 - t[i] * t[i]) * ge + 2 * Math.abs(t[i] * g.v.data[i]) * et[i] +
      3 * u * Math.abs(v.data[i])
    ),
  );
  return { v, e };
}

function convForward(
  s: Extract<LayerSpec, { kind: "conv" }>,
  x: Bounded,
  w: Bounded,
  b: Bounded | null,
): Bounded {
  const opts = convOptions(s);
  const v = ref.conv2d(x.v, w.v, b?.v ?? null, opts);
  const products = ref.conv2d(abs(x.v), abs(w.v), null, opts);
  const fromX = ref.conv2d(x.e, abs(w.v), null, opts);
  const fromW = ref.conv2d(abs(x.v), w.e, b?.e ?? null, opts);
  const depth = (s.inChannels / s.groups) * s.kernel[0] * s.kernel[1] + 1;
  return { v, e: plus(fromX, fromW, sumRounding(products, b, depth, winograd(s, "forward"))) };
}

/**
 * The rounding of sums of products (Σ|terms| in `products`, channels on axis 1) and a bias:
 * none where every product is 0 (a window in the padding gives the bias exactly, so equal
 * values there are ties in float32 too).
 */
function sumRounding(products: F64, b: Bounded | null, depth: number, amplification = 1): F64 {
  const [n, channels] = products.shape;
  const plane = products.data.length / (n * channels);
  const gamma = roundingBound(depth, amplification);
  return ref.f64(
    products.shape,
    products.data.map((m, i) =>
      m === 0 ? 0 : gamma * (m + Math.abs(b?.v.data[Math.floor(i / plane) % channels] ?? 0))
    ),
  );
}

function convBackward(
  s: Extract<LayerSpec, { kind: "conv" }>,
  x: Bounded,
  w: Bounded,
  g: Bounded,
): { dx: Bounded; dw: Bounded; db: Bounded } {
  const opts = convOptions(s);
  const value = ref.conv2dBackward(x.v, w.v, g.v, opts);
  const fromG = ref.conv2dBackward(abs(x.v), abs(w.v), g.e, opts);
  const fromXW = ref.conv2dBackward(x.e, w.e, abs(g.v), opts);
  const magnitude = ref.conv2dBackward(abs(x.v), abs(w.v), abs(g.v), opts);
  const [n, , oh, ow] = g.v.shape;
  const perWeight = roundingBound(n * oh * ow);
  const inputDepth = (s.outChannels / s.groups) * s.kernel[0] * s.kernel[1];
  return {
    dx: {
      v: value.dx,
      e: plus(
        fromG.dx,
        fromXW.dx,
        scaled(magnitude.dx, roundingBound(inputDepth, winograd(s, "gradInput"))),
      ),
    },
    dw: { v: value.dw, e: plus(fromG.dw, fromXW.dw, scaled(magnitude.dw, perWeight)) },
    db: { v: value.db, e: plus(fromG.db, scaled(magnitude.db, perWeight)) },
  };
}

type TransposeSpec = Extract<LayerSpec, { kind: "convTranspose" }>;

/**
 * The convolution whose input gradient a transposed one is (its kernels run it so): from the
 * transposed output's channels to its input's, same window.
 */
function adjointConv(s: TransposeSpec): Extract<LayerSpec, { kind: "conv" }> {
  return {
    kind: "conv",
    inChannels: s.outChannels,
    outChannels: s.inChannels,
    kernel: s.kernel,
    stride: s.stride,
    padding: s.padding,
    groups: s.groups,
    bias: false,
    activation: null,
    dilation: s.dilation,
  };
}

/** The transposed convolution: each output a sum of (Cin/groups)·KH·KW products at most. */
function convTransposeForward(
  s: TransposeSpec,
  x: Bounded,
  w: Bounded,
  b: Bounded | null,
): Bounded {
  const opts = { ...s };
  const v = convTransposeRef(x.v, w.v, b?.v ?? null, opts);
  const products = convTransposeRef(abs(x.v), abs(w.v), null, opts);
  const fromX = convTransposeRef(x.e, abs(w.v), null, opts);
  const fromW = convTransposeRef(abs(x.v), w.e, b?.e ?? null, opts);
  const depth = (s.inChannels / s.groups) * s.kernel[0] * s.kernel[1] + 1;
  const rounding = sumRounding(products, b, depth, winograd(adjointConv(s), "gradInput"));
  return { v, e: plus(fromX, fromW, rounding) };
}

/**
 * Its gradients, on the adjoint convolution: dx is that convolution of the upstream, dw its
 * weight gradient with the roles of input and upstream swapped, db the upstream's sum.
 */
function convTransposeBackward(
  s: TransposeSpec,
  x: Bounded,
  w: Bounded,
  g: Bounded,
): { dx: Bounded; dw: Bounded; db: Bounded } {
  const conv = adjointConv(s), opts = convOptions(conv);
  const [ag, aw, ax] = [abs(g.v), abs(w.v), abs(x.v)];
  const depth = (s.outChannels / s.groups) * s.kernel[0] * s.kernel[1];
  const dx = {
    v: ref.conv2d(g.v, w.v, null, opts),
    e: plus(
      ref.conv2d(g.e, aw, null, opts),
      ref.conv2d(ag, w.e, null, opts),
      scaled(ref.conv2d(ag, aw, null, opts), roundingBound(depth, winograd(conv, "forward"))),
    ),
  };
  const [n, , h, wd] = x.v.shape, [, , oh, ow] = g.v.shape;
  const dw = {
    v: ref.conv2dBackward(g.v, w.v, x.v, opts).dw,
    e: plus(
      ref.conv2dBackward(g.e, aw, ax, opts).dw,
      ref.conv2dBackward(ag, aw, x.e, opts).dw,
      scaled(ref.conv2dBackward(ag, aw, ax, opts).dw, roundingBound(n * h * wd)),
    ),
  };
  const sumPlanes = (t: F64) => ref.sum(t, [0, 2, 3]);
  const db = {
    v: sumPlanes(g.v),
    e: plus(sumPlanes(g.e), scaled(sumPlanes(ag), roundingBound(n * oh * ow))),
  };
  return { dx, dw, db };
}

function linearForward(x: Bounded, w: Bounded, b: Bounded | null): Bounded {
  const v = ref.linear(x.v, w.v, b?.v ?? null);
  const products = ref.linear(abs(x.v), abs(w.v), null);
  const fromX = ref.linear(x.e, abs(w.v), null);
  const fromW = ref.linear(abs(x.v), w.e, b?.e ?? null);
  return { v, e: plus(fromX, fromW, sumRounding(products, b, x.v.shape[1] + 1)) };
}

function linearBackward(
  x: Bounded,
  w: Bounded,
  g: Bounded,
): { dx: Bounded; dw: Bounded; db: Bounded } {
  const t = (m: F64) => ref.transpose(m, 0, 1);
  const [n, out] = g.v.shape;
  const [ax, aw, ag] = [abs(x.v), abs(w.v), abs(g.v)];
  return {
    dx: {
      v: ref.matmul(g.v, w.v),
      e: plus(
        ref.matmul(g.e, aw),
        ref.matmul(ag, w.e),
        scaled(ref.matmul(ag, aw), roundingBound(out)),
      ),
    },
    dw: {
      v: ref.matmul(t(g.v), x.v),
      e: plus(
        ref.matmul(t(g.e), ax),
        ref.matmul(t(ag), x.e),
        scaled(ref.matmul(t(ag), ax), roundingBound(n)),
      ),
    },
    db: {
      v: ref.sum(g.v, [0]),
      e: plus(ref.sum(g.e, [0]), scaled(ref.sum(ag, [0]), roundingBound(n))),
    },
  };
}

/**
 * Windows along one axis of `size`: each output's input cells (in order; every `dilation`-th
 * one from its first, clipped to the input) and its size with the padding it covers.
 */
type AxisWindows = { cells: number[]; padded: number }[];

/** The cells from `start` to `end` (exclusive), `step` apart. */
function cellRange(start: number, end: number, step = 1): number[] {
  return Array.from(
    { length: Math.max(0, Math.ceil((end - start) / step)) },
    (_, i) => start + i * step,
  );
}

/** A pooling layer's windows along an axis, as PyTorch places them (see `ref.avgPool2d`). */
function axisWindows(s: PoolSpec, axis: 0 | 1, size: number): AxisWindows {
  if (s.kind === "adaptive") {
    const out = s.size[axis];
    return Array.from({ length: out }, (_, i) => {
      const start = Math.floor((i * size) / out), end = Math.ceil(((i + 1) * size) / out);
      return { cells: cellRange(start, end), padded: end - start };
    });
  }
  const k = s.kernel[axis], st = s.stride[axis], p = s.padding[axis];
  const d = s.dilation?.[axis] ?? 1, span = d * (k - 1) + 1;
  const out = ref.poolOutSize(size, span, st, p, s.ceilMode);
  return Array.from({ length: out }, (_, i) => {
    const first = i * st - p, last = Math.min(first + span, size + p);
    // The taps inside the input: from the first at or after 0, every d-th.
    const start = first < 0 ? first + Math.ceil(-first / d) * d : first;
    return { cells: cellRange(start, Math.min(last, size), d), padded: last - first };
  });
}

/** The pooling layers. */
type PoolSpec = Extract<LayerSpec, { kind: "pool" | "adaptive" }>;

/**
 * Every window of a pooling layer: its output index, input cells in row-major window order,
 * and its size with the padding it covers.
 */
function forEachWindow(
  s: PoolSpec,
  shape: readonly number[],
  visit: (out: number, cells: number[], padded: number) => void,
): number[] {
  const [n, c, h, w] = shape;
  const rows = axisWindows(s, 0, h), cols = axisWindows(s, 1, w);
  let out = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (const r of rows) {
      for (const q of cols) {
        const cells: number[] = [];
        for (const iy of r.cells) {
          for (const ix of q.cells) cells.push((plane * h + iy) * w + ix);
        }
        visit(out++, cells, r.padded * q.padded);
      }
    }
  }
  return [n, c, rows.length, cols.length];
}

/** Average pooling: Σx/d, and its bound Σe/d + γ(K)·Σ|x|/d. */
function averageForward(s: PoolSpec, x: Bounded): Bounded {
  const values: number[] = [], errors: number[] = [];
  const shape = forEachWindow(s, x.v.shape, (out, cells, padded) => {
    const d = s.kind === "adaptive" ? cells.length : padded;
    let sum = 0, error = 0, magnitude = 0;
    for (const c of cells) {
      sum += x.v.data[c];
      error += x.e.data[c];
      magnitude += Math.abs(x.v.data[c]);
    }
    values[out] = sum / d;
    errors[out] = (error + roundingBound(cells.length + 1) * magnitude) / d;
  });
  return { v: ref.f64(shape, values), e: ref.f64(shape, errors) };
}

/** Average pooling's gradient: each window's g/d spread over it, summed per cell. */
function averageBackward(s: PoolSpec, x: Bounded, g: Bounded): Bounded {
  const v = ref.zeros(x.v.shape), e = ref.zeros(x.v.shape), magnitude = ref.zeros(x.v.shape);
  const windows = new Float64Array(x.v.data.length);
  forEachWindow(s, x.v.shape, (out, cells, padded) => {
    const d = s.kind === "adaptive" ? cells.length : padded;
    for (const c of cells) {
      v.data[c] += g.v.data[out] / d;
      e.data[c] += g.e.data[out] / d;
      magnitude.data[c] += Math.abs(g.v.data[out] / d);
      windows[c]++;
    }
  });
  magnitude.data.forEach((m, c) => (e.data[c] += roundingBound(windows[c] + 1) * m));
  return { v, e };
}

/** Where a pooling layer's gradient goes: each output's first maximum, and its rivals. */
interface PoolRoutes {
  argmax: Int32Array;
  /** The cells of an ambiguous window that rounding may make its maximum, by output. */
  rivals: Map<number, number[]>;
}

/** Max pooling; the first maximum in window order wins (PyTorch's choice). */
function poolForward(
  s: PoolSpec,
  x: Bounded,
  pass: Pass,
  where: string,
): { y: Bounded; routes: PoolRoutes } {
  const values: number[] = [], errors: number[] = [], argmax: number[] = [];
  const rivals = new Map<number, number[]>();
  const shape = forEachWindow(s, x.v.shape, (out, cells) => {
    let best = cells[0];
    for (const c of cells) if (x.v.data[c] > x.v.data[best]) best = c;
    // Equal values (a window over padding sees the same bias several times) are computed
    // alike in float32 too, and both sides take the first.
    const close = cells.filter((c) => {
      const gap = x.v.data[best] - x.v.data[c];
      return c !== best && gap > 0 && gap <= x.e.data[c] + x.e.data[best];
    });
    if (close.length > 0) {
      pass.flag(`${where}: window ${out} has maxima ${x.v.data[best]} and ${x.v.data[close[0]]}`);
      rivals.set(out, [best, ...close]);
    }
    // The float32 maximum is within the largest bound of the candidates of the true one.
    const error = Math.max(...[best, ...close].map((c) => x.e.data[c]));
    [values[out], errors[out], argmax[out]] = [x.v.data[best], error, best];
  });
  return {
    y: { v: ref.f64(shape, values), e: ref.f64(shape, errors) },
    routes: { argmax: Int32Array.from(argmax), rivals },
  };
}

function poolBackward(
  s: PoolSpec,
  x: Bounded,
  routes: PoolRoutes,
  g: Bounded,
): Bounded {
  const v = ref.zeros(x.v.shape), e = ref.zeros(x.v.shape), magnitude = ref.zeros(x.v.shape);
  routes.argmax.forEach((at, o) => {
    v.data[at] += g.v.data[o];
    magnitude.data[at] += Math.abs(g.v.data[o]);
    // An ambiguous window's gradient may leave its maximum for any rival: |g| off at each.
    const reach = routes.rivals.get(o);
    if (!reach) e.data[at] += g.e.data[o];
    for (const c of reach ?? []) e.data[c] += g.e.data[o] + Math.abs(g.v.data[o]);
  });
  // A cell's gradient sums at most the windows that hold it.
  const windows = new Float64Array(x.v.data.length);
  forEachWindow(s, x.v.shape, (_, cells) => cells.forEach((c) => windows[c]++));
  magnitude.data.forEach((m, c) => (e.data[c] += roundingBound(Math.max(windows[c], 1)) * m));
  return { v, e };
}

/** The channels of `c`'s window, clipped to its group. */
function lrnWindow(c: number, size: number, groupSize: number): [number, number] {
  const half = (size - 1) / 2, first = Math.floor(c / groupSize) * groupSize;
  return [Math.max(first, c - half), Math.min(first + groupSize - 1, c + half)];
}

/** Relative error of the kernel's s^(−β) (exact shortcuts for 1/2, 3/4 and 1; else pow). */
function powError(beta: number, s: number): number {
  if (beta === 0) return 0;
  if (beta === 0.5 || beta === 0.75 || beta === 1) return 8 * u;
  // pow = exp2(−β·log2 s): exp2's 3 + 2|t| ulp, log2's 2⁻²¹ absolute (or 3 ulp) times β·ln 2.
  return u * (8 + 6 * Math.abs(beta) * Math.max(Math.abs(Math.log2(s)), 3));
}

interface LrnCache {
  s: Float64Array;
  es: Float64Array;
  /** s^(−β) and its bound. */
  p: Float64Array;
  ep: Float64Array;
}

function lrnForward(
  s: Extract<LayerSpec, { kind: "lrn" }>,
  x: Bounded,
): { y: Bounded; cache: LrnCache } {
  const [n, c, h, w] = x.v.shape, hw = h * w, groupSize = s.groupSize ?? c;
  const size = x.v.data.length;
  const cache: LrnCache = {
    s: new Float64Array(size),
    es: new Float64Array(size),
    p: new Float64Array(size),
    ep: new Float64Array(size),
  };
  const y = exact(ref.zeros(x.v.shape));
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      const [lo, hi] = lrnWindow(ci, s.size, groupSize);
      for (let q = 0; q < hw; q++) {
        let squares = 0, fromX = 0;
        for (let j = lo; j <= hi; j++) {
          const at = (ni * c + j) * hw + q;
          squares += x.v.data[at] ** 2;
          fromX += 2 * Math.abs(x.v.data[at]) * x.e.data[at];
        }
        const at = (ni * c + ci) * hw + q;
        const sv = s.k + s.alpha * squares;
        const es = s.alpha * fromX + roundingBound(hi - lo + 3) * sv;
        const p = sv ** -s.beta;
        const ep = s.beta * sv ** (-s.beta - 1) * es + powError(s.beta, sv) * p;
        const xv = x.v.data[at];
        [cache.s[at], cache.es[at], cache.p[at], cache.ep[at]] = [sv, es, p, ep];
        y.v.data[at] = xv * p;
        y.e.data[at] = p * x.e.data[at] + Math.abs(xv) * ep + u * Math.abs(xv * p);
      }
    }
  }
  return { y, cache };
}

/**
 * dx_j = g_j·s_j^(−β) − 2αβ·x_j·Σ_i g_i·x_i·s_i^(−β−1), i over the channels whose window holds
 * j (the same as j's window: windows are symmetric and clipped to the group alike).
 */
function lrnBackward(
  s: Extract<LayerSpec, { kind: "lrn" }>,
  x: Bounded,
  cache: LrnCache,
  g: Bounded,
): Bounded {
  const [n, c, h, w] = x.v.shape, hw = h * w, groupSize = s.groupSize ?? c;
  const size = x.v.data.length;
  const gp = new Float64Array(size), egp = new Float64Array(size);
  const t = new Float64Array(size), et = new Float64Array(size);
  for (let at = 0; at < size; at++) {
    const [gv, xv, sv, p] = [g.v.data[at], x.v.data[at], cache.s[at], cache.p[at]];
    gp[at] = gv * p;
    egp[at] = p * g.e.data[at] + Math.abs(gv) * cache.ep[at] + u * Math.abs(gp[at]);
    t[at] = gp[at] * xv / sv;
    et[at] = egp[at] * Math.abs(xv) / sv + Math.abs(gp[at]) * x.e.data[at] / sv +
      Math.abs(t[at]) * cache.es[at] / sv + 3 * u * Math.abs(t[at]);
  }
  const k = 2 * s.alpha * s.beta;
  const dx = exact(ref.zeros(x.v.shape));
  for (let ni = 0; ni < n; ni++) {
    for (let cj = 0; cj < c; cj++) {
      const [lo, hi] = lrnWindow(cj, s.size, groupSize);
      for (let q = 0; q < hw; q++) {
        let sum = 0, eSum = 0, mag = 0;
        for (let i = lo; i <= hi; i++) {
          const at = (ni * c + i) * hw + q;
          sum += t[at];
          eSum += et[at];
          mag += Math.abs(t[at]);
        }
        const at = (ni * c + cj) * hw + q;
        const xv = x.v.data[at];
        eSum += roundingBound(hi - lo + 1) * mag;
        dx.v.data[at] = gp[at] - k * xv * sum;
        dx.e.data[at] = egp[at] + k * (x.e.data[at] * Math.abs(sum) + Math.abs(xv) * eSum) +
          4 * u * (Math.abs(gp[at]) + k * Math.abs(xv) * mag);
      }
    }
  }
  return dx;
}

/** What batch normalisation's backward needs of its forward, per channel. */
interface NormCache {
  mean: Float64Array;
  eMean: Float64Array;
  invstd: Float64Array;
  eInvstd: Float64Array;
  /** weight·invstd, the forward's scale. */
  scale: Float64Array;
  eScale: Float64Array;
}

/**
 * Batch normalisation by the batch's statistics (PyTorch's `F.batch_norm` in training): per
 * channel over M = N·H·W values, mean μ (Welford's updates and Chan's merges: rounded as a sum
 * of M terms, |x| and the mean's drift), variance σ² (the squares of x − μ, rounded likewise),
 * invstd = (σ² + ε)^(−½) (2 ulp), scale = w·invstd, y = scale·(x − μ) + b. A variance whose
 * bound is not small against σ² + ε leaves the first-order bound: the pass is ambiguous.
 */
function batchNormForward(
  x: Bounded,
  w: Bounded | null,
  b: Bounded | null,
  pass: Pass,
  where: string,
): { y: Bounded; cache: NormCache } {
  const [n, c, h, wd] = x.v.shape, s = h * wd, m = n * s;
  const at = (ni: number, ci: number, k: number) => (ni * c + ci) * s + k;
  const cache: NormCache = {
    mean: new Float64Array(c),
    eMean: new Float64Array(c),
    invstd: new Float64Array(c),
    eInvstd: new Float64Array(c),
    scale: new Float64Array(c),
    eScale: new Float64Array(c),
  };
  const y = exact(ref.zeros(x.v.shape));
  const rounding = roundingBound(m + 2);
  for (let ci = 0; ci < c; ci++) {
    let sum = 0, sumE = 0, sumAbs = 0;
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k);
        [sum, sumE, sumAbs] = [
          sum + x.v.data[i],
          sumE + x.e.data[i],
          sumAbs + Math.abs(x.v.data[i]),
        ];
      }
    }
    const mean = sum / m, eMean = sumE / m + rounding * sumAbs / m;
    let sq = 0, sqE = 0, absD = 0;
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k), d = x.v.data[i] - mean;
        [sq, sqE, absD] = [
          sq + d * d,
          sqE + 2 * Math.abs(d) * (x.e.data[i] + eMean),
          absD + Math.abs(d),
        ];
      }
    }
    const variance = sq / m;
    const eVariance = sqE / m + rounding * 2 * (variance + Math.abs(mean) * absD / m);
    const eps = 1e-5;
    if (eVariance > 0.05 * (variance + eps)) {
      pass.flag(`${where}: channel ${ci}'s variance ${variance} within ${eVariance} of its error`);
    }
    const invstd = 1 / Math.sqrt(variance + eps);
    const eInvstd = 0.5 * invstd * eVariance / (variance + eps) + 2 * u * invstd;
    const wv = w?.v.data[ci] ?? 1, we = w?.e.data[ci] ?? 0;
    const scale = wv * invstd;
    const eScale = Math.abs(wv) * eInvstd + we * invstd + u * Math.abs(scale);
    const bv = b?.v.data[ci] ?? 0, be = b?.e.data[ci] ?? 0;
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k), d = x.v.data[i] - mean;
        y.v.data[i] = scale * d + bv;
        y.e.data[i] = Math.abs(scale) * (x.e.data[i] + eMean + u * Math.abs(d)) +
          eScale * Math.abs(d) + be + 2 * u * (Math.abs(scale * d) + Math.abs(bv));
      }
    }
    [cache.mean[ci], cache.eMean[ci], cache.invstd[ci], cache.eInvstd[ci]] = [
      mean,
      eMean,
      invstd,
      eInvstd,
    ];
    [cache.scale[ci], cache.eScale[ci]] = [scale, eScale];
  }
  return { y, cache };
}

/**
 * The gradients of {@link batchNormForward}: per channel Σg and Σg·(x − μ) (sums of M terms),
 * ∂w = invstd·Σg·(x − μ), ∂b = Σg, and dx = scale·g + β·(x − μ) + γ with
 * β = −scale·invstd·∂w/M and γ = −scale·Σg/M, as the kernels compute them.
 */
function batchNormBackward(
  x: Bounded,
  cache: NormCache,
  g: Bounded,
): { dx: Bounded; dw: Bounded; db: Bounded } {
  const [n, c, h, wd] = x.v.shape, s = h * wd, m = n * s;
  const at = (ni: number, ci: number, k: number) => (ni * c + ci) * s + k;
  const dx = exact(ref.zeros(x.v.shape));
  const dw = exact(ref.zeros([c])), db = exact(ref.zeros([c]));
  const rounding = roundingBound(m + 2);
  for (let ci = 0; ci < c; ci++) {
    const { mean, eMean, invstd, eInvstd, scale, eScale } = {
      mean: cache.mean[ci],
      eMean: cache.eMean[ci],
      invstd: cache.invstd[ci],
      eInvstd: cache.eInvstd[ci],
      scale: cache.scale[ci],
      eScale: cache.eScale[ci],
    };
    let sg = 0, sgE = 0, sgAbs = 0, sgd = 0, sgdE = 0, sgdAbs = 0;
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k), d = x.v.data[i] - mean, gv = g.v.data[i];
        [sg, sgE, sgAbs] = [sg + gv, sgE + g.e.data[i], sgAbs + Math.abs(gv)];
        sgd += gv * d;
        sgdE += g.e.data[i] * Math.abs(d) + Math.abs(gv) * (x.e.data[i] + eMean);
        sgdAbs += Math.abs(gv * d);
      }
    }
    const eSg = sgE + rounding * sgAbs, eSgd = sgdE + rounding * sgdAbs;
    const dwv = sgd * invstd, eDw = eSgd * invstd + Math.abs(sgd) * eInvstd + u * Math.abs(dwv);
    [dw.v.data[ci], dw.e.data[ci], db.v.data[ci], db.e.data[ci]] = [dwv, eDw, sg, eSg];
    const beta = -scale * invstd * dwv / m;
    const eBeta = (eScale * invstd * Math.abs(dwv) + Math.abs(scale) * eInvstd * Math.abs(dwv) +
          Math.abs(scale) * invstd * eDw) / m + 4 * u * Math.abs(beta);
    const gamma = -scale * sg / m;
    const eGamma = (eScale * Math.abs(sg) + Math.abs(scale) * eSg) / m + 3 * u * Math.abs(gamma);
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k), d = x.v.data[i] - mean, gv = g.v.data[i];
        dx.v.data[i] = scale * gv + beta * d + gamma;
        dx.e.data[i] = eScale * Math.abs(gv) + Math.abs(scale) * g.e.data[i] +
          eBeta * Math.abs(d) + Math.abs(beta) * (x.e.data[i] + eMean + u * Math.abs(d)) +
          eGamma + 3 * u * (Math.abs(scale * gv) + Math.abs(beta * d) + Math.abs(gamma));
      }
    }
  }
  return { dx, dw, db };
}

/** x·mask with a mask of 0 and the f32 scale 1/(1 − p): one rounding. */
function dropoutApply(x: Bounded, mask: Float64Array): Bounded {
  const v = ref.f64(x.v.shape, x.v.data.map((xv, i) => xv * mask[i]));
  return {
    v,
    e: ref.f64(x.e.shape, x.e.data.map((e, i) => mask[i] * e + u * Math.abs(v.data[i]))),
  };
}

/**
 * PyTorch's cross-entropy of `[N, C]` logits and its gradient (upstream 1), with the error of
 * the fused kernel: the row's maximum m, Σ exp(z − m) (each exp 3 + 2|z − m| ulp), its log
 * (2⁻²¹ absolute near 1), the weighted sums of the loss, and the reduction.
 */
export function crossEntropyBounded(
  z: Bounded,
  labels: Int32Array,
  options: LossSpec,
): { loss: Bounded; dz: Bounded } {
  const [n, c] = z.v.shape;
  const eps = options.labelSmoothing, ignore = options.ignoreIndex ?? -100;
  const w = (k: number) => options.weight?.[k] ?? 1;
  const rows = Array.from({ length: n }, (_, i) => {
    const y = labels[i], t = options.probabilities?.subarray(i * c, (i + 1) * c);
    if (!t && y === ignore) return null;
    const zr = Array.from({ length: c }, (_, k) => z.v.data[i * c + k]);
    const er = Array.from({ length: c }, (_, k) => z.e.data[i * c + k]);
    const m = Math.max(...zr);
    const shifted = zr.map((v) => v - m);
    const total = shifted.reduce((a, v) => a + Math.exp(v), 0);
    const lse = Math.log(total);
    const p = shifted.map((v) => Math.exp(v) / total);
    // The loss is Σ_c a_c·(lse − z_c): the target mixed with the uniform distribution, weighted.
    const a = shifted.map((_, k) =>
      t ? w(k) * ((1 - eps) * t[k] + eps / c) : (k === y ? (1 - eps) * w(y) : 0) + (eps / c) * w(k)
    );
    const big = a.reduce((x, y) => x + y, 0);
    const loss = a.reduce((acc, ak, k) => acc + ak * (lse - shifted[k]), 0);
    const relTotal = roundingBound(c) +
      p.reduce((acc, pk, k) => acc + pk * (3 + 3 * Math.abs(shifted[k])) * u, 0);
    const eLse = relTotal + 8 * u + u * Math.abs(lse);
    const pe = p.map((pk, k) => pk * er[k]).reduce((x, y) => x + y, 0);
    const eLoss = a.reduce((acc, ak, k) => acc + Math.abs(big * p[k] - ak) * er[k], 0) +
      big * eLse +
      roundingBound(c + 4) *
        (big * Math.abs(lse) + a.reduce((acc, ak, k) => acc + ak * Math.abs(shifted[k]), 0));
    const grad = p.map((pk, k) => big * pk - a[k]);
    // A probability below float32's normal range may be flushed to 0.
    const eGrad = p.map((pk, k) =>
      big * (pk * (er[k] + pe) + pk * (relTotal + (6 + 3 * Math.abs(shifted[k])) * u) + TINY) +
      4 * u * (big * pk + a[k])
    );
    // A mean over probabilities divides by the rows, over labels by their classes' weights.
    return { loss, eLoss, grad, eGrad, weight: t ? 1 : w(y) };
  });
  const counted = rows.filter((r) => r !== null);
  const divisor = options.reduction === "mean" ? counted.reduce((t, r) => t + r.weight, 0) : 1;
  const sum = counted.reduce((t, r) => t + r.loss, 0);
  const value = sum / divisor;
  const eValue = counted.reduce((t, r) => t + r.eLoss, 0) / divisor +
    roundingBound(n + 2) * counted.reduce((t, r) => t + Math.abs(r.loss), 0) / divisor +
    roundingBound(n) * Math.abs(value);
  const dz = exact(ref.zeros([n, c]));
  rows.forEach((r, i) => {
    if (!r) return;
    for (let k = 0; k < c; k++) {
      const g = r.grad[k] / divisor;
      dz.v.data[i * c + k] = g;
      dz.e.data[i * c + k] = r.eGrad[k] / divisor + roundingBound(n) * Math.abs(g);
    }
  });
  return { loss: { v: ref.f64([], [value]), e: ref.f64([], [eValue]) }, dz };
}

/** One layer's forward state, for its backward. */
interface Step {
  x: Bounded;
  y: Bounded;
  /** The output before the layer's activation (convolution and linear). */
  pre?: Bounded;
  /** A convolution's input padded in its padding mode. */
  padded?: Bounded;
  routes?: PoolRoutes;
  lrn?: LrnCache;
  norm?: NormCache;
  mask?: Float64Array;
}

/**
 * The network's forward pass. `masks[i]` is dropout layer i's mask (0 or its scale) in
 * training, and `null` (evaluation) makes every dropout the identity.
 */
export function forward(
  layers: readonly LayerSpec[],
  params: ReadonlyMap<string, Bounded>,
  x: F64,
  masks: readonly (Float64Array | undefined)[] | null,
  pass = new Pass(),
): { logits: Bounded; steps: Step[]; ambiguous: string | null } {
  let h = exact(x);
  const steps: Step[] = [];
  layers.forEach((s, i) => {
    const where = `layer ${i} (${s.kind})`;
    const step: Step = { x: h, y: h };
    const param = (name: string) => params.get(`${i}.${name}`) ?? null;
    switch (s.kind) {
      case "conv":
      case "linear": {
        if (s.kind === "conv" && s.paddingMode) step.padded = copyForward(h, padCopies(s, h));
        const pre = s.kind === "conv"
          ? convForward(unpadded(s), step.padded ?? h, param("weight")!, param("bias"))
          : linearForward(h, param("weight")!, param("bias"));
        step.pre = pre;
        step.y = s.activation ? activate(pre, s.activation, pass, where) : pre;
        break;
      }
      case "convTranspose":
        step.y = convTransposeForward(s, h, param("weight")!, param("bias"));
        break;
      case "relu":
      case "tanh":
        step.y = activate(h, s.kind, pass, where);
        break;
      case "pool": {
        if (s.average) {
          step.y = averageForward(s, h);
          break;
        }
        const { y, routes } = poolForward(s, h, pass, where);
        [step.y, step.routes] = [y, routes];
        break;
      }
      case "adaptive": {
        if (!s.max) {
          step.y = averageForward(s, h);
          break;
        }
        const { y, routes } = poolForward(s, h, pass, where);
        [step.y, step.routes] = [y, routes];
        break;
      }
      case "lrn": {
        const { y, cache } = lrnForward(s, h);
        [step.y, step.lrn] = [y, cache];
        break;
      }
      case "batchnorm": {
        const { y, cache } = batchNormForward(h, param("weight"), param("bias"), pass, where);
        [step.y, step.norm] = [y, cache];
        break;
      }
      case "dropout": {
        const mask = masks?.[i];
        if (mask) [step.y, step.mask] = [dropoutApply(h, mask), mask];
        break;
      }
      case "upsample":
        step.y = copyForward(h, upsampleSources(h.v.shape, s.scale));
        break;
      case "flatten": {
        const [n] = h.v.shape;
        step.y = { v: ref.reshape(h.v, [n, -1]), e: ref.reshape(h.e, [n, -1]) };
        break;
      }
    }
    steps.push(step);
    h = step.y;
  });
  return { logits: h, steps, ambiguous: pass.ambiguous };
}

/** One forward and backward pass of the network and its loss. */
export function forwardBackward(
  layers: readonly LayerSpec[],
  params: ReadonlyMap<string, Bounded>,
  x: F64,
  labels: Int32Array,
  loss: LossSpec,
  masks: readonly (Float64Array | undefined)[] | null,
): PassResult {
  const pass = new Pass();
  const { logits, steps } = forward(layers, params, x, masks, pass);
  const { loss: value, dz } = crossEntropyBounded(logits, labels, loss);
  const grads = new Map<string, Bounded>();
  let g = dz;
  for (let i = layers.length - 1; i >= 0; i--) {
    const s = layers[i], step = steps[i];
    switch (s.kind) {
      case "conv":
      case "linear": {
        const pre = s.activation ? activateBackward(step.pre!, step.y, g, s.activation) : g;
        const w = params.get(`${i}.weight`)!;
        const r = s.kind === "conv"
          ? convBackward(unpadded(s), step.padded ?? step.x, w, pre)
          : linearBackward(step.x, w, pre);
        grads.set(`${i}.weight`, r.dw);
        if (s.bias) grads.set(`${i}.bias`, r.db);
        g = s.kind === "conv" && s.paddingMode
          ? copyBackward(step.x, padCopies(s, step.x).source, r.dx)
          : r.dx;
        break;
      }
      case "convTranspose": {
        const r = convTransposeBackward(s, step.x, params.get(`${i}.weight`)!, g);
        grads.set(`${i}.weight`, r.dw);
        if (s.bias) grads.set(`${i}.bias`, r.db);
        g = r.dx;
        break;
      }
      case "relu":
      case "tanh":
        g = activateBackward(step.x, step.y, g, s.kind);
        break;
      case "pool":
        g = step.routes ? poolBackward(s, step.x, step.routes, g) : averageBackward(s, step.x, g);
        break;
      case "adaptive":
        g = step.routes ? poolBackward(s, step.x, step.routes, g) : averageBackward(s, step.x, g);
        break;
      case "lrn":
        g = lrnBackward(s, step.x, step.lrn!, g);
        break;
      case "batchnorm": {
        const r = batchNormBackward(step.x, step.norm!, g);
        if (s.affine) {
          grads.set(`${i}.weight`, r.dw);
          grads.set(`${i}.bias`, r.db);
        }
        g = r.dx;
        break;
      }
      case "dropout":
        if (step.mask) g = dropoutApply(g, step.mask);
        break;
      case "upsample":
        g = copyBackward(step.x, upsampleSources(step.x.v.shape, s.scale).source, g);
        break;
      case "flatten":
        g = { v: ref.reshape(g.v, step.x.v.shape), e: ref.reshape(g.e, step.x.v.shape) };
        break;
    }
  }
  return { logits, loss: value, dx: g, grads, ambiguous: pass.ambiguous };
}

/** SGD's hyperparameters, as `train/sgd.ts` takes them. */
export interface SgdSpec {
  formulation: "paper" | "pytorch";
  lr: number;
  momentum: number;
  weightDecay: number;
}

/**
 * One SGD step of a parameter with its velocity, both bounded: the paper's
 * v ← μv − λεw − εg, w ← w + v, or PyTorch's d = g + λw, v ← μv + d, w ← w − εv.
 */
export function sgdStep(
  w: Bounded,
  v: Bounded,
  g: Bounded,
  h: SgdSpec,
): { w: Bounded; v: Bounded } {
  const input = {
    w: w.v,
    v: v.v,
    g: g.v,
    lr: h.lr,
    momentum: h.momentum,
    weightDecay: h.weightDecay,
  };
  const next = h.formulation === "paper" ? ref.sgdPaperStep(input) : ref.sgdTorchStep(input);
  const { lr, momentum: mu, weightDecay: wd } = h;
  const ev = new Float64Array(w.v.data.length), ew = new Float64Array(w.v.data.length);
  for (let i = 0; i < ev.length; i++) {
    const [wv, vv, gv] = [Math.abs(w.v.data[i]), Math.abs(v.v.data[i]), Math.abs(g.v.data[i])];
    const [we, ve, ge] = [w.e.data[i], v.e.data[i], g.e.data[i]];
    if (h.formulation === "paper") {
      ev[i] = mu * ve + wd * lr * we + lr * ge + 6 * u * (mu * vv + wd * lr * wv + lr * gv);
      ew[i] = we + ev[i] + u * (Math.abs(next.w.data[i]) + wv);
    } else {
      const ed = ge + wd * we + 3 * u * (gv + wd * wv);
      ev[i] = mu * ve + ed + 3 * u * (mu * vv + gv + wd * wv);
      ew[i] = we + lr * ev[i] + 3 * u * (wv + lr * Math.abs(next.v.data[i]));
    }
  }
  return {
    w: { v: next.w, e: ref.f64(w.v.shape, ew) },
    v: { v: next.v, e: ref.f64(w.v.shape, ev) },
  };
}

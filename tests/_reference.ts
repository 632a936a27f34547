/**
 * Float64 CPU reference implementations that every GPU kernel is tested against.
 *
 * Everything here is plain, row-major and pure: each function allocates a new
 * output and never mutates its inputs. Speed is not a goal; obviousness is.
 *
 * @module
 */

/** A dense float64 tensor in row-major order. A scalar has shape `[]`. */
export interface F64 {
  shape: number[];
  data: Float64Array;
}

/** An int32 tensor (used for arg-max indices). */
export interface I32 {
  shape: number[];
  data: Int32Array;
}

/** Number of elements of a shape (1 for `[]`). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Builds an F64 from a shape and values, checking that the sizes agree. */
export function f64(shape: readonly number[], data: ArrayLike<number>): F64 {
  if (numel(shape) !== data.length) {
    throw new Error(`f64: shape [${shape}] needs ${numel(shape)} values, got ${data.length}`);
  }
  return { shape: [...shape], data: Float64Array.from(data) };
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): F64 {
  return { shape: [...shape], data: new Float64Array(numel(shape)) };
}

/** A tensor filled with one value. */
export function full(shape: readonly number[], value: number): F64 {
  return { shape: [...shape], data: new Float64Array(numel(shape)).fill(value) };
}

/** Seeded uniform RNG on [0, 1) (mulberry32), so tests are reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One standard-normal sample drawn from `rng` (Box–Muller). */
export function gaussian(rng: () => number): number {
  const u1 = 1 - rng(); // (0, 1], so log is finite
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Standard-normal tensor (times `std`, default 1). */
export function randn(shape: readonly number[], rng: () => number, std = 1): F64 {
  const out = zeros(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = std * gaussian(rng);
  return out;
}

/** Uniform tensor on [lo, hi). */
export function randu(shape: readonly number[], rng: () => number, lo = -1, hi = 1): F64 {
  const out = zeros(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = lo + (hi - lo) * rng();
  return out;
}

// ---------------------------------------------------------------- elementwise

/** NumPy broadcasting of two shapes; throws if they are incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`broadcastShapes: [${a}] and [${b}] are incompatible`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides to read `shape` as if broadcast to `outShape` (0 on broadcast axes). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : own[d - lead]));
}

/** Offset into a tensor with `strides` of the element at flat index `flat` of `shape`. */
function offsetOf(flat: number, shape: readonly number[], strides: readonly number[]): number {
  let off = 0;
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    off += (rem % shape[d]) * strides[d];
    rem = Math.floor(rem / shape[d]);
  }
  return off;
}

/** A broadcasting binary map of two float64 tensors. */
export function binary(a: F64, b: F64, op: (x: number, y: number) => number): F64 {
  const shape = broadcastShapes(a.shape, b.shape);
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const out = zeros(shape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = op(a.data[offsetOf(i, shape, sa)], b.data[offsetOf(i, shape, sb)]);
  }
  return out;
}

/** Applies `fn` to every element. */
export function map(x: F64, fn: (v: number) => number): F64 {
  return { shape: [...x.shape], data: x.data.map(fn) };
}

/** Broadcasting a + b. */
export function add(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => x + y);
}
/** Broadcasting a − b. */
export function sub(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => x - y);
}
/** Broadcasting a · b (elementwise). */
export function mul(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => x * y);
}
/** Broadcasting a / b. */
export function div(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => x / y);
}
/** −x. */
export function neg(x: F64): F64 {
  return map(x, (v) => -v);
}
/** eˣ. */
export function exp(x: F64): F64 {
  return map(x, Math.exp);
}
/** Natural log. */
export function log(x: F64): F64 {
  return map(x, Math.log);
}
/** Square root. */
export function sqrt(x: F64): F64 {
  return map(x, Math.sqrt);
}
/** xᵖ elementwise. */
export function powScalar(x: F64, p: number): F64 {
  return map(x, (v) => Math.pow(v, p));
}
/** max(x, 0). */
export function relu(x: F64): F64 {
  return map(x, (v) => (v > 0 ? v : 0));
}
/** tanh(x). */
export function tanh(x: F64): F64 {
  return map(x, Math.tanh);
}
/** 1 / (1 + e⁻ˣ). */
export function sigmoid(x: F64): F64 {
  return map(x, (v) => 1 / (1 + Math.exp(-v)));
}

/** |x|. */
export function abs(x: F64): F64 {
  return map(x, Math.abs);
}
/** `torch.clamp`: min(max(x, lo), hi) (so hi where lo > hi), NaN kept; a missing bound is null. */
export function clamp(x: F64, lo: number | null, hi: number | null): F64 {
  return map(
    x,
    (v) => Number.isNaN(v) ? v : Math.min(Math.max(v, lo ?? -Infinity), hi ?? Infinity),
  );
}
/** Broadcasting `torch.maximum` (NaN where either is NaN). */
export function maximum(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)));
}
/** Broadcasting `torch.minimum` (NaN where either is NaN). */
export function minimum(a: F64, b: F64): F64 {
  return binary(a, b, (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)));
}
/** A broadcasting comparison as 1 or 0 (IEEE: false for NaN but `ne`). */
export function compare(a: F64, b: F64, op: "eq" | "ne" | "lt" | "le" | "gt" | "ge"): F64 {
  const holds = {
    eq: (x: number, y: number) => x === y,
    ne: (x: number, y: number) => x !== y,
    lt: (x: number, y: number) => x < y,
    le: (x: number, y: number) => x <= y,
    gt: (x: number, y: number) => x > y,
    ge: (x: number, y: number) => x >= y,
  }[op];
  return binary(a, b, (x, y) => (holds(x, y) ? 1 : 0));
}
/** Broadcasting `torch.where(cond ≠ 0, a, b)`. */
export function where(cond: F64, a: F64, b: F64): F64 {
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape);
  const [sc, sa, sb] = [cond, a, b].map((t) => broadcastStrides(t.shape, shape));
  const out = zeros(shape);
  for (let i = 0; i < out.data.length; i++) {
    const c = cond.data[offsetOf(i, shape, sc)];
    out.data[i] = c !== 0 ? a.data[offsetOf(i, shape, sa)] : b.data[offsetOf(i, shape, sb)];
  }
  return out;
}

// ----------------------------------------------------------------- reductions

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function reduce(
  x: F64,
  axes: readonly number[] | null,
  keepdim: boolean,
  init: number,
  op: (acc: number, v: number) => number,
): F64 {
  const rank = x.shape.length;
  const reduced = new Array<boolean>(rank).fill(axes === null);
  for (const ax of axes ?? []) {
    const a = normAxis(ax, rank);
    if (reduced[a]) throw new Error(`reduce: axis ${ax} repeated`);
    reduced[a] = true;
  }
  const keptShape = x.shape.map((d, i) => (reduced[i] ? 1 : d));
  const keptStrides = stridesOf(keptShape).map((s, i) => (reduced[i] ? 0 : s));
  const out = full(keptShape, init);
  for (let i = 0; i < x.data.length; i++) {
    const o = offsetOf(i, x.shape, keptStrides);
    out.data[o] = op(out.data[o], x.data[i]);
  }
  if (!keepdim) out.shape = x.shape.filter((_, i) => !reduced[i]);
  return out;
}

/** Sum over `axes` (negative allowed; `null` = all axes, `[]` = none). */
export function sum(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  return reduce(x, axes, keepdim, 0, (acc, v) => acc + v);
}

/** Mean over `axes` (negative allowed; `null` = all axes). */
export function mean(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  const s = sum(x, axes, keepdim);
  const count = x.data.length / Math.max(s.data.length, 1);
  return map(s, (v) => v / count);
}

/** Max over `axes` (negative allowed; `null` = all axes). */
export function max(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  return reduce(x, axes, keepdim, -Infinity, (acc, v) => (v > acc ? v : acc));
}

/** Product over `axes` (negative allowed; `null` = all axes). */
export function prod(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  return reduce(x, axes, keepdim, 1, (acc, v) => acc * v);
}

/** Min over `axes` (negative allowed; `null` = all axes); NaN wins. */
export function min(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  return reduce(x, axes, keepdim, Infinity, (acc, v) => (v < acc || Number.isNaN(v) ? v : acc));
}

/**
 * `torch.argmax` / `torch.argmin` along `axis` (`null`: of the flattened tensor): the first index
 * of the extreme value, a NaN counting as the most extreme.
 */
export function argExtremum(
  x: F64,
  axis: number | null,
  op: "argmax" | "argmin",
  keepdim = false,
): I32 {
  const flat = axis === null;
  const shape = flat ? [x.data.length] : x.shape;
  const a = flat ? 0 : normAxis(axis, shape.length);
  const beyond = (v: number, w: number) => op === "argmax" ? v > w : v < w;
  const outer = numel(shape.slice(0, a)), length = shape[a], inner = numel(shape.slice(a + 1));
  const data = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let k = 1; k < length; k++) {
        const [v, w] = [
          x.data[(o * length + k) * inner + i],
          x.data[(o * length + best) * inner + i],
        ];
        if (!Number.isNaN(w) && (Number.isNaN(v) || beyond(v, w))) best = k;
      }
      data[o * inner + i] = best;
    }
  }
  const out = flat
    ? (keepdim ? x.shape.map(() => 1) : [])
    : x.shape.map((d, i) => (i === a ? 1 : d)).filter((_, i) => keepdim || i !== a);
  return { shape: out, data };
}

/** `torch.var`: Σ (x − mean)² / max(0, N − correction) over `axes` (`null` = all). */
export function variance(
  x: F64,
  axes: readonly number[] | null,
  correction = 1,
  keepdim = false,
): F64 {
  const centred = sub(x, mean(x, axes, true));
  const squares = sum(mul(centred, centred), axes, keepdim);
  const count = x.data.length / Math.max(mean(x, axes, true).data.length, 1);
  return map(squares, (v) => v / Math.max(0, count - correction));
}

/** `torch.logsumexp` over `axes` (`null` = all), shifted by the (finite) maximum. */
export function logsumexp(x: F64, axes: readonly number[] | null, keepdim = false): F64 {
  const peak = map(max(x, axes, true), (m) => (Number.isFinite(m) ? m : 0));
  const total = sum(exp(sub(x, peak)), axes, true);
  const out = add(log(total), peak);
  return keepdim ? out : { shape: max(x, axes, false).shape, data: out.data };
}

// --------------------------------------------------------------------- matmul

/**
 * torch.matmul: [M,K]·[K,N], or batched [...,M,K]·[...,K,N] with broadcast batch dims; a 1-D
 * left operand is a row (its axis removed after), a 1-D right operand a column.
 */
export function matmul(a: F64, b: F64): F64 {
  if (a.shape.length === 0 || b.shape.length === 0) throw new Error("matmul: rank must be >= 1");
  if (a.shape.length === 1 || b.shape.length === 1) {
    const row = a.shape.length === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const column = b.shape.length === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const out = matmul(row, column);
    const shape = out.shape.filter((_, d) =>
      !(a.shape.length === 1 && d === out.shape.length - 2) &&
      !(b.shape.length === 1 && d === out.shape.length - 1)
    );
    return { shape, data: out.data };
  }
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`matmul: [${a.shape}] x [${b.shape}] inner dims differ`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes(aBatch, bBatch);
  const sa = broadcastStrides(aBatch, batch);
  const sb = broadcastStrides(bBatch, batch);
  const out = zeros([...batch, m, n]);
  for (let bi = 0; bi < numel(batch); bi++) {
    const aOff = offsetOf(bi, batch, sa) * m * k;
    const bOff = offsetOf(bi, batch, sb) * k * n;
    const oOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a.data[aOff + i * k + p] * b.data[bOff + p * n + j];
        out.data[oOff + i * n + j] = acc;
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ shape ops

/** Same data, new shape; one dimension may be −1 (inferred). */
export function reshape(x: F64, shape: readonly number[]): F64 {
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const s = shape.map((d) => (d === -1 ? x.data.length / known : d));
  if (numel(s) !== x.data.length || !s.every(Number.isInteger)) {
    throw new Error(`reshape: [${x.shape}] cannot become [${shape}]`);
  }
  return { shape: s, data: x.data.slice() };
}

/** Reorders axes: output axis d is input axis perm[d]. */
export function permute(x: F64, perm: readonly number[]): F64 {
  const rank = x.shape.length;
  if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm}] is not a permutation of rank ${rank}`);
  }
  const inStrides = stridesOf(x.shape);
  const outShape = perm.map((p) => x.shape[p]);
  const readStrides = perm.map((p) => inStrides[p]);
  const out = zeros(outShape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = x.data[offsetOf(i, outShape, readStrides)];
  }
  return out;
}

/** Swaps two axes (negative allowed). */
export function transpose(x: F64, d0: number, d1: number): F64 {
  const perm = x.shape.map((_, i) => i);
  const a = normAxis(d0, perm.length);
  const b = normAxis(d1, perm.length);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/**
 * x[starts[0]:ends[0]:steps[0], ...] as Python indexes: full rank, negatives count from the
 * end, bounds clamped to the axis, an end before the start empty, positive steps (default 1).
 */
export function slice(
  x: F64,
  starts: readonly number[],
  ends: readonly number[],
  steps: readonly number[] = starts.map(() => 1),
): F64 {
  const rank = x.shape.length;
  if (starts.length !== rank || ends.length !== rank) throw new Error("slice: need full rank");
  const clamp = (i: number, d: number) =>
    Math.min(Math.max(i < 0 ? i + x.shape[d] : i, 0), x.shape[d]);
  const lo = starts.map(clamp);
  const hi = ends.map((e, d) => Math.max(clamp(e, d), lo[d]));
  const outShape = lo.map((l, d) => Math.ceil((hi[d] - l) / steps[d]));
  const inStrides = stridesOf(x.shape);
  const readStrides = inStrides.map((s, d) => s * steps[d]);
  let base = 0;
  for (let d = 0; d < rank; d++) base += lo[d] * inStrides[d];
  const out = zeros(outShape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = x.data[base + offsetOf(i, outShape, readStrides)];
  }
  return out;
}

/** Views x as [outer, len, inner] around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  const a = normAxis(axis, shape.length);
  return [numel(shape.slice(0, a)), shape[a], numel(shape.slice(a + 1))];
}

/** Joins tensors along `axis`; other dims must match. */
export function concat(xs: readonly F64[], axis: number): F64 {
  if (xs.length === 0) throw new Error("concat: no inputs");
  const a = normAxis(axis, xs[0].shape.length);
  for (const x of xs) {
    if (
      x.shape.length !== xs[0].shape.length ||
      x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])
    ) {
      throw new Error(`concat: [${x.shape}] does not match [${xs[0].shape}] off axis ${a}`);
    }
  }
  const total = xs.reduce((t, x) => t + x.shape[a], 0);
  const outShape = xs[0].shape.map((d, i) => (i === a ? total : d));
  const [outer, , inner] = around(outShape, a);
  const out = zeros(outShape);
  let start = 0;
  for (const x of xs) {
    const len = x.shape[a];
    for (let o = 0; o < outer; o++) {
      for (let l = 0; l < len; l++) {
        for (let r = 0; r < inner; r++) {
          out.data[(o * total + start + l) * inner + r] = x.data[(o * len + l) * inner + r];
        }
      }
    }
    start += len;
  }
  return out;
}

/** Splits along `axis` into pieces of the given sizes (which must sum to the dim). */
export function split(x: F64, sizes: readonly number[], axis: number): F64[] {
  const a = normAxis(axis, x.shape.length);
  if (sizes.reduce((t, s) => t + s, 0) !== x.shape[a]) {
    throw new Error(`split: sizes [${sizes}] do not sum to ${x.shape[a]}`);
  }
  const out: F64[] = [];
  let start = 0;
  for (const s of sizes) {
    const starts = x.shape.map((_, i) => (i === a ? start : 0));
    const ends = x.shape.map((d, i) => (i === a ? start + s : d));
    out.push(slice(x, starts, ends));
    start += s;
  }
  return out;
}

// ------------------------------------------------------------ softmax & loss

/** log softmax along `axis`, computed as x − max − log Σ exp(x − max). */
export function logSoftmax(x: F64, axis: number): F64 {
  const [outer, len, inner] = around(x.shape, axis);
  const out = zeros(x.shape);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < inner; r++) {
      const at = (l: number): number => (o * len + l) * inner + r;
      let m = -Infinity;
      for (let l = 0; l < len; l++) m = Math.max(m, x.data[at(l)]);
      let s = 0;
      for (let l = 0; l < len; l++) s += Math.exp(x.data[at(l)] - m);
      const lse = m + Math.log(s);
      for (let l = 0; l < len; l++) out.data[at(l)] = x.data[at(l)] - lse;
    }
  }
  return out;
}

/** softmax along `axis` (numerically stable). */
export function softmax(x: F64, axis: number): F64 {
  return exp(logSoftmax(x, axis));
}

/** Mean over the batch of −log softmax(logits)[n, labels[n]]; returns shape []. */
export function crossEntropy(logits: F64, labels: Int32Array): F64 {
  if (logits.shape.length !== 2) throw new Error("crossEntropy: logits must be [N, C]");
  const [n, c] = logits.shape;
  if (labels.length !== n) throw new Error(`crossEntropy: ${labels.length} labels for N=${n}`);
  const ls = logSoftmax(logits, 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= c) throw new Error(`crossEntropy: label ${labels[i]}`);
    total -= ls.data[i * c + labels[i]];
  }
  return f64([], [total / n]);
}

/** PyTorch's options of `F.cross_entropy` (F64 class weights), for {@linkcode torchCrossEntropy}. */
export interface CrossEntropyOptions {
  reduction?: "mean" | "sum" | "none";
  ignoreIndex?: number;
  labelSmoothing?: number;
  weight?: F64;
}

/**
 * `F.cross_entropy(x, y, weight, ignore_index, reduction, label_smoothing)` in float64,
 * transcribed from PyTorch's definition (aten/src/ATen/native/LossNLL.cpp,
 * `cross_entropy_loss_label_smoothing`, and the `torch.nn.CrossEntropyLoss` docs):
 *   logp = log_softmax(x); nll = nll_loss(logp, y, weight, reduction, ignore_index), whose
 *   rows are −w[y]·logp[y] (0 where ignored) and whose mean divides by Σ w[y] over the rows
 *   not ignored; smooth = −Σ_c w_c·logp_c per row, 0 where ignored, reduced the same way
 *   (`mean` by the same Σ w[y]); result = (1 − ε)·nll + smooth·(ε/C). ε = 0 is plain nll_loss.
 */
export function torchCrossEntropy(
  x: F64,
  labels: Int32Array,
  options: CrossEntropyOptions = {},
): F64 {
  const { reduction = "mean", ignoreIndex = -100, labelSmoothing = 0, weight } = options;
  const [n, c] = x.shape;
  const logp = logSoftmax(x, 1);
  const w = (k: number) => weight ? weight.data[k] : 1;
  const nll = new Float64Array(n), smooth = new Float64Array(n);
  let totalWeight = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= c) throw new Error(`torchCrossEntropy: label ${y}`);
    nll[i] = -w(y) * logp.data[i * c + y];
    for (let k = 0; k < c; k++) smooth[i] -= w(k) * logp.data[i * c + k];
    totalWeight += w(y);
  }
  const reduce = (v: Float64Array): Float64Array => {
    if (reduction === "none") return v;
    const sum = v.reduce((a, b) => a + b, 0);
    return Float64Array.of(reduction === "sum" ? sum : sum / totalWeight);
  };
  const shape = reduction === "none" ? [n] : [];
  if (labelSmoothing === 0) return f64(shape, reduce(nll));
  const [a, b] = [reduce(nll), reduce(smooth)];
  return f64(shape, a.map((v, i) => (1 - labelSmoothing) * v + b[i] * (labelSmoothing / c)));
}

/**
 * `F.cross_entropy` of `[N, C, d1, …, dk]` logits in float64, as PyTorch defines it: with class
 * indices `[N, d1, …, dk]`, `nll_loss_nd` and the smoothing term move the classes last and treat
 * each position as a row (`cross_entropy_loss_label_smoothing` and `nll_loss_nd` in
 * aten/src/ATen/native/LossNLL.cpp), so this is {@link torchCrossEntropy} of the permuted
 * logits, `none` shaped back to `[N, d1, …, dk]`. With probabilities shaped as the logits,
 * `cross_entropy_loss_prob_target` (same file):
 *   logp = log_softmax(x, 1); t = t·(1 − ε) + ε/C when ε > 0;
 *   none: −(logp·t·w).sum(1); sum: −(logp·t·w).sum(); mean: −(logp·t·w).sum() / (numel / C),
 * w broadcast along dimension 1 (the mean divides by the positions, not by the weights).
 */
export function torchCrossEntropyNd(
  x: F64,
  target: Int32Array | F64,
  options: CrossEntropyOptions = {},
): F64 {
  const [n, c, ...d] = x.shape;
  const positions = d.reduce((a, b) => a * b, 1);
  // [N, C, S] → [N·S, C]: row n·S + s holds the classes of position s of sample n.
  const rows = (v: F64) =>
    reshape(permute(reshape(v, [n, c, positions]), [0, 2, 1]), [n * positions, c]);
  const { reduction = "mean", labelSmoothing = 0, weight } = options;
  if (target instanceof Int32Array) {
    const out = torchCrossEntropy(rows(x), target, options);
    return reduction === "none" ? reshape(out, [n, ...d]) : out;
  }
  const logp = logSoftmax(rows(x), 1), t = rows(target);
  const losses = new Float64Array(n * positions);
  for (let r = 0; r < n * positions; r++) {
    for (let k = 0; k < c; k++) {
      const smoothed = labelSmoothing > 0
        ? t.data[r * c + k] * (1 - labelSmoothing) + labelSmoothing / c
        : t.data[r * c + k];
      losses[r] -= logp.data[r * c + k] * smoothed * (weight ? weight.data[k] : 1);
    }
  }
  if (reduction === "none") return f64([n, ...d], losses);
  const sum = losses.reduce((a, b) => a + b, 0);
  return f64([], [reduction === "sum" ? sum : sum / (n * positions)]);
}

// ------------------------------------------------------------------ nn layers

/** x·wᵀ + b with x [N,in], w [out,in], b [out] or null. */
export function linear(x: F64, w: F64, b: F64 | null): F64 {
  const y = matmul(x, transpose(w, 0, 1));
  return b === null ? y : add(y, b);
}

/** Options of {@linkcode conv2d}; all optional (stride 1, padding 0, groups 1, dilation 1). */
export interface Conv2dOptions {
  stride?: [number, number];
  padding?: [number, number];
  groups?: number;
  /** Spacing between kernel taps (PyTorch's dilation). */
  dilation?: [number, number];
}

/** Output size of a conv/pool window: floor((size + 2·pad − k) / stride) + 1. */
export function outSize(size: number, k: number, stride: number, pad: number): number {
  const o = Math.floor((size + 2 * pad - k) / stride) + 1;
  if (o <= 0) throw new Error(`window ${k} (stride ${stride}, pad ${pad}) too big for ${size}`);
  return o;
}

/**
 * Calls `visit(out, xi, wi)` for every product x[xi]·w[wi] that PyTorch's conv2d adds into its
 * output element `out` (flat indices of x [N,C,H,W], w [O,C/g,KH,KW] and the output
 * [N,O,OH,OW]); returns the output's shape.
 */
function forEachConvProduct(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions,
  visit: (out: number, xi: number, wi: number) => void,
): number[] {
  const [sh, sw] = opts.stride ?? [1, 1];
  const [ph, pw] = opts.padding ?? [0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const groups = opts.groups ?? 1;
  const [n, c, h, wd] = xShape;
  const [o, cg, kh, kw] = wShape;
  if (xShape.length !== 4 || wShape.length !== 4) throw new Error("conv2d: need 4-D x and w");
  if (c % groups !== 0 || o % groups !== 0 || cg !== c / groups) {
    throw new Error(`conv2d: x [${xShape}], w [${wShape}], groups ${groups} disagree`);
  }
  const oh = outSize(h, dh * (kh - 1) + 1, sh, ph);
  const ow = outSize(wd, dw * (kw - 1) + 1, sw, pw);
  const og = o / groups;
  let out = 0;
  for (let ni = 0; ni < n; ni++) {
    for (let oc = 0; oc < o; oc++) {
      const firstC = Math.floor(oc / og) * cg;
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++, out++) {
          for (let ci = 0; ci < cg; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * sh - ph + dh * ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xo * sw - pw + dw * kx;
                if (ix < 0 || ix >= wd) continue;
                const xi = ((ni * c + firstC + ci) * h + iy) * wd + ix;
                visit(out, xi, ((oc * cg + ci) * kh + ky) * kw + kx);
              }
            }
          }
        }
      }
    }
  }
  return [n, o, oh, ow];
}

/** PyTorch conv2d (cross-correlation, zero padding, grouped). x [N,C,H,W], w [O,C/g,KH,KW]. */
export function conv2d(x: F64, w: F64, b: F64 | null, opts: Conv2dOptions = {}): F64 {
  const o = w.shape[0];
  if (b !== null && (b.shape.length !== 1 || b.shape[0] !== o)) throw new Error("conv2d: bias");
  const sums: number[] = [];
  const shape = forEachConvProduct(x.shape, w.shape, opts, (at, xi, wi) => {
    sums[at] = (sums[at] ?? 0) + x.data[xi] * w.data[wi];
  });
  const out = zeros(shape);
  const plane = shape[2] * shape[3];
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = (b === null ? 0 : b.data[Math.floor(i / plane) % o]) + (sums[i] ?? 0);
  }
  return out;
}

/**
 * ∂L/∂x, ∂L/∂w and ∂L/∂b of L = Σ conv2d(x, w, b, opts) ⊙ dy, by the definition (each product
 * of the forward sum sends dy to both of its factors).
 */
export function conv2dBackward(
  x: F64,
  w: F64,
  dy: F64,
  opts: Conv2dOptions = {},
): { dx: F64; dw: F64; db: F64 } {
  const dx = zeros(x.shape), dw = zeros(w.shape), db = zeros([w.shape[0]]);
  forEachConvProduct(x.shape, w.shape, opts, (at, xi, wi) => {
    dx.data[xi] += dy.data[at] * w.data[wi];
    dw.data[wi] += dy.data[at] * x.data[xi];
  });
  const plane = dy.shape[2] * dy.shape[3];
  dy.data.forEach((d, i) => (db.data[Math.floor(i / plane) % w.shape[0]] += d));
  return { dx, dw, db };
}

/** Options of {@linkcode maxPool2d}; padding defaults to 0, stride to the kernel. */
export interface Pool2dOptions {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
  /** PyTorch's ceil_mode: keep a last window past the padded input, clipped to it. */
  ceilMode?: boolean;
  /** Spacing between window taps (max pooling; PyTorch's dilation). */
  dilation?: [number, number];
}

/**
 * PyTorch's pooling output size (pooling_output_shape): floor or, in ceil mode,
 * ceil((size + 2·pad − k) / stride) + 1, less one when the last window would start at or past
 * size + pad.
 */
export function poolOutSize(
  size: number,
  k: number,
  stride: number,
  pad: number,
  ceilMode = false,
): number {
  if (!ceilMode) return outSize(size, k, stride, pad);
  let o = Math.floor((size + 2 * pad - k + stride - 1) / stride) + 1;
  if ((o - 1) * stride >= size + pad) o--;
  if (o <= 0) throw new Error(`window ${k} (stride ${stride}, pad ${pad}) too big for ${size}`);
  return o;
}

/** Max value and first arg-max (h·W+w in the plane) of every window; padding is −∞. */
function pool(x: F64, opts: Pool2dOptions): { values: F64; argmax: I32 } {
  const [kh, kw] = opts.kernel;
  const [sh, sw] = opts.stride ?? opts.kernel;
  const [ph, pw] = opts.padding ?? [0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  if (x.shape.length !== 4) throw new Error("maxPool2d: x must be [N,C,H,W]");
  const [n, c, h, w] = x.shape;
  const oh = poolOutSize(h, dh * (kh - 1) + 1, sh, ph, opts.ceilMode);
  const ow = poolOutSize(w, dw * (kw - 1) + 1, sw, pw, opts.ceilMode);
  const values = zeros([n, c, oh, ow]);
  const argmax: I32 = { shape: [n, c, oh, ow], data: new Int32Array(n * c * oh * ow) };
  let idx = 0;
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * h * w;
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let best = -Infinity;
        let bestAt = -1;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y * sh - ph + dh * ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = xo * sw - pw + dw * kx;
            if (ix < 0 || ix >= w) continue;
            const v = x.data[base + iy * w + ix];
            // Strict ">" keeps the FIRST maximum in row-major window order.
            if (bestAt < 0 || v > best) {
              best = v;
              bestAt = iy * w + ix;
            }
          }
        }
        values.data[idx] = best;
        argmax.data[idx] = bestAt;
        idx++;
      }
    }
  }
  return { values, argmax };
}

/** Max pooling [N,C,H,W] → [N,C,OH,OW]; padded cells count as −∞ (PyTorch, floor or ceil mode). */
export function maxPool2d(x: F64, opts: Pool2dOptions): F64 {
  return pool(x, opts).values;
}

/**
 * Per output, the flat index h·W+w within its (n, c) plane of the chosen input;
 * ties go to the first maximum in row-major window order.
 */
export function maxPool2dArgmax(x: F64, opts: Pool2dOptions): I32 {
  return pool(x, opts).argmax;
}

/** Options of {@linkcode avgPool2d}: PyTorch's F.avg_pool2d arguments. */
export interface AvgPool2dOptions extends Pool2dOptions {
  /** Default true. */
  countIncludePad?: boolean;
  divisorOverride?: number;
}

/**
 * Average pooling as PyTorch's CPU kernel (avg_pool2d_out_frame): the window [h0, h0 + k)
 * is cut at H + pad for the padded size, then at the input for the sum; the divisor is the
 * override, else the padded size (countIncludePad) or the count of input elements.
 */
export function avgPool2d(x: F64, opts: AvgPool2dOptions): F64 {
  const [kh, kw] = opts.kernel;
  const [sh, sw] = opts.stride ?? opts.kernel;
  const [ph, pw] = opts.padding ?? [0, 0];
  if (x.shape.length !== 4) throw new Error("avgPool2d: x must be [N,C,H,W]");
  const [n, c, h, w] = x.shape;
  const oh = poolOutSize(h, kh, sh, ph, opts.ceilMode);
  const ow = poolOutSize(w, kw, sw, pw, opts.ceilMode);
  const out = zeros([n, c, oh, ow]);
  let idx = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, idx++) {
        let hs = y * sh - ph, ws = xo * sw - pw;
        let he = Math.min(hs + kh, h + ph), we = Math.min(ws + kw, w + pw);
        const poolSize = (he - hs) * (we - ws);
        hs = Math.max(hs, 0), ws = Math.max(ws, 0), he = Math.min(he, h), we = Math.min(we, w);
        if (hs >= he || ws >= we) continue;
        let sum = 0;
        for (let iy = hs; iy < he; iy++) {
          for (let ix = ws; ix < we; ix++) sum += x.data[plane * h * w + iy * w + ix];
        }
        const divisor = opts.divisorOverride ??
          ((opts.countIncludePad ?? true) ? poolSize : (he - hs) * (we - ws));
        out.data[idx] = sum / divisor;
      }
    }
  }
  return out;
}

/**
 * Adaptive average pooling as PyTorch: output i of an axis averages [floor(i·in/out),
 * ceil((i+1)·in/out)).
 */
export function adaptiveAvgPool2d(x: F64, outSize: [number, number]): F64 {
  if (x.shape.length !== 4) throw new Error("adaptiveAvgPool2d: x must be [N,C,H,W]");
  const [n, c, h, w] = x.shape;
  const [oh, ow] = outSize;
  const start = (i: number, inp: number, out: number) => Math.floor((i * inp) / out);
  const end = (i: number, inp: number, out: number) => Math.ceil(((i + 1) * inp) / out);
  const out = zeros([n, c, oh, ow]);
  let idx = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, idx++) {
        const [hs, he, ws, we] = [start(y, h, oh), end(y, h, oh), start(xo, w, ow), end(xo, w, ow)];
        let sum = 0;
        for (let iy = hs; iy < he; iy++) {
          for (let ix = ws; ix < we; ix++) sum += x.data[plane * h * w + iy * w + ix];
        }
        out.data[idx] = sum / ((he - hs) * (we - ws));
      }
    }
  }
  return out;
}

/** Options of {@linkcode lrn}: the paper's constants are size 5, k 2, alpha 1e-4, beta 0.75. */
export interface LrnOptions {
  size: number;
  k: number;
  alpha: number;
  beta: number;
  /** Channels are normalised within consecutive groups of this many (C = no grouping). */
  groupSize: number;
}

/**
 * AlexNet local response normalisation across channels (alpha NOT divided by size):
 * b[i] = a[i] / (k + alpha·Σ_j a[j]²)^beta, j in [i − floor(size/2), i + floor((size−1)/2)]
 * (PyTorch's window) and inside i's group.
 */
export function lrn(x: F64, opts: LrnOptions): F64 {
  if (x.shape.length !== 4) throw new Error("lrn: x must be [N,C,H,W]");
  const [n, c, h, w] = x.shape;
  const { k, alpha, beta, groupSize } = opts;
  if (c % groupSize !== 0) throw new Error(`lrn: C=${c} not divisible by ${groupSize}`);
  // PyTorch's window: floor(size/2) channels before the centre, floor((size−1)/2) after.
  const before = Math.floor(opts.size / 2), after = Math.floor((opts.size - 1) / 2);
  const hw = h * w;
  const out = zeros(x.shape);
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      const groupLo = Math.floor(ci / groupSize) * groupSize;
      const lo = Math.max(groupLo, ci - before);
      const hi = Math.min(groupLo + groupSize - 1, ci + after);
      for (let p = 0; p < hw; p++) {
        let s = 0;
        for (let j = lo; j <= hi; j++) {
          const v = x.data[(ni * c + j) * hw + p];
          s += v * v;
        }
        const at = (ni * c + ci) * hw + p;
        out.data[at] = x.data[at] / Math.pow(k + alpha * s, beta);
      }
    }
  }
  return out;
}

/** Inverted dropout with a given 0/1 keep mask: x·mask/(1−p) (all zeros when p = 1). */
export function dropoutApply(x: F64, mask: Float64Array, p: number): F64 {
  if (mask.length !== x.data.length) throw new Error("dropoutApply: mask length");
  const scale = p < 1 ? 1 / (1 - p) : 0;
  const out = zeros(x.shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = x.data[i] * mask[i] * scale;
  return out;
}

// ----------------------------------------------------------------- optimisers

/** Inputs of one SGD step on one parameter. */
export interface SgdStepInput {
  w: F64;
  /** Velocity; for {@linkcode sgdTorchStep}, null means the first step. */
  v: F64 | null;
  g: F64;
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** The paper's SGD: v ← m·v − wd·lr·w − lr·g; w ← w + v (null v = zeros). */
export function sgdPaperStep(s: SgdStepInput): { w: F64; v: F64 } {
  const w = zeros(s.w.shape);
  const v = zeros(s.w.shape);
  for (let i = 0; i < w.data.length; i++) {
    const old = s.v === null ? 0 : s.v.data[i];
    v.data[i] = s.momentum * old - s.weightDecay * s.lr * s.w.data[i] - s.lr * s.g.data[i];
    w.data[i] = s.w.data[i] + v.data[i];
  }
  return { w, v };
}

/** PyTorch SGD: d = g + wd·w; v ← m·v + d (v = d on the first step); w ← w − lr·v. */
export function sgdTorchStep(s: SgdStepInput): { w: F64; v: F64 } {
  const w = zeros(s.w.shape);
  const v = zeros(s.w.shape);
  for (let i = 0; i < w.data.length; i++) {
    const d = s.g.data[i] + s.weightDecay * s.w.data[i];
    v.data[i] = s.v === null ? d : s.momentum * s.v.data[i] + d;
    w.data[i] = s.w.data[i] - s.lr * v.data[i];
  }
  return { w, v };
}

// Top-k error ----------------------------------------------------------------------------------

/** Error counts of {@linkcode topKErrors}. */
export interface TopKResult {
  /** Images whose label is not the highest-scoring class. */
  top1: number;
  /** Images whose label is not among the 5 highest-scoring classes. */
  top5: number;
  /** Images counted. */
  count: number;
  /** Error counts for each requested k, in the order of `ks`. */
  errors: number[];
}

/**
 * Counts top-k errors for a batch of scores laid out row-major as
 * `[count, numClasses]` (logits or probabilities: any monotone score works).
 *
 * Ties: the label counts as within the top k when fewer than k classes score
 * strictly higher than it, so a tie never causes an error (the optimistic
 * choice; a sort-based top-k would break ties arbitrarily). A k at or above
 * `numClasses` therefore never errs. A NaN score for the label is always an error
 * for every k, and NaN scores of other classes never count as higher, so a
 * diverged network cannot look accurate.
 *
 * @param logits Scores, `labels.length * numClasses` values.
 * @param numClasses Classes per row.
 * @param labels True class per row, in `[0, numClasses)`.
 * @param ks Which k to report in `errors`; top-1 and top-5 are always reported.
 *
 * @example
 * ```ts
 * import { topKErrors } from "./_reference.ts";
 * import assert from "node:assert/strict";
 *
 * // Two images, three classes: the first is right, the second is second-best.
 * const logits = new Float32Array([3, 1, 0, 2, 1, 0]);
 * const r = topKErrors(logits, 3, new Int32Array([0, 1]), [1, 2]);
 * assert.deepEqual(r, { top1: 1, top5: 0, count: 2, errors: [1, 0] });
 * ```
 */
export function topKErrors(
  logits: Float32Array,
  numClasses: number,
  labels: Int32Array,
  ks: readonly number[] = [1, 5],
): TopKResult {
  const count = labels.length;
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (logits.length !== count * numClasses) {
    throw new RangeError(
      `logits has ${logits.length} values, expected ${count} x ${numClasses} = ${
        count * numClasses
      }`,
    );
  }
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
  }
  const errors = ks.map(() => 0);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    if (label < 0 || label >= numClasses) {
      throw new RangeError(`label ${label} of row ${i} is outside [0, ${numClasses})`);
    }
    const rank = rankOfLabel(logits, i * numClasses, numClasses, label);
    if (rank >= 1) top1++;
    if (rank >= 5) top5++;
    for (let j = 0; j < ks.length; j++) if (rank >= ks[j]) errors[j]++;
  }
  return { top1, top5, count, errors };
}

/** Number of classes scoring strictly above the label; Infinity (an error for any k) if NaN. */
function rankOfLabel(
  scores: Float32Array,
  offset: number,
  numClasses: number,
  label: number,
): number {
  const target = scores[offset + label];
  if (Number.isNaN(target)) return Infinity;
  let above = 0;
  for (let c = 0; c < numClasses; c++) if (scores[offset + c] > target) above++;
  return above;
}

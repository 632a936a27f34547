/**
 * The primitives: the few operations on raw tensors that dispatch kernels. Every op's forward
 * and backward rule is written over these (and over views, which need no kernel), so this file
 * and `_primitives_cnn.ts` are the only places in `tensor/` where an op meets a GPU buffer.
 * Each primitive returns a new raw tensor that the caller owns (and disposes).
 *
 * @module
 */

import { Device, type StagingBuffer } from "../kernels/device.ts";
import {
  binary as binaryKernel,
  type BinaryOp,
  cast as castKernel,
  type Comparison,
  fill as fillKernel,
  INTEGER_UNARY,
  where as whereKernel,
} from "../kernels/elementwise.ts";
import { unary as unaryKernel, type UnaryOp } from "../kernels/elementwise.ts";
import { stridedCopy } from "../kernels/copy.ts";
import { matmul as matmulKernel } from "../kernels/matmul.ts";
import { oneHot as oneHotKernel } from "../kernels/one_hot.ts";
import {
  crossEntropy as crossEntropyKernel,
  crossEntropyBackward,
  type CrossEntropyReduction,
  STATS_PER_ROW,
} from "../kernels/cross_entropy.ts";
import {
  type Distribution,
  dropout as dropoutKernel,
  type DropoutArgs,
  fillRandom,
  type RandomStream,
} from "../kernels/random.ts";
import { type ArgReduceOp, argReduceRows, type ReduceOp, reduceRows } from "../kernels/reduce.ts";
import { empty, isDense, RawTensor, requireFloat, sameDevice, Storage } from "./_core.ts";
import { broadcastShapes, type DType, numel, ShapeError } from "./shape.ts";

export type { BinaryOp, Comparison, IntegerDivision, UnaryOp } from "../kernels/elementwise.ts";
export type { ArgReduceOp, ReduceOp } from "../kernels/reduce.ts";
export type { Distribution, RandomStream } from "../kernels/random.ts";

/** Where a tensor's elements sit in a wider dropout draw (see the kernel's `block`). */
export type DropoutBlock = NonNullable<DropoutArgs["block"]>;

/** A contiguous raw tensor of `shape` filled with `value`. */
export function fill(device: Device, shape: readonly number[], value: number): RawTensor {
  const out = empty(device, shape);
  fillKernel(device, out.buffer, numel(shape), value);
  return out;
}

/** Host data uploaded into a new contiguous raw tensor. */
export function upload(
  device: Device,
  data: Float32Array | Int32Array | Uint32Array,
  shape: readonly number[],
  dtype: DType,
  label = "tensor data",
): RawTensor {
  const buffer = device.alloc(Math.max(data.byteLength, 4), label);
  if (data.byteLength > 0) device.write(buffer, data);
  return new RawTensor(new Storage(buffer), shape, dtype);
}

/** The elements of `x`, row-major, read back to the host (waits for the GPU). */
export async function download(x: RawTensor): Promise<Float32Array | Int32Array> {
  const source = contiguous(x);
  try {
    const bytes = await x.device.read(source.buffer, 0, x.size * 4);
    return x.dtype === "i32" ? new Int32Array(bytes) : new Float32Array(bytes);
  } finally {
    source.dispose();
  }
}

/** A contiguous raw tensor with the elements of `x`: a new reference when already contiguous. */
export function contiguous(x: RawTensor): RawTensor {
  return x.isContiguous ? x.alias() : contiguousCopy(x);
}

/**
 * The elements of `x` in a new shape of the same size: a view when `x` is contiguous or the
 * shapes differ only by axes of size 1 (so a transposed matrix viewed as `[1, K, N]` stays a
 * transposed view), after a copy otherwise.
 */
export function reshape(x: RawTensor, shape: readonly number[]): RawTensor {
  const strides = unitAxesStrides(x, shape);
  if (strides) return x.view(shape, strides, x.offset);
  const packed = contiguous(x);
  const out = packed.view(shape);
  packed.dispose();
  return out;
}

/**
 * Strides that view `x` as `shape` when the two shapes are the same but for axes of size 1,
 * else null. An inserted axis takes the stride it would have in a packed layout of the axes
 * after it, so a contiguous `x` gives a contiguous view.
 */
function unitAxesStrides(x: RawTensor, shape: readonly number[]): number[] | null {
  const kept = x.shape.flatMap((d, i) => (d === 1 ? [] : [{ d, stride: x.strides[i] }]));
  const wanted = shape.filter((d) => d !== 1);
  if (kept.length !== wanted.length || kept.some(({ d }, i) => d !== wanted[i])) return null;
  const strides = new Array<number>(shape.length);
  let next = kept.length, inner = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1) {
      const { d, stride } = kept[--next];
      strides[axis] = stride;
      inner = stride * d;
    } else strides[axis] = inner;
  }
  return strides;
}

/**
 * Copies the elements of `src` into the region of `dst` that starts at element `at` of its
 * layout and has `src`'s shape (`dst`'s own strides): a whole tensor, or one part of a
 * concatenation.
 */
export function copyInto(src: RawTensor, dst: RawTensor, at: number): void {
  if (isDense(src.shape, src.strides) && isDense(src.shape, dst.strides)) {
    // Both sides are one byte range: a buffer copy, with no kernel and no binding-size limit
    // (a 151 MB fc6 weight is larger than some devices' largest binding).
    if (src.size > 0) {
      src.device.copy(src.buffer, src.offset * 4, dst.buffer, (dst.offset + at) * 4, src.size * 4);
    }
    return;
  }
  stridedCopy(
    src.device,
    src.shape,
    { buffer: src.buffer, strides: src.strides, offset: src.offset },
    { buffer: dst.buffer, strides: dst.strides, offset: dst.offset + at },
  );
}

/** Writes host data into `dst` (contiguous, same element count) in place. */
export function write(dst: RawTensor, data: Float32Array | Int32Array): void {
  dst.device.write(dst.buffer, data, dst.offset * 4);
}

/**
 * A new zero tensor of `shape` holding `part` from element `at`, its elements `strides` apart
 * (default: packed; the backward of a slice, of a stepped one too).
 */
export function place(
  part: RawTensor,
  shape: readonly number[],
  at: number,
  strides?: readonly number[],
): RawTensor {
  const out = fill(part.device, shape, 0);
  const region = out.view(shape, strides ?? out.strides);
  copyInto(part, region, at);
  region.dispose();
  return out;
}

/** `x` broadcast to `shape` as a view: stride 0 along the broadcast axes, no copy. */
export function expanded(x: RawTensor, shape: readonly number[]): RawTensor {
  const shift = shape.length - x.rank;
  if (shift < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[i + shift])) {
    throw new ShapeError(`broadcastTo: cannot broadcast [${x.shape}] to [${shape}]`);
  }
  return x.view(shape, broadcastStrides(x, shape), x.offset);
}

/** A contiguous copy of `x` broadcast to `shape`. */
export function broadcast(x: RawTensor, shape: readonly number[]): RawTensor {
  const view = expanded(x, shape);
  const out = contiguous(view);
  view.dispose();
  return out;
}

/**
 * Applies a unary map; `value` is the scalar of `pow` and the `*Scalar` maps, and with `value2`
 * the bounds of `clamp` and `inRange`. f32, or i32 for the kernel's `INTEGER_UNARY` maps.
 */
export function unary(x: RawTensor, op: UnaryOp, value = 0, value2 = 0): RawTensor {
  if (x.dtype !== "f32" && !INTEGER_UNARY.has(op)) requireFloat(op, x);
  const input = contiguous(x);
  const out = empty(x.device, x.shape, x.dtype);
  unaryKernel(x.device, op, input.buffer, out.buffer, x.size, value, value2, x.dtype);
  input.dispose();
  return out;
}

const COMPARISONS: ReadonlySet<BinaryOp> = new Set<Comparison>([
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
]);

/** The binary maps that take two i32 operands too, giving i32 (wrapping past ±2³¹). */
const INTEGER_BINARY: ReadonlySet<BinaryOp> = new Set<BinaryOp>([
  "add",
  "sub",
  "mul",
  "max",
  "min",
  "floorDivide",
  "remainder",
  "fmod",
]);

/** The binary maps that have only integer kernels. */
const INTEGER_ONLY: ReadonlySet<BinaryOp> = new Set<BinaryOp>(["floorDivide", "remainder", "fmod"]);

/**
 * Applies a broadcasting binary map; operands are read through their strides. Operands are f32,
 * but the {@link INTEGER_BINARY} maps take two i32 (an i32 result), the integer divisions take
 * only i32, and the comparisons take i32 too and give f32 0 or 1. Errors name `name`.
 */
export function binary(a: RawTensor, b: RawTensor, op: BinaryOp, name: string = op): RawTensor {
  const integers = a.dtype === "i32" && b.dtype === "i32" && INTEGER_BINARY.has(op);
  if (INTEGER_ONLY.has(op) && !integers) {
    throw new TypeError(`${name}: takes two i32 tensors, got ${a.dtype} and ${b.dtype}`);
  }
  if (!COMPARISONS.has(op) && !integers) requireFloat(name, a, b);
  const device = sameDevice(name, a, b);
  const shape = broadcastShapes(a.shape, b.shape, name);
  const out = empty(device, shape, integers ? "i32" : "f32");
  binaryKernel(device, op, shape, operand(a, shape), operand(b, shape), out.buffer);
  return out;
}

/**
 * `cond ≠ 0 ? a : b` elementwise, the three broadcast together; `a` and `b` of one dtype (the
 * result's), `cond` f32 or i32.
 */
export function where(cond: RawTensor, a: RawTensor, b: RawTensor): RawTensor {
  const device = sameDevice("where", cond, a, b);
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, "where"), b.shape, "where");
  const out = empty(device, shape, a.dtype);
  whereKernel(
    device,
    shape,
    operand(cond, shape),
    operand(a, shape),
    operand(b, shape),
    out.buffer,
  );
  return out;
}

/** `x` converted to `dtype` (a copy when it is already): see the kernel's `cast`. */
export function cast(x: RawTensor, dtype: DType): RawTensor {
  const input = contiguous(x);
  const out = empty(x.device, x.shape, dtype);
  if (x.dtype === dtype) copyInto(input, out, 0);
  else castKernel(x.device, input.buffer, x.dtype, out.buffer, dtype, x.size);
  input.dispose();
  return out;
}

/** A tensor as a kernel reads it broadcast to `shape`: buffer, offset, strides and dtype. */
function operand(t: RawTensor, shape: readonly number[]) {
  return {
    buffer: t.buffer,
    offset: t.offset,
    strides: broadcastStrides(t, shape),
    type: t.dtype,
  };
}

/** The strides that view `t` as `shape` it broadcasts to: 0 along its new and size-1 axes. */
function broadcastStrides(t: RawTensor, shape: readonly number[]): number[] {
  const shift = shape.length - t.rank;
  return shape.map((_, axis) => {
    const own = axis - shift;
    return own < 0 || t.shape[own] === 1 ? 0 : t.strides[own];
  });
}

/**
 * Reduces `axes` (sorted, unique) of `x` (f32 or i32; an i32 sum or product wraps around on
 * overflow): they are moved last (a copy only when they are not already there) and each row is
 * reduced by one kernel.
 */
export function reduce(x: RawTensor, op: ReduceOp, axes: readonly number[], keepdim: boolean) {
  const { rows, count, length, shape } = rowsOf(x, axes, keepdim);
  const out = empty(x.device, shape, x.dtype);
  reduceRows(x.device, op, rows.buffer, out.buffer, count, length, x.dtype);
  rows.dispose();
  return out;
}

/**
 * The i32 index of the maximum or minimum along `axes` of `x` (f32 or i32): one axis, or all of
 * them for the index into the flattened tensor. See the kernel's `argReduceRows`.
 */
export function argReduce(
  x: RawTensor,
  op: ArgReduceOp,
  axes: readonly number[],
  keepdim: boolean,
): RawTensor {
  const { rows, count, length, shape } = rowsOf(x, axes, keepdim);
  const out = empty(x.device, shape, "i32");
  argReduceRows(x.device, op, rows.buffer, x.dtype, out.buffer, count, length);
  rows.dispose();
  return out;
}

/**
 * `x` as a contiguous `[count, length]` matrix whose rows run along `axes` (moved last, in
 * order: a copy only when they are not already there), and the reduced result's shape.
 */
function rowsOf(x: RawTensor, axes: readonly number[], keepdim: boolean) {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const order = [...kept, ...axes];
  const moved = x.view(order.map((a) => x.shape[a]), order.map((a) => x.strides[a]), x.offset);
  const rows = contiguous(moved);
  moved.dispose();
  const shape = keepdim
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : kept.map((i) => x.shape[i]);
  const count = numel(kept.map((i) => x.shape[i]));
  return { rows, count, length: numel(axes.map((i) => x.shape[i])), shape };
}

/** How the matmul kernel reads an operand: its storage, whether transposed, its batch stride. */
interface Layout {
  tensor: RawTensor;
  transposed: boolean;
  batchStride: number;
}

/**
 * A layout the kernel reads directly: row-major, or row-major with the last two axes swapped
 * (so `x·wᵀ` costs no copy). Anything else is copied first. The caller disposes `tensor`.
 */
function layoutOf(t: RawTensor): Layout {
  const r = t.rank;
  const rows = t.shape[r - 2], cols = t.shape[r - 1];
  const batchStride = r === 3 ? (t.shape[0] === 1 ? 0 : t.strides[0]) : 0;
  const packedBatch = r === 2 || t.shape[0] === 1 || t.strides[0] === rows * cols;
  if (t.offset === 0 && packedBatch) {
    if ((t.strides[r - 1] === 1 || cols === 1) && (t.strides[r - 2] === cols || rows === 1)) {
      return { tensor: t.alias(), transposed: false, batchStride };
    }
    if ((t.strides[r - 2] === 1 || rows === 1) && (t.strides[r - 1] === rows || cols === 1)) {
      return { tensor: t.alias(), transposed: true, batchStride };
    }
  }
  return {
    tensor: contiguous(t),
    transposed: false,
    batchStride: r === 3 && t.shape[0] !== 1 ? rows * cols : 0,
  };
}

/** Options of {@link matmul}: an epilogue fused into the product. */
export interface MatmulEpilogue {
  /** A length-N vector added to every row. */
  bias?: RawTensor | null;
  /** Applies max(0, ·) after the bias. */
  relu?: boolean;
  /** A ReLU's output shaped as the product: the result is multiplied by its mask, last. */
  mask?: RawTensor | null;
}

/**
 * `a · b` for `[M, K] × [K, N]` or `[B, M, K] × [B, K, N]` (a batch of 1 broadcasts). Shapes
 * are checked by the caller.
 */
export function matmul(a: RawTensor, b: RawTensor, epilogue: MatmulEpilogue = {}): RawTensor {
  return product(a, b, epilogue, null);
}

/**
 * `a · b` for `[M, K] × [K, N]` and the row sums of `a` (`[M]`) from the same pass: the
 * product's first column of tiles adds up the rows of `a` it stages. `dyᵀ · x` with them is a
 * linear layer's weight and bias gradients.
 */
export function matmulRowSums(a: RawTensor, b: RawTensor): { out: RawTensor; rowSums: RawTensor } {
  const rowSums = empty(a.device, [a.shape[0]]);
  return { out: product(a, b, {}, rowSums), rowSums };
}

function product(
  a: RawTensor,
  b: RawTensor,
  epilogue: MatmulEpilogue,
  rowSums: RawTensor | null,
): RawTensor {
  const device = a.device;
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.rank - 1];
  // A batch of 1 broadcasts against the other's, a batch of 0 included.
  const batchA = a.rank === 3 ? a.shape[0] : 1;
  const batch = batchA === 1 && b.rank === 3 ? b.shape[0] : batchA;
  const outShape = a.rank === 3 ? [batch, m, n] : [m, n];
  // Empty products, as PyTorch: a result of no elements needs no pass (the row sums, when asked
  // for, are those of the product with one column), and a depth of 0 sums nothing: the
  // product of zero operands of depth 1, through the epilogue (bias, ReLU, mask).
  if (batch * m * n === 0 || k === 0) {
    const zeros = (shape: readonly number[]) => fill(device, shape, 0);
    if (batch * m * n === 0) {
      if (rowSums && m > 0) product(a, zeros([k, 1]), {}, rowSums).dispose();
      return empty(device, outShape);
    }
    const [a1, b1] = [zeros([...a.shape.slice(0, -1), 1]), zeros([...b.shape.slice(0, -2), 1, n])];
    const out = product(a1, b1, epilogue, rowSums);
    a1.dispose();
    b1.dispose();
    return out;
  }
  const la = layoutOf(a), lb = layoutOf(b);
  const bias = epilogue.bias ? contiguous(epilogue.bias) : null;
  const mask = epilogue.mask ? contiguous(epilogue.mask) : null;
  const out = empty(device, outShape);
  matmulKernel(device, {
    a: la.tensor.buffer,
    b: lb.tensor.buffer,
    out: out.buffer,
    m,
    n,
    k,
    batch,
    batchStrideA: la.batchStride,
    batchStrideB: lb.batchStride,
    transA: la.transposed,
    transB: lb.transposed,
    bias: bias?.buffer,
    relu: epilogue.relu ?? false,
    mask: mask?.buffer,
    rowSums: rowSums?.buffer,
  });
  for (const t of [la.tensor, lb.tensor, bias, mask]) t?.dispose();
  return out;
}

/**
 * The `[N, classes]` one-hot f32 matrix of 1-D i32 `labels`. A label out of range makes its
 * row NaN and raises a device-side fault naming `op` at the next read.
 */
export function oneHot(labels: RawTensor, classes: number, op = "oneHot"): RawTensor {
  const out = empty(labels.device, [labels.shape[0], classes]);
  const packed = contiguous(labels);
  oneHotKernel(labels.device, packed.buffer, out.buffer, labels.shape[0], classes, 1, op);
  packed.dispose();
  return out;
}

/** The options of {@link crossEntropy}: PyTorch's, the class weights a `[C]` f32 raw tensor. */
export interface CrossEntropyParams {
  reduction: CrossEntropyReduction;
  ignoreIndex: number;
  labelSmoothing: number;
  weight?: RawTensor;
}

/** The kernels' sizes of `[N, C, d1, …, dk]` logits: N rows, C classes, S = Π d positions. */
function crossEntropySizes(logits: RawTensor) {
  const [rows, classes, ...spatial] = logits.shape;
  return { rows, classes, spatial: spatial.reduce((a, b) => a * b, 1) };
}

/**
 * The cross-entropy of `[N, C, d1, …, dk]` f32 logits (k ≥ 0) against `[N, d1, …, dk]` i32
 * labels, or against f32 class probabilities shaped as the logits, with PyTorch's options
 * (a scalar, or `[N, d1, …, dk]` for the reduction `none`), and the statistics its gradient
 * needs (four per position, `STATS_PER_ROW` in `kernels/cross_entropy.ts`). A label out of
 * range makes the loss NaN and raises a device-side fault naming `op` at the next read.
 */
export function crossEntropy(
  logits: RawTensor,
  labels: RawTensor,
  params: CrossEntropyParams,
  op = "crossEntropy",
): { loss: RawTensor; stats: RawTensor } {
  const sizes = crossEntropySizes(logits);
  const device = logits.device;
  const [rows, , ...positions] = logits.shape;
  const loss = empty(device, params.reduction === "none" ? [rows, ...positions] : []);
  const stats = empty(device, [sizes.rows * sizes.spatial, STATS_PER_ROW]);
  const [x, y, w] = [logits, labels, params.weight].map((t) => t && contiguous(t));
  crossEntropyKernel(device, {
    ...params,
    logits: x!.buffer,
    labels: y!.buffer,
    weight: w?.buffer,
    stats: stats.buffer,
    loss: loss.buffer,
    ...sizes,
    probabilities: labels.dtype === "f32",
    op,
  });
  [x, y, w].forEach((t) => t?.dispose());
  return { loss, stats };
}

/**
 * ∂L/∂logits of {@link crossEntropy} from the loss's gradient `grad` and its saved tensors,
 * and with `targetsGrad` (f32 probabilities only) ∂L/∂targets too, in the same pass.
 */
export function crossEntropyGrad(
  grad: RawTensor,
  logits: RawTensor,
  labels: RawTensor,
  stats: RawTensor,
  params: CrossEntropyParams,
  targetsGrad = false,
): { logits: RawTensor; targets: RawTensor | null } {
  const device = logits.device;
  const out = empty(device, logits.shape);
  const targets = targetsGrad ? empty(device, logits.shape) : null;
  const [g, x, y, w] = [grad, logits, labels, params.weight].map((t) => t && contiguous(t));
  crossEntropyBackward(device, {
    ...params,
    logits: x!.buffer,
    labels: y!.buffer,
    weight: w?.buffer,
    stats: stats.buffer,
    gradLoss: g!.buffer,
    gradLogits: out.buffer,
    gradTargets: targets?.buffer,
    ...crossEntropySizes(logits),
    probabilities: labels.dtype === "f32",
  });
  [g, x, y, w].forEach((t) => t?.dispose());
  return { logits: out, targets };
}

/** A new f32 tensor of draws from `dist`, from the counter-based stream `stream`. */
export function random(
  device: Device,
  shape: readonly number[],
  dist: Distribution,
  stream: RandomStream,
): RawTensor {
  const out = empty(device, shape, dist.kind === "integer" ? "i32" : "f32", "random");
  fillRandom(device, out.buffer, numel(shape), dist, stream);
  return out;
}

/**
 * `x` times the dropout mask drawn from `stream` (drop probability `p`), the mask computed where
 * it is applied; the same call on a gradient applies the same mask.
 */
export function dropout(
  x: RawTensor,
  p: number,
  stream: RandomStream,
  block?: DropoutBlock,
): RawTensor {
  const source = contiguous(x);
  const out = empty(x.device, x.shape);
  dropoutKernel(x.device, { x: source.buffer, out: out.buffer, n: x.size, p, stream, block });
  source.dispose();
  return out;
}

/**
 * Copies the elements of `src` into `dst` in place, through both layouts (same shapes). A
 * source that shares `dst`'s storage is copied out first, so overlapping views stay correct.
 */
export function assignInto(dst: RawTensor, src: RawTensor): void {
  const source = src.storage === dst.storage ? contiguousCopy(src) : src.alias();
  copyInto(source, dst, 0);
  source.dispose();
}

/** A new contiguous raw tensor, starting at its buffer's first element, with the elements of `x`. */
export function contiguousCopy(x: RawTensor): RawTensor {
  const out = empty(x.device, x.shape, x.dtype);
  copyInto(x, out, 0);
  return out;
}

/** The staging buffer of the `nth` move from `source` to `target` in one transfer, once free. */
export type StagingFor = (
  source: Device,
  target: Device,
  nth: number,
) => Promise<StagingBuffer>;

/**
 * Copies each raw tensor to its target device (WebGPU devices share no memory: a readback on
 * the source, a write on the target straight from the mapped range), all with one host wait.
 * Resolves once the copies are under way: their data arrives in the background, and work
 * recorded on them waits for it. Work that `whileWaiting` records (it must not read the copies)
 * runs while the host waits for the data.
 */
export async function transferAll(
  moves: readonly (readonly [RawTensor, Device])[],
  stagingFor?: StagingFor,
  whileWaiting?: () => void,
): Promise<RawTensor[]> {
  const directions = new Map<string, number>();
  const staging = await Promise.all(moves.map(([t, target]) => {
    const direction = `${t.device.label}>${target.label}`;
    const nth = directions.get(direction) ?? 0;
    directions.set(direction, nth + 1);
    return stagingFor?.(t.device, target, nth);
  }));
  const sources = moves.map(([t]) => contiguous(t));
  const outs: RawTensor[] = [];
  try {
    // Inside the try: a target that refuses the allocation (destroyed) leaks no source.
    for (const [t, target] of moves) outs.push(empty(target, t.shape, t.dtype, "transfer"));
    const done = Device.copyAcross(
      sources.map((source, i) => ({
        source: source.buffer,
        target: outs[i].buffer,
        bytes: source.size * 4,
        staging: staging[i],
      })),
      whileWaiting,
    );
    // A failure stops the devices involved; their next read or sync raises it.
    done.catch(() => {});
  } catch (error) {
    for (const out of outs) out.dispose();
    throw error;
  } finally {
    for (const source of sources) source.dispose();
  }
  return outs;
}

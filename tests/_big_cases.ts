/**
 * Every public op family as a case that runs on a device whose bindings or grids are too small
 * for its operands, so the kernels must split their work: `tests/big_tensor_test.ts` runs each
 * on a device with lowered limits (`AcquireOptions.limits`) and on one with the adapter's own,
 * and holds the results (and the inputs' gradients) equal.
 *
 * @module
 */

import * as t from "../mod.ts";
import type { Device, Shape, Tensor } from "../mod.ts";

type F32 = Tensor<Shape, "f32">;
type I32 = Tensor<Shape, "i32">;

/** What a case gets: its inputs, made on the device under test. */
export interface CaseInputs {
  /** A [96, 40] f32 matrix (15,360 bytes), values spread over [−2, 2), requiring a gradient. */
  x: F32;
  /** A [6, 4, 10, 10] f32 batch of images (1,600 bytes a sample), requiring a gradient. */
  images: F32;
  /** A 1-D i32 tensor of 700 row indices into `x`, out of order and repeated. */
  rows: I32;
  /** A 1-D i32 tensor of 700 column indices into `x`. */
  cols: I32;
  /** A 1-D i32 tensor of 96 class labels in [0, 40). */
  labels: I32;
  /** The device. */
  device: Device;
}

/** One op family's case: what it computes from the inputs (one tensor, or several). */
export interface BigCase {
  name: string;
  run: (inputs: CaseInputs) => Tensor | Tensor[] | Promise<Tensor | Tensor[]>;
  /** Whether to compare the inputs' gradients of Σ out² too (default true for f32 results). */
  grad?: boolean;
  /**
   * The error the narrow device gives where one row is larger than its binding (a sort of all
   * elements): the one-line message splitting cannot avoid.
   */
  narrowError?: RegExp;
}

/** Deterministic values in [−2, 2): a hash of the position, so no two are equal. */
export function spread(n: number, seed = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const h = Math.imul(i + 1, 2654435761) ^ Math.imul(seed, 40503);
    return (((h >>> 0) % 100003) / 100003) * 4 - 2 + i * 1e-7;
  });
}

/** The inputs of every case, on `device`. */
export function makeInputs(device: Device): CaseInputs {
  const x = t.tensor(spread(96 * 40), { shape: [96, 40], device, requiresGrad: true });
  const images = t.tensor(spread(6 * 4 * 10 * 10, 2), {
    shape: [6, 4, 10, 10],
    device,
    requiresGrad: true,
  });
  const rowIndices = Int32Array.from({ length: 700 }, (_, i) => (i * 37 + 11) % 96);
  const rows = t.tensor(rowIndices, { dtype: "i32", device });
  const cols = i32(rowIndices.map((r) => r % 40), [700], device);
  const labels = i32(Array.from({ length: 96 }, (_, i) => (i * 7) % 40), [96], device);
  return { x, images, rows, cols, labels, device };
}

const i32 = (values: number[] | Int32Array, shape: number[], device: Device): I32 =>
  t.tensor(Int32Array.from(values), { dtype: "i32", shape, device });

/** A `[rows, 40]` i32 index into an axis of 30, each value many times. */
const slotsOf30 = (rows: number, device: Device): I32 =>
  i32(Array.from({ length: rows * 40 }, (_, i) => (i * 13) % 30), [rows, 40], device);

/** The cases: every public op family, forward (and backward where it has one). */
export const BIG_CASES: BigCase[] = [
  // Elementwise, activations, maths.
  { name: "add/mul/div", run: ({ x }) => x.mul(x).add(1).div(x.add(3)) },
  { name: "broadcast add", run: ({ x }) => x.add(x.slice(0, 0, 1)) },
  { name: "exp/sin", run: ({ x }) => t.sin(x.exp()) },
  { name: "gelu/silu", run: ({ x }) => t.gelu(x).add(t.silu(x)) },
  { name: "where/clamp", run: ({ x }) => t.where(x.gt(0), x, t.clamp(x, -1, 0.5)) },
  { name: "softmax", run: ({ x }) => t.softmax(x, 0) },
  { name: "logSoftmax", run: ({ x }) => t.logSoftmax(x, 1) },
  // Reductions.
  { name: "sum/mean", run: ({ x }) => [x.sum(), x.mean(0), x.sum(1)] },
  { name: "max/argmax", run: ({ x }) => [t.max(x), x.argmax(0), x.argmax(1)], grad: false },
  {
    name: "argmax/argmin flat",
    run: ({ x }) => [x.argmax(), x.flip(0).argmin(), t.round(x).argmax(), t.round(x).argmin()],
    grad: false,
  },
  {
    name: "searchsorted rows",
    run: ({ x }) => t.searchsorted(t.sort(x, { dim: 1 }).values, x.flip(0)),
    grad: false,
  },
  { name: "max dim", run: ({ x }) => t.maxWithIndices(x, 0).values },
  { name: "logsumexp/std", run: ({ x }) => [t.logsumexp(x, 0), t.std(x, 1)] },
  { name: "vectorNorm/prod", run: ({ x }) => [t.vectorNorm(x), t.prod(x.slice(1, 0, 3), 0)] },
  {
    name: "softmax/logsumexp/norms along one row past a binding",
    run: ({ x }) => {
      const row = x.reshape([1, 3840]);
      return [
        t.softmax(row, 1),
        t.logSoftmax(row, 1),
        t.logsumexp(row, 1),
        t.std(row, 1),
        t.vectorNorm(row, 2, 1),
        t.cumsum(row, 1),
      ];
    },
  },
  // Shape.
  { name: "transpose contiguous", run: ({ x }) => x.transpose(0, 1).contiguous() },
  { name: "permute images", run: ({ images }) => images.permute([3, 1, 0, 2]).contiguous() },
  { name: "concat/stack", run: ({ x }) => [t.concat([x, x.mul(2)], 0), t.stack([x, x], 1)] },
  { name: "slice step", run: ({ x }) => t.slice(x, 0, 3, 90, 4).contiguous() },
  { name: "split", run: ({ x }) => t.split(x, [50, 46], 0).map((p) => p.contiguous()) },
  { name: "pad constant", run: ({ images }) => t.pad(images, [1, 2, 2, 1]) },
  { name: "pad reflect", run: ({ images }) => t.pad(images, [2, 1, 1, 2], { mode: "reflect" }) },
  { name: "pad circular", run: ({ images }) => t.pad(images, [2, 1, 1, 2], { mode: "circular" }) },
  { name: "pixelShuffle", run: ({ images }) => t.pixelShuffle(images, 2) },
  // Products.
  { name: "matmul", run: ({ x }) => t.matmul(x, x.transpose(0, 1)) },
  { name: "linear", run: ({ x }) => t.linear(x, x.slice(0, 0, 24), null) },
  // Index ops.
  { name: "indexSelect rows", run: ({ x, rows }) => t.indexSelect(x, 0, rows) },
  { name: "indexSelect cols", run: ({ x, cols }) => t.indexSelect(x, 1, cols) },
  {
    name: "gather dim 0",
    run: ({ x, device }) =>
      t.gather(
        x,
        0,
        i32(Array.from({ length: 300 * 40 }, (_, i) => (i * 7) % 96), [300, 40], device),
      ),
  },
  {
    name: "gather dim 1",
    run: ({ x, device }) =>
      t.gather(
        x,
        1,
        i32(Array.from({ length: 96 * 30 }, (_, i) => (i * 5) % 40), [96, 30], device),
      ),
  },
  {
    name: "scatterAdd",
    run: ({ x, device }) =>
      t.scatterAdd(
        t.zeros([96, 40], { device }),
        0,
        i32(Array.from({ length: 40 * 40 }, (_, i) => (i * 13) % 96), [40, 40], device),
        x.slice(0, 0, 40),
      ),
  },
  {
    name: "scatter",
    run: ({ x, device }) =>
      t.scatter(
        x.mul(1),
        1,
        i32(Array.from({ length: 96 * 3 }, (_, i) => (i * 11) % 40), [96, 3], device),
        x.slice(1, 0, 3),
      ),
  },
  {
    name: "scatterReduce amax",
    run: ({ x, device }) =>
      t.scatterReduce(
        t.zeros([30, 40], { device }),
        0,
        slotsOf30(40, device),
        x.slice(0, 0, 40),
        "amax",
      ),
  },
  {
    name: "indexAdd",
    run: ({ x, device }) =>
      t.indexAdd(
        t.zeros([96, 40], { device }),
        0,
        i32(Array.from({ length: 40 }, (_, i) => (i * 5) % 96), [40], device),
        x.slice(0, 0, 40),
      ),
  },
  {
    name: "scatterAdd, index past a binding",
    run: ({ x, device }) =>
      t.scatterAdd(
        t.zeros([30, 40], { device }),
        0,
        slotsOf30(96, device),
        x,
      ),
  },
  {
    name: "scatterReduce mean, index past a binding",
    run: ({ x, device }) =>
      t.scatterReduce(
        x.slice(0, 0, 30).mul(1),
        1,
        i32(Array.from({ length: 30 * 90 }, (_, i) => (i * 7) % 40), [30, 90], device),
        t.tile(x.slice(0, 0, 30), [1, 3]).slice(1, 0, 90),
        "mean",
        { includeSelf: false },
      ),
  },
  {
    name: "scatterAdd, index past a binding and narrower than the destination",
    run: ({ x, device }) =>
      t.scatterAdd(
        t.zeros([30, 50], { device }),
        0,
        slotsOf30(96, device),
        x,
      ),
    narrowError:
      /scatterAdd: an index \[96,40\] larger than one binding must span the destination \[30,50\] along every axis but 0/,
  },
  {
    name: "scatterAdd and amax along one line past a binding (a histogram)",
    run: ({ x, device }) => {
      const bins = i32(Array.from({ length: 3840 }, (_, i) => (i * 7) % 11), [3840], device);
      const flat = x.reshape([-1]);
      return [
        t.scatterAdd(t.zeros([11], { device }), 0, bins, flat),
        t.scatterReduce(t.zeros([11], { device }), 0, bins, flat, "amax"),
      ];
    },
  },
  {
    name: "scatterReduce mean along one line past a binding",
    run: ({ x, device }) => {
      const bins = i32(Array.from({ length: 3840 }, (_, i) => (i * 7) % 11), [3840], device);
      return t.scatterReduce(t.zeros([11], { device }), 0, bins, x.reshape([-1]), "mean");
    },
    narrowError:
      /scatterReduce: a line of 3840 elements along axis 0 is longer than one binding, and a mean cannot be split along it/,
  },
  { name: "maskedFill", run: ({ x }) => t.maskedFill(x, x.gt(0.5), -3) },
  { name: "maskedSelect", run: ({ x }) => t.maskedSelect(x, x.gt(0.5)) },
  { name: "nonzero", run: ({ x }) => t.nonzero(x.gt(0.5)), grad: false },
  // Sorting and searching.
  {
    name: "sort dim 0",
    run: ({ x }) => {
      const r = t.sort(x, { dim: 0 });
      return [r.values, r.indices];
    },
  },
  {
    name: "sort dim 1",
    run: ({ x }) => {
      const r = t.sort(x, { dim: 1, descending: true });
      return [r.values, r.indices];
    },
  },
  {
    name: "sort flat",
    run: ({ x }) => {
      const r = t.sort(x.reshape([-1]));
      return [r.values, r.indices];
    },
  },
  {
    name: "sort flat with ties and NaNs, descending",
    run: ({ x }) => {
      const keys = t.where(x.gt(1.8), x.neg().log(), t.round(x.mul(3))).reshape([-1]);
      const r = t.sort(keys, { descending: true });
      return [r.indices, t.argsort(keys)];
    },
    grad: false,
  },
  {
    name: "topk/median/unique flat",
    run: async ({ x }) => [
      t.topk(x.reshape([-1]), 9).values,
      t.median(x),
      (await t.unique(t.round(x.mul(10)))).values,
      (await t.unique(x)).counts,
    ],
  },
  { name: "sort rows of a third", run: ({ x }) => t.sort(x.reshape([3, 1280]), { dim: 1 }).values },
  { name: "argsort", run: ({ x }) => t.argsort(x, { dim: 0 }), grad: false },
  {
    name: "topk",
    run: ({ x }) => {
      const r = t.topk(x, 5, { dim: 0 });
      return [r.values, r.indices];
    },
  },
  { name: "kthvalue", run: ({ x }) => t.kthvalue(x, 7, 0).values },
  { name: "median", run: ({ x }) => [t.median(x, 0).values, t.median(x.slice(0, 0, 40))] },
  {
    name: "unique",
    run: async ({ x }) => (await t.unique(t.round(x.slice(0, 0, 40).mul(10)))).values,
    grad: false,
  },
  {
    name: "searchsorted",
    run: ({ x }) => t.searchsorted(t.sort(x.slice(0, 0, 20).reshape([-1])).values, x.mul(0.9)),
    grad: false,
  },
  {
    name: "searchsorted/bucketize in one sorted row past a binding",
    run: ({ x }) => {
      const boundaries = t.sort(x.reshape([-1])).values;
      return [
        t.searchsorted(boundaries, x.mul(0.9)),
        t.searchsorted(boundaries, t.round(x), { right: true }),
        t.bucketize(x.flip(0), boundaries),
      ];
    },
    grad: false,
  },
  {
    name: "bucketize",
    run: ({ x }) => t.bucketize(x, t.sort(x.slice(0, 0, 20).reshape([-1])).values),
    grad: false,
  },
  // Scans and reorderings.
  { name: "cumsum dim 0", run: ({ x }) => t.cumsum(x, 0) },
  { name: "cumsum dim 1", run: ({ x }) => t.cumsum(x, 1) },
  { name: "cumprod", run: ({ x }) => t.cumprod(x.mul(0.3).add(1), 0) },
  {
    name: "cummax",
    run: ({ x }) => {
      const r = t.cummax(x, 0);
      return [r.values, r.indices];
    },
  },
  {
    name: "cummax/cummin along one row past a binding",
    run: ({ x }) => {
      const row = t.round(x.mul(4)).reshape([1, 3840]);
      const [high, low] = [t.cummax(row, 1), t.cummin(x.reshape([2, 1920]), 1)];
      return [high.values, high.indices, low.values, low.indices];
    },
  },
  { name: "logcumsumexp", run: ({ x }) => t.logcumsumexp(x, 0) },
  { name: "flip/roll", run: ({ x }) => [t.flip(x, [0, 1]), t.roll(x, [5, -3], [0, 1])] },
  { name: "tile", run: ({ x }) => t.tile(x, [2, 3]) },
  { name: "tril/triu", run: ({ x }) => [t.tril(x, 3), t.triu(x, -2)] },
  { name: "diagonal/trace", run: ({ x }) => [t.diagonal(x, 1), t.trace(x)] },
  { name: "diff", run: ({ x }) => t.diff(x, 2, 0) },
  // Networks' layers on a batch.
  {
    name: "conv2d",
    run: ({ images, device }) =>
      t.conv2d(images, t.tensor(spread(5 * 4 * 3 * 3, 3), { shape: [5, 4, 3, 3], device }), null, {
        padding: 1,
      }),
  },
  {
    name: "convTranspose2d",
    run: ({ images, device }) =>
      t.convTranspose2d(
        images,
        t.tensor(spread(4 * 3 * 3 * 3, 4), { shape: [4, 3, 3, 3], device }),
        null,
        {
          stride: 2,
        },
      ),
  },
  { name: "maxPool2d", run: ({ images }) => t.maxPool2d(images, { kernel: 3, stride: 2 }) },
  { name: "avgPool2d", run: ({ images }) => t.avgPool2d(images, { kernel: 2 }) },
  { name: "adaptiveAvgPool2d", run: ({ images }) => t.adaptiveAvgPool2d(images, [3, 4]) },
  { name: "adaptiveMaxPool2d", run: ({ images }) => t.adaptiveMaxPool2d(images, [3, 4]) },
  {
    name: "maxUnpool2d",
    run: ({ images }) => {
      const { values, indices } = t.maxPool2dWithIndices(images, { kernel: 2 });
      return t.maxUnpool2d(values, indices, { kernel: 2 });
    },
  },
  { name: "lrn", run: ({ images }) => t.lrn(images, { size: 3 }) },
  { name: "interpolate nearest", run: ({ images }) => t.interpolate(images, { size: [13, 7] }) },
  {
    name: "interpolate bilinear",
    run: ({ images }) => t.interpolate(images, { size: [7, 15], mode: "bilinear" }),
  },
  { name: "batchNorm", run: ({ images }) => t.batchNorm(images) },
  { name: "layerNorm", run: ({ x }) => t.layerNorm(x, [40]) },
  { name: "groupNorm", run: ({ images }) => t.groupNorm(images, 2) },
  { name: "instanceNorm", run: ({ images }) => t.instanceNorm(images) },
  {
    name: "dropout",
    run: ({ x }) => t.dropout(x, 0.3, { training: true, generator: new t.Generator(7) }),
  },
  // The one-dimensional and other families, built on the kernels above.
  {
    name: "conv1d/pools 1-d",
    run: ({ x, device }) => {
      const signal = x.reshape([12, 8, 40]);
      const w = t.tensor(spread(3 * 8 * 5, 5), { shape: [3, 8, 5], device });
      return [
        t.conv1d(signal, w, null, { padding: 2 }),
        t.maxPool1d(signal, { kernel: 3, stride: 2 }),
        t.avgPool1d(signal, { kernel: 4 }),
        t.adaptiveAvgPool1d(signal, 7),
        t.adaptiveMaxPool1d(signal, 7),
      ];
    },
  },
  { name: "pixelUnshuffle", run: ({ images }) => t.pixelUnshuffle(images, 2) },
  {
    name: "pad replicate",
    run: ({ images }) => t.pad(images, [3, 1, 2, 2], { mode: "replicate" }),
  },
  {
    name: "interpolate linear 1-d",
    run: ({ x }) => t.interpolate(x.reshape([12, 8, 40]), { size: 57, mode: "linear" }),
  },
  {
    name: "batched matmul",
    run: ({ x }) => t.matmul(x.reshape([8, 12, 40]), x.reshape([8, 40, 12])),
  },
  { name: "concat dim 1", run: ({ x }) => t.concat([x, x.flip(1), x.mul(3)], 1) },
  {
    name: "variance/min/softmin/glu",
    run: ({ x }) => [t.variance(x, 0), t.min(x, 1), t.softmin(x, 0), t.glu(x, 1)],
  },
  {
    name: "prelu/erfinv",
    run: ({ x, device }) => [t.prelu(x, t.tensor([0.2], { device })), t.erfinv(t.tanh(x))],
  },
  // Losses.
  {
    name: "crossEntropy",
    run: ({ x, labels }) => t.crossEntropy(x, labels, { reduction: "none" }),
  },
  {
    name: "nllLoss",
    run: ({ x, labels }) => t.nllLoss(t.logSoftmax(x, 1), labels),
  },
  { name: "oneHot", run: ({ cols }) => t.oneHot(cols, 40), grad: false },
  { name: "mseLoss", run: ({ x }) => t.mseLoss(x, x.flip(0), { reduction: "none" }) },
  { name: "smoothL1Loss", run: ({ x }) => t.smoothL1Loss(x, x.mul(0.5)) },
  {
    name: "binaryCrossEntropy",
    run: ({ x }) => t.binaryCrossEntropy(t.sigmoid(x), t.sigmoid(x.flip(1)), { reduction: "none" }),
  },
  { name: "klDiv", run: ({ x }) => t.klDiv(t.logSoftmax(x, 1), t.softmax(x.flip(0), 1)) },
  {
    name: "cosineEmbeddingLoss",
    run: ({ x }) =>
      t.cosineEmbeddingLoss(
        x,
        x.flip(0),
        t.ones([96], { device: x.device }).mul(t.sign(x.slice(1, 0, 1).reshape([96]))),
      ),
  },
  {
    name: "l1/huber/softMargin",
    run: (
      { x },
    ) => [
      t.l1Loss(x, x.flip(0)),
      t.huberLoss(x, x.flip(1), { delta: 0.7 }),
      t.softMarginLoss(x, t.sign(x.flip(0))),
    ],
  },
  {
    name: "binaryCrossEntropyWithLogits/multilabelSoftMargin",
    run: ({ x }) => [
      t.binaryCrossEntropyWithLogits(x, t.sigmoid(x.flip(0)), { reduction: "none" }),
      t.multilabelSoftMarginLoss(x, t.sigmoid(x.flip(1))),
    ],
  },
  {
    name: "poisson/gaussian NLL",
    run: ({ x }) => [
      t.poissonNllLoss(x, t.abs(x.flip(0))),
      t.gaussianNllLoss(x, x.flip(0), t.abs(x).add(0.1)),
    ],
  },
  {
    name: "hinge/marginRanking/triplet",
    run: ({ x }) => [
      t.hingeEmbeddingLoss(x, t.sign(x.flip(0))),
      t.marginRankingLoss(x, x.flip(0), t.sign(x.flip(1)), { margin: 0.1 }),
      t.tripletMarginLoss(x, x.flip(0), x.flip(1)),
    ],
  },
];

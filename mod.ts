/**
 * A Deno-native deep-learning module on WebGPU: typed tensors whose shapes live in the types,
 * a small define-by-run autograd, and WGSL kernels dispatched through Deno's built-in
 * `navigator.gpu`. The `nn` and `train` subpaths build AlexNet and its training on top.
 *
 * @example Train a tiny linear model
 * ```ts
 * import { defaultDevice, noGrad, tensor, tidy, zeros } from "./mod.ts";
 * await defaultDevice();
 * const w = zeros([1, 1], { requiresGrad: true });
 * const x = tensor([[1], [2], [3]]), y = tensor([[2], [4], [6]]);
 * for (let step = 0; step < 50; step++) {
 *   const loss = tidy(() => x.matmul(w).sub(y).pow(2).mean());
 *   await loss.backward();
 *   noGrad(() => tidy(() => w.assign(w.sub(w.grad!.mul(0.1)))));
 *   w.zeroGrad();
 *   loss.dispose();
 * }
 * console.log(await w.item()); // ≈ 2
 * ```
 *
 * @module
 */

export {
  Device,
  DeviceAssertionError,
  GpuError,
  resetTransferStats,
  StagingBuffer,
  traceSyncPoints,
  transferStats,
} from "./kernels/device.ts";
export type {
  AcquireOptions,
  Binding,
  CacheLimits,
  CacheSizes,
  CrossDeviceCopy,
  DeviceLimits,
  FaultSlot,
  GpuBuffer,
  MemoryStats,
  ProfileResult,
  ProfileRow,
  ReadRequest,
  StagingDevice,
  SyncPoint,
  TightenableLimit,
  TransferStats,
} from "./kernels/device.ts";
export type { Dispatch } from "./kernels/_dispatch.ts";
export type { FaultMessage } from "./kernels/_fault.ts";
export {
  type Axes,
  type NestedArray,
  type ScatterReduction,
  type SortOptions,
  type SumType,
  Tensor,
  type TopkOptions,
  type ValuesAndIndices,
  type VarianceOptions,
} from "./tensor/tensor.ts";
export type {
  Broadcast,
  Broadcastable,
  BroadcastDim,
  Check,
  Dim,
  DimsAgree,
  DType,
  IsWide,
  MatmulBatchesAgree,
  MatmulInnerAgree,
  MatmulShape,
  Shape,
  ShapeValue,
  TupleOf,
} from "./tensor/shape.ts";
export { ShapeError } from "./tensor/shape.ts";
export { currentDevice, defaultDevice, setDefaultDevice } from "./tensor/default_device.ts";
export { keep, type ScopedResource, tidy } from "./tensor/memory.ts";
export { isGradEnabled, noGrad } from "./tensor/_autograd.ts";
export {
  arange,
  type CreateOptions,
  eye,
  fromTypedArray,
  full,
  fullLike,
  type NestedNumbers,
  type NestedShape,
  ones,
  onesLike,
  rand,
  randint,
  randn,
  type RandnOptions,
  type RandOptions,
  randperm,
  replicate,
  tensor,
  zeros,
  zerosLike,
} from "./tensor/creation.ts";
export {
  cropImages,
  cropImagesOnHost,
  type CropImagesOptions,
  type ImageCrops,
  type ImagePatch,
  replicateImages,
} from "./tensor/images.ts";
export {
  linkReplicas,
  transfer,
  TransferChannel,
  type TransferOptions,
} from "./tensor/transfer.ts";
export {
  Generator,
  type GeneratorState,
  globalGenerator,
  manualSeed,
  type RandomStream,
} from "./tensor/random.ts";
export {
  abs,
  add,
  clamp,
  div,
  eq,
  floorDivide,
  fmod,
  ge,
  gt,
  le,
  log1p,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  type Operand,
  remainder,
  sub,
  where,
} from "./tensor/ops_elementwise.ts";
export {
  gather,
  indexAdd,
  indexSelect,
  maskedFill,
  maskedSelect,
  nonzero,
  scatter,
  scatterAdd,
  scatterReduce,
} from "./tensor/ops_index.ts";
export {
  argsort,
  bucketize,
  kthvalue,
  median,
  type SearchOptions,
  searchsorted,
  sort,
  topk,
  unique,
  type UniqueResult,
} from "./tensor/ops_sort.ts";
export {
  acos,
  asin,
  atan,
  ceil,
  cos,
  cosh,
  exp2,
  expm1,
  floor,
  frac,
  log10,
  log2,
  pow,
  reciprocal,
  round,
  rsqrt,
  sign,
  sin,
  sinh,
  square,
  tan,
  trunc,
} from "./tensor/ops_maths.ts";
export {
  cummax,
  cummin,
  cumprod,
  cumsum,
  diagonal,
  diff,
  type DiffOptions,
  flip,
  logcumsumexp,
  roll,
  tile,
  trace,
  tril,
  triu,
} from "./tensor/ops_reorder.ts";
export {
  argmax,
  argmin,
  logsumexp,
  max,
  maxWithIndices,
  mean,
  min,
  minWithIndices,
  prod,
  std,
  sum,
  variance,
  vectorNorm,
} from "./tensor/ops_reduce.ts";
export {
  broadcastTo,
  concat,
  flatten,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  transpose,
  unsqueeze,
} from "./tensor/ops_shape.ts";
export { linear, matmul } from "./tensor/ops_matmul.ts";
export {
  celu,
  elu,
  erf,
  erfinv,
  gelu,
  type GeluApproximate,
  glu,
  hardshrink,
  hardsigmoid,
  hardswish,
  hardtanh,
  leakyRelu,
  logSigmoid,
  mish,
  prelu,
  relu,
  relu6,
  selu,
  sigmoid,
  silu,
  softmin,
  softplus,
  softshrink,
  softsign,
  tanh,
  tanhshrink,
  threshold,
} from "./tensor/ops_activation.ts";
export { ctcLoss, type CtcLossOptions } from "./tensor/ops_ctc.ts";
export {
  cosineSimilarity,
  type CosineSimilarityOptions,
  pairwiseDistance,
  type PairwiseDistanceOptions,
} from "./tensor/ops_distance.ts";
export {
  binaryCrossEntropy,
  type BinaryCrossEntropyOptions,
  binaryCrossEntropyWithLogits,
  type BinaryCrossEntropyWithLogitsOptions,
  gaussianNllLoss,
  type GaussianNllOptions,
  huberLoss,
  type HuberOptions,
  klDiv,
  type KlDivOptions,
  l1Loss,
  mseLoss,
  multilabelSoftMarginLoss,
  nllLoss,
  type NllLossOptions,
  poissonNllLoss,
  type PoissonNllOptions,
  type Reduction,
  type ReductionOptions,
  smoothL1Loss,
  type SmoothL1Options,
} from "./tensor/ops_losses.ts";
export {
  cosineEmbeddingLoss,
  hingeEmbeddingLoss,
  type MarginOptions,
  marginRankingLoss,
  multilabelMarginLoss,
  multiMarginLoss,
  type MultiMarginOptions,
  softMarginLoss,
  tripletMarginLoss,
  type TripletMarginOptions,
  tripletMarginWithDistanceLoss,
  type TripletMarginWithDistanceOptions,
} from "./tensor/ops_margin_losses.ts";
export {
  crossEntropy,
  type CrossEntropyOptions,
  logSoftmax,
  oneHot,
  softmax,
} from "./tensor/ops_loss.ts";
export {
  adaptiveAvgPool2d,
  avgPool2d,
  dropout,
  dropoutMask,
  lrn,
  maxPool2d,
  pair,
  windowOutput,
} from "./tensor/ops_cnn.ts";
export {
  type AvgPool2dOptions,
  conv2d,
  type Conv2dOptions,
  type ConvPadding,
  convPadding,
  type DropoutOptions,
  type MaxPool2dOptions,
} from "./tensor/ops_cnn.ts";
export { type LrnParams, type Pair, PAPER_LRN, type Tensor4D } from "./tensor/ops_cnn.ts";
export {
  conv1d,
  type Conv1dOptions,
  convTranspose1d,
  type ConvTranspose1dOptions,
  convTranspose2d,
  type ConvTranspose2dOptions,
  type Tensor2D,
  type Tensor3D,
} from "./tensor/ops_conv_family.ts";
export {
  adaptiveAvgPool1d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  type AdaptiveSize2d,
  avgPool1d,
  type AvgPool1dOptions,
  maxPool1d,
  type MaxPool1dOptions,
  maxPool1dWithIndices,
  maxPool2dWithIndices,
  maxUnpool1d,
  type MaxUnpool1dOptions,
  maxUnpool2d,
  type MaxUnpool2dOptions,
  type PoolWinners,
} from "./tensor/ops_pool_family.ts";
export {
  interpolate,
  type InterpolateMode,
  type InterpolateOptions,
} from "./tensor/ops_resample.ts";
export { pad, paddedShape, type PadMode, type PadOptions } from "./tensor/ops_pad.ts";
export { pixelShuffle, pixelUnshuffle } from "./tensor/ops_pixel_shuffle.ts";
export {
  batchNorm,
  type BatchNormOptions,
  groupNorm,
  type GroupNormOptions,
  instanceNorm,
  type InstanceNormOptions,
  layerNorm,
  type LayerNormOptions,
} from "./tensor/ops_norm.ts";
export {
  type SgdFormulation,
  type SgdHyperparameters,
  type SgdParamUpdate,
  type SgdSlot,
} from "./tensor/fused_sgd.ts";
export { sgdCheck, sgdCheckAll, sgdUpdate, sgdUpdateAll } from "./tensor/fused_sgd.ts";
export {
  adamCheckAll,
  type AdamHyperparameters,
  type AdamParamUpdate,
  adamUpdateAll,
} from "./tensor/fused_adam.ts";
export {
  clipGradNormAll,
  type ClipGradNormAllOptions,
  clipGradValueAll,
} from "./tensor/fused_clip_grad.ts";
export { StepGuard, type StepStats, type StepTotals } from "./tensor/step_guard.ts";

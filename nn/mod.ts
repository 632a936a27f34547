/**
 * Neural-network layers and AlexNet on top of the tensor core.
 *
 * - {@link Module}: named parameters and submodules, train/eval, state dicts with PyTorch
 *   names, moving between devices.
 * - Layers: {@link Conv2d}, {@link Linear}, {@link MaxPool2d},
 *   {@link AvgPool2d}, {@link AdaptiveAvgPool2d}, {@link LocalResponseNorm} (the paper's
 *   form), {@link Dropout} (channel-wise: {@link Dropout1d}, {@link Dropout2d}, {@link Dropout3d};
 *   for SELU: {@link AlphaDropout}, {@link FeatureAlphaDropout}),
 *   {@link Flatten}, {@link Sequential}; normalisation with
 *   {@link BatchNorm1d}, {@link BatchNorm2d}, {@link BatchNorm3d} (running statistics as buffers),
 *   {@link LayerNorm}, {@link GroupNorm}, {@link InstanceNorm1d}, {@link InstanceNorm2d} and
 *   {@link InstanceNorm3d}.
 * - Activations: {@link ReLU}, {@link Tanh}, {@link Sigmoid}, {@link LeakyReLU}, {@link RReLU}, {@link ELU},
 *   {@link GELU}, {@link SiLU}, {@link Mish}, {@link Softplus}, {@link Hardtanh},
 *   {@link ReLU6}, {@link Hardsigmoid}, {@link Hardswish}, {@link Softmax},
 *   {@link LogSoftmax}, {@link Identity}, {@link SELU}, {@link CELU}, {@link PReLU} (learned
 *   slopes), {@link GLU}, {@link LogSigmoid}, {@link Softsign}, {@link Tanhshrink}, {@link Softmin},
 *   {@link Softmax2d},
 *   {@link Hardshrink}, {@link Softshrink}, {@link Threshold}.
 * - Losses ({@link Loss}): {@link MSELoss}, {@link L1Loss}, {@link SmoothL1Loss},
 *   {@link HuberLoss}, {@link NLLLoss}, {@link CrossEntropyLoss}, {@link BCELoss},
 *   {@link BCEWithLogitsLoss}, {@link KLDivLoss}, {@link SoftMarginLoss}, {@link MultiLabelSoftMarginLoss}, {@link MultiLabelMarginLoss}, {@link MultiMarginLoss}, {@link PoissonNLLLoss},
 *   {@link HingeEmbeddingLoss}; of three tensors ({@link ThreeInputLoss}):
 *   {@link MarginRankingLoss}, {@link GaussianNLLLoss}, {@link CosineEmbeddingLoss},
 *   {@link TripletMarginLoss}, {@link TripletMarginWithDistanceLoss}; {@link CTCLoss}; distances:
 *   {@link PairwiseDistance}, {@link CosineSimilarity}.
 * - {@link init}: `torch.nn.init`'s functions (Glorot, He, truncated normal …), in place.
 * - {@link AlexNet}: the paper's network on one device or split over two, with
 *   {@link alexnetSmall} for 32×32 images, and {@link summary} for its layer table. Its
 *   config switches (activation, LRN, pooling, dropout, towers) turn off one of the paper's
 *   choices at a time; {@link Figure1Net} is the paper's four-layer CIFAR-10 net of Figure 1.
 * - Torchvision's architectures, with its module names, state-dict keys, parameter counts and
 *   initialisation: {@link ResNet} ({@link resnet18}, {@link resnet34}, {@link resnet50},
 *   {@link resnet101}, {@link resnet152}, ResNeXt and wide ResNets) of {@link BasicBlock} and
 *   {@link Bottleneck}; {@link VGG} ({@link vgg11} … {@link vgg19Bn}).
 * - Checkpoints: {@link saveCheckpoint} / {@link loadCheckpoint} as safetensors files.
 *
 * @example Build, run and checkpoint a scaled AlexNet
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { alexnetSmall, loadCheckpoint, saveCheckpoint } from "./mod.ts";
 * await defaultDevice();
 * const net = alexnetSmall({ seed: 0 }).eval();
 * const logits = await net.forward(randn([4, 3, 32, 32]).withRank(4));
 * console.log(logits.shape); // [4, 10]
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, net, { metadata: { config: net.config } });
 * console.log((await loadCheckpoint(path, alexnetSmall())).config); // { numClasses: 10, … }
 * ```
 *
 * @module
 */

export {
  type BufferOptions,
  type HostTensor,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type Parameter,
  type ParameterSlot,
  type ShapeMismatch,
  StateDictError,
  type StateValue,
} from "./module.ts";
export type { ParameterInit } from "./_init.ts";
export type { ConvPadding, Pair } from "../tensor/ops_cnn.ts";
export { Conv2d, type Conv2dConfig } from "./conv2d.ts";
export { Conv1d, type Conv1dConfig } from "./conv1d.ts";
export {
  ConvTranspose2d,
  type ConvTranspose2dConfig,
  type TransposedGeometry,
  transposedOutput,
} from "./conv_transpose2d.ts";
export { ConvTranspose1d, type ConvTranspose1dConfig } from "./conv_transpose1d.ts";
export { WeightedLayer } from "./weighted_layer.ts";
export { AdaptiveMaxPool2d } from "./adaptive_max_pool2d.ts";
export { MaxUnpool2d, type MaxUnpool2dConfig } from "./max_unpool2d.ts";
export {
  AdaptiveAvgPool1d,
  AdaptiveMaxPool1d,
  AvgPool1d,
  type AvgPool1dConfig,
  MaxPool1d,
  type MaxPool1dConfig,
} from "./pooling_1d.ts";
export {
  Upsample,
  type UpsampleConfig,
  type Upsampling2dConfig,
  UpsamplingBilinear2d,
  UpsamplingNearest2d,
} from "./upsample.ts";
export {
  CircularPad1d,
  CircularPad2d,
  ConstantPad1d,
  ConstantPad2d,
  Pad,
  type PadConfig,
  type Padding,
  ReflectionPad1d,
  ReflectionPad2d,
  ReplicationPad1d,
  ReplicationPad2d,
  ZeroPad1d,
  ZeroPad2d,
} from "./padding.ts";
export { PixelShuffle, PixelUnshuffle } from "./pixel_shuffle.ts";
export { Linear, type LinearConfig } from "./linear.ts";
export {
  type Activation,
  ACTIVATIONS,
  CELU,
  ELU,
  type ELUConfig,
  GELU,
  type GELUConfig,
  GLU,
  Hardshrink,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  type HardtanhConfig,
  Identity,
  LeakyReLU,
  type LeakyReLUConfig,
  LogSigmoid,
  LogSoftmax,
  Mish,
  PReLU,
  type PReLUConfig,
  ReLU,
  ReLU6,
  SELU,
  ShapePreserving,
  type ShrinkConfig,
  Sigmoid,
  SiLU,
  Softmax,
  Softmax2d,
  type SoftmaxConfig,
  Softmin,
  Softplus,
  type SoftplusConfig,
  Softshrink,
  Softsign,
  Tanh,
  Tanhshrink,
  Threshold,
  type ThresholdConfig,
} from "./activation.ts";
export * as init from "./init.ts";
export {
  BCELoss,
  BCEWithLogitsLoss,
  CosineEmbeddingLoss,
  CrossEntropyLoss,
  CTCLoss,
  GaussianNLLLoss,
  HingeEmbeddingLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  Loss,
  type LossWeights,
  MarginRankingLoss,
  MSELoss,
  MultiLabelMarginLoss,
  MultiLabelSoftMarginLoss,
  MultiMarginLoss,
  NLLLoss,
  PoissonNLLLoss,
  SmoothL1Loss,
  SoftMarginLoss,
  ThreeInputLoss,
  TripletMarginLoss,
  TripletMarginWithDistanceLoss,
} from "./loss.ts";
export { MaxPool2d, type MaxPool2dConfig } from "./max_pool2d.ts";
export { AvgPool2d, type AvgPool2dConfig } from "./avg_pool2d.ts";
export { AdaptiveAvgPool2d, type AdaptiveSize } from "./adaptive_avg_pool2d.ts";
export { LocalResponseNorm, type LocalResponseNormConfig } from "./local_response_norm.ts";
export { NormBase, type NormConfig } from "./norm_base.ts";
export {
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  type BatchNormConfig,
} from "./batch_norm.ts";
export { LayerNorm, type LayerNormConfig } from "./layer_norm.ts";
export { GroupNorm, type GroupNormConfig } from "./group_norm.ts";
export {
  InstanceNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  InstanceNorm3d,
  type InstanceNormConfig,
} from "./instance_norm.ts";
export { Dropout, type DropoutConfig } from "./dropout.ts";
export { AlphaDropout, FeatureAlphaDropout } from "./alpha_dropout.ts";
export { CosineSimilarity, PairwiseDistance } from "./distance.ts";
export { Dropout1d, Dropout2d, Dropout3d, FeatureDropout } from "./feature_dropout.ts";
export { RReLU, type RReLUConfig } from "./rrelu.ts";
export { Flatten } from "./flatten.ts";
export { chainLayers, type Layer, Sequential } from "./sequential.ts";
export { ModuleDict, ModuleList } from "./module_list.ts";
export {
  AlexNet,
  type AlexNetConfig,
  alexnetOutputShapes,
  alexnetParameterShapes,
  alexnetSmall,
  PAPER_SWITCHES,
  type PoolingConfig,
  type ResolvedAlexNetConfig,
} from "./alexnet.ts";
export {
  type Figure1Config,
  Figure1Net,
  figure1ParameterShapes,
  type ResolvedFigure1Config,
  resolveFigure1Config,
} from "./figure1.ts";
export {
  BasicBlock,
  Bottleneck,
  type PlannedTensor,
  ResidualBlock,
  type ResidualBlockConfig,
  ResNet,
  resnet101,
  resnet152,
  resnet18,
  resnet34,
  resnet50,
  RESNET_ARCHITECTURES,
  type ResNetConfig,
  type ResNetName,
  type ResNetOptions,
  resnetStateShapes,
  resnext101_32x8d,
  resnext101_64x4d,
  resnext50_32x4d,
  wide_resnet101_2,
  wide_resnet50_2,
} from "./resnet.ts";
export {
  VGG,
  vgg11,
  vgg11Bn,
  vgg13,
  vgg13Bn,
  vgg16,
  vgg16Bn,
  vgg19,
  vgg19Bn,
  VGG_CONFIGS,
  type VGGConfig,
  type VGGLayers,
  vggMinInputSize,
  type VGGName,
  type VGGOptions,
  vggStateShapes,
} from "./vgg.ts";
export { type Summarizable, summary, type SummaryRow, traceSummary } from "./summary.ts";
export {
  CheckpointError,
  type CheckpointMetadata,
  loadCheckpoint,
  type LoadCheckpointOptions,
  NonFiniteCheckpointError,
  saveCheckpoint,
  type SaveCheckpointOptions,
} from "./checkpoint.ts";

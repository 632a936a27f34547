/**
 * Residual networks as torchvision builds them (He, Zhang, Ren and Sun, 2015, in torchvision's
 * "V1.5" form: a bottleneck block strides in its 3×3 convolution, not its first 1×1): the same
 * module names, state-dict keys in the same order, parameter counts and initialisation, so a
 * state dict converted from torchvision (safetensors, same keys) loads and computes the same
 * function.
 *
 * - {@link resnet18}, {@link resnet34} (basic blocks), {@link resnet50}, {@link resnet101},
 *   {@link resnet152} (bottlenecks), and {@link resnext50_32x4d}, {@link resnext101_32x8d},
 *   {@link resnext101_64x4d}, {@link wide_resnet50_2}, {@link wide_resnet101_2} (grouped or
 *   wider bottlenecks).
 * - {@link BasicBlock}, {@link Bottleneck} and the {@link ResNet} that stacks them.
 *
 * Two options are not torchvision's, for small images and quick experiments: `stem: "cifar"`
 * (a 3×3 stride-1 `conv1` and no max pool, the usual CIFAR-10 form; `conv1.weight` is then
 * `[64, 3, 3, 3]`, so torchvision's weights do not load) and `width` (every channel count times
 * `width`).
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { currentDevice, type Device } from "../tensor/default_device.ts";
import { Generator, globalGenerator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultInit, kaimingFanOutInit, type ParameterInit } from "./_init.ts";
import { LayerChain, type PlannedTensor } from "./_layer_chain.ts";
import { zeros } from "./init.ts";
import { ReLU } from "./activation.ts";
import { AdaptiveAvgPool2d } from "./adaptive_avg_pool2d.ts";
import { BatchNorm2d } from "./batch_norm.ts";
import { Conv2d } from "./conv2d.ts";
import { Flatten } from "./flatten.ts";
import { Linear } from "./linear.ts";
import { MaxPool2d } from "./max_pool2d.ts";
import { Module, swapInList, swapProperties } from "./module.ts";
import { chainLayers, type Layer, Sequential } from "./sequential.ts";
import type { SummaryRow } from "./summary.ts";

export type { PlannedTensor } from "./_layer_chain.ts";

/** Options of a residual block ({@link BasicBlock}, {@link Bottleneck}). */
export interface ResidualBlockConfig {
  /** Input channels (torchvision's `inplanes`). */
  inChannels: number;
  /** The block's base channels (`planes`): it outputs `planes × expansion`. */
  planes: number;
  /** Stride of the block's strided convolution (default 1). */
  stride?: number;
  /**
   * Dilation of the 3×3 convolution, padded to keep the size (bottleneck only, as torchvision's;
   * default 1).
   */
  dilation?: number;
  /** Groups of the 3×3 convolution (bottleneck only; default 1). */
  groups?: number;
  /** Channels per group at `planes` 64 (bottleneck only; default 64, 128 for wide ResNets). */
  baseWidth?: number;
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /** Random stream of the initial weights (default: the global generator). */
  generator?: Generator;
}

const RESIDUAL_BLOCK_OPTIONS = optionNames<ResidualBlockConfig>({
  inChannels: true,
  planes: true,
  stride: true,
  dilation: true,
  groups: true,
  baseWidth: true,
  device: true,
  generator: true,
});

/** What a block's layers are built with: one device and one random stream. */
interface Builder {
  device: Device;
  init: ParameterInit;
}

function builder(config: { device?: Device; generator?: Generator }): Builder {
  return {
    device: config.device ?? currentDevice(),
    init: kaimingFanOutInit(config.generator ?? globalGenerator()),
  };
}

/**
 * A convolution without bias, padded to keep the size at stride 1 (torchvision's conv3x3 and
 * conv1x1, the stem's 7×7).
 */
function conv(
  b: Builder,
  inChannels: number,
  outChannels: number,
  kernelSize: number,
  stride = 1,
  groups = 1,
  dilation = 1,
): Conv2d {
  return new Conv2d({
    inChannels,
    outChannels,
    kernelSize,
    stride,
    padding: dilation * (kernelSize - 1) / 2,
    dilation,
    groups,
    bias: false,
    device: b.device,
    init: b.init,
  });
}

function norm(b: Builder, channels: number): BatchNorm2d {
  return new BatchNorm2d({ numFeatures: channels, device: b.device });
}

/**
 * What {@link BasicBlock} and {@link Bottleneck} share: a main path of convolutions and batch
 * norms, a shortcut (the input, or `downsample`: a strided 1×1 convolution and a batch norm
 * where the shape changes), their sum, and a ReLU.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { BasicBlock, type ResidualBlock } from "./resnet.ts";
 * await defaultDevice();
 * const block: ResidualBlock = new BasicBlock({ inChannels: 4, planes: 8, stride: 2 });
 * console.log(block.forward(randn([1, 4, 6, 6])).shape, block.outChannels); // [1, 8, 3, 3] 8
 * ```
 */
export abstract class ResidualBlock extends Module {
  /** Output channels: `planes × expansion`. */
  readonly outChannels: number;
  /** The main path's layers in the order they apply. */
  readonly #path: readonly Layer[];
  /** The shortcut's projection, or null for the identity. */
  readonly downsample: Sequential | null;

  /**
   * Registers the main path's modules (`named`, in torchvision's order), then `downsample`
   * where the stride or the channel count changes; `path` is their order of application.
   */
  protected constructor(
    config: ResidualBlockConfig,
    outChannels: number,
    build: (b: Builder) => { named: [string, Layer][]; path: Layer[] },
  ) {
    super();
    const b = builder(config);
    const { named, path } = build(b);
    for (const [name, layer] of named) this.registerModule(name, layer);
    this.outChannels = outChannels;
    this.#path = path;
    const stride = config.stride ?? 1;
    this.downsample = stride !== 1 || config.inChannels !== outChannels
      ? this.registerModule(
        "downsample",
        new Sequential(conv(b, config.inChannels, outChannels, 1, stride), norm(b, outChannels)),
      )
      : null;
  }

  /** The main path's last batch norm, whose weight `zeroInitResidual` sets to 0. */
  abstract readonly lastNorm: BatchNorm2d;

  /** `relu(path(x) + shortcut(x))` for `x [N, inChannels, H, W]`. */
  forward(x: Tensor): Tensor {
    const main = chainLayers(x, this.#path);
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    const sum = main.add(shortcut);
    main.dispose();
    if (shortcut !== x) shortcut.dispose();
    const out = sum.relu();
    sum.dispose();
    return out;
  }

  /** The output shape for an input shape `[N, inChannels, H, W]`. */
  outputShape(input: readonly number[]): number[] {
    return this.#path.reduce((shape, layer) => layer.outputShape!(shape), [...input]);
  }

  /** Puts `replacement` in `old`'s place on the main path or the shortcut (`replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    const onPath = swapInList(this.#path as Layer[], old, replacement as Layer);
    if (onPath + swapProperties(this, old, replacement) === 0) super.swapChild(old, replacement);
  }

  /**
   * The block in a line, for the summary: its convolutions' kernels (with a stride, dilation
   * or groups where there is one) and its shortcut, e.g. `1×1 → 3×3 s2 → 1×1, projection`.
   */
  describe(): string {
    const convs = this.#path.filter((layer) => layer instanceof Conv2d).map((conv) => {
      const extras = [
        conv.stride[0] > 1 ? ` s${conv.stride[0]}` : "",
        conv.dilation[0] > 1 ? ` d${conv.dilation[0]}` : "",
        conv.groups > 1 ? ` (${conv.groups} groups)` : "",
      ];
      return conv.kernelSize.join("×") + extras.join("");
    });
    return `${convs.join(" → ")}, ${this.downsample ? "projection" : "identity"}`;
  }
}

/**
 * torchvision's `BasicBlock` (expansion 1): 3×3 conv (strided), BN, ReLU, 3×3 conv, BN, plus
 * the shortcut, ReLU. Modules: `conv1`, `bn1`, `relu`, `conv2`, `bn2`, `downsample`.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { BasicBlock } from "./resnet.ts";
 * await defaultDevice();
 * const block = new BasicBlock({ inChannels: 4, planes: 4 });
 * console.log(Object.keys(await block.stateDict()).slice(0, 3)); // ["conv1.weight", "bn1.weight", "bn1.bias"]
 * ```
 */
export class BasicBlock extends ResidualBlock {
  /** Output channels per `planes`: 1. */
  static readonly expansion = 1;
  /** `bn2`. */
  readonly lastNorm: BatchNorm2d;

  /** Creates the block and initialises its convolutions as torchvision does. */
  constructor(config: ResidualBlockConfig) {
    checkOptions("BasicBlock", config, RESIDUAL_BLOCK_OPTIONS, true);
    if ((config.groups ?? 1) !== 1 || (config.baseWidth ?? 64) !== 64) {
      throw new RangeError("BasicBlock: only groups 1 and baseWidth 64 (as torchvision's)");
    }
    if ((config.dilation ?? 1) !== 1) {
      throw new RangeError("BasicBlock: dilation > 1 is not supported (as torchvision's)");
    }
    const { inChannels, planes } = config;
    let last!: BatchNorm2d;
    super(config, planes, (b) => {
      const conv1 = conv(b, inChannels, planes, 3, config.stride ?? 1);
      const bn1 = norm(b, planes), relu = new ReLU();
      const conv2 = conv(b, planes, planes, 3);
      last = norm(b, planes);
      return {
        named: [["conv1", conv1], ["bn1", bn1], ["relu", relu], ["conv2", conv2], ["bn2", last]],
        path: [conv1, bn1, relu, conv2, last],
      };
    });
    this.lastNorm = last;
  }
}

/**
 * torchvision's `Bottleneck` (expansion 4): 1×1 conv to `width`, BN, ReLU, 3×3 conv (strided,
 * grouped), BN, ReLU, 1×1 conv to `planes × 4`, BN, plus the shortcut, ReLU; `width = ⌊planes ·
 * baseWidth / 64⌋ · groups`. Modules: `conv1`, `bn1`, `conv2`, `bn2`, `conv3`, `bn3`, `relu`,
 * `downsample`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Bottleneck } from "./resnet.ts";
 * await defaultDevice();
 * const block = new Bottleneck({ inChannels: 8, planes: 2 });
 * console.log(block.forward(randn([1, 8, 4, 4])).shape, block.downsample); // [1, 8, 4, 4] null
 * ```
 */
export class Bottleneck extends ResidualBlock {
  /** Output channels per `planes`: 4. */
  static readonly expansion = 4;
  /** `bn3`. */
  readonly lastNorm: BatchNorm2d;

  /** Creates the block and initialises its convolutions as torchvision does. */
  constructor(config: ResidualBlockConfig) {
    checkOptions("Bottleneck", config, RESIDUAL_BLOCK_OPTIONS, true);
    const { inChannels, planes } = config;
    const groups = config.groups ?? 1;
    const width = Math.floor(planes * ((config.baseWidth ?? 64) / 64)) * groups;
    if (!(width >= groups)) {
      throw new RangeError(`Bottleneck: ${planes} planes give no channel per group`);
    }
    const out = planes * Bottleneck.expansion;
    let last!: BatchNorm2d;
    super(config, out, (b) => {
      const conv1 = conv(b, inChannels, width, 1), bn1 = norm(b, width);
      const conv2 = conv(b, width, width, 3, config.stride ?? 1, groups, config.dilation ?? 1);
      const bn2 = norm(b, width);
      const conv3 = conv(b, width, out, 1);
      last = norm(b, out);
      const relu = new ReLU();
      return {
        named: [
          ["conv1", conv1],
          ["bn1", bn1],
          ["conv2", conv2],
          ["bn2", bn2],
          ["conv3", conv3],
          ["bn3", last],
          ["relu", relu],
        ],
        path: [conv1, bn1, relu, conv2, bn2, relu, conv3, last],
      };
    });
    this.lastNorm = last;
  }
}

/** The options every ResNet factory takes. */
export interface ResNetOptions {
  /** Output classes of `fc` (default 1000). */
  numClasses?: number;
  /**
   * Start each block's last batch norm at weight 0, so every residual branch starts as the
   * identity (torchvision's `zero_init_residual`, default false).
   */
  zeroInitResidual?: boolean;
  /** Groups of the bottlenecks' 3×3 convolutions (ResNeXt; default 1). */
  groups?: number;
  /** Bottleneck channels per group at 64 planes (torchvision's `width_per_group`, default 64). */
  widthPerGroup?: number;
  /**
   * For stages 2, 3 and 4: dilate the 3×3 convolutions instead of striding, keeping the
   * resolution (torchvision's `replace_stride_with_dilation`, for dense prediction; bottleneck
   * ResNets only; default none).
   */
  replaceStrideWithDilation?: readonly [boolean, boolean, boolean];
  /**
   * `"imagenet"` (default, torchvision's): a 7×7 stride-2 `conv1` and a 3×3 stride-2 max pool.
   * `"cifar"` (not torchvision's): a 3×3 stride-1 `conv1` and no max pool, for 32×32 images.
   */
  stem?: "imagenet" | "cifar";
  /**
   * Channel multiplier (default 1, torchvision's): the stem has `64 · width` channels and the
   * four stages `64, 128, 256, 512` times `width` planes; `64 · width` must be a whole number.
   * Not torchvision's: a narrow net for small data and quick tests.
   */
  width?: number;
  /** Seed of the initial weights (default: the global generator). */
  seed?: number;
  /** Where the parameters live (default: the default device). */
  device?: Device;
}

/** A ResNet's block type and the number of blocks of each of its four stages. */
export interface ResNetConfig extends ResNetOptions {
  /** `"basic"` ({@link BasicBlock}) or `"bottleneck"` ({@link Bottleneck}). */
  block: "basic" | "bottleneck";
  /** Blocks per stage, as torchvision's `layers` (resnet18: `[2, 2, 2, 2]`). */
  layers: readonly [number, number, number, number];
}

const RESNET_OPTIONS = optionNames<ResNetConfig>({
  numClasses: true,
  zeroInitResidual: true,
  groups: true,
  widthPerGroup: true,
  replaceStrideWithDilation: true,
  stem: true,
  width: true,
  seed: true,
  device: true,
  block: true,
  layers: true,
});

const BLOCKS = { basic: BasicBlock, bottleneck: Bottleneck } as const;

/**
 * torchvision's `ResNet`: `conv1`, `bn1`, `relu`, `maxpool`, four stages `layer1` … `layer4`
 * of residual blocks (the first block of stages 2–4 strides 2), `avgpool` (global), `fc`.
 * Convolutions start from `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, batch norms at
 * weight 1 and bias 0, and `fc` from PyTorch's default.
 *
 * @example A narrow ResNet-18 for 32×32 images
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { ResNet } from "./resnet.ts";
 * await defaultDevice();
 * const net = new ResNet({ block: "basic", layers: [2, 2, 2, 2], numClasses: 10, stem: "cifar", width: 1 / 16, seed: 0 });
 * console.log(net.forward(randn([2, 3, 32, 32])).shape); // [2, 10]
 * ```
 */
export class ResNet extends Module {
  readonly #config: ResNet["config"];
  /** The layers in the order they apply (the flatten before `fc` is not a registered module). */
  readonly #chain = new LayerChain();

  /**
   * The configuration with its defaults filled in. `numClasses` is the width of the logits
   * the layers give now, so it follows a head put in by `replaceModule("fc", …)`.
   */
  get config(): Readonly<Required<Omit<ResNetConfig, "seed" | "device">>> & { seed?: number } {
    return { ...this.#config, numClasses: this.#chain.outputShape([1, 3, 32, 32])[1] };
  }

  /** Builds the network and initialises it as torchvision does. */
  constructor(config: ResNetConfig) {
    super();
    checkOptions("ResNet", config, RESNET_OPTIONS, true);
    const c = resolveResNet(config);
    this.#config = c;
    const generator = c.seed === undefined ? globalGenerator() : new Generator(c.seed);
    const b = { device: config.device ?? currentDevice(), generator };
    const stemBuilder = builder(b);
    const stemChannels = 64 * c.width;
    const cifar = c.stem === "cifar";
    const add = (name: string, layer: Layer, register = true): void => {
      this.#chain.add(name, register ? this.registerModule(name, layer) : layer);
    };
    add(
      "conv1",
      conv(stemBuilder, 3, stemChannels, cifar ? 3 : 7, cifar ? 1 : 2),
    );
    add("bn1", norm(stemBuilder, stemChannels));
    add("relu", new ReLU());
    if (!cifar) add("maxpool", new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }));
    const Block = BLOCKS[c.block];
    let inChannels = stemChannels;
    stagePlans(c).forEach((plans, stage) => {
      const stageBlocks = plans.map(({ planes, stride, dilation }) => {
        const block: ResidualBlock = new Block({
          inChannels,
          planes,
          stride,
          dilation,
          groups: c.groups,
          baseWidth: c.widthPerGroup,
          ...b,
        });
        if (c.zeroInitResidual) zeros(block.lastNorm.weight!);
        inChannels = block.outChannels;
        return block;
      });
      add(`layer${stage + 1}`, new Sequential(...stageBlocks));
    });
    add("avgpool", new AdaptiveAvgPool2d(1));
    add("flatten", new Flatten(), false);
    add(
      "fc",
      new Linear({
        inFeatures: inChannels,
        outFeatures: c.numClasses,
        device: b.device,
        init: defaultInit(inChannels, generator),
      }),
    );
  }

  /** Logits `[N, numClasses]` of images `x [N, 3, H, W]`. */
  forward(x: Tensor): Tensor {
    return this.#chain.forward(x);
  }

  /** The output shape for an input shape `[N, 3, H, W]`: `[N, numClasses]`. */
  outputShape(input: readonly number[]): number[] {
    return this.#chain.outputShape(input);
  }

  /**
   * Puts `replacement` in `old`'s place in the chain of layers (for `replaceModule`: a new
   * `fc`, say, whose width `config.numClasses` then reports).
   */
  protected override swapChild(old: Module, replacement: Module): void {
    if (this.#chain.replace(old, replacement as Layer) === 0) super.swapChild(old, replacement);
  }

  /** The layer table's rows: the stem, one row per block, the pool and `fc`. */
  summaryRows(inputShape: readonly number[]): SummaryRow[] {
    return this.#chain.rows(inputShape);
  }
}

/** One block of a stage: its base channels, stride and the dilation of its 3×3 convolution. */
interface BlockPlan {
  planes: number;
  stride: number;
  dilation: number;
}

/**
 * Each stage's blocks as torchvision's `_make_layer` makes them: the first block of stages 2–4
 * strides 2, or, where `replaceStrideWithDilation` says so, keeps stride 1 and multiplies the
 * dilation by 2 for the blocks after it (the first keeps the previous dilation).
 */
function stagePlans(c: ResNet["config"]): BlockPlan[][] {
  let dilation = 1;
  return c.layers.map((blocks, stage) => {
    const planes = 64 * c.width * 2 ** stage;
    const previous = dilation;
    let stride = stage === 0 ? 1 : 2;
    if (stage > 0 && c.replaceStrideWithDilation[stage - 1]) {
      dilation *= stride;
      stride = 1;
    }
    return Array.from({ length: blocks }, (_, i) => ({
      planes,
      stride: i === 0 ? stride : 1,
      dilation: i === 0 ? previous : dilation,
    }));
  });
}

/** The configuration with defaults filled and checked; throws a RangeError naming the option. */
function resolveResNet(config: ResNetConfig): ResNet["config"] {
  const c = {
    block: config.block,
    layers: config.layers,
    numClasses: config.numClasses ?? 1000,
    zeroInitResidual: config.zeroInitResidual ?? false,
    groups: config.groups ?? 1,
    widthPerGroup: config.widthPerGroup ?? 64,
    replaceStrideWithDilation: config.replaceStrideWithDilation ?? [false, false, false],
    stem: config.stem ?? "imagenet",
    width: config.width ?? 1,
    seed: config.seed,
  };
  if (!(c.block in BLOCKS)) {
    throw new RangeError(`ResNet: block must be "basic" or "bottleneck", got ${c.block}`);
  }
  if (c.layers.length !== 4 || !c.layers.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`ResNet: layers must be four block counts ≥ 1, got [${c.layers}]`);
  }
  if (!Number.isInteger(64 * c.width) || c.width <= 0) {
    throw new RangeError(
      `ResNet: 64 × width must be a positive whole number, got width ${c.width}`,
    );
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 1) {
    throw new RangeError(`ResNet: numClasses must be a positive integer, got ${c.numClasses}`);
  }
  const dilate = c.replaceStrideWithDilation;
  if (dilate.length !== 3) {
    throw new RangeError(
      `ResNet: replaceStrideWithDilation must be three booleans, got [${dilate}]`,
    );
  }
  if (c.block === "basic" && dilate.some(Boolean)) {
    throw new RangeError(
      "ResNet: basic blocks do not dilate (replaceStrideWithDilation needs bottlenecks)",
    );
  }
  if (c.stem !== "imagenet" && c.stem !== "cifar") {
    throw new RangeError(`ResNet: stem must be "imagenet" or "cifar", got ${c.stem}`);
  }
  return c;
}

/**
 * The state dict a ResNet of `config` will have, key by key in order with shapes, computed
 * without allocating anything (for checkpoint sizes and summaries of large nets).
 *
 * @example
 * ```ts
 * import { resnetStateShapes } from "./resnet.ts";
 * const shapes = resnetStateShapes({ block: "basic", layers: [2, 2, 2, 2] });
 * const params = shapes.filter((t) => !t.buffer).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
 * console.log(shapes[0], params); // { name: "conv1.weight", shape: [64, 3, 7, 7], buffer: false } 11689512
 * ```
 */
export function resnetStateShapes(config: ResNetConfig): PlannedTensor[] {
  const c = resolveResNet(config);
  const out: PlannedTensor[] = [];
  const param = (name: string, shape: number[]) => out.push({ name, shape, buffer: false });
  const bn = (name: string, ch: number) => {
    param(`${name}.weight`, [ch]);
    param(`${name}.bias`, [ch]);
    for (const stat of ["running_mean", "running_var"]) {
      out.push({ name: `${name}.${stat}`, shape: [ch], buffer: true });
    }
    out.push({ name: `${name}.num_batches_tracked`, shape: [], buffer: true });
  };
  const stem = 64 * c.width, k = c.stem === "cifar" ? 3 : 7;
  param("conv1.weight", [stem, 3, k, k]);
  bn("bn1", stem);
  const expansion = BLOCKS[c.block].expansion;
  let inChannels = stem;
  stagePlans(c).forEach((plans, stage) => {
    plans.forEach(({ planes, stride }, i) => {
      const outChannels = planes * expansion;
      const width = Math.floor(planes * (c.widthPerGroup / 64)) * c.groups;
      const p = `layer${stage + 1}.${i}`;
      if (c.block === "basic") {
        param(`${p}.conv1.weight`, [planes, inChannels, 3, 3]);
        bn(`${p}.bn1`, planes);
        param(`${p}.conv2.weight`, [planes, planes, 3, 3]);
        bn(`${p}.bn2`, planes);
      } else {
        param(`${p}.conv1.weight`, [width, inChannels, 1, 1]);
        bn(`${p}.bn1`, width);
        param(`${p}.conv2.weight`, [width, width / c.groups, 3, 3]);
        bn(`${p}.bn2`, width);
        param(`${p}.conv3.weight`, [outChannels, width, 1, 1]);
        bn(`${p}.bn3`, outChannels);
      }
      if (stride !== 1 || inChannels !== outChannels) {
        param(`${p}.downsample.0.weight`, [outChannels, inChannels, 1, 1]);
        bn(`${p}.downsample.1`, outChannels);
      }
      inChannels = outChannels;
    });
  });
  param("fc.weight", [c.numClasses, inChannels]);
  param("fc.bias", [c.numClasses]);
  return out;
}

/** The names of torchvision's ResNets, ResNeXts and wide ResNets. */
export type ResNetName =
  | "resnet18"
  | "resnet34"
  | "resnet50"
  | "resnet101"
  | "resnet152"
  | "resnext50_32x4d"
  | "resnext101_32x8d"
  | "resnext101_64x4d"
  | "wide_resnet50_2"
  | "wide_resnet101_2";

/**
 * torchvision's ResNet architectures by name: block, stage depths and, for ResNeXt and wide
 * ResNets, the bottlenecks' groups and width. The factories ({@link resnet18} …) build them;
 * their options cannot change these.
 *
 * @example
 * ```ts
 * import { RESNET_ARCHITECTURES, resnetStateShapes } from "./resnet.ts";
 * console.log(Object.keys(RESNET_ARCHITECTURES).length); // 10
 * console.log(resnetStateShapes(RESNET_ARCHITECTURES.resnet50).length); // 320
 * ```
 */
export const RESNET_ARCHITECTURES: Readonly<
  Record<ResNetName, Readonly<Pick<ResNetConfig, "block" | "layers" | "groups" | "widthPerGroup">>>
> = {
  resnet18: { block: "basic", layers: [2, 2, 2, 2] },
  resnet34: { block: "basic", layers: [3, 4, 6, 3] },
  resnet50: { block: "bottleneck", layers: [3, 4, 6, 3] },
  resnet101: { block: "bottleneck", layers: [3, 4, 23, 3] },
  resnet152: { block: "bottleneck", layers: [3, 8, 36, 3] },
  resnext50_32x4d: { block: "bottleneck", layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
  resnext101_32x8d: { block: "bottleneck", layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
  resnext101_64x4d: { block: "bottleneck", layers: [3, 4, 23, 3], groups: 64, widthPerGroup: 4 },
  wide_resnet50_2: { block: "bottleneck", layers: [3, 4, 6, 3], widthPerGroup: 128 },
  wide_resnet101_2: { block: "bottleneck", layers: [3, 4, 23, 3], widthPerGroup: 128 },
};

/**
 * ResNet-18 (basic blocks `[2, 2, 2, 2]`): 11,689,512 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { resnet18 } from "./resnet.ts";
 * await defaultDevice();
 * const net = resnet18({ numClasses: 10, width: 1 / 16, stem: "cifar", seed: 0 });
 * console.log(net.eval().forward(randn([1, 3, 16, 16])).shape); // [1, 10]
 * ```
 */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnet18 });
}

/**
 * ResNet-34 (basic blocks `[3, 4, 6, 3]`): 21,797,672 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { resnet34 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(resnet34({ width: 1 / 64, numClasses: 2 }).namedModules().length); // 116
 * ```
 */
export function resnet34(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnet34 });
}

/**
 * ResNet-50 (bottlenecks `[3, 4, 6, 3]`): 25,557,032 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { resnet50 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(resnet50({ width: 1 / 64, numClasses: 2 }).namedParameters()[3][0]); // "layer1.0.bn1.weight"
 * ```
 */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnet50 });
}

/**
 * ResNet-101 (bottlenecks `[3, 4, 23, 3]`): 44,549,160 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { resnet101 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(resnet101({ width: 1 / 64, numClasses: 2 }).config.layers); // [3, 4, 23, 3]
 * ```
 */
export function resnet101(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnet101 });
}

/**
 * ResNet-152 (bottlenecks `[3, 8, 36, 3]`): 60,192,808 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { resnet152 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(resnet152({ width: 1 / 64, numClasses: 2 }).config.layers); // [3, 8, 36, 3]
 * ```
 */
export function resnet152(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnet152 });
}

/**
 * ResNeXt-50 32×4d (bottlenecks `[3, 4, 6, 3]`, 32 groups of 4 channels at 64 planes):
 * 25,028,904 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { resnext50_32x4d } from "./resnet.ts";
 * await defaultDevice();
 * const net = resnext50_32x4d({ width: 1 / 4, numClasses: 2 });
 * console.log(net.config.groups, net.config.widthPerGroup); // 32 4
 * ```
 */
export function resnext50_32x4d(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnext50_32x4d });
}

/**
 * ResNeXt-101 32×8d (bottlenecks `[3, 4, 23, 3]`, 32 groups of 8 channels at 64 planes):
 * 88,791,336 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { resnetStateShapes } from "./resnet.ts";
 * console.log(resnetStateShapes({ block: "bottleneck", layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 }).length); // 626
 * ```
 */
export function resnext101_32x8d(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnext101_32x8d });
}

/**
 * ResNeXt-101 64×4d (bottlenecks `[3, 4, 23, 3]`, 64 groups of 4 channels at 64 planes):
 * 83,455,272 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { RESNET_ARCHITECTURES, resnetStateShapes } from "./resnet.ts";
 * console.log(resnetStateShapes(RESNET_ARCHITECTURES.resnext101_64x4d).length); // 626
 * ```
 */
export function resnext101_64x4d(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.resnext101_64x4d });
}

/**
 * Wide ResNet-50-2 (bottlenecks `[3, 4, 6, 3]`, twice the inner channels): 68,883,240
 * parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { wide_resnet50_2 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(wide_resnet50_2({ width: 1 / 64, numClasses: 2 }).config.widthPerGroup); // 128
 * ```
 */
export function wide_resnet50_2(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.wide_resnet50_2 });
}

/**
 * Wide ResNet-101-2 (bottlenecks `[3, 4, 23, 3]`, twice the inner channels): 126,886,696
 * parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { wide_resnet101_2 } from "./resnet.ts";
 * await defaultDevice();
 * console.log(wide_resnet101_2({ width: 1 / 64, numClasses: 2 }).config.layers); // [3, 4, 23, 3]
 * ```
 */
export function wide_resnet101_2(options: ResNetOptions = {}): ResNet {
  return new ResNet({ ...options, ...RESNET_ARCHITECTURES.wide_resnet101_2 });
}

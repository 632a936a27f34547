/**
 * VGG networks as torchvision builds them (Simonyan and Zisserman, 2014): configurations A, B,
 * D and E (VGG-11, 13, 16, 19), with or without batch norm, with torchvision's module indices
 * (`features.N`, `classifier.N`), state-dict keys in the same order, parameter counts and
 * initialisation, so a state dict converted from torchvision loads and computes the same function.
 *
 * `width` and `hidden` are not torchvision's: they narrow the convolutions and the classifier
 * for small data and quick tests.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { currentDevice, type Device } from "../tensor/default_device.ts";
import { Generator, globalGenerator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { kaimingFanOutInit, normalInit } from "./_init.ts";
import { LayerChain, type PlannedTensor } from "./_layer_chain.ts";
import { ReLU } from "./activation.ts";
import { AdaptiveAvgPool2d } from "./adaptive_avg_pool2d.ts";
import { BatchNorm2d } from "./batch_norm.ts";
import { Conv2d } from "./conv2d.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import { Linear } from "./linear.ts";
import { MaxPool2d } from "./max_pool2d.ts";
import { Module } from "./module.ts";
import { type Layer, Sequential } from "./sequential.ts";
import type { SummaryRow } from "./summary.ts";

/** A feature extractor's layers: output channels of a 3×3 convolution, or `"M"` a 2×2 max pool. */
export type VGGLayers = readonly (number | "M")[];

/** torchvision's configurations: A (VGG-11), B (VGG-13), D (VGG-16), E (VGG-19). */
export const VGG_CONFIGS: Readonly<Record<"A" | "B" | "D" | "E", VGGLayers>> = {
  A: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  B: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  D: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  E: [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
  ],
};

/** The options every VGG factory takes. */
export interface VGGOptions {
  /** Output classes of the last linear layer (default 1000). */
  numClasses?: number;
  /** Drop probability before the classifier's first two linear layers' outputs (default 0.5). */
  dropout?: number;
  /**
   * Channel multiplier of the convolutions (default 1, torchvision's); `64 · width` must be a
   * whole number. Not torchvision's.
   */
  width?: number;
  /** The classifier's hidden features (default 4096, torchvision's). */
  hidden?: number;
  /** Side of the adaptive average pool's output (default 7, torchvision's). */
  poolSize?: number;
  /** Seed of the initial weights and of the dropout masks (default: the global generator). */
  seed?: number;
  /** Where the parameters live (default: the default device). */
  device?: Device;
}

/** A VGG's feature layers and whether a batch norm follows each convolution. */
export interface VGGConfig extends VGGOptions {
  /** The feature extractor: a configuration's name or its layer list. */
  layers: keyof typeof VGG_CONFIGS | VGGLayers;
  /** A `BatchNorm2d` after every convolution (torchvision's `_bn` models; default false). */
  batchNorm?: boolean;
}

const VGG_OPTIONS = optionNames<VGGConfig>({
  numClasses: true,
  dropout: true,
  width: true,
  hidden: true,
  poolSize: true,
  seed: true,
  device: true,
  layers: true,
  batchNorm: true,
});

/** Dropout streams start here, far past any initialisation draw of the same seed. */
const DROPOUT_STREAM = 2 ** 40;

/**
 * torchvision's `VGG`: `features` (3×3 convolutions padded 1, each followed by a ReLU, or a
 * batch norm and a ReLU, and 2×2 max pools), `avgpool` (adaptive, 7×7), then `classifier`:
 * Linear(512·7·7, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096,
 * classes). Convolutions start from `kaiming_normal_(mode="fan_out", nonlinearity="relu")` with
 * zero biases, batch norms at 1 and 0, linear layers from N(0, 0.01²) with zero biases.
 *
 * @example A narrow VGG-11 with batch norm for 32×32 images
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { VGG } from "./vgg.ts";
 * await defaultDevice();
 * const net = new VGG({ layers: "A", batchNorm: true, width: 1 / 16, hidden: 16, poolSize: 1, numClasses: 10, seed: 0 });
 * console.log(net.forward(randn([2, 3, 32, 32])).shape); // [2, 10]
 * ```
 */
export class VGG extends Module {
  readonly #config: VGG["config"];
  /** The dropout masks' stream (undefined: the global generator). */
  readonly dropoutGenerator: Generator | undefined;
  readonly #chain = new LayerChain();

  /**
   * The configuration with its defaults filled in. `numClasses` is the width of the logits
   * the layers give now, so it follows a head put in by `replaceModule("classifier.6", …)`.
   */
  get config(): Readonly<Required<Omit<VGGConfig, "seed" | "device" | "layers">>> & {
    readonly layers: VGGLayers;
    readonly seed?: number;
  } {
    const side = vggMinInputSize(this.#config.layers);
    return { ...this.#config, numClasses: this.#chain.outputShape([1, 3, side, side])[1] };
  }

  /** Builds the network and initialises it as torchvision does. */
  constructor(config: VGGConfig) {
    super();
    checkOptions("VGG", config, VGG_OPTIONS, true);
    const c = resolveVGG(config);
    this.#config = c;
    const device = config.device ?? currentDevice();
    const generator = c.seed === undefined ? globalGenerator() : new Generator(c.seed);
    if (c.seed !== undefined) {
      this.dropoutGenerator = new Generator(c.seed);
      this.dropoutGenerator.setState({ seed: c.seed, offset: DROPOUT_STREAM });
    }
    const convInit = kaimingFanOutInit(generator);
    const features: Layer[] = [];
    let channels = 3;
    for (const entry of c.layers) {
      if (entry === "M") {
        features.push(new MaxPool2d({ kernelSize: 2, stride: 2 }));
        continue;
      }
      const out = entry * c.width;
      features.push(
        new Conv2d({
          inChannels: channels,
          outChannels: out,
          kernelSize: 3,
          padding: 1,
          device,
          init: convInit,
        }),
      );
      if (c.batchNorm) features.push(new BatchNorm2d({ numFeatures: out, device }));
      features.push(new ReLU());
      channels = out;
    }
    const linearInit = normalInit(0.01, generator);
    const linear = (inFeatures: number, outFeatures: number) =>
      new Linear({ inFeatures, outFeatures, device, init: linearInit });
    const drop = () => new Dropout({ p: c.dropout, generator: this.dropoutGenerator });
    const flat = channels * c.poolSize * c.poolSize;
    this.#chain.add("features", this.registerModule("features", new Sequential(...features)));
    this.#chain.add("avgpool", this.registerModule("avgpool", new AdaptiveAvgPool2d(c.poolSize)));
    this.#chain.add("flatten", new Flatten());
    const classifier = new Sequential(
      linear(flat, c.hidden),
      new ReLU(),
      drop(),
      linear(c.hidden, c.hidden),
      new ReLU(),
      drop(),
      linear(c.hidden, c.numClasses),
    );
    this.#chain.add("classifier", this.registerModule("classifier", classifier));
  }

  /** Logits `[N, numClasses]` of images `x [N, 3, H, W]` (H and W at least 2 per max pool). */
  forward(x: Tensor): Tensor {
    const least = vggMinInputSize(this.#config.layers);
    if (x.rank === 4 && Math.min(x.shape[2], x.shape[3]) < least) {
      throw new RangeError(
        `VGG: input [${x.shape}] is smaller than the ${least}×${least} its max pools take`,
      );
    }
    return this.#chain.forward(x);
  }

  /** The output shape for an input shape `[N, 3, H, W]`: `[N, numClasses]`. */
  outputShape(input: readonly number[]): number[] {
    return this.#chain.outputShape(input);
  }

  /** Puts `replacement` in `old`'s place in the chain of layers (for `replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    if (this.#chain.replace(old, replacement as Layer) === 0) super.swapChild(old, replacement);
  }

  /** The layer table's rows: one per layer of `features` and `classifier`. */
  summaryRows(inputShape: readonly number[]): SummaryRow[] {
    return this.#chain.rows(inputShape);
  }
}

/** The configuration with defaults filled and checked; throws a RangeError naming the option. */
function resolveVGG(config: VGGConfig): VGG["config"] {
  const layers = typeof config.layers === "string" ? VGG_CONFIGS[config.layers] : config.layers;
  if (!Array.isArray(layers)) {
    throw new RangeError(
      `VGG: layers must be A, B, D, E or a list of channels and "M", got ${config.layers}`,
    );
  }
  const c = {
    layers,
    batchNorm: config.batchNorm ?? false,
    numClasses: config.numClasses ?? 1000,
    dropout: config.dropout ?? 0.5,
    width: config.width ?? 1,
    hidden: config.hidden ?? 4096,
    poolSize: config.poolSize ?? 7,
    seed: config.seed,
  };
  if (!(c.width > 0) || !layers.every((l) => l === "M" || Number.isInteger(l * c.width))) {
    throw new RangeError(`VGG: width ${c.width} does not give whole channel counts`);
  }
  if (!layers.some((l) => l !== "M")) throw new RangeError("VGG: layers has no convolution");
  for (
    const [name, value] of [["numClasses", c.numClasses], ["hidden", c.hidden], [
      "poolSize",
      c.poolSize,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`VGG: ${name} must be a positive integer, got ${value}`);
    }
  }
  if (!(c.dropout >= 0 && c.dropout <= 1)) {
    throw new RangeError(`VGG: dropout must be in [0, 1], got ${c.dropout}`);
  }
  return c;
}

/**
 * The smallest input side a VGG with `layers` takes: each 2×2 max pool halves the side, and
 * the last must still see one window.
 *
 * @example
 * ```ts
 * import { vggMinInputSize } from "./vgg.ts";
 * console.log(vggMinInputSize("D")); // 32
 * ```
 */
export function vggMinInputSize(layers: VGGConfig["layers"]): number {
  const list = typeof layers === "string" ? VGG_CONFIGS[layers] : layers;
  return 2 ** list.filter((l) => l === "M").length;
}

/**
 * The state dict a VGG of `config` will have, key by key in order with shapes, computed
 * without allocating anything (VGG-16 holds 553 MB of weights).
 *
 * @example
 * ```ts
 * import { vggStateShapes } from "./vgg.ts";
 * const shapes = vggStateShapes({ layers: "D" });
 * console.log(shapes.at(-2)); // { name: "classifier.6.weight", shape: [1000, 4096], buffer: false }
 * ```
 */
export function vggStateShapes(config: VGGConfig): PlannedTensor[] {
  const c = resolveVGG(config);
  const out: PlannedTensor[] = [];
  const param = (name: string, shape: number[]) => out.push({ name, shape, buffer: false });
  let channels = 3, index = 0;
  for (const entry of c.layers) {
    if (entry === "M") {
      index++;
      continue;
    }
    const ch = entry * c.width;
    param(`features.${index}.weight`, [ch, channels, 3, 3]);
    param(`features.${index}.bias`, [ch]);
    index++;
    if (c.batchNorm) {
      param(`features.${index}.weight`, [ch]);
      param(`features.${index}.bias`, [ch]);
      out.push({ name: `features.${index}.running_mean`, shape: [ch], buffer: true });
      out.push({ name: `features.${index}.running_var`, shape: [ch], buffer: true });
      out.push({ name: `features.${index}.num_batches_tracked`, shape: [], buffer: true });
      index++;
    }
    index++; // the ReLU
    channels = ch;
  }
  const flat = channels * c.poolSize * c.poolSize;
  for (
    const [i, inF, outF] of [[0, flat, c.hidden], [3, c.hidden, c.hidden], [
      6,
      c.hidden,
      c.numClasses,
    ]]
  ) {
    param(`classifier.${i}.weight`, [outF, inF]);
    param(`classifier.${i}.bias`, [outF]);
  }
  return out;
}

/** The names of torchvision's VGGs. */
export type VGGName =
  | "vgg11"
  | "vgg11_bn"
  | "vgg13"
  | "vgg13_bn"
  | "vgg16"
  | "vgg16_bn"
  | "vgg19"
  | "vgg19_bn";

/**
 * torchvision's VGG architectures by name (`vgg11` … `vgg19_bn`): the configuration of the
 * feature layers and whether batch norms follow the convolutions. The factories ({@link vgg11}
 * …) build them.
 *
 * @example
 * ```ts
 * import { VGG_ARCHITECTURES } from "./vgg.ts";
 * console.log(VGG_ARCHITECTURES.vgg16_bn); // { layers: "D", batchNorm: true }
 * ```
 */
export const VGG_ARCHITECTURES: Readonly<
  Record<VGGName, Readonly<{ layers: keyof typeof VGG_CONFIGS; batchNorm: boolean }>>
> = {
  vgg11: { layers: "A", batchNorm: false },
  vgg11_bn: { layers: "A", batchNorm: true },
  vgg13: { layers: "B", batchNorm: false },
  vgg13_bn: { layers: "B", batchNorm: true },
  vgg16: { layers: "D", batchNorm: false },
  vgg16_bn: { layers: "D", batchNorm: true },
  vgg19: { layers: "E", batchNorm: false },
  vgg19_bn: { layers: "E", batchNorm: true },
};

/**
 * VGG-11 (configuration A): 132,863,336 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg11 } from "./vgg.ts";
 * await defaultDevice();
 * const net = vgg11({ width: 1 / 64, hidden: 8, poolSize: 1, numClasses: 2 });
 * console.log(net.namedParameters()[0][0]); // "features.0.weight"
 * ```
 */
export function vgg11(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg11 });
}

/**
 * VGG-11 with batch norm: 132,868,840 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg11Bn } from "./vgg.ts";
 * await defaultDevice();
 * const net = vgg11Bn({ width: 1 / 64, hidden: 8, poolSize: 1, numClasses: 2 });
 * console.log(net.namedParameters()[2][0]); // "features.1.weight"
 * ```
 */
export function vgg11Bn(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg11_bn });
}

/**
 * VGG-13 (configuration B): 133,047,848 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg13 } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg13({ width: 1 / 64, hidden: 8, poolSize: 1 }).config.layers.length); // 15
 * ```
 */
export function vgg13(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg13 });
}

/**
 * VGG-13 with batch norm: 133,053,736 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg13Bn } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg13Bn({ width: 1 / 64, hidden: 8, poolSize: 1 }).config.batchNorm); // true
 * ```
 */
export function vgg13Bn(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg13_bn });
}

/**
 * VGG-16 (configuration D): 138,357,544 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg16 } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg16({ width: 1 / 64, hidden: 8, poolSize: 1 }).namedParameters().at(-1)![0]); // "classifier.6.bias"
 * ```
 */
export function vgg16(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg16 });
}

/**
 * VGG-16 with batch norm: 138,365,992 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg16Bn } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg16Bn({ width: 1 / 64, hidden: 8, poolSize: 1 }).buffers().length); // 39
 * ```
 */
export function vgg16Bn(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg16_bn });
}

/**
 * VGG-19 (configuration E): 143,667,240 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg19 } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg19({ width: 1 / 64, hidden: 8, poolSize: 1 }).parameters().length); // 38
 * ```
 */
export function vgg19(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg19 });
}

/**
 * VGG-19 with batch norm: 143,678,248 parameters for 1000 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { vgg19Bn } from "./vgg.ts";
 * await defaultDevice();
 * console.log(vgg19Bn({ width: 1 / 64, hidden: 8, poolSize: 1 }).parameters().length); // 70
 * ```
 */
export function vgg19Bn(options: VGGOptions = {}): VGG {
  return new VGG({ ...options, ...VGG_ARCHITECTURES.vgg19_bn });
}

/**
 * The four-layer CIFAR-10 network of the AlexNet paper's Figure 1, where ReLUs reach 25%
 * training error six times faster than tanh units.
 *
 * The paper gives no layer table for it. It counts layers with weights ("eight layers: five
 * convolutional and three fully connected"), so "a four-layer convolutional network" is read
 * as four layers with weights: three convolutions and one fully connected layer, the layout of
 * Krizhevsky's cuda-convnet CIFAR-10 nets that the figure came from: 32, 32 and 64 kernels of
 * 5×5 (padding 2), each followed by the nonlinearity and a 3×3 stride-2 max pool, then a
 * linear layer to the classes. "No regularization of any kind was employed": no dropout, and
 * LRN off by default (on, it is the four-layer net of section 3.3's CIFAR-10 remark).
 *
 * @module
 */

import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { Generator } from "../tensor/random.ts";
import type { PoolingConfig } from "./_alexnet_plan.ts";
import { windowOutput } from "../tensor/ops_cnn.ts";
import { type Activation, ACTIVATIONS } from "./activation.ts";
import { Conv2d } from "./conv2d.ts";
import { Flatten } from "./flatten.ts";
import { Linear } from "./linear.ts";
import { LocalResponseNorm } from "./local_response_norm.ts";
import { MaxPool2d } from "./max_pool2d.ts";
import { type Layer, Sequential } from "./sequential.ts";
import type { SummaryRow } from "./summary.ts";

/** Configuration of {@link Figure1Net}; every field optional. */
export interface Figure1Config {
  /** Output classes (default 10, CIFAR-10's). */
  numClasses?: number;
  /** Side of the square input (default 32). */
  inputSize?: number;
  /** Channel multiplier of the 32-32-64 kernels (default 1), rounded, at least 1 each. */
  width?: number;
  /** The nonlinearity after each convolution (default `"relu"`; Figure 1's other arm: tanh). */
  activation?: Activation;
  /** LRN (the paper's constants) after conv1 and conv2 (default false). */
  lrn?: boolean;
  /** The three max pools (default 3×3 at stride 2). */
  pooling?: PoolingConfig;
  /** Seed of the initialisation (PyTorch's default uniform ±1/√fan_in); default 0. */
  seed?: number;
}

/** A {@link Figure1Config} with every default filled in. */
export type ResolvedFigure1Config = Required<Figure1Config>;

const KERNELS = [32, 32, 64];

/**
 * The Figure 1 network (see the module doc): conv1, [norm1], pool1, conv2, [norm2], pool2,
 * conv3, pool3, flatten, fc4. 85,098 parameters at 32×32 with 10 classes.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Figure1Net } from "./figure1.ts";
 * await defaultDevice();
 * const net = new Figure1Net({ activation: "tanh" });
 * console.log(net.parameterCount(), net.forward(randn([2, 3, 32, 32])).shape); // 85098 [2, 10]
 * ```
 */
export class Figure1Net extends Sequential {
  /** The configuration with defaults filled in. */
  readonly config: ResolvedFigure1Config;

  /** Builds and initialises the network on `device` (default: the default device). */
  constructor(config: Figure1Config = {}, device: Device = currentDevice()) {
    const c = resolveFigure1Config(config);
    const generator = new Generator(c.seed);
    const [k1, k2, k3] = kernels(c);
    const conv = (inChannels: number, outChannels: number): Conv2d =>
      new Conv2d({
        inChannels,
        outChannels,
        kernelSize: 5,
        padding: 2,
        activation: c.activation,
        device,
        generator,
      });
    const pool = (): MaxPool2d => new MaxPool2d(c.pooling);
    const layers: Record<string, Layer> = {};
    layers.conv1 = conv(3, k1);
    if (c.lrn) layers.norm1 = new LocalResponseNorm();
    layers.pool1 = pool();
    layers.conv2 = conv(k1, k2);
    if (c.lrn) layers.norm2 = new LocalResponseNorm();
    layers.pool2 = pool();
    layers.conv3 = conv(k2, k3);
    layers.pool3 = pool();
    layers.flatten = new Flatten();
    const features = figure1Features(c, k3);
    layers.fc4 = new Linear({ inFeatures: features, outFeatures: c.numClasses, device, generator });
    super(layers);
    this.config = c;
  }

  /** Rejects inputs other than `[N, 3, S, S]` (S = `inputSize`), then runs the layers. */
  override forward(x: Parameters<Sequential["forward"]>[0]): ReturnType<Sequential["forward"]> {
    const s = this.config.inputSize;
    if (x.rank !== 4 || x.shape[1] !== 3 || x.shape[2] !== s || x.shape[3] !== s) {
      throw new RangeError(`Figure1Net: expected input [N, 3, ${s}, ${s}], got [${x.shape}]`);
    }
    return super.forward(x);
  }

  /** The layer table for an input shape `[N, 3, S, S]`, each row saying what it computes. */
  summaryRows(inputShape: readonly number[]): SummaryRow[] {
    const { activation, pooling: p } = this.config;
    const device = this.devices()[0]?.label ?? "-";
    let shape = [...inputShape];
    return this.namedChildren().map(([name, layer]) => {
      shape = (layer as Layer).outputShape!(shape);
      const op = layer instanceof Conv2d
        ? `conv 5×5 s1 p2, ${activation}`
        : layer instanceof LocalResponseNorm
        ? "LRN n=5"
        : layer instanceof MaxPool2d
        ? `max pool ${p.kernelSize}×${p.kernelSize} s${p.stride}`
        : layer instanceof Linear
        ? "linear"
        : "flatten";
      return { layer: name, outputShape: shape, params: layer.parameterCount(), device, op };
    });
  }

  /** The configuration, for the summary's heading. */
  summaryNotes(): string[] {
    const { activation, lrn, pooling: p } = this.config;
    return [
      `Figure 1 net: ${activation}, ${lrn ? "LRN" : "no LRN"}, max pool ${p.kernelSize}×` +
      `${p.kernelSize} s${p.stride}`,
    ];
  }
}

/**
 * Fills in the defaults of a {@link Figure1Config} and checks it.
 *
 * @example
 * ```ts
 * import { resolveFigure1Config } from "./mod.ts";
 * const config = resolveFigure1Config({ activation: "tanh" });
 * console.log(config.activation); // "tanh"
 * ```
 */
export function resolveFigure1Config(config: Figure1Config = {}): ResolvedFigure1Config {
  const c: ResolvedFigure1Config = {
    numClasses: config.numClasses ?? 10,
    inputSize: config.inputSize ?? 32,
    width: config.width ?? 1,
    activation: config.activation ?? "relu",
    lrn: config.lrn ?? false,
    pooling: { ...(config.pooling ?? { kernelSize: 3, stride: 2 }) },
    seed: config.seed ?? 0,
  };
  if (!ACTIVATIONS.includes(c.activation)) {
    throw new RangeError(
      `Figure1Net: activation must be one of ${ACTIVATIONS.join(", ")}, got '${c.activation}'`,
    );
  }
  if (!(c.width > 0)) throw new RangeError(`Figure1Net: width ${c.width} must be positive`);
  if (!Number.isInteger(c.numClasses) || c.numClasses < 1) {
    throw new RangeError(`Figure1Net: numClasses ${c.numClasses} must be a positive integer`);
  }
  figure1Features(c, 1);
  return c;
}

/**
 * The parameter shapes of a configuration, by name, without building the net.
 *
 * @example
 * ```ts
 * import { figure1ParameterShapes } from "./figure1.ts";
 * console.log(figure1ParameterShapes()["fc4.weight"]); // [10, 576]
 * ```
 */
export function figure1ParameterShapes(config: Figure1Config = {}): Record<string, number[]> {
  const c = resolveFigure1Config(config);
  const [k1, k2, k3] = kernels(c);
  const conv = (o: number, i: number) => [[o, i, 5, 5], [o]];
  const entries: [string, number[][]][] = [
    ["conv1", conv(k1, 3)],
    ["conv2", conv(k2, k1)],
    ["conv3", conv(k3, k2)],
    ["fc4", [[c.numClasses, figure1Features(c, k3)], [c.numClasses]]],
  ];
  return Object.fromEntries(
    entries.flatMap(([name, [w, b]]) => [[`${name}.weight`, w], [`${name}.bias`, b]]),
  );
}

/** The three convolutions' kernel counts. */
function kernels(c: ResolvedFigure1Config): number[] {
  return KERNELS.map((k) => Math.max(1, Math.round(k * c.width)));
}

/** fc4's input features: `channels` maps of the side left after three pools. */
function figure1Features(c: ResolvedFigure1Config, channels: number): number {
  const { kernelSize: k, stride: s } = c.pooling;
  let side: [number, number] = [c.inputSize, c.inputSize];
  for (let i = 0; i < 3; i++) side = windowOutput(side, [k, k], [s, s], [0, 0]);
  return channels * side[0] * side[1];
}

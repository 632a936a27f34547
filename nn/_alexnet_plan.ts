/**
 * AlexNet's architecture as data, computed from a config without allocating anything: layer
 * geometry, output shapes, parameter shapes and their initial fills. The network's constructor
 * builds from this plan, and tests count the full net's parameters from it.
 *
 * @module
 */

import { windowOutput } from "./_window.ts";
import type { Fill } from "./_init.ts";

/** Configuration of {@link AlexNet}; every field optional. */
export interface AlexNetConfig {
  /** Output classes (default 1000). */
  numClasses?: number;
  /**
   * Channel multiplier for a scaled variant (default 1): each layer's channel and hidden-unit
   * count is multiplied and rounded to an even number (two towers), at least 2.
   */
  width?: number;
  /** Side of the square input image (default 227). */
  inputSize?: number;
  /** Drop probability of fc6 and fc7 (default 0.5). */
  dropout?: number;
  /**
   * Seed of the initialisation; dropout masks use the same seed's stream from counter 2^40.
   * Default: the global generator (see `manualSeed`).
   */
  seed?: number;
  /**
   * conv1's geometry. Default: the paper's 11×11 stride 4 for inputs of 100 pixels and more,
   * 5×5 stride 2 padding 2 for 49–99 (64 → 32), 5×5 stride 1 padding 2 up to 48 (32 → 32).
   */
  conv1?: { kernelSize: number; stride: number; padding: number };
}

/** One convolution or fully connected layer of the plan. */
export interface LayerPlan {
  /** `conv1` … `conv5`, `fc6` … `fc8`. */
  name: string;
  /** Convolution or fully connected. */
  kind: "conv" | "fc";
  /** Input channels or features. */
  inputs: number;
  /** Output channels or features. */
  outputs: number;
  /** Square kernel size (1 for fc). */
  kernelSize: number;
  /** Stride (1 for fc). */
  stride: number;
  /** Zero padding (0 for fc). */
  padding: number;
  /**
   * Channel groups on one device: 2 where each tower sees only its own maps (conv2, conv4,
   * conv5), else 1.
   */
  groups: 1 | 2;
  /** Whether the layer is split in towers on two devices (all but fc8). */
  split: boolean;
  /** Whether ReLU follows (all but fc8). */
  relu: boolean;
  /** Initial bias: 1 in conv2, conv4, conv5, fc6, fc7 (section 5), else 0. */
  bias: 0 | 1;
}

/** A row of the layer table: every layer, including the parameter-free ones. */
export interface PlanRow {
  /** Layer name (`conv1`, `norm1`, `pool1`, …). */
  name: string;
  /** Output shape for a batch of one (`[1, C, H, W]` or `[1, F]`). */
  outputShape: number[];
  /** Parameter elements. */
  params: number;
  /** Whether each of two towers computes part of it (false for fc8 only). */
  split: boolean;
}

/** An {@link AlexNetConfig} with every default filled in (the seed stays optional). */
export type ResolvedAlexNetConfig = Required<Omit<AlexNetConfig, "seed">> & {
  /** The seed, or undefined for the global generator. */
  seed: number | undefined;
};

/** The resolved configuration and everything derived from it. */
export interface AlexNetPlan {
  /** The config with every default filled in. */
  config: ResolvedAlexNetConfig;
  /** The eight layers with parameters, in order. */
  layers: LayerPlan[];
  /** Every layer's row, in order. */
  rows: PlanRow[];
  /** Logical parameter shapes by PyTorch name, in order. */
  parameters: Record<string, number[]>;
  /** Initial fill of each parameter: weights N(0, 0.01²), biases 0 or 1. */
  fills: Record<string, Fill>;
}

const PAPER_CHANNELS = [96, 256, 384, 384, 256];
const PAPER_HIDDEN = 4096;
const WEIGHT_STD = 0.01;

/** Resolves defaults, derives the layer table, and checks every output is at least 1×1. */
export function planAlexNet(config: AlexNetConfig = {}): AlexNetPlan {
  const width = config.width ?? 1;
  const inputSize = config.inputSize ?? 227;
  const numClasses = config.numClasses ?? 1000;
  const dropout = config.dropout ?? 0.5;
  if (!(width > 0)) throw new RangeError(`AlexNet: width ${width} must be positive`);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`AlexNet: numClasses ${numClasses} must be a positive integer`);
  }
  if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`AlexNet: dropout ${dropout}`);
  const conv1 = config.conv1 ??
    (inputSize >= 100
      ? { kernelSize: 11, stride: 4, padding: 0 }
      : inputSize > 48
      ? { kernelSize: 5, stride: 2, padding: 2 }
      : { kernelSize: 5, stride: 1, padding: 2 });
  const scale = (c: number): number => Math.max(2, 2 * Math.round((c * width) / 2));
  const [c1, c2, c3, c4, c5] = PAPER_CHANNELS.map(scale);
  const hidden = scale(PAPER_HIDDEN);

  const rows: PlanRow[] = [];
  let shape = [1, 3, inputSize, inputSize];
  const spatial = (k: number, s: number, p: number): number[] =>
    windowOutput([shape[2], shape[3]], [k, k], [s, s], [p, p]);
  const add = (name: string, out: number[], params = 0, split = true): void => {
    shape = out;
    rows.push({ name, outputShape: out, params, split });
  };
  const layers: LayerPlan[] = [];
  const conv = (name: string, out: number, k: number, s: number, p: number, groups: 1 | 2) => {
    const spec: LayerPlan = {
      name,
      kind: "conv",
      inputs: shape[1],
      outputs: out,
      kernelSize: k,
      stride: s,
      padding: p,
      groups,
      split: true,
      relu: true,
      bias: name === "conv1" || name === "conv3" ? 0 : 1,
    };
    layers.push(spec);
    add(name, [1, out, ...spatial(k, s, p)], out * (shape[1] / groups) * k * k + out);
  };
  const pool = (name: string): void => add(name, [1, shape[1], ...spatial(3, 2, 0)]);
  const fc = (name: string, out: number): void => {
    const last = name === "fc8";
    layers.push({
      name,
      kind: "fc",
      inputs: shape[1],
      outputs: out,
      kernelSize: 1,
      stride: 1,
      padding: 0,
      groups: 1,
      split: !last,
      relu: !last,
      bias: last ? 0 : 1,
    });
    add(name, [1, out], out * shape[1] + out, !last);
  };

  conv("conv1", c1, conv1.kernelSize, conv1.stride, conv1.padding, 1);
  add("norm1", shape);
  pool("pool1");
  conv("conv2", c2, 5, 1, 2, 2);
  add("norm2", shape);
  pool("pool2");
  conv("conv3", c3, 3, 1, 1, 1);
  conv("conv4", c4, 3, 1, 1, 2);
  conv("conv5", c5, 3, 1, 1, 2);
  pool("pool5");
  add("flatten", [1, shape[1] * shape[2] * shape[3]]);
  fc("fc6", hidden);
  add("drop6", shape);
  fc("fc7", hidden);
  add("drop7", shape);
  fc("fc8", numClasses);

  const parameters: Record<string, number[]> = {};
  const fills: Record<string, Fill> = {};
  for (const l of layers) {
    parameters[`${l.name}.weight`] = l.kind === "conv"
      ? [l.outputs, l.inputs / l.groups, l.kernelSize, l.kernelSize]
      : [l.outputs, l.inputs];
    parameters[`${l.name}.bias`] = [l.outputs];
    fills[`${l.name}.weight`] = { normal: WEIGHT_STD };
    fills[`${l.name}.bias`] = { constant: l.bias };
  }
  return {
    config: { numClasses, width, inputSize, dropout, seed: config.seed, conv1 },
    layers,
    rows,
    parameters,
    fills,
  };
}

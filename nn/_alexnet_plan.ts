/**
 * AlexNet's architecture as data, computed from a config without allocating anything: layer
 * geometry, output shapes, parameter shapes and their initial fills. The network's constructor
 * builds from this plan, and tests count the full net's parameters from it.
 *
 * @module
 */

import { windowOutput } from "../tensor/ops_cnn.ts";
import type { Fill } from "./_init.ts";
import { type Activation, ACTIVATIONS } from "./activation.ts";

/** A max-pooling window: square `kernelSize`, step `stride`. */
export interface PoolingConfig {
  /** Window side (the paper: 3). */
  kernelSize: number;
  /** Step between windows (the paper: 2, so neighbouring windows overlap). */
  stride: number;
}

/**
 * Configuration of {@link AlexNet}; every field optional. The defaults are the paper's; the
 * switches `activation`, `lrn`, `pooling`, `dropout` and `towers` turn off or replace one of
 * its choices at a time, for the ablations of sections 3.1–3.4 and 4.2.
 */
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
  /** Drop probability of fc6 and fc7 (default 0.5; 0 turns dropout off, section 4.2). */
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
  /**
   * The nonlinearity after every layer but fc8 (default `"relu"`; `"tanh"` is the saturating
   * unit of section 3.1).
   */
  activation?: Activation;
  /** Local response normalisation after conv1 and conv2 (default true; section 3.3). */
  lrn?: boolean;
  /**
   * pool1, pool2 and pool5 (default 3×3 at stride 2, overlapping; `{ kernelSize: 2, stride:
   * 2 }` is the non-overlapping comparison of section 3.4). The two agree on every output size
   * when each pooled map has an odd side (55, 27, 13 in the paper's net; 31, 15, 7 or 23, 11, 5
   * in scaled ones), so then only the overlap differs.
   */
  pooling?: PoolingConfig;
  /**
   * 2 (default): the paper's two towers: conv2, conv4 and conv5 see only their own tower's
   * maps, LRN normalises within a tower, and the net can be split over two devices. 1: the
   * one-GPU net of section 3.2's comparison: one tower with half the kernels in conv1–conv4,
   * every kernel seeing all maps below; conv5 and the fully connected layers keep their size
   * (as the paper did, to keep the parameter counts close).
   */
  towers?: 1 | 2;
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
  /** Whether the layer is split in towers on two devices (all but fc8; none with one tower). */
  split: boolean;
  /** The nonlinearity that follows (all but fc8), or null. */
  activation: Activation | null;
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
  /** Whether each of two towers computes part of it (false for fc8, and with one tower). */
  split: boolean;
  /** What the layer computes, e.g. `conv 5×5 s1 p2, 2 groups, relu` (the summary's column). */
  op: string;
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

/** The paper's choice for each switch of {@link AlexNetConfig}. */
export const PAPER_SWITCHES: {
  readonly activation: "relu";
  readonly lrn: true;
  readonly pooling: Readonly<PoolingConfig>;
  readonly dropout: 0.5;
  readonly towers: 2;
} = Object.freeze({
  activation: "relu",
  lrn: true,
  pooling: Object.freeze({ kernelSize: 3, stride: 2 }),
  dropout: 0.5,
  towers: 2,
});

/** Resolves defaults, derives the layer table, and checks every output is at least 1×1. */
export function planAlexNet(config: AlexNetConfig = {}): AlexNetPlan {
  const width = config.width ?? 1;
  const inputSize = config.inputSize ?? 227;
  const numClasses = config.numClasses ?? 1000;
  const dropout = config.dropout ?? PAPER_SWITCHES.dropout;
  const activation = config.activation ?? PAPER_SWITCHES.activation;
  const lrn = config.lrn ?? PAPER_SWITCHES.lrn;
  const pooling = { ...(config.pooling ?? PAPER_SWITCHES.pooling) };
  const towers = config.towers ?? PAPER_SWITCHES.towers;
  if (!(width > 0)) throw new RangeError(`AlexNet: width ${width} must be positive`);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`AlexNet: numClasses ${numClasses} must be a positive integer`);
  }
  if (!(dropout >= 0 && dropout <= 1)) throw new RangeError(`AlexNet: dropout ${dropout}`);
  if (!ACTIVATIONS.includes(activation)) {
    throw new RangeError(
      `AlexNet: activation must be one of ${ACTIVATIONS.join(", ")}, got '${activation}'`,
    );
  }
  if (typeof lrn !== "boolean") throw new RangeError(`AlexNet: lrn must be true or false`);
  for (const key of ["kernelSize", "stride"] as const) {
    if (!Number.isInteger(pooling[key]) || pooling[key] < 1) {
      throw new RangeError(`AlexNet: pooling ${key} must be a positive integer`);
    }
  }
  if (towers !== 1 && towers !== 2) throw new RangeError(`AlexNet: towers must be 1 or 2`);
  const conv1 = config.conv1 ??
    (inputSize >= 100
      ? { kernelSize: 11, stride: 4, padding: 0 }
      : inputSize > 48
      ? { kernelSize: 5, stride: 2, padding: 2 }
      : { kernelSize: 5, stride: 1, padding: 2 });
  const scale = (c: number): number => Math.max(2, 2 * Math.round((c * width) / 2));
  // One tower: half the kernels in conv1–conv4 (section 3.2); conv5 and fc keep theirs.
  const [c1, c2, c3, c4, c5] = PAPER_CHANNELS.map(scale).map((c, i) =>
    towers === 1 && i < 4 ? c / 2 : c
  );
  const hidden = scale(PAPER_HIDDEN);
  const split = towers === 2;
  const grouped: 1 | 2 = split ? 2 : 1;

  const rows: PlanRow[] = [];
  let shape = [1, 3, inputSize, inputSize];
  const spatial = (k: number, s: number, p: number): number[] =>
    windowOutput([shape[2], shape[3]], [k, k], [s, s], [p, p]);
  const add = (name: string, out: number[], op: string, params = 0, inTowers = split): void => {
    shape = out;
    rows.push({ name, outputShape: out, params, split: inTowers, op });
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
      split,
      activation,
      bias: name === "conv1" || name === "conv3" ? 0 : 1,
    };
    layers.push(spec);
    const op = `conv ${k}×${k} s${s} p${p}${groups === 2 ? ", 2 groups" : ""}, ${activation}`;
    add(name, [1, out, ...spatial(k, s, p)], op, out * (shape[1] / groups) * k * k + out);
  };
  const norm = (name: string): void => {
    if (lrn) add(name, shape, `LRN n=5${split ? " within each tower" : ""}`);
  };
  const pool = (name: string): void => {
    const { kernelSize: k, stride: s } = pooling;
    add(name, [1, shape[1], ...spatial(k, s, 0)], `max pool ${k}×${k} s${s}`);
  };
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
      split: split && !last,
      activation: last ? null : activation,
      bias: last ? 0 : 1,
    });
    add(
      name,
      [1, out],
      last ? "linear" : `linear, ${activation}`,
      out * shape[1] + out,
      split && !last,
    );
  };
  const drop = (name: string): void => {
    if (dropout > 0) add(name, shape, `dropout ${dropout}`);
  };

  conv("conv1", c1, conv1.kernelSize, conv1.stride, conv1.padding, 1);
  norm("norm1");
  pool("pool1");
  conv("conv2", c2, 5, 1, 2, grouped);
  norm("norm2");
  pool("pool2");
  conv("conv3", c3, 3, 1, 1, 1);
  conv("conv4", c4, 3, 1, 1, grouped);
  conv("conv5", c5, 3, 1, 1, grouped);
  pool("pool5");
  add("flatten", [1, shape[1] * shape[2] * shape[3]], "flatten");
  fc("fc6", hidden);
  drop("drop6");
  fc("fc7", hidden);
  drop("drop7");
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
    config: {
      numClasses,
      width,
      inputSize,
      dropout,
      seed: config.seed,
      conv1,
      activation,
      lrn,
      pooling,
      towers,
    },
    layers,
    rows,
    parameters,
    fills,
  };
}

/**
 * How a configuration departs from the paper, one phrase per switch that differs, e.g.
 * `activation tanh (paper: relu)`; empty for the paper's network.
 */
export function switchChanges(config: ResolvedAlexNetConfig): string[] {
  const paper = PAPER_SWITCHES;
  const pool = (p: PoolingConfig): string =>
    `${p.kernelSize}×${p.kernelSize} s${p.stride}${
      p.kernelSize > p.stride ? " (overlapping)" : ""
    }`;
  const changes: string[] = [];
  if (config.activation !== paper.activation) {
    changes.push(`activation ${config.activation} (paper: ${paper.activation})`);
  }
  if (config.lrn !== paper.lrn) changes.push("no LRN after conv1 and conv2 (paper: LRN)");
  if (
    config.pooling.kernelSize !== paper.pooling.kernelSize ||
    config.pooling.stride !== paper.pooling.stride
  ) {
    changes.push(`max pooling ${pool(config.pooling)} (paper: ${pool(paper.pooling)})`);
  }
  if (config.dropout !== paper.dropout) {
    changes.push(
      `${config.dropout === 0 ? "no dropout" : `dropout ${config.dropout}`} in fc6 and fc7 ` +
        `(paper: ${paper.dropout})`,
    );
  }
  if (config.towers !== paper.towers) {
    changes.push(
      "one tower with half the kernels in conv1–conv4, no grouped convolutions (paper: two " +
        "towers)",
    );
  }
  return changes;
}

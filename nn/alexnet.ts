/**
 * AlexNet as Krizhevsky, Sutskever and Hinton describe it (NIPS 2012), on one device or split
 * over two as the paper's two GPUs.
 *
 * Placement. On ONE device, the towers are channel groups: conv2, conv4 and conv5 are grouped
 * convolutions (2 groups) and LRN normalises within groups of C/2 maps. On TWO devices, tower
 * A (output channels [0, C/2) of every layer but fc8) lives on `devices[0]` and tower B on
 * `devices[1]`; the towers exchange activations only where the paper's do: into conv3, fc6
 * and fc7, and fc8 (on `devices[0]`) reads both halves of fc7. The input goes to both.
 *
 * State dicts use PyTorch names and layouts whatever the placement (`conv2.weight` is the
 * grouped weight `[256, 48, 5, 5]`; a two-device net stacks its towers' halves along axis 0),
 * and with the same seed both placements start from the same weights and draw the same
 * dropout masks, so they compute the same function.
 *
 * @module
 */

import { currentDevice, type Device } from "../tensor/default_device.ts";
import { dropout } from "../tensor/ops_cnn.ts";
import { Generator, globalGenerator } from "../tensor/random.ts";
import type { Dim } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { advance, drawRows, type ParameterInit } from "./_init.ts";
import {
  type AlexNetConfig,
  type AlexNetPlan,
  type LayerPlan,
  planAlexNet,
  type ResolvedAlexNetConfig,
  switchChanges,
} from "./_alexnet_plan.ts";
import { type Part, TowerCut, Towers } from "./_towers.ts";
import { Conv2d } from "./conv2d.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import { Linear } from "./linear.ts";
import { LocalResponseNorm } from "./local_response_norm.ts";
import { MaxPool2d } from "./max_pool2d.ts";
import { Module } from "./module.ts";
import type { Layer } from "./sequential.ts";
import type { SummaryRow } from "./summary.ts";

export {
  type AlexNetConfig,
  PAPER_SWITCHES,
  type PoolingConfig,
  type ResolvedAlexNetConfig,
} from "./_alexnet_plan.ts";

/** Dropout streams start here, far past any initialisation draw of the same seed. */
const DROPOUT_STREAM = 2 ** 40;

/**
 * The paper's network: five convolutional and three fully connected layers, 60,965,224
 * parameters for 1000 classes at 227×227.
 *
 * @example A scaled net on one device
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { AlexNet } from "./alexnet.ts";
 * await defaultDevice();
 * const net = new AlexNet({ width: 1 / 8, inputSize: 32, numClasses: 10, seed: 1 });
 * const logits = await net.eval().forward(randn([2, 3, 32, 32]).withRank(4));
 * console.log(logits.shape); // [2, 10]
 * ```
 *
 * @example Two devices (logical devices of one adapter work too)
 * ```ts
 * import { Device } from "../mod.ts";
 * import { AlexNet } from "./alexnet.ts";
 * const devices = await Device.acquireMany(2);
 * const net = new AlexNet({ width: 1 / 8, inputSize: 32, seed: 1 }, devices);
 * console.log(net.namedParameters()[0][0], net.namedParameters()[2][0]); // "conv1.0.weight" "conv1.1.weight"
 * ```
 */
export class AlexNet extends Module {
  readonly #config: ResolvedAlexNetConfig;
  #placement: readonly Device[];
  /** The dropout masks' stream (undefined: the global generator). */
  readonly dropoutGenerator: Generator | undefined;
  readonly #plan: AlexNetPlan;
  readonly #layers: [string, Module][] = [];
  readonly #cuts = new Map<string, TowerCut>();

  /** Builds and initialises the network on `devices` (default: the default device). */
  constructor(config: AlexNetConfig = {}, devices?: Device | readonly Device[]) {
    super();
    this.#plan = planAlexNet(config);
    this.#config = this.#plan.config;
    const list = devices === undefined
      ? [currentDevice()]
      : Array.isArray(devices)
      ? [...devices as readonly Device[]]
      : [devices as Device];
    if (list.length !== 1 && list.length !== 2) {
      throw new RangeError(`AlexNet: one or two devices, not ${list.length}`);
    }
    if (list.length === 2 && this.#config.towers === 1) {
      throw new RangeError("AlexNet: a one-tower net (towers: 1) runs on one device, not two");
    }
    this.#placement = list;
    const seed = this.#config.seed;
    const init = seed === undefined ? globalGenerator() : new Generator(seed);
    if (seed !== undefined) {
      this.dropoutGenerator = new Generator(seed);
      this.dropoutGenerator.setState({ seed, offset: DROPOUT_STREAM });
    }
    const onTwo = this.#placement.length === 2;
    const grouped = this.#config.towers === 2;
    const layer = (name: string): LayerPlan => this.#plan.layers.find((l) => l.name === name)!;
    const planned = (name: string): boolean => this.#plan.rows.some((r) => r.name === name);
    const add = (name: string, make: () => Module): void => {
      if (planned(name)) this.#layers.push([name, this.registerModule(name, make())]);
    };
    // On one device each tower's LRN is a channel group; on two, each device holds one tower.
    const norm = (name: string): LocalResponseNorm => {
      const c = layer(name === "norm1" ? "conv1" : "conv2").outputs;
      return new LocalResponseNorm({ groupSize: grouped && !onTwo ? c / 2 : undefined });
    };
    const pool = (): MaxPool2d => new MaxPool2d(this.#config.pooling);
    const drop = (): Dropout =>
      new Dropout({ p: this.#config.dropout, generator: this.dropoutGenerator });
    add("conv1", () => this.#build(layer("conv1"), init));
    add("norm1", () => norm("norm1"));
    add("pool1", pool);
    add("conv2", () => this.#build(layer("conv2"), init));
    add("norm2", () => norm("norm2"));
    add("pool2", pool);
    add("conv3", () => this.#build(layer("conv3"), init));
    add("conv4", () => this.#build(layer("conv4"), init));
    add("conv5", () => this.#build(layer("conv5"), init));
    add("pool5", pool);
    add("flatten", () => new Flatten());
    add("fc6", () => this.#build(layer("fc6"), init));
    add("drop6", drop);
    add("fc7", () => this.#build(layer("fc7"), init));
    add("drop7", drop);
    add("fc8", () => this.#build(layer("fc8"), init));
  }

  /**
   * The configuration with defaults filled in. `numClasses` is the width of the logits fc8's
   * place gives now, so it follows a head put in by `replaceModule("fc8", …)`.
   */
  get config(): ResolvedAlexNetConfig {
    const fc8 = this.#plan.layers.find((l) => l.name === "fc8")!;
    const numClasses = this.#layer("fc8").outputShape!([1, fc8.inputs])[1];
    return { ...this.#config, numClasses };
  }

  /** One device, or two: tower A's and tower B's (fc8 lives on the first). */
  get placement(): readonly Device[] {
    return this.#placement;
  }

  /**
   * Moves a one-device net. A two-device net cannot collapse onto one device in place: build
   * a net on the new placement and `loadStateDict(await net.stateDict())` into it.
   */
  override async to(device: Device): Promise<this> {
    if (this.#placement.length === 2) {
      throw new Error(
        "AlexNet.to: a two-device net cannot move; build one on the new device(s) and load " +
          "its state dict",
      );
    }
    await super.to(device);
    this.#placement = [device];
    return this;
  }

  /** One layer: a plain layer on one device, or its towers on two. */
  #build(spec: LayerPlan, generator: Generator): Module {
    const split = this.#placement.length === 2 && spec.split;
    const parts = split ? 2 : 1;
    const weightName = `${spec.name}.weight`;
    const weightFill = this.#plan.fills[weightName];
    const makeInit = (part: number): ParameterInit => (name, shape, device) => {
      const fill = this.#plan.fills[`${spec.name}.${name}`];
      const rows = shape[0];
      return drawRows(
        generator,
        fill,
        [rows * parts, ...shape.slice(1)],
        rows * part,
        rows * (part + 1),
        device,
      );
    };
    const made = Array.from({ length: parts }, (_, part) => {
      const device = this.#placement[part];
      const init = makeInit(part);
      if (spec.kind === "fc") {
        return new Linear({
          inFeatures: spec.inputs,
          outFeatures: spec.outputs / parts,
          activation: spec.activation,
          device,
          init,
        });
      }
      // Split: a tower's kernels see its own maps where the paper's groups are 2 (its half of
      // the input), or all maps (conv1 reads the image; conv3 reads both towers' maps).
      return new Conv2d({
        inChannels: split && spec.groups === 2 ? spec.inputs / 2 : spec.inputs,
        outChannels: spec.outputs / parts,
        kernelSize: spec.kernelSize,
        stride: spec.stride,
        padding: spec.padding,
        groups: split ? 1 : spec.groups,
        activation: spec.activation,
        device,
        init,
      });
    });
    advance(generator, weightFill, this.#plan.parameters[weightName]);
    return split ? new Towers<Part>(made) : made[0];
  }

  /**
   * Logits `[N, numClasses]` on `placement[0]` for images `[N, 3, S, S]` (S = `inputSize`).
   * Async because a two-device net copies activations between devices.
   */
  async forward<N extends Dim>(
    x: Tensor<readonly [N, Dim, Dim, Dim], "f32">,
  ): Promise<Tensor<[N, number], "f32">> {
    const s = this.#config.inputSize;
    if (x.rank !== 4 || x.shape[1] !== 3 || x.shape[2] !== s || x.shape[3] !== s) {
      throw new RangeError(`AlexNet: expected input [N, 3, ${s}, ${s}], got [${x.shape}]`);
    }
    const out = this.#placement.length === 1
      ? await this.#forwardOne(x)
      : await this.#forwardTwo(x);
    return out as Tensor<[N, number], "f32">;
  }

  async #forwardOne(x: Tensor): Promise<Tensor> {
    let y = await x.to(this.#placement[0]);
    for (const [, layer] of this.#layers) {
      const next = (layer as Layer).forward(y);
      y.dispose();
      y = next;
    }
    return y;
  }

  async #forwardTwo(x: Tensor): Promise<Tensor> {
    const [d0, d1] = this.#placement;
    // A batch written from the host to both devices (`replicate`) is on both already.
    let t: Tensor[] = [await x.to(d0), await x.to(d1)];
    const each = (f: (y: Tensor, part: number) => Tensor): void => {
      const next = t.map(f);
      t.forEach((y, i) => y !== next[i] && y.dispose());
      t = next;
    };
    const run = (name: string): void => {
      if (!this.#has(name)) return; // switched off (lrn: false)
      const layer = this.#layer(name);
      if (layer instanceof Towers) each((y, i) => (layer.parts[i] as Layer).forward(y));
      else each((y) => layer.forward(y));
    };
    // The layer after a cut reads both towers: it runs across the exchange (TowerCut.into).
    const cross = async (into: string): Promise<void> => {
      const [a, b] = t;
      t = await this.#cut(into).into(a, b, this.#towers(into).parts);
      a.dispose();
      b.dispose();
    };
    for (const name of ["conv1", "norm1", "pool1", "conv2", "norm2", "pool2"]) run(name);
    await cross("conv3");
    for (const name of ["conv4", "conv5", "pool5", "flatten"]) run(name);
    await cross("fc6");
    this.#towerDropout(t, "drop6", (next) => (t = next));
    await cross("fc7");
    this.#towerDropout(t, "drop7", (next) => (t = next));
    const logits = await this.#cut("fc8").gatherInto(t[0], t[1], this.#layer("fc8") as Linear);
    t.forEach((y) => y.dispose());
    return logits;
  }

  /** The cut into layer `into`, made on first use. */
  #cut(into: string): TowerCut {
    let cut = this.#cuts.get(into);
    if (!cut) this.#cuts.set(into, cut = new TowerCut(`the cut into ${into}`));
    return cut;
  }

  /** Frees the parameters and the cuts' staging buffers. */
  override dispose(): void {
    super.dispose();
    for (const cut of this.#cuts.values()) cut.dispose();
    this.#cuts.clear();
  }

  /**
   * Dropout on the towers' halves with the mask one device would draw: each tower applies its
   * own columns of the `[N, F]` mask, drawn from the same stream position (each advances the
   * generator past the whole mask, as one device does).
   */
  #towerDropout(t: Tensor[], name: string, set: (next: Tensor[]) => void): void {
    if (!this.#has(name)) return; // switched off (dropout: 0)
    const drop = this.#layer(name) as Dropout;
    if (!drop.training || drop.p === 0) return;
    const generator = this.dropoutGenerator ?? globalGenerator();
    const half = t[0].shape[1];
    const start = generator.state();
    const next = t.map((y, part) => {
      generator.setState(start);
      const within = { width: 2 * half, first: part * half };
      const out = dropout(y, drop.p, { training: true, generator, within });
      y.dispose();
      return out;
    });
    set(next);
  }

  /**
   * Puts `replacement` in `old`'s place among the layers (for `replaceModule`: a new `fc8`,
   * say, whose width `config.numClasses` then reports; the plan behind `summaryRows` still
   * describes the network as built).
   */
  protected override swapChild(old: Module, replacement: Module): void {
    const entry = this.#layers.find(([, layer]) => layer === old);
    if (entry) entry[1] = replacement;
    else super.swapChild(old, replacement);
  }

  #has(name: string): boolean {
    return this.#layers.some(([n]) => n === name);
  }

  #towers(name: string): Towers<Part> {
    return this.#layers.find(([n]) => n === name)![1] as Towers<Part>;
  }

  #layer(name: string): Layer {
    return this.#layers.find(([n]) => n === name)![1] as Layer;
  }

  /** The layer table for an input shape `[N, 3, S, S]` (used by `summary`). */
  summaryRows(inputShape: readonly number[]): SummaryRow[] {
    const s = this.#config.inputSize;
    if (
      inputShape.length !== 4 || inputShape[1] !== 3 || inputShape[2] !== s || inputShape[3] !== s
    ) {
      throw new RangeError(`AlexNet: expected input [N, 3, ${s}, ${s}], got [${inputShape}]`);
    }
    const [d0, d1] = this.#placement;
    return this.#plan.rows.map((row) => ({
      layer: row.name,
      outputShape: [inputShape[0], ...row.outputShape.slice(1)],
      params: row.params,
      device: d1 && row.split ? `${d0.label} | ${d1.label}` : d0.label,
      op: row.op,
    }));
  }

  /** The switches that differ from the paper, for the summary's heading. */
  summaryNotes(): string[] {
    const changes = switchChanges(this.#config);
    return changes.length === 0
      ? ["the paper's network (ReLU, LRN, overlapping 3×3 s2 pooling, dropout 0.5, two towers)"]
      : changes.map((c) => `changed: ${c}`);
  }
}

/**
 * The scaled AlexNet for small images: the same topology, towers and placement with channels
 * multiplied by `width` (default 1/8: 12-32-48-48-32 maps, 512 hidden units), 32×32 inputs and
 * 10 classes by default. conv1 becomes 5×5 stride 1 padding 2 at 32×32 (5×5 stride 2 padding 2
 * at 64×64) so that every layer keeps an output of at least 1×1: 32 → pool 15 → pool 7 →
 * pool5 3, hence fc6 reads 32·3·3 = 288 features.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { alexnetSmall } from "./alexnet.ts";
 * await defaultDevice();
 * console.log(alexnetSmall({ seed: 0 }).parameterCount()); // 452730
 * ```
 */
export function alexnetSmall(
  config: AlexNetConfig = {},
  devices?: Device | readonly Device[],
): AlexNet {
  return new AlexNet({ width: 1 / 8, inputSize: 32, numClasses: 10, ...config }, devices);
}

/**
 * The logical parameter shapes of a configuration, by PyTorch name, without building the net.
 *
 * @example
 * ```ts
 * import { alexnetParameterShapes } from "./alexnet.ts";
 * const shapes = Object.values(alexnetParameterShapes());
 * console.log(shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)); // 60965224
 * ```
 */
export function alexnetParameterShapes(config: AlexNetConfig = {}): Record<string, number[]> {
  return planAlexNet(config).parameters;
}

/**
 * Every layer's output shape for a batch of `batch` images, by layer name, without building
 * the net.
 *
 * @example
 * ```ts
 * import { alexnetOutputShapes } from "./alexnet.ts";
 * console.log(alexnetOutputShapes({}, 2).pool5); // [2, 256, 6, 6]
 * ```
 */
export function alexnetOutputShapes(
  config: AlexNetConfig = {},
  batch = 1,
): Record<string, number[]> {
  return Object.fromEntries(
    planAlexNet(config).rows.map((r) => [r.name, [batch, ...r.outputShape.slice(1)]]),
  );
}

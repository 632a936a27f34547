/**
 * What the model zoo's networks (ResNet, VGG) share: their state dicts planned without
 * allocating anything, and the chain of layers they apply in turn, whose summary rows give each
 * layer's output shape computed from its input's without running anything, containers opened
 * into their layers.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { ReLU } from "./activation.ts";
import { AdaptiveAvgPool2d } from "./adaptive_avg_pool2d.ts";
import { BatchNorm2d } from "./batch_norm.ts";
import { Conv2d } from "./conv2d.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import { Linear } from "./linear.ts";
import { MaxPool2d } from "./max_pool2d.ts";
import { type Module, swapInList } from "./module.ts";
import { chainLayers, type Layer, Sequential } from "./sequential.ts";
import type { SummaryRow } from "./summary.ts";

/** A parameter or persistent buffer a ResNet or VGG will have: its name and shape. */
export interface PlannedTensor {
  /** The state dict's key. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** True for a buffer (running statistics), false for a parameter. */
  buffer: boolean;
}

/** A layer of a chain with its dotted name and, when it has one, what it computes. */
export interface ChainEntry {
  /** Dotted name, as the state dict's keys start. */
  name: string;
  /** The layer. */
  layer: Layer;
}

/** Layers applied in turn, by name: a network's forward, output shape and summary rows. */
export class LayerChain {
  readonly #entries: ChainEntry[] = [];

  /** Appends `layer` under `name`; returns it. */
  add<L extends Layer>(name: string, layer: L): L {
    this.#entries.push({ name, layer });
    return layer;
  }

  /** Puts `replacement` where `old` is in the chain; returns how many places it held. */
  replace(old: Module, replacement: Layer): number {
    const layers = this.#entries.map((e) => e.layer);
    const count = swapInList(layers, old, replacement);
    layers.forEach((layer, i) => (this.#entries[i].layer = layer));
    return count;
  }

  /** `x` through every layer in turn. */
  forward(x: Tensor): Tensor {
    return chainLayers(x, this.#entries.map((e) => e.layer));
  }

  /** The output shape for an input shape, chained through every layer. */
  outputShape(input: readonly number[]): number[] {
    return this.#entries.reduce((shape, e) => e.layer.outputShape!(shape), [...input]);
  }

  /** The summary rows for an input shape (see {@link chainRows}). */
  rows(input: readonly number[]): SummaryRow[] {
    return chainRows(this.#entries, input);
  }
}

/**
 * The rows of `entries` applied in turn to `input`: a {@link Sequential} opens into one row per
 * child (`layer1.0`, `features.3`), any other layer is one row.
 */
export function chainRows(entries: readonly ChainEntry[], input: readonly number[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  let shape = [...input];
  const visit = (name: string, layer: Layer): void => {
    if (layer instanceof Sequential) {
      for (const [child, sub] of layer.namedChildren()) visit(`${name}.${child}`, sub as Layer);
      return;
    }
    if (!layer.outputShape) throw new Error(`summary: ${name} has no outputShape`);
    shape = layer.outputShape(shape);
    rows.push({
      layer: name,
      outputShape: shape,
      params: layer.parameterCount(),
      device: deviceLabel(layer),
      op: describeLayer(layer),
    });
  };
  for (const { name, layer } of entries) visit(name, layer);
  return rows;
}

/**
 * What a layer computes, as the summary's op column writes it (`conv 3×3 s2 p1, 32 groups`,
 * `max pool 3×3 s2`); a module with a `describe()` method describes itself, any other is named
 * by its class.
 */
export function describeLayer(layer: Module): string {
  const own = (layer as Module & { describe?(): string }).describe;
  if (own) return own.call(layer);
  if (layer instanceof Conv2d) {
    const [kh, kw] = layer.kernelSize;
    const parts = [`conv ${kh}×${kw} s${layer.stride[0]} p${layer.padding[0]}`];
    if (layer.dilation[0] > 1) parts.push(`dilation ${layer.dilation[0]}`);
    if (layer.groups > 1) parts.push(`${layer.groups} groups`);
    return parts.join(", ");
  }
  if (layer instanceof MaxPool2d) {
    return `max pool ${layer.kernelSize.join("×")} s${layer.stride[0]}` +
      (layer.padding[0] ? ` p${layer.padding[0]}` : "");
  }
  if (layer instanceof AdaptiveAvgPool2d) {
    const size = layer.outputSize;
    return `adaptive avg pool to ${typeof size === "number" ? `${size}×${size}` : size.join("×")}`;
  }
  if (layer instanceof BatchNorm2d) return "batch norm";
  if (layer instanceof ReLU) return "relu";
  if (layer instanceof Linear) return "linear";
  if (layer instanceof Dropout) return `dropout ${layer.p}`;
  if (layer instanceof Flatten) return "flatten";
  return layer.constructor.name;
}

function deviceLabel(layer: Module): string {
  const devices = layer.devices().map((d) => d.label);
  return devices.length ? devices.join(" | ") : "-";
}

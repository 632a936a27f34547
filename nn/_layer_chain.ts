/**
 * What the model zoo's networks (ResNet, VGG) share: their state dicts planned without
 * allocating anything, and the chain of layers they apply in turn, whose summary rows give each
 * layer's output shape computed from its input's without running anything, containers opened
 * into their layers.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "./module.ts";
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
      op: layer.constructor.name,
    });
  };
  for (const { name, layer } of entries) visit(name, layer);
  return rows;
}

function deviceLabel(layer: Module): string {
  const devices = layer.devices().map((d) => d.label);
  return devices.length ? devices.join(" | ") : "-";
}

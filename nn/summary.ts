/**
 * A printable table of a network's layers.
 *
 * @module
 */

import type { Module } from "./module.ts";
import { Sequential } from "./sequential.ts";

/** One line of a {@link summary}. */
export interface SummaryRow {
  /** Layer name. */
  layer: string;
  /** Output shape for the summarised input shape. */
  outputShape: readonly number[];
  /** Parameter elements (logical: both towers of a split layer). */
  params: number;
  /** Where it runs: a device label, or `gpu0 | gpu1` for a layer split in two towers. */
  device: string;
  /** What it computes (e.g. `max pool 3×3 s2`), when the module describes it. */
  op?: string;
}

/** A module that lays out its own summary (AlexNet does). */
export interface Summarizable {
  /** The rows for an input shape. */
  summaryRows(inputShape: readonly number[]): SummaryRow[];
  /** Lines printed above the table (AlexNet: which of the paper's choices are switched). */
  summaryNotes?(): string[];
}

/**
 * The layer table of `model` for `inputShape`: layer, output shape, parameters, device and (when
 * the model describes it) the operation, then the total. Shapes are computed, not run, so summarising the full AlexNet is instant.
 * Works for {@link Summarizable} modules (AlexNet), `Sequential`, and single layers.
 *
 * @example
 * ```ts
 * import { Device } from "../mod.ts";
 * import { AlexNet } from "./alexnet.ts";
 * import { summary } from "./summary.ts";
 * const device = await Device.acquire();
 * const net = new AlexNet({ width: 1 / 8, inputSize: 32, numClasses: 10, seed: 0 }, device);
 * console.log(summary(net, [1, 3, 32, 32])); // … "Total parameters: 452,730"
 * ```
 */
export function summary(model: Module, inputShape: readonly number[]): string {
  const rows = summaryRows(model, inputShape);
  const total = rows.reduce((n, r) => n + r.params, 0);
  const withOp = rows.some((r) => r.op !== undefined);
  const table = [
    ["layer", "output shape", "params", "device", ...(withOp ? ["op"] : [])],
    ...rows.map((r) => [
      r.layer,
      `[${r.outputShape.join(", ")}]`,
      group(r.params),
      r.device,
      ...(withOp ? [r.op ?? ""] : []),
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]): string =>
    row.map((cell, c) => (c === 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ").trimEnd();
  const rule = "-".repeat(widths.reduce((a, b) => a + b + 2, -2));
  const notes = (model as Module & Partial<Summarizable>).summaryNotes?.() ?? [];
  return [
    `input [${inputShape.join(", ")}]`,
    ...notes,
    line(table[0]),
    rule,
    ...table.slice(1).map(line),
    rule,
    `Total parameters: ${group(total)}`,
  ].join("\n");
}

function summaryRows(model: Module, inputShape: readonly number[]): SummaryRow[] {
  const own = model as Module & Partial<Summarizable>;
  if (own.summaryRows) return own.summaryRows(inputShape);
  const layers = model instanceof Sequential
    ? model.namedChildren()
    : [[model.constructor.name, model] as [string, Module]];
  let shape = [...inputShape];
  return layers.map(([name, layer]) => {
    const sized = layer as Module & { outputShape?(input: readonly number[]): number[] };
    if (!sized.outputShape) {
      throw new Error(`summary: ${name} (${layer.constructor.name}) has no outputShape`);
    }
    shape = sized.outputShape(shape);
    const devices = layer.devices().map((d) => d.label);
    return {
      layer: name,
      outputShape: shape,
      params: layer.parameterCount(),
      device: devices.length ? devices.join(" | ") : "-",
    };
  });
}

function group(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A printable table of a network's layers.
 *
 * @module
 */

import { noGrad } from "../tensor/_autograd.ts";
import { zeros } from "../tensor/creation.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { tidy } from "../tensor/memory.ts";
import type { Tensor } from "../tensor/tensor.ts";
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
 * the model describes it) the operation, then the total. Shapes are computed, not run, so
 * summarising the full AlexNet is instant: {@link Summarizable} modules (AlexNet) lay out their
 * own rows, a `Sequential` chains its layers' `outputShape`, a single layer gives its own. Any
 * other module (a custom `Module` whose forward only running can tell) gets a row per layer
 * of its tree (dotted names, its own parameters each) with `?` where a shape is not known, and
 * a line saying so: {@link traceSummary} runs a forward to fill them in.
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
  return table(model, inputShape, rowsOf(model, inputShape, null));
}

/**
 * The layer table of {@link summary} with every layer's output shape measured, as torchinfo
 * does: a forward of zeros of `inputShape` on the model's device, under `noGrad` and in
 * evaluation mode (batch norm's running statistics untouched; each module's mode is restored),
 * recording what each module's `forward` returns. A model whose shapes {@link summary} computes
 * is not run.
 *
 * @example
 * ```ts
 * import { defaultDevice, type Tensor } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { Module } from "./module.ts";
 * import { traceSummary } from "./summary.ts";
 * await defaultDevice();
 * class TwoHeads extends Module {
 *   body = this.registerModule("body", new Linear({ inFeatures: 4, outFeatures: 8 }));
 *   head = this.registerModule("head", new Linear({ inFeatures: 8, outFeatures: 2 }));
 *   forward(x: Tensor<[number, number], "f32">): Tensor {
 *     return this.head.forward(this.body.forward(x).relu());
 *   }
 * }
 * console.log(await traceSummary(new TwoHeads(), [3, 4])); // … "head  [3, 2]  18  gpu0" …
 * ```
 */
export async function traceSummary(model: Module, inputShape: readonly number[]): Promise<string> {
  const own = model as Module & Partial<Summarizable>;
  const known = own.summaryRows ? null : rowsOf(model, inputShape, null);
  if (!known || known.every((row) => row.outputShape !== null)) return summary(model, inputShape);
  const shapes = await traceShapes(model, inputShape);
  return table(model, inputShape, rowsOf(model, inputShape, shapes));
}

/** A row whose output shape may be unknown (null) until a forward runs. */
type Row = Omit<SummaryRow, "outputShape"> & { outputShape: readonly number[] | null };

function table(model: Module, inputShape: readonly number[], rows: Row[]): string {
  const total = rows.reduce((n, r) => n + r.params, 0);
  const withOp = rows.some((r) => r.op !== undefined);
  const table = [
    ["layer", "output shape", "params", "device", ...(withOp ? ["op"] : [])],
    ...rows.map((r) => [
      r.layer,
      r.outputShape ? `[${r.outputShape.join(", ")}]` : "?",
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
  const unknown = rows.some((r) => r.outputShape === null)
    ? [
      `output shapes marked ? depend on ${model.constructor.name}'s forward: ` +
      "await traceSummary(model, inputShape) runs one to measure them",
    ]
    : [];
  return [
    `input [${inputShape.join(", ")}]`,
    ...notes,
    line(table[0]),
    rule,
    ...table.slice(1).map(line),
    rule,
    `Total parameters: ${group(total)}`,
    ...unknown,
  ].join("\n");
}

type Sized = Module & { outputShape?(input: readonly number[]): number[] };

/**
 * The rows of `model`: its own when it lays them out; a `Sequential`'s layers (or a single
 * sized layer) with their shapes chained; otherwise every module of the tree that holds
 * parameters or has no submodules, with its own parameters. `traced` gives measured shapes by
 * dotted name; without it, a shape nothing computes is null.
 */
function rowsOf(
  model: Module,
  inputShape: readonly number[],
  traced: ReadonlyMap<string, number[]> | null,
): Row[] {
  const own = model as Module & Partial<Summarizable>;
  if (own.summaryRows) return own.summaryRows(inputShape);
  const device = (m: Module) => m.devices().map((d) => d.label).join(" | ") || "-";
  if (model instanceof Sequential || (model as Sized).outputShape) {
    const layers = model instanceof Sequential
      ? model.namedChildren()
      : [[model.constructor.name, model] as [string, Module]];
    let shape: number[] | null = [...inputShape];
    return layers.map(([name, layer]) => {
      shape = traced?.get(model instanceof Sequential ? name : "") ??
        (shape && staticShape(layer, shape));
      return {
        layer: name,
        outputShape: shape,
        params: layer.parameterCount(),
        device: device(layer),
      };
    });
  }
  return model.namedModules()
    .map(([name, m]) => ({ name, m, own: ownParameterCount(m) }))
    .filter(({ m, own }) => own > 0 || m.namedChildren().length === 0)
    .map(({ name, m, own }) => ({
      layer: name || `(${model.constructor.name})`,
      outputShape: traced?.get(name) ?? null,
      params: own,
      device: own > 0 ? device(m) : "-",
    }));
}

/**
 * The output shape of `layer` for `input` without running it, or null when a layer (one of a
 * nested `Sequential`'s too) cannot tell; a shape it rejects is its error.
 */
function staticShape(layer: Module, input: number[] | null): number[] | null {
  if (layer instanceof Sequential) {
    return layer.layers.reduce<number[] | null>((shape, inner) => staticShape(inner, shape), input);
  }
  const sized = layer as Sized;
  return input && sized.outputShape ? sized.outputShape(input) : null;
}

/** Parameter elements of `m` itself, not its submodules'. */
function ownParameterCount(m: Module): number {
  return m.namedParameters().reduce((n, [name, p]) => (name.includes(".") ? n : n + p.size), 0);
}

/**
 * Each module's output shape by dotted name (the root is `""`), from one forward of zeros
 * under `noGrad` in evaluation mode: every module's `forward` is wrapped on the instance while
 * it runs, and the wrappers and the modes are restored after, whatever happens.
 */
async function traceShapes(
  model: Module,
  inputShape: readonly number[],
): Promise<Map<string, number[]>> {
  const shapes = new Map<string, number[]>();
  const modules = model.namedModules();
  const modes = modules.map(([, m]) => m.training);
  const wrapped = new Map<Module, PropertyDescriptor | undefined>();
  for (const [name, m] of modules) {
    if (wrapped.has(m)) continue; // a module used twice keeps its first name
    wrapped.set(m, Object.getOwnPropertyDescriptor(m, "forward"));
    const forward = m.forward;
    const record = (y: Tensor): Tensor => {
      shapes.set(name, [...y.shape]);
      return y;
    };
    Object.defineProperty(m, "forward", {
      configurable: true,
      writable: true,
      value: (x: Tensor) => {
        const y = forward.call(m, x);
        return y instanceof Promise ? y.then(record) : record(y);
      },
    });
  }
  model.eval();
  try {
    const device = model.devices()[0] ?? currentDevice();
    await noGrad(() =>
      tidy(async () => {
        await model.forward(zeros([...inputShape], { device }));
      })
    );
  } catch (error) {
    throw new Error(
      `traceSummary: the forward of ${model.constructor.name} on zeros [${inputShape}] failed: ` +
        (error as Error).message,
      { cause: error },
    );
  } finally {
    for (const [m, descriptor] of wrapped) {
      if (descriptor) Object.defineProperty(m, "forward", descriptor);
      else delete (m as Partial<Module>).forward;
    }
    // Parents first: a module's train() sets its subtree, then each descendant its own mode.
    modules.forEach(([, m], i) => m.train(modes[i]));
  }
  return shapes;
}

function group(n: number): string {
  return n.toLocaleString("en-US");
}

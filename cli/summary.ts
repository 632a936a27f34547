/**
 * The `summary` command: prints AlexNet's layer table.
 *
 * @module
 */

import { AlexNet, alexnetParameterShapes } from "../nn/alexnet.ts";
import { summary } from "../nn/summary.ts";
import { DEFAULTS } from "./_config.ts";
import { acquireDevices, describePlacement } from "./_model.ts";
import {
  choice,
  type Command,
  number,
  type Specs,
  str,
  UsageError,
  type Values,
} from "./_options.ts";

const SUMMARY_OPTIONS: Specs = {
  model: { type: "string" },
  width: { type: "string" },
  "image-size": { type: "string" },
  classes: { type: "string" },
  devices: { type: "string" },
  adapter: { type: "string" },
  "batch-size": { type: "string" },
};

const SUMMARY_HELP = `Prints AlexNet's layer table: output shapes, parameters and devices.

  --model small|full    small: the scaled net 'train' trains by default (the default here
                        too); full: the paper's.
  --width <x>           Channel multiplier (small; default ${DEFAULTS.width}).
  --image-size <px>     Input side (default 227 full, ${DEFAULTS.crop} small).
  --classes <n>         Output classes (default 1000 full, 10 small).
  --devices 1|2         Show the two-tower placement (default 1).
  --adapter <i|name>    WebGPU adapter by index or part of its name; "0,1" puts one device
                        on each (default: one tower per GPU where there are two, else the
                        best adapter).
  --batch-size <n>      Batch size of the shapes (default 1).
  -h, --help            This help.`;

async function runSummary(values: Values): Promise<number> {
  const cmd = "summary";
  // The same model as `train` with no arguments.
  const preset = choice(values, "model", cmd, ["small", "full"] as const) ?? "small";
  const width = number(values, "width", cmd, { above: 0, max: 4 });
  if (preset === "full" && width !== undefined) {
    throw new UsageError("--width applies to --model small", cmd);
  }
  const size = number(values, "image-size", cmd, { integer: true, min: 8, max: 1024 }) ??
    (preset === "full" ? 227 : DEFAULTS.crop);
  const classes = number(values, "classes", cmd, { integer: true, min: 1 }) ??
    (preset === "full" ? 1000 : 10);
  const count = (number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) ?? 1) as 1 | 2;
  const batch = number(values, "batch-size", cmd, { integer: true, min: 1 }) ?? 1;
  const config = {
    width: preset === "full" ? 1 : width ?? DEFAULTS.width,
    inputSize: size,
    numClasses: classes,
    seed: 0,
  };
  try {
    alexnetParameterShapes(config);
  } catch (error) {
    throw new UsageError(`the model does not fit: ${(error as Error).message}`, cmd);
  }
  const devices = await acquireDevices(count, str(values, "adapter"), cmd);
  const model = new AlexNet(config, count === 1 ? devices[0] : devices);
  console.log(`placement: ${await describePlacement(devices)}`);
  console.log(summary(model, [batch, 3, size, size]));
  model.dispose();
  return 0;
}

/** The `summary` command. */
export const summaryCommand: Command = {
  summary: "print the layer table",
  usage: "summary [options]",
  options: SUMMARY_OPTIONS,
  help: SUMMARY_HELP,
  run: runSummary,
};

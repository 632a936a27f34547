/**
 * The `summary` command: prints a model's layer table (AlexNet's, or a torchvision
 * architecture's).
 *
 * @module
 */

import { traceSummary } from "../nn/summary.ts";
import { DEFAULTS } from "./_config.ts";
import {
  acquireDevices,
  ADAPTER_HELP,
  buildModel,
  describePlacement,
  MODEL_NAMES,
  modelOptions,
} from "./_model.ts";
import { isZooModel, ZOO_MODELS } from "./_zoo.ts";
import { SWITCH_NAMES, switchHelp } from "./_switches.ts";
import { choice, type Command, defineCommand, number, type Values } from "./_options.ts";

const SUMMARY_HELP =
  `Prints a model's layer table: output shapes, parameters, devices and what each layer
computes, with the switches that differ from the paper.

  --model <name>        small: the scaled net 'train' trains by default (the default here
                        too); full: the paper's; figure1: the paper's four-layer CIFAR-10
                        net of Figure 1; or one of torchvision's architectures:
                        ${ZOO_MODELS.slice(0, 5).join(", ")},
                        ${ZOO_MODELS.slice(5, 8).join(", ")},
                        ${ZOO_MODELS.slice(8, 10).join(", ")},
                        ${ZOO_MODELS.slice(10).join(", ")}.
  --width <x>           Channel multiplier (small: default ${DEFAULTS.width}; others: 1).
  --stem imagenet|cifar A ResNet's stem (default torchvision's; cifar: 3×3 stride 1, no pool).
  --image-size <px>     Input side (default 227 full, 224 torchvision's architectures,
                        ${DEFAULTS.crop} small, 32 figure1).
  --classes <n>         Output classes (default 1000 full and torchvision's, 10 small and
                        figure1).
  --devices 1|2         Show the two-tower placement (default 1).
${ADAPTER_HELP}
  --batch-size <n>      Batch size of the shapes (default 1).
  -h, --help            This help.

${switchHelp("summary")}`;

async function runSummary(values: Values): Promise<number> {
  const cmd = "summary";
  // The same model as `train` with no arguments.
  const preset = choice(values, "model", cmd, MODEL_NAMES) ?? "small";
  const zoo = isZooModel(preset);
  const size = number(values, "image-size", cmd, { integer: true, min: 8, max: 1024 }) ??
    (preset === "full" ? 227 : zoo ? 224 : preset === "figure1" ? 32 : DEFAULTS.crop);
  const classes = number(values, "classes", cmd, { integer: true, min: 1 }) ??
    (preset === "full" || zoo ? 1000 : 10);
  const count = (number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) ?? 1) as 1 | 2;
  const batch = number(values, "batch-size", cmd, { integer: true, min: 1 }) ?? 1;
  const config = modelOptions(values, cmd, preset, {
    inputSize: size,
    numClasses: classes,
    seed: 0,
    devices: count,
  });
  const devices = await acquireDevices(count, values, cmd);
  const model = buildModel({ model: config }, devices);
  console.log(`placement: ${await describePlacement(devices)}`);
  console.log(await traceSummary(model, [batch, 3, size, size]));
  model.dispose();
  return 0;
}

/** The `summary` command. */
export const summaryCommand: Command = defineCommand({
  summary: "print the layer table",
  usage: "summary [options]",
  strings: `model width stem image-size classes devices adapter batch-size ${SWITCH_NAMES}`,
  flags: "separate-devices",
  help: SUMMARY_HELP,
  run: runSummary,
});

/**
 * Devices, model building and initialisation, and formatting for the command line.
 *
 * @module
 */

import { describeAdapters, listAdapters } from "../kernels/adapters.ts";
import { Device, GpuError } from "../kernels/device.ts";
import { setDefaultDevice } from "../tensor/default_device.ts";
import { AlexNet, alexnetParameterShapes } from "../nn/alexnet.ts";
import { Figure1Net, figure1ParameterShapes } from "../nn/figure1.ts";
import { type Module, slotShape } from "../nn/module.ts";
import { Generator } from "../tensor/random.ts";
import type { ArmSwitches } from "../train/experiment/claims.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { VGG } from "../nn/vgg.ts";
import {
  buildZooModel,
  checkZooInput,
  isResNet,
  isZooModel,
  ZOO_MODELS,
  zooStateShapes,
} from "./_zoo.ts";
import { DEFAULTS, type RunConfig } from "./_config.ts";
import { modelSwitches } from "./_switches.ts";
import { choice, number, str, UsageError, type Values } from "./_options.ts";

const acquired: Device[] = [];

/** The help lines of `--adapter` and `--separate-devices`, which {@link acquireDevices} reads. */
export const ADAPTER_HELP =
  `  --adapter <i|name>    WebGPU adapter by index or part of its name; "0,1" puts one device
                        on each (default: one tower per GPU where there are two, else the
                        best adapter).
  --separate-devices    With --devices 2 on one adapter: a GPUDevice per tower, exchanging
                        through the host (default: both towers share one GPUDevice and
                        exchange on the GPU).`;

/**
 * Acquires `count` devices (on the adapter `--adapter` names, an index or part of a name, when
 * given; a GPUDevice each with `--separate-devices`), makes the first the default, and
 * remembers them for {@link releaseDevices}. A bad `--adapter` of `command` is a usage error.
 */
export async function acquireDevices(
  count: 1 | 2,
  values: Values = {},
  command?: string,
): Promise<Device[]> {
  const adapter = str(values, "adapter");
  const separateDevices = values["separate-devices"] === true;
  let devices: Device[];
  try {
    devices = await Device.acquireMany(count, { adapter, separateDevices });
  } catch (error) {
    if (adapter === undefined || !(error instanceof GpuError)) throw error;
    throw new UsageError(error.message, command);
  }
  setDefaultDevice(devices[0]);
  acquired.push(...devices);
  return devices;
}

/** The adapters this runtime offers, and how `devices` sit on them (two GPUs, or one shared). */
export async function describePlacement(devices: readonly Device[]): Promise<string> {
  return `${Device.placementNote(devices)}; adapters: ${describeAdapters(await listAdapters())}`;
}

/**
 * Waits for the devices' queues and destroys them before the process exits: tearing down two
 * live logical devices of one lavapipe adapter at exit can crash the driver (SIGSEGV).
 */
export async function releaseDevices(): Promise<void> {
  const devices = acquired.splice(0);
  for (const d of devices) {
    try {
      await d.sync();
    } catch {
      // Already reported by the command.
    }
  }
  // Two logical devices may share one GPUDevice: each is destroyed once, after every sync.
  for (const gpu of new Set(devices.map((d) => d.gpu))) gpu.destroy();
}

/** Every name `--model` takes: AlexNet's presets, the Figure 1 net, torchvision's architectures. */
export const MODEL_NAMES: readonly RunConfig["model"]["preset"][] = [
  "small",
  "full",
  "figure1",
  ...ZOO_MODELS,
];

/** How a run's first line and plot name its model. */
export function modelTitle(preset: RunConfig["model"]["preset"]): string {
  if (preset === "figure1") return "the Figure 1 net";
  return isZooModel(preset) ? preset : `AlexNet ${preset}`;
}

/**
 * `--init` checked against the model: AlexNet's presets take paper or he (default: paper for
 * full, he for the others), torchvision's architectures he or torchvision (their own, the
 * default).
 */
export function initOption(
  values: Values,
  command: string,
  preset: RunConfig["model"]["preset"],
): RunConfig["init"] {
  const init = choice(values, "init", command, ["paper", "he", "torchvision"] as const);
  const zoo = isZooModel(preset);
  if (init === "paper" && zoo) {
    throw new UsageError(
      `--init paper is AlexNet's; --model ${preset} takes he or torchvision (its own, the default)`,
      command,
    );
  }
  if (init === "torchvision" && !zoo) {
    throw new UsageError(
      `--init torchvision is for torchvision's architectures; --model ${preset} takes paper or he`,
      command,
    );
  }
  return init ?? (zoo ? "torchvision" : preset === "full" ? "paper" : "he");
}

/** The models a run trains: AlexNet, the Figure 1 net, or a torchvision architecture. */
export type RunModel = AlexNet | Figure1Net | ResNet | VGG;

/**
 * Builds the run's model on the devices: AlexNet (small or full), the Figure 1 net, or a
 * torchvision architecture (one device).
 */
export function buildModel(config: Pick<RunConfig, "model">, devices: Device[]): RunModel {
  const { preset, ...model } = config.model;
  if (isZooModel(preset)) {
    if (devices.length !== 1) {
      throw new RangeError(`${preset} has no towers: it runs on one device`);
    }
    return buildZooModel({ ...model, preset }, devices[0]);
  }
  if (preset === "figure1") {
    if (devices.length !== 1) throw new RangeError("the figure1 model runs on one device");
    const { numClasses, inputSize, width, activation, lrn, pooling, seed } = model;
    return new Figure1Net(
      { numClasses, inputSize, width, activation, lrn, pooling, seed },
      devices[0],
    );
  }
  return new AlexNet(model, devices.length === 1 ? devices[0] : devices);
}

/**
 * The run's model's logical parameter count, computed without allocating anything; throws a
 * RangeError naming the layer that does not fit its input (every output at least 1×1).
 */
export function plannedParameterCount(model: RunConfig["model"]): number {
  const { preset, ...config } = model;
  if (isZooModel(preset)) checkZooInput({ ...config, preset });
  const shapes = isZooModel(preset)
    ? zooStateShapes({ ...config, preset }).filter((t) => !t.buffer).map((t) => t.shape)
    : Object.values(
      preset === "figure1" ? figure1ParameterShapes(config) : alexnetParameterShapes(config),
    );
  return shapes.reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The model of a `train` or `summary` command line: `--width` and the switches, checked
 * against the preset and the device count, then built by {@link modelConfig}.
 */
export function modelOptions(
  values: Values,
  command: string,
  preset: RunConfig["model"]["preset"],
  given: {
    inputSize: number;
    numClasses: number;
    seed: number;
    devices: number;
    fitUpTo?: number;
  },
): RunConfig["model"] {
  const width = number(values, "width", command, { above: 0, max: 4 });
  if (preset === "full" && width !== undefined) {
    throw new UsageError("--width applies to --model small (full is width 1)", command);
  }
  const stem = choice(values, "stem", command, ["imagenet", "cifar"] as const);
  if (stem !== undefined && !(isZooModel(preset) && isResNet(preset))) {
    throw new UsageError(`--stem applies to the ResNets, not --model ${preset}`, command);
  }
  const switches = modelSwitches(values, command, preset, given.devices);
  try {
    return modelConfig(preset, { ...given, width, stem }, switches);
  } catch (error) {
    throw new UsageError((error as Error).message, command);
  }
}

/**
 * A run's model configuration: the width (small: `DEFAULTS.width` unless given; full: 1;
 * figure1 and torchvision's architectures: 1 unless given), dropout 0.5 (a ResNet: 0) and the
 * switches, checked to fit `inputSize` (every layer's output at least 1×1) before anything is
 * allocated. With `fitUpTo` (a default input size, and the images' side), an input too small
 * for the model grows to the smallest that fits, when that is at most `fitUpTo`.
 */
export function modelConfig(
  preset: RunConfig["model"]["preset"],
  given: {
    inputSize: number;
    numClasses: number;
    seed: number;
    width?: number;
    fitUpTo?: number;
    stem?: "imagenet" | "cifar";
  },
  switches: ArmSwitches,
): RunConfig["model"] {
  const model: RunConfig["model"] = {
    preset,
    width: preset === "full" ? 1 : given.width ?? (preset === "small" ? DEFAULTS.width : 1),
    inputSize: given.inputSize,
    numClasses: given.numClasses,
    dropout: isZooModel(preset) && isResNet(preset) ? 0 : 0.5,
    seed: given.seed,
    ...(given.stem ? { stem: given.stem } : {}),
    ...switches,
  };
  // An option that does not fit the architecture is its own error, not one of input size.
  if (isZooModel(preset)) zooStateShapes({ ...model, preset });
  try {
    plannedParameterCount(model);
  } catch (error) {
    // The reason alone named a window deep in the net, not the input size that would do.
    const side = `${model.inputSize}×${model.inputSize}`;
    const least = smallestInput(model);
    if (least !== null && least <= (given.fitUpTo ?? 0)) return { ...model, inputSize: least };
    throw new RangeError(
      `the ${preset} model does not fit ${side} inputs (${(error as Error).message})` +
        (least ? `: it takes inputs of at least ${least}×${least}` : ""),
    );
  }
  return model;
}

/** The smallest input side above the configured one that `model` fits, if any up to 4096. */
function smallestInput(model: RunConfig["model"]): number | null {
  for (let side = model.inputSize + 1; side <= 4096; side++) {
    try {
      plannedParameterCount({ ...model, inputSize: side });
      return side;
    } catch {
      // Still too small.
    }
  }
  return null;
}

/** The model's random generators whose state a checkpoint keeps (AlexNet's or a VGG's dropout masks). */
export function modelGenerators(model: RunModel): Record<string, Generator> {
  const generator = "dropoutGenerator" in model ? model.dropoutGenerator : undefined;
  return generator ? { dropout: generator } : {};
}

/**
 * He initialisation of every weight of a convolution or linear layer (N(0, 2/fan_in), fan_in =
 * inputs × kernel area of one output) with zero biases, drawn from the library's
 * {@link Generator} seeded with `seed`, over the logical (placement-free) shapes and on the
 * model's first device, so one and two devices start from the same weights. Other parameters
 * (a norm's scale and shift, a PReLU's slopes: 1-D weights) and the buffers keep their
 * module's initial values: a batch norm's weight stays 1, not 0.
 */
export async function heInit(model: Module, seed: number): Promise<void> {
  const generator = new Generator(seed);
  const device = model.namedParameters()[0]?.[1].device;
  const slots = model.stateSlots().filter((slot) => !slot.buffer);
  const shapes = new Map(slots.map((slot) => [slot.name, slotShape(slot)]));
  const dict: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape.length > 1) {
      const drawn = generator.normal(shape, 0, Math.sqrt(2 / (n / shape[0])), device);
      try {
        dict[name] = { shape, data: await drawn.data() as Float32Array };
      } finally {
        drawn.dispose();
      }
    } else if (name.endsWith(".bias") || name === "bias") {
      // The bias of a layer whose weight is drawn here (a norm's shift keeps its value).
      const weight = shapes.get(name.replace(/bias$/, "weight"));
      if (weight && weight.length > 1) dict[name] = { shape, data: new Float32Array(n) };
    }
  }
  // Every name comes from the model; the rest, left as they are, are missing.
  await model.loadStateDict(dict, { strict: false });
}

/** The time now as a folder name: `2025-01-01T12-00-00`. */
export function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "").replaceAll(":", "-");
}

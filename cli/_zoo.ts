/**
 * torchvision's architectures on the command line (`train --model resnet18`, `summary --model
 * vgg16_bn`): the names, how a run's model configuration builds one and plans its state dict
 * without allocating, and which of AlexNet's options apply.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { type PlannedTensor, ResNet, type ResNetConfig, resnetStateShapes } from "../nn/resnet.ts";
import { VGG, type VGGConfig, vggMinInputSize, vggStateShapes } from "../nn/vgg.ts";

/** The ResNets `--model` names (torchvision's names), by their block and stage depths. */
const RESNETS = {
  resnet18: { block: "basic", layers: [2, 2, 2, 2] },
  resnet34: { block: "basic", layers: [3, 4, 6, 3] },
  resnet50: { block: "bottleneck", layers: [3, 4, 6, 3] },
  resnet101: { block: "bottleneck", layers: [3, 4, 23, 3] },
  resnet152: { block: "bottleneck", layers: [3, 8, 36, 3] },
  resnext50_32x4d: { block: "bottleneck", layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
  resnext101_32x8d: { block: "bottleneck", layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
  wide_resnet50_2: { block: "bottleneck", layers: [3, 4, 6, 3], widthPerGroup: 128 },
  wide_resnet101_2: { block: "bottleneck", layers: [3, 4, 23, 3], widthPerGroup: 128 },
} as const satisfies Record<string, ResNetConfig>;

/** The VGGs `--model` names (torchvision's names). */
const VGGS = {
  vgg11: { layers: "A", batchNorm: false },
  vgg11_bn: { layers: "A", batchNorm: true },
  vgg13: { layers: "B", batchNorm: false },
  vgg13_bn: { layers: "B", batchNorm: true },
  vgg16: { layers: "D", batchNorm: false },
  vgg16_bn: { layers: "D", batchNorm: true },
  vgg19: { layers: "E", batchNorm: false },
  vgg19_bn: { layers: "E", batchNorm: true },
} as const satisfies Record<string, VGGConfig>;

/** A torchvision architecture's name. */
export type ZooModelName = keyof typeof RESNETS | keyof typeof VGGS;

/** Every name `--model` takes besides AlexNet's presets, ResNets first. */
export const ZOO_MODELS: readonly ZooModelName[] = [
  ...Object.keys(RESNETS),
  ...Object.keys(VGGS),
] as ZooModelName[];

/** Whether `preset` names a torchvision architecture. */
export function isZooModel(preset: string): preset is ZooModelName {
  return (ZOO_MODELS as readonly string[]).includes(preset);
}

/** Whether `name` is a ResNet (a VGG otherwise). */
export function isResNet(name: ZooModelName): name is keyof typeof RESNETS {
  return name in RESNETS;
}

/** What a run's configuration holds of a torchvision architecture. */
export interface ZooModelConfig {
  /** The architecture. */
  preset: ZooModelName;
  /** Output classes. */
  numClasses: number;
  /** Channel multiplier (1: torchvision's; a VGG's classifier scales with it). */
  width: number;
  /** Input side. */
  inputSize: number;
  /** A VGG's classifier dropout (a ResNet has none: 0). */
  dropout: number;
  /** Seed of the initial weights (and a VGG's dropout masks). */
  seed: number;
  /** A ResNet's stem (absent: torchvision's). */
  stem?: "imagenet" | "cifar";
}

/** The library's configuration of a run's architecture. */
function libraryConfig(
  model: ZooModelConfig,
): { resnet: ResNetConfig } | { vgg: VGGConfig } {
  const { preset, numClasses, width, seed } = model;
  if (isResNet(preset)) {
    return { resnet: { ...RESNETS[preset], numClasses, width, seed, stem: model.stem } };
  }
  return {
    vgg: {
      ...VGGS[preset],
      numClasses,
      width,
      hidden: Math.round(4096 * width),
      dropout: model.dropout,
      seed,
    },
  };
}

/**
 * The state dict a run's architecture will have, planned without allocating anything; throws
 * a RangeError naming the option that does not fit (a width that gives fractional channels).
 */
export function zooStateShapes(model: ZooModelConfig): PlannedTensor[] {
  const config = libraryConfig(model);
  return "resnet" in config ? resnetStateShapes(config.resnet) : vggStateShapes(config.vgg);
}

/**
 * Throws a RangeError when the run's input is too small for its architecture: a VGG halves
 * it five times (a ResNet takes any size: its pool is adaptive).
 */
export function checkZooInput(model: ZooModelConfig): void {
  const config = libraryConfig(model);
  if ("resnet" in config) return;
  const least = vggMinInputSize(config.vgg.layers);
  if (model.inputSize < least) {
    throw new RangeError(`its five 2×2 max pools need at least ${least}×${least}`);
  }
}

/** Builds a run's architecture on `device`, initialised as torchvision does from its seed. */
export function buildZooModel(model: ZooModelConfig, device: Device): ResNet | VGG {
  const config = libraryConfig(model);
  return "resnet" in config
    ? new ResNet({ ...config.resnet, device })
    : new VGG({ ...config.vgg, device });
}

/**
 * torchvision's architectures on the command line (`train --model resnet18`, `summary --model
 * vgg16_bn`): the names, how a run's model configuration builds one and plans its state dict
 * without allocating, and which of AlexNet's options apply.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import {
  type PlannedTensor,
  ResNet,
  RESNET_ARCHITECTURES,
  type ResNetConfig,
  type ResNetName,
  resnetStateShapes,
} from "../nn/resnet.ts";
import {
  VGG,
  VGG_ARCHITECTURES,
  type VGGConfig,
  vggMinInputSize,
  type VGGName,
  vggStateShapes,
} from "../nn/vgg.ts";

/** A torchvision architecture's name. */
export type ZooModelName = ResNetName | VGGName;

/** Every name `--model` takes besides AlexNet's presets, ResNets first. */
export const ZOO_MODELS: readonly ZooModelName[] = [
  ...Object.keys(RESNET_ARCHITECTURES),
  ...Object.keys(VGG_ARCHITECTURES),
] as ZooModelName[];

/** Whether `preset` names a torchvision architecture. */
export function isZooModel(preset: string): preset is ZooModelName {
  return (ZOO_MODELS as readonly string[]).includes(preset);
}

/** Whether `name` is a ResNet (a VGG otherwise). */
export function isResNet(name: ZooModelName): name is ResNetName {
  return name in RESNET_ARCHITECTURES;
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
    return {
      resnet: { ...RESNET_ARCHITECTURES[preset], numClasses, width, seed, stem: model.stem },
    };
  }
  return {
    vgg: {
      ...VGG_ARCHITECTURES[preset],
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

/**
 * A run configuration as the library's training options: `train` and every run of
 * `experiment` train with the same recipe, data, augmentation and checkpoint contents.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import type { AlexNet } from "../nn/alexnet.ts";
import type { Figure1Net } from "../nn/figure1.ts";
import type { DataSplits } from "../train/data/data_format.ts";
import type { TrainOptions } from "../train/train.ts";
import type { RunConfig } from "./_config.ts";
import { augmentations } from "./_data.ts";
import { modelGenerators } from "./_model.ts";

/** Where a run trains and what stops it, besides its configuration. */
export interface RunPlace {
  /** The run folder: metrics, curves and checkpoints. */
  runDir: string;
  /** Continue from the run folder's latest checkpoint. */
  resume: boolean;
  /** Device of the inputs and logits. */
  device: Device;
  /** Aborted by a stop signal. */
  signal: AbortSignal;
}

/**
 * The options of `createTrainer`/`train` for a run of `config` on `model` and `splits`:
 * SGD's hyperparameters, the plateau patience, the configured augmentation and its validation
 * preprocessing, the model's generators, and the configuration stored in every checkpoint.
 */
export function runTrainOptions(
  config: RunConfig,
  model: AlexNet | Figure1Net,
  splits: DataSplits,
  place: RunPlace,
): TrainOptions {
  const aug = augmentations(config, splits);
  return {
    model,
    trainData: splits.train,
    valData: splits.val,
    epochs: config.epochs,
    batchSize: config.batchSize,
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    formulation: config.formulation,
    seed: config.seed,
    augment: aug.train,
    evalAugment: aug.val,
    tenCrop: config.tenCrop,
    logEvery: config.logEvery,
    plateau: { patience: config.patience },
    generators: modelGenerators(model),
    extra: { config },
    ...place,
  };
}

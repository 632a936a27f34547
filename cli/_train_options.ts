/**
 * A run configuration as the library's training options: `train` and every run of
 * `experiment` train with the same recipe, data, augmentation and checkpoint contents.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import type { DataSplits } from "../train/data/data_format.ts";
import { CosineAnnealingLR, StepLR } from "../train/lr_scheduler.ts";
import type { Optimizer } from "../train/optimizer.ts";
import type { TrainerCallback } from "../train/callback.ts";
import type { OptimizerName, TrainOptions } from "../train/train.ts";
import type { RunConfig } from "./_config.ts";
import { augmentations } from "./_data.ts";
import { modelGenerators, type RunModel } from "./_model.ts";

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
  model: RunModel,
  splits: DataSplits,
  place: RunPlace,
): TrainOptions<OptimizerName> {
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
    optimizer: config.optimizer ?? "sgd",
    clipGradNorm: config.clipGradNorm,
    schedule: scheduleOf(config.schedule ?? "plateau"),
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

/**
 * A `--schedule` value checked and made explicit: "plateau", "cosine[:<tMax>]" (default the
 * run's epochs, kept so that a resume with more epochs keeps the curve), "step:<epochs>[:<gamma>]"
 * (gamma default 0.1). Throws a one-line error naming the form it expects.
 */
export function parseSchedule(text: string, epochs: number): string {
  const [kind, ...args] = text.split(":");
  const numbers = args.map(Number);
  const bad = () =>
    new Error(
      `--schedule must be plateau, cosine[:<epochs>] or step:<epochs>[:<gamma>], got '${text}'`,
    );
  if (numbers.some((x) => !Number.isFinite(x))) throw bad();
  if (kind === "plateau" && args.length === 0) return "plateau";
  if (kind === "cosine" && args.length <= 1) {
    const tMax = numbers[0] ?? epochs;
    if (!Number.isInteger(tMax) || tMax < 1) throw bad();
    return `cosine:${tMax}`;
  }
  if (kind === "step" && (args.length === 1 || args.length === 2)) {
    const [every, gamma = 0.1] = numbers;
    if (!Number.isInteger(every) || every < 1 || !(gamma >= 0)) throw bad();
    return `step:${every}:${gamma}`;
  }
  throw bad();
}

/** The schedule of a parsed `--schedule` value; undefined for the default plateau. */
function scheduleOf(schedule: string): ((o: Optimizer) => TrainerCallback) | undefined {
  const [kind, a, b] = schedule.split(":");
  if (kind === "cosine") return (o) => new CosineAnnealingLR(o, { tMax: Number(a) });
  if (kind === "step") return (o) => new StepLR(o, { stepSize: Number(a), gamma: Number(b) });
  return undefined;
}

/**
 * The paper's training recipe in one call: SGD with momentum and weight decay, the learning
 * rate divided by 10 on a plateau of the validation error, and, in a run folder, the metrics
 * files and a checkpoint after every epoch with exact resume.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { TrainerCallback } from "./callback.ts";
import type { LoadedCheckpoint, SaveTrainingCheckpointOptions } from "./checkpoint.ts";
import { checkpoints } from "./checkpoints.ts";
import { type PlateauOptions, ReduceLROnPlateau } from "./plateau.ts";
import { metricsFiles } from "./run_log.ts";
import { Adam, AdamW } from "./adam.ts";
import { Adagrad } from "./adagrad.ts";
import { RMSprop } from "./rmsprop.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "./optimizer.ts";
import { SGD, type SgdFormulation } from "./sgd.ts";
import { Trainer, TRAINER_OPTIONS, type TrainerOptions, type TrainResult } from "./trainer.ts";

/**
 * The optimisers {@link createTrainer} can build: the paper's SGD, or torch.optim's Adam,
 * AdamW, RMSprop or Adagrad.
 */
export type OptimizerName = "sgd" | "adam" | "adamw" | "rmsprop" | "adagrad";

/** The optimiser of each name. */
export type OptimizerOf<N extends OptimizerName> = N extends "sgd" ? SGD
  : N extends "rmsprop" ? RMSprop
  : N extends "adagrad" ? Adagrad
  : Adam;

/** The optimiser's part of {@link TrainOptions}. */
export interface OptimizerChoice<N extends OptimizerName = OptimizerName> {
  /** Which optimiser; default "sgd" (the paper's). */
  optimizer?: N;
  /** Initial learning rate. */
  lr: number;
  /** SGD's momentum; default 0.9. */
  momentum?: number;
  /** Weight decay; default the optimiser's: 5e-4 (SGD), 1e-2 (AdamW), 0 (the others). */
  weightDecay?: number;
  /** SGD rule; default "paper". */
  formulation?: SgdFormulation;
}

/** Options of {@link train} and {@link createTrainer}: the trainer's, and the recipe's. */
export interface TrainOptions<N extends OptimizerName = "sgd">
  extends Omit<TrainerOptions, "optimizer">, OptimizerChoice<N> {
  /** Scheduler options; default patience 2, factor 0.1, on the validation top-1 error. */
  plateau?: Partial<PlateauOptions>;
  /**
   * The learning-rate schedule, made for the optimiser (a `StepLR`, `CosineAnnealingLR`, ...);
   * default the paper's: {@link ReduceLROnPlateau} on the validation top-1 error.
   */
  schedule?: (optimizer: Optimizer) => TrainerCallback;
  /** Folder for the metrics files and checkpoints; none: no files. */
  runDir?: string;
  /** Resume from the run folder's latest checkpoint (or the one given). */
  resume?: boolean | LoadedCheckpoint;
  /** Stored in every checkpoint's `extra` (e.g. the run configuration). */
  extra?: Record<string, unknown>;
  /** Checkpoint options (kept count; a file writer for tests). */
  checkpoint?: SaveTrainingCheckpointOptions;
}

/** The Trainer's options (the optimiser's name in place of the optimiser), and train()'s own. */
const TRAIN_OPTIONS = [
  ...TRAINER_OPTIONS,
  ...optionNames<Omit<TrainOptions, keyof TrainerOptions>>({
    lr: true,
    momentum: true,
    weightDecay: true,
    formulation: true,
    plateau: true,
    schedule: true,
    runDir: true,
    resume: true,
    extra: true,
    checkpoint: true,
  }),
];

/**
 * A {@link Trainer} set up with the paper's recipe: SGD over the model's named parameters, a
 * {@link ReduceLROnPlateau} on the validation top-1 error, then the given callbacks, and with a
 * run folder the metrics files before them and the checkpoints last.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { createTrainer, syntheticSplits } from "./mod.ts";
 * await defaultDevice();
 * const model = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train, val } = syntheticSplits({ trainSize: 32, valSize: 8, size: 8, classes: 4 });
 * const trainer = createTrainer({ model, trainData: train, valData: val, epochs: 1, batchSize: 16, lr: 0.01 });
 * const result = await trainer.run();
 * trainer.dispose();
 * trainer.optimizer.dispose();
 * console.log(result.rows[0].valTop1);
 * ```
 */
export function createTrainer<N extends OptimizerName = "sgd">(
  options: TrainOptions<N>,
): Trainer<OptimizerOf<N>> {
  checkOptions("train", options, TRAIN_OPTIONS, true);
  // The rest is the Trainer's (which refuses any other key).
  const {
    plateau,
    runDir,
    resume,
    extra,
    checkpoint,
    schedule: _schedule,
    optimizer: _optimizer,
    lr: _lr,
    momentum: _momentum,
    weightDecay: _weightDecay,
    formulation: _formulation,
    ...trainerOptions
  } = options;
  if (resume && runDir === undefined) throw new Error("resume needs the runDir to resume");
  const optimizer = createOptimizer(options.model, options) as OptimizerOf<N>;
  const scheduler = options.schedule?.(optimizer) ?? new ReduceLROnPlateau(optimizer, {
    patience: 2,
    metricName: "val top-1 error",
    ...plateau,
    mode: "min",
  });
  const callbacks: TrainerCallback[] = [scheduler];
  if (runDir !== undefined) callbacks.push(metricsFiles(runDir));
  callbacks.push(...(options.callbacks ?? []));
  if (runDir !== undefined) {
    callbacks.push(checkpoints({ runDir, resume, extra, ...checkpoint }));
  }
  return new Trainer({ ...trainerOptions, optimizer, callbacks });
}

/**
 * The optimiser `choice` names over `model`'s named parameters; unset hyperparameters take the
 * optimiser's own defaults (SGD: momentum 0.9, weight decay 5e-4, the paper's rule).
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Linear } from "../nn/mod.ts";
 * import { createOptimizer } from "./train.ts";
 * await defaultDevice();
 * const opt = createOptimizer(new Linear({ inFeatures: 4, outFeatures: 2 }), { optimizer: "adamw", lr: 1e-3 });
 * console.log(opt.constructor.name); // "AdamW"
 * ```
 */
export function createOptimizer<N extends OptimizerName = "sgd">(
  model: Module,
  choice: OptimizerChoice<N>,
): OptimizerOf<N> {
  const { optimizer = "sgd", lr, momentum, weightDecay, formulation } = choice;
  const made = optimizer === "sgd"
    ? SGD.forModule(model, { lr, momentum, weightDecay, formulation })
    : optimizer === "adam" || optimizer === "adamw"
    ? (optimizer === "adam" ? Adam : AdamW).forModule(model, { lr, weightDecay })
    : optimizer === "rmsprop"
    ? RMSprop.forModule(model, { lr, weightDecay })
    : optimizer === "adagrad"
    ? Adagrad.forModule(model, { lr, weightDecay })
    : undefined;
  if (!made) {
    throw new RangeError(
      `optimizer must be one of sgd, adam, adamw, rmsprop, adagrad, got ${optimizer}`,
    );
  }
  return made as OptimizerOf<N>;
}

/**
 * Trains with {@link createTrainer}'s recipe, then frees the trainer and its optimiser.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const model = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData, val: valData } = syntheticSplits({ trainSize: 32, valSize: 8, size: 8, classes: 4 });
 * const result = await train({ model, trainData, valData, epochs: 2, batchSize: 16, lr: 0.01 });
 * console.log(result.rows.map((r) => r.trainLoss));
 * ```
 */
export async function train<N extends OptimizerName = "sgd">(
  options: TrainOptions<N>,
): Promise<TrainResult> {
  const trainer = createTrainer(options);
  try {
    return await trainer.run();
  } finally {
    trainer.dispose();
    trainer.optimizer.dispose();
  }
}

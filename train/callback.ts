/**
 * The training loop's extension points. A {@link TrainerCallback} is an object with any of
 * the `on…` hooks below; the {@link Trainer} (`trainer.ts`) calls them in the order the
 * callbacks were given, awaiting each. The metrics files (`metricsFiles`), checkpoints
 * (`checkpoints`), the learning-rate scheduler (`ReduceLROnPlateau`) and, in the command line,
 * the progress line and the plot are all callbacks.
 *
 * Order matters where one callback reads what another writes: put the scheduler before the
 * checkpoints (so a checkpoint holds the reduced learning rate), and the checkpoints last.
 *
 * A callback with state to keep across a resume gives itself a `name` and implements
 * `stateDict`/`loadStateDict`; the checkpoints save and restore it under that name.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import type { GeneratorState } from "../tensor/random.ts";
import type { StepTotals } from "../tensor/step_guard.ts";
import type { DataLoaderState } from "./data/loader.ts";
import type { EvalResult } from "./evaluate.ts";
import type { Optimizer } from "./optimizer.ts";

/** One epoch's row. Error rates are fractions in [0, 1]; NaN means "not measured". */
export interface EpochMetrics {
  /** Epoch number, 1-based. */
  epoch: number;
  /** Optimiser steps completed since the start of training. */
  step: number;
  /** Learning rate used during the epoch. */
  lr: number;
  /** Mean training loss. */
  trainLoss: number;
  /** Training top-1 error rate. */
  trainTop1: number;
  /** Training top-5 error rate. */
  trainTop5: number;
  /** Validation loss. */
  valLoss: number;
  /** Validation top-1 error rate. */
  valTop1: number;
  /** Validation top-5 error rate. */
  valTop5: number;
  /** Training throughput. */
  imagesPerSec: number;
  /** Wall-clock seconds of the epoch. */
  seconds: number;
  /** Steps skipped for a non-finite loss. */
  skippedSteps: number;
}

/**
 * Metric totals of an epoch in progress (host-side, float64): the step guard's totals summed
 * over the readbacks so far, and the time spent.
 */
export interface PartialEpoch extends StepTotals {
  /** Seconds spent in the epoch so far. */
  seconds: number;
}

/**
 * The training loop's own state, as JSON: with the model, the optimiser and the callbacks'
 * states it is everything a checkpoint needs to continue a run bit for bit.
 */
export interface LoopState {
  /** Completed epochs. */
  epochsDone: number;
  /** Optimiser steps taken since the start of training. */
  step: number;
  /** The training loader's position (its seed fixes shuffles and augmentation draws). */
  loader: DataLoaderState;
  /** Named random generators (e.g. `dropout`). */
  generators: Record<string, GeneratorState>;
  /**
   * Totals of the epoch in progress, or null at an epoch boundary. When a stop abandoned an
   * epoch's validation, its steps are all done and the loader stands at the next epoch
   * (`loader.epoch` > `epochsDone`): these are the finished steps' totals, and a resume runs
   * the validation again.
   */
  partialEpoch: PartialEpoch | null;
  /** Non-finite losses: in a row, and in total. */
  nonFinite: { consecutive: number; total: number };
  /** Training seconds so far (all epochs, excluding time between runs). */
  elapsedSeconds: number;
  /** One row per completed epoch of the whole run. */
  history: EpochMetrics[];
}

/** What a callback sees of the trainer. */
export interface TrainerContext {
  /** The network. */
  readonly model: Module;
  /** The optimiser. */
  readonly optimizer: Optimizer;
  /** The callbacks, in order. */
  readonly callbacks: readonly TrainerCallback[];
  /** Epochs to train up to (counting those before a resume). */
  readonly epochs: number;
  /** Completed epochs. */
  readonly epochsDone: number;
  /** Optimiser steps taken since the start of training. */
  readonly step: number;
  /** One row per completed epoch of the whole run, a resumed run's earlier epochs too. */
  readonly history: readonly EpochMetrics[];
  /** The latest checkpoint written or resumed from, or null. */
  readonly checkpoint: string | null;
  /** Records the checkpoint just written (checkpoint callbacks call this). */
  recordCheckpoint(dir: string): void;
  /** Sends one line to the trainer's log. */
  log(message: string): void;
  /** Sends a warning: to the trainer's log, or to the console when it has none. */
  warn(message: string): void;
  /** A sentence naming the last good checkpoint (or saying there is none), for errors. */
  lastGoodCheckpointNote(): string;
  /** Asks the loop to stop after the current step or validation batch (see {@link StopEvent}). */
  requestStop(): void;
  /** Whether a stop was requested (by {@link TrainerContext.requestStop} or the abort signal). */
  readonly stopRequested: boolean;
  /** The loop's state, for a checkpoint. */
  loopState(): LoopState;
  /** Restores the loop's state from a checkpoint, before `run` trains. */
  loadLoopState(state: LoopState): void;
}

/** {@link TrainerCallback.onEpochStart}'s event. */
export interface EpochStart {
  /** The epoch starting, 1-based. */
  epoch: number;
  /** Steps in an epoch. */
  steps: number;
  /** Steps of this epoch already done (a resume mid-epoch). */
  stepsDone: number;
}

/** {@link TrainerCallback.onStepEnd}'s event. */
export interface StepEnd {
  /** The epoch, 1-based. */
  epoch: number;
  /** Steps done in this epoch, this one included. */
  step: number;
  /** Steps in an epoch. */
  steps: number;
}

/** {@link TrainerCallback.onLog}'s event: the totals read back every `logEvery` steps. */
export interface LogUpdate {
  /** The epoch, 1-based. */
  epoch: number;
  /** Steps done in this epoch. */
  step: number;
  /** Steps in an epoch. */
  steps: number;
  /** Mean loss of the accepted steps since the last update (NaN when none). */
  loss: number;
  /** Images since the last update (accepted or skipped). */
  images: number;
  /** The first parameter group's learning rate. */
  lr: number;
}

/** {@link TrainerCallback.onEpochEnd}'s event. */
export interface EpochEnd {
  /** The epoch's row (also appended to the trainer's history). */
  metrics: EpochMetrics;
  /** The validation, or null without validation data. */
  validation: EvalResult | null;
}

/** {@link TrainerCallback.onStop}'s event: a stop requested mid-epoch. */
export interface StopEvent {
  /** The epoch interrupted, 1-based. */
  epoch: number;
  /** Steps done in it. */
  step: number;
  /** Steps in an epoch. */
  steps: number;
  /**
   * What the stop interrupted: the epoch's steps, or its validation (abandoned: all its steps
   * are done, and a resume validates again).
   */
  during: "training" | "validation";
}

/** {@link TrainerCallback.onTrainEnd}'s event. */
export interface TrainEnd {
  /** Whether the run stopped early on a stop request. */
  interrupted: boolean;
  /** The error that ended the run, if one did (it is rethrown after the callbacks). */
  error?: unknown;
}

/**
 * Hooks into the training loop; every one is optional and may be async.
 *
 * @example Stop when the validation error is low enough
 * ```ts
 * import type { TrainerCallback } from "./callback.ts";
 * const earlyStop: TrainerCallback = {
 *   onEpochEnd(trainer, { metrics }) {
 *     if (metrics.valTop1 < 0.05) {
 *       trainer.log(`epoch ${metrics.epoch}: below 5% error, stopping`);
 *       trainer.requestStop();
 *     }
 *   },
 * };
 * console.log(typeof earlyStop.onEpochEnd); // "function"
 * ```
 */
export interface TrainerCallback {
  /** Its key in a checkpoint's callback states; needed with `stateDict`. */
  readonly name?: string;
  /** Before the first step (a resume happens here). */
  onTrainStart?(trainer: TrainerContext): void | Promise<void>;
  /** At the start of each epoch. */
  onEpochStart?(trainer: TrainerContext, event: EpochStart): void | Promise<void>;
  /**
   * After each optimiser step (its work recorded, nothing read back): per-step schedules
   * such as OneCycleLR step here. Keep it cheap: it runs every step.
   */
  onStepEnd?(trainer: TrainerContext, event: StepEnd): void | Promise<void>;
  /** Every `logEvery` steps and at the end of each epoch, with the totals read back. */
  onLog?(trainer: TrainerContext, event: LogUpdate): void | Promise<void>;
  /** After each epoch's validation. */
  onEpochEnd?(trainer: TrainerContext, event: EpochEnd): void | Promise<void>;
  /**
   * When a stop request ends an epoch early, in its steps or its validation (its totals are in
   * the loop state).
   */
  onStop?(trainer: TrainerContext, event: StopEvent): void | Promise<void>;
  /** When `run` ends, normally or by an error. */
  onTrainEnd?(trainer: TrainerContext, event: TrainEnd): void | Promise<void>;
  /** The callback's state for a checkpoint (JSON). */
  stateDict?(): unknown;
  /** Restores a state from `stateDict`. */
  loadStateDict?(state: unknown): void;
}

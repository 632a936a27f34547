/**
 * The training loop: data loader batches → model (training mode) → loss → backward →
 * optimiser, each step inside `tidy`, and a validation after every epoch. Everything else
 * (metrics files, checkpoints and resume, the learning-rate schedule, progress output) plugs
 * in as a {@link TrainerCallback} (`callback.ts`); `train.ts` assembles the paper's recipe.
 *
 * ## No per-step readback
 *
 * Reading a value back from the GPU waits for all queued work, so the loop never reads the
 * loss of a step. A `StepGuard` keeps the step's verdict on the GPU: its flag is lowered when
 * the loss, a gradient or an updated weight would be NaN/±∞ (the optimiser checks every update
 * before making any), so a bad step changes no weight and no momentum; it also keeps running
 * totals of the loss and the top-1/top-5 errors. The totals are read back every `logEvery` steps
 * and at the end of each epoch (the {@link TrainerCallback.onLog} hook). When a readback finds
 * `maxConsecutiveNonFinite` non-finite losses in a row, training stops with a
 * {@link NonFiniteLossError}; the updates of those steps were skipped, so the weights are the
 * last good ones.
 *
 * ## Stopping
 *
 * A stop request ({@link Trainer.requestStop}, or the `signal` aborting) is checked after
 * every step and before every validation batch. Mid-epoch, the loop reads the totals back,
 * calls {@link TrainerCallback.onStop} (where the checkpoints write one) and returns with
 * `interrupted` set. During the end-of-epoch validation, the validation is abandoned: the
 * epoch's steps are done but the epoch is not (no row, no `onEpochEnd`), so the loop state
 * keeps the finished steps' totals with the loader at the next epoch's start, and a resume
 * runs that validation again.
 *
 * ## Exact resume
 *
 * {@link Trainer.loopState} holds the epoch and step, the loader's position, the named random
 * generators, the partial epoch's totals and the run's history. The loader's shuffles and
 * augmentation draws are pure functions of its seed, epoch and batch index, and the GPU kernels
 * add in a fixed order, so a run restored from it (with the model, the optimiser and the
 * callbacks' states) computes bit for bit what an uninterrupted run would.
 *
 * The loop's progress and its resumable state live in `_loop_progress.ts`; one training step
 * and the validation's options in `_batches.ts`; this file is the loop and its callbacks.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import type { Module } from "../nn/module.ts";
import { crossEntropy } from "../tensor/ops_loss.ts";
import type { Generator } from "../tensor/random.ts";
import { StepGuard } from "../tensor/step_guard.ts";
import type { LogUpdate, LoopState, TrainerCallback, TrainerContext } from "./callback.ts";
import type { AugmentOptions } from "./data/augment.ts";
import type { Dataset } from "./data/dataset.ts";
import { DataLoader } from "./data/loader.ts";
import { type EvalResult, evaluate, firstDevice, type LossFunction } from "./evaluate.ts";
import type { Optimizer } from "./optimizer.ts";
import { gradNormClipOf } from "./_batches.ts";
import type { GradNormClip } from "./clip_grad.ts";
import type { EpochMetrics } from "./run_log.ts";
import { EventLoopTurns } from "./_event_loop.ts";
import { plural } from "./_format.ts";
import { type StepContext, trainStep, validationOptions } from "./_batches.ts";
import { type EpochClock, LoopProgress, type Trained } from "./_loop_progress.ts";
import { callHooks, type Hook, type HookEvent } from "./_hooks.ts";

/** Options of {@link Trainer}. */
export interface TrainerOptions<O extends Optimizer = Optimizer> {
  /** The network: `forward` maps images `[N, 3, H, W]` to logits `[N, classes]`. */
  model: Module;
  /** The optimiser of the model's parameters. */
  optimizer: O;
  /** The loss of a batch; default `crossEntropy`. Validation uses it too. */
  loss?: LossFunction;
  /** Training images. */
  trainData: Dataset;
  /** Validation images, evaluated after every epoch; none: no validation. */
  valData?: Dataset;
  /** Train until this many epochs are done (counting those before a resume). */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Seed of the loader's shuffles and augmentation; default 0. */
  seed?: number;
  /** Training augmentation (crop, flip, PCA noise, mean, scale). */
  augment?: AugmentOptions;
  /** Validation preprocessing; default the training crop, mean and scale. */
  evalAugment?: AugmentOptions;
  /** Validate with the paper's ten patches instead of the centre crop; default false. */
  tenCrop?: boolean;
  /** Validation batch size (images before ten-cropping); default `batchSize`. */
  evalBatchSize?: number;
  /** Steps between readbacks of the totals (and `onLog` calls); default 20. */
  logEvery?: number;
  /** Stop when this many losses in a row are non-finite; default 10. */
  maxConsecutiveNonFinite?: number;
  /** Random generators whose state is part of the loop state (e.g. the dropout masks'). */
  generators?: Record<string, Generator>;
  /** Device of the inputs, logits and loss; default the model's first parameter's. */
  device?: Device;
  /** Aborting it requests a stop (as {@link Trainer.requestStop}). */
  signal?: AbortSignal;
  /** Hooks, called in this order (see `callback.ts`). */
  callbacks?: readonly TrainerCallback[];
  /** Where log lines go (resume, learning-rate changes, skipped steps); default nowhere. */
  log?: (message: string) => void;
  /** Prefetched batches of the loaders; default 2. */
  prefetch?: number;
  /**
   * Clip the gradients' total norm to this bound between backward and the optimiser's step
   * (`clipGradNorm` over the optimiser's parameters): a number (the 2-norm), or the bound and
   * the norm's order. Default none. A non-finite norm makes the step non-finite, so the guard
   * skips it.
   */
  clipGradNorm?: number | GradNormClip;
}

/** The names of {@link TrainerOptions}, for `checkOptions`. */
export const TRAINER_OPTIONS = optionNames<TrainerOptions>({
  model: true,
  optimizer: true,
  loss: true,
  trainData: true,
  valData: true,
  epochs: true,
  batchSize: true,
  seed: true,
  augment: true,
  evalAugment: true,
  tenCrop: true,
  evalBatchSize: true,
  logEvery: true,
  maxConsecutiveNonFinite: true,
  generators: true,
  device: true,
  signal: true,
  callbacks: true,
  log: true,
  prefetch: true,
  clipGradNorm: true,
});

/** What {@link Trainer.run} returns. */
export interface TrainResult {
  /** Completed epochs. */
  epochsDone: number;
  /** Optimiser steps taken since the start of training. */
  step: number;
  /** Whether the run stopped early on a stop request. */
  interrupted: boolean;
  /** One row per completed epoch of the whole run (a resumed run's earlier epochs too). */
  rows: EpochMetrics[];
  /** The last validation, or null if none ran in this call. */
  lastEval: EvalResult | null;
  /** Training throughput over this call's steps. */
  imagesPerSec: number;
  /** Wall-clock seconds of this call. */
  seconds: number;
  /** The latest checkpoint written or resumed from, or null. */
  checkpoint: string | null;
}

/**
 * Raised when too many losses in a row were NaN or infinite.
 *
 * @example
 * ```ts
 * import { NonFiniteLossError } from "./trainer.ts";
 * console.log(new NonFiniteLossError("10 non-finite losses in a row").name);
 * ```
 */
export class NonFiniteLossError extends Error {
  /** `"NonFiniteLossError"`. */
  override name = "NonFiniteLossError";
}

/** What {@link Trainer}'s validation returns when a stop request abandoned it. */
const STOPPED = Symbol("stopped");

/**
 * Trains a model (see the module doc). Build it, `run` it, `dispose` it (the optimiser and
 * the model are the caller's).
 *
 * @example A custom model and loss, without files
 * ```ts
 * import { defaultDevice, type Tensor } from "../mod.ts";
 * import { Flatten, Linear, Module, Sequential } from "../nn/mod.ts";
 * import { crossEntropy } from "../mod.ts";
 * import { SGD, syntheticSplits, Trainer } from "./mod.ts";
 * await defaultDevice();
 *
 * class Mlp extends Module {
 *   readonly net = this.registerModule(
 *     "net",
 *     new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 })),
 *   );
 *   forward(x: Tensor): Tensor {
 *     return this.net.forward(x);
 *   }
 * }
 * const model = new Mlp();
 * const { train, val } = syntheticSplits({ trainSize: 64, valSize: 16, size: 8, classes: 4 });
 * const optimizer = SGD.forModule(model, { lr: 0.05 });
 * const smoothed = (logits: Tensor, labels: Tensor) =>
 *   crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 * const trainer = new Trainer({
 *   model, optimizer, loss: smoothed, trainData: train, valData: val, epochs: 2, batchSize: 16,
 *   callbacks: [{ onEpochEnd: (_, { metrics }) => console.log(metrics.epoch, metrics.trainLoss) }],
 * });
 * const result = await trainer.run();
 * trainer.dispose();
 * optimizer.dispose();
 * console.log(result.step); // 8
 * ```
 */
export class Trainer<O extends Optimizer = Optimizer> implements TrainerContext {
  /** The network. */
  readonly model: Module;
  /** The optimiser. */
  readonly optimizer: O;
  /** The callbacks, in order. */
  readonly callbacks: readonly TrainerCallback[];
  /** Epochs to train up to. */
  readonly epochs: number;
  /** The training loader. */
  readonly loader: DataLoader;
  /** Device of inputs, logits and the step statistics. */
  readonly device: Device;

  readonly #options: TrainerOptions<O>;
  /** What a training step works with. */
  readonly #stepContext: StepContext;
  readonly #generators: Record<string, Generator>;
  readonly #logEvery: number;
  readonly #maxNonFinite: number;
  readonly #progress = new LoopProgress();
  #checkpoint: string | null = null;
  /** Aborted by {@link Trainer.requestStop}. */
  readonly #stopController = new AbortController();
  /** Aborted by a stop request or by the `signal` option. */
  readonly #stopSignal: AbortSignal;
  #turns = new EventLoopTurns();
  /** Images of the epoch at the last `onLog`. */
  #logged = 0;

  /** Checks the options and builds the loader; {@link Trainer.run} does the work. */
  constructor(options: TrainerOptions<O>) {
    checkOptions("Trainer", options, TRAINER_OPTIONS, true);
    if (!Number.isInteger(options.epochs) || options.epochs < 0) {
      throw new RangeError(`Trainer: epochs must be a non-negative integer, got ${options.epochs}`);
    }
    this.#options = options;
    this.#stopSignal = options.signal
      ? AbortSignal.any([this.#stopController.signal, options.signal])
      : this.#stopController.signal;
    this.model = options.model;
    this.optimizer = options.optimizer;
    this.callbacks = [...(options.callbacks ?? [])];
    this.epochs = options.epochs;
    this.device = options.device ?? firstDevice(options.model);
    const data = options.trainData;
    this.loader = new DataLoader(data, {
      batchSize: options.batchSize,
      seed: options.seed ?? 0,
      shuffle: true,
      dropLast: data.length >= options.batchSize,
      augment: options.augment ?? {},
      crops: "random",
      prefetch: options.prefetch ?? 2,
    });
    this.#generators = options.generators ?? {};
    this.#logEvery = Math.max(1, options.logEvery ?? 20);
    this.#maxNonFinite = Math.max(1, options.maxConsecutiveNonFinite ?? 10);
    const paramDevices = options.model.namedParameters().map(([, p]) => p.device);
    this.#stepContext = {
      model: this.model,
      optimizer: this.optimizer,
      loss: options.loss ?? crossEntropy,
      device: this.device,
      guard: new StepGuard(this.device, paramDevices),
      clipGradNorm: gradNormClipOf(options.clipGradNorm),
      classes: options.trainData.numClasses,
    };
  }

  /** Completed epochs. */
  get epochsDone(): number {
    return this.#progress.epochsDone;
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.#progress.step;
  }

  /** One row per completed epoch of the whole run. */
  get history(): readonly EpochMetrics[] {
    return this.#progress.history;
  }

  /** The latest checkpoint written or resumed from, or null. */
  get checkpoint(): string | null {
    return this.#checkpoint;
  }

  /** Records the checkpoint just written or resumed from. */
  recordCheckpoint(dir: string): void {
    this.#checkpoint = dir;
  }

  /** Sends one line to the `log` option. */
  log(message: string): void {
    this.#options.log?.(message);
  }

  /** Sends a warning to the `log` option, or to the console without one. */
  warn(message: string): void {
    (this.#options.log ?? console.warn)(message);
  }

  /**
   * Names the last good checkpoint for an error message. Checkpoints are only ever written
   * with finite values and checked when resumed from, so the latest recorded is good.
   */
  lastGoodCheckpointNote(): string {
    return this.#checkpoint
      ? `The last good checkpoint is ${this.#checkpoint}.`
      : "No good checkpoint was written yet.";
  }

  /** Asks the loop to stop after the current step, or before the next validation batch. */
  requestStop(): void {
    this.#stopController.abort();
  }

  /** Whether a stop was requested (or the signal aborted). */
  get stopRequested(): boolean {
    return this.#stopSignal.aborted;
  }

  /** The loop's state (see the module doc). */
  loopState(): LoopState {
    return this.#progress.state(this.loader, this.#generators);
  }

  /** Restores a {@link Trainer.loopState}; the generators named in the options must be in it. */
  loadLoopState(state: LoopState): void {
    this.#progress.restore(state, this.loader, this.#generators);
    this.#stepContext.guard.restore(state.nonFinite.consecutive, state.nonFinite.total);
  }

  /** Trains until `epochs` are done or a stop is requested. */
  async run(): Promise<TrainResult> {
    const start = performance.now();
    const trained: Trained = { images: 0, seconds: 0 };
    let lastEval: EvalResult | null = null;
    let interrupted = false;
    try {
      await this.#notify("onTrainStart");
      while (this.epochsDone < this.epochs) {
        if (this.stopRequested) {
          interrupted = true;
          break;
        }
        const clock = await this.#trainEpoch(trained);
        if (clock === null) {
          interrupted = true;
          break;
        }
        const validation = await this.#validate();
        if (validation === STOPPED) {
          interrupted = true;
          break;
        }
        await this.#endEpoch(clock, validation);
        lastEval = validation;
      }
    } catch (error) {
      this.loader.close();
      await this.#notify("onTrainEnd", { interrupted, error });
      throw error;
    }
    this.loader.close();
    await this.#notify("onTrainEnd", { interrupted });
    return {
      epochsDone: this.epochsDone,
      step: this.step,
      interrupted,
      rows: this.history.map((row) => ({ ...row })),
      lastEval,
      imagesPerSec: trained.seconds > 0 ? trained.images / trained.seconds : NaN,
      seconds: (performance.now() - start) / 1000,
      checkpoint: this.#checkpoint,
    };
  }

  /** Frees the step statistics (not the optimiser, not the model). */
  dispose(): void {
    this.#stepContext.guard.dispose();
  }

  /** Calls a hook of every callback, in order, awaiting each. */
  #notify<K extends Hook>(hook: K, ...event: HookEvent<K>): Promise<void> {
    return callHooks(this.callbacks, this, hook, ...event);
  }

  /** The steps of one epoch; null when a stop request ended it early. */
  async #trainEpoch(trained: Trained): Promise<EpochClock | null> {
    const progress = this.#progress;
    const epoch = progress.epochsDone; // 0-based index of the epoch being trained
    const steps = this.loader.batchesPerEpoch;
    this.model.train(true);
    const clock = progress.startSegment();
    this.#logged = clock.imagesBefore;
    const stepsDone = progress.validationPending(this.loader) ? steps : this.loader.position;
    await this.#notify("onEpochStart", { epoch: epoch + 1, steps, stepsDone });
    while (this.loader.epoch === epoch) {
      const batch = await this.loader.next();
      await trainStep(this.#stepContext, batch);
      progress.step++;
      await this.#notify("onStepEnd", { epoch: epoch + 1, step: batch.index + 1, steps });
      // Signal listeners (a stop request) run only when the event loop turns.
      await this.#turns.maybeTurn();
      const done = this.loader.epoch !== epoch;
      const stop = this.stopRequested;
      // The drain is the loop's only wait on the GPU: besides the log and the non-finite limit,
      // it bounds how far the host records ahead (each step's uploads are held until the GPU
      // runs them, and Deno reclaims finished work while a map waits).
      if (done || stop || (batch.index + 1) % this.#logEvery === 0) {
        await this.#drain({ epoch: epoch + 1, step: batch.index + 1, steps });
      }
      if (stop && !done) {
        progress.endSegment(clock, trained);
        const at = { epoch: epoch + 1, step: batch.index + 1, steps, during: "training" as const };
        await this.#notify("onStop", at);
        return null;
      }
    }
    progress.endSegment(clock, trained);
    return clock;
  }

  /**
   * The epoch's validation (null without validation data), or {@link STOPPED} when a stop
   * request abandoned it: then `onStop` is called, and the loop state (the epoch's totals, the
   * loader at the next epoch) says that the validation is still to run.
   */
  async #validate(): Promise<EvalResult | null | typeof STOPPED> {
    const { valData } = this.#options;
    if (!valData) return null;
    const start = performance.now();
    const signal = this.#stopSignal;
    try {
      const options = validationOptions(this.#options, this.#stepContext, signal);
      return await evaluate(this.model, valData, options);
    } catch (error) {
      if (!signal.aborted || error !== signal.reason) throw error;
      const steps = this.loader.batchesPerEpoch;
      const epoch = this.epochsDone + 1;
      await this.#notify("onStop", { epoch, step: steps, steps, during: "validation" });
      return STOPPED;
    } finally {
      this.model.train(true);
      this.#progress.elapsed += (performance.now() - start) / 1000;
    }
  }

  /** The epoch's row, and the `onEpochEnd` hooks. */
  async #endEpoch(clock: EpochClock, validation: EvalResult | null): Promise<void> {
    const lr = this.optimizer.paramGroups[0].lr;
    const metrics = this.#progress.endEpoch(lr, validation, clock);
    if (metrics.skippedSteps > 0) {
      this.log(
        `epoch ${metrics.epoch}: ${plural(metrics.skippedSteps, "step")} skipped for a ` +
          "non-finite loss",
      );
    }
    await this.#notify("onEpochEnd", { metrics, validation });
  }

  /** Reads the totals back into the epoch's, calls `onLog`, enforces the non-finite limit. */
  async #drain(at: Pick<LogUpdate, "epoch" | "step" | "steps">): Promise<void> {
    const s = await this.#stepContext.guard.drain();
    this.#progress.add(s);
    const images = this.#progress.epochImages;
    await this.#notify("onLog", {
      ...at,
      loss: s.steps > 0 ? s.lossSum / s.images : NaN,
      images: images - this.#logged,
      lr: this.optimizer.paramGroups[0].lr,
    });
    this.#logged = images;
    if (s.consecutiveNonFinite >= this.#maxNonFinite) {
      throw new NonFiniteLossError(
        `${s.consecutiveNonFinite} non-finite losses in a row (limit ${this.#maxNonFinite}) at ` +
          `step ${this.step}: training stopped; their updates were skipped. ` +
          this.lastGoodCheckpointNote() +
          " Try a lower learning rate.",
      );
    }
  }
}

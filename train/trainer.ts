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
 * @module
 */

import type { Device } from "../tensor/default_device.ts";
import type { Module } from "../nn/module.ts";
import { fromTypedArray, replicate } from "../tensor/creation.ts";
import { tidy } from "../tensor/memory.ts";
import { crossEntropy } from "../tensor/ops_loss.ts";
import type { Generator } from "../tensor/random.ts";
import type {
  LogUpdate,
  LoopState,
  PartialEpoch,
  StopEvent,
  TrainerCallback,
  TrainerContext,
} from "./callback.ts";
import type { AugmentOptions } from "./data/augment.ts";
import type { Dataset } from "./data/dataset.ts";
import { DataLoader, type LoaderBatch } from "./data/loader.ts";
import { type EvalResult, evaluate, firstDevice, type LossFunction } from "./evaluate.ts";
import type { Optimizer } from "./optimizer.ts";
import { type EpochMetrics, METRIC_COLUMNS } from "./run_log.ts";
import { StepGuard } from "../tensor/step_guard.ts";
import { EventLoopTurns } from "./_event_loop.ts";
import { plural } from "./_format.ts";

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
}

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

/** Where an epoch's clocks started. */
interface EpochClock {
  /** When the epoch started (earlier than now by the seconds of a resumed partial epoch). */
  start: number;
  /** When this call's part of it started. */
  segmentStart: number;
  /** Images of the epoch before this call. */
  imagesBefore: number;
}

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
 * const smoothed = (logits: Tensor, labels: Tensor) => crossEntropy(logits, labels).mul(0.9);
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
  readonly #loss: LossFunction;
  readonly #stats: StepGuard;
  readonly #logEvery: number;
  readonly #maxNonFinite: number;
  #epochsDone = 0;
  #step = 0;
  #partial: PartialEpoch = emptyPartial();
  #elapsed = 0;
  #nonFinite = { consecutive: 0, total: 0 };
  #history: EpochMetrics[] = [];
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
    if (!Number.isInteger(options.epochs) || options.epochs < 0) {
      throw new RangeError(`epochs must be a non-negative integer, got ${options.epochs}`);
    }
    this.#options = options;
    this.#stopSignal = options.signal
      ? AbortSignal.any([this.#stopController.signal, options.signal])
      : this.#stopController.signal;
    this.model = options.model;
    this.optimizer = options.optimizer;
    this.callbacks = [...(options.callbacks ?? [])];
    this.epochs = options.epochs;
    this.#loss = options.loss ?? crossEntropy;
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
    this.#logEvery = Math.max(1, options.logEvery ?? 20);
    this.#maxNonFinite = Math.max(1, options.maxConsecutiveNonFinite ?? 10);
    const paramDevices = options.model.namedParameters().map(([, p]) => p.device);
    this.#stats = new StepGuard(this.device, paramDevices);
  }

  /** Completed epochs. */
  get epochsDone(): number {
    return this.#epochsDone;
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.#step;
  }

  /** One row per completed epoch of the whole run. */
  get history(): readonly EpochMetrics[] {
    return this.#history;
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

  /**
   * Whether the epoch's steps are all done and only its validation is left: the loader
   * already stands at the next epoch (a stop interrupted the validation).
   */
  get #validationPending(): boolean {
    return this.loader.epoch > this.#epochsDone;
  }

  /** The loop's state (see the module doc). */
  loopState(): LoopState {
    const loader = this.loader.state();
    const generators: LoopState["generators"] = {};
    for (const [name, g] of Object.entries(this.#options.generators ?? {})) {
      generators[name] = g.state();
    }
    return {
      epochsDone: this.#epochsDone,
      step: this.#step,
      loader,
      generators,
      partialEpoch: loader.position > 0 || this.#validationPending ? { ...this.#partial } : null,
      nonFinite: { ...this.#nonFinite },
      elapsedSeconds: this.#elapsed,
      history: this.#history.map((row) => ({ ...row })),
    };
  }

  /** Restores a {@link Trainer.loopState}; the generators named in the options must be in it. */
  loadLoopState(state: LoopState): void {
    for (const name of Object.keys(this.#options.generators ?? {})) {
      if (!state.generators[name]) {
        throw new Error(`the saved state has no generator "${name}"`);
      }
    }
    this.loader.restore(state.loader);
    for (const [name, g] of Object.entries(this.#options.generators ?? {})) {
      g.setState(state.generators[name]);
    }
    this.#epochsDone = state.epochsDone;
    this.#step = state.step;
    this.#partial = state.partialEpoch ? { ...state.partialEpoch } : emptyPartial();
    this.#elapsed = state.elapsedSeconds;
    this.#nonFinite = { ...state.nonFinite };
    this.#history = state.history.map(fromJson);
    this.#stats.restore(state.nonFinite.consecutive, state.nonFinite.total);
  }

  /** Trains until `epochs` are done or a stop is requested. */
  async run(): Promise<TrainResult> {
    const start = performance.now();
    const trained = { images: 0, seconds: 0 };
    let lastEval: EvalResult | null = null;
    let interrupted = false;
    try {
      for (const c of this.callbacks) await c.onTrainStart?.(this);
      while (this.#epochsDone < this.epochs) {
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
        lastEval = await this.#endEpoch(clock, validation);
      }
    } catch (error) {
      this.loader.close();
      for (const c of this.callbacks) await c.onTrainEnd?.(this, { interrupted, error });
      throw error;
    }
    this.loader.close();
    for (const c of this.callbacks) await c.onTrainEnd?.(this, { interrupted });
    return {
      epochsDone: this.#epochsDone,
      step: this.#step,
      interrupted,
      rows: this.#history.map((row) => ({ ...row })),
      lastEval,
      imagesPerSec: trained.seconds > 0 ? trained.images / trained.seconds : NaN,
      seconds: (performance.now() - start) / 1000,
      checkpoint: this.#checkpoint,
    };
  }

  /** Frees the step statistics (not the optimiser, not the model). */
  dispose(): void {
    this.#stats.dispose();
  }

  /** The steps of one epoch; null when a stop request ended it early. */
  async #trainEpoch(trained: { images: number; seconds: number }): Promise<EpochClock | null> {
    const epoch = this.#epochsDone; // 0-based index of the epoch being trained
    const steps = this.loader.batchesPerEpoch;
    this.model.train(true);
    const now = performance.now();
    const clock = {
      start: now - this.#partial.seconds * 1000,
      segmentStart: now,
      imagesBefore: imagesOf(this.#partial),
    };
    this.#logged = clock.imagesBefore;
    const stepsDone = this.#validationPending ? steps : this.loader.position;
    const start = { epoch: epoch + 1, steps, stepsDone };
    for (const c of this.callbacks) await c.onEpochStart?.(this, start);
    while (this.loader.epoch === epoch) {
      const batch = await this.loader.next();
      await this.#trainStep(batch);
      this.#step++;
      // Signal listeners (a stop request) run only when the event loop turns.
      await this.#turns.maybeTurn();
      const done = this.loader.epoch !== epoch;
      const stop = this.stopRequested;
      if (done || stop || (batch.index + 1) % this.#logEvery === 0) {
        await this.#drain({ epoch: epoch + 1, step: batch.index + 1, steps });
      }
      if (stop && !done) {
        this.#addSegment(clock, trained);
        const event: StopEvent = {
          epoch: epoch + 1,
          step: batch.index + 1,
          steps,
          during: "training",
        };
        for (const c of this.callbacks) await c.onStop?.(this, event);
        return null;
      }
    }
    this.#addSegment(clock, trained);
    return clock;
  }

  /**
   * Ends this call's part of the epoch's steps: the epoch's training seconds so far into its
   * totals, this part's into the run's clock and the call's throughput.
   */
  #addSegment(clock: EpochClock, trained: { images: number; seconds: number }): void {
    this.#partial.seconds = (performance.now() - clock.start) / 1000;
    const seconds = (performance.now() - clock.segmentStart) / 1000;
    this.#elapsed += seconds;
    trained.seconds += seconds;
    trained.images += imagesOf(this.#partial) - clock.imagesBefore;
  }

  /**
   * The epoch's validation (null without validation data), or {@link STOPPED} when a stop
   * request abandoned it: then `onStop` is called, and the loop state (the epoch's totals, the
   * loader at the next epoch) says that the validation is still to run.
   */
  async #validate(): Promise<EvalResult | null | typeof STOPPED> {
    const o = this.#options;
    if (!o.valData) return null;
    const start = performance.now();
    try {
      return await evaluate(this.model, o.valData, {
        batchSize: o.evalBatchSize ?? o.batchSize,
        augment: o.evalAugment ?? evalAugmentOf(o.augment),
        tenCrop: o.tenCrop ?? false,
        loss: this.#loss,
        device: this.device,
        prefetch: o.prefetch,
        signal: this.#stopSignal,
      });
    } catch (error) {
      if (!this.#stopSignal.aborted || error !== this.#stopSignal.reason) throw error;
      const steps = this.loader.batchesPerEpoch;
      const event: StopEvent = {
        epoch: this.#epochsDone + 1,
        step: steps,
        steps,
        during: "validation",
      };
      for (const c of this.callbacks) await c.onStop?.(this, event);
      return STOPPED;
    } finally {
      this.model.train(true);
      this.#elapsed += (performance.now() - start) / 1000;
    }
  }

  /** The epoch's row, and the `onEpochEnd` hooks. */
  async #endEpoch(clock: EpochClock, validation: EvalResult | null): Promise<EvalResult | null> {
    const p = this.#partial;
    this.#epochsDone++;
    const metrics: EpochMetrics = {
      epoch: this.#epochsDone,
      step: this.#step,
      lr: this.optimizer.paramGroups[0].lr,
      trainLoss: p.steps > 0 ? p.lossSum / p.images : NaN,
      trainTop1: p.images > 0 ? p.top1 / p.images : NaN,
      trainTop5: p.images > 0 ? p.top5 / p.images : NaN,
      valLoss: validation?.loss ?? NaN,
      valTop1: validation?.top1 ?? NaN,
      valTop5: validation?.top5 ?? NaN,
      imagesPerSec: imagesOf(p) / p.seconds,
      seconds: (performance.now() - clock.start) / 1000,
      skippedSteps: p.skipped,
    };
    this.#history.push(metrics);
    this.#partial = emptyPartial();
    if (p.skipped > 0) {
      this.log(
        `epoch ${metrics.epoch}: ${plural(p.skipped, "step")} skipped for a non-finite loss`,
      );
    }
    for (const c of this.callbacks) await c.onEpochEnd?.(this, { metrics, validation });
    return validation;
  }

  async #trainStep(batch: LoaderBatch): Promise<void> {
    const device = this.device;
    await tidy(async () => {
      const n = batch.labels.length;
      // The batch goes from the host to every device of the model, never between devices.
      const [x] = replicate(batch.images, batch.batchShape, [device, ...this.model.devices()]);
      const y = fromTypedArray(batch.labels, [n], { device, dtype: "i32" });
      const logits = await this.model.forward(x);
      if (logits.device !== device) {
        throw new Error(`the model returned logits on ${logits.device.label}, not ${device.label}`);
      }
      const loss = this.#loss(logits, y);
      if (loss.size !== 1) {
        throw new RangeError(`the loss function returned shape [${loss.shape}], not one value`);
      }
      const guard = this.#stats;
      guard.begin(loss, n);
      await loss.backward();
      // Every update is checked before any is made; across devices the verdict goes through
      // the host (one wait), on one device it stays on the GPU.
      this.optimizer.check(guard);
      await guard.settle();
      this.optimizer.step({ guard });
      guard.countTopK(logits, y);
      this.optimizer.zeroGrad();
    });
  }

  /** Reads the totals back into the epoch's, calls `onLog`, enforces the non-finite limit. */
  async #drain(at: Pick<LogUpdate, "epoch" | "step" | "steps">): Promise<void> {
    const s = await this.#stats.drain();
    const p = this.#partial;
    p.lossSum += s.lossSum;
    p.steps += s.steps;
    p.images += s.images;
    p.skipped += s.skipped;
    p.skippedImages += s.skippedImages;
    p.top1 += s.top1;
    p.top5 += s.top5;
    this.#nonFinite = { consecutive: s.consecutiveNonFinite, total: s.totalNonFinite };
    const images = imagesOf(p);
    const event = {
      ...at,
      loss: s.steps > 0 ? s.lossSum / s.images : NaN,
      images: images - this.#logged,
      lr: this.optimizer.paramGroups[0].lr,
    };
    this.#logged = images;
    for (const c of this.callbacks) await c.onLog?.(this, event);
    if (s.consecutiveNonFinite >= this.#maxNonFinite) {
      throw new NonFiniteLossError(
        `${s.consecutiveNonFinite} non-finite losses in a row (limit ${this.#maxNonFinite}) at ` +
          `step ${this.#step}: training stopped; their updates were skipped. ` +
          this.lastGoodCheckpointNote() +
          " Try a lower learning rate.",
      );
    }
  }
}

function emptyPartial(): PartialEpoch {
  return {
    lossSum: 0,
    steps: 0,
    images: 0,
    skipped: 0,
    skippedImages: 0,
    top1: 0,
    top5: 0,
    seconds: 0,
  };
}

/** A row read back from JSON, where NaN was written as null. */
function fromJson(row: EpochMetrics): EpochMetrics {
  const out = {} as EpochMetrics;
  for (const [, key] of METRIC_COLUMNS) out[key] = typeof row[key] === "number" ? row[key] : NaN;
  return out;
}

/** Images seen in an epoch so far, accepted or skipped. */
function imagesOf(p: PartialEpoch): number {
  return p.images + p.skippedImages;
}

/** The validation preprocessing implied by a training augmentation: same crop, mean, scale. */
function evalAugmentOf(a: AugmentOptions | undefined): AugmentOptions {
  const out: AugmentOptions = {};
  if (a?.crop !== undefined) out.crop = a.crop;
  if (a?.mean !== undefined) out.mean = a.mean;
  if (a?.scale !== undefined) out.scale = a.scale;
  return out;
}

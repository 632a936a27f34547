/**
 * The training loop: data loader batches → model (training mode) → cross-entropy → backward →
 * SGD, each step inside `tidy`; validation after every epoch; learning-rate reduction on a
 * plateau of the validation top-1 error; metrics (JSONL, CSV, SVG plot), a progress line, and
 * an atomic checkpoint after every epoch; exact resume; a clean stop on an abort signal.
 *
 * ## No per-step readback
 *
 * Reading a value back from the GPU waits for all queued work, so the loop never reads the
 * loss of each step. Instead, after the loss is computed, two tiny kernels run on the GPU
 * (`kernels/sgd.ts`): a *step guard* checks the loss for NaN/±∞ and sets a flag, and adds the
 * loss to running totals; a *top-k counter* adds the batch's top-1/top-5 training errors. Every
 * SGD update kernel of the step reads the flag and does nothing when it is down, so a
 * non-finite loss changes no weight and no velocity, with no host round trip. The totals (a
 * 48-byte buffer) are read back every `logEvery` steps and at the end of each epoch, which
 * also feeds the progress line. The guard counts non-finite losses in a row; when a readback
 * finds `maxConsecutiveNonFinite` or more, training stops with a {@link NonFiniteLossError}
 * and writes no checkpoint, so the run folder's latest checkpoint is the last good one.
 * Skipped steps are reported per epoch (`skipped_steps` in the metrics) and logged.
 *
 * With the model split over two devices, the flag lives on the loss's device; the other
 * device gets a copy through the host (a 4-byte read started right after the guard, awaited
 * after backward — the two-device step already synchronises through the host for the
 * activations and gradients that cross devices).
 *
 * ## Exact resume
 *
 * A checkpoint holds the weights, velocities, scheduler, the model's random generators (the
 * dropout masks) and the loader's position; the loader's shuffles and augmentation draws are
 * pure functions of its seed, epoch and batch index, and the GPU kernels add in a fixed order,
 * so a resumed run computes bit for bit what an uninterrupted run would.
 *
 * @module
 */

import type { Device, GpuBuffer } from "../kernels/device.ts";
import {
  countTopKErrors,
  decodeStepStats,
  initialStepStats,
  STEP_STATS_BYTES,
  STEP_STATS_COUNTERS_FROM,
  STEP_STATS_WORDS,
  stepGuard,
  type StepStats,
} from "../kernels/sgd.ts";
import { noGrad } from "../tensor/_autograd.ts";
import { fromTypedArray } from "../tensor/creation.ts";
import { tidy } from "../tensor/memory.ts";
import { crossEntropy, oneHot } from "../tensor/ops_loss.ts";
import type { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { AugmentOptions } from "./data/augment.ts";
import type { Dataset } from "./data/dataset.ts";
import { DataLoader } from "./data/loader.ts";
import type { Module } from "../nn/module.ts";
import {
  lastGoodCheckpoint,
  type LoadedCheckpoint,
  loadModelWeights,
  loadTrainingCheckpoint,
  type PartialEpoch,
  type SaveCheckpointOptions,
  saveTrainingCheckpoint,
} from "./checkpoint.ts";
import { type PlateauOptions, ReduceLROnPlateau } from "./plateau.ts";
import { writeTrainingPlot } from "./plot_svg.ts";
import { type ProgressOptions, ProgressReporter } from "./progress.ts";
import { appendEpochMetrics, type EpochMetrics, readMetrics, truncateMetrics } from "./run_log.ts";
import { NonFiniteCheckpointError } from "../nn/checkpoint.ts";
import { removeStaleTemps } from "../nn/_atomic.ts";
import { EventLoopTurns } from "./_event_loop.ts";
import { formatLr, pct, plural, showsTop5 } from "./_format.ts";
import { SGD, type SgdFormulation } from "./sgd.ts";

/** What the trainer needs of a model: an `nn` module whose `forward` returns logits. */
export type TrainModel = Module & {
  /** Logits `[N, classes]` on the model's first device. */
  // deno-lint-ignore no-explicit-any
  forward(x: any): Tensor | Promise<Tensor>;
};

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  /** The network. */
  model: TrainModel;
  /** Training images. */
  trainData: Dataset;
  /** Validation images. */
  valData: Dataset;
  /** Train until this many epochs are done (counting those before a resume). */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Initial learning rate. */
  lr: number;
  /** Momentum; default 0.9. */
  momentum?: number;
  /** Weight decay; default 5e-4. */
  weightDecay?: number;
  /** SGD rule; default "paper". */
  formulation?: SgdFormulation;
  /** Seed of the loader's shuffles and augmentation; default 0. */
  seed?: number;
  /** Training augmentation (crop, flip, PCA noise, mean, scale). */
  augment?: AugmentOptions;
  /** Validation preprocessing (crop, mean, scale); flip and PCA are ignored. */
  evalAugment?: AugmentOptions;
  /** Validate with the paper's ten patches instead of the centre crop; default false. */
  tenCrop?: boolean;
  /** Validation batch size (images before ten-cropping); default `batchSize`. */
  evalBatchSize?: number;
  /** Folder for metrics, the plot and checkpoints (created if missing). */
  runDir: string;
  /** Steps between readbacks of the loss totals; default 20. */
  logEvery?: number;
  /** Scheduler options; default patience 2, factor 0.1, on the validation top-1 error. */
  plateau?: Partial<PlateauOptions>;
  /** Stop when this many losses in a row are non-finite; default 10. */
  maxConsecutiveNonFinite?: number;
  /** Random generators whose state is checkpointed (e.g. `{ dropout: model.generator }`). */
  generators?: Record<string, Generator>;
  /** Device of the inputs and logits; default the first parameter's. */
  device?: Device;
  /** Abort to stop after the current step with a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  /** Resume from the run folder's latest checkpoint (or the one given). */
  resume?: boolean | LoadedCheckpoint;
  /** Progress reporter or its options; `false` disables progress and log output. */
  progress?: ProgressReporter | ProgressOptions | false;
  /** Stored in every checkpoint's `extra` (e.g. the run configuration). */
  extra?: Record<string, unknown>;
  /** Checkpoint options (kept count; a file writer for tests). */
  checkpoint?: SaveCheckpointOptions;
  /** Prefetched batches of the loaders; default 2. */
  prefetch?: number;
}

/** Validation results. */
export interface EvalResult {
  /** Mean cross-entropy (of the averaged probabilities with ten crops); NaN if any was. */
  loss: number;
  /** Top-1 error rate. */
  top1: number;
  /** Top-5 error rate. */
  top5: number;
  /** Images evaluated. */
  count: number;
  /** Seconds taken. */
  seconds: number;
  /** Images per second (input images, not crops). */
  imagesPerSec: number;
}

/** What {@link Trainer.run} returns. */
export interface TrainResult {
  /** Completed epochs. */
  epochsDone: number;
  /** Optimiser steps taken since the start of training. */
  step: number;
  /** Whether the run stopped early on the abort signal. */
  interrupted: boolean;
  /** One row per completed epoch of the whole run (resumed runs include earlier epochs). */
  rows: EpochMetrics[];
  /** The last validation, or null if no epoch finished in this call. */
  lastEval: EvalResult | null;
  /** Training throughput over this call's steps. */
  imagesPerSec: number;
  /** Wall-clock seconds of this call. */
  seconds: number;
  /** The run folder. */
  runDir: string;
  /** The latest checkpoint written, or null. */
  checkpoint: string | null;
}

/** Raised when too many losses in a row were NaN or infinite. */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Images per batch (before ten-cropping); default 128. */
  batchSize?: number;
  /** Preprocessing (crop, mean, scale). */
  augment?: AugmentOptions;
  /** Ten patches per image, probabilities averaged; default false (centre crop). */
  tenCrop?: boolean;
  /** Device of the inputs and logits; default the model's first parameter's. */
  device?: Device;
  /** Prefetched batches; default 2. */
  prefetch?: number;
}

/**
 * Validation of a model over a dataset: mean cross-entropy, top-1 and top-5 error, with the
 * centre crop or the paper's ten patches (softmax outputs averaged). The model is put in
 * evaluation mode (and left there). Per batch, the loss and the error counts are accumulated
 * on the GPU; one readback at the end.
 *
 * @example
 * ```ts ignore
 * const r = await evaluate(model, valSet, { batchSize: 100, augment: { crop: 227 }, tenCrop: true });
 * console.log(r.top1, r.top5);
 * ```
 */
export async function evaluate(
  model: TrainModel,
  dataset: Dataset,
  options: EvaluateOptions = {},
): Promise<EvalResult> {
  const device = options.device ?? firstDevice(model);
  const tenCrop = options.tenCrop ?? false;
  const loader = new DataLoader(dataset, {
    batchSize: Math.min(options.batchSize ?? 128, dataset.length),
    shuffle: false,
    augment: { ...(options.augment ?? {}), flip: false, pca: null },
    crops: tenCrop ? "ten" : "center",
    prefetch: options.prefetch ?? 2,
  });
  const stats = device.alloc(STEP_STATS_BYTES, "eval stats");
  device.write(stats, initialStepStats());
  const start = performance.now();
  model.eval();
  try {
    for (let i = 0; i < loader.batchesPerEpoch; i++) {
      const batch = await loader.next();
      await noGrad(() =>
        tidy(async () => {
          const n = batch.labels.length;
          const x = fromTypedArray(batch.images, batch.batchShape, { device });
          const y = fromTypedArray(batch.labels, [n], { device, dtype: "i32" });
          const logits = await model.forward(x);
          const classes = logits.shape[1] as number;
          let scores: Tensor, loss: Tensor;
          if (tenCrop) {
            scores = logits.softmax(1).reshape([n, 10, classes]).mean(1);
            loss = scores.add(1e-12).log().mul(oneHot(y, classes)).sum(1).mean().neg();
          } else {
            scores = logits.isContiguous ? logits : logits.contiguous();
            loss = crossEntropy(logits, y);
          }
          stepGuard(device, loss.storage.buffer, stats, n);
          countTopKErrors(device, scores.storage.buffer, y.storage.buffer, stats, n, classes, {
            guarded: false,
          });
        })
      );
    }
    const s = decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES));
    const seconds = (performance.now() - start) / 1000;
    const count = dataset.length;
    return {
      loss: s.skipped > 0 || s.images === 0 ? NaN : s.lossSum / s.images,
      top1: s.top1 / count,
      top5: s.top5 / count,
      count,
      seconds,
      imagesPerSec: count / seconds,
    };
  } finally {
    loader.close();
    device.release(stats);
  }
}

function firstDevice(model: TrainModel): Device {
  const first = model.namedParameters()[0];
  if (!first) throw new Error("the model has no parameters");
  return first[1].device;
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

/**
 * Trains a model (see the module doc).
 *
 * @example
 * ```ts ignore
 * const trainer = new Trainer({ model, trainData, valData, epochs: 10, batchSize: 128, lr: 0.01,
 *   runDir: "runs/demo", generators: { dropout: model.generator } });
 * const result = await trainer.run();
 * console.log(result.lastEval?.top1);
 * ```
 */
export class Trainer {
  /** The options given. */
  readonly options: TrainerOptions;
  /** The optimiser. */
  readonly optimizer: SGD;
  /** The scheduler. */
  readonly scheduler: ReduceLROnPlateau;
  /** The training loader. */
  readonly loader: DataLoader;
  /** Device of inputs, logits and the step statistics. */
  readonly device: Device;

  #plateauOptions: PlateauOptions;
  #progress: ProgressReporter | null;
  #logEvery: number;
  #maxNonFinite: number;
  #stats: GpuBuffer;
  #flags = new Map<Device, GpuBuffer>();
  #epochsDone = 0;
  #step = 0;
  #partial: PartialEpoch = emptyPartial();
  #elapsed = 0;
  #totalNonFinite = 0;
  #consecutive = 0;
  #lastCheckpoint: string | null = null;
  #windowStart = 0;
  #turns = new EventLoopTurns();

  /** Builds the optimiser, scheduler and loader; {@link Trainer.run} does the work. */
  constructor(options: TrainerOptions) {
    this.options = options;
    const { model } = options;
    if (!Number.isInteger(options.epochs) || options.epochs < 0) {
      throw new RangeError(`epochs must be a non-negative integer, got ${options.epochs}`);
    }
    this.device = options.device ?? firstDevice(model);
    const named = model.namedParameters();
    this.optimizer = new SGD({
      params: named.map(([, p]) => p),
      names: named.map(([n]) => n),
      lr: options.lr,
      momentum: options.momentum ?? 0.9,
      weightDecay: options.weightDecay ?? 5e-4,
      formulation: options.formulation ?? "paper",
    });
    this.#plateauOptions = {
      patience: 2,
      metricName: "val top-1 error",
      ...options.plateau,
      mode: "min",
    };
    this.scheduler = new ReduceLROnPlateau(this.#plateauOptions);
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
    if (options.progress === false) {
      this.#progress = null;
    } else if (options.progress instanceof ProgressReporter) {
      this.#progress = options.progress;
    } else {
      this.#progress = new ProgressReporter({
        everySteps: Math.ceil(100 / this.#logEvery) * this.#logEvery,
        ...options.progress,
      });
    }
    this.#stats = this.device.alloc(STEP_STATS_BYTES, "step stats");
    this.device.write(this.#stats, initialStepStats());
    for (const [, p] of named) {
      if (p.device !== this.device && !this.#flags.has(p.device)) {
        const flag = p.device.alloc(16, "step flag");
        p.device.write(flag, new Uint32Array([1, 0, 0, 0]));
        this.#flags.set(p.device, flag);
      }
    }
  }

  /** Completed epochs. */
  get epochsDone(): number {
    return this.#epochsDone;
  }

  /** Optimiser steps taken. */
  get step(): number {
    return this.#step;
  }

  #log(message: string): void {
    this.#progress?.log(message);
  }

  /** Warnings reach the user even with progress output off. */
  #warn(message: string): void {
    if (this.#progress) this.#progress.log(message);
    else console.warn(message);
  }

  /** Restores the state of a checkpoint (done by `run` when `resume` is set). */
  async restore(ckpt: LoadedCheckpoint): Promise<void> {
    const { state } = ckpt;
    await loadModelWeights(ckpt, this.options.model);
    this.optimizer.loadState(ckpt.optimizer);
    this.scheduler.load(state.scheduler);
    this.loader.restore(state.loader);
    for (const [name, g] of Object.entries(this.options.generators ?? {})) {
      const saved = state.generators[name];
      if (!saved) throw new Error(`checkpoint has no state for the generator "${name}"`);
      g.setState(saved);
    }
    this.#epochsDone = state.epochsDone;
    this.#step = state.step;
    this.#partial = state.partialEpoch ? { ...state.partialEpoch } : emptyPartial();
    this.#elapsed = state.elapsedSeconds;
    this.#totalNonFinite = state.nonFinite.total;
    this.#consecutive = state.nonFinite.consecutive;
    const words = initialStepStats();
    words[1] = state.nonFinite.consecutive;
    words[2] = state.nonFinite.total;
    this.device.write(this.#stats, words);
    this.#lastCheckpoint = ckpt.dir;
  }

  /** Trains until `epochs` are done or the signal aborts. */
  async run(): Promise<TrainResult> {
    const o = this.options;
    const callStart = performance.now();
    await Deno.mkdir(o.runDir, { recursive: true });
    // Temporary files of the pointer, plot and logs that a crash left behind.
    await removeStaleTemps(o.runDir);
    if (o.resume) {
      const ckpt = o.resume === true
        ? await loadTrainingCheckpoint(o.runDir, { warn: (m) => this.#warn(m) })
        : o.resume;
      await this.restore(ckpt);
      // Epochs logged after the checkpoint are about to be redone.
      await truncateMetrics(o.runDir, this.#epochsDone);
      this.#log(
        `resumed from ${ckpt.dir}: ${plural(this.#epochsDone, "epoch")} done, step ${this.#step}` +
          (ckpt.state.partialEpoch ? `, mid-epoch at batch ${ckpt.state.loader.position}` : ""),
      );
    }
    let lastEval: EvalResult | null = null;
    let trainImages = 0, trainSeconds = 0;
    let interrupted = false;
    try {
      while (this.#epochsDone < o.epochs) {
        if (o.signal?.aborted) {
          interrupted = true;
          break;
        }
        const epoch = this.#epochsDone; // 0-based index of the epoch being trained
        o.model.train(true);
        const steps = this.loader.batchesPerEpoch;
        this.#progress?.startEpoch(epoch + 1, steps);
        const epochStart = performance.now() - this.#partial.seconds * 1000;
        const imagesBefore = this.#partial.images + this.#partial.skippedImages;
        const segmentStart = performance.now();
        this.#windowStart = this.#partial.images + this.#partial.skippedImages;
        while (this.loader.epoch === epoch) {
          const batch = await this.loader.next();
          await this.#trainStep(batch.images, batch.batchShape, batch.labels);
          this.#step++;
          // The stop request is checked after every step; signals need the event loop.
          await this.#turns.maybeTurn();
          const done = this.loader.epoch !== epoch;
          const stop = o.signal?.aborted ?? false;
          if (done || stop || (batch.index + 1) % this.#logEvery === 0) {
            await this.#drain(batch.index + 1);
          }
          if (stop && !done) {
            this.#partial.seconds = (performance.now() - epochStart) / 1000;
            trainSeconds += (performance.now() - segmentStart) / 1000;
            trainImages += this.#partial.images + this.#partial.skippedImages - imagesBefore;
            this.#elapsed += (performance.now() - segmentStart) / 1000;
            await this.#checkpoint("interrupt");
            this.#progress?.endEpoch();
            this.#log(
              `interrupted at epoch ${epoch + 1}, batch ${batch.index + 1}/${steps}; ` +
                `checkpoint ${this.#lastCheckpoint}`,
            );
            interrupted = true;
            break;
          }
        }
        if (interrupted) break;
        const trainEnd = performance.now();
        const p = this.#partial;
        const epochTrainSeconds = (trainEnd - epochStart) / 1000;
        trainSeconds += (trainEnd - segmentStart) / 1000;
        trainImages += p.images + p.skippedImages - imagesBefore;
        // Validation.
        lastEval = await evaluate(o.model, o.valData, {
          batchSize: o.evalBatchSize ?? o.batchSize,
          augment: o.evalAugment ?? evalAugmentOf(o.augment),
          tenCrop: o.tenCrop ?? false,
          device: this.device,
          prefetch: o.prefetch,
        });
        o.model.train(true);
        const lr = this.optimizer.lr;
        this.#epochsDone++;
        const row: EpochMetrics = {
          epoch: this.#epochsDone,
          step: this.#step,
          lr,
          trainLoss: p.steps > 0 ? p.lossSum / p.images : NaN,
          trainTop1: p.images > 0 ? p.top1 / p.images : NaN,
          trainTop5: p.images > 0 ? p.top5 / p.images : NaN,
          valLoss: lastEval.loss,
          valTop1: lastEval.top1,
          valTop5: lastEval.top5,
          imagesPerSec: (p.images + p.skippedImages) / epochTrainSeconds,
          seconds: (performance.now() - epochStart) / 1000,
          skippedSteps: p.skipped,
        };
        const decision = this.scheduler.step(lastEval.top1, lr);
        if (decision.lr !== lr) {
          const ratio = decision.lr / lr;
          this.optimizer.groups.forEach((g, i) => this.optimizer.setLearningRate(g.lr * ratio, i));
        }
        this.#progress?.endEpoch(formatEpoch(row, o.tenCrop ?? false, o.trainData.numClasses));
        if (p.skipped > 0) {
          this.#log(
            `epoch ${row.epoch}: ${plural(p.skipped, "step")} skipped for a non-finite loss`,
          );
        }
        if (decision.reason) this.#log(decision.reason);
        await appendEpochMetrics(o.runDir, row);
        await writeTrainingPlot(o.runDir, await readMetrics(o.runDir, { upToEpoch: row.epoch }), {
          title: "AlexNet training",
        });
        this.#elapsed += (performance.now() - segmentStart) / 1000;
        this.#partial = emptyPartial();
        await this.#checkpoint("epoch");
      }
    } finally {
      this.loader.close();
    }
    return {
      epochsDone: this.#epochsDone,
      step: this.#step,
      interrupted,
      rows: await readMetrics(o.runDir, { upToEpoch: this.#epochsDone }),
      lastEval,
      imagesPerSec: trainSeconds > 0 ? trainImages / trainSeconds : NaN,
      seconds: (performance.now() - callStart) / 1000,
      runDir: o.runDir,
      checkpoint: this.#lastCheckpoint,
    };
  }

  /** Frees the optimiser state and the statistics buffers (not the model). */
  dispose(): void {
    this.optimizer.dispose();
    this.device.release(this.#stats);
    for (const [device, flag] of this.#flags) device.release(flag);
    this.#flags.clear();
  }

  async #trainStep(
    images: Float32Array,
    shape: readonly number[],
    labels: Int32Array,
  ): Promise<void> {
    const { model } = this.options;
    const device = this.device;
    await tidy(async () => {
      const n = labels.length;
      const x = fromTypedArray(images, shape, { device });
      const y = fromTypedArray(labels, [n], { device, dtype: "i32" });
      const logits = await model.forward(x);
      if (logits.device !== device) {
        throw new Error(`the model returned logits on ${logits.device.label}, not ${device.label}`);
      }
      const loss = crossEntropy(logits, y);
      stepGuard(device, loss.storage.buffer, this.#stats, n);
      const scores = logits.isContiguous ? logits : logits.contiguous();
      countTopKErrors(
        device,
        scores.storage.buffer,
        y.storage.buffer,
        this.#stats,
        n,
        logits.shape[1] as number,
      );
      // Other devices learn the verdict through the host; the read overlaps backward.
      const flag = this.#flags.size > 0 ? device.read(this.#stats, 0, 4) : null;
      await loss.backward();
      let guard: GpuBuffer | Map<Device, GpuBuffer> = this.#stats;
      if (flag) {
        const bits = new Uint32Array(await flag);
        for (const [other, buffer] of this.#flags) other.write(buffer, bits);
        guard = new Map([[device, this.#stats], ...this.#flags]);
      }
      this.optimizer.step({ guard });
      this.optimizer.zeroGrad();
    });
  }

  /** Reads the GPU totals, zeroes them, folds them into the epoch's totals, reports. */
  async #drain(stepInEpoch: number): Promise<StepStats> {
    const pending = this.device.read(this.#stats, 0, STEP_STATS_BYTES);
    const zero = new Uint32Array(STEP_STATS_WORDS - STEP_STATS_COUNTERS_FROM);
    this.device.write(this.#stats, zero, STEP_STATS_COUNTERS_FROM * 4);
    const s = decodeStepStats(await pending);
    const p = this.#partial;
    p.lossSum += s.lossSum;
    p.steps += s.steps;
    p.images += s.images;
    p.skipped += s.skipped;
    p.skippedImages += s.skippedImages;
    p.top1 += s.top1;
    p.top5 += s.top5;
    this.#totalNonFinite = s.totalNonFinite;
    this.#consecutive = s.consecutiveNonFinite;
    const imagesNow = p.images + p.skippedImages;
    this.#progress?.update({
      step: stepInEpoch,
      loss: s.steps > 0 ? s.lossSum / s.images : NaN,
      lr: this.optimizer.lr,
      images: imagesNow - this.#windowStart,
    });
    this.#windowStart = imagesNow;
    if (s.consecutiveNonFinite >= this.#maxNonFinite) {
      this.#progress?.endEpoch();
      throw new NonFiniteLossError(
        `${s.consecutiveNonFinite} non-finite losses in a row (limit ${this.#maxNonFinite}) at ` +
          `step ${this.#step}: training stopped; their updates were skipped. ` +
          (await this.#lastGood()) + " Try a lower learning rate.",
      );
    }
    return s;
  }

  /** Names the newest checkpoint of the run whose files check out (all finite). */
  async #lastGood(): Promise<string> {
    const good = await lastGoodCheckpoint(this.options.runDir);
    return good ? `The last good checkpoint is ${good}.` : "No good checkpoint was written yet.";
  }

  async #checkpoint(reason: "epoch" | "interrupt"): Promise<void> {
    try {
      await this.#saveCheckpoint(reason);
    } catch (error) {
      // Non-finite weights or velocities: nothing was written; the run cannot continue.
      if (!(error instanceof NonFiniteCheckpointError)) throw error;
      throw new NonFiniteLossError(
        `step ${this.#step}: ${error.message}. ${await this
          .#lastGood()} Try a lower learning rate.`,
      );
    }
  }

  async #saveCheckpoint(reason: "epoch" | "interrupt"): Promise<void> {
    const o = this.options;
    const generators: Record<string, { seed: number; offset: number }> = {};
    for (const [name, g] of Object.entries(o.generators ?? {})) generators[name] = g.state();
    this.#lastCheckpoint = await saveTrainingCheckpoint(
      o.runDir,
      {
        model: o.model,
        optimizer: await this.optimizer.state(),
        state: {
          reason,
          epochsDone: this.#epochsDone,
          step: this.#step,
          loader: this.loader.state(),
          generators,
          scheduler: this.scheduler.state(),
          partialEpoch: reason === "interrupt" ? { ...this.#partial } : null,
          nonFinite: { consecutive: this.#consecutive, total: this.#totalNonFinite },
          elapsedSeconds: this.#elapsed,
          extra: o.extra,
        },
      },
      o.checkpoint,
    );
  }
}

/** The validation preprocessing implied by a training augmentation: same crop, mean, scale. */
function evalAugmentOf(a: AugmentOptions | undefined): AugmentOptions {
  const out: AugmentOptions = {};
  if (a?.crop !== undefined) out.crop = a.crop;
  if (a?.mean !== undefined) out.mean = a.mean;
  if (a?.scale !== undefined) out.scale = a.scale;
  return out;
}

function formatEpoch(r: EpochMetrics, tenCrop: boolean, numClasses: number): string {
  const top5 = showsTop5(numClasses) ? ` top-5 ${pct(r.valTop5)}` : "";
  return `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} top-1 ${pct(r.trainTop1)} | ` +
    `val${tenCrop ? " (10 crops)" : ""} loss ${r.valLoss.toFixed(4)} top-1 ${pct(r.valTop1)}` +
    `${top5} | ${r.imagesPerSec.toFixed(1)} img/s, ${r.seconds.toFixed(1)} s, ` +
    `lr ${formatLr(r.lr)}`;
}

/**
 * Trains with {@link Trainer} and frees its optimiser state afterwards.
 *
 * @example
 * ```ts ignore
 * const result = await train({ model, trainData, valData, epochs: 5, batchSize: 64, lr: 0.01,
 *   runDir: "runs/demo" });
 * ```
 */
export async function train(options: TrainerOptions): Promise<TrainResult> {
  const trainer = new Trainer(options);
  try {
    return await trainer.run();
  } finally {
    trainer.dispose();
  }
}

/**
 * Validation: a model's mean loss and top-1/top-5 error over a dataset, with the centre crop
 * or the paper's ten patches.
 *
 * @module
 */

import { EventLoopTurns } from "./_event_loop.ts";
import { requireLogits } from "./_logits.ts";
import type { Device } from "../tensor/default_device.ts";
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/_autograd.ts";
import { fromTypedArray } from "../tensor/creation.ts";
import { replicateImages } from "../tensor/images.ts";
import { tidy } from "../tensor/memory.ts";
import { checkOptions, optionNames } from "../tensor/options.ts";
import { crossEntropy, oneHot } from "../tensor/ops_loss.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { AugmentOptions } from "./data/augment.ts";
import type { Dataset } from "./data/dataset.ts";
import { DataLoader } from "./data/loader.ts";
import { StepGuard } from "../tensor/step_guard.ts";

/**
 * A loss: logits `[N, classes]` and i32 labels `[N]` to the batch's mean loss, a one-element
 * tensor. `crossEntropy` is the default of the trainer and of {@link evaluate}.
 */
export type LossFunction = (logits: Tensor, labels: Tensor) => Tensor;

/** Validation results. */
export interface EvalResult {
  /** Mean loss (with ten crops: the cross-entropy of the averaged probabilities); NaN if any was. */
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

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Images per batch (before ten-cropping); default 128. */
  batchSize?: number;
  /** Preprocessing (crop, mean, scale); flip and PCA noise are ignored. */
  augment?: AugmentOptions;
  /** Ten patches per image, probabilities averaged; default false (centre crop). */
  tenCrop?: boolean;
  /** The loss of a centre-cropped batch; default `crossEntropy`. */
  loss?: LossFunction;
  /** Device of the inputs and logits; default the model's first parameter's. */
  device?: Device;
  /** Prefetched batches; default 2. */
  prefetch?: number;
  /**
   * Aborting it stops before the next batch: the evaluation rejects with its reason. With a
   * signal the event loop is turned now and then, so that its listeners (Ctrl-C) run.
   */
  signal?: AbortSignal;
}

const EVALUATE_OPTIONS = optionNames<EvaluateOptions>({
  batchSize: true,
  augment: true,
  tenCrop: true,
  loss: true,
  device: true,
  prefetch: true,
  signal: true,
});

/**
 * Validation of a model over a dataset: mean loss, top-1 and top-5 error, with the centre crop
 * or the paper's ten patches (softmax outputs averaged). The model runs in evaluation mode, and
 * every submodule is given back the mode it had (a model in training mode goes on training
 * with dropout on, as after PyTorch's `model.eval()` … `model.train()`). The loss and the error counts are summed on the GPU; one readback at the
 * end.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { evaluate, syntheticSplits } from "./mod.ts";
 * await defaultDevice();
 * const model = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { val } = syntheticSplits({ trainSize: 0, valSize: 16, size: 8, classes: 4 });
 * const r = await evaluate(model, val, { batchSize: 8 });
 * console.log(r.top1, r.top5); // chance: about 0.75, and 0 (four classes)
 * ```
 */
export async function evaluate(
  model: Module,
  dataset: Dataset,
  options: EvaluateOptions = {},
): Promise<EvalResult> {
  checkOptions("evaluate", options, EVALUATE_OPTIONS);
  // (The batch size is capped at the dataset's length: 0 read "batchSize … got 0".)
  if (dataset.length === 0) throw new RangeError("evaluate: the dataset is empty (0 samples)");
  const device = options.device ?? firstDevice(model);
  const tenCrop = options.tenCrop ?? false;
  const lossOf = options.loss ?? crossEntropy;
  const loader = new DataLoader(dataset, {
    batchSize: Math.min(options.batchSize ?? 128, dataset.length),
    shuffle: false,
    augment: { ...(options.augment ?? {}), flip: false, pca: null },
    crops: tenCrop ? "ten" : "center",
    prefetch: options.prefetch ?? 2,
  });
  const turns = options.signal ? new EventLoopTurns() : null;
  const stats = new StepGuard(device);
  const start = performance.now();
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.eval();
  try {
    for (let i = 0; i < loader.batchesPerEpoch; i++) {
      await turns?.maybeTurn();
      options.signal?.throwIfAborted();
      const batch = await loader.next();
      await noGrad(() =>
        tidy(async () => {
          const n = batch.labels.length;
          const [x] = replicateImages(batch.crops, [device, ...model.devices()]);
          const y = fromTypedArray(batch.labels, [n], { device, dtype: "i32" });
          const logits = await model.forward(x);
          requireLogits(
            logits,
            tenCrop ? 10 * n : n,
            tenCrop || lossOf !== crossEntropy,
            dataset.numClasses,
          );
          const classes = logits.shape[1] as number;
          if (tenCrop) {
            const scores = logits.softmax(1).reshape([n, 10, classes]).mean(1);
            const loss = scores.add(1e-12).log().mul(oneHot(y, classes)).sum(1).mean().neg();
            stats.record(loss, scores, y);
          } else {
            stats.record(lossOf(logits, y), logits, y);
          }
        })
      );
    }
    const s = await stats.drain();
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
    // Parents come before their submodules, so each submodule's own mode is set last.
    for (const [m, training] of modes) m.train(training);
    loader.close();
    stats.dispose();
  }
}

/** The device of a model's first parameter: where its inputs go by default. */
export function firstDevice(model: Module): Device {
  const first = model.namedParameters()[0];
  if (!first) throw new Error("the model has no parameters");
  return first[1].device;
}

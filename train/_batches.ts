/**
 * The GPU work of the training loop, batch by batch: one training step (forward, loss,
 * backward, the guarded optimiser update), and the end-of-epoch validation's options, derived
 * from the trainer's.
 *
 * @module
 */

import type { Device } from "../tensor/default_device.ts";
import type { Module } from "../nn/module.ts";
import { fromTypedArray } from "../tensor/creation.ts";
import { replicateImages } from "../tensor/images.ts";
import { tidy } from "../tensor/memory.ts";
import type { StepGuard } from "../tensor/step_guard.ts";
import type { AugmentOptions } from "./data/augment.ts";
import type { LoaderBatch } from "./data/loader.ts";
import type { EvaluateOptions, LossFunction } from "./evaluate.ts";
import type { Optimizer } from "./optimizer.ts";
import { clipGradNorm, type GradNormClip } from "./clip_grad.ts";
import { checkNormArguments } from "../tensor/fused_clip_grad.ts";
import { requireLogits } from "./_logits.ts";
import { crossEntropy } from "../tensor/ops_loss.ts";

/** What a training step works with. */
export interface StepContext {
  /** The network, in training mode. */
  model: Module;
  /** The optimiser of its parameters. */
  optimizer: Optimizer;
  /** The batch's loss. */
  loss: LossFunction;
  /** Device of the inputs, logits and loss. */
  device: Device;
  /** Keeps the step's verdict and the running totals on the GPU. */
  guard: StepGuard;
  /** The gradients' norm clipping before each step, if any. */
  clipGradNorm?: GradNormClip;
  /** The training data's classes: the model needs an output for each. */
  classes: number;
}

/** The trainer's `clipGradNorm` option, checked (a number is a bound on the 2-norm). */
export function gradNormClipOf(
  option: number | GradNormClip | undefined,
): GradNormClip | undefined {
  if (option === undefined) return undefined;
  const clip = typeof option === "number" ? { maxNorm: option } : option;
  checkNormArguments(clip.normType ?? 2, clip.maxNorm, "clipGradNorm");
  return clip;
}

/**
 * One optimiser step on a batch, inside `tidy`: nothing is read back; a non-finite loss,
 * gradient or update leaves every weight and velocity as it was (the guard's verdict).
 */
export async function trainStep(ctx: StepContext, batch: LoaderBatch): Promise<void> {
  const { model, optimizer, device, guard } = ctx;
  await tidy(async () => {
    const n = batch.labels.length;
    // The batch's bytes go from the host to every device of the model, never between devices,
    // and each device crops, mirrors and offsets them itself.
    const [x] = replicateImages(batch.crops, [device, ...model.devices()]);
    const y = fromTypedArray(batch.labels, [n], { device, dtype: "i32" });
    const logits = await model.forward(x);
    if (logits.device !== device) {
      throw new Error(`the model returned logits on ${logits.device.label}, not ${device.label}`);
    }
    requireLogits(logits, n, ctx.loss !== crossEntropy, ctx.classes);
    const loss = ctx.loss(logits, y);
    if (loss.size !== 1) {
      throw new RangeError(`the loss function returned shape [${loss.shape}], not one value`);
    }
    guard.begin(loss, n);
    await loss.backward();
    if (ctx.clipGradNorm) {
      const { maxNorm, normType } = ctx.clipGradNorm;
      const params = optimizer.paramGroups.flatMap((g) => g.params);
      (await clipGradNorm(params, maxNorm, { normType })).dispose();
    }
    // Every update is checked before any is made; across devices the verdict goes through
    // the host (one wait), on one device it stays on the GPU.
    optimizer.check(guard);
    await guard.settle();
    optimizer.step({ guard });
    guard.countTopK(logits, y);
    optimizer.zeroGrad();
  });
}

/** The trainer's options that shape its validation. */
export interface ValidationSettings {
  /** Images per training step: the validation batch size unless `evalBatchSize` is given. */
  batchSize: number;
  /** Validation batch size. */
  evalBatchSize?: number;
  /** Training augmentation, whose crop, mean and scale validation uses by default. */
  augment?: AugmentOptions;
  /** Validation preprocessing. */
  evalAugment?: AugmentOptions;
  /** Ten patches instead of the centre crop. */
  tenCrop?: boolean;
  /** Prefetched batches. */
  prefetch?: number;
}

/** The options of the end-of-epoch `evaluate`. */
export function validationOptions(
  settings: ValidationSettings,
  ctx: Pick<StepContext, "loss" | "device">,
  signal: AbortSignal,
): EvaluateOptions {
  return {
    batchSize: settings.evalBatchSize ?? settings.batchSize,
    augment: settings.evalAugment ?? evalAugmentOf(settings.augment),
    tenCrop: settings.tenCrop ?? false,
    loss: ctx.loss,
    device: ctx.device,
    prefetch: settings.prefetch,
    signal,
  };
}

/** The validation preprocessing implied by a training augmentation: same crop, mean, scale. */
function evalAugmentOf(a: AugmentOptions | undefined): AugmentOptions {
  const out: AugmentOptions = {};
  if (a?.crop !== undefined) out.crop = a.crop;
  if (a?.mean !== undefined) out.mean = a.mean;
  if (a?.scale !== undefined) out.scale = a.scale;
  return out;
}

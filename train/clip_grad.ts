/**
 * Gradient clipping with `torch.nn.utils`' semantics: {@link clipGradNorm} (`clip_grad_norm_`)
 * scales every gradient so that their total norm is at most a bound, and {@link clipGradValue}
 * (`clip_grad_value_`) clamps each element. Both work in place on the device, in a few
 * dispatches for all the parameters (the tensor layer's `clipGradNormAll`/`clipGradValueAll`),
 * and read nothing back unless `errorIfNonfinite` asks. Parameters on two devices combine into
 * one total norm. In a {@link Trainer}, the `clipGradNorm` option clips between backward and
 * the optimiser's step.
 *
 * @module
 */

import { clipGradNormAll, clipGradValueAll } from "../tensor/fused_clip_grad.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options of {@link clipGradNorm}; defaults follow PyTorch. */
export interface ClipGradNormOptions {
  /** The norm's order: a number > 0, or Infinity (the largest |g|); default 2. */
  normType?: number;
  /**
   * Throw (leaving the gradients as they were) when the total norm is NaN or ±∞; this reads
   * the norm back, a wait for the GPU. Default false: the gradients are scaled by it anyway.
   */
  errorIfNonfinite?: boolean;
}

/** A bound on the gradients' total norm and the norm's order: a Trainer's `clipGradNorm`. */
export interface GradNormClip {
  /** The largest total norm. */
  maxNorm: number;
  /** The norm's order: a number > 0, or Infinity; default 2. */
  normType?: number;
}

/**
 * Scales the gradients of `params` in place so that their total norm of order `normType`,
 * taken over all of them as one vector, is at most `maxNorm`: each gradient times
 * min(maxNorm / (norm + 1e-6), 1). Parameters without a gradient are skipped. Returns the total
 * norm before clipping as a 0-d tensor on the first gradient's device (dispose it).
 *
 * @example Clip before the step
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { clipGradNorm, SGD } from "./mod.ts";
 * await defaultDevice();
 * const w = tensor([3, 4], { requiresGrad: true });
 * const opt = new SGD({ params: [w], lr: 0.1, momentum: 0, weightDecay: 0 });
 * const loss = w.mul(w).sum().div(2); // gradient w = [3, 4], norm 5
 * await loss.backward();
 * const norm = await clipGradNorm([w], 1);
 * console.log(await norm.toArray(), await w.grad!.toArray()); // 5 [0.6, 0.8] (about)
 * opt.step();
 * ```
 */
export function clipGradNorm(
  params: readonly Tensor[],
  maxNorm: number,
  options: ClipGradNormOptions = {},
): Promise<Tensor> {
  const normType = options.normType ?? 2;
  return clipGradNormAll(params, maxNorm, {
    normType,
    beforeScaling: options.errorIfNonfinite
      ? async (norm) => {
        const [value] = await norm.data();
        if (!Number.isFinite(value)) {
          throw new RangeError(
            `clipGradNorm: the total norm of order ${normType} of the gradients is ${value}, ` +
              "so they were not clipped (errorIfNonfinite: false scales them by it anyway)",
          );
        }
      }
      : undefined,
  });
}

/**
 * Clamps every element of the gradients of `params` to [−clipValue, clipValue] in place (a
 * NaN stays NaN), as `torch.nn.utils.clip_grad_value_`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { clipGradValue } from "./mod.ts";
 * await defaultDevice();
 * const w = tensor([1, 1], { requiresGrad: true });
 * w.grad = tensor([5, -0.25]);
 * clipGradValue([w], 0.5);
 * console.log(await w.grad.toArray()); // [0.5, -0.25]
 * ```
 */
export function clipGradValue(params: readonly Tensor[], clipValue: number): void {
  clipGradValueAll(params, clipValue);
}

/**
 * Gradient clipping as fused in-place ops on the parameters' gradients, multi-tensor like
 * PyTorch's `foreach` paths: {@link clipGradNormAll} measures the total norm of every gradient
 * and scales them all by min(maxNorm / (norm + 1e-6), 1), and {@link clipGradValueAll} clamps
 * them, each in a few dispatches per device (`kernels/clip_grad.ts`) and with nothing read
 * back. With gradients on several devices, their partial sums meet through the host (4 bytes a
 * device, without the caller waiting) into one total norm.
 *
 * The gradients are changed in place, as PyTorch's `clip_grad_norm_` does. A gradient that is a
 * strided view, or whose data another parameter's gradient shares (autograd may hand two
 * parameters one buffer), is first replaced by a copy of its own, so each is scaled once.
 *
 * @module
 */

import {
  checkNormArguments,
  clampGrads,
  combineNormSums,
  type GradBuffer,
  gradNormFinish,
  gradNormTotal,
  scaleGrads,
} from "../kernels/clip_grad.ts";
import { Device } from "../kernels/device.ts";
import { type RawTensor, requireFloat, type Storage } from "./_core.ts";
import { copyInto, fill, upload } from "./_primitives.ts";
import { checkOptions, optionNames } from "./options.ts";
import { currentDevice } from "./default_device.ts";
import { keep } from "./memory.ts";
import { fromRaw, rawOf, type Tensor } from "./tensor.ts";

export { checkNormArguments } from "../kernels/clip_grad.ts";

/** Options of {@link clipGradNormAll}. */
export interface ClipGradNormAllOptions {
  /** The norm's order: a number > 0, or Infinity (the largest |g|); default 2. */
  normType?: number;
  /**
   * Called with the total norm before any gradient is scaled (the norm is computed on the
   * device; reading it is the callback's choice). Throwing leaves every gradient as it was.
   */
  beforeScaling?: (totalNorm: Tensor) => void | Promise<void>;
}

const CLIP_GRAD_NORM_OPTIONS = optionNames<ClipGradNormAllOptions>({
  normType: true,
  beforeScaling: true,
});

/**
 * Each device's gradients of `params` (parameters without one are skipped), in the order the
 * devices first appear; a gradient that is a view or shares its data with another is replaced
 * by a contiguous copy of its own first.
 */
function gradsByDevice(op: string, params: readonly Tensor[]): Map<Device, GradBuffer[]> {
  const out = new Map<Device, GradBuffer[]>();
  const seen = new Set<Storage>();
  const handles = new Set<Tensor>();
  for (const p of params) {
    if (!p.grad) continue;
    requireFloat(op, p.grad);
    if (p.grad.device !== p.device) {
      throw new Error(`${op}: a gradient is on ${p.grad.device.label}, its parameter elsewhere`);
    }
    let raw = rawOf(p.grad);
    if (!raw.isContiguous || seen.has(raw.storage)) {
      const own = ownCopy(raw);
      // A handle that an earlier parameter holds as its gradient too stays alive for it.
      if (!handles.has(p.grad)) p.grad.dispose();
      p.grad = keep(fromRaw(own));
      raw = own;
    }
    seen.add(raw.storage);
    handles.add(p.grad);
    const list = out.get(raw.device) ?? [];
    list.push({ grad: raw.buffer, n: raw.size });
    out.set(raw.device, list);
  }
  return out;
}

/** A contiguous copy of `x` in storage of its own. */
function ownCopy(x: RawTensor): RawTensor {
  const out = fill(x.device, x.shape, 0);
  copyInto(x, out, 0);
  return out;
}

/**
 * Scales the gradients of `params` in place so that their total norm is at most `maxNorm`
 * (PyTorch's `clip_grad_norm_`): the norm ‖g‖ of order `normType` over all of them as one
 * vector, and every gradient times min(maxNorm / (‖g‖ + 1e-6), 1). Returns the total norm
 * before clipping, a 0-d tensor on the first gradient's device (NaN or ∞ when a gradient is).
 * Nothing is read back unless `beforeScaling` reads it.
 *
 * @example
 * ```ts
 * import { clipGradNormAll, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const a = tensor([1, 1], { requiresGrad: true }), b = tensor([1], { requiresGrad: true });
 * a.grad = tensor([3, 0]);
 * b.grad = tensor([4]);
 * const norm = await clipGradNormAll([a, b], 1);
 * console.log(await norm.toArray(), await a.grad.toArray()); // 5 [0.6, 0] (about)
 * ```
 */
export function clipGradNormAll(
  params: readonly Tensor[],
  maxNorm: number,
  options: ClipGradNormAllOptions = {},
): Promise<Tensor> {
  const op = "clipGradNorm";
  checkOptions(op, options, CLIP_GRAD_NORM_OPTIONS);
  const normType = options.normType ?? 2;
  checkNormArguments(normType, maxNorm, op);
  const groups = gradsByDevice(op, params);
  if (groups.size === 0) {
    return Promise.resolve(fromRaw(fill(params[0]?.device ?? currentDevice(), [], 0)));
  }
  const devices = [...groups.keys()];
  const stats = devices.map((d) => upload(d, new Float32Array(4), [4], "f32", "clip statistics"));
  const norms = devices.map((d) => fill(d, [], 0));
  devices.forEach((d, k) => {
    gradNormTotal(d, groups.get(d)!, normType, maxNorm, stats[k].buffer, norms[k].buffer);
  });
  if (devices.length > 1) {
    const buffers = stats.map((s) => s.buffer);
    // A failure stops the devices; their next read or sync raises it, naming the device.
    Device.combineAcross(buffers, 4, buffers, combineNormSums(normType)).catch(() => {});
    devices.forEach((d, k) => {
      gradNormFinish(d, normType, maxNorm, stats[k].buffer, norms[k].buffer);
    });
  }
  const total = fromRaw(norms[0].alias());
  for (const n of norms) n.dispose();
  const scale = () => {
    devices.forEach((d, k) => scaleGrads(d, groups.get(d)!, stats[k].buffer));
    for (const s of stats) s.dispose();
    return total;
  };
  const { beforeScaling } = options;
  // Without a callback the scaling is recorded now: an optimiser step recorded next sees it,
  // awaited or not.
  if (!beforeScaling) return Promise.resolve(scale());
  return (async () => {
    try {
      await beforeScaling(total);
    } catch (error) {
      total.dispose();
      for (const s of stats) s.dispose();
      throw error;
    }
    return scale();
  })();
}

/**
 * Clamps every element of the gradients of `params` to [−clipValue, clipValue] in place
 * (PyTorch's `clip_grad_value_`; a NaN stays NaN), in a few dispatches per device.
 *
 * @example
 * ```ts
 * import { clipGradValueAll, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const w = tensor([1, 1, 1], { requiresGrad: true });
 * w.grad = tensor([-3, 0.5, 2]);
 * clipGradValueAll([w], 1);
 * console.log(await w.grad.toArray()); // [-1, 0.5, 1]
 * ```
 */
export function clipGradValueAll(params: readonly Tensor[], clipValue: number): void {
  const op = "clipGradValue";
  if (!(clipValue >= 0) || !Number.isFinite(clipValue)) {
    throw new RangeError(`${op}: clipValue must be a finite number ≥ 0, got ${clipValue}`);
  }
  for (const [device, grads] of gradsByDevice(op, params)) clampGrads(device, grads, clipValue);
}

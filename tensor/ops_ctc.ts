/**
 * The connectionist temporal classification loss, `F.ctc_loss` (Graves et al., 2006): the
 * negative log-likelihood of a label sequence summed over every alignment of it to the input
 * frames, by the forward (alpha) recursion in log space, composed of tensor ops so that
 * autograd gives the gradient.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { noGrad } from "./_autograd.ts";
import { tensor } from "./creation.ts";
import { tidy } from "./memory.ts";
import { concat, stack } from "./ops_shape.ts";
import { type Shape, ShapeError } from "./shape.ts";
import { Tensor, tensorArgument } from "./tensor.ts";

type F32 = Tensor<Shape, "f32">;
type I32 = Tensor<Shape, "i32">;

/**
 * The log-probability of an impossible path. Finite, so that no `∞ − ∞` turns a gradient into
 * NaN; any sum with it stays it in f32. A loss above {@link IMPOSSIBLE} is an infinite one.
 */
const NEVER = -1e30;
const IMPOSSIBLE = 1e29;

/** The options of {@link ctcLoss}. */
export interface CtcLossOptions {
  /**
   * `"mean"` (default: each sample's loss divided by its target length, at least 1, then the
   * mean over the batch, as PyTorch), `"sum"`, or `"none"` (the `[N]` losses).
   */
  reduction?: "mean" | "sum" | "none";
  /** The blank label (default 0). */
  blank?: number;
  /** Whether infinite losses (no alignment exists) and their gradients become 0 (default false). */
  zeroInfinity?: boolean;
}

/**
 * The CTC loss of `logProbs` (`[T, N, C]` log-probabilities, usually a `logSoftmax` over C; or
 * `[T, C]` for one unbatched sample) against i32 `targets`, either `[N, S]` padded rows or the
 * targets of every sample concatenated (1-D, `Σ targetLengths` long); `inputLengths` and
 * `targetLengths` give each sample's frames (≤ T) and labels. A sample whose labels cannot be
 * aligned to its frames has an infinite loss (0 with `zeroInfinity`).
 *
 * As PyTorch's native kernel, the gradient with respect to `logProbs` is `exp(lp) − γ` (γ the
 * alignments' posterior occupancy of each frame and class) rather than `−γ`: the two agree on
 * the gradient of the logits when `logProbs = logSoftmax(logits)`, the intended use.
 *
 * @example
 * ```ts
 * import { ctcLoss, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * // Two frames, classes {blank, a}, uniform: "a" is aligned as "a-", "-a" or "aa", 3 of 4 paths.
 * const logProbs = tensor([[[Math.log(0.5), Math.log(0.5)]], [[Math.log(0.5), Math.log(0.5)]]]);
 * const loss = ctcLoss(logProbs, tensor([[1]], { dtype: "i32" }), [2], [1], { reduction: "sum" });
 * console.log(await loss.item()); // 0.2876… (−log 3/4)
 * ```
 */
export function ctcLoss(
  logProbs: Tensor,
  targets: Tensor,
  inputLengths: readonly number[],
  targetLengths: readonly number[],
  options: CtcLossOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("ctcLoss", logProbs);
  const op = "ctcLoss";
  const { reduction = "mean", blank = 0, zeroInfinity = false } = options;
  const unknown = Object.keys(options).find((k) =>
    !["reduction", "blank", "zeroInfinity"].includes(k)
  );
  if (unknown !== undefined) throw new TypeError(`${op}: unknown option "${unknown}"`);
  if (!["mean", "sum", "none"].includes(reduction)) {
    throw new TypeError(`${op}: reduction must be "mean", "sum" or "none", got "${reduction}"`);
  }
  if (!(logProbs instanceof Tensor) || !(targets instanceof Tensor)) {
    throw new TypeError(`${op}: logProbs and targets must be tensors`);
  }
  requireFloat(op, logProbs);
  sameDevice(op, logProbs, targets);
  if (targets.dtype !== "i32") {
    throw new TypeError(`${op}: targets must be i32, got ${targets.dtype}`);
  }
  if (logProbs.rank === 2) {
    // One unbatched sample: [T, C] against [S] targets, a batch of one, its loss unbatched back.
    return tidy(() => {
      const loss = ctcLoss(
        logProbs.unsqueeze(1),
        targets.reshape([1, targets.size]),
        inputLengths,
        targetLengths,
        options,
      );
      return loss.rank === 0 ? loss : loss.reshape([]);
    });
  }
  if (logProbs.rank !== 3) {
    throw new ShapeError(`${op}: logProbs must be [T, N, C] or [T, C], got [${logProbs.shape}]`);
  }
  const [frames, batch, classes] = logProbs.shape as readonly number[];
  const lengths = (name: string, list: readonly number[], max: number) => {
    if (!Array.isArray(list) || list.length !== batch) {
      throw new TypeError(`${op}: ${name} must be ${batch} numbers (one a sample)`);
    }
    const bad = list.find((v) => !Number.isInteger(v) || v < 0 || v > max);
    if (bad !== undefined) throw new RangeError(`${op}: ${name} holds ${bad}, not in [0, ${max}]`);
  };
  lengths("inputLengths", inputLengths, frames);
  if (!(Number.isInteger(blank) && blank >= 0 && blank < classes)) {
    throw new RangeError(`${op}: blank ${blank} is not a class of [0, ${classes})`);
  }
  const padded = paddedTargets(op, targets, targetLengths, batch);
  lengths("targetLengths", targetLengths, padded.shape[1] as number);
  return tidy(() => {
    const lp = logProbs as F32;
    const perSample = negativeLogLikelihood(lp, padded, inputLengths, targetLengths, blank);
    // PyTorch's gradient adds exp(lp) on each sample's frames: a term of value 0.
    const frameMask = tensor(
      Array.from({ length: frames }, (_, t) => inputLengths.map((n) => (t < n ? 1 : 0))),
      { device: lp.device },
    ).unsqueeze(2);
    const mass = lp.exp().mul(frameMask).sum([0, 2]);
    let losses = perSample.add(mass.sub(noGrad(() => mass.detach())));
    const infinite = noGrad(() => perSample.gt(IMPOSSIBLE));
    losses = losses.where(infinite.eq(0), zeroInfinity ? 0 : Infinity) as F32;
    if (reduction === "none") return losses;
    if (reduction === "sum") return losses.sum();
    const divisors = tensor(targetLengths.map((n) => Math.max(n, 1)), { device: lp.device });
    return losses.div(divisors).mean();
  });
}

/** The targets as `[N, S]` padded rows (from the concatenated 1-D form if need be). */
function paddedTargets(
  op: string,
  targets: Tensor,
  targetLengths: readonly number[],
  batch: number,
): I32 {
  if (targets.rank === 2) {
    if (targets.shape[0] !== batch) {
      throw new ShapeError(`${op}: targets [${targets.shape}] do not have ${batch} rows`);
    }
    return targets as I32;
  }
  if (targets.rank !== 1) {
    throw new ShapeError(
      `${op}: targets must be [N, S] or 1-D concatenated, got [${targets.shape}]`,
    );
  }
  const total = targetLengths.reduce((a, b) => a + b, 0);
  if (targets.size !== total) {
    throw new ShapeError(
      `${op}: concatenated targets hold ${targets.size} labels, targetLengths sum to ${total}`,
    );
  }
  const longest = Math.max(1, ...targetLengths);
  let offset = 0;
  const index = targetLengths.map((n) => {
    const row = Array.from({ length: longest }, (_, k) => offset + Math.min(k, Math.max(n - 1, 0)));
    offset += n;
    return row;
  });
  if (total === 0) {
    return tensor(index.map((row) => row.map(() => 0)), { dtype: "i32", device: targets.device });
  }
  const at = tensor(index.map((row) => row.map((i) => Math.min(i, total - 1))), {
    dtype: "i32",
    device: targets.device,
  });
  return tidy(() => (targets as I32).gather(0, at.flatten()).reshape([batch, longest]) as I32);
}

/**
 * Each sample's −log p(target | input): the alpha recursion over the extended labels
 * (blank, y₁, blank, y₂, …, blank), `[N]`.
 */
function negativeLogLikelihood(
  lp: F32,
  targets: I32,
  inputLengths: readonly number[],
  targetLengths: readonly number[],
  blank: number,
): F32 {
  const [frames, batch] = lp.shape as readonly number[];
  const longest = targets.shape[1] as number;
  const positions = 2 * longest + 1;
  const device = lp.device;
  // Column k + 1 of the targets with a blank column last: the extended labels by gathering.
  const withBlank = concat(
    [targets, tensor(Array.from({ length: batch }, () => [blank]), { dtype: "i32", device })],
    1,
  ) as I32;
  const columnOf = (s: number) => (s >= 0 && s % 2 === 1 ? (s - 1) / 2 : longest);
  const gatherColumns = (shift: number) => {
    const columns = Array.from({ length: positions }, (_, s) => columnOf(s - shift));
    const index = tensor(Array.from({ length: batch }, () => columns), { dtype: "i32", device });
    return withBlank.gather(1, index) as I32;
  };
  const labels = gatherColumns(0); // [N, L]
  // A skip from s − 2 is allowed onto a label that is not blank and differs from label s − 2.
  const skips = labels.eq(blank).neg().add(1).mul(labels.eq(gatherColumns(2)).neg().add(1));
  const skipPenalty = skips.neg().add(1).mul(NEVER);
  // The emissions of the extended labels at each frame: [T, N, L].
  const emissions = lp.gather(2, labels.unsqueeze(0).expand([frames, batch, positions])) as F32;
  const startMask = tensor(
    Array.from({ length: positions }, (_, s) => (s < 2 ? 0 : NEVER)),
    { device },
  );
  const never = (width: number) =>
    tensor(Array.from({ length: batch }, () => Array(width).fill(NEVER)), { device });
  let alpha = emissions.slice(0, 0, 1).reshape([batch, positions]).add(startMask) as F32;
  for (let t = 1; t < frames; t++) {
    const stay = alpha;
    const step = concat([never(1), alpha.slice(1, 0, positions - 1)], 1) as F32;
    const skip = (positions > 2
      ? concat([never(2), alpha.slice(1, 0, positions - 2)], 1)
      : never(positions)) as F32;
    const reach = stack([stay, step, skip.add(skipPenalty)], 0).logsumexp(0);
    const next = reach.add(emissions.slice(0, t, t + 1).reshape([batch, positions]));
    const active = tensor(inputLengths.map((n) => [t < n ? 1 : 0]), { device });
    alpha = next.where(active, alpha) as F32;
  }
  // The paths end on the last label or the blank after it: positions 2·len and 2·len − 1.
  const ends = tensor(targetLengths.map((n) => [2 * n, Math.max(2 * n - 1, 0)]), {
    dtype: "i32",
    device,
  });
  const endPenalty = tensor(targetLengths.map((n) => [0, n > 0 ? 0 : NEVER]), { device });
  const last = alpha.gather(1, ends).add(endPenalty) as F32;
  // A sample of no frames has no path (its alpha is the start's, taken from frame 0).
  const noFrames = tensor(inputLengths.map((n) => (n === 0 ? NEVER : 0)), { device });
  return last.logsumexp(1).add(noFrames).neg() as F32;
}

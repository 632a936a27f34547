/**
 * Learning-rate schedules with `torch.optim.lr_scheduler`'s semantics: {@link StepLR},
 * {@link MultiStepLR}, {@link ExponentialLR}, {@link CosineAnnealingLR}, {@link LinearLR}
 * (warm-up), {@link ConstantLR}, {@link PolynomialLR}, {@link LambdaLR} and
 * {@link MultiplicativeLR}, over the {@link LRScheduler} base (`one_cycle_lr.ts` and
 * `sequential_lr.ts` build on it too).
 *
 * As in PyTorch, a scheduler takes each group's learning rate at construction as its base
 * (`initial_lr`, shared by every scheduler of the group), applies epoch 0 at once (only
 * LinearLR changes it), and each `step()` advances one epoch, computing the new rate from the
 * group's current one (PyTorch's chainable form). So schedulers compose as PyTorch's do: two
 * stepped each epoch multiply their effects, and {@link ReduceLROnPlateau}'s cuts carry
 * through, since each step scales whatever rate the group holds.
 *
 * As a {@link TrainerCallback} a scheduler steps after each epoch (PyTorch's default of one
 * step an epoch, after the optimiser's steps), or after each optimiser step with
 * `interval: "step"` (OneCycleLR's default), and keeps its state in checkpoints under its
 * `name` (its class's name unless set: two of one class need their own). The groups' rates
 * travel with the optimiser's state dict, so a resume continues the schedule exactly.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { TrainerCallback } from "./callback.ts";
import type { LearningRateGroups } from "./plateau.ts";

/** A scheduler's state for a checkpoint (JSON), PyTorch's `state_dict()` less the optimiser. */
export interface LRSchedulerState {
  /** Epochs stepped (PyTorch's `last_epoch`; 0 after construction). */
  lastEpoch: number;
  /** Each group's base learning rate (`initial_lr`). */
  baseLrs: number[];
  /** Each group's learning rate after the last step. */
  lastLr: number[];
}

/** Options every scheduler takes. */
export interface LRSchedulerOptions {
  /**
   * Its key in a checkpoint's callback states; default the class's name ("StepLR", ...). Two
   * schedulers of one class in a Trainer with checkpoints need names of their own.
   */
  name?: string;
  /**
   * When a Trainer steps it: after each epoch (default) or after each optimiser step (the
   * schedule's "epochs" are then steps).
   */
  interval?: "epoch" | "step";
}

/** Each group's base learning rate, set by the first scheduler of the group (`initial_lr`). */
const initialLr = new WeakMap<object, number>();

/**
 * A learning-rate schedule over an optimiser's groups, stepped once an epoch. A subclass gives
 * {@link LRScheduler.nextLr}, the new rate of one group from its current rate (PyTorch's
 * chainable `get_lr`).
 *
 * @example A schedule of one's own: halve the rate every third epoch
 * ```ts
 * import { LRScheduler } from "./lr_scheduler.ts";
 * class EveryThird extends LRScheduler {
 *   protected nextLr(lr: number): number {
 *     return this.lastEpoch > 0 && this.lastEpoch % 3 === 0 ? lr / 2 : lr;
 *   }
 * }
 * const optimizer = { paramGroups: [{ lr: 0.1 }] };
 * const sched = new EveryThird(optimizer);
 * for (let e = 0; e < 6; e++) sched.step();
 * console.log(sched.lastLr); // [0.025]
 * ```
 */
export abstract class LRScheduler implements TrainerCallback {
  /** Its key in a checkpoint's callback states. */
  readonly name: string;
  /** The optimiser whose groups' rates it sets. */
  readonly optimizer: LearningRateGroups;
  /** Each group's base learning rate. */
  baseLrs: number[];
  /** When a Trainer steps it: after each epoch or after each optimiser step. */
  readonly interval: "epoch" | "step";
  #lastEpoch = 0;
  #lastLr: number[];

  /**
   * Takes each group's base rate and applies epoch 0.
   *
   * @param optimizer Any optimiser (an object with `paramGroups`).
   * @param options The checkpoint name.
   */
  constructor(optimizer: LearningRateGroups, options: LRSchedulerOptions = {}) {
    this.name = options.name ?? (this.constructor.name || "lr_scheduler");
    this.interval = options.interval ?? "epoch";
    if (this.interval !== "epoch" && this.interval !== "step") {
      throw new RangeError(`${this.name}: interval must be "epoch" or "step"`);
    }
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((g) => {
      if (!initialLr.has(g)) initialLr.set(g, g.lr);
      return initialLr.get(g)!;
    });
    this.#lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Epochs stepped (PyTorch's `last_epoch`). */
  get lastEpoch(): number {
    return this.#lastEpoch;
  }

  /** Each group's learning rate after the last step (PyTorch's `get_last_lr()`). */
  get lastLr(): number[] {
    return [...this.#lastLr];
  }

  /**
   * The new rate of group `index` at epoch {@link LRScheduler.lastEpoch} (already advanced),
   * from its current rate `lr`.
   */
  protected abstract nextLr(lr: number, index: number): number;

  /**
   * Sets each group's base rate (PyTorch's `initial_lr`, which the group's later schedulers
   * take as theirs too).
   */
  protected setBaseLrs(lrs: readonly number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => initialLr.set(g, lrs[i]));
    this.baseLrs = [...lrs];
  }

  /**
   * The rate of group `index` at epoch 0 from its base rate (the closed form at epoch 0, which
   * PyTorch's `step(0)` applies); `lr` is the group's current rate. Default the base rate.
   */
  protected startLr(_lr: number, index: number): number {
    return this.baseLrs[index];
  }

  /** Applies epoch 0; subclasses call it at the end of their constructor, as PyTorch does. */
  protected start(): void {
    this.#apply((lr, i) => this.nextLr(lr, i));
  }

  /** Advances one epoch and sets every group's learning rate. */
  step(): void {
    this.#lastEpoch += 1;
    this.#apply((lr, i) => this.nextLr(lr, i));
  }

  /**
   * Sets the epoch to `epoch` and every group's rate from {@link LRScheduler.nextLr} (what
   * PyTorch's `step(epoch)` does for a schedule that is a closed form of the epoch).
   */
  protected jumpTo(epoch: number): void {
    this.#lastEpoch = epoch;
    this.#apply((lr, i) => this.nextLr(lr, i));
  }

  /**
   * Starts the schedule over: epoch 0, each group's rate the schedule's first from its base
   * rate (PyTorch's `step(0)`). `SequentialLR` calls it at a milestone.
   */
  restart(): void {
    this.#lastEpoch = 0;
    this.#apply((lr, i) => this.startLr(lr, i));
  }

  #apply(rate: (lr: number, index: number) => number): void {
    const groups = this.optimizer.paramGroups;
    const next = groups.map((g, i) => rate(g.lr, i));
    groups.forEach((g, i) => (g.lr = next[i]));
    this.#lastLr = next;
  }

  /** As a training-loop callback: one step after each epoch (`interval` "epoch"). */
  onEpochEnd(): void {
    if (this.interval === "epoch") this.step();
  }

  /** As a training-loop callback: one step after each optimiser step (`interval` "step"). */
  onStepEnd(): void {
    if (this.interval === "step") this.step();
  }

  /** The state for a checkpoint (JSON). */
  stateDict(): LRSchedulerState {
    return { lastEpoch: this.#lastEpoch, baseLrs: [...this.baseLrs], lastLr: this.lastLr };
  }

  /**
   * Restores a state from {@link LRScheduler.stateDict} (the groups' rates come with the
   * optimiser's state dict, as in PyTorch).
   */
  loadStateDict(state: LRSchedulerState): void {
    const groups = this.optimizer.paramGroups.length;
    const { lastEpoch, baseLrs, lastLr } = state ?? {};
    if (!Number.isInteger(lastEpoch) || lastEpoch < 0) {
      throw new TypeError(`invalid ${this.name} state: lastEpoch = ${lastEpoch}`);
    }
    for (const [key, list] of [["baseLrs", baseLrs], ["lastLr", lastLr]] as const) {
      if (!Array.isArray(list) || list.length !== groups || list.some((x) => !Number.isFinite(x))) {
        throw new TypeError(`invalid ${this.name} state: ${key} must be ${groups} finite numbers`);
      }
    }
    this.#lastEpoch = lastEpoch;
    this.baseLrs = [...baseLrs];
    this.#lastLr = [...lastLr];
  }
}

function requirePositiveInteger(what: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${what} must be an integer ≥ 1, got ${value}`);
  }
}

function requireFactor(what: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${what} must be a finite number ≥ 0, got ${value}`);
  }
}

/**
 * `torch.optim.lr_scheduler.StepLR`: multiplies the rate by `gamma` every `stepSize` epochs,
 * lr = base · gamma^⌊epoch / stepSize⌋.
 *
 * @example
 * ```ts
 * import { StepLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 0.1 }] };
 * const sched = new StepLR(optimizer, { stepSize: 2, gamma: 0.5 });
 * const lrs = [];
 * for (let e = 0; e < 5; e++) { lrs.push(optimizer.paramGroups[0].lr); sched.step(); }
 * console.log(lrs); // [0.1, 0.1, 0.05, 0.05, 0.025]
 * ```
 */
export class StepLR extends LRScheduler {
  /** Epochs between cuts. */
  readonly stepSize: number;
  /** The factor of each cut. */
  readonly gamma: number;

  /**
   * A step schedule of `optimizer`'s groups.
   *
   * @param options `stepSize` epochs between cuts; `gamma` default 0.1.
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { stepSize: number; gamma?: number } & LRSchedulerOptions,
  ) {
    super(optimizer, options);
    checkOptions(
      "StepLR",
      options,
      optionNames<typeof options>({ stepSize: true, gamma: true, name: true, interval: true }),
    );
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    requirePositiveInteger("StepLR: stepSize", this.stepSize);
    requireFactor("StepLR: gamma", this.gamma);
    this.start();
  }

  /** The rate times gamma on a multiple of `stepSize`. */
  protected nextLr(lr: number): number {
    const e = this.lastEpoch;
    return e === 0 || e % this.stepSize !== 0 ? lr : lr * this.gamma;
  }
}

/**
 * `torch.optim.lr_scheduler.MultiStepLR`: multiplies the rate by `gamma` at each milestone
 * epoch (a milestone given twice cuts twice).
 *
 * @example
 * ```ts
 * import { MultiStepLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new MultiStepLR(optimizer, { milestones: [2, 4], gamma: 0.1 });
 * for (let e = 0; e < 4; e++) sched.step();
 * console.log(sched.lastLr); // [0.010000000000000002]
 * ```
 */
export class MultiStepLR extends LRScheduler {
  /** Epochs at which the rate is cut, sorted. */
  readonly milestones: readonly number[];
  /** The factor of each cut. */
  readonly gamma: number;

  /**
   * A milestone schedule of `optimizer`'s groups.
   *
   * @param options `milestones` (epochs); `gamma` default 0.1.
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { milestones: readonly number[]; gamma?: number } & LRSchedulerOptions,
  ) {
    super(optimizer, options);
    checkOptions(
      "MultiStepLR",
      options,
      optionNames<typeof options>({ milestones: true, gamma: true, name: true, interval: true }),
    );
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    for (const m of this.milestones) requirePositiveInteger("MultiStepLR: a milestone", m);
    requireFactor("MultiStepLR: gamma", this.gamma);
    this.start();
  }

  /** The rate times gamma once for each milestone at this epoch. */
  protected nextLr(lr: number): number {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    return hits === 0 ? lr : lr * this.gamma ** hits;
  }
}

/**
 * `torch.optim.lr_scheduler.ExponentialLR`: multiplies the rate by `gamma` every epoch.
 *
 * @example
 * ```ts
 * import { ExponentialLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new ExponentialLR(optimizer, { gamma: 0.5 });
 * sched.step();
 * sched.step();
 * console.log(optimizer.paramGroups[0].lr); // 0.25
 * ```
 */
export class ExponentialLR extends LRScheduler {
  /** The factor of each epoch. */
  readonly gamma: number;

  /**
   * An exponential decay of `optimizer`'s groups.
   *
   * @param options `gamma`, the factor of each epoch.
   */
  constructor(optimizer: LearningRateGroups, options: { gamma: number } & LRSchedulerOptions) {
    super(optimizer, options);
    checkOptions(
      "ExponentialLR",
      options,
      optionNames<typeof options>({ gamma: true, name: true, interval: true }),
    );
    this.gamma = options.gamma;
    requireFactor("ExponentialLR: gamma", this.gamma);
    this.start();
  }

  /** The rate times gamma (epoch 0 keeps it). */
  protected nextLr(lr: number): number {
    return this.lastEpoch === 0 ? lr : lr * this.gamma;
  }
}

/**
 * `torch.optim.lr_scheduler.CosineAnnealingLR`: the rate follows a cosine from the base to
 * `etaMin` over `tMax` epochs, and back up over the next `tMax` (SGDR without restarts):
 *
 *   lr(e) = etaMin + (base − etaMin) · (1 + cos(π·e / tMax)) / 2
 *
 * computed, as PyTorch does, from the group's current rate (so other schedulers' and
 * ReduceLROnPlateau's changes carry through):
 * lr(e) = etaMin + (lr(e−1) − etaMin) · (1 + cos(π·e/tMax)) / (1 + cos(π·(e−1)/tMax)), and at
 * the bottom of each period, where that ratio is 0/0,
 * lr(e) = lr(e−1) + (base − etaMin) · (1 − cos(π/tMax)) / 2.
 *
 * @example
 * ```ts
 * import { CosineAnnealingLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new CosineAnnealingLR(optimizer, { tMax: 2 });
 * sched.step();
 * console.log(optimizer.paramGroups[0].lr.toFixed(6)); // "0.500000"
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs from the base rate to `etaMin`. */
  readonly tMax: number;
  /** The lowest rate. */
  readonly etaMin: number;

  /**
   * A cosine schedule of `optimizer`'s groups.
   *
   * @param options `tMax` epochs a half period; `etaMin` default 0.
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { tMax: number; etaMin?: number } & LRSchedulerOptions,
  ) {
    super(optimizer, options);
    checkOptions(
      "CosineAnnealingLR",
      options,
      optionNames<typeof options>({ tMax: true, etaMin: true, name: true, interval: true }),
    );
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    requirePositiveInteger("CosineAnnealingLR: tMax", this.tMax);
    requireFactor("CosineAnnealingLR: etaMin", this.etaMin);
    this.start();
  }

  /** PyTorch's recursive step (see the class notes). */
  protected nextLr(lr: number, index: number): number {
    const [e, t, min] = [this.lastEpoch, this.tMax, this.etaMin];
    if (e === 0) return lr;
    if (((e - 1 - t) % (2 * t) + 2 * t) % (2 * t) === 0) {
      return lr + (this.baseLrs[index] - min) * (1 - Math.cos(Math.PI / t)) / 2;
    }
    return (1 + Math.cos(Math.PI * e / t)) / (1 + Math.cos(Math.PI * (e - 1) / t)) *
        (lr - min) + min;
  }
}

/**
 * `torch.optim.lr_scheduler.LinearLR`, the usual warm-up: the rate goes linearly from
 * base · `startFactor` at epoch 0 to base · `endFactor` at epoch `totalIters`, then stays.
 *
 * @example Warm up over 4 epochs from a quarter of the rate
 * ```ts
 * import { LinearLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 0.4 }] };
 * const sched = new LinearLR(optimizer, { startFactor: 0.25, totalIters: 4 });
 * const lrs = [];
 * for (let e = 0; e < 6; e++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(3)); sched.step(); }
 * console.log(lrs); // ["0.100", "0.175", "0.250", "0.325", "0.400", "0.400"]
 * ```
 */
export class LinearLR extends LRScheduler {
  /** The factor of the base rate at epoch 0. */
  readonly startFactor: number;
  /** The factor of the base rate from epoch `totalIters` on. */
  readonly endFactor: number;
  /** Epochs of the ramp. */
  readonly totalIters: number;

  /**
   * A linear ramp of `optimizer`'s groups.
   *
   * @param options `startFactor` default 1/3 (in (0, 1]); `endFactor` default 1 (in [0, 1]);
   * `totalIters` default 5.
   */
  constructor(
    optimizer: LearningRateGroups,
    options:
      & { startFactor?: number; endFactor?: number; totalIters?: number }
      & LRSchedulerOptions = {},
  ) {
    super(optimizer, options);
    checkOptions(
      "LinearLR",
      options,
      optionNames<typeof options>({
        startFactor: true,
        endFactor: true,
        totalIters: true,
        name: true,
        interval: true,
      }),
    );
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) {
      throw new RangeError(`LinearLR: startFactor must be in (0, 1], got ${this.startFactor}`);
    }
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) {
      throw new RangeError(`LinearLR: endFactor must be in [0, 1], got ${this.endFactor}`);
    }
    requirePositiveInteger("LinearLR: totalIters", this.totalIters);
    this.start();
  }

  /** The base rate times `startFactor`. */
  protected override startLr(_lr: number, index: number): number {
    return this.baseLrs[index] * this.startFactor;
  }

  /** PyTorch's recursive step: the ratio of consecutive factors. */
  protected nextLr(lr: number): number {
    const [e, start, end, total] = [
      this.lastEpoch,
      this.startFactor,
      this.endFactor,
      this.totalIters,
    ];
    if (e === 0) return lr * start;
    if (e > total) return lr;
    return lr * (1 + (end - start) / (total * start + (e - 1) * (end - start)));
  }
}

/**
 * `torch.optim.lr_scheduler.ConstantLR`: the rate is base · `factor` until epoch `totalIters`,
 * then the base rate.
 *
 * @example A third of the rate for 2 epochs
 * ```ts
 * import { ConstantLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 0.3 }] };
 * const sched = new ConstantLR(optimizer, { factor: 0.5, totalIters: 2 });
 * const lrs = [];
 * for (let e = 0; e < 4; e++) { lrs.push(optimizer.paramGroups[0].lr); sched.step(); }
 * console.log(lrs); // [0.15, 0.15, 0.3, 0.3]
 * ```
 */
export class ConstantLR extends LRScheduler {
  /** The factor of the base rate until `totalIters`. */
  readonly factor: number;
  /** Epochs at the lowered rate. */
  readonly totalIters: number;

  /**
   * A constant factor of `optimizer`'s groups' rates for a while.
   *
   * @param options `factor` default 1/3 (in [0, 1]); `totalIters` default 5.
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { factor?: number; totalIters?: number } & LRSchedulerOptions = {},
  ) {
    super(optimizer, options);
    checkOptions(
      "ConstantLR",
      options,
      optionNames<typeof options>({ factor: true, totalIters: true, name: true, interval: true }),
    );
    this.factor = options.factor ?? 1 / 3;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.factor >= 0 && this.factor <= 1)) {
      throw new RangeError(`ConstantLR: factor must be in [0, 1], got ${this.factor}`);
    }
    requirePositiveInteger("ConstantLR: totalIters", this.totalIters);
    this.start();
  }

  /** PyTorch's recursive step: times `factor` at epoch 0, divided by it at `totalIters`. */
  protected nextLr(lr: number, index: number): number {
    const e = this.lastEpoch;
    if (e === 0) return lr * this.factor;
    if (e !== this.totalIters) return lr;
    // A factor of 0 cannot be divided out (PyTorch raises ZeroDivisionError): the base rate.
    return this.factor === 0 ? this.baseLrs[index] : lr * (1 / this.factor);
  }

  /** The base rate times `factor`. */
  protected override startLr(_lr: number, index: number): number {
    return this.baseLrs[index] * this.factor;
  }
}

/**
 * `torch.optim.lr_scheduler.PolynomialLR`: the rate decays to 0 over `totalIters` epochs,
 * lr(e) = base · (1 − min(e, totalIters) / totalIters)^power, computed as PyTorch does from the
 * group's current rate (the ratio of consecutive factors).
 *
 * @example A linear decay over 4 epochs
 * ```ts
 * import { PolynomialLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 0.4 }] };
 * const sched = new PolynomialLR(optimizer, { totalIters: 4 });
 * const lrs = [];
 * for (let e = 0; e < 6; e++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(2)); sched.step(); }
 * console.log(lrs); // ["0.40", "0.30", "0.20", "0.10", "0.00", "0.00"]
 * ```
 */
export class PolynomialLR extends LRScheduler {
  /** Epochs of the decay. */
  readonly totalIters: number;
  /** The power of the polynomial. */
  readonly power: number;

  /**
   * A polynomial decay of `optimizer`'s groups' rates.
   *
   * @param options `totalIters` default 5; `power` default 1.
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { totalIters?: number; power?: number } & LRSchedulerOptions = {},
  ) {
    super(optimizer, options);
    checkOptions(
      "PolynomialLR",
      options,
      optionNames<typeof options>({ totalIters: true, power: true, name: true, interval: true }),
    );
    this.totalIters = options.totalIters ?? 5;
    this.power = options.power ?? 1;
    requirePositiveInteger("PolynomialLR: totalIters", this.totalIters);
    if (!Number.isFinite(this.power)) {
      throw new RangeError(`PolynomialLR: power must be a finite number, got ${this.power}`);
    }
    this.start();
  }

  /** PyTorch's recursive step. */
  protected nextLr(lr: number): number {
    const [e, total] = [this.lastEpoch, this.totalIters];
    if (e === 0 || e > total) return lr;
    return lr * ((1 - e / total) / (1 - (e - 1) / total)) ** this.power;
  }
}

/** A rate function of {@link LambdaLR} or {@link MultiplicativeLR}: a factor per epoch. */
export type LrLambda = (epoch: number) => number;

/** One function for every group, or one per group. */
function lambdasFor(
  what: string,
  optimizer: LearningRateGroups,
  lambdas: LrLambda | readonly LrLambda[],
): LrLambda[] {
  const groups = optimizer.paramGroups.length;
  const list = typeof lambdas === "function" ? Array(groups).fill(lambdas) : [...lambdas];
  if (list.length !== groups || list.some((f) => typeof f !== "function")) {
    throw new TypeError(`${what}: expected one function or ${groups} (one a group)`);
  }
  return list;
}

/** A lambda's factor, checked. */
function factorOf(what: string, f: LrLambda, epoch: number): number {
  const factor = f(epoch);
  if (!Number.isFinite(factor)) {
    throw new RangeError(`${what}: the function gave ${factor} at epoch ${epoch}`);
  }
  return factor;
}

/**
 * `torch.optim.lr_scheduler.LambdaLR`: lr(e) = base · f(e), with one function for every group
 * or one per group. As in PyTorch the functions are not in the state dict: a resume passes them
 * again.
 *
 * @example An inverse-square-root decay after a 2-epoch warm-up
 * ```ts
 * import { LambdaLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new LambdaLR(optimizer, {
 *   lrLambda: (e) => e < 2 ? (e + 1) / 2 : Math.sqrt(2 / (e + 1)),
 * });
 * const lrs = [];
 * for (let e = 0; e < 4; e++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(3)); sched.step(); }
 * console.log(lrs); // ["0.500", "1.000", "0.816", "0.707"]
 * ```
 */
export class LambdaLR extends LRScheduler {
  readonly #lambdas: LrLambda[];

  /**
   * A schedule of `optimizer`'s groups' rates given by functions of the epoch.
   *
   * @param options `lrLambda`: the factor of the base rate at an epoch (one function, or one a
   * group).
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { lrLambda: LrLambda | readonly LrLambda[] } & LRSchedulerOptions,
  ) {
    super(optimizer, options);
    checkOptions(
      "LambdaLR",
      options,
      optionNames<typeof options>({ lrLambda: true, name: true, interval: true }),
    );
    this.#lambdas = lambdasFor("LambdaLR: lrLambda", optimizer, options.lrLambda);
    this.start();
  }

  /** The base rate times the group's function at this epoch. */
  protected nextLr(_lr: number, index: number): number {
    return this.baseLrs[index] * factorOf("LambdaLR", this.#lambdas[index], this.lastEpoch);
  }

  /** The base rate times f(0). */
  protected override startLr(lr: number, index: number): number {
    return this.nextLr(lr, index);
  }
}

/**
 * `torch.optim.lr_scheduler.MultiplicativeLR`: each epoch after the first multiplies the rate
 * by f(e). As in PyTorch the functions are not in the state dict.
 *
 * @example
 * ```ts
 * import { MultiplicativeLR } from "./lr_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new MultiplicativeLR(optimizer, { lrLambda: () => 0.5 });
 * sched.step();
 * sched.step();
 * console.log(optimizer.paramGroups[0].lr); // 0.25
 * ```
 */
export class MultiplicativeLR extends LRScheduler {
  readonly #lambdas: LrLambda[];

  /**
   * A schedule multiplying `optimizer`'s groups' rates by functions of the epoch.
   *
   * @param options `lrLambda`: the factor of an epoch (one function, or one a group).
   */
  constructor(
    optimizer: LearningRateGroups,
    options: { lrLambda: LrLambda | readonly LrLambda[] } & LRSchedulerOptions,
  ) {
    super(optimizer, options);
    checkOptions(
      "MultiplicativeLR",
      options,
      optionNames<typeof options>({ lrLambda: true, name: true, interval: true }),
    );
    this.#lambdas = lambdasFor("MultiplicativeLR: lrLambda", optimizer, options.lrLambda);
    this.start();
  }

  /** The rate times the group's function at this epoch (epoch 0 keeps it). */
  protected nextLr(lr: number, index: number): number {
    const e = this.lastEpoch;
    return e === 0 ? lr : lr * factorOf("MultiplicativeLR", this.#lambdas[index], e);
  }

  /** The current rate (PyTorch has no closed form: `step(0)` keeps it). */
  protected override startLr(lr: number): number {
    return lr;
  }
}

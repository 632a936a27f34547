/**
 * Learning-rate reduction on a plateau of the validation error, with the same
 * decisions as PyTorch's `torch.optim.lr_scheduler.ReduceLROnPlateau`.
 *
 * AlexNet (section 5) divides the learning rate by 10 "when the validation error
 * stopped improving with the current learning rate"; this is the usual reading of
 * that rule.
 *
 * The scheduler holds its optimiser and lowers the learning rate of each of its parameter
 * groups itself; as a training-loop callback it steps on a metric of each epoch's row.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { EpochEnd, TrainerCallback, TrainerContext } from "./callback.ts";
import type { EpochMetrics } from "./run_log.ts";
import { formatLr } from "./_format.ts";

/** What the scheduler needs of an optimiser: its groups' learning rates (any `Optimizer`). */
export interface LearningRateGroups {
  /** The groups; the scheduler sets their `lr`. */
  readonly paramGroups: readonly { lr: number }[];
}

/** A metric of an epoch's row that a scheduler can follow. */
export type MonitoredMetric = Exclude<keyof EpochMetrics, "epoch" | "step" | "lr">;

/** How an improvement is measured against the best value seen so far. */
export type ThresholdMode = "rel" | "abs";

/** Options of {@linkcode ReduceLROnPlateau}; defaults follow PyTorch. */
export interface PlateauOptions {
  /** "min": lower is better (errors, losses). "max": higher is better. Default "min". */
  mode?: "min" | "max";
  /** Multiplier applied to the learning rate on a reduction; must be < 1. Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated; the reduction comes on the next bad one. */
  patience: number;
  /** Minimum change that counts as an improvement. Default 1e-4. */
  threshold?: number;
  /**
   * "rel": better means `metric < best * (1 - threshold)` (mode min).
   * "abs": better means `metric < best - threshold`. Default "rel".
   */
  thresholdMode?: ThresholdMode;
  /** Epochs after a reduction during which bad epochs are not counted. Default 0. */
  cooldown?: number;
  /**
   * Lower bound of the learning rate: one for every group, or one a group (PyTorch's `min_lr`
   * as a list). Default 0.
   */
  minLr?: number | readonly number[];
  /** A reduction smaller than this is skipped. Default 1e-8. */
  eps?: number;
  /** Name of the metric in reduction messages. Default "metric". */
  metricName?: string;
  /** The row metric followed as a training-loop callback. Default "valTop1". */
  monitor?: MonitoredMetric;
}

/**
 * Plain JSON-serialisable scheduler state, for checkpoints.
 * `best` is `null` until the first step: JSON has no `Infinity`.
 */
export interface PlateauState {
  /** Best metric so far, or `null` before the first step. */
  best: number | null;
  /** Consecutive epochs without improvement (reset by cooldown and reductions). */
  numBadEpochs: number;
  /** Remaining cooldown epochs. */
  cooldownCounter: number;
  /** Number of `step` calls so far (PyTorch's `last_epoch`). */
  lastEpoch: number;
}

/** Result of {@linkcode ReduceLROnPlateau.step}. */
export interface PlateauDecision {
  /** The first group's learning rate from now on (unchanged unless `reduced`). */
  lr: number;
  /** Whether the learning rate was lowered by this step. */
  reduced: boolean;
  /**
   * Human-readable explanation when patience ran out: the reduction, or why it
   * was skipped (already at `minLr`). Absent otherwise.
   */
  reason?: string;
}

/**
 * Lowers the learning rate of every parameter group of its optimiser by `factor` once the
 * metric has not improved for more than `patience` epochs. As a {@link TrainerCallback} it
 * steps on the row's `monitor` metric after each epoch, logs its reason, and keeps its state in
 * checkpoints under the name "scheduler".
 *
 * Semantics match PyTorch exactly: a NaN metric is never better (counts as a bad
 * epoch); during cooldown bad epochs are reset to zero; after patience runs out
 * the bad-epoch count resets and cooldown restarts even if the learning rate
 * could not be lowered (`oldLr - newLr <= eps`).
 *
 * @example Divide by 10 after two epochs without improvement
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReduceLROnPlateau } from "./plateau.ts";
 * import { SGD } from "./sgd.ts";
 * import assert from "node:assert/strict";
 *
 * await defaultDevice();
 * const optimizer = new SGD({ params: [tensor([1], { requiresGrad: true })], lr: 0.01 });
 * const sched = new ReduceLROnPlateau(optimizer, { patience: 1, metricName: "val top-1" });
 * for (const err of [0.5, 0.4, 0.4, 0.4]) {
 *   const d = sched.step(err);
 *   if (d.reduced) console.log(d.reason);
 * }
 * assert.equal(optimizer.paramGroups[0].lr, 0.001);
 * ```
 */
export class ReduceLROnPlateau implements TrainerCallback {
  /** Its key in a checkpoint's callback states. */
  readonly name = "scheduler";
  /** The optimiser whose learning rates it lowers. */
  readonly optimizer: LearningRateGroups;
  /** Whether lower ("min") or higher ("max") is better. */
  readonly mode: "min" | "max";
  /** Multiplier of the learning rate on a reduction. */
  readonly factor: number;
  /** Epochs without improvement tolerated. */
  readonly patience: number;
  /** Minimum change that counts as an improvement. */
  readonly threshold: number;
  /** How the threshold is applied. */
  readonly thresholdMode: ThresholdMode;
  /** Epochs after a reduction during which bad epochs are not counted. */
  readonly cooldown: number;
  /** Lower bound of the learning rate, as given: one for every group, or one a group. */
  readonly minLr: number | readonly number[];
  /** Each group's lower bound (PyTorch's `min_lrs`). */
  readonly minLrs: readonly number[];
  /** A reduction smaller than this is skipped. */
  readonly eps: number;
  /** Name of the metric in reduction messages. */
  readonly metricName: string;
  /** The row metric followed as a training-loop callback. */
  readonly monitor: MonitoredMetric;

  #best: number;
  #numBadEpochs = 0;
  #cooldownCounter = 0;
  #lastEpoch = 0;

  /**
   * A scheduler of `optimizer`'s learning rates.
   *
   * @param optimizer The optimiser (any object with `paramGroups`).
   * @param options Scheduler settings; `patience` is required.
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const optimizer = { paramGroups: [{ lr: 0.1 }] };
   * const sched = new ReduceLROnPlateau(optimizer, { patience: 5, thresholdMode: "abs", threshold: 0.001 });
   * console.log(sched.stateDict());
   * ```
   */
  constructor(optimizer: LearningRateGroups, options: PlateauOptions) {
    checkOptions(
      "ReduceLROnPlateau",
      options,
      optionNames<typeof options>({
        mode: true,
        factor: true,
        patience: true,
        threshold: true,
        thresholdMode: true,
        cooldown: true,
        minLr: true,
        eps: true,
        metricName: true,
        monitor: true,
      }),
    );
    this.optimizer = optimizer;
    this.mode = options.mode ?? "min";
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? "rel";
    this.cooldown = options.cooldown ?? 0;
    this.minLr = options.minLr ?? 0;
    this.minLrs = minLrsOf(this.minLr, optimizer.paramGroups.length);
    this.eps = options.eps ?? 1e-8;
    this.metricName = options.metricName ?? "metric";
    this.monitor = options.monitor ?? "valTop1";
    if (!(this.factor < 1) || !(this.factor >= 0)) {
      throw new RangeError(`factor must be in [0, 1), got ${this.factor}`);
    }
    for (const [name, value] of [["patience", this.patience], ["cooldown", this.cooldown]]) {
      if (!Number.isInteger(value) || (value as number) < 0) {
        throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
      }
    }
    if (this.mode !== "min" && this.mode !== "max") {
      throw new RangeError(`mode must be "min" or "max", got ${this.mode}`);
    }
    if (this.thresholdMode !== "rel" && this.thresholdMode !== "abs") {
      throw new RangeError(`thresholdMode must be "rel" or "abs", got ${this.thresholdMode}`);
    }
    this.#best = this.#worst();
  }

  /**
   * Feeds one epoch's metric; when patience runs out, lowers every group's learning rate to
   * `max(lr × factor, minLr)`, with the group's own `minLr` when one a group was given (a group
   * whose change would be `eps` or less keeps its rate).
   *
   * @param metric This epoch's validation metric (e.g. top-1 error).
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const optimizer = { paramGroups: [{ lr: 0.01 }] };
   * const sched = new ReduceLROnPlateau(optimizer, { patience: 0 });
   * sched.step(0.5); // the first value always improves on +Infinity
   * console.log(sched.step(0.5)); // { lr: 0.001, reduced: true, reason: "..." }
   * ```
   */
  step(metric: number): PlateauDecision {
    // Order of updates mirrors torch's ReduceLROnPlateau.step line by line.
    this.#lastEpoch += 1;
    const previousBest = this.#best;
    const groups = this.optimizer.paramGroups;
    const currentLr = groups[0].lr;
    if (this.isBetter(metric, this.#best)) {
      this.#best = metric;
      this.#numBadEpochs = 0;
    } else {
      this.#numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.#cooldownCounter -= 1;
      this.#numBadEpochs = 0; // Bad epochs during cooldown are ignored.
    }
    if (this.#numBadEpochs <= this.patience) return { lr: currentLr, reduced: false };

    const badEpochs = this.#numBadEpochs;
    this.#cooldownCounter = this.cooldown;
    this.#numBadEpochs = 0;
    let reduced = false;
    for (const [i, group] of groups.entries()) {
      const newLr = Math.max(group.lr * this.factor, this.minLrs[i]);
      if (group.lr - newLr > this.eps) {
        group.lr = newLr;
        reduced = true;
      }
    }
    const why =
      `epoch ${this.#lastEpoch}: ${this.metricName} ${formatLr(metric)} has not improved ` +
      `on best ${formatLr(previousBest)} (${this.#describeThreshold()}) for ${badEpochs} ` +
      `epoch${badEpochs === 1 ? "" : "s"} (patience ${this.patience})`;
    const lr = groups[0].lr;
    if (reduced) {
      return { lr, reduced, reason: `${why}; lr ${formatLr(currentLr)} -> ${formatLr(lr)}` };
    }
    return {
      lr,
      reduced,
      reason: `${why}; lr ${formatLr(currentLr)} kept: already at min lr ${
        formatLr(this.minLrs[0])
      }`,
    };
  }

  /** As a training-loop callback: steps on the row's `monitor` metric and logs the reason. */
  onEpochEnd(trainer: TrainerContext, { metrics }: EpochEnd): void {
    const decision = this.step(metrics[this.monitor]);
    if (decision.reason) trainer.log(decision.reason);
  }

  /**
   * Whether `a` improves on `best` by more than the threshold (PyTorch's `is_better`).
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const sched = new ReduceLROnPlateau({ paramGroups: [{ lr: 0.01 }] }, { patience: 1, threshold: 0.1 });
   * console.log(sched.isBetter(0.95, 1), sched.isBetter(0.85, 1)); // false true
   * ```
   */
  isBetter(a: number, best: number): boolean {
    if (this.mode === "min") {
      return this.thresholdMode === "rel"
        ? a < best * (1 - this.threshold)
        : a < best - this.threshold;
    }
    return this.thresholdMode === "rel"
      ? a > best * (1 + this.threshold)
      : a > best + this.threshold;
  }

  /**
   * Whether the scheduler is in its post-reduction cooldown.
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * console.log(new ReduceLROnPlateau({ paramGroups: [{ lr: 0.01 }] }, { patience: 1, cooldown: 2 }).inCooldown); // false
   * ```
   */
  get inCooldown(): boolean {
    return this.#cooldownCounter > 0;
  }

  /**
   * A JSON-serialisable snapshot; {@linkcode ReduceLROnPlateau.loadStateDict} restores it.
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const sched = new ReduceLROnPlateau({ paramGroups: [{ lr: 0.01 }] }, { patience: 1 });
   * sched.step(0.4);
   * console.log(JSON.stringify(sched.stateDict())); // {"best":0.4,"numBadEpochs":0,...}
   * ```
   */
  stateDict(): PlateauState {
    return {
      best: Number.isFinite(this.#best) ? this.#best : null,
      numBadEpochs: this.#numBadEpochs,
      cooldownCounter: this.#cooldownCounter,
      lastEpoch: this.#lastEpoch,
    };
  }

  /**
   * Restores a snapshot from {@linkcode ReduceLROnPlateau.stateDict}; the following
   * decisions are identical to those of the scheduler that produced it.
   *
   * @param state The snapshot, possibly round-tripped through JSON.
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const sched = new ReduceLROnPlateau({ paramGroups: [{ lr: 0.01 }] }, { patience: 1 });
   * sched.loadStateDict({ best: 0.4, numBadEpochs: 1, cooldownCounter: 0, lastEpoch: 7 });
   * console.log(sched.step(0.4).reduced); // true
   * ```
   */
  loadStateDict(state: PlateauState): void {
    const { best, numBadEpochs, cooldownCounter, lastEpoch } = state;
    if (best !== null && typeof best !== "number") {
      throw new TypeError(`invalid plateau state: best = ${best}`);
    }
    for (const [name, value] of Object.entries({ numBadEpochs, cooldownCounter, lastEpoch })) {
      if (!Number.isInteger(value) || value < 0) {
        throw new TypeError(`invalid plateau state: ${name} = ${value}`);
      }
    }
    this.#best = best ?? this.#worst();
    this.#numBadEpochs = numBadEpochs;
    this.#cooldownCounter = cooldownCounter;
    this.#lastEpoch = lastEpoch;
  }

  /**
   * Forgets the best value, bad epochs and cooldown (PyTorch's `_reset`).
   *
   * @example
   * ```ts
   * import { ReduceLROnPlateau } from "./plateau.ts";
   * const sched = new ReduceLROnPlateau({ paramGroups: [{ lr: 0.01 }] }, { patience: 1 });
   * sched.step(0.4);
   * sched.reset();
   * console.log(sched.stateDict().best); // null
   * ```
   */
  reset(): void {
    this.#best = this.#worst();
    this.#numBadEpochs = 0;
    this.#cooldownCounter = 0;
  }

  #worst(): number {
    return this.mode === "min" ? Infinity : -Infinity;
  }

  #describeThreshold(): string {
    return this.thresholdMode === "rel"
      ? `relative threshold ${this.threshold}`
      : `absolute threshold ${this.threshold}`;
  }
}

/** One lower bound a group: `minLr` for each, or its list checked against the groups. */
function minLrsOf(minLr: number | readonly number[], groups: number): number[] {
  const list: unknown[] = Array.isArray(minLr) ? [...minLr] : Array(groups).fill(minLr);
  if (list.length !== groups) {
    throw new RangeError(
      `minLr: expected one value or ${groups} (one a group), got ${list.length}`,
    );
  }
  const bad = list.find((v) => typeof v !== "number" || !(v >= 0 && v < Infinity));
  if (bad !== undefined) throw new RangeError(`minLr must be finite numbers ≥ 0, got ${bad}`);
  return list as number[];
}

/** Short, exact-enough numbers for log lines: 0.001 stays 0.001, not 0.0010000000000000002. */

/**
 * `torch.optim.lr_scheduler.OneCycleLR` (Smith and Topin, 2018): the learning rate climbs from
 * maxLr / divFactor to maxLr over the first `pctStart` of the steps, then anneals to
 * maxLr / (divFactor · finalDivFactor), by a cosine or linearly; with `threePhase`, it first
 * comes back down to the initial rate symmetrically and only then anneals to the minimum. The
 * momentum (SGD's `momentum`, Adam's β1) cycles the other way, between `maxMomentum` and
 * `baseMomentum`, unless `cycleMomentum` is false.
 *
 * It is stepped after every optimiser step (its `interval` is "step" in a Trainer), and, as in
 * PyTorch, stepping past `totalSteps` is an error. The rate and momentum are closed forms of
 * the step, so a resume (the step count in its state, the rates and momenta in the
 * optimiser's) continues exactly.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { LRScheduler, type LRSchedulerOptions } from "./lr_scheduler.ts";
import { type CycledGroup, perGroup, requireMomentum, setMomentum } from "./_cycled_momentum.ts";

export type { CycledGroup } from "./_cycled_momentum.ts";

/** Options of {@link OneCycleLR}; defaults follow PyTorch. */
export interface OneCycleOptions extends LRSchedulerOptions {
  /** The peak learning rate: one for every group, or one a group. */
  maxLr: number | readonly number[];
  /** Steps of the cycle; or give `epochs` and `stepsPerEpoch`. */
  totalSteps?: number;
  /** Epochs of the cycle (with `stepsPerEpoch`). */
  epochs?: number;
  /** Optimiser steps an epoch (with `epochs`). */
  stepsPerEpoch?: number;
  /** The part of the cycle spent raising the rate; default 0.3. */
  pctStart?: number;
  /** "cos" (default) or "linear". */
  annealStrategy?: "cos" | "linear";
  /** Whether the momentum cycles inversely to the rate; default true. */
  cycleMomentum?: boolean;
  /** The lowest momentum (at the peak rate): one, or one a group; default 0.85. */
  baseMomentum?: number | readonly number[];
  /** The highest momentum (at the lowest rates): one, or one a group; default 0.95. */
  maxMomentum?: number | readonly number[];
  /** The initial rate is maxLr / divFactor; default 25. */
  divFactor?: number;
  /** The final rate is the initial one / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
  /** Three phases: up, back down to the initial rate, then to the minimum; default false. */
  threePhase?: boolean;
}

/** One phase of the cycle: its last step and the endpoints of rate and momentum. */
interface Phase {
  endStep: number;
  lr: readonly [Endpoint, Endpoint];
  momentum: readonly [MomentumEndpoint, MomentumEndpoint];
}
type Endpoint = "initial" | "max" | "min";
type MomentumEndpoint = "base" | "max";

/**
 * The one-cycle policy over an optimiser's groups (see the module notes). It sets each group's
 * rate (and momentum) at once to the cycle's start.
 *
 * @example Ten steps of a linear cycle
 * ```ts
 * import { OneCycleLR } from "./one_cycle_lr.ts";
 * const optimizer = { paramGroups: [{ lr: 0.01, momentum: 0.9 }] };
 * const sched = new OneCycleLR(optimizer, {
 *   maxLr: 1, totalSteps: 10, annealStrategy: "linear", divFactor: 10, finalDivFactor: 10,
 * });
 * const lrs = [];
 * for (let s = 0; s < 10; s++) {
 *   lrs.push(optimizer.paramGroups[0].lr.toFixed(2));
 *   if (s < 9) sched.step();
 * }
 * console.log(lrs.join(" ")); // 0.10 0.55 1.00 0.86 0.72 0.58 0.43 0.29 0.15 0.01
 * console.log(optimizer.paramGroups[0].momentum?.toFixed(2)); // 0.95
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** Steps of the cycle. */
  readonly totalSteps: number;
  /** Whether the momentum cycles. */
  readonly cycleMomentum: boolean;
  /** Cosine or linear annealing. */
  readonly annealStrategy: "cos" | "linear";
  readonly #phases: Phase[];
  /** Per group: the initial, peak and final rates. */
  readonly #rates: Record<Endpoint, number>[];
  /** Per group: the momentum's bounds. */
  readonly #momenta: Record<MomentumEndpoint, number>[];

  /**
   * The cycle over `optimizer`'s groups (each group's `momentum`, or β1 of its `betas`, cycles
   * unless `cycleMomentum` is false).
   */
  constructor(
    optimizer: { readonly paramGroups: readonly CycledGroup[] },
    options: OneCycleOptions,
  ) {
    super(optimizer, { interval: "step", ...options });
    checkOptions(
      "OneCycleLR",
      options,
      optionNames<typeof options>({
        maxLr: true,
        totalSteps: true,
        epochs: true,
        stepsPerEpoch: true,
        pctStart: true,
        annealStrategy: true,
        cycleMomentum: true,
        baseMomentum: true,
        maxMomentum: true,
        divFactor: true,
        finalDivFactor: true,
        threePhase: true,
        name: true,
        interval: true,
      }),
    );
    const what = "OneCycleLR";
    this.totalSteps = totalStepsOf(options);
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) {
      throw new RangeError(`${what}: pctStart must be in [0, 1], got ${pct}`);
    }
    this.annealStrategy = options.annealStrategy ?? "cos";
    if (this.annealStrategy !== "cos" && this.annealStrategy !== "linear") {
      throw new RangeError(`${what}: annealStrategy must be "cos" or "linear"`);
    }
    this.cycleMomentum = options.cycleMomentum ?? true;
    const groups = optimizer.paramGroups;
    const maxLrs = perGroup(`${what}: maxLr`, options.maxLr, groups.length);
    const divFactor = options.divFactor ?? 25;
    const finalDiv = options.finalDivFactor ?? 1e4;
    for (const [key, v] of [["divFactor", divFactor], ["finalDivFactor", finalDiv]] as const) {
      if (!(Number.isFinite(v) && v > 0)) {
        throw new RangeError(`${what}: ${key} must be a finite number > 0, got ${v}`);
      }
    }
    this.#rates = maxLrs.map((max) => ({
      initial: max / divFactor,
      max,
      min: max / divFactor / finalDiv,
    }));
    const T = this.totalSteps;
    this.#phases = options.threePhase
      ? [
        { endStep: pct * T - 1, lr: ["initial", "max"], momentum: ["max", "base"] },
        { endStep: 2 * pct * T - 2, lr: ["max", "initial"], momentum: ["base", "max"] },
        { endStep: T - 1, lr: ["initial", "min"], momentum: ["max", "max"] },
      ]
      : [
        { endStep: pct * T - 1, lr: ["initial", "max"], momentum: ["max", "base"] },
        { endStep: T - 1, lr: ["max", "min"], momentum: ["base", "max"] },
      ];
    const base = perGroup(`${what}: baseMomentum`, options.baseMomentum ?? 0.85, groups.length);
    const max = perGroup(`${what}: maxMomentum`, options.maxMomentum ?? 0.95, groups.length);
    this.#momenta = base.map((b, i) => ({ base: b, max: max[i] }));
    if (this.cycleMomentum) requireMomentum(what, groups);
    // PyTorch overwrites each group's initial_lr: the base rate is the cycle's first.
    this.setBaseLrs(this.#rates.map((r) => r.initial));
    this.start();
  }

  /** The rate at this step; sets the group's momentum too (both closed forms of the step). */
  protected nextLr(_lr: number, index: number): number {
    const step = this.lastEpoch;
    if (step > this.totalSteps) {
      throw new RangeError(
        `OneCycleLR: tried to step ${step} times; the cycle has ${this.totalSteps} steps`,
      );
    }
    let start = 0;
    for (const [k, phase] of this.#phases.entries()) {
      if (step <= phase.endStep || k === this.#phases.length - 1) {
        const pct = (step - start) / (phase.endStep - start);
        const rates = this.#rates[index];
        if (this.cycleMomentum) {
          const m = this.#momenta[index];
          const momentum = this.#anneal(m[phase.momentum[0]], m[phase.momentum[1]], pct);
          setMomentum((this.optimizer.paramGroups as readonly CycledGroup[])[index], momentum);
        }
        return this.#anneal(rates[phase.lr[0]], rates[phase.lr[1]], pct);
      }
      start = phase.endStep;
    }
    throw new Error("OneCycleLR: no phase"); // unreachable: the last phase takes every step
  }

  /** The closed form is the schedule itself: epoch 0's rate. */
  protected override startLr(lr: number, index: number): number {
    return this.nextLr(lr, index);
  }

  #anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "linear") return (end - start) * pct + start;
    return end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
  }
}

function totalStepsOf(o: OneCycleOptions): number {
  const positive = (key: string, v: number | undefined) => {
    if (!Number.isInteger(v) || v! <= 0) {
      throw new RangeError(`OneCycleLR: ${key} must be an integer ≥ 1, got ${v}`);
    }
    return v!;
  };
  if (o.totalSteps !== undefined) return positive("totalSteps", o.totalSteps);
  if (o.epochs === undefined || o.stepsPerEpoch === undefined) {
    throw new TypeError("OneCycleLR: give totalSteps, or epochs and stepsPerEpoch");
  }
  return positive("epochs", o.epochs) * positive("stepsPerEpoch", o.stepsPerEpoch);
}

/**
 * `torch.optim.lr_scheduler.CyclicLR` (Smith, 2017): the learning rate goes up from `baseLr`
 * to `maxLr` over `stepSizeUp` steps and back down over `stepSizeDown`, cycle after cycle, the
 * height scaled by the policy: "triangular" (constant), "triangular2" (halved each cycle) or
 * "expRange" (gamma^step), or a function of one's own. The momentum (SGD's, or Adam's β1)
 * cycles the other way between `maxMomentum` and `baseMomentum` unless `cycleMomentum` is false.
 * It steps after every optimiser step in a Trainer (its `interval` is "step"); the rate and
 * momentum are closed forms of the step, so a resume continues exactly.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { LRScheduler, type LRSchedulerOptions } from "./lr_scheduler.ts";
import { type CycledGroup, perGroup, requireMomentum, setMomentum } from "./_cycled_momentum.ts";

/** Options of {@link CyclicLR}; defaults follow PyTorch. */
export interface CyclicOptions extends LRSchedulerOptions {
  /** The lowest rate: one, or one a group. */
  baseLr: number | readonly number[];
  /** The highest rate: one, or one a group. */
  maxLr: number | readonly number[];
  /** Steps of the rise; default 2000. */
  stepSizeUp?: number;
  /** Steps of the fall; default `stepSizeUp`. */
  stepSizeDown?: number;
  /** The policy: "triangular" (default), "triangular2" or "expRange". */
  mode?: "triangular" | "triangular2" | "expRange";
  /** expRange's factor per step; default 1. */
  gamma?: number;
  /** A scaling of one's own, in (0, 1] (replaces `mode`; not in the state, as in PyTorch). */
  scaleFn?: (x: number) => number;
  /** What `scaleFn` takes: the cycle (default) or the step. */
  scaleMode?: "cycle" | "iterations";
  /** Whether the momentum cycles inversely to the rate; default true. */
  cycleMomentum?: boolean;
  /** The lowest momentum (at the peak rate): one, or one a group; default 0.8. */
  baseMomentum?: number | readonly number[];
  /** The highest momentum: one, or one a group; default 0.9. */
  maxMomentum?: number | readonly number[];
}

/**
 * The cyclical learning rate over an optimiser's groups (see the module notes). It sets each
 * group's rate (and momentum) at once to the cycle's start.
 *
 * @example A triangular cycle of 2 + 2 steps
 * ```ts
 * import { CyclicLR } from "./cyclic_lr.ts";
 * const optimizer = { paramGroups: [{ lr: 0, momentum: 0.9 }] };
 * const sched = new CyclicLR(optimizer, { baseLr: 0.1, maxLr: 0.5, stepSizeUp: 2 });
 * const lrs = [];
 * for (let s = 0; s < 6; s++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(1)); sched.step(); }
 * console.log(lrs.join(" ")); // 0.1 0.3 0.5 0.3 0.1 0.3
 * ```
 */
export class CyclicLR extends LRScheduler {
  /** Steps of a whole cycle. */
  readonly totalSize: number;
  /** The rise's part of a cycle. */
  readonly stepRatio: number;
  /** Whether the momentum cycles. */
  readonly cycleMomentum: boolean;
  readonly #maxLrs: number[];
  readonly #momenta: { base: number; max: number }[];
  readonly #scale: (x: number) => number;
  readonly #scaleMode: "cycle" | "iterations";

  /** The cycle over `optimizer`'s groups. */
  constructor(
    optimizer: { readonly paramGroups: readonly CycledGroup[] },
    options: CyclicOptions,
  ) {
    super(optimizer, { interval: "step", ...options });
    checkOptions(
      "CyclicLR",
      options,
      optionNames<typeof options>({
        baseLr: true,
        maxLr: true,
        stepSizeUp: true,
        stepSizeDown: true,
        mode: true,
        gamma: true,
        scaleFn: true,
        scaleMode: true,
        cycleMomentum: true,
        baseMomentum: true,
        maxMomentum: true,
        name: true,
        interval: true,
      }),
    );
    const what = "CyclicLR";
    const groups = optimizer.paramGroups;
    const baseLrs = perGroup(`${what}: baseLr`, options.baseLr, groups.length);
    this.#maxLrs = perGroup(`${what}: maxLr`, options.maxLr, groups.length);
    const up = options.stepSizeUp ?? 2000;
    const down = options.stepSizeDown ?? up;
    for (const [key, v] of [["stepSizeUp", up], ["stepSizeDown", down]] as const) {
      if (!(Number.isFinite(v) && v > 0)) {
        throw new RangeError(`${what}: ${key} must be a number > 0, got ${v}`);
      }
    }
    this.totalSize = up + down;
    this.stepRatio = up / this.totalSize;
    const gamma = options.gamma ?? 1;
    if (!(Number.isFinite(gamma) && gamma > 0)) {
      throw new RangeError(`${what}: gamma must be a finite number > 0, got ${gamma}`);
    }
    const mode = options.mode ?? "triangular";
    if (options.scaleFn) {
      this.#scale = options.scaleFn;
      this.#scaleMode = options.scaleMode ?? "cycle";
    } else if (mode === "triangular") {
      [this.#scale, this.#scaleMode] = [() => 1, "cycle"];
    } else if (mode === "triangular2") {
      [this.#scale, this.#scaleMode] = [(x) => 1 / 2 ** (x - 1), "cycle"];
    } else if (mode === "expRange") {
      [this.#scale, this.#scaleMode] = [(x) => gamma ** x, "iterations"];
    } else {
      throw new RangeError(`${what}: mode must be triangular, triangular2 or expRange`);
    }
    this.cycleMomentum = options.cycleMomentum ?? true;
    const base = perGroup(`${what}: baseMomentum`, options.baseMomentum ?? 0.8, groups.length);
    const max = perGroup(`${what}: maxMomentum`, options.maxMomentum ?? 0.9, groups.length);
    this.#momenta = base.map((b, i) => ({ base: b, max: max[i] }));
    if (this.cycleMomentum) {
      requireMomentum(what, groups);
      groups.forEach((g, i) => setMomentum(g, this.#momenta[i].max));
    }
    // PyTorch sets each group's rate to baseLr, which becomes its initial_lr.
    this.setBaseLrs(baseLrs);
    this.start();
  }

  /** The rate at this step; sets the group's momentum too (closed forms of the step). */
  protected nextLr(_lr: number, index: number): number {
    const step = this.lastEpoch;
    const cycle = Math.floor(1 + step / this.totalSize);
    const x = 1 + step / this.totalSize - cycle;
    const factor = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const scale = this.#scale(this.#scaleMode === "cycle" ? cycle : step);
    if (this.cycleMomentum) {
      const { base, max } = this.#momenta[index];
      const group = (this.optimizer.paramGroups as readonly CycledGroup[])[index];
      setMomentum(group, max - (max - base) * factor * scale);
    }
    const baseLr = this.baseLrs[index];
    return baseLr + (this.#maxLrs[index] - baseLr) * factor * scale;
  }

  /** The closed form is the schedule itself: step 0's rate. */
  protected override startLr(lr: number, index: number): number {
    return this.nextLr(lr, index);
  }
}

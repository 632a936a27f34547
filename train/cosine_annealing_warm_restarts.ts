/**
 * `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts` (SGDR, Loshchilov and Hutter, 2017):
 * the rate follows a cosine from the base rate down to `etaMin` over a period of `t0` epochs,
 * then restarts at the base rate, each period `tMult` times longer than the last:
 *
 *   lr = etaMin + (base − etaMin) · (1 + cos(π · tCur / tI)) / 2
 *
 * with `tCur` the epochs since the last restart and `tI` the current period. As in PyTorch the
 * rate is this closed form of the base rate, not a factor of the group's current rate, so a
 * `ReduceLROnPlateau` cut or another scheduler's change does not carry through. Epochs may
 * be fractional through {@link CosineAnnealingWarmRestarts.stepTo} (PyTorch's `step(epoch)`, as
 * in `step(epoch + i / iters)` within an epoch); `tCur` and `tI` travel in its state, so a
 * resume continues exactly.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { LearningRateGroups } from "./plateau.ts";
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerState } from "./lr_scheduler.ts";

/** Options of {@link CosineAnnealingWarmRestarts}; defaults follow PyTorch. */
export interface CosineAnnealingWarmRestartsOptions extends LRSchedulerOptions {
  /** Epochs of the first period (`T_0`), an integer ≥ 1. */
  t0: number;
  /** The factor by which each period is longer than the last (`T_mult`), an integer ≥ 1; default 1. */
  tMult?: number;
  /** The lowest rate; default 0. */
  etaMin?: number;
}

/** The state of a {@link CosineAnnealingWarmRestarts}: the base's, and where in its period it is. */
export interface CosineAnnealingWarmRestartsState extends LRSchedulerState {
  /** Epochs since the last restart (`T_cur`; fractional after `stepTo`). */
  tCur: number;
  /** Epochs of the current period (`T_i`). */
  tI: number;
}

/**
 * Cosine annealing with warm restarts over an optimiser's groups (see the module notes).
 *
 * @example Periods of 2, then 4 epochs
 * ```ts
 * import { CosineAnnealingWarmRestarts } from "./cosine_annealing_warm_restarts.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new CosineAnnealingWarmRestarts(optimizer, { t0: 2, tMult: 2 });
 * const lrs = [];
 * for (let e = 0; e < 7; e++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(3)); sched.step(); }
 * console.log(lrs.join(" ")); // 1.000 0.500 1.000 0.854 0.500 0.146 1.000
 * ```
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  /** Epochs of the first period. */
  readonly t0: number;
  /** The growth factor of the periods. */
  readonly tMult: number;
  /** The lowest rate. */
  readonly etaMin: number;
  #tCur = 0;
  #tI: number;

  /**
   * The schedule over `optimizer`'s groups, starting at their base rates.
   *
   * @param options `t0` epochs of the first period; `tMult` default 1; `etaMin` default 0.
   */
  constructor(optimizer: LearningRateGroups, options: CosineAnnealingWarmRestartsOptions) {
    super(optimizer, options);
    checkOptions(
      "CosineAnnealingWarmRestarts",
      options,
      optionNames<typeof options>({
        t0: true,
        tMult: true,
        etaMin: true,
        name: true,
        interval: true,
      }),
    );
    const what = "CosineAnnealingWarmRestarts";
    this.t0 = options.t0;
    this.tMult = options.tMult ?? 1;
    this.etaMin = options.etaMin ?? 0;
    for (const [key, v] of [["t0", this.t0], ["tMult", this.tMult]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${what}: ${key} must be an integer ≥ 1, got ${v}`);
      }
    }
    if (typeof this.etaMin !== "number" || !Number.isFinite(this.etaMin)) {
      throw new RangeError(`${what}: etaMin must be a finite number, got ${this.etaMin}`);
    }
    this.#tI = this.t0;
    this.start();
  }

  /** Epochs since the last restart (PyTorch's `T_cur`). */
  get tCur(): number {
    return this.#tCur;
  }

  /** Epochs of the current period (PyTorch's `T_i`). */
  get tI(): number {
    return this.#tI;
  }

  /** The closed form at `tCur` of the group's base rate. */
  protected nextLr(_lr: number, index: number): number {
    const base = this.baseLrs[index];
    return this.etaMin + (base - this.etaMin) * (1 + Math.cos(Math.PI * this.#tCur / this.#tI)) / 2;
  }

  /** Advances one epoch, restarting (and lengthening the period) at its end. */
  override step(): void {
    this.#tCur += 1;
    if (this.#tCur >= this.#tI) {
      this.#tCur -= this.#tI;
      this.#tI *= this.tMult;
    }
    super.step();
  }

  /**
   * Moves to `epoch`, which may be fractional (PyTorch's `step(epoch)`): the period it falls in
   * and the time since that period began are computed from `t0` and `tMult`.
   *
   * @example Half-epoch steps within a period of 4
   * ```ts
   * import { CosineAnnealingWarmRestarts } from "./cosine_annealing_warm_restarts.ts";
   * const optimizer = { paramGroups: [{ lr: 1 }] };
   * const sched = new CosineAnnealingWarmRestarts(optimizer, { t0: 4 });
   * sched.stepTo(2.5);
   * console.log(optimizer.paramGroups[0].lr.toFixed(4), sched.lastEpoch); // 0.3087 2
   * ```
   */
  stepTo(epoch: number): void {
    if (typeof epoch !== "number" || !(epoch >= 0 && epoch < Infinity)) {
      throw new RangeError(
        `CosineAnnealingWarmRestarts: epoch must be a finite number ≥ 0, got ${epoch}`,
      );
    }
    const [t0, mult] = [this.t0, this.tMult];
    if (epoch < t0) {
      [this.#tI, this.#tCur] = [t0, epoch];
    } else if (mult === 1) {
      [this.#tI, this.#tCur] = [t0, epoch % t0];
    } else {
      // PyTorch's int(math.log(epoch / T_0 · (T_mult − 1) + 1, T_mult)): the period's index.
      const n = Math.trunc(Math.log(epoch / t0 * (mult - 1) + 1) / Math.log(mult));
      this.#tCur = epoch - t0 * (mult ** n - 1) / (mult - 1);
      this.#tI = t0 * mult ** n;
    }
    this.jumpTo(Math.floor(epoch));
  }

  /** Starts over at the first period (PyTorch's `step(0)`; `SequentialLR` calls it). */
  override restart(): void {
    [this.#tI, this.#tCur] = [this.t0, 0];
    super.restart();
  }

  /** Its state: the base's, with `tCur` and `tI`. */
  override stateDict(): CosineAnnealingWarmRestartsState {
    return { ...super.stateDict(), tCur: this.#tCur, tI: this.#tI };
  }

  /** Restores a state from {@link CosineAnnealingWarmRestarts.stateDict}. */
  override loadStateDict(state: CosineAnnealingWarmRestartsState): void {
    const { tCur, tI } = state ?? {};
    if (!(typeof tCur === "number" && tCur >= 0 && Number.isInteger(tI) && tI >= 1)) {
      throw new TypeError(`invalid ${this.name} state: tCur = ${tCur}, tI = ${tI}`);
    }
    super.loadStateDict(state);
    [this.#tCur, this.#tI] = [tCur, tI];
  }
}

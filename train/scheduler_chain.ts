/**
 * What SequentialLR and ChainedScheduler share: a scheduler made of schedulers of its optimiser,
 * whose state holds theirs.
 *
 * @module
 */

import type { LearningRateGroups } from "./plateau.ts";
import { LRScheduler, type LRSchedulerOptions, type LRSchedulerState } from "./lr_scheduler.ts";

/** The state of a scheduler of schedulers: its own, and each of theirs. */
export interface SchedulerChainState extends LRSchedulerState {
  /** The schedulers' states, in order. */
  schedulers: LRSchedulerState[];
}

/**
 * A scheduler of `schedulers`, every one of `optimizer`; the groups' rates are what they set.
 *
 * @example
 * ```ts
 * import { ExponentialLR } from "./lr_scheduler.ts";
 * import { SchedulerChain } from "./scheduler_chain.ts";
 * class Both extends SchedulerChain {
 *   override step(): void {
 *     this.schedulers.forEach((s) => s.step());
 *     super.step();
 *   }
 * }
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const both = new Both("Both", optimizer, [new ExponentialLR(optimizer, { gamma: 0.5 })]);
 * both.step();
 * console.log(both.stateDict().schedulers[0].lastLr); // [0.5]
 * ```
 */
export abstract class SchedulerChain extends LRScheduler {
  /** The schedulers, in order. */
  readonly schedulers: readonly LRScheduler[];

  /** Checks that `schedulers` are some, each an LRScheduler of `optimizer`. */
  constructor(
    what: string,
    optimizer: LearningRateGroups,
    schedulers: readonly LRScheduler[],
    options: LRSchedulerOptions = {},
  ) {
    super(optimizer, options);
    if (!Array.isArray(schedulers) || schedulers.length === 0) {
      throw new RangeError(`${what}: no schedulers`);
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) {
        throw new TypeError(
          `${what}: scheduler ${i} is not an LRScheduler (ReduceLROnPlateau steps on a ` +
            "metric: step it on its own)",
        );
      }
      if (s.optimizer !== optimizer) {
        throw new Error(`${what}: scheduler ${i} belongs to another optimiser`);
      }
    });
    this.schedulers = [...schedulers];
  }

  /** The rate the schedulers set. */
  protected nextLr(lr: number): number {
    return lr;
  }

  /** Its state and its schedulers'. */
  override stateDict(): SchedulerChainState {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  /** Restores a state from `stateDict`, its schedulers' too. */
  override loadStateDict(state: SchedulerChainState): void {
    const inner = state?.schedulers;
    if (!Array.isArray(inner) || inner.length !== this.schedulers.length) {
      throw new TypeError(
        `invalid ${this.name} state: schedulers must hold ${this.schedulers.length} states`,
      );
    }
    super.loadStateDict(state);
    this.schedulers.forEach((s, i) => s.loadStateDict(inner[i]));
  }
}

/**
 * `torch.optim.lr_scheduler.ChainedScheduler`: several schedulers of one optimiser stepped
 * together, each step calling every one's `step()` in order, so their factors multiply (a
 * warm-up factor and a decay at once, say). As in PyTorch, building it steps nothing: each
 * scheduler has already applied its epoch 0. Give a Trainer the chain only, not its
 * schedulers; its state holds theirs, so a resume continues exactly.
 *
 * @module
 */

import type { LearningRateGroups } from "./plateau.ts";
import type { LRScheduler, LRSchedulerOptions } from "./lr_scheduler.ts";
import { SchedulerChain, type SchedulerChainState } from "./scheduler_chain.ts";

/** ChainedScheduler's state: its own, and each of its schedulers'. */
export type ChainedSchedulerState = SchedulerChainState;

/**
 * Steps `schedulers` (of one optimiser) together.
 *
 * @example A constant factor for two epochs times an exponential decay
 * ```ts
 * import { ConstantLR, ExponentialLR } from "./lr_scheduler.ts";
 * import { ChainedScheduler } from "./chained_scheduler.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new ChainedScheduler([
 *   new ConstantLR(optimizer, { factor: 0.1, totalIters: 2 }),
 *   new ExponentialLR(optimizer, { gamma: 0.9 }),
 * ]);
 * const lrs = [];
 * for (let e = 0; e < 5; e++) { lrs.push(optimizer.paramGroups[0].lr.toFixed(4)); sched.step(); }
 * console.log(lrs.join(" ")); // 0.1000 0.0900 0.8100 0.7290 0.6561
 * ```
 */
export class ChainedScheduler extends SchedulerChain {
  /**
   * Chains `schedulers`, all of `optimizer` (default the first one's).
   *
   * @param options The chain's name and interval in a Trainer.
   */
  constructor(
    schedulers: readonly LRScheduler[],
    optimizer?: LearningRateGroups,
    options: LRSchedulerOptions = {},
  ) {
    const owner = optimizer ?? schedulers?.[0]?.optimizer;
    if (owner === undefined) throw new RangeError("ChainedScheduler: no schedulers");
    super("ChainedScheduler", owner, schedulers, options);
  }

  /** Steps every scheduler, in order. */
  override step(): void {
    for (const scheduler of this.schedulers) scheduler.step();
    super.step();
  }
}

/**
 * `torch.optim.lr_scheduler.SequentialLR`: schedulers one after another, switching at
 * milestone epochs; a warm-up then a decay is the usual use.
 *
 * As in PyTorch, the schedulers are built first (each takes the groups' base rates, and their
 * constructors' changes are undone), the first starts at once, and at each milestone the next
 * starts over from the base rates (PyTorch's `step(0)`: its closed form at epoch 0). Give the
 * Trainer the SequentialLR only, not its schedulers. Its state holds theirs, so a resume
 * continues exactly.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { LearningRateGroups } from "./plateau.ts";
import type { LRScheduler, LRSchedulerOptions } from "./lr_scheduler.ts";
import { SchedulerChain, type SchedulerChainState } from "./scheduler_chain.ts";

/** SequentialLR's state: its own, and each of its schedulers'. */
export type SequentialLRState = SchedulerChainState;

/**
 * Runs `schedulers` in turn, the k-th from epoch `milestones[k − 1]` on.
 *
 * @example Two epochs of linear warm-up, then an exponential decay
 * ```ts
 * import { ExponentialLR, LinearLR } from "./lr_scheduler.ts";
 * import { SequentialLR } from "./sequential_lr.ts";
 * const optimizer = { paramGroups: [{ lr: 1 }] };
 * const sched = new SequentialLR(optimizer, {
 *   schedulers: [
 *     new LinearLR(optimizer, { startFactor: 0.5, totalIters: 2 }),
 *     new ExponentialLR(optimizer, { gamma: 0.5 }),
 *   ],
 *   milestones: [2],
 * });
 * const lrs = [];
 * for (let e = 0; e < 5; e++) { lrs.push(optimizer.paramGroups[0].lr); sched.step(); }
 * console.log(lrs); // [0.5, 0.75, 1, 0.5, 0.25]
 * ```
 */
export class SequentialLR extends SchedulerChain {
  /** The epochs at which the next scheduler takes over. */
  readonly milestones: readonly number[];

  /**
   * Chains `schedulers` of `optimizer` at `milestones` (one fewer than the schedulers).
   *
   * @param options The schedulers, their milestones (increasing epochs ≥ 1), and the name and
   * interval of the chain.
   */
  constructor(
    optimizer: LearningRateGroups,
    options:
      & { schedulers: readonly LRScheduler[]; milestones: readonly number[] }
      & LRSchedulerOptions,
  ) {
    super("SequentialLR", optimizer, options.schedulers, options);
    checkOptions(
      "SequentialLR",
      options,
      optionNames<typeof options>({
        schedulers: true,
        milestones: true,
        name: true,
        interval: true,
      }),
    );
    const { schedulers, milestones } = options;
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} ` +
          `milestones, got ${milestones.length}`,
      );
    }
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 1 || (i > 0 && m <= milestones[i - 1])) {
        throw new RangeError(
          `SequentialLR: milestones must be increasing integers ≥ 1, got [${milestones}]`,
        );
      }
    });
    this.milestones = [...milestones];
    // Undo what the schedulers' constructors did to the rates; the first starts from the base.
    optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]));
    this.schedulers[0].restart();
    this.start();
  }

  /** Steps the scheduler of the next epoch, or starts it over at its milestone. */
  override step(): void {
    const epoch = this.lastEpoch + 1;
    const index = this.milestones.filter((m) => m <= epoch).length;
    const scheduler = this.schedulers[index];
    if (index > 0 && this.milestones[index - 1] === epoch) scheduler.restart();
    else scheduler.step();
    super.step();
  }
}

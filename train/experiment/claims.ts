/**
 * The AlexNet paper's claims as experiments: for each, two arms that differ in one switch
 * (the paper's choice first), and the measures that decide it, each with the effect the
 * paper reports.
 *
 * @module
 */

import type { Activation } from "../../nn/activation.ts";
import type { PoolingConfig } from "../../nn/alexnet.ts";
import type { EpochMetrics } from "../run_log.ts";

/** The claims, by id. */
export type ClaimId = "relu" | "lrn" | "pooling" | "dropout" | "towers";

/** Every claim id, in the paper's order of sections. */
export const CLAIM_IDS: readonly ClaimId[] = ["relu", "towers", "lrn", "pooling", "dropout"];

/** The model switches an arm sets (the rest stay the paper's). */
export interface ArmSwitches {
  /** Nonlinearity. */
  activation?: Activation;
  /** Local response normalisation. */
  lrn?: boolean;
  /** Max-pooling window. */
  pooling?: PoolingConfig;
  /** Dropout rate of fc6 and fc7. */
  dropout?: number;
  /** Two towers, or one with half the kernels. */
  towers?: 1 | 2;
}

/** One arm of a claim: a name for folders, a label for tables, and its switches. */
export interface Arm {
  /** Folder name, e.g. `tanh`. */
  name: string;
  /** Table and legend label, e.g. `tanh`. */
  label: string;
  /** What differs from the paper's network (empty for the paper's arm). */
  switches: ArmSwitches;
}

/** What one finished run of an experiment recorded. */
export interface RunRecord {
  /** Its epoch rows, in order. */
  rows: readonly EpochMetrics[];
  /**
   * Error rates (fractions) on the training images in evaluation mode after the last epoch
   * (no dropout, no augmentation), for an overfitting measure free of dropout's noise; null
   * when not measured.
   */
  trainEval: { top1: number; top5: number; loss: number } | null;
}

/** What a measure is computed from, besides a run's record. */
export interface MeasureContext {
  /** The target training error (a fraction) of epochs-to-target measures. */
  target: number;
  /** Classes of the data (the error at epoch 0 is taken as chance, 1 − 1/classes). */
  classes: number;
}

/**
 * A number per run, and how the two arms compare: `difference` is the alternative arm's
 * value minus the paper arm's (in the measure's unit), `ratio` the alternative's over the
 * paper arm's.
 */
export interface Measure {
  /** Short id, e.g. `val-top1`. */
  id: string;
  /** What is measured, for the table: e.g. `validation top-1 error (%)`. */
  label: string;
  /** How the arms compare. */
  compare: "difference" | "ratio";
  /**
   * The paper's direction: +1 when it finds the alternative arm's value larger (a higher
   * error without LRN; more epochs with tanh), −1 when smaller.
   */
  expected: 1 | -1;
  /** The paper's effect in words, e.g. `+1.4 points without LRN`. */
  paper: string;
  /**
   * The value of one run; `Infinity` when a target was never reached (the run is then
   * counted at its last epoch, a lower bound).
   */
  value(run: RunRecord, context: MeasureContext): number;
}

/** A claim of the paper as an experiment. */
export interface Claim {
  /** Id, e.g. `lrn`. */
  id: ClaimId;
  /** Title, e.g. `Local response normalisation`. */
  title: string;
  /** Where the paper says it, e.g. `§3.3`. */
  section: string;
  /** The claim in the paper's words (shortened). */
  statement: string;
  /** The network: Figure 1's four-layer net, or the (scaled) AlexNet. */
  model: "figure1" | "alexnet";
  /** The paper's arm first, then the alternative. */
  arms: readonly [Arm, Arm];
  /** The measures, the deciding one first. */
  measures: readonly Measure[];
  /** Whether training uses weight decay and dropout (Figure 1: "no regularization"). */
  regularized: boolean;
}

/** The last epoch's value of `key` in percent. */
function final(key: "valTop1" | "valTop5"): (run: RunRecord) => number {
  return (run) => 100 * (run.rows.at(-1)?.[key] ?? NaN);
}

/**
 * Epochs until the training error first reaches `target`, interpolated linearly between
 * epoch ends (the error before the first epoch taken as chance); `Infinity` if it never does.
 *
 * @example
 * ```ts
 * import { epochsToTarget } from "./claims.ts";
 * const row = (epoch: number, trainTop1: number) => ({ epoch, trainTop1 }) as never;
 * console.log(epochsToTarget([row(1, 0.5), row(2, 0.3), row(3, 0.2)], 0.25, 10)); // 2.5
 * ```
 */
export function epochsToTarget(
  rows: readonly EpochMetrics[],
  target: number,
  classes: number,
): number {
  let previous = { epoch: 0, error: 1 - 1 / classes };
  for (const row of rows) {
    const error = row.trainTop1;
    if (error <= target) {
      if (previous.error <= target) return row.epoch;
      const t = (previous.error - target) / (previous.error - error);
      return previous.epoch + t * (row.epoch - previous.epoch);
    }
    if (Number.isFinite(error)) previous = { epoch: row.epoch, error };
  }
  return Infinity;
}

const valTop1 = (paper: string, expected: 1 | -1 = 1): Measure => ({
  id: "val-top1",
  label: "validation top-1 error (%)",
  compare: "difference",
  expected,
  paper,
  value: final("valTop1"),
});

const valTop5 = (paper: string, expected: 1 | -1 = 1): Measure => ({
  id: "val-top5",
  label: "validation top-5 error (%)",
  compare: "difference",
  expected,
  paper,
  value: final("valTop5"),
});

const epochsMeasure = (paper: string, expected: 1 | -1): Measure => ({
  id: "epochs-to-target",
  label: "epochs to the target training error",
  compare: "ratio",
  expected,
  paper,
  value: (run, c) => epochsToTarget(run.rows, c.target, c.classes),
});

/**
 * Validation minus training top-1 error after the last epoch, both in evaluation mode (the
 * running training error is inflated by dropout and augmentation, which would bias exactly
 * the comparisons this measures).
 */
const overfitting = (paper: string): Measure => ({
  id: "overfitting",
  label: "overfitting: validation − training top-1 error (points)",
  compare: "difference",
  expected: 1,
  paper,
  value: (run) => {
    const last = run.rows.at(-1);
    return last && run.trainEval ? 100 * (last.valTop1 - run.trainEval.top1) : NaN;
  },
});

/** The paper's claims, by id. */
export const CLAIMS: Readonly<Record<ClaimId, Claim>> = {
  relu: {
    id: "relu",
    title: "ReLU against tanh",
    section: "§3.1, Figure 1",
    statement: "a four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times " +
      "faster than the same network with tanh units",
    model: "figure1",
    arms: [
      { name: "relu", label: "ReLU", switches: {} },
      { name: "tanh", label: "tanh", switches: { activation: "tanh" } },
    ],
    measures: [epochsMeasure("×6 (tanh takes six times the epochs)", 1)],
    regularized: false,
  },
  towers: {
    id: "towers",
    title: "Two towers against one with half the kernels",
    section: "§3.2",
    statement: "the two-GPU net has 1.7 / 1.2 points lower top-1 / top-5 error than a net " +
      "with half as many kernels in each convolutional layer on one GPU",
    model: "alexnet",
    arms: [
      { name: "two-towers", label: "two towers", switches: {} },
      { name: "one-tower", label: "one tower, half the kernels", switches: { towers: 1 } },
    ],
    measures: [valTop1("+1.7 points with one tower"), valTop5("+1.2 points with one tower")],
    regularized: true,
  },
  lrn: {
    id: "lrn",
    title: "Local response normalisation",
    section: "§3.3",
    statement: "response normalisation reduces top-1 / top-5 error by 1.4 / 1.2 points (and " +
      "a four-layer CIFAR-10 net's test error from 13% to 11%)",
    model: "alexnet",
    arms: [
      { name: "lrn", label: "LRN", switches: {} },
      { name: "no-lrn", label: "no LRN", switches: { lrn: false } },
    ],
    measures: [valTop1("+1.4 points without LRN"), valTop5("+1.2 points without LRN")],
    regularized: true,
  },
  pooling: {
    id: "pooling",
    title: "Overlapping pooling",
    section: "§3.4",
    statement: "overlapping pooling (3×3, stride 2) reduces top-1 / top-5 error by 0.4 / 0.3 " +
      "points against 2×2 stride 2, and overfits slightly less",
    model: "alexnet",
    arms: [
      { name: "pool-3s2", label: "3×3 s2 (overlapping)", switches: {} },
      {
        name: "pool-2s2",
        label: "2×2 s2",
        switches: { pooling: { kernelSize: 2, stride: 2 } },
      },
    ],
    measures: [
      valTop1("+0.4 points without overlap"),
      valTop5("+0.3 points without overlap"),
      overfitting('larger without overlap ("slightly")'),
    ],
    regularized: true,
  },
  dropout: {
    id: "dropout",
    title: "Dropout",
    section: "§4.2",
    statement: "without dropout the network overfits substantially; dropout roughly doubles " +
      "the iterations needed to converge",
    model: "alexnet",
    arms: [
      { name: "dropout", label: "dropout 0.5", switches: {} },
      { name: "no-dropout", label: "no dropout", switches: { dropout: 0 } },
    ],
    measures: [
      valTop1("higher without dropout (it overfits)"),
      overfitting('larger without dropout ("substantially")'),
      epochsMeasure("×0.5 (dropout doubles the iterations)", -1),
    ],
    regularized: true,
  },
};

/**
 * Comparing two arms run with the same seeds: each seed gives a paired effect (the
 * alternative arm against the paper's arm), summarised as mean ± sample standard deviation,
 * and a verdict from a paired t-test at 95%: the paper's direction, the opposite one, or not
 * resolved by this many seeds.
 *
 * @module
 */

import type { Measure } from "./claims.ts";

/** Mean and sample standard deviation (0 for one value). */
export interface Spread {
  /** Mean. */
  mean: number;
  /** Sample standard deviation (n − 1). */
  sd: number;
  /** Values. */
  n: number;
}

/**
 * Mean ± sample standard deviation of finite values (NaN mean when none).
 *
 * @example
 * ```ts
 * import { spread } from "./stats.ts";
 * console.log(spread([1, 2, 3])); // { mean: 2, sd: 1, n: 3 }
 * ```
 */
export function spread(values: readonly number[]): Spread {
  const xs = values.filter(Number.isFinite);
  const n = xs.length;
  if (n === 0) return { mean: NaN, sd: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

/** Two-sided 95% critical values of Student's t for 1–30 degrees of freedom. */
const T95 = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/** The verdict on one measure. */
export type Verdict = "holds" | "opposite" | "not resolved";

/** How one measure came out in the two arms. */
export interface Comparison {
  /** The measure. */
  measure: Measure;
  /** Per arm (paper's first): the values by seed, `Infinity` where a target was not reached. */
  raw: [number[], number[]];
  /** Per arm: the values by seed, censored ones counted at their bound. */
  arms: [number[], number[]];
  /** Per arm: values that hit the end of training without reaching a target. */
  censored: [number, number];
  /** Per arm: mean ± sd. */
  summaries: [Spread, Spread];
  /**
   * The paired effect per seed: difference (alternative − paper) or, for ratios, the
   * alternative over the paper's arm.
   */
  effects: number[];
  /** Mean ± sd of the paired effects. */
  effect: Spread;
  /** For ratios: the ratio of the arms' means (the headline number). */
  ratioOfMeans: number;
  /** The paper's direction, the opposite, or not resolved at 95%. */
  verdict: Verdict;
}

/**
 * Compares two arms on one measure. Values are paired by position (seed). A censored value
 * (`Infinity`: a target never reached) counts as `bound` (the epochs trained), a lower bound,
 * so a verdict in the direction the censoring pushes is conservative; one against it is not
 * drawn. Ratios are tested on their logarithms.
 *
 * @example
 * ```ts
 * import { compareArms } from "./stats.ts";
 * import { CLAIMS } from "./claims.ts";
 * const c = compareArms(CLAIMS.relu.measures[0], [2, 2.5, 3], [9, 12, Infinity], 15);
 * console.log(c.verdict, c.ratioOfMeans.toFixed(1)); // holds 4.8
 * ```
 */
export function compareArms(
  measure: Measure,
  paperArm: readonly number[],
  altArm: readonly number[],
  bound = Infinity,
): Comparison {
  const clip = (v: number) => (v === Infinity ? bound : v);
  const a = paperArm.map(clip), b = altArm.map(clip);
  const censored: [number, number] = [
    paperArm.filter((v) => v === Infinity).length,
    altArm.filter((v) => v === Infinity).length,
  ];
  const ratio = measure.compare === "ratio";
  const effects: number[] = [];
  const tested: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) continue;
    effects.push(ratio ? b[i] / a[i] : b[i] - a[i]);
    tested.push(ratio ? Math.log(b[i] / a[i]) : b[i] - a[i]);
  }
  const summaries: [Spread, Spread] = [spread(a), spread(b)];
  const t = spread(tested);
  let verdict: Verdict = "not resolved";
  if (t.n >= 2 && t.sd > 0) {
    const critical = T95[Math.min(t.n - 1, T95.length) - 1];
    const score = t.mean / (t.sd / Math.sqrt(t.n));
    if (Math.abs(score) > critical) {
      verdict = Math.sign(score) === measure.expected ? "holds" : "opposite";
    }
  } else if (t.n >= 2 && t.mean !== 0) {
    // Every seed gave the same nonzero effect.
    verdict = Math.sign(t.mean) === measure.expected ? "holds" : "opposite";
  }
  // A censored arm bounds its values from below: only a verdict they push towards stands.
  const pushes = censored[1] > 0 ? 1 : censored[0] > 0 ? -1 : 0;
  if (pushes !== 0 && verdict !== "not resolved") {
    const direction = verdict === "holds" ? measure.expected : -measure.expected;
    if (direction !== pushes || (censored[0] > 0 && censored[1] > 0)) verdict = "not resolved";
  }
  return {
    measure,
    raw: [[...paperArm], [...altArm]],
    arms: [a, b],
    censored,
    summaries,
    effects,
    effect: spread(effects),
    ratioOfMeans: summaries[1].mean / summaries[0].mean,
    verdict,
  };
}

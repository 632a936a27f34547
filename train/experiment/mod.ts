/**
 * The AlexNet paper's claims as runnable experiments: ReLU against tanh (Figure 1), two
 * towers, local response normalisation, overlapping pooling and dropout. A claim runs as two
 * arms that differ in one switch, with the same data and seeds, several seeds per arm; the
 * arms are compared per seed. `deno run -A cli.ts experiment` drives it with presets and writes
 * the Markdown table and the curves.
 *
 * @example Compare two arms' results
 * ```ts
 * import { CLAIMS, compareArms } from "./mod.ts";
 * const lrn = CLAIMS.lrn;
 * const c = compareArms(lrn.measures[0], [30.1, 31.0, 29.5], [31.9, 32.4, 31.0]);
 * console.log(lrn.arms.map((a) => a.label), c.effect.mean.toFixed(2), c.verdict);
 * // [ "LRN", "no LRN" ] 1.57 holds
 * ```
 *
 * @module
 */

export {
  type Arm,
  type ArmSwitches,
  type Claim,
  CLAIM_IDS,
  type ClaimId,
  CLAIMS,
  epochsToTarget,
  type Measure,
  type MeasureContext,
  type RunRecord,
} from "./claims.ts";
export { compareArms, type Comparison, type Spread, spread, type Verdict } from "./stats.ts";
export {
  type ArmRun,
  type ArmRunOutcome,
  type ClaimResult,
  EXPERIMENT_JSON,
  ExperimentMismatchError,
  type ExperimentOptions,
  type ExperimentResult,
  FINAL_JSON,
  loadExperiment,
  runExperiment,
  summarize,
} from "./runner.ts";

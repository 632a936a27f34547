/**
 * Runs one claim as a set of training runs, arm by arm and seed by seed, each an ordinary
 * run folder (`<dir>/<arm>/seed-<n>/`), and resumes an interrupted set: finished runs are
 * kept, a run with a checkpoint continues from it, any other starts over. The training itself
 * is the caller's (the command line builds models and data); this module decides what to run,
 * records it, and compares the arms.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../../nn/_atomic.ts";
import { plural } from "../_format.ts";
import { latestCheckpoint } from "../checkpoint.ts";
import { readMetrics } from "../run_log.ts";
import { type Arm, type Claim, type ClaimId, CLAIMS, type RunRecord } from "./claims.ts";
import { compareArms, type Comparison } from "./stats.ts";

/** The manifest of a set of runs: what must not change when it resumes. */
export const EXPERIMENT_JSON = "experiment.json";
/** Written into a run folder when its run is complete. */
export const FINAL_JSON = "final.json";

/** What one claim's set of runs found. */
export interface ClaimResult {
  /** The claim. */
  claim: Claim;
  /** The data, e.g. `synthetic shapes, 2048 train / 512 val, 28×28 (crops 23)`. */
  data: string;
  /** Epochs per run. */
  epochs: number;
  /** The seeds, the same in both arms. */
  seeds: readonly number[];
  /** The target training error of epochs-to-target measures (a fraction). */
  target: number;
  /** Classes of the data. */
  classes: number;
  /** Per arm (the paper's first), per seed: the run's record. */
  runs: readonly [readonly RunRecord[], readonly RunRecord[]];
  /** One comparison per measure of the claim. */
  comparisons: readonly Comparison[];
}

/** One run the caller trains. */
export interface ArmRun {
  /** The claim. */
  claim: Claim;
  /** The arm. */
  arm: Arm;
  /** The seed of initialisation, data order, augmentation and dropout. */
  seed: number;
  /** The run folder. */
  dir: string;
  /** Epochs to train up to. */
  epochs: number;
  /** Continue from the folder's latest checkpoint (else start fresh in an empty folder). */
  resume: boolean;
}

/** What training one run gives back. */
export interface ArmRunOutcome {
  /** Stopped early (an abort): the set stops too, and resumes later. */
  interrupted: boolean;
  /** Errors on the training images in evaluation mode after the last epoch, if measured. */
  trainEval: RunRecord["trainEval"];
}

/** Options of {@link runExperiment}. */
export interface ExperimentOptions {
  /** The claim. */
  claim: Claim;
  /** Seeds, the same for both arms. */
  seeds: readonly number[];
  /** Epochs per run. */
  epochs: number;
  /** Target training error of epochs-to-target measures (a fraction). */
  target: number;
  /** Classes of the data. */
  classes: number;
  /** One line describing the data, for the report. */
  data: string;
  /** The set's folder. */
  dir: string;
  /**
   * Everything that defines the runs (preset, data, recipe): a resume must match it. (The
   * target may change: it re-measures the same runs.)
   */
  settings: Record<string, unknown>;
  /** Trains one run to `epochs` (or continues it). */
  train(run: ArmRun): Promise<ArmRunOutcome>;
  /**
   * A finished run folder that trained exactly this run, if there is one (the paper's arm is
   * the same network in several claims): its records are copied instead of training again.
   * Training is deterministic, so the copy is what training would give.
   */
  sameRun?(run: ArmRun): Promise<string | null>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What {@link runExperiment} returns. */
export interface ExperimentResult {
  /** The comparison, or null when the set was interrupted (it resumes on the next call). */
  result: ClaimResult | null;
  /** Runs trained (or continued) in this call. */
  trained: number;
  /** Runs found complete and kept. */
  kept: number;
  /** Runs copied from an identical finished run (see {@link ExperimentOptions.sameRun}). */
  reused: number;
}

/**
 * Raised when a set's folder holds runs of different settings (a resume must match them).
 *
 * @example
 * ```ts
 * import { ExperimentMismatchError } from "../mod.ts";
 * const error = new ExperimentMismatchError("runs/lrn holds 6-epoch runs, not 8");
 * console.log(error instanceof Error, error.name); // true "ExperimentMismatchError"
 * ```
 */
export class ExperimentMismatchError extends Error {
  /** `"ExperimentMismatchError"`. */
  override name = "ExperimentMismatchError";
}

/**
 * Runs (or resumes) a claim's set and, when every run is complete, compares the arms.
 *
 * @example
 * ```ts
 * import { appendEpochMetrics } from "../run_log.ts";
 * import { CLAIMS } from "./claims.ts";
 * import { runExperiment } from "./runner.ts";
 * const dir = await Deno.makeTempDir();
 * const { result } = await runExperiment({
 *   claim: CLAIMS.lrn, seeds: [0, 1, 2], epochs: 1, target: 0.25, classes: 10,
 *   data: "stand-in data", dir, settings: {},
 *   // A stand-in for training: without LRN the error ends 2 points higher.
 *   train: async (run) => {
 *     const e = 0.3 + run.seed / 100 + (run.arm.name === "no-lrn" ? 0.02 : 0);
 *     await appendEpochMetrics(run.dir, { epoch: 1, step: 1, lr: 0.01, trainLoss: 1,
 *       trainTop1: e, trainTop5: 0, valLoss: 1, valTop1: e, valTop5: 0, imagesPerSec: 1,
 *       seconds: 1, skippedSteps: 0 });
 *     return { interrupted: false, trainEval: null };
 *   },
 * });
 * console.log(result?.comparisons[0].effect.mean.toFixed(1), result?.comparisons[0].verdict); // 2.0 holds
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  const { claim, seeds, epochs, dir } = options;
  const log = options.log ?? (() => {});
  if (seeds.length === 0) throw new RangeError("runExperiment: no seeds");
  if (new Set(seeds).size !== seeds.length) throw new RangeError("runExperiment: repeated seeds");
  await Deno.mkdir(dir, { recursive: true });
  await checkManifest(options);
  let trained = 0, kept = 0, reused = 0;
  const runs: [RunRecord[], RunRecord[]] = [[], []];
  const total = seeds.length * 2;
  let index = 0;
  // Seed-major order: an interrupted set has both arms of its first seeds, already comparable.
  for (const seed of seeds) {
    for (const [armIndex, arm] of claim.arms.entries()) {
      index++;
      const runDir = join(dir, arm.name, `seed-${seed}`);
      const done = await readFinal(runDir);
      if (done) {
        kept++;
        runs[armIndex].push({ rows: await readMetrics(runDir, { upToEpoch: epochs }), ...done });
        continue;
      }
      const resume = (await latestCheckpoint(runDir)) !== null;
      if (!resume) await Deno.remove(runDir, { recursive: true }).catch(() => {});
      await Deno.mkdir(runDir, { recursive: true });
      const run = { claim, arm, seed, dir: runDir, epochs, resume };
      const label = `[${index}/${total}] ${claim.id}: ${arm.label}, seed ${seed}`;
      const same = resume ? null : await options.sameRun?.(run);
      if (same) {
        await copyRecords(same, runDir);
        log(`${label}: the same run as ${same}, reused`);
        reused++;
        const final = (await readFinal(runDir))!;
        runs[armIndex].push({ rows: await readMetrics(runDir, { upToEpoch: epochs }), ...final });
        continue;
      }
      log(label + (resume ? " (resuming)" : ""));
      const outcome = await options.train(run);
      trained++;
      if (outcome.interrupted) return { result: null, trained, kept, reused };
      const rows = await readMetrics(runDir, { upToEpoch: epochs });
      if (rows.length < epochs) {
        throw new Error(
          `${runDir}: the run ended after ${rows.length} of ${plural(epochs, "epoch")}`,
        );
      }
      await writeFileAtomic(
        join(runDir, FINAL_JSON),
        JSON.stringify({ trainEval: outcome.trainEval }) + "\n",
      );
      runs[armIndex].push({ rows, trainEval: outcome.trainEval });
    }
  }
  return { result: summarize(options, runs), trained, kept, reused };
}

/** Copies a finished run's records (not its checkpoints), the completion marker last. */
async function copyRecords(from: string, to: string): Promise<void> {
  for await (const e of Deno.readDir(from)) {
    if (e.isFile && e.name !== FINAL_JSON && e.name !== "checkpoint.json") {
      await writeFileAtomic(join(to, e.name), await Deno.readFile(join(from, e.name)));
    }
  }
  await writeFileAtomic(join(to, FINAL_JSON), await Deno.readFile(join(from, FINAL_JSON)));
}

/**
 * The comparison of a set written earlier by {@link runExperiment}, over the seeds whose runs
 * are complete in both arms; null when the folder holds no set of `claim`, or no such seed.
 *
 * @example
 * ```ts
 * import { loadExperiment } from "./runner.ts";
 * console.log(await loadExperiment("no/such/folder", "lrn")); // null
 * ```
 */
export async function loadExperiment(dir: string, claim: ClaimId): Promise<ClaimResult | null> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(dir, EXPERIMENT_JSON)));
  } catch {
    return null;
  }
  if (manifest.claim !== claim) return null;
  const c = CLAIMS[claim];
  const seedsOf = async (arm: Arm): Promise<number[]> => {
    const seeds: number[] = [];
    try {
      for await (const e of Deno.readDir(join(dir, arm.name))) {
        const m = /^seed-(\d+)$/.exec(e.name);
        if (m && (await readFinal(join(dir, arm.name, e.name)))) seeds.push(Number(m[1]));
      }
    } catch {
      // No runs of this arm yet.
    }
    return seeds;
  };
  const [a, b] = await Promise.all(c.arms.map(seedsOf));
  const seeds = a.filter((s) => b.includes(s)).sort((x, y) => x - y);
  if (seeds.length === 0) return null;
  const runs: [RunRecord[], RunRecord[]] = [[], []];
  for (const [i, arm] of c.arms.entries()) {
    for (const seed of seeds) {
      const runDir = join(dir, arm.name, `seed-${seed}`);
      const final = (await readFinal(runDir))!;
      runs[i].push({ rows: await readMetrics(runDir, { upToEpoch: manifest.epochs }), ...final });
    }
  }
  return summarize({ ...manifest, claim: c, seeds }, runs);
}

/**
 * Compares the arms on every measure of the claim, from each run's record.
 *
 * @example
 * ```ts
 * import { CLAIMS, summarize } from "../mod.ts";
 * const row = (error: number) => ({
 *   epoch: 1, step: 10, lr: 0.01, trainLoss: 1, trainTop1: error, trainTop5: 0.1, valLoss: 1,
 *   valTop1: error, valTop5: 0.1, imagesPerSec: 100, seconds: 1, skippedSteps: 0,
 * });
 * const run = (error: number) => ({ rows: [row(error)], trainEval: null });
 * const result = summarize(
 *   { claim: CLAIMS.lrn, seeds: [0, 1], epochs: 1, target: 0.5, classes: 10, data: "demo" },
 *   [[run(0.3), run(0.32)], [run(0.4), run(0.41)]],
 * );
 * console.log(result.comparisons.map((c) => c.measure.id)); // the claim's measures
 * ```
 */
export function summarize(
  options: Pick<ExperimentOptions, "claim" | "seeds" | "epochs" | "target" | "classes" | "data">,
  runs: readonly [readonly RunRecord[], readonly RunRecord[]],
): ClaimResult {
  const context = { target: options.target, classes: options.classes };
  return {
    claim: options.claim,
    data: options.data,
    epochs: options.epochs,
    seeds: options.seeds,
    target: options.target,
    classes: options.classes,
    runs,
    comparisons: options.claim.measures.map((m) =>
      compareArms(
        m,
        runs[0].map((r) => m.value(r, context)),
        runs[1].map((r) => m.value(r, context)),
        options.epochs,
      )
    ),
  };
}

async function readFinal(runDir: string): Promise<Pick<RunRecord, "trainEval"> | null> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(join(runDir, FINAL_JSON)));
    return { trainEval: parsed.trainEval ?? null };
  } catch {
    return null;
  }
}

/** The contents of `experiment.json`. */
interface Manifest {
  claim: ClaimId;
  arms: string[];
  data: string;
  classes: number;
  epochs: number;
  target: number;
  settings: Record<string, unknown>;
}

/** Writes the manifest, or checks that an existing one describes the same set. */
async function checkManifest(options: ExperimentOptions): Promise<void> {
  const path = join(options.dir, EXPERIMENT_JSON);
  const manifest: Manifest = {
    claim: options.claim.id,
    arms: options.claim.arms.map((a) => a.name),
    data: options.data,
    classes: options.classes,
    epochs: options.epochs,
    target: options.target,
    settings: options.settings,
  };
  const text = JSON.stringify(manifest, null, 1) + "\n";
  let existing: string | null = null;
  try {
    existing = await Deno.readTextFile(path);
  } catch {
    // A new set.
  }
  if (existing === null) {
    await writeFileAtomic(path, text);
    return;
  }
  const before: Record<string, unknown> = JSON.parse(existing);
  const now: Record<string, unknown> = { ...manifest };
  // The target only reads the runs' curves: another one re-measures the same runs.
  const changed = Object.keys({ ...before, ...now }).filter((k) =>
    k !== "target" && JSON.stringify(before[k]) !== JSON.stringify(now[k])
  );
  if (changed.length > 0) {
    throw new ExperimentMismatchError(
      `${options.dir} holds runs of other settings (${changed.join(", ")} differ from ` +
        `${EXPERIMENT_JSON}): use another output folder, or the same settings to resume`,
    );
  }
  if (before.target !== now.target) await writeFileAtomic(path, text);
}

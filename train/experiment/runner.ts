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
import { latestCheckpoint } from "../checkpoint.ts";
import { readMetrics } from "../run_log.ts";
import type { Arm, Claim, RunRecord } from "./claims.ts";
import { type ClaimResult, renderClaimSvg, renderReport } from "./report.ts";
import { compareArms } from "./stats.ts";

/** The manifest of a set of runs: what must not change when it resumes. */
export const EXPERIMENT_JSON = "experiment.json";
/** Written into a run folder when its run is complete. */
export const FINAL_JSON = "final.json";
/** The set's report. */
export const REPORT_MD = "RESULTS.md";
/** The set's curves. */
export const CURVES_SVG = "curves.svg";

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
  /** Everything that defines the runs (preset, data, recipe): a resume must match it. */
  settings: Record<string, unknown>;
  /** Trains one run to `epochs` (or continues it). */
  train(run: ArmRun): Promise<ArmRunOutcome>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What {@link runExperiment} returns. */
export interface ExperimentResult {
  /** The comparison, or null when the set was interrupted. */
  result: ClaimResult | null;
  /** Runs trained (or continued) in this call. */
  trained: number;
  /** Runs found complete and kept. */
  kept: number;
}

/** Raised when a set's folder holds runs of different settings. */
export class ExperimentMismatchError extends Error {
  override name = "ExperimentMismatchError";
}

/**
 * Runs (or resumes) a claim's set and, when every run is complete, writes `RESULTS.md` and
 * `curves.svg` into its folder.
 *
 * @example
 * ```ts ignore
 * const { result } = await runExperiment({
 *   claim: CLAIMS.lrn, seeds: [0, 1, 2], epochs: 6, target: 0.25, classes: 10,
 *   data: "synthetic", dir: "runs/lrn", settings: { preset: "quick" },
 *   train: async (run) => { ... return { interrupted: false, trainEval: null }; },
 * });
 * ```
 */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  const { claim, seeds, epochs, dir } = options;
  const log = options.log ?? (() => {});
  if (seeds.length === 0) throw new RangeError("runExperiment: no seeds");
  if (new Set(seeds).size !== seeds.length) throw new RangeError("runExperiment: repeated seeds");
  await Deno.mkdir(dir, { recursive: true });
  await checkManifest(options);
  let trained = 0, kept = 0;
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
      log(
        `[${index}/${total}] ${claim.id}: ${arm.label}, seed ${seed}` +
          (resume ? " (resuming)" : ""),
      );
      const outcome = await options.train({ claim, arm, seed, dir: runDir, epochs, resume });
      trained++;
      if (outcome.interrupted) return { result: null, trained, kept };
      const rows = await readMetrics(runDir, { upToEpoch: epochs });
      if (rows.length < epochs) {
        throw new Error(`${runDir}: the run ended after ${rows.length} of ${epochs} epochs`);
      }
      await writeFileAtomic(
        join(runDir, FINAL_JSON),
        JSON.stringify({ trainEval: outcome.trainEval }) + "\n",
      );
      runs[armIndex].push({ rows, trainEval: outcome.trainEval });
    }
  }
  const result = summarize(options, runs);
  await writeFileAtomic(
    join(dir, REPORT_MD),
    renderReport([result], { title: claim.title, curves: () => CURVES_SVG }),
  );
  await writeFileAtomic(join(dir, CURVES_SVG), renderClaimSvg(result));
  return { result, trained, kept };
}

/** Compares the arms on every measure of the claim. */
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

/** Writes the manifest, or checks that an existing one describes the same set. */
async function checkManifest(options: ExperimentOptions): Promise<void> {
  const path = join(options.dir, EXPERIMENT_JSON);
  const manifest = {
    claim: options.claim.id,
    arms: options.claim.arms.map((a) => a.name),
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
  const before = JSON.parse(existing);
  const changed = Object.keys({ ...before, ...manifest }).filter((k) =>
    JSON.stringify(before[k]) !== JSON.stringify((manifest as Record<string, unknown>)[k])
  );
  if (changed.length > 0) {
    throw new ExperimentMismatchError(
      `${options.dir} holds runs of other settings (${changed.join(", ")} differ from ` +
        `${EXPERIMENT_JSON}): use another output folder, or the same settings to resume`,
    );
  }
}

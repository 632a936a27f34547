/**
 * The `experiment` command: runs the paper's claims as sets of paired runs (see
 * `train/experiment/`), with presets, and writes the Markdown table and the curves.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../nn/_atomic.ts";
import type { DataSource, DataSplits, DataSubset } from "../train/data/data_format.ts";
import { isDir } from "../train/data/_fs.ts";
import { loadDataSplits } from "../train/data/formats.ts";
import { CLAIM_IDS, CLAIMS } from "../train/experiment/claims.ts";
import { type ClaimResult, loadExperiment, runExperiment } from "../train/experiment/runner.ts";
import type { Device } from "../mod.ts";
import { channelMean, detectData } from "./_data.ts";
import { type ClaimSetup, runConfig, sameRun, trainArm } from "./_experiment_arm.ts";
import { measuredText, renderClaimSvg, renderReport } from "./_experiment_report.ts";
import { acquireDevices } from "./_model.ts";
import { requireFolderPath } from "./_run_dir.ts";
import { STOP_SIGNALS, stopOnSignals, StoppedBySignal } from "./_signals.ts";
import {
  choice,
  type Command,
  defineCommand,
  number,
  str,
  UsageError,
  type Values,
} from "./_options.ts";

/** A preset: the data, the sizes and the recipe of every run of a claim. */
export interface ExperimentPreset {
  /** One line for the help. */
  summary: string;
  /** The data (null: `--data` is required). */
  data: DataSource | null;
  /** Model input side: a random crop in training, the centre in validation. */
  crop: number;
  /** Seeds of every arm. */
  seeds: number[];
  /** Images per step. */
  batchSize: number;
  /** Epochs without a better validation error before the learning rate is divided by 10. */
  patience: number;
  /** The scaled AlexNet's width, epochs and learning rate (towers, LRN, pooling, dropout). */
  alexnet: { width: number; epochs: number; lr: number };
  /** The Figure 1 net's width, epochs, learning rate, and target training error (ReLU/tanh). */
  figure1: { width: number; epochs: number; lr: number; target: number };
}

/**
 * The presets. Crops are odd-sided all the way down (23 → 11 → 5 → 2; 31 → 15 → 7 → 3), so the
 * pooling claim's two windows give the same shapes and differ only in their overlap.
 */
export const EXPERIMENT_PRESETS: Readonly<Record<"quick" | "medium" | "full", ExperimentPreset>> = {
  quick: {
    summary: "built-in synthetic shapes; minutes per claim on a 2-core CPU",
    data: { kind: "synthetic", trainSize: 2048, valSize: 256, size: 28, seed: 0 },
    crop: 23,
    seeds: [0, 1, 2],
    batchSize: 32,
    patience: 100,
    alexnet: { width: 1 / 8, epochs: 8, lr: 0.015 },
    figure1: { width: 1 / 2, epochs: 10, lr: 0.02, target: 0.25 },
  },
  medium: {
    summary: "Fashion-MNIST, 10,000 / 2,000 subset; about an hour per claim on a CPU",
    data: {
      kind: "idx",
      dir: "/usr/share/datasets/fashion-mnist",
      subset: { train: 10000, val: 2000, seed: 0 },
    },
    crop: 23,
    seeds: [0, 1, 2],
    batchSize: 32,
    patience: 3,
    alexnet: { width: 1 / 4, epochs: 12, lr: 0.015 },
    figure1: { width: 1, epochs: 8, lr: 0.02, target: 0.25 },
  },
  full: {
    summary: "CIFAR-10 or your own data (--data); for a GPU",
    data: null,
    crop: 31,
    seeds: [0, 1, 2, 3, 4],
    batchSize: 128,
    patience: 3,
    alexnet: { width: 1 / 2, epochs: 40, lr: 0.01 },
    figure1: { width: 1, epochs: 40, lr: 0.01, target: 0.25 },
  },
};

const EXPERIMENT_HELP =
  `Runs the paper's claims as experiments: each claim is two arms that differ in one switch
only (same data, same seeds, several seeds per arm), compared seed by seed. Writes
RESULTS.md (the paper's claim | measured here | verdict | data, epochs, seeds) and one SVG
of curves per claim into the output folder. Ctrl-C, SIGTERM or SIGHUP finishes the current
step (or abandons the epoch's validation), writes the run's checkpoint and exits with status
130, 143 or 129 (128 + the signal's number); a second signal quits at once. Rerun the same
command to resume an interrupted set: finished runs are kept, a run with a checkpoint
continues from it.

  --claim <id>          ${CLAIM_IDS.join(" | ")} | all (default all):
${CLAIM_IDS.map((id) => `                          ${id.padEnd(8)} ${CLAIMS[id].title}`).join("\n")}
  --preset <name>       quick | medium | full (default quick):
${
    Object.entries(EXPERIMENT_PRESETS).map(([name, p]) =>
      `                          ${name.padEnd(8)} ${p.summary}`
    ).join("\n")
  }
  --data <dir>          Other data (CIFAR-10/100 binaries, IDX files, prepared shards); required
                        by --preset full.
  --val-data <dir>      Prepared validation folder (with a prepared --data folder).
  --out <dir>           Output folder (default runs/experiments/<preset>).
  --seeds <list>        Seeds, e.g. 0,1,2, or a count (default: the preset's).
  --epochs <n>          Epochs per run (default: the preset's, per model).
  --train-size <n>      Training images (synthetic data: generated; other data: a balanced
                        subset).
  --val-size <n>        Validation images (likewise).
  --target <pct>        Figure 1's target training error in percent (default: the preset's;
                        the paper: 25 on CIFAR-10).
  --width <x>           Channel multiplier of the model (default: the preset's, per model).
  --batch-size <n>      Images per step (default: the preset's).
  --lr <x>              Learning rate, the same in both arms (default: the preset's).
  --log-every <n>       Steps between loss readbacks (default 20).
  -h, --help            This help.`;

function parseSeeds(text: string | undefined, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 100) throw new UsageError(`--seeds ${t}: give 1 to 100 seeds`, "experiment");
    return Array.from({ length: n }, (_, i) => i);
  }
  const list = t.split(",").map((s) => s.trim());
  if (!list.every((s) => /^\d+$/.test(s))) {
    throw new UsageError(
      `--seeds must be a count or a list like 0,1,2, got '${text}'`,
      "experiment",
    );
  }
  const seeds = list.map(Number);
  if (new Set(seeds).size !== seeds.length) {
    throw new UsageError(`--seeds lists a seed twice: '${text}'`, "experiment");
  }
  return seeds;
}

async function runExperimentCommand(values: Values): Promise<number> {
  const cmd = "experiment";
  const claimArg = choice(values, "claim", cmd, [...CLAIM_IDS, "all"] as const) ?? "all";
  const presetName = choice(values, "preset", cmd, ["quick", "medium", "full"] as const) ??
    "quick";
  const preset = EXPERIMENT_PRESETS[presetName];
  const dataDir = str(values, "data");
  if (str(values, "val-data") && !dataDir) throw new UsageError("--val-data needs --data", cmd);
  let data: DataSource;
  if (dataDir) data = await detectData(dataDir, str(values, "val-data"), cmd);
  else if (preset.data) {
    data = structuredClone(preset.data);
    if (typeof data.dir === "string" && !(await isDir(data.dir))) {
      throw new UsageError(
        `--preset ${presetName} reads ${data.dir}, which is missing (Fashion-MNIST: ` +
          `apt-get install dataset-fashion-mnist); or give --data`,
        cmd,
      );
    }
  } else {
    throw new UsageError(
      `--preset ${presetName} needs --data (CIFAR-10 binaries, or your own data)`,
      cmd,
    );
  }
  const trainSize = number(values, "train-size", cmd, { integer: true, min: 1 });
  const valSize = number(values, "val-size", cmd, { integer: true, min: 1 });
  if (data.kind === "synthetic") {
    if (trainSize !== undefined) data.trainSize = trainSize;
    if (valSize !== undefined) data.valSize = valSize;
  } else if (trainSize !== undefined || valSize !== undefined) {
    const subset: DataSubset = { ...(data.subset ?? { seed: 0 }) };
    if (trainSize !== undefined) subset.train = trainSize;
    if (valSize !== undefined) subset.val = valSize;
    data.subset = subset;
  }
  const seeds = parseSeeds(str(values, "seeds"), preset.seeds);
  const epochs = number(values, "epochs", cmd, { integer: true, min: 1 });
  const targetPct = number(values, "target", cmd, { above: 0, below: 100 });
  const logEvery = number(values, "log-every", cmd, { integer: true, min: 1 }) ?? 20;
  const width = number(values, "width", cmd, { above: 0, max: 4 });
  const batchSize = number(values, "batch-size", cmd, { integer: true, min: 1, max: 4096 });
  const lr = number(values, "lr", cmd, { above: 0 });
  const out = str(values, "out") ?? join("runs", "experiments", presetName);
  // Found before the devices and the data: mkdir failed at the first claim ('Not a directory').
  await requireFolderPath(out, "--out", cmd);
  const claims = claimArg === "all" ? CLAIM_IDS : [claimArg];

  // As `train`: the signals first, so one during the setup (devices, data) stops it cleanly;
  // the setup writes nothing, so nothing is left to undo.
  using stop = stopOnSignals();
  let device: Device;
  let splits: DataSplits;
  try {
    [device] = await stop.during(acquireDevices(1));
    splits = await stop.during(loadDataSplits(data));
  } catch (error) {
    if (!(error instanceof StoppedBySignal)) throw error;
    console.log(`${error.signalName} before training started: stopped; nothing trained`);
    return STOP_SIGNALS[error.signalName];
  }
  const side = Math.min(splits.train.height, splits.train.width);
  if (preset.crop > side) {
    throw new UsageError(
      `the preset's ${preset.crop}-pixel crops exceed the ${side}-pixel images`,
      cmd,
    );
  }
  const mean = channelMean(splits.train);
  const classes = splits.train.numClasses;
  const description = `${splits.description}; ${preset.crop}×${preset.crop} crops`;
  console.log(`device: ${device.describe()}`);
  console.log(`data: ${description}`);
  console.log(`seeds: ${seeds.join(", ")}; output: ${out}`);

  stop.trainingStarts();
  for (const id of claims) {
    const claim = CLAIMS[id];
    const sizes = claim.model === "figure1" ? preset.figure1 : preset.alexnet;
    const setup: ClaimSetup = {
      claim: id,
      preset: presetName,
      data,
      crop: preset.crop,
      width: width ?? sizes.width,
      epochs: epochs ?? sizes.epochs,
      lr: lr ?? sizes.lr,
      batchSize: batchSize ?? preset.batchSize,
      patience: preset.patience,
      weightDecay: claim.regularized ? 5e-4 : 0,
      logEvery,
    };
    const target = targetPct !== undefined ? targetPct / 100 : preset.figure1.target;
    const { logEvery: _readbacks, ...settings } = setup;
    console.log(
      `\n${claim.title} (${claim.section}): ${claim.arms.map((a) => a.label).join(" vs ")}`,
    );
    const started = performance.now();
    const { result } = await runExperiment({
      claim,
      seeds,
      epochs: setup.epochs,
      target,
      classes,
      data: description,
      dir: join(out, id),
      settings,
      train: (run) => trainArm(run, setup, splits, mean, device, stop.signal),
      sameRun: (run) => sameRun(out, runConfig(run, setup, splits, mean)),
      log: (line) => console.log(line),
    });
    if (result === null) {
      console.log(`interrupted; rerun the same command to resume`);
      return STOP_SIGNALS[stop.received!]; // Only a signal stops a set.
    }
    for (const c of result.comparisons) {
      console.log(`  ${c.measure.label}: ${measuredText(result, c)} → ${c.verdict}`);
    }
    console.log(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    await writeReports(out);
  }
  console.log(`\nwrote ${join(out, "RESULTS.md")}`);
  return 0;
}

/**
 * RESULTS.md over every finished claim in the output folder (from this call or earlier ones),
 * with each claim's curves beside it as `<claim>.svg`.
 */
async function writeReports(out: string): Promise<void> {
  const results: ClaimResult[] = [];
  for (const id of CLAIM_IDS) {
    const r = await loadExperiment(join(out, id), id);
    if (r === null) continue;
    results.push(r);
    await writeFileAtomic(join(out, `${id}.svg`), renderClaimSvg(r));
  }
  await writeFileAtomic(
    join(out, "RESULTS.md"),
    renderReport(results, { curves: (id) => `${id}.svg` }),
  );
}

/** The `experiment` command. */
export const experimentCommand: Command = defineCommand({
  summary: "run the paper's claims (ReLU/tanh, towers, LRN, pooling, dropout) as experiments",
  usage: "experiment [options]",
  strings: "claim preset data val-data out seeds epochs train-size val-size target " +
    "width batch-size lr log-every",
  help: EXPERIMENT_HELP,
  run: runExperimentCommand,
});

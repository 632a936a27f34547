/**
 * `train --resume`: the options it takes, the saved configuration, and the data checked to be
 * the run's (or found at its new place).
 *
 * @module
 */

import { join } from "node:path";
import { latestCheckpoint } from "../train/checkpoint.ts";
import type { DataSplits } from "../train/data/data_format.ts";
import { dataDifferences, fingerprint } from "../train/data/fingerprint.ts";
import { loadDataSplits } from "../train/data/formats.ts";
import { isFile } from "../train/data/_fs.ts";
import { plural } from "../train/_format.ts";
import { readRunConfig, RUN_CONFIG_FILE, type RunConfig, writeRunConfig } from "./_config.ts";
import { detectData } from "./_data.ts";
import { number, shellArg, str, UsageError, type Values } from "./_options.ts";

/**
 * The options `--resume` takes, and a run folder to resume. Returns whether the run has a
 * checkpoint: a run stopped before its first one (killed, or out of memory) has only its
 * settings, and starts again from its beginning with them, which is exactly where it was.
 */
export async function checkResume(values: Values, runDir: string): Promise<boolean> {
  const cmd = "train";
  const allowed = new Set([
    "resume",
    "epochs",
    "log-every",
    "data",
    "val-data",
    "adapter",
    "separate-devices",
    "help",
  ]);
  const extra = Object.keys(values).filter((k) => values[k] !== undefined && !allowed.has(k));
  if (extra.length > 0) {
    throw new UsageError(
      `--resume continues a run with its saved settings; only --epochs and --log-every may ` +
        `change, --data give the data's new place, and --adapter (--separate-devices) pick this machine's GPU ` +
        `(got ${extra.map((k) => `--${k}`).join(", ")})`,
      cmd,
    );
  }
  if (!(await isFile(join(runDir, RUN_CONFIG_FILE)))) {
    throw new UsageError(`--resume ${runDir}: no config.json there (not a run folder?)`, cmd);
  }
  // (A new run refuses this folder, since it holds a run: --resume is the way to continue it.)
  return (await latestCheckpoint(runDir)) !== null;
}

/**
 * The saved configuration and data of a run to resume. `--data` (and `--val-data`) give the
 * data's new place when it moved: it must be the same data set (counts, classes, contents),
 * and the difference is explained when it is not.
 */
export async function resumeConfig(
  values: Values,
  runDir: string,
): Promise<{ config: RunConfig; splits: DataSplits }> {
  const cmd = "train";
  const config = await readRunConfig(runDir);
  if (config === null) {
    throw new UsageError(`--resume ${runDir}: no config.json there (not a run folder?)`, cmd);
  }
  // A new --epochs or --log-every is kept in config.json, as a new data place is: a later
  // plain --resume continues to the epochs last asked for.
  const saved = { epochs: config.epochs, logEvery: config.logEvery };
  config.epochs = number(values, "epochs", cmd, { integer: true, min: 1 }) ?? config.epochs;
  config.logEvery = number(values, "log-every", cmd, { integer: true, min: 1 }) ??
    config.logEvery;
  const newDir = str(values, "data");
  const valDir = str(values, "val-data");
  if (valDir && !newDir) throw new UsageError("--val-data needs --data", cmd);
  let data = config.data;
  if (newDir) {
    data = { ...(await detectData(newDir, valDir, cmd)) };
    if (config.data.subset) data.subset = config.data.subset;
    if (data.kind !== config.data.kind) {
      throw new UsageError(
        `--data ${newDir} holds ${data.kind} data; the run was trained on ${config.data.kind} data`,
        cmd,
      );
    }
  }
  let splits: DataSplits;
  try {
    splits = await loadDataSplits(data);
  } catch (error) {
    if (newDir) throw error;
    throw new Error(
      `${(error as Error).message} (if the run's data moved, give its new folder: ` +
        `--resume ${shellArg(runDir)} --data <dir>)`,
      { cause: error },
    );
  }
  // (A run may have more outputs than the data has classes: `--num-classes`.)
  if (splits.train.numClasses > config.model.numClasses) {
    throw new Error(
      `the data has ${plural(splits.train.numClasses, "class", "classes")}, the run's model ` +
        `${config.model.numClasses}`,
    );
  }
  const now = { train: fingerprint(splits.train), val: fingerprint(splits.val) };
  const differences = config.dataFingerprint ? dataDifferences(config.dataFingerprint, now) : [];
  if (differences.length > 0) {
    const given = newDir ? `--data ${newDir}` : `the run's data (${config.data.dir ?? data.kind})`;
    throw new Error(`${given} is not the data this run was trained on: ${differences.join("; ")}`);
  }
  if (newDir) {
    console.log(`data moved: ${config.data.dir} → ${data.dir}; same data set, resuming`);
    config.data = data;
    config.dataFingerprint = now;
  }
  if (newDir || config.epochs !== saved.epochs || config.logEvery !== saved.logEvery) {
    await writeRunConfig(runDir, config);
  }
  return { config, splits };
}

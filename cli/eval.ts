/**
 * The `eval` command: evaluates a checkpoint on validation data.
 *
 * @module
 */

import { join } from "node:path";
import { checkedCheckpoint, loadModelCheckpoint } from "../nn/checkpoint.ts";
import type { Module } from "../nn/module.ts";
import { readSafetensorsFile } from "../nn/safetensors.ts";
import { loadModelWeights, loadTrainingCheckpoint, STATE_FILE } from "../train/checkpoint.ts";
import { evaluate } from "../train/evaluate.ts";
import type { Dataset } from "../train/data/dataset.ts";
import { parseRunConfig, readRunConfig, type RunConfig } from "./_config.ts";
import { loadDataSplits } from "../train/data/formats.ts";
import { isDir, isFile } from "../train/data/_fs.ts";
import { augmentations, detectData } from "./_data.ts";
import { acquireDevices, ADAPTER_HELP, buildModel } from "./_model.ts";
import { trainConfig } from "./train.ts";
import { requireModelNames } from "./_init_from.ts";
import { formatLoss, pct, plural, showsTop5 } from "../train/_format.ts";
import { STOP_SIGNALS, stopOnSignals, StoppedBySignal } from "./_signals.ts";
import { type Command, defineCommand, number, str, UsageError, type Values } from "./_options.ts";

const EVAL_HELP = `Evaluates a trained model on the validation data: loss, top-1 and top-5 error.

  --checkpoint <path>   A run folder (its latest good checkpoint), one checkpoint folder
                        (<run>/checkpoints/epoch-…), or a model .safetensors written by
                        training (it carries the run's configuration). Required, unless
                        --weights is given.
  --weights <file>      A .safetensors file of --model's weights in torchvision's layout (a
                        bare --checkpoint file with --model is the same), scored without a
                        run folder: the model as train builds it from --model, --width,
                        --stem, --crop and the data (its class count: the data's).
  --model <name>        The architecture of --weights (train's names).
  --width, --stem, --crop, --image-size, --train-size, --val-size
                        As train's, for --weights (the training images set the mean).
  --data <dir>          Evaluate on other data than the run's (same --data kinds as train).
  --val-data <dir>      Prepared validation folder (with a prepared --data folder).
  --batch-size <n>      Images per batch (default: the run's).
  --ten-crop            The paper's ten patches, softmax averaged (default: centre crop).
  --devices 1|2         Placement (default: the run's).
${ADAPTER_HELP}
  -h, --help            This help.

Ctrl-C, SIGTERM or SIGHUP stops it at once (it writes nothing) with status 130, 143 or 129
(128 + the signal's number).`;

async function runEval(values: Values): Promise<number> {
  // Eval writes nothing: a signal stops it at once, with one line and 128 + the signal's number.
  using stop = stopOnSignals();
  try {
    return await stop.during(evaluateCheckpoint(values, stop.signal));
  } catch (error) {
    if (!(error instanceof StoppedBySignal)) throw error;
    console.log(`${error.signalName}: eval stopped (it writes nothing)`);
    return STOP_SIGNALS[error.signalName];
  }
}

async function evaluateCheckpoint(values: Values, signal: AbortSignal): Promise<number> {
  const cmd = "eval";
  if (str(values, "val-data") && !str(values, "data")) {
    throw new UsageError("--val-data needs --data", cmd);
  }
  const { config, weights, load } = str(values, "model") === undefined
    ? await checkpointToEvaluate(checkpointPath(values, cmd), cmd)
    : await bareWeights(values, cmd);
  const batchSize = number(values, "batch-size", cmd, { integer: true, min: 1 }) ??
    config.batchSize;
  const devicesCount = (number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) ??
    config.devices) as 1 | 2;
  const dataDir = str(values, "data");
  const data = dataDir ? await detectData(dataDir, str(values, "val-data"), cmd) : config.data;
  const devices = await acquireDevices(devicesCount, values, cmd);
  const splits = await loadDataSplits(data);
  checkClasses(config, splits.val, dataDir, cmd);
  checkImageSize(config, splits.val, dataDir, cmd);
  const model = buildModel(config, devices);
  await load(model);
  const aug = augmentations(config, splits);
  const tenCrop = values["ten-crop"] === true;
  console.log(`evaluating ${weights} on ${splits.description}${tenCrop ? ", ten crops" : ""}`);
  const r = await evaluate(model, splits.val, {
    batchSize,
    augment: aug.val,
    tenCrop,
    device: devices[0],
    signal,
  });
  console.log(
    `validation: loss ${formatLoss(r.loss)}, top-1 error ${pct(r.top1)}` +
      (showsTop5(config.model.numClasses) ? `, top-5 error ${pct(r.top5)}` : "") +
      ` over ${plural(r.count, "image")} (${r.imagesPerSec.toFixed(1)} images/s)`,
  );
  return 0;
}

/**
 * Other data than the run's must have as many classes as the model has outputs: with more,
 * the loss failed at the first label past them; with fewer, it scored outputs that mean other
 * classes. The same count under other class names (both known) is only a warning: IDX files
 * name their classes "0", "1", … and a user may evaluate on another naming of the same classes.
 */
function checkClasses(config: RunConfig, val: Dataset, dataDir: string | undefined, cmd: string) {
  const model = config.model.numClasses;
  const where = dataDir ? `--data ${dataDir}` : "the run's data";
  if (val.numClasses !== model) {
    throw new UsageError(
      `${where} has ${plural(val.numClasses, "class", "classes")}; the checkpoint's model ` +
        `has ${plural(model, "output")}, one per class it was trained on`,
      cmd,
    );
  }
  const trained = config.dataFingerprint?.train.classes;
  if (trained && trained.join("\0") !== val.classNames.join("\0")) {
    console.warn(
      `warning: ${where} names its classes ${shortList(val.classNames)}; the model was ` +
        `trained on ${shortList(trained)}`,
    );
  }
}

/**
 * Other data than the run's must have images at least as large as the model's input, its
 * centre crop: smaller ones failed in the loader with 'augment: crop 24 does not fit in 16×16
 * images', naming neither the data nor the checkpoint.
 */
function checkImageSize(
  config: RunConfig,
  val: Dataset,
  dataDir: string | undefined,
  cmd: string,
) {
  if (Math.min(val.height, val.width) >= config.crop) return;
  const where = dataDir ? `--data ${dataDir}` : "the run's data";
  throw new UsageError(
    `${where} has ${val.height}×${val.width} images; the checkpoint's model takes ` +
      `${config.crop}×${config.crop} crops of them`,
    cmd,
  );
}

/** The first few names of a list, for a message. */
function shortList(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown}, … (${names.length})` : shown;
}

/**
 * The run configuration, the weights file and their loader of `--checkpoint`: a run folder
 * (its latest good checkpoint), one checkpoint folder of a run, or a model `.safetensors`
 * written by training (which carries the configuration in its metadata). The weights file is
 * read once.
 */
async function checkpointToEvaluate(
  path: string,
  cmd: string,
): Promise<{ config: RunConfig; weights: string; load: (model: Module) => Promise<unknown> }> {
  if (await isDir(path)) {
    const runConfig = await readRunConfig(path);
    if (runConfig === null && !(await isFile(join(path, STATE_FILE)))) {
      throw new UsageError(
        `--checkpoint ${path}: neither a run folder (config.json) nor a checkpoint folder ` +
          `(${STATE_FILE})`,
        cmd,
      );
    }
    const ckpt = await loadTrainingCheckpoint(path);
    return {
      config: runConfig ?? configInMetadata(ckpt.model.metadata.config, ckpt.modelPath, cmd),
      weights: ckpt.modelPath,
      load: (model) => loadModelWeights(ckpt, model),
    };
  }
  if (await isFile(path)) {
    const contents = await readSafetensorsFile(path);
    return {
      config: configInMetadata(contents.metadata.config, path, cmd),
      weights: path,
      load: (model) => loadModelCheckpoint(checkedCheckpoint(contents, path), path, model),
    };
  }
  throw new UsageError(`--checkpoint ${path}: no such file or folder`, cmd);
}

/** `--checkpoint`, required (and the options that need `--model` absent) without `--model`. */
function checkpointPath(values: Values, cmd: string): string {
  const needsModel = BARE_WEIGHTS_OPTIONS.filter((k) => values[k] !== undefined);
  if (needsModel.length > 0) {
    throw new UsageError(
      `--${needsModel[0]} needs --model (a run's checkpoint names its own)`,
      cmd,
    );
  }
  const path = str(values, "checkpoint");
  if (!path) throw new UsageError("--checkpoint is required (or --weights with --model)", cmd);
  return path;
}

/** The options that describe the model and data of bare weights, as `train` takes them. */
const BARE_WEIGHTS_OPTIONS = [
  "weights",
  "width",
  "stem",
  "crop",
  "image-size",
  "train-size",
  "val-size",
];

/**
 * A bare `.safetensors` file of weights (`--weights`, or `--checkpoint` with `--model`): the
 * configuration `train` would make of `--model`, the model and data options, and the data, and
 * the file's tensors strictly loaded into it.
 */
async function bareWeights(
  values: Values,
  cmd: string,
): Promise<{ config: RunConfig; weights: string; load: (model: Module) => Promise<unknown> }> {
  const [checkpoint, file] = [str(values, "checkpoint"), str(values, "weights")];
  if (checkpoint !== undefined && file !== undefined) {
    throw new UsageError("give --weights or --checkpoint, not both", cmd);
  }
  const path = file ?? checkpoint;
  if (path === undefined) throw new UsageError("--model needs --weights <file.safetensors>", cmd);
  if (!(await isFile(path))) {
    throw new UsageError(
      `${file ? "--weights" : "--checkpoint"} ${path}: ` +
        ((await isDir(path))
          ? "a folder; --model takes a .safetensors file (a run folder names its own model)"
          : "no such file"),
      cmd,
    );
  }
  let contents;
  try {
    contents = await readSafetensorsFile(path);
  } catch (error) {
    throw new UsageError(`${path}: not a .safetensors file (${(error as Error).message})`, cmd);
  }
  const keys = ["data", "val-data", "model", ...BARE_WEIGHTS_OPTIONS, "batch-size"];
  const given = Object.fromEntries(keys.map((k) => [k, values[k]]));
  const { config } = await trainConfig(given);
  const option = `${file ? "--weights" : "--checkpoint"} ${path}`;
  return {
    config,
    weights: path,
    load: (model) => {
      const weights = checkedCheckpoint(contents, path);
      requireModelNames(model, weights, config.model.preset, option, cmd);
      return loadModelCheckpoint(weights, path, model);
    },
  };
}

/**
 * The run configuration a model file written by training carries in its metadata: `config`
 * as stored (JSON text) or as parsed.
 */
function configInMetadata(config: unknown, weights: string, cmd: string): RunConfig {
  if (config === undefined || config === "") {
    throw new UsageError(`--checkpoint ${weights}: no run configuration in its metadata`, cmd);
  }
  const text = typeof config === "string" ? config : JSON.stringify(config);
  return parseRunConfig(text, `${weights} (metadata "config")`);
}

/** The `eval` command. */
export const evalCommand: Command = defineCommand({
  summary: "evaluate a checkpoint: loss, top-1, top-5",
  usage: "eval --checkpoint <run-dir|file> | --model <name> --weights <file> [options]",
  strings: "checkpoint weights model width stem crop image-size train-size val-size data " +
    "val-data batch-size devices adapter",
  flags: "ten-crop separate-devices",
  help: EVAL_HELP,
  run: runEval,
});

/**
 * Fine-tuning from the command line: `train --init-from <weights>` starts a new run from the
 * weights of a run folder, a checkpoint folder or a torchvision-layout `.safetensors` file, the
 * head re-initialised where the class count differs, and `--freeze`/`--train-only` keep parts
 * of the model fixed (PyTorch's `requires_grad_(False)`).
 *
 * @module
 */

import { alexnetParameterShapes } from "../nn/alexnet.ts";
import { checkedCheckpoint, type ModelCheckpoint } from "../nn/checkpoint.ts";
import { figure1ParameterShapes } from "../nn/figure1.ts";
import { type Module, slotShape } from "../nn/module.ts";
import { readSafetensorsFile, SafetensorsError } from "../nn/safetensors.ts";
import { loadTrainingCheckpoint } from "../train/checkpoint.ts";
import { isDir, isFile } from "../train/data/_fs.ts";
import { plural } from "../train/_format.ts";
import type { RunConfig } from "./_config.ts";
import { isZooModel, ZOO_MODELS, zooStateShapes } from "./_zoo.ts";
import { str, UsageError, type Values } from "./_options.ts";

/** The help lines of `train`'s fine-tuning options. */
export const INIT_FROM_HELP =
  `  --init-from <path>    Start a new run (fresh optimiser, epoch 0) from the weights of a run
                        folder, a checkpoint folder, or a .safetensors file in torchvision's
                        layout, for the same --model and --width. Entries whose shape differs
                        only in the class count (the head: fc, classifier.6, fc8) keep the
                        model's own initialisation. Not with --resume.
  --num-classes <n>     Output classes (default: the data's; at least as many).
  --freeze <p,...>      Freeze the parameters under these names (conv1, layer1, features …):
                        no gradient, not given to the optimiser.
  --train-only <p,...>  Freeze every parameter except those under these names (fc, say).`;

/** `train`'s fine-tuning options, checked, as a run's configuration keeps them. */
export function fineTuneOptions(
  values: Values,
  cmd: string,
): Pick<RunConfig, "initFrom" | "freeze" | "trainOnly"> {
  if (values["init-from"] !== undefined && values.resume !== undefined) {
    throw new UsageError(
      "--init-from starts a new run from weights; --resume continues a run: give one",
      cmd,
    );
  }
  if (values.freeze !== undefined && values["train-only"] !== undefined) {
    throw new UsageError("give --freeze or --train-only, not both", cmd);
  }
  const list = (key: string) => {
    const text = str(values, key);
    if (text === undefined) return undefined;
    const names = text.split(",").map((s) => s.trim());
    if (names.some((s) => s === "")) {
      throw new UsageError(`--${key} takes names separated by commas, got '${text}'`, cmd);
    }
    return names;
  };
  const initFrom = str(values, "init-from");
  const freeze = list("freeze"), trainOnly = list("train-only");
  return {
    ...(initFrom !== undefined ? { initFrom } : {}),
    ...(freeze ? { freeze } : {}),
    ...(trainOnly ? { trainOnly } : {}),
  };
}

/**
 * The weights of `--init-from`: a run folder (its latest good checkpoint), a checkpoint folder,
 * or a `.safetensors` file (a model file written by training, or torchvision's layout). Every
 * failure is a one-line usage error naming the path.
 */
export async function readInitWeights(path: string, cmd: string): Promise<ModelCheckpoint> {
  const option = `--init-from ${path}`;
  if (await isDir(path)) {
    try {
      return (await loadTrainingCheckpoint(path)).model;
    } catch (error) {
      throw new UsageError(`${option}: ${(error as Error).message}`, cmd);
    }
  }
  if (!(await isFile(path))) throw new UsageError(`${option}: no such file or folder`, cmd);
  try {
    return checkedCheckpoint(await readSafetensorsFile(path), path);
  } catch (error) {
    const what = error instanceof SafetensorsError
      ? "not a checkpoint or .safetensors file"
      : "unreadable";
    throw new UsageError(`${option}: ${what} (${(error as Error).message})`, cmd);
  }
}

/**
 * The run's starting point on a freshly initialised `model`: `weights` (of `--init-from`, or
 * null) loaded by {@link loadInitWeights}, then the freezing of {@link applyFreeze}; returns
 * the lines that say what each did.
 */
export async function fineTune(
  model: Module,
  weights: ModelCheckpoint | null,
  config: RunConfig,
  cmd: string,
): Promise<string[]> {
  const loaded = weights ? await loadInitWeights(model, weights, config, cmd) : null;
  return [loaded, applyFreeze(model, config, cmd)].filter((line) => line !== null);
}

/**
 * Loads `weights` into `model` (built for the run, with its own initialisation) and returns the
 * line that says what was loaded, skipped and re-initialised. The names must be the model's; an
 * entry whose shape differs only in its first dimension, the file's class count against the
 * model's, is the head: it is skipped, and the model's freshly initialised values stay. Any
 * other difference is an error naming the first one.
 */
async function loadInitWeights(
  model: Module,
  weights: ModelCheckpoint,
  config: RunConfig,
  cmd: string,
): Promise<string> {
  const option = `--init-from ${config.initFrom}`;
  const preset = config.model.preset;
  requireModelNames(model, weights, preset, option, cmd);
  const slots = model.stateSlots();
  const fileNames = Object.keys(weights.state);
  const classes = config.model.numClasses;
  const head: string[] = [];
  for (const slot of slots) {
    const value = weights.state[slot.name];
    const expected = slotShape(slot);
    if (!value || sameShape(value.shape, expected)) continue;
    if (expected[0] !== classes || !sameShape(value.shape.slice(1), expected.slice(1))) {
      throw new UsageError(
        `${option}: ${slot.name} is [${value.shape}], --model ${preset} has [${expected}] ` +
          `(only the head's class count may differ; was it saved at another --width or --stem?)`,
        cmd,
      );
    }
    head.push(`${slot.name} [${value.shape}]→[${expected}]`);
  }
  try {
    await model.loadStateDict(weights.state, { ignoreMismatchedSizes: true });
  } catch (error) {
    throw new UsageError(`${option}: ${(error as Error).message}`, cmd);
  }
  const loaded = fileNames.length - head.length;
  return `init from ${config.initFrom}: loaded ${loaded} of ${
    plural(slots.length, "entry", "entries")
  }` +
    (head.length === 0
      ? ""
      : `; skipped (class count differs) ${head.join(", ")}; re-initialised those ` +
        `(${config.init} init)`);
}

/**
 * Throws a usage error, naming `option`, when the names of `weights` are not those of
 * `model`'s state dict (`--model preset`): how many match, the first that does not, and the
 * `--model` whose names they are, when there is one.
 */
export function requireModelNames(
  model: Module,
  weights: ModelCheckpoint,
  preset: string,
  option: string,
  cmd: string,
): void {
  const slots = model.stateSlots();
  const names = new Set(slots.map((s) => s.name));
  const fileNames = Object.keys(weights.state);
  const missing = slots.filter((s) => !s.optional && !(s.name in weights.state));
  const unexpected = fileNames.filter((n) => !names.has(n));
  if (missing.length === 0 && unexpected.length === 0) return;
  const likely = likelyModel(fileNames);
  throw new UsageError(
    `${option}: the names do not fit --model ${preset}: ` +
      `${fileNames.length - unexpected.length} of the file's ${fileNames.length} tensors match, ` +
      `${missing.length} of the model's ${names.size} entries are missing (first unmatched: ` +
      `${unexpected[0] ?? missing[0].name})` +
      (likely && likely !== preset ? `; they are --model ${likely}'s names` : ""),
    cmd,
  );
}

/** Whether two shapes are equal. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The `--model` whose state dict's names hold all of `names` and the fewest others, planned
 * without allocating; undefined when none holds them all.
 */
function likelyModel(names: readonly string[]): string | undefined {
  const plan = (preset: string): string[] => {
    if (isZooModel(preset)) {
      const model = { preset, numClasses: 2, width: 1, inputSize: 224, dropout: 0, seed: 0 };
      return zooStateShapes(model).map((t) => t.name);
    }
    const shapes = preset === "figure1" ? figure1ParameterShapes() : alexnetParameterShapes();
    return Object.keys(shapes);
  };
  let best: { preset: string; extra: number } | undefined;
  for (const preset of ["small", "figure1", ...ZOO_MODELS]) {
    const planned = new Set(plan(preset));
    if (!names.every((n) => planned.has(n))) continue;
    const extra = planned.size - names.length;
    if (!best || extra < best.extra) best = { preset, extra };
  }
  return best?.preset;
}

/**
 * Freezes the parameters `config.freeze` names (every one but those `config.trainOnly` names):
 * `requiresGrad` false, so they get no gradient and the optimiser, made after, leaves them out.
 * A name is a parameter's dotted prefix (`layer1`, `layer1.0.conv1`, `fc.weight`); one that
 * names no parameter is a usage error listing the model's top-level names. Returns a line
 * saying what trains, or null when everything does.
 */
function applyFreeze(model: Module, config: RunConfig, cmd: string): string | null {
  const prefixes = config.freeze ?? config.trainOnly;
  if (!prefixes) return null;
  const named = model.namedParameters();
  const under = (name: string, prefix: string) => name === prefix || name.startsWith(`${prefix}.`);
  for (const prefix of prefixes) {
    if (!named.some(([name]) => under(name, prefix))) {
      const top = [...new Set(named.map(([name]) => name.split(".")[0]))];
      throw new UsageError(
        `--${config.freeze ? "freeze" : "train-only"} ${prefix}: no parameter of --model ` +
          `${config.model.preset} is under it (its top-level names: ${top.join(", ")})`,
        cmd,
      );
    }
  }
  let trainable = 0, total = 0;
  for (const [name, p] of named) {
    const listed = prefixes.some((prefix) => under(name, prefix));
    p.requiresGrad = config.freeze ? !listed : listed;
    total += p.size;
    if (p.requiresGrad) trainable += p.size;
  }
  return `frozen: ${
    config.freeze ? config.freeze.join(", ") : `all but ${prefixes.join(", ")}`
  }; ` +
    `${trainable.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} parameters train`;
}

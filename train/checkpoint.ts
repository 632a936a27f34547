/**
 * Training-state checkpoints: everything needed to continue a run exactly where it stopped.
 *
 * A checkpoint is a folder under `<run>/checkpoints/` holding
 *
 * - `model.safetensors`: the model's state dict (logical, placement-independent names), written
 *   by `nn/checkpoint.ts` and loadable on its own (`eval`, or any safetensors reader),
 * - `optimizer.safetensors`: the optimiser's state-dict tensors (SGD's velocities, by physical
 *   parameter name),
 * - `state.json`: the training loop's state (epoch and step, the data loader's position, every
 *   RNG state, the partial epoch's totals, the non-finite-loss counters, the run's history),
 *   the rest of the optimiser's state dict (its groups' hyperparameters), and the states of the
 *   callbacks that have one (the learning-rate scheduler's).
 *
 * `checkpoints` (`checkpoints.ts`) is the training-loop callback that writes one after every
 * epoch and on a stop request, and resumes from the latest. The files' names and forms are in
 * `_checkpoint_layout.ts`; reading and checking one folder is `_checkpoint_read.ts`.
 *
 * Atomicity: the files are written (each fsynced) into a hidden temporary folder, which is
 * then renamed to its final name; only then is the pointer `<run>/checkpoint.json` replaced,
 * atomically, to name it. A crash or error at any point leaves the previous pointer naming the
 * previous, complete checkpoint; older checkpoints are pruned only after the pointer moved.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { join } from "node:path";
import { encodeSafetensors, entryFromTypedArray, type TensorEntry } from "../nn/safetensors.ts";
import {
  CheckpointError,
  type CheckpointMetadata,
  loadModelCheckpoint,
  requireFinite,
  saveCheckpoint,
} from "../nn/checkpoint.ts";
import type { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { removeStaleTemps, writeFileAtomic } from "../nn/_atomic.ts";
import type { OptimizerStateDict } from "./optimizer.ts";
import {
  CHECKPOINT_POINTER,
  type CheckpointPointer,
  CHECKPOINTS_DIR,
  DEFAULT_CHECKPOINTS_KEPT,
  type LoadedCheckpoint,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  type TrainingState,
} from "./_checkpoint_layout.ts";
import {
  CheckpointVersionError,
  keptCheckpoints,
  readCheckpointFolder,
} from "./_checkpoint_read.ts";

export * from "./_checkpoint_layout.ts";

/** What to save. */
export interface SaveTrainingCheckpoint {
  /** The model (its weights go through `nn/checkpoint.ts`'s `saveCheckpoint`). */
  model: Module;
  /** The optimiser's state dict (its tensors are read back, then disposed). */
  optimizer: OptimizerStateDict;
  /** Everything else; `optimizer` is filled in from the above. */
  state: Omit<TrainingState, "format" | "version" | "optimizer" | "savedAt">;
}

/** Options of {@link saveTrainingCheckpoint}. */
export interface SaveTrainingCheckpointOptions {
  /** Complete checkpoints to keep, the new one included; default 2. */
  keep?: number;
  /** Writes one file atomically; default `writeFileAtomic`. Tests inject failures here. */
  writeFile?: (path: string, data: Uint8Array | string) => Promise<void>;
}

/**
 * Saves a checkpoint atomically (see the module doc) and returns its folder.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { saveTrainingCheckpoint, SGD, syntheticSplits, Trainer } from "./mod.ts";
 * await defaultDevice();
 * const model = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const optimizer = SGD.forModule(model, { lr: 0.01 });
 * const { train } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const trainer = new Trainer({ model, optimizer, trainData: train, epochs: 1, batchSize: 16 });
 * const state = { reason: "epoch" as const, ...trainer.loopState(), callbacks: {} };
 * const runDir = await Deno.makeTempDir();
 * const optimizerState = await optimizer.stateDict();
 * const dir = await saveTrainingCheckpoint(runDir, { model, optimizer: optimizerState, state });
 * trainer.dispose();
 * console.log(dir); // <runDir>/checkpoints/epoch-0000-step-0000000
 * ```
 */
export async function saveTrainingCheckpoint(
  runDir: string,
  what: SaveTrainingCheckpoint,
  options: SaveTrainingCheckpointOptions = {},
): Promise<string> {
  const write = options.writeFile ?? writeFileAtomic;
  const keepCount = Math.max(1, options.keep ?? DEFAULT_CHECKPOINTS_KEPT);
  const root = join(runDir, CHECKPOINTS_DIR);
  await Deno.mkdir(root, { recursive: true });
  const { state: tensors, ...optimizer } = what.optimizer;
  const optimizerTensors = await hostEntries(tensors);
  const state: TrainingState = {
    format: "alexnet-webgpu-training-state",
    version: 2,
    ...what.state,
    optimizer,
    savedAt: new Date().toISOString(),
  };
  requireFinite(optimizerTensors, join(root, OPTIMIZER_FILE), "optimizer");
  const optimizerBytes = encodeSafetensors(optimizerTensors, { content: "optimizer state" });

  const tmp = join(root, `.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const base = `epoch-${pad(state.epochsDone, 4)}-step-${pad(state.step, 7)}`;
  let name = base;
  for (let i = 2; await exists(join(root, name)); i++) name = `${base}-${i}`;
  const final = join(root, name);
  try {
    await Deno.mkdir(tmp);
    await saveCheckpoint(join(tmp, MODEL_FILE), what.model, {
      metadata: { epoch: state.epochsDone, step: state.step, ...(state.extra ?? {}) },
    });
    await write(join(tmp, OPTIMIZER_FILE), optimizerBytes);
    await write(join(tmp, STATE_FILE), JSON.stringify(state, null, 1) + "\n");
    await Deno.rename(tmp, final);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    // Named as the checkpoint it would have been, not the temporary folder that is gone.
    if (error instanceof Error) error.message = error.message.replaceAll(tmp, final);
    throw error;
  }
  const pointer: CheckpointPointer = {
    latest: `${CHECKPOINTS_DIR}/${name}`,
    epochsDone: state.epochsDone,
    step: state.step,
    reason: state.reason,
  };
  try {
    await write(join(runDir, CHECKPOINT_POINTER), JSON.stringify(pointer, null, 1) + "\n");
  } catch (error) {
    // The pointer still names the previous checkpoint; the new folder is an orphan.
    await Deno.remove(final, { recursive: true }).catch(() => {});
    throw error;
  }
  await prune(root, name, keepCount);
  await removeStaleTemps(runDir);
  return final;
}

/**
 * The folder the run's pointer names (its latest checkpoint), or null when the run has none.
 * A pointer that cannot be parsed is an error naming its path.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { latestCheckpoint, syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const net = () => new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * await train({ model: net(), trainData, epochs: 1, batchSize: 16, lr: 0.01, runDir });
 * console.log(await latestCheckpoint(runDir)); // <runDir>/checkpoints/epoch-0001-step-0000001
 * ```
 */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  const path = join(runDir, CHECKPOINT_POINTER);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new CheckpointError(`${path}: cannot read: ${(error as Error).message}`);
  }
  let pointer: CheckpointPointer;
  try {
    pointer = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(
      `${path}: corrupt checkpoint pointer (${(error as Error).message}); ` +
        `the checkpoints themselves are in ${join(runDir, CHECKPOINTS_DIR)}`,
    );
  }
  if (typeof pointer?.latest !== "string") {
    throw new CheckpointError(`${path}: corrupt checkpoint pointer (no "latest" checkpoint named)`);
  }
  return join(runDir, pointer.latest);
}

/** Options of {@link loadTrainingCheckpoint}. */
export interface LoadTrainingCheckpointOptions {
  /**
   * Receives the warning when the latest checkpoint of a run is damaged and an older one is
   * loaded instead; default `console.warn`.
   */
  warn?: (message: string) => void;
}

const LOAD_TRAINING_CHECKPOINT_OPTIONS = optionNames<LoadTrainingCheckpointOptions>({ warn: true });

/**
 * Reads the latest checkpoint of a run folder, or a checkpoint folder itself. Every file is
 * checked (state, optimizer and model, the weights finite) before anything is returned.
 *
 * In a run folder, a damaged latest checkpoint falls back, with a warning, to the newest
 * older one kept that is good. A damaged pointer (`checkpoint.json`), or a damaged file of a
 * checkpoint folder given directly, is an error naming its path.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { loadModelWeights, loadTrainingCheckpoint, SGD, syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const net = () => new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * await train({ model: net(), trainData, epochs: 1, batchSize: 16, lr: 0.01, runDir });
 * const ckpt = await loadTrainingCheckpoint(runDir);
 * const model = net();
 * await loadModelWeights(ckpt, model);
 * const optimizer = SGD.forModule(model, { lr: 1 });
 * await optimizer.loadStateDict(ckpt.optimizer);
 * console.log(ckpt.state.epochsDone, optimizer.paramGroups[0].lr); // 1 0.01
 * ```
 */
export async function loadTrainingCheckpoint(
  dir: string,
  options: LoadTrainingCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  checkOptions("loadTrainingCheckpoint", options, LOAD_TRAINING_CHECKPOINT_OPTIONS);
  if (await exists(join(dir, STATE_FILE))) return await readCheckpointFolder(dir);
  const latest = await latestCheckpoint(dir);
  if (latest === null) {
    throw new CheckpointError(
      `${dir}: no checkpoint (neither ${STATE_FILE} nor ${CHECKPOINT_POINTER})`,
    );
  }
  const problems: string[] = [];
  for (const candidate of [latest, ...(await keptCheckpoints(dir)).filter((c) => c !== latest)]) {
    try {
      const ckpt = await readCheckpointFolder(candidate);
      if (problems.length > 0) {
        (options.warn ?? console.warn)(
          `warning: the latest checkpoint is damaged (${problems[0]}); ` +
            `falling back to the previous one kept, ${candidate}`,
        );
      }
      return ckpt;
    } catch (error) {
      // A checkpoint of another format version is not damaged, and nor are its older siblings.
      if (!(error instanceof CheckpointError) || error instanceof CheckpointVersionError) {
        throw error;
      }
      problems.push(error.message);
    }
  }
  throw new CheckpointError(`${dir}: no usable checkpoint: ${problems.join("; ")}`);
}

/**
 * The newest checkpoint of a run folder whose files all check out (see
 * {@link loadTrainingCheckpoint}), or null: what "the last good checkpoint" names.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { lastGoodCheckpoint, syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const net = () => new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * await train({ model: net(), trainData, epochs: 1, batchSize: 16, lr: 0.01, runDir });
 * console.log(await lastGoodCheckpoint(runDir)); // <runDir>/checkpoints/epoch-0001-step-0000001
 * ```
 */
export async function lastGoodCheckpoint(runDir: string): Promise<string | null> {
  try {
    return (await loadTrainingCheckpoint(runDir, { warn: () => {} })).dir;
  } catch (error) {
    if (error instanceof CheckpointError) return null;
    throw error;
  }
}

/**
 * Loads a checkpoint's weights into a model (validated first: a bad file leaves the model
 * untouched) and returns the metadata stored with them.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { loadModelWeights, loadTrainingCheckpoint, syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const net = () => new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * await train({ model: net(), trainData, epochs: 1, batchSize: 16, lr: 0.01, runDir });
 * const metadata = await loadModelWeights(await loadTrainingCheckpoint(runDir), net());
 * console.log(metadata.epoch); // 1
 * ```
 */
export function loadModelWeights(
  ckpt: LoadedCheckpoint,
  model: Module,
): Promise<CheckpointMetadata> {
  return loadModelCheckpoint(ckpt.model, ckpt.modelPath, model);
}

/** Reads a state dict's tensors back to the host (disposing them) as safetensors entries. */
async function hostEntries(tensors: Record<string, Tensor>): Promise<Record<string, TensorEntry>> {
  const entries: Record<string, TensorEntry> = {};
  try {
    for (const [name, t] of Object.entries(tensors)) {
      const data = await t.data() as Float32Array;
      entries[name] = entryFromTypedArray("F32", [...t.shape as readonly number[]], data);
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  return entries;
}

async function prune(root: string, newest: string, keep: number): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory && e.name.startsWith("epoch-")) names.push(e.name);
    // Leftovers of a crashed save (never referenced by the pointer).
    if (e.isDirectory && e.name.startsWith(".tmp-") && !e.name.includes(`-${Deno.pid}-`)) {
      await Deno.remove(join(root, e.name), { recursive: true }).catch(() => {});
    }
  }
  const older = names.filter((n) => n !== newest).sort();
  const drop = older.slice(0, Math.max(0, older.length - (keep - 1)));
  for (const n of drop) await Deno.remove(join(root, n), { recursive: true }).catch(() => {});
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

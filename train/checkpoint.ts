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
 * epoch and on a stop request, and resumes from the latest.
 *
 * Atomicity: the files are written (each fsynced) into a hidden temporary folder, which is
 * then renamed to its final name; only then is the pointer `<run>/checkpoint.json` replaced,
 * atomically, to name it. A crash or error at any point leaves the previous pointer naming the
 * previous, complete checkpoint; older checkpoints are pruned only after the pointer moved.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import {
  decodeSafetensors,
  encodeSafetensors,
  entryFromTypedArray,
  entryToFloat32,
  type TensorEntry,
} from "../nn/safetensors.ts";
import {
  checkedCheckpoint,
  CheckpointError,
  type CheckpointMetadata,
  loadModelCheckpoint,
  NonFiniteCheckpointError,
  nonFiniteSummary,
  requireFinite,
  saveCheckpoint,
} from "../nn/checkpoint.ts";
import type { HostTensor, Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { removeStaleTemps, writeFileAtomic } from "../nn/_atomic.ts";
import type { LoopState } from "./callback.ts";
import type { OptimizerStateDict, ParamGroupState } from "./optimizer.ts";
import { readMetrics } from "./run_log.ts";

/** The pointer file in the run folder naming the latest complete checkpoint. */
export const CHECKPOINT_POINTER = "checkpoint.json";
/** The folder of checkpoints inside the run folder. */
export const CHECKPOINTS_DIR = "checkpoints";
/** Model weights inside a checkpoint. */
export const MODEL_FILE = "model.safetensors";
/** Optimiser velocities inside a checkpoint. */
export const OPTIMIZER_FILE = "optimizer.safetensors";
/** Everything else inside a checkpoint. */
export const STATE_FILE = "state.json";
/** Complete checkpoints a run keeps by default (the newest included). */
export const DEFAULT_CHECKPOINTS_KEPT = 2;

/** `state.json` of a checkpoint. */
export interface TrainingState extends LoopState {
  /** Format tag. */
  format: "alexnet-webgpu-training-state";
  /**
   * Format version. Version 1 (before the optimiser and callback interfaces) is still read:
   * {@link loadTrainingCheckpoint} converts it, so runs from then resume.
   */
  version: 2;
  /** Why it was written: at the end of an epoch, or on an interrupt mid-epoch. */
  reason: "epoch" | "interrupt";
  /** The optimiser's state dict without its tensors (those are in `optimizer.safetensors`). */
  optimizer: Omit<OptimizerStateDict, "state">;
  /** The states of the callbacks that have one, by callback name. */
  callbacks: Record<string, unknown>;
  /** ISO time of the save. */
  savedAt: string;
  /** Free-form data of the caller (e.g. the run's configuration). */
  extra?: Record<string, unknown>;
}

/** The pointer file's contents. */
export interface CheckpointPointer {
  /** Folder of the latest checkpoint, relative to the run folder. */
  latest: string;
  /** Its completed epochs. */
  epochsDone: number;
  /** Its step. */
  step: number;
  /** Why it was written. */
  reason: "epoch" | "interrupt";
}

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
  await Deno.mkdir(tmp);
  try {
    await saveCheckpoint(join(tmp, MODEL_FILE), what.model, {
      metadata: { epoch: state.epochsDone, step: state.step, ...(state.extra ?? {}) },
    });
    await write(join(tmp, OPTIMIZER_FILE), optimizerBytes);
    await write(join(tmp, STATE_FILE), JSON.stringify(state, null, 1) + "\n");
    await Deno.rename(tmp, final);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
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

/** A checkpoint read back by {@link loadTrainingCheckpoint}. */
export interface LoadedCheckpoint {
  /** Its folder. */
  dir: string;
  /** `state.json`. */
  state: TrainingState;
  /** The optimiser's state dict, its tensors on the host, for `Optimizer.loadStateDict`. */
  optimizer: OptimizerStateDict<ParamGroupState, HostTensor>;
  /** The model weights' file (`model.safetensors`). */
  modelPath: string;
  /**
   * Its contents, read and checked once (floating point, finite): the state dict and the
   * metadata; load them with {@link loadModelWeights}.
   */
  model: { state: Record<string, HostTensor>; metadata: CheckpointMetadata };
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

/** The checkpoint folders of a run, newest first. */
async function keptCheckpoints(runDir: string): Promise<string[]> {
  const root = join(runDir, CHECKPOINTS_DIR);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && e.name.startsWith("epoch-")) names.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort().reverse().map((n) => join(root, n));
}

/**
 * `state.json` as version 1 wrote it, before the optimiser and callback interfaces: where it
 * differs from version 2.
 */
interface TrainingStateV1
  extends Omit<TrainingState, "version" | "optimizer" | "callbacks" | "history"> {
  version: 1;
  /** The optimiser's groups under `groups` (version 2: `paramGroups`). */
  optimizer: { version: 1; steps: number; groups: ParamGroupState[] };
  /** The plateau scheduler's state (version 2: a callback state under its name). */
  scheduler: unknown;
}

/**
 * A version-1 state in version 2's form, so that runs from before version 2 resume. Version 1
 * kept the epochs' rows only in the run's `metrics.jsonl`: the history is read from there (the
 * epochs up to the checkpoint's), empty for a checkpoint folder outside a run folder.
 */
async function fromVersion1(v1: TrainingStateV1, ckptDir: string): Promise<TrainingState> {
  const { scheduler, optimizer: { groups, ...optimizer }, ...rest } = v1;
  const inRun = basename(dirname(ckptDir)) === CHECKPOINTS_DIR;
  const history = inRun
    ? await readMetrics(dirname(dirname(ckptDir)), { upToEpoch: v1.epochsDone })
    : [];
  return {
    ...rest,
    version: 2,
    optimizer: { ...optimizer, paramGroups: groups },
    // Version 1's only scheduler, ReduceLROnPlateau, is the callback named "scheduler".
    callbacks: { scheduler },
    history,
  };
}

/** A checkpoint written in a format version this code does not read. */
class CheckpointVersionError extends CheckpointError {}

/** Reads and checks one checkpoint folder; any damage is a CheckpointError naming the file. */
async function readCheckpointFolder(ckptDir: string): Promise<LoadedCheckpoint> {
  const statePath = join(ckptDir, STATE_FILE);
  const saved = await readFileChecked(statePath, (bytes) => {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as TrainingState | TrainingStateV1;
    if (parsed?.format !== "alexnet-webgpu-training-state") {
      throw new Error("not a training state");
    }
    if (parsed.version === 1 && !Array.isArray(parsed.optimizer?.groups)) {
      throw new Error("a version-1 training state without its optimizer groups");
    }
    return parsed;
  });
  const version: number = saved.version;
  if (version !== 1 && version !== 2) {
    throw new CheckpointVersionError(
      `${statePath}: training state version ${version}; this library reads versions 1 ` +
        "and 2 (written by a newer version?)",
    );
  }
  const state = saved.version === 1 ? await fromVersion1(saved, ckptDir) : saved;
  const optimizerPath = join(ckptDir, OPTIMIZER_FILE);
  const tensors: Record<string, HostTensor> = {};
  const optFile = await readFileChecked(optimizerPath, (bytes) => decodeSafetensors(bytes));
  checkFinite(optFile.tensors, optimizerPath);
  for (const [name, entry] of Object.entries(optFile.tensors)) {
    tensors[name] = { shape: entry.shape, data: entryToFloat32(entry) };
  }
  const modelPath = join(ckptDir, MODEL_FILE);
  const model = checkedCheckpoint(
    await readFileChecked(modelPath, (bytes) => decodeSafetensors(bytes)),
    modelPath,
  );
  return {
    dir: ckptDir,
    state,
    optimizer: { ...state.optimizer, state: tensors },
    modelPath,
    model,
  };
}

/** Reads `path` and parses it; a missing or unparsable file is a CheckpointError naming it. */
async function readFileChecked<T>(path: string, parse: (bytes: Uint8Array) => T): Promise<T> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new CheckpointError(`${path}: cannot read: ${(error as Error).message}`);
  }
  try {
    return parse(bytes);
  } catch (error) {
    throw new CheckpointError(`${path}: corrupt: ${(error as Error).message}`);
  }
}

function checkFinite(tensors: Record<string, TensorEntry>, path: string): void {
  const bad = nonFiniteSummary(tensors);
  if (bad) throw new NonFiniteCheckpointError(`${path}: non-finite values (NaN or ±∞) in ${bad}`);
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

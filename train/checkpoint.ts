/**
 * Training-state checkpoints: everything needed to continue a run exactly where it stopped.
 *
 * A checkpoint is a folder under `<run>/checkpoints/` holding
 *
 * - `model.safetensors`: the model's state dict (logical, placement-independent names), written
 *   by `nn/checkpoint.ts` and loadable on its own (`eval`, or any safetensors reader),
 * - `optimizer.safetensors`: the SGD velocities, by physical parameter name,
 * - `state.json`: epoch and step, the data loader's position, every RNG state (the model's
 *   dropout generator, the loader's seed and position, which fix its shuffles and
 *   augmentation draws), the optimiser's hyperparameters, the scheduler's state, the partial
 *   epoch's metric totals and the non-finite-loss counters.
 *
 * Atomicity: the files are written (each fsynced) into a hidden temporary folder, which is
 * then renamed to its final name; only then is the pointer `<run>/checkpoint.json` replaced,
 * atomically, to name it. A crash or error at any point leaves the previous pointer naming the
 * previous, complete checkpoint; older checkpoints are pruned only after the pointer moved.
 *
 * @module
 */

import { join } from "node:path";
import type { StepTotals } from "../kernels/sgd.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  entryFromTypedArray,
  entryToFloat32,
  type TensorEntry,
} from "../nn/safetensors.ts";
import {
  CheckpointError,
  type CheckpointMetadata,
  loadCheckpoint,
  NonFiniteCheckpointError,
  nonFiniteSummary,
  requireFinite,
  saveCheckpoint,
} from "../nn/checkpoint.ts";
import type { Module } from "../nn/module.ts";
import type { GeneratorState } from "../tensor/random.ts";
import { removeStaleTemps, writeFileAtomic } from "../nn/_atomic.ts";
import type { DataLoaderState } from "./data/loader.ts";
import type { PlateauState } from "./plateau.ts";
import type { SgdGroupState, SgdState, VelocityState } from "./sgd.ts";

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

/** Metric totals of an epoch in progress (host-side, float64). */
export interface PartialEpoch extends StepTotals {
  /** Seconds spent in the epoch so far. */
  seconds: number;
}

/** `state.json` of a checkpoint. */
export interface TrainingState {
  /** Format tag. */
  format: "alexnet-webgpu-training-state";
  /** Format version. */
  version: 1;
  /** Why it was written: at the end of an epoch, or on an interrupt mid-epoch. */
  reason: "epoch" | "interrupt";
  /** Completed epochs. */
  epochsDone: number;
  /** Optimiser steps taken since the start of training. */
  step: number;
  /** The training loader's position (its seed fixes shuffles and augmentation draws). */
  loader: DataLoaderState;
  /** Named random generators (e.g. `dropout`). */
  generators: Record<string, GeneratorState>;
  /** The optimiser without its velocities (those are in `optimizer.safetensors`). */
  optimizer: { version: 1; steps: number; groups: SgdGroupState[] };
  /** The learning-rate scheduler. */
  scheduler: PlateauState;
  /** Totals of the epoch in progress (interrupt checkpoints), or null at an epoch boundary. */
  partialEpoch: PartialEpoch | null;
  /** Non-finite losses: in a row at the save, and in total. */
  nonFinite: { consecutive: number; total: number };
  /** Training seconds so far (all epochs, excluding time between runs). */
  elapsedSeconds: number;
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
  /** The optimiser's state (from `SGD.state()`). */
  optimizer: SgdState;
  /** Everything else; `optimizer` is filled in from the above. */
  state: Omit<TrainingState, "format" | "version" | "optimizer" | "savedAt">;
}

/** Options of {@link saveTrainingCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Complete checkpoints to keep, the new one included; default 2. */
  keep?: number;
  /** Writes one file atomically; default `writeFileAtomic`. Tests inject failures here. */
  writeFile?: (path: string, data: Uint8Array | string) => Promise<void>;
}

/**
 * Saves a checkpoint atomically (see the module doc) and returns its folder.
 *
 * @example
 * ```ts ignore
 * const dir = await saveTrainingCheckpoint(runDir, { model, optimizer: await sgd.state(), state });
 * ```
 */
export async function saveTrainingCheckpoint(
  runDir: string,
  what: SaveTrainingCheckpoint,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const write = options.writeFile ?? writeFileAtomic;
  const keepCount = Math.max(1, options.keep ?? 2);
  const root = join(runDir, CHECKPOINTS_DIR);
  await Deno.mkdir(root, { recursive: true });
  const { velocities, ...optimizer } = what.optimizer;
  const state: TrainingState = {
    format: "alexnet-webgpu-training-state",
    version: 1,
    ...what.state,
    optimizer,
    savedAt: new Date().toISOString(),
  };
  const optimizerTensors = velocityEntries(velocities);
  requireFinite(optimizerTensors, join(root, OPTIMIZER_FILE), "optimizer");
  const optimizerBytes = encodeSafetensors(optimizerTensors, { content: "sgd velocities" });

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
  /** The optimiser state, velocities included, for `SGD.loadState`. */
  optimizer: SgdState;
  /** The model weights (`model.safetensors`); load them with {@link loadModelWeights}. */
  modelPath: string;
}

/**
 * The folder the run's pointer names (its latest checkpoint), or null when the run has none.
 * A pointer that cannot be parsed is an error naming its path.
 *
 * @example
 * ```ts ignore
 * const dir = await latestCheckpoint("runs/2024-01-01T00-00-00");
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
 * ```ts ignore
 * const ckpt = await loadTrainingCheckpoint("runs/2024-01-01T00-00-00");
 * await loadModelWeights(ckpt, model);
 * optimizer.loadState(ckpt.optimizer);
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
      if (!(error instanceof CheckpointError)) throw error;
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
 * ```ts ignore
 * console.log(await lastGoodCheckpoint("runs/2024-01-01T00-00-00"));
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

/** Reads and checks one checkpoint folder; any damage is a CheckpointError naming the file. */
async function readCheckpointFolder(ckptDir: string): Promise<LoadedCheckpoint> {
  const statePath = join(ckptDir, STATE_FILE);
  const state = await readFileChecked(statePath, (bytes) => {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as TrainingState;
    if (parsed?.format !== "alexnet-webgpu-training-state" || parsed.version !== 1) {
      throw new Error("not a version-1 training state");
    }
    return parsed;
  });
  const optimizerPath = join(ckptDir, OPTIMIZER_FILE);
  const velocities: Record<string, VelocityState> = {};
  const optFile = await readFileChecked(optimizerPath, (bytes) => decodeSafetensors(bytes));
  checkFinite(optFile.tensors, optimizerPath);
  for (const [name, entry] of Object.entries(optFile.tensors)) {
    velocities[name] = { shape: entry.shape, data: entryToFloat32(entry) };
  }
  const modelPath = join(ckptDir, MODEL_FILE);
  const model = await readFileChecked(modelPath, (bytes) => decodeSafetensors(bytes));
  checkFinite(model.tensors, modelPath);
  return { dir: ckptDir, state, optimizer: { ...state.optimizer, velocities }, modelPath };
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
 * ```ts ignore
 * await loadModelWeights(await loadTrainingCheckpoint(runDir), model);
 * ```
 */
export function loadModelWeights(
  ckpt: LoadedCheckpoint,
  model: Module,
): Promise<CheckpointMetadata> {
  return loadCheckpoint(ckpt.modelPath, model);
}

function velocityEntries(velocities: Record<string, VelocityState>): Record<string, TensorEntry> {
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, v] of Object.entries(velocities)) {
    tensors[name] = entryFromTypedArray("F32", v.shape, v.data);
  }
  return tensors;
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

/**
 * Reading training checkpoints back: one checkpoint folder with every file checked (state,
 * optimiser and model, the weights finite), a version-1 state converted to version 2, and the
 * folders a run keeps, newest first.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { decodeSafetensors, entryToFloat32, type TensorEntry } from "../nn/safetensors.ts";
import {
  checkedCheckpoint,
  CheckpointError,
  NonFiniteCheckpointError,
  nonFiniteSummary,
} from "../nn/checkpoint.ts";
import type { HostTensor } from "../nn/module.ts";
import type { ParamGroupState } from "./optimizer.ts";
import { readMetrics } from "./run_log.ts";
import {
  CHECKPOINTS_DIR,
  type LoadedCheckpoint,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  type TrainingState,
} from "./_checkpoint_layout.ts";

/** The checkpoint folders of a run, newest first. */
export async function keptCheckpoints(runDir: string): Promise<string[]> {
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
export class CheckpointVersionError extends CheckpointError {}

/** Reads and checks one checkpoint folder; any damage is a CheckpointError naming the file. */
export async function readCheckpointFolder(ckptDir: string): Promise<LoadedCheckpoint> {
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

/**
 * What a training checkpoint is on disk: the file names in a run folder and in a checkpoint
 * folder, `state.json`'s form, the pointer's, and a checkpoint as it is read back (see
 * `checkpoint.ts` for how they are written and read).
 *
 * @module
 */

import type { CheckpointMetadata } from "../nn/checkpoint.ts";
import type { HostTensor } from "../nn/module.ts";
import type { LoopState } from "./callback.ts";
import type { OptimizerStateDict, ParamGroupState } from "./optimizer.ts";

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
   * `loadTrainingCheckpoint` converts it, so runs from then resume.
   */
  version: 2;
  /**
   * Why it was written: at the end of an epoch, or on an interrupt (mid-epoch, or during an
   * epoch's validation, which a resume runs again).
   */
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

/** A checkpoint read back by `loadTrainingCheckpoint`. */
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
   * metadata; load them with `loadModelWeights`.
   */
  model: { state: Record<string, HostTensor>; metadata: CheckpointMetadata };
}

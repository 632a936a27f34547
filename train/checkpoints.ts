/**
 * The checkpoint callback of the training loop: a checkpoint after every epoch and on a stop
 * request, and an exact resume from the latest one (see `checkpoint.ts` for the files).
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { CheckpointError, NonFiniteCheckpointError } from "../nn/checkpoint.ts";
import { removeStaleTemps } from "../nn/_atomic.ts";
import { plural } from "./_format.ts";
import type { LoopState, TrainerCallback, TrainerContext } from "./callback.ts";
import {
  type LoadedCheckpoint,
  loadModelWeights,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type SaveTrainingCheckpointOptions,
} from "./checkpoint.ts";
import { NonFiniteLossError } from "./trainer.ts";

/** Options of {@link checkpoints}. */
export interface CheckpointsOptions extends SaveTrainingCheckpointOptions {
  /** The run folder: checkpoints go to `<runDir>/checkpoints/`. */
  runDir: string;
  /** Resume from the run folder's latest checkpoint (or the one given) before training. */
  resume?: boolean | LoadedCheckpoint;
  /** Stored in every checkpoint's `extra` (e.g. the run configuration). */
  extra?: Record<string, unknown>;
}

const CHECKPOINTS_OPTIONS = optionNames<CheckpointsOptions>({
  keep: true,
  writeFile: true,
  runDir: true,
  resume: true,
  extra: true,
});

/**
 * A callback that writes a checkpoint at the end of every epoch and when a stop request ends
 * an epoch early, and with `resume` restores the latest one before the first step: the model,
 * the optimiser, the loop state and the states of the other callbacks (by their `name`).
 * Put it last among the callbacks, so it saves what the others changed.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { checkpoints, latestCheckpoint, SGD, syntheticSplits, Trainer } from "./mod.ts";
 * await defaultDevice();
 * const model = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train } = syntheticSplits({ trainSize: 32, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * const optimizer = SGD.forModule(model, { lr: 0.01 });
 * const trainer = new Trainer({
 *   model, optimizer, trainData: train, epochs: 1, batchSize: 16,
 *   callbacks: [checkpoints({ runDir, keep: 1 })],
 * });
 * await trainer.run();
 * trainer.dispose();
 * console.log(await latestCheckpoint(runDir)); // <runDir>/checkpoints/epoch-0001-step-0000002
 * ```
 */
export function checkpoints(options: CheckpointsOptions): TrainerCallback {
  checkOptions("checkpoints", options, CHECKPOINTS_OPTIONS);
  const save = async (trainer: TrainerContext, reason: "epoch" | "interrupt") => {
    const callbacks: Record<string, unknown> = {};
    for (const [name, c] of statefulCallbacks(trainer)) {
      if (c.stateDict) callbacks[name] = c.stateDict();
    }
    let dir: string;
    try {
      dir = await saveTrainingCheckpoint(
        options.runDir,
        {
          model: trainer.model,
          optimizer: await trainer.optimizer.stateDict(),
          state: { reason, ...trainer.loopState(), callbacks, extra: options.extra },
        },
        options,
      );
    } catch (error) {
      // Non-finite weights or velocities: nothing was written; the run cannot continue.
      if (!(error instanceof NonFiniteCheckpointError)) throw error;
      throw new NonFiniteLossError(
        `step ${trainer.step}: ${error.message}. ${trainer.lastGoodCheckpointNote()} ` +
          "Try a lower learning rate.",
      );
    }
    trainer.recordCheckpoint(dir);
    return dir;
  };
  return {
    async onTrainStart(trainer) {
      statefulCallbacks(trainer); // two states under one name: an error before any epoch
      await Deno.mkdir(options.runDir, { recursive: true });
      // Temporary files of the pointer, plot and logs that a crash left behind.
      await removeStaleTemps(options.runDir);
      if (!options.resume) return;
      const ckpt = options.resume === true
        ? await loadTrainingCheckpoint(options.runDir, { warn: (m) => trainer.warn(m) })
        : options.resume;
      await resumeFrom(trainer, ckpt);
    },
    async onEpochEnd(trainer) {
      await save(trainer, "epoch");
    },
    async onStop(trainer, { epoch, step, steps, during }) {
      const dir = await save(trainer, "interrupt");
      const where = during === "validation"
        ? `in epoch ${epoch}'s validation (a resume validates again)`
        : `at epoch ${epoch}, batch ${step}/${steps}`;
      trainer.log(`interrupted ${where}; checkpoint ${dir}`);
    },
  };
}

/**
 * Restores a checkpoint into a trainer before it runs: the model's weights, the optimiser's
 * state dict, the states of its named callbacks, and the loop state.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Flatten, Linear, Sequential } from "../nn/mod.ts";
 * import { loadTrainingCheckpoint, resumeFrom, SGD, Trainer, syntheticSplits, train } from "./mod.ts";
 * await defaultDevice();
 * const net = () => new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4 }));
 * const { train: trainData } = syntheticSplits({ trainSize: 16, valSize: 0, size: 8, classes: 4 });
 * const runDir = await Deno.makeTempDir();
 * await train({ model: net(), trainData, epochs: 1, batchSize: 16, lr: 0.01, runDir });
 * const model = net();
 * const optimizer = SGD.forModule(model, { lr: 0.01 });
 * const trainer = new Trainer({ model, optimizer, trainData, epochs: 2, batchSize: 16 });
 * await resumeFrom(trainer, await loadTrainingCheckpoint(runDir));
 * console.log(trainer.epochsDone, trainer.step); // 1 1
 * trainer.dispose();
 * ```
 */
export async function resumeFrom(trainer: TrainerContext, ckpt: LoadedCheckpoint): Promise<void> {
  const { state } = ckpt;
  const stateful = statefulCallbacks(trainer);
  for (const [name, c] of stateful) {
    if (c.loadStateDict && !(name in state.callbacks)) {
      throw new Error(`${ckpt.dir}: the checkpoint has no state for the callback "${name}"`);
    }
  }
  await loadModelWeights(ckpt, trainer.model);
  try {
    await trainer.optimizer.loadStateDict(ckpt.optimizer);
  } catch (error) {
    // The optimiser's message says what differs; the checkpoint it came from is named here.
    throw new CheckpointError(`${ckpt.dir}: ${(error as Error).message}`, { cause: error });
  }
  for (const [name, c] of stateful) c.loadStateDict?.(state.callbacks[name]);
  trainer.loadLoopState(state);
  trainer.recordCheckpoint(ckpt.dir);
  trainer.log(
    `resumed from ${ckpt.dir}: ${plural(state.epochsDone, "epoch")} done, step ${state.step}` +
      resumePoint(state),
  );
}

/** Where in an epoch a checkpoint's run resumes: nothing at an epoch boundary. */
function resumePoint(state: LoopState): string {
  if (!state.partialEpoch) return "";
  return state.loader.epoch > state.epochsDone
    ? `, epoch ${state.epochsDone + 1}'s validation to run again`
    : `, mid-epoch at batch ${state.loader.position}`;
}

/**
 * The callbacks with a state to keep, by name; two under one name would overwrite each other's
 * state in a checkpoint (two schedulers left at their default name, say), so that is an error.
 */
function statefulCallbacks(trainer: TrainerContext): Map<string, TrainerCallback> {
  const out = new Map<string, TrainerCallback>();
  for (const c of trainer.callbacks) {
    if (c.name === undefined || !(c.stateDict || c.loadStateDict)) continue;
    if (out.has(c.name)) {
      throw new Error(
        `two callbacks keep their state under the name "${c.name}": give each its own name ` +
          "(a scheduler's `name` option)",
      );
    }
    out.set(c.name, c);
  }
  return out;
}

/**
 * One run of an experiment: its configuration (as `train` would write it), its training with
 * `train`'s recipe and an evaluation of its training images, and the search for a finished run
 * of the same configuration elsewhere in the output folder.
 *
 * @module
 */

import { join } from "node:path";
import type { Device } from "../kernels/device.ts";
import type { DataSource, DataSplits } from "../train/data/data_format.ts";
import { isFile } from "../train/data/_fs.ts";
import { CLAIM_IDS, type ClaimId, CLAIMS } from "../train/experiment/claims.ts";
import { type ArmRun, type ArmRunOutcome, FINAL_JSON } from "../train/experiment/runner.ts";
import { evaluate } from "../train/evaluate.ts";
import { train } from "../train/train.ts";
import { pct, plural } from "../train/_format.ts";
import { RUN_CONFIG_FILE, type RunConfig, runConfigText, writeRunConfig } from "./_config.ts";
import { buildModel, heInit, modelConfig } from "./_model.ts";
import { runTrainOptions } from "./_train_options.ts";

/** Everything that defines one claim's runs; a resume must find the same. (The target of the
 * epochs-to-target measures and the readback interval change no run.) */
export interface ClaimSetup {
  claim: ClaimId;
  preset: string;
  data: DataSource;
  crop: number;
  width: number;
  epochs: number;
  lr: number;
  batchSize: number;
  patience: number;
  weightDecay: number;
  logEvery: number;
}

/** Trains one run of a set as the `train` command would, then evaluates its training images. */
export async function trainArm(
  run: ArmRun,
  setup: ClaimSetup,
  splits: DataSplits,
  mean: number[],
  device: Device,
  signal: AbortSignal,
): Promise<ArmRunOutcome> {
  const config = runConfig(run, setup, splits, mean);
  const model = buildModel(config, [device]);
  try {
    if (!run.resume) {
      await heInit(model, run.seed);
      await writeRunConfig(run.dir, config);
    }
    const place = { runDir: run.dir, resume: run.resume, device, signal };
    const options = runTrainOptions(config, model, splits, place);
    const result = await train({
      ...options,
      checkpoint: { keep: 1 },
      callbacks: [{
        onEpochEnd(_trainer, { metrics: m }) {
          console.log(
            `    epoch ${m.epoch}: training error ${pct(m.trainTop1, 1)}, validation ` +
              `${pct(m.valTop1, 1)} (${m.seconds.toFixed(0)} s)`,
          );
        },
      }],
      log: (message) => console.log(`    ${message}`),
    });
    if (result.interrupted) return { interrupted: true, trainEval: null };
    const last = result.rows.at(-1);
    const onTrain = await evaluate(model, splits.train, {
      batchSize: config.batchSize,
      augment: options.evalAugment,
      device,
    });
    const seconds = result.seconds.toFixed(0);
    console.log(
      `  ${plural(result.rows.length, "epoch")} in ${seconds} s: training error ` +
        `${pct(last?.trainTop1, 1)}, validation ${pct(last?.valTop1, 1)}, training images in ` +
        `evaluation ${pct(onTrain.top1, 1)}`,
    );
    return {
      interrupted: false,
      trainEval: { top1: onTrain.top1, top5: onTrain.top5, loss: onTrain.loss },
    };
  } finally {
    model.dispose();
  }
}

/** The configuration of one run, as `train` would write it to `config.json`. */
export function runConfig(
  run: ArmRun,
  setup: ClaimSetup,
  splits: DataSplits,
  mean: number[],
): RunConfig {
  return {
    model: modelConfig(
      run.claim.model === "figure1" ? "figure1" : "small",
      {
        width: setup.width,
        inputSize: setup.crop,
        numClasses: splits.train.numClasses,
        seed: run.seed,
      },
      run.arm.switches,
    ),
    data: setup.data,
    crop: setup.crop,
    mean,
    pca: false,
    init: "he",
    epochs: run.epochs,
    batchSize: setup.batchSize,
    lr: setup.lr,
    momentum: 0.9,
    weightDecay: setup.weightDecay,
    formulation: "paper",
    devices: 1,
    seed: run.seed,
    tenCrop: false,
    logEvery: setup.logEvery,
    patience: setup.patience,
  };
}

/**
 * A finished run anywhere in the output folder with exactly this run's configuration (data,
 * network, switches, seed and recipe), or null: the paper's arm of the AlexNet claims is one
 * network, trained once per seed.
 */
export async function sameRun(out: string, config: RunConfig): Promise<string | null> {
  const text = runConfigText(config);
  for (const id of CLAIM_IDS) {
    for (const arm of CLAIMS[id].arms) {
      const dir = join(out, id, arm.name, `seed-${config.seed}`);
      try {
        if (
          (await Deno.readTextFile(join(dir, RUN_CONFIG_FILE))) === text &&
          (await isFile(join(dir, FINAL_JSON)))
        ) return dir;
      } catch {
        // No such run.
      }
    }
  }
  return null;
}

/**
 * The run configuration and the defaults of the command line.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../nn/_atomic.ts";
import type { AlexNetConfig } from "../nn/alexnet.ts";
import type { DataSource } from "../train/data/data_format.ts";
import type { DataFingerprint } from "../train/data/fingerprint.ts";
import type { ZooModelName } from "./_zoo.ts";

/**
 * Defaults of `train` with no arguments: tuned to finish in about ten minutes on a 2-core
 * software rasteriser (Mesa lavapipe) with validation error far below chance.
 */
export const DEFAULTS: {
  readonly imageSize: 28;
  readonly crop: 24;
  readonly width: number;
  readonly trainSize: 6144;
  readonly valSize: 512;
  readonly epochs: 8;
  readonly batchSize: 32;
  readonly lr: 0.015;
  readonly patience: 2;
} = {
  imageSize: 28,
  crop: 24,
  width: 1 / 8,
  trainSize: 6144,
  valSize: 512,
  epochs: 8,
  batchSize: 32,
  lr: 0.015,
  patience: 2,
} as const;

/** What a run stores in `config.json` and checkpoints; enough to rebuild model and data. */
export interface RunConfig {
  /**
   * The model: AlexNet's presets (small, full) or the Figure 1 net with their switches, or one
   * of torchvision's architectures by its name (`resnet18`, `vgg16_bn`, …; width 1 is
   * torchvision's, dropout is a VGG's classifier's, 0 for a ResNet), with a ResNet's stem.
   */
  model:
    & Required<Pick<AlexNetConfig, "numClasses" | "width" | "inputSize" | "dropout" | "seed">>
    & Pick<AlexNetConfig, "activation" | "lrn" | "pooling" | "towers">
    & { preset: "small" | "full" | "figure1" | ZooModelName; stem?: "imagenet" | "cifar" };
  /** Where the data comes from. */
  data: DataSource;
  /** Training crop side (= model input). */
  crop: number;
  /** Mean subtracted: per-channel values, or the prepared mean image. */
  mean: number[] | "image" | null;
  /** PCA colour noise (data prepared with it only). */
  pca: boolean;
  /**
   * Initial weights: the paper's N(0, 0.01²) with biases 0/1, or He's N(0, 2/fan_in) with zero
   * biases. The paper's fixed 0.01 is tuned to the full net's fan-ins; in the scaled net the
   * signal vanishes within two layers and training does not start, hence "he" for `small`.
   * "torchvision": a torchvision architecture's own initialisation (its default).
   */
  init: "paper" | "he" | "torchvision";
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  formulation: "paper" | "pytorch";
  /** The optimiser (absent in runs from before the choice: the paper's SGD). */
  optimizer?: "sgd" | "adam" | "adamw" | "rmsprop" | "adagrad";
  /** The bound on the gradients' total 2-norm before each step (absent: no clipping). */
  clipGradNorm?: number;
  /**
   * The learning-rate schedule: "plateau" (the paper's, after `patience`), "cosine:<tMax>" or
   * "step:<epochs>:<gamma>" (absent in older runs: plateau).
   */
  schedule?: string;
  devices: 1 | 2;
  seed: number;
  tenCrop: boolean;
  logEvery: number;
  patience: number;
  /**
   * The weights the run started from (`--init-from`: a run or checkpoint folder, or a
   * `.safetensors` file), loaded over the model's initialisation; absent: none.
   */
  initFrom?: string;
  /** Parameter name prefixes kept frozen (`--freeze`). */
  freeze?: string[];
  /** Parameter name prefixes that alone train (`--train-only`); the rest are frozen. */
  trainOnly?: string[];
  /** What the data was when the run started, to check it on resume (absent in older runs). */
  dataFingerprint?: DataFingerprint;
}

/**
 * Parses a run configuration (a run's `config.json`, or the `config` a checkpoint carries in
 * its metadata); `where` names its file in the error when it is not JSON or lacks the model
 * or the data.
 */
export function parseRunConfig(text: string, where: string): RunConfig {
  let config: RunConfig;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${where}: the run configuration is not valid JSON (${(error as Error).message})`,
    );
  }
  const missing = ["model", "data"].filter((key) =>
    typeof (config as unknown as Record<string, unknown>)?.[key] !== "object"
  );
  if (missing.length > 0) {
    throw new Error(`${where}: the run configuration has no ${missing.join(" or ")} settings`);
  }
  return config;
}

/** The run configuration's file in a run folder; its presence marks the folder as a run. */
export const RUN_CONFIG_FILE = "config.json";

/** Reads a run folder's `config.json` ({@link parseRunConfig}); null when the file is absent. */
export async function readRunConfig(runDir: string): Promise<RunConfig | null> {
  const path = join(runDir, RUN_CONFIG_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  return parseRunConfig(text, path);
}

/** A run configuration as its `config.json` holds it. */
export function runConfigText(config: RunConfig): string {
  return JSON.stringify(config, null, 1) + "\n";
}

/** Writes a run folder's `config.json`, atomically. */
export async function writeRunConfig(runDir: string, config: RunConfig): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_CONFIG_FILE), runConfigText(config));
}

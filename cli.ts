/**
 * The command line: `train`, `eval`, `summary`, `prepare` and `bench`.
 *
 * ```sh
 * deno run -A cli.ts train                       # scaled AlexNet on built-in synthetic data
 * deno run -A cli.ts train --data cifar-10-batches-bin --epochs 30
 * deno run -A cli.ts train --data prepared --model full --ten-crop   # the paper's recipe
 * deno run -A cli.ts train --resume runs/2025-01-01T12-00-00
 * deno run -A cli.ts eval --checkpoint runs/2025-01-01T12-00-00 --ten-crop
 * deno run -A cli.ts summary --model full --devices 2
 * deno run -A cli.ts prepare --input imagenet/train --output prepared/train
 * deno run -A cli.ts <command> --help
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { Device } from "./kernels/device.ts";
import { setDefaultDevice } from "./tensor/default_device.ts";
import { AlexNet, type AlexNetConfig, alexnetParameterShapes } from "./nn/alexnet.ts";
import { loadCheckpoint } from "./nn/checkpoint.ts";
import { readSafetensorsFile } from "./nn/safetensors.ts";
import { summary } from "./nn/summary.ts";
import type { AugmentOptions, PcaNoiseOptions } from "./train/data/augment.ts";
import { loadCifar10 } from "./train/data/cifar10.ts";
import type { Dataset } from "./train/data/dataset.ts";
import { loadIdx } from "./train/data/idx.ts";
import { prepareImageFolder } from "./train/data/prepare.ts";
import { ShardDataset } from "./train/data/shard_dataset.ts";
import { syntheticSplits } from "./train/data/synthetic.ts";
import { latestCheckpoint, loadTrainingCheckpoint } from "./train/checkpoint.ts";
import { formatDuration } from "./train/progress.ts";
import { evaluate, NonFiniteLossError, Trainer } from "./train/trainer.ts";

/** A mistake on the command line: printed with a hint, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose `--help` the hint names. */
  readonly command: string | undefined;
  /** Creates the error. */
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

// Defaults of `train` with no arguments: tuned to finish in about ten minutes on a 2-core
// software rasteriser (Mesa lavapipe) with validation error far below chance.
const DEFAULTS = {
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
  /** The model. */
  model: Required<Omit<AlexNetConfig, "conv1">> & { preset: "small" | "full" };
  /** Where the data comes from. */
  data:
    | { kind: "synthetic"; trainSize: number; valSize: number; size: number; seed: number }
    | { kind: "cifar10" | "idx" | "shards"; dir: string; valDir?: string };
  /** Training crop side (= model input). */
  crop: number;
  /** Mean subtracted: per-channel values, or the prepared mean image. */
  mean: number[] | "image" | null;
  /** PCA colour noise (prepared shards only). */
  pca: boolean;
  /**
   * Initial weights: the paper's N(0, 0.01²) with biases 0/1, or He's N(0, 2/fan_in) with zero
   * biases. The paper's fixed 0.01 is tuned to the full net's fan-ins; in the scaled net the
   * signal vanishes within two layers and training does not start, hence "he" for `small`.
   */
  init: "paper" | "he";
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  formulation: "paper" | "pytorch";
  devices: 1 | 2;
  seed: number;
  tenCrop: boolean;
  logEvery: number;
  patience: number;
}

// ------------------------------------------------------------------------------------------
// Option parsing

type OptionSpec = { type: "string" | "boolean"; short?: string };
type Specs = Record<string, OptionSpec>;

interface Command {
  summary: string;
  usage: string;
  options: Specs;
  help: string;
  run(values: Record<string, string | boolean | undefined>, rest: string[]): Promise<number>;
}

function parse(
  name: string,
  command: Command,
  args: string[],
): { values: Record<string, string | boolean | undefined>; rest: string[] } {
  const passThrough = name === "bench";
  const dash = args.indexOf("--");
  const own = passThrough && dash >= 0 ? args.slice(0, dash) : args;
  const rest = passThrough && dash >= 0 ? args.slice(dash + 1) : [];
  try {
    const { values } = parseArgs({
      args: own,
      options: { help: { type: "boolean", short: "h" }, ...command.options },
      strict: true,
      allowPositionals: false,
    });
    return { values: values as Record<string, string | boolean | undefined>, rest };
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      const suggestion = closest(unknown[1].replace(/^-+/, ""), Object.keys(command.options));
      throw new UsageError(
        `unknown option ${unknown[1]} for '${name}'` +
          (suggestion ? ` (did you mean --${suggestion}?)` : ""),
        name,
      );
    }
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) throw new UsageError(`unexpected argument '${positional[1]}'`, name);
    const missing = /Option '([^']+)' argument missing/.exec(message);
    if (missing) {
      const option = missing[1].split(",").pop()!.trim().split(" ")[0];
      throw new UsageError(`${option} needs a value`, name);
    }
    const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const option = ambiguous[1].split(",").pop()!.trim().split(" ")[0];
      throw new UsageError(
        `${option} got a value starting with '-': write it as ${option}=<value>`,
        name,
      );
    }
    const flag = /Option '([^']+)' does not take an argument/.exec(message);
    if (flag) throw new UsageError(`${flag[1]} is a switch and takes no value`, name);
    throw new UsageError(message.split("\n")[0], name);
  }
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined, bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}

type Values = Record<string, string | boolean | undefined>;

function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === "string" ? v : undefined;
}

function number(
  values: Values,
  key: string,
  command: string,
  check: { integer?: boolean; min?: number; max?: number; above?: number; below?: number } = {},
): number | undefined {
  const text = str(values, key);
  if (text === undefined) return undefined;
  const x = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN;
  const fail = (what: string) => new UsageError(`--${key} must be ${what}, got '${text}'`, command);
  if (!Number.isFinite(x)) throw fail(check.integer ? "an integer" : "a number");
  if (check.integer && !Number.isSafeInteger(x)) throw fail("an integer");
  if (check.min !== undefined && x < check.min) throw fail(`at least ${check.min}`);
  if (check.max !== undefined && x > check.max) throw fail(`at most ${check.max}`);
  if (check.above !== undefined && !(x > check.above)) throw fail(`greater than ${check.above}`);
  if (check.below !== undefined && !(x < check.below)) throw fail(`less than ${check.below}`);
  return x;
}

function choice<T extends string>(
  values: Values,
  key: string,
  command: string,
  allowed: readonly T[],
): T | undefined {
  const text = str(values, key);
  if (text === undefined) return undefined;
  if (!allowed.includes(text as T)) {
    throw new UsageError(
      `--${key} must be one of ${allowed.join(", ")}, got '${text}'`,
      command,
    );
  }
  return text as T;
}

// ------------------------------------------------------------------------------------------
// Data and model

interface Splits {
  train: Dataset;
  val: Dataset;
  description: string;
  /** Prepared statistics, when the data has them. */
  meanImage?: Float32Array | null;
  pca?: PcaNoiseOptions | null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** Works out what a `--data` folder holds. */
async function detectData(
  dir: string,
  valDir: string | undefined,
): Promise<RunConfig["data"]> {
  if (!(await isDir(dir))) throw new UsageError(`--data ${dir}: not a folder`, "train");
  if (await isFile(join(dir, "data_batch_1.bin"))) return { kind: "cifar10", dir };
  if (await isFile(join(dir, "cifar-10-batches-bin", "data_batch_1.bin"))) {
    return { kind: "cifar10", dir: join(dir, "cifar-10-batches-bin") };
  }
  for await (const e of Deno.readDir(dir)) {
    if (/^train-images[.-]idx3-ubyte(\.gz)?$/.test(e.name)) return { kind: "idx", dir };
  }
  if (await isFile(join(dir, "manifest.json"))) {
    if (!valDir) {
      throw new UsageError(
        `--data ${dir} is one prepared folder: give the validation folder with --val-data ` +
          `(or pass their parent holding train/ and val/)`,
        "train",
      );
    }
    return { kind: "shards", dir, valDir };
  }
  if (
    (await isFile(join(dir, "train", "manifest.json"))) &&
    (await isFile(join(dir, "val", "manifest.json")))
  ) {
    return { kind: "shards", dir: join(dir, "train"), valDir: valDir ?? join(dir, "val") };
  }
  throw new UsageError(
    `--data ${dir}: found neither CIFAR-10 binaries (data_batch_1.bin), IDX files ` +
      `(train-images-idx3-ubyte[.gz]) nor prepared shards (manifest.json, or train/ and val/)`,
    "train",
  );
}

async function loadSplits(data: RunConfig["data"]): Promise<Splits> {
  switch (data.kind) {
    case "synthetic": {
      const { train, val } = syntheticSplits({
        trainSize: data.trainSize,
        valSize: data.valSize,
        size: data.size,
        seed: data.seed,
      });
      return {
        train,
        val,
        description: `synthetic shapes, ${data.trainSize} train / ${data.valSize} val, ` +
          `${data.size}×${data.size}, 10 classes`,
      };
    }
    case "cifar10": {
      const train = await loadCifar10({ dir: data.dir, split: "train" });
      const val = await loadCifar10({ dir: data.dir, split: "test" });
      return { train, val, description: `CIFAR-10 ${data.dir}, ${train.length} / ${val.length}` };
    }
    case "idx": {
      const find = async (re: RegExp): Promise<string> => {
        for await (const e of Deno.readDir(data.dir)) {
          if (re.test(e.name)) return join(data.dir, e.name);
        }
        throw new Error(`${data.dir}: no file matching ${re}`);
      };
      const train = await loadIdx({
        images: await find(/^train-images[.-]idx3-ubyte(\.gz)?$/),
        labels: await find(/^train-labels[.-]idx1-ubyte(\.gz)?$/),
      });
      const val = await loadIdx({
        images: await find(/^t10k-images[.-]idx3-ubyte(\.gz)?$/),
        labels: await find(/^t10k-labels[.-]idx1-ubyte(\.gz)?$/),
      });
      return { train, val, description: `IDX ${data.dir}, ${train.length} / ${val.length}` };
    }
    case "shards": {
      const train = await ShardDataset.open(data.dir);
      const val = await ShardDataset.open(data.valDir!);
      const pca = train.pca
        ? { eigenvalues: train.pca.eigenvalues, eigenvectors: train.pca.eigenvectors, sigma: 0.1 }
        : null;
      return {
        train,
        val,
        meanImage: train.mean,
        pca,
        description: `prepared ${data.dir} (${train.length}) / ${data.valDir} (${val.length}), ` +
          `${train.height}×${train.width}, ${train.numClasses} classes`,
      };
    }
  }
}

/** Per-channel mean of a dataset's pixels (in pixel/255 units), from up to 10 000 images. */
function channelMean(ds: Dataset): number[] {
  const sums = [0, 0, 0];
  const n = Math.min(ds.length, 10000);
  const step = ds.length / n;
  let pixels = 0;
  for (let k = 0; k < n; k++) {
    const p = ds.get(Math.floor(k * step)).pixels;
    for (let i = 0; i < p.length; i += 3) {
      sums[0] += p[i];
      sums[1] += p[i + 1];
      sums[2] += p[i + 2];
    }
    pixels += p.length / 3;
  }
  return sums.map((s) => Number((s / pixels / 255).toFixed(6)));
}

function augmentations(
  config: RunConfig,
  splits: Splits,
): { train: AugmentOptions; val: AugmentOptions } {
  const mean = config.mean === "image" ? splits.meanImage ?? null : config.mean;
  const base: AugmentOptions = { crop: config.crop, scale: 1 / 255, mean };
  return {
    train: { ...base, flip: true, pca: config.pca ? splits.pca ?? null : null },
    val: base,
  };
}

const acquired: Device[] = [];

async function acquireDevices(count: 1 | 2): Promise<Device[]> {
  const devices = count === 1 ? [await Device.acquire()] : await Device.acquireMany(2);
  setDefaultDevice(devices[0]);
  acquired.push(...devices);
  return devices;
}

/**
 * Waits for the devices' queues and destroys them before the process exits: tearing down two
 * live logical devices of one lavapipe adapter at exit can crash the driver (SIGSEGV).
 */
async function releaseDevices(): Promise<void> {
  for (const d of acquired.splice(0)) {
    try {
      await d.sync();
    } catch {
      // Already reported by the command.
    }
    d.gpu.destroy();
  }
}

function buildModel(config: RunConfig, devices: Device[]): AlexNet {
  const { preset: _preset, ...model } = config.model;
  return new AlexNet(model, devices.length === 1 ? devices[0] : devices);
}

/**
 * He initialisation of every weight (N(0, 2/fan_in), fan_in = inputs × kernel area of one
 * output) with zero biases, drawn on the host from `seed` over the logical (placement-free)
 * shapes, so one and two devices start from the same weights.
 */
async function heInit(model: AlexNet, seed: number): Promise<void> {
  let state = (seed ^ 0x9e3779b9) >>> 0;
  const uniform = (): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const dict: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const slot of model.stateSlots()) {
    const shape = [
      slot.shards.reduce((n, t) => n + t.shape[0], 0),
      ...slot.shards[0].shape.slice(1),
    ];
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length > 1) {
      const std = Math.sqrt(2 / (n / shape[0]));
      for (let i = 0; i < n; i++) {
        data[i] = std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      }
    }
    dict[slot.name] = { shape, data };
  }
  await model.loadStateDict(dict);
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "").replaceAll(":", "-");
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : "n/a";
}

// ------------------------------------------------------------------------------------------
// Commands

const TRAIN_OPTIONS: Specs = {
  data: { type: "string" },
  "val-data": { type: "string" },
  model: { type: "string" },
  width: { type: "string" },
  init: { type: "string" },
  "image-size": { type: "string" },
  crop: { type: "string" },
  "train-size": { type: "string" },
  "val-size": { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  lr: { type: "string" },
  momentum: { type: "string" },
  "weight-decay": { type: "string" },
  formulation: { type: "string" },
  patience: { type: "string" },
  devices: { type: "string" },
  seed: { type: "string" },
  "run-dir": { type: "string" },
  resume: { type: "string" },
  "ten-crop": { type: "boolean" },
  "log-every": { type: "string" },
};

const TRAIN_HELP =
  `Trains AlexNet. With no arguments: the scaled AlexNet (width ${DEFAULTS.width}) on the
built-in synthetic shapes (${DEFAULTS.trainSize} training images of ${DEFAULTS.imageSize}×${DEFAULTS.imageSize}, random ${DEFAULTS.crop}×${DEFAULTS.crop} crops and
flips), ${DEFAULTS.epochs} epochs: about ten minutes on a 2-core CPU rasteriser.

Data and model:
  --data <dir>          CIFAR-10 binaries, IDX (MNIST-style) files, or prepared shards
                        (a folder holding train/ and val/, or one prepared train folder
                        with --val-data). Default: synthetic data.
  --val-data <dir>      Prepared validation folder (with a prepared --data folder).
  --model small|full    small: channels × width; full: the paper's net (width 1, 227×227
                        crops of prepared 256×256 images, PCA colour noise, mean image).
                        Default: small for synthetic, CIFAR-10 and IDX; full for shards.
  --width <x>           Channel multiplier of the small model (default ${DEFAULTS.width}).
  --init paper|he       Initial weights: the paper's N(0, 0.01²), biases 0/1 (default for
                        full), or He's N(0, 2/fan-in), biases 0 (default for small: with
                        few channels the paper's 0.01 makes the signal vanish).
  --crop <px>           Training crop = model input side (default: 227 for images of 256
                        and more, else the side less an eighth: ${DEFAULTS.crop} of ${DEFAULTS.imageSize}).
  --image-size <px>     Side of the synthetic images (default ${DEFAULTS.imageSize}).
  --train-size <n>      Synthetic training images (default ${DEFAULTS.trainSize}).
  --val-size <n>        Synthetic validation images (default ${DEFAULTS.valSize}).

Optimisation (the paper's SGD: v ← μv − λεw − εg; w ← w + v):
  --epochs <n>          Epochs (default ${DEFAULTS.epochs}; paper: 90).
  --batch-size <n>      Images per step (default ${DEFAULTS.batchSize}; paper: 128).
  --lr <x>              Initial learning rate (default ${DEFAULTS.lr}; paper: 0.01).
  --momentum <x>        Momentum μ in [0, 1) (default 0.9).
  --weight-decay <x>    Weight decay λ ≥ 0 (default 0.0005).
  --formulation <f>     paper | pytorch (learning rate outside the velocity).
  --patience <n>        Epochs without a better validation top-1 error before the
                        learning rate is divided by 10 (default ${DEFAULTS.patience}).
  --seed <n>            Seed of initialisation, dropout, shuffling, augmentation (default 0).

Running:
  --devices 1|2         Split the net over two devices as the paper's two GPUs (default 1).
  --run-dir <dir>       Where metrics, curves.svg and checkpoints go (default runs/<time>).
  --resume <run-dir>    Continue a run from its latest checkpoint, exactly; only --epochs
                        and --log-every may be given with it.
  --ten-crop            Validate on the paper's ten patches (softmax averaged).
  --log-every <n>       Steps between loss readbacks / progress updates (default 20).
  -h, --help            This help.

Ctrl-C finishes the current step, writes a checkpoint and exits; resume with --resume.`;

async function runTrain(values: Values): Promise<number> {
  const cmd = "train";
  const resumeDir = str(values, "resume");
  let config: RunConfig;
  let runDir: string;
  if (resumeDir) {
    const allowed = new Set(["resume", "epochs", "log-every", "help"]);
    const extra = Object.keys(values).filter((k) => values[k] !== undefined && !allowed.has(k));
    if (extra.length > 0) {
      throw new UsageError(
        `--resume continues a run with its saved settings; only --epochs and --log-every may ` +
          `change (got ${extra.map((k) => `--${k}`).join(", ")})`,
        cmd,
      );
    }
    runDir = resumeDir;
    let text: string;
    try {
      text = await Deno.readTextFile(join(runDir, "config.json"));
    } catch {
      throw new UsageError(`--resume ${runDir}: no config.json there (not a run folder?)`, cmd);
    }
    config = JSON.parse(text) as RunConfig;
    if ((await latestCheckpoint(runDir)) === null) {
      throw new UsageError(`--resume ${runDir}: the run has no checkpoint yet`, cmd);
    }
    config.epochs = number(values, "epochs", cmd, { integer: true, min: 1 }) ?? config.epochs;
    config.logEvery = number(values, "log-every", cmd, { integer: true, min: 1 }) ??
      config.logEvery;
  } else {
    config = await trainConfig(values);
    runDir = str(values, "run-dir") ?? join("runs", timestamp());
  }

  const devices = await acquireDevices(config.devices);
  const splits = await loadSplits(config.data);
  if (config.model.numClasses !== splits.train.numClasses) {
    throw new Error(
      `the data has ${splits.train.numClasses} classes, the model ${config.model.numClasses}`,
    );
  }
  if (!resumeDir && config.mean === null && config.data.kind !== "shards") {
    config.mean = channelMean(splits.train);
  }
  const model = buildModel(config, devices);
  if (!resumeDir && config.init === "he") await heInit(model, config.seed);
  await Deno.mkdir(runDir, { recursive: true });
  if (!resumeDir) {
    await Deno.writeTextFile(join(runDir, "config.json"), JSON.stringify(config, null, 1) + "\n");
  }
  const aug = augmentations(config, splits);
  const write = (s: string) => console.log(s);
  write(`device${devices.length > 1 ? "s" : ""}: ${devices.map((d) => d.describe()).join(", ")}`);
  write(`data: ${splits.description}`);
  write(
    `model: AlexNet ${config.model.preset} (width ${Number(config.model.width.toPrecision(4))}, ` +
      `${config.model.inputSize}×${config.model.inputSize} input, ${config.model.numClasses} ` +
      `classes, ${config.init} init), ${model.parameterCount().toLocaleString("en-US")} ` +
      `parameters`,
  );
  write(
    `training: ${config.epochs} epochs, batch ${config.batchSize}, lr ${config.lr}, momentum ` +
      `${config.momentum}, weight decay ${config.weightDecay} (${config.formulation}); run ${runDir}`,
  );

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      console.log(
        "\nCtrl-C: finishing this step and writing a checkpoint (Ctrl-C again to quit now)",
      );
      controller.abort();
    } else {
      Deno.exit(130);
    }
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const trainer = new Trainer({
    model,
    trainData: splits.train,
    valData: splits.val,
    epochs: config.epochs,
    batchSize: config.batchSize,
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    formulation: config.formulation,
    seed: config.seed,
    augment: aug.train,
    evalAugment: aug.val,
    tenCrop: config.tenCrop,
    runDir,
    logEvery: config.logEvery,
    plateau: { patience: config.patience },
    generators: model.dropoutGenerator ? { dropout: model.dropoutGenerator } : {},
    device: devices[0],
    signal: controller.signal,
    resume: resumeDir !== undefined,
    extra: { config },
  });
  try {
    const r = await trainer.run();
    const last = r.rows.at(-1);
    if (r.interrupted) {
      console.log(
        `stopped after ${r.step} steps; resume with: deno run -A cli.ts train --resume ${runDir}`,
      );
    }
    if (r.step === 0 || (!r.interrupted && !Number.isFinite(r.imagesPerSec))) {
      console.log(
        `nothing to train: the run has ${r.epochsDone} of ${config.epochs} epochs done ` +
          `(pass a larger --epochs to continue it)`,
      );
    } else if (last) {
      console.log(
        `done: ${r.epochsDone} epochs, ${r.step} steps in ${formatDuration(r.seconds)} ` +
          `(${r.seconds.toFixed(1)} s); validation${config.tenCrop ? " (10 crops)" : ""} top-1 ` +
          `error ${pct(last.valTop1)}, top-5 ${pct(last.valTop5)}, loss ` +
          `${last.valLoss.toFixed(4)}; training ${r.imagesPerSec.toFixed(1)} images/s; ` +
          `run folder ${runDir}`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof NonFiniteLossError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    trainer.dispose();
  }
}

async function trainConfig(values: Values): Promise<RunConfig> {
  const cmd = "train";
  const dataDir = str(values, "data");
  const valDir = str(values, "val-data");
  if (valDir && !dataDir) throw new UsageError("--val-data needs --data", cmd);
  const imageSize = number(values, "image-size", cmd, { integer: true, min: 8, max: 512 });
  const trainSize = number(values, "train-size", cmd, { integer: true, min: 1 });
  const valSize = number(values, "val-size", cmd, { integer: true, min: 1 });
  if (dataDir && (imageSize ?? trainSize ?? valSize) !== undefined) {
    throw new UsageError(
      "--image-size, --train-size and --val-size apply to synthetic data only",
      cmd,
    );
  }
  const data: RunConfig["data"] = dataDir ? await detectData(dataDir, valDir) : {
    kind: "synthetic",
    trainSize: trainSize ?? DEFAULTS.trainSize,
    valSize: valSize ?? DEFAULTS.valSize,
    size: imageSize ?? DEFAULTS.imageSize,
    seed: 0,
  };
  if (data.kind !== "synthetic") data.dir = resolve(data.dir);
  if (data.kind === "shards") data.valDir = resolve(data.valDir!);
  const preset = choice(values, "model", cmd, ["small", "full"] as const) ??
    (data.kind === "shards" ? "full" : "small");
  const width = number(values, "width", cmd, { above: 0, max: 4 });
  if (preset === "full" && width !== undefined) {
    throw new UsageError("--width applies to --model small (full is width 1)", cmd);
  }
  // Image side and class count of the data, without loading it twice for synthetic data.
  let side: number, classes: number;
  if (data.kind === "synthetic") {
    side = data.size;
    classes = 10;
  } else {
    const probe = await loadSplits(data);
    side = Math.min(probe.train.height, probe.train.width);
    classes = probe.train.numClasses;
  }
  const crop = number(values, "crop", cmd, { integer: true, min: 8 }) ??
    (side >= 256 ? 227 : Math.max(8, side - Math.round(side / 8)));
  if (crop > side) {
    throw new UsageError(`--crop ${crop} is larger than the ${side}-pixel images`, cmd);
  }
  const seed = number(values, "seed", cmd, { integer: true, min: 0 }) ?? 0;
  const devices = number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) as
    | 1
    | 2
    | undefined;
  const config: RunConfig = {
    model: {
      preset,
      width: preset === "full" ? 1 : width ?? DEFAULTS.width,
      inputSize: crop,
      numClasses: classes,
      dropout: 0.5,
      seed,
    },
    data,
    crop,
    mean: data.kind === "shards" ? "image" : null,
    pca: data.kind === "shards",
    init: choice(values, "init", cmd, ["paper", "he"] as const) ??
      (preset === "full" ? "paper" : "he"),
    epochs: number(values, "epochs", cmd, { integer: true, min: 1 }) ??
      (preset === "full" ? 90 : DEFAULTS.epochs),
    batchSize: number(values, "batch-size", cmd, { integer: true, min: 1, max: 4096 }) ??
      (preset === "full" ? 128 : DEFAULTS.batchSize),
    lr: number(values, "lr", cmd, { above: 0 }) ?? (preset === "full" ? 0.01 : DEFAULTS.lr),
    momentum: number(values, "momentum", cmd, { min: 0, below: 1 }) ?? 0.9,
    weightDecay: number(values, "weight-decay", cmd, { min: 0 }) ?? 5e-4,
    formulation: choice(values, "formulation", cmd, ["paper", "pytorch"] as const) ?? "paper",
    devices: devices ?? 1,
    seed,
    tenCrop: values["ten-crop"] === true,
    logEvery: number(values, "log-every", cmd, { integer: true, min: 1 }) ?? 20,
    patience: number(values, "patience", cmd, { integer: true, min: 0 }) ??
      (preset === "full" ? 3 : DEFAULTS.patience),
  };
  // Validates the geometry (every layer at least 1×1) before anything is allocated.
  try {
    const { preset: _preset, ...model } = config.model;
    alexnetParameterShapes(model);
  } catch (error) {
    throw new UsageError(`the model does not fit: ${(error as Error).message}`, cmd);
  }
  return config;
}

const EVAL_OPTIONS: Specs = {
  checkpoint: { type: "string" },
  data: { type: "string" },
  "val-data": { type: "string" },
  "batch-size": { type: "string" },
  "ten-crop": { type: "boolean" },
  devices: { type: "string" },
};

const EVAL_HELP = `Evaluates a trained model on the validation data: loss, top-1 and top-5 error.

  --checkpoint <path>   A run folder (its latest checkpoint) or a model .safetensors
                        written by training (it carries the run's configuration). Required.
  --data <dir>          Evaluate on other data than the run's (same --data kinds as train).
  --val-data <dir>      Prepared validation folder (with a prepared --data folder).
  --batch-size <n>      Images per batch (default: the run's).
  --ten-crop            The paper's ten patches, softmax averaged (default: centre crop).
  --devices 1|2         Placement (default: the run's).
  -h, --help            This help.`;

async function runEval(values: Values): Promise<number> {
  const cmd = "eval";
  const path = str(values, "checkpoint");
  if (!path) throw new UsageError("--checkpoint is required", cmd);
  let config: RunConfig;
  let weights: string;
  if (await isDir(path)) {
    try {
      config = JSON.parse(await Deno.readTextFile(join(path, "config.json")));
    } catch {
      throw new UsageError(`--checkpoint ${path}: no config.json (not a run folder?)`, cmd);
    }
    const ckpt = await loadTrainingCheckpoint(path).catch((e: Error) => {
      throw new UsageError(`--checkpoint ${path}: ${e.message}`, cmd);
    });
    weights = ckpt.modelPath;
  } else if (await isFile(path)) {
    const { metadata } = await readSafetensorsFile(path);
    if (!metadata.config) {
      throw new UsageError(`--checkpoint ${path}: no run configuration in its metadata`, cmd);
    }
    config = JSON.parse(metadata.config);
    weights = path;
  } else {
    throw new UsageError(`--checkpoint ${path}: no such file or folder`, cmd);
  }
  const batchSize = number(values, "batch-size", cmd, { integer: true, min: 1 }) ??
    config.batchSize;
  const devicesCount = (number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) ??
    config.devices) as 1 | 2;
  const dataDir = str(values, "data");
  const data = dataDir ? await detectData(dataDir, str(values, "val-data")) : config.data;
  const devices = await acquireDevices(devicesCount);
  const splits = await loadSplits(data);
  const model = buildModel(config, devices);
  await loadCheckpoint(weights, model);
  const aug = augmentations(config, splits);
  const tenCrop = values["ten-crop"] === true;
  console.log(`evaluating ${weights} on ${splits.description}${tenCrop ? ", ten crops" : ""}`);
  const r = await evaluate(model, splits.val, {
    batchSize,
    augment: aug.val,
    tenCrop,
    device: devices[0],
  });
  console.log(
    `validation: loss ${r.loss.toFixed(4)}, top-1 error ${pct(r.top1)}, top-5 error ` +
      `${pct(r.top5)} over ${r.count} images (${r.imagesPerSec.toFixed(1)} images/s)`,
  );
  return 0;
}

const SUMMARY_OPTIONS: Specs = {
  model: { type: "string" },
  width: { type: "string" },
  "image-size": { type: "string" },
  classes: { type: "string" },
  devices: { type: "string" },
  "batch-size": { type: "string" },
};

const SUMMARY_HELP = `Prints AlexNet's layer table: output shapes, parameters and devices.

  --model small|full    small: the default scaled net; full: the paper's (default full).
  --width <x>           Channel multiplier (small; default ${DEFAULTS.width}).
  --image-size <px>     Input side (default 227 full, ${DEFAULTS.crop} small).
  --classes <n>         Output classes (default 1000 full, 10 small).
  --devices 1|2         Show the two-tower placement (default 1).
  --batch-size <n>      Batch size of the shapes (default 1).
  -h, --help            This help.`;

async function runSummary(values: Values): Promise<number> {
  const cmd = "summary";
  const preset = choice(values, "model", cmd, ["small", "full"] as const) ?? "full";
  const width = number(values, "width", cmd, { above: 0, max: 4 });
  if (preset === "full" && width !== undefined) {
    throw new UsageError("--width applies to --model small", cmd);
  }
  const size = number(values, "image-size", cmd, { integer: true, min: 8, max: 1024 }) ??
    (preset === "full" ? 227 : DEFAULTS.crop);
  const classes = number(values, "classes", cmd, { integer: true, min: 1 }) ??
    (preset === "full" ? 1000 : 10);
  const count = (number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) ?? 1) as 1 | 2;
  const batch = number(values, "batch-size", cmd, { integer: true, min: 1 }) ?? 1;
  const config = {
    width: preset === "full" ? 1 : width ?? DEFAULTS.width,
    inputSize: size,
    numClasses: classes,
    seed: 0,
  };
  try {
    alexnetParameterShapes(config);
  } catch (error) {
    throw new UsageError(`the model does not fit: ${(error as Error).message}`, cmd);
  }
  const devices = await acquireDevices(count);
  const model = new AlexNet(config, count === 1 ? devices[0] : devices);
  console.log(summary(model, [batch, 3, size, size]));
  model.dispose();
  return 0;
}

const PREPARE_OPTIONS: Specs = {
  input: { type: "string" },
  output: { type: "string" },
  size: { type: "string" },
  "shard-size": { type: "string" },
  "skip-bad": { type: "boolean" },
  "no-stats": { type: "boolean" },
};

const PREPARE_HELP =
  `Prepares an image folder (one subfolder per class, JPEG/PNG) for training: each image's
shorter side is scaled to --size and the central square cut out (the paper's 256×256), written
as shards with the mean image and the RGB PCA of the training pixels.

  --input <dir>         The image folder. Required.
  --output <dir>        Where the shards go. Required.
  --size <px>           Output side (default 256).
  --shard-size <n>      Images per shard (default 1024).
  --skip-bad            Skip undecodable files (logged) instead of failing.
  --no-stats            Skip the mean image and PCA (for a validation folder).
  -h, --help            This help.

Prepare the training and validation folders separately, then train with
  deno run -A cli.ts train --data <output-parent> (holding train/ and val/).`;

async function runPrepare(values: Values): Promise<number> {
  const cmd = "prepare";
  const input = str(values, "input");
  const output = str(values, "output");
  if (!input) throw new UsageError("--input is required", cmd);
  if (!output) throw new UsageError("--output is required", cmd);
  if (!(await isDir(input))) throw new UsageError(`--input ${input}: not a folder`, cmd);
  const size = number(values, "size", cmd, { integer: true, min: 8, max: 4096 }) ?? 256;
  const shardSize = number(values, "shard-size", cmd, { integer: true, min: 1 }) ?? 1024;
  let last = 0;
  const manifest = await prepareImageFolder({
    input,
    output,
    size,
    shardSize,
    skipBad: values["skip-bad"] === true,
    stats: values["no-stats"] !== true,
    onProgress: (done, total) => {
      const now = performance.now();
      if (done === total || now - last > 2000) {
        console.log(`prepared ${done}/${total}`);
        last = now;
      }
    },
  });
  console.log(
    `wrote ${manifest.count} images (${manifest.classNames.length} classes) in ` +
      `${manifest.shards.length} shards to ${output}; skipped ${manifest.skipped}`,
  );
  return 0;
}

const BENCH_HELP = `Runs the benchmarks (bench/mod.ts) when the checkout has them.

  deno run -A cli.ts bench [-- <arguments for bench/mod.ts>]
  -h, --help            This help.`;

async function runBench(_values: Values, rest: string[]): Promise<number> {
  const script = new URL("./bench/mod.ts", import.meta.url);
  try {
    await Deno.stat(script);
  } catch {
    throw new UsageError("no benchmarks here: bench/mod.ts is missing", "bench");
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname, ...rest],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

const COMMANDS: Record<string, Command> = {
  train: {
    summary: "train AlexNet (default: scaled net on synthetic data, ~10 min on a CPU)",
    usage: "train [options]",
    options: TRAIN_OPTIONS,
    help: TRAIN_HELP,
    run: runTrain,
  },
  eval: {
    summary: "evaluate a checkpoint: loss, top-1, top-5",
    usage: "eval --checkpoint <run-dir|file> [options]",
    options: EVAL_OPTIONS,
    help: EVAL_HELP,
    run: runEval,
  },
  summary: {
    summary: "print the layer table",
    usage: "summary [options]",
    options: SUMMARY_OPTIONS,
    help: SUMMARY_HELP,
    run: runSummary,
  },
  prepare: {
    summary: "turn an image folder into training shards",
    usage: "prepare --input <dir> --output <dir> [options]",
    options: PREPARE_OPTIONS,
    help: PREPARE_HELP,
    run: runPrepare,
  },
  bench: {
    summary: "run bench/mod.ts",
    usage: "bench [-- args]",
    options: {},
    help: BENCH_HELP,
    run: runBench,
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "AlexNet on WebGPU.",
    "",
    "Usage: deno run -A cli.ts <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'deno run -A cli.ts <command> --help' for a command's options.",
  ].join("\n");
}

/** Runs the command line; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (name === undefined || name === "-h" || name === "--help" || name === "help") {
      console.log(mainHelp());
      return name === undefined ? 2 : 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      const suggestion = closest(name, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command '${name}'` + (suggestion ? ` (did you mean '${suggestion}'?)` : ""),
      );
    }
    const parsed = parse(name, command, rest);
    if (parsed.values.help) {
      console.log(`Usage: deno run -A cli.ts ${command.usage}\n\n${command.help}`);
      return 0;
    }
    return await command.run(parsed.values, parsed.rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      console.error(
        error.command
          ? `hint: run 'deno run -A cli.ts ${error.command} --help' for the options`
          : `hint: run 'deno run -A cli.ts --help' for the commands`,
      );
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    console.error(error);
  } finally {
    await releaseDevices();
  }
  Deno.exit(code);
}

/**
 * The `train` command: trains AlexNet, or resumes a run.
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_CHECKPOINTS_KEPT } from "../train/checkpoint.ts";
import { createOptimizer, createTrainer } from "../train/train.ts";
import type { TrainResult } from "../train/trainer.ts";
import { formatProfile, profileTrainingStep } from "../train/profile.ts";
import { clipGradNorm } from "../train/clip_grad.ts";
import {
  crossEntropy,
  type Device,
  fromTypedArray,
  type ImageCrops,
  replicateImages,
  tidy,
} from "../mod.ts";
import { curvesPlot } from "./plot_svg.ts";
import { formatDuration, progressLine, ProgressReporter } from "./progress.ts";
import { formatLoss, formatLr, pct, plural, showsTop5 } from "../train/_format.ts";
import { fingerprint } from "../train/data/fingerprint.ts";
import { DEFAULTS, type RunConfig, writeRunConfig } from "./_config.ts";
import { SWITCH_NAMES, switchHelp } from "./_switches.ts";
import { RunFolder } from "./_run_dir.ts";
import { checkResume, resumeConfig } from "./_resume.ts";
import { STOP_SIGNALS, stopOnSignals, StoppedBySignal, type StopSignal } from "./_signals.ts";
import type { DataSource, DataSplits } from "../train/data/data_format.ts";
import { DATA_FORMATS, loadDataSplits } from "../train/data/formats.ts";
import { channelMean, detectData } from "./_data.ts";
import { parseSchedule, runTrainOptions } from "./_train_options.ts";
import { isZooModel, ZOO_MODELS } from "./_zoo.ts";
import { fineTune, fineTuneOptions, INIT_FROM_HELP, readInitWeights } from "./_init_from.ts";
import {
  acquireDevices,
  ADAPTER_HELP,
  buildModel,
  describePlacement,
  heInit,
  initOption,
  MODEL_NAMES,
  modelOptions,
  modelTitle,
  plannedParameterCount,
  type RunModel,
  timestamp,
} from "./_model.ts";
import {
  choice,
  type Command,
  defineCommand,
  number,
  shellArg,
  str,
  UsageError,
  type Values,
} from "./_options.ts";

const TRAIN_HELP =
  `Trains AlexNet, or one of torchvision's ResNets and VGGs (--model). With no arguments: the
scaled AlexNet (width ${DEFAULTS.width}) on the built-in synthetic shapes (${DEFAULTS.trainSize} training images
of ${DEFAULTS.imageSize}×${DEFAULTS.imageSize}, random ${DEFAULTS.crop}×${DEFAULTS.crop} crops and flips), ${DEFAULTS.epochs} epochs: about ten minutes on a
2-core CPU rasteriser.

Data and model:
  --data <dir>          A data folder of a known format (default: synthetic data):
${
    DATA_FORMATS.filter((f) => f.looksFor).map((f) => `                        - ${f.looksFor}`)
      .join("\n")
  }
                        (one prepared train folder takes --val-data).
  --val-data <dir>      Prepared validation folder (with a prepared --data folder).
  --model <name>        small|full|figure1: AlexNet; small: channels × width; full: the
                        paper's net (width 1, 227×227 crops of prepared 256×256 images, PCA
                        colour noise, mean image). Default: full for prepared shards of
                        256×256 images or more, small (sized to the images) otherwise.
                        Or one of torchvision's architectures, with its layers, parameter
                        names and initialisation (one device; AlexNet's switches do not
                        apply, a VGG's --dropout does):
                        ${ZOO_MODELS.slice(0, 5).join(", ")},
                        ${ZOO_MODELS.slice(5, 8).join(", ")},
                        ${ZOO_MODELS.slice(8, 10).join(", ")},
                        ${ZOO_MODELS.slice(10).join(", ")}.
  --width <x>           Channel multiplier of the small model (default ${DEFAULTS.width}), or of
                        a torchvision architecture (default 1; a VGG's classifier too).
  --stem imagenet|cifar A ResNet's stem: torchvision's 7×7 stride-2 convolution and max pool
                        (default), or a 3×3 stride-1 convolution and no pool, for small images.
  --init <i>            Initial weights: paper: N(0, 0.01²), biases 0/1 (default for full);
                        he: N(0, 2/fan-in), biases 0, norms' scales 1 (default for small: with
                        few channels the paper's 0.01 makes the signal vanish); torchvision:
                        a torchvision architecture's own (its default).
${INIT_FROM_HELP}
  --crop <px>           Training crop = model input side (default: 227, or torchvision's 224
                        for its architectures, for images of 256 and more, else the side
                        less an eighth: ${DEFAULTS.crop} of ${DEFAULTS.imageSize}).
  --image-size <px>     Side of the synthetic images (default ${DEFAULTS.imageSize}).
  --train-size <n>      Training images: synthetic ones drawn (default ${DEFAULTS.trainSize}), or
                        of real data a subset balanced across classes, seeded by --seed.
  --val-size <n>        Validation images, likewise (synthetic default ${DEFAULTS.valSize}).

Optimisation (default the paper's SGD: v ← μv − λεw − εg; w ← w + v):
  --optimizer <o>       sgd | adam | adamw | rmsprop | adagrad (torch.optim's; default sgd).
  --epochs <n>          Epochs (default ${DEFAULTS.epochs}; paper: 90).
  --batch-size <n>      Images per step (default ${DEFAULTS.batchSize}; paper: 128).
  --lr <x>              Initial learning rate (default ${DEFAULTS.lr}; paper: 0.01).
  --momentum <x>        Momentum μ in [0, 1) (default 0.9).
  --weight-decay <x>    Weight decay λ ≥ 0 (default 0.0005; adamw 0.01; adam, rmsprop,
                        adagrad 0).
  --formulation <f>     paper | pytorch (learning rate outside the velocity).
  --clip-grad-norm <x>  Scale the gradients so that their total 2-norm is at most x before
                        each step (torch's clip_grad_norm_; default no clipping).
  --patience <n>        Epochs without a better validation top-1 error before the
                        learning rate is divided by 10 (default ${DEFAULTS.patience}).
  --schedule <s>        plateau (default: the rate /10 after --patience bad epochs) |
                        cosine[:<epochs>] (to 0 over the run's epochs) | step:<epochs>[:<gamma>].
  --seed <n>            Seed of initialisation, dropout, shuffling, augmentation (default 0).

Running:
  --devices 1|2         Split the net over two devices as the paper's two GPUs (default 1).
${ADAPTER_HELP}
  --run-dir <dir>       Where metrics, curves.svg and checkpoints go (default runs/<time>).
  --resume <run-dir>    Continue a run from its latest good checkpoint, exactly; only
                        --epochs, --log-every and --data/--val-data (the data's new place,
                        checked to be the same data set) may be given with it. A run
                        stopped before its first checkpoint starts again from its beginning.
  --ten-crop            Validate on the paper's ten patches (softmax averaged).
  --log-every <n>       Steps between loss readbacks / progress updates (default 20).
  --profile             Do not train: time one training step of this configuration kernel
                        by kernel on the GPU (timestamp-query) and print the table.
  -h, --help            This help.

${switchHelp("train")}

Ctrl-C, SIGTERM or SIGHUP finishes the current step (or abandons the epoch's validation,
which a resume runs again), writes a checkpoint and exits with status 130, 143 or 129
(128 + the signal's number); a second signal quits at once, the last checkpoint intact.
Resume with --resume. Other failures exit with 1, usage errors with 2.`;

/** Checkpoints on disk at once: those a run keeps, plus the one being written. */
const CHECKPOINTS_ON_DISK = DEFAULT_CHECKPOINTS_KEPT + 1;

/**
 * `train --profile`: one training step of the configured model and batch (the paper's SGD on
 * fixed pseudo-random images, cropped on the device as the loader's are), timed kernel by kernel on
 * the first device.
 */
async function profileOneStep(
  config: RunConfig,
  model: RunModel,
  devices: Device[],
): Promise<number> {
  const n = config.batchSize, side = config.model.inputSize;
  // The batch as the loader gives it: u8 samples and one patch each, which the step's first
  // kernel turns into the input on every device.
  const crops: ImageCrops = {
    pixels: Uint8Array.from({ length: n * side * side * 3 }, (_, i) => (i * 2654435761) >>> 24),
    height: side,
    width: side,
    cropHeight: side,
    cropWidth: side,
    patches: Array.from({ length: n }, (_, sample) => ({
      sample,
      x0: 0,
      y0: 0,
      flip: sample % 2 === 1,
      offset: [-0.5, -0.5, -0.5] as const,
    })),
    scale: 1 / 255,
    meanImage: null,
  };
  const labels = Int32Array.from({ length: n }, (_, i) => i % config.model.numClasses);
  const sgd = createOptimizer(model, { ...config, optimizer: config.optimizer ?? "sgd" });
  model.train();
  const device = devices[0];
  const step = () =>
    tidy(async () => {
      const [x] = replicateImages(crops, [device, ...model.devices()]);
      const y = fromTypedArray(labels, [n], { device, dtype: "i32" });
      const loss = crossEntropy(await model.forward(x.withRank(4)), y);
      await loss.backward();
      if (config.clipGradNorm !== undefined) {
        (await clipGradNorm(model.parameters(), config.clipGradNorm)).dispose();
      }
      sgd.step();
      sgd.zeroGrad();
    });
  console.log(`profiling one step: batch ${n}, ${side}×${side}, on ${device.describe()}`);
  console.log(formatProfile(await profileTrainingStep(device, step)));
  return 0;
}

async function runTrain(values: Values): Promise<number> {
  const resumeDir = str(values, "resume");
  fineTuneOptions(values, "train"); // --init-from and --resume together: the clearer error first
  // A run to resume with no checkpoint yet starts from its beginning, with its saved settings.
  const fromStart = resumeDir ? !(await checkResume(values, resumeDir)) : true;
  if (resumeDir && fromStart) {
    console.log(`${resumeDir} has no checkpoint yet: starting the run from its beginning`);
  }
  const resuming = !fromStart;
  if (values.profile === true && !resumeDir) {
    // Profiling trains nothing: no run folder.
    const { config } = await trainConfig(values);
    const devices = await acquireDevices(config.devices, values, "train");
    const model = buildModel(config, devices);
    if (config.init === "he") await heInit(model, config.seed);
    const weights = config.initFrom ? await readInitWeights(config.initFrom, "train") : null;
    for (const line of await fineTune(model, weights, config, "train")) console.log(line);
    return await profileOneStep(config, model, devices);
  }
  // The signals first, then the run folder, then the data, the devices and the model: a
  // signal during this setup abandons it, leaving no run folder (or the resumed run as it was).
  using stop = stopOnSignals();
  // Not abandoned mid-way (it creates the folder); the first setup step below checks for a signal.
  const folder = resumeDir
    ? await RunFolder.open(resumeDir, true, "--resume")
    : await RunFolder.open(str(values, "run-dir") ?? join("runs", timestamp()), false, "--run-dir");
  const runDir = folder.dir;
  try {
    const { config, splits } = await stop.during(
      resumeDir ? resumeConfig(values, resumeDir) : trainConfig(values),
    );
    // Weights and velocities: f32 each, as many as the model's logical parameters.
    const checkpointBytes = 2 * 4 * plannedParameterCount(config.model);
    await folder.requireSpace(
      (resuming ? 1 : CHECKPOINTS_ON_DISK) * checkpointBytes,
      `${resuming ? "a checkpoint" : `${CHECKPOINTS_ON_DISK} checkpoints`} of ` +
        `${Math.ceil(checkpointBytes / 2 ** 20)} MB`,
    );
    // The weights to start from, read before the devices are acquired: a bad file fails fast.
    const initWeights = fromStart && config.initFrom
      ? await stop.during(readInitWeights(config.initFrom, "train"))
      : null;
    const devices = await stop.during(
      acquireDevices(config.devices, values, "train"),
    );
    const model = buildModel(config, devices);
    if (fromStart && config.init === "he") await stop.during(heInit(model, config.seed));
    const fineTuning = await stop.during(fineTune(model, initWeights, config, "train"));
    if (!resumeDir) {
      await writeRunConfig(runDir, config);
    }
    // Checked once more after the write, which is not abandoned mid-way.
    await stop.during(Promise.resolve());
    stop.trainingStarts();
    await printRun(config, splits, devices, model, runDir);
    for (const line of fineTuning) console.log(line);
    const reporter = new ProgressReporter({
      everySteps: Math.ceil(100 / config.logEvery) * config.logEvery,
    });
    const place = {
      runDir,
      resume: resuming,
      device: devices[0],
      signal: stop.signal,
    };
    const trainer = createTrainer({
      ...runTrainOptions(config, model, splits, place),
      callbacks: [
        progressLine(reporter, { tenCrop: config.tenCrop, numClasses: config.model.numClasses }),
        curvesPlot(runDir, { title: `${modelTitle(config.model.preset)} training` }),
      ],
      log: (message) => reporter.log(message),
    });
    try {
      const result = await trainer.run();
      if (result.checkpoint === null) await folder.discard();
      return finishRun(result, config, runDir, stop.received, resuming);
    } finally {
      trainer.dispose();
      trainer.optimizer.dispose();
    }
  } catch (error) {
    // A start that failed leaves no run folder; a run with a checkpoint keeps its folder.
    await folder.discard();
    if (!(error instanceof StoppedBySignal)) throw error;
    console.log(
      `${error.signalName} before training started: stopped; ` +
        (resumeDir ? `the run ${runDir} is as it was` : "nothing trained, no run folder kept"),
    );
    return STOP_SIGNALS[error.signalName];
  }
}

/** The run's first lines: devices, data, model and training settings. */
async function printRun(
  config: RunConfig,
  splits: DataSplits,
  devices: Device[],
  model: { parameterCount(): number },
  runDir: string,
): Promise<void> {
  const { preset, width, inputSize, numClasses } = config.model;
  const name = modelTitle(preset);
  console.log(`device${devices.length > 1 ? "s" : ""}: ${await describePlacement(devices)}`);
  console.log(`data: ${splits.description}`);
  console.log(
    `model: ${name} (width ${Number(width.toPrecision(4))}, ${inputSize}×${inputSize} input, ` +
      `${plural(numClasses, "class", "classes")}, ${config.init} init), ` +
      `${model.parameterCount().toLocaleString("en-US")} parameters`,
  );
  console.log(
    `training: ${plural(config.epochs, "epoch")}, batch ${config.batchSize}, lr ` +
      `${formatLr(config.lr)}, ${optimizerText(config)}, schedule ` +
      `${config.schedule ?? "plateau"}; run ${runDir}`,
  );
}

/**
 * Prints how the run ended; returns the exit status. A resumed run's time is this session's,
 * and said so (the steps and epochs are the run's).
 */
function finishRun(
  r: TrainResult,
  config: RunConfig,
  runDir: string,
  signal: StopSignal | null,
  resumed: boolean,
): number {
  const last = r.rows.at(-1);
  if (r.interrupted && r.checkpoint === null) {
    console.log("stopped before the first step: nothing to resume");
    return signal ? STOP_SIGNALS[signal] : 0;
  }
  if (r.interrupted) {
    console.log(
      `stopped after ${plural(r.step, "step")}; resume with: deno run -A cli.ts train ` +
        `--resume ${shellArg(runDir)}`,
    );
    return signal ? STOP_SIGNALS[signal] : 0;
  }
  if (r.step === 0 || !Number.isFinite(r.imagesPerSec)) {
    console.log(
      `nothing to train: the run has ${r.epochsDone} of ${plural(config.epochs, "epoch")} ` +
        `done (pass a larger --epochs to continue it)`,
    );
  } else if (last) {
    const top5 = showsTop5(config.model.numClasses) ? `, top-5 ${pct(last.valTop5)}` : "";
    console.log(
      `done: ${plural(r.epochsDone, "epoch")}, ${plural(r.step, "step")}` +
        `${resumed ? "; this session" : " in"} ${formatDuration(r.seconds)} ` +
        `(${r.seconds.toFixed(1)} s); validation` +
        `${config.tenCrop ? " (10 crops)" : ""} top-1 error ${pct(last.valTop1)}${top5}, loss ` +
        `${formatLoss(last.valLoss)}; training ${r.imagesPerSec.toFixed(1)} images/s; ` +
        `run folder ${runDir}`,
    );
  }
  return 0;
}

/**
 * The run configuration and data of `train`'s flags (`{}`: the defaults), as a new run uses
 * them; `bench/cold_start.ts` builds the default run from it.
 */
export async function trainConfig(
  values: Values,
): Promise<{ config: RunConfig; splits: DataSplits }> {
  const cmd = "train";
  const dataDir = str(values, "data");
  const valDir = str(values, "val-data");
  if (valDir && !dataDir) throw new UsageError("--val-data needs --data", cmd);
  const imageSize = number(values, "image-size", cmd, { integer: true, min: 8, max: 512 });
  const trainSize = number(values, "train-size", cmd, { integer: true, min: 1 });
  const valSize = number(values, "val-size", cmd, { integer: true, min: 1 });
  if (dataDir && imageSize !== undefined) {
    throw new UsageError("--image-size applies to synthetic data only", cmd);
  }
  const seed = number(values, "seed", cmd, { integer: true, min: 0 }) ?? 0;
  const data: DataSource = dataDir ? await detectData(dataDir, valDir, cmd) : {
    kind: "synthetic",
    trainSize: trainSize ?? DEFAULTS.trainSize,
    valSize: valSize ?? DEFAULTS.valSize,
    size: imageSize ?? DEFAULTS.imageSize,
    seed: 0,
  };
  // Real data: a seeded subset balanced across classes, recorded in config.json.
  if (dataDir && (trainSize ?? valSize) !== undefined) {
    data.subset = { train: trainSize, val: valSize, seed };
  }
  const splits = await loadDataSplits(data);
  // Data prepared with a mean image is prepared for the paper's recipe; the paper's net needs
  // 227×227 crops, so smaller prepared images get the small net sized to them.
  const prepared = splits.meanImage != null;
  const side = Math.min(splits.train.height, splits.train.width);
  const preset = choice(values, "model", cmd, MODEL_NAMES) ??
    (prepared && side >= 256 ? "full" : "small");
  const dataClasses = splits.train.numClasses;
  const classes = number(values, "num-classes", cmd, { integer: true, min: 1 }) ?? dataClasses;
  if (classes < dataClasses) {
    throw new UsageError(
      `--num-classes ${classes} is fewer than the data's ${dataClasses} classes`,
      cmd,
    );
  }
  const cropGiven = number(values, "crop", cmd, { integer: true, min: 8 });
  // torchvision's architectures take ImageNet's 224×224 crops, AlexNet the paper's 227×227.
  const large = isZooModel(preset) ? 224 : 227;
  const crop = cropGiven ?? (side >= 256 ? large : Math.max(8, side - Math.round(side / 8)));
  if (crop > side) {
    throw new UsageError(`--crop ${crop} is larger than the ${side}-pixel images`, cmd);
  }
  const devices = number(values, "devices", cmd, { integer: true, min: 1, max: 2 }) as
    | 1
    | 2
    | undefined;
  const epochs = number(values, "epochs", cmd, { integer: true, min: 1 }) ??
    (preset === "full" ? 90 : DEFAULTS.epochs);
  const optimizer = choice(values, "optimizer", cmd, OPTIMIZERS) ?? "sgd";
  const sgdOnly = ["momentum", "formulation"].filter((k) => values[k] !== undefined);
  if (optimizer !== "sgd" && sgdOnly.length > 0) {
    throw new UsageError(`--${sgdOnly[0]} is SGD's; --optimizer ${optimizer} takes none`, cmd);
  }
  // The default crop grows to what the model takes, up to the images' side: 16-pixel images
  // cropped to 14 did not fit the small net, which takes 15.
  const model = modelOptions(values, cmd, preset, {
    inputSize: crop,
    numClasses: classes,
    seed,
    devices: devices ?? 1,
    fitUpTo: cropGiven === undefined ? side : undefined,
  });
  const config: RunConfig = {
    model,
    data,
    crop: model.inputSize,
    mean: prepared ? "image" : channelMean(splits.train),
    pca: splits.pca != null,
    init: initOption(values, cmd, preset),
    epochs,
    batchSize: number(values, "batch-size", cmd, { integer: true, min: 1, max: 4096 }) ??
      (preset === "full" ? 128 : DEFAULTS.batchSize),
    lr: number(values, "lr", cmd, { above: 0 }) ?? (preset === "full" ? 0.01 : DEFAULTS.lr),
    momentum: number(values, "momentum", cmd, { min: 0, below: 1 }) ?? 0.9,
    weightDecay: number(values, "weight-decay", cmd, { min: 0 }) ??
      { sgd: 5e-4, adam: 0, adamw: 1e-2, rmsprop: 0, adagrad: 0 }[optimizer],
    formulation: choice(values, "formulation", cmd, ["paper", "pytorch"] as const) ?? "paper",
    optimizer,
    clipGradNorm: number(values, "clip-grad-norm", cmd, { above: 0 }),
    schedule: scheduleOption(values, cmd, epochs),
    devices: devices ?? 1,
    seed,
    tenCrop: values["ten-crop"] === true,
    logEvery: number(values, "log-every", cmd, { integer: true, min: 1 }) ?? 20,
    patience: number(values, "patience", cmd, { integer: true, min: 0 }) ??
      (preset === "full" ? 3 : DEFAULTS.patience),
    ...fineTuneOptions(values, cmd),
  };
  config.dataFingerprint = { train: fingerprint(splits.train), val: fingerprint(splits.val) };
  return { config, splits };
}

/** The optimisers `--optimizer` names. */
const OPTIMIZERS = ["sgd", "adam", "adamw", "rmsprop", "adagrad"] as const;

/** The optimiser and its hyperparameters, for the run's summary line. */
function optimizerText(config: RunConfig): string {
  const decay = `weight decay ${config.weightDecay}`;
  const clip = config.clipGradNorm === undefined
    ? ""
    : `, gradient norm clipped to ${config.clipGradNorm}`;
  if ((config.optimizer ?? "sgd") !== "sgd") return `${config.optimizer}, ${decay}${clip}`;
  return `SGD momentum ${config.momentum}, ${decay} (${config.formulation})${clip}`;
}

/** `--schedule`, checked and made explicit (see `parseSchedule`). */
function scheduleOption(values: Values, cmd: string, epochs: number): string {
  try {
    return parseSchedule(str(values, "schedule") ?? "plateau", epochs);
  } catch (error) {
    throw new UsageError((error as Error).message, cmd);
  }
}

/** The `train` command. */
export const trainCommand: Command = defineCommand({
  summary: "train AlexNet, a ResNet or a VGG (default: scaled AlexNet, synthetic data, ~10 min)",
  usage: "train [options]",
  strings: "data val-data model width stem init image-size crop train-size val-size " +
    "epochs batch-size lr momentum weight-decay formulation optimizer clip-grad-norm schedule " +
    "patience seed init-from num-classes freeze train-only " +
    `devices adapter run-dir resume log-every ${SWITCH_NAMES}`,
  flags: "ten-crop profile separate-devices",
  help: TRAIN_HELP,
  run: runTrain,
});

/**
 * Training AlexNet: the paper's SGD (or PyTorch's), the training loop with validation, the
 * learning-rate schedule on a plateau of the validation error, metrics files and curves,
 * atomic checkpoints with exact resume, and the data pipeline (`./data/mod.ts`).
 *
 * The loop never reads the loss back once per step: a GPU-side guard checks each loss for
 * NaN/±∞, skips that step's parameter updates on the GPU when it is not finite, and keeps
 * running totals that are read every `logEvery` steps (see `trainer.ts`).
 *
 * @example Train the scaled AlexNet on synthetic shapes (what `deno run -A cli.ts train` does,
 * which also re-initialises the scaled net with He's init: the paper's N(0, 0.01²) is tuned to
 * the full net's fan-ins and makes the signal vanish in a narrow one)
 * ```ts ignore
 * import { defaultDevice } from "../mod.ts";
 * import { alexnetSmall } from "../nn/mod.ts";
 * import { syntheticSplits, train } from "./mod.ts";
 *
 * await defaultDevice();
 * const model = alexnetSmall({ inputSize: 24, seed: 0 });
 * const { train: trainData, val: valData } = syntheticSplits({ trainSize: 6144, valSize: 512, size: 28 });
 * const result = await train({
 *   model,
 *   trainData,
 *   valData,
 *   epochs: 8,
 *   batchSize: 32,
 *   lr: 0.015,
 *   augment: { crop: 24, flip: true, mean: [0.5, 0.5, 0.5] },
 *   runDir: "runs/demo",
 *   generators: { dropout: model.dropoutGenerator! },
 * });
 * console.log(result.lastEval?.top1, result.imagesPerSec);
 * ```
 *
 * @example One optimiser step by hand
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SGD } from "./mod.ts";
 * await defaultDevice();
 * const w = tensor([1, 2], { requiresGrad: true });
 * const sgd = new SGD({ params: [w], lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * const loss = w.mul(w).sum();
 * await loss.backward();
 * sgd.step();
 * sgd.zeroGrad();
 * console.log(await w.toArray());
 * ```
 *
 * @module
 */

export {
  type ParamGroup,
  type ParamGroupOptions,
  SGD,
  type SgdFormulation,
  type SgdGroupState,
  type SgdState,
  type SgdStepOptions,
  type VelocityState,
} from "./sgd.ts";
export {
  type EvalResult,
  evaluate,
  type EvaluateOptions,
  NonFiniteLossError,
  train,
  Trainer,
  type TrainerOptions,
  type TrainModel,
  type TrainResult,
} from "./trainer.ts";
export {
  CHECKPOINT_POINTER,
  type CheckpointPointer,
  lastGoodCheckpoint,
  latestCheckpoint,
  type LoadedCheckpoint,
  loadModelWeights,
  loadTrainingCheckpoint,
  type LoadTrainingCheckpointOptions,
  type PartialEpoch,
  type SaveCheckpointOptions,
  type SaveTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainingState,
} from "./checkpoint.ts";
export {
  type PlateauDecision,
  type PlateauOptions,
  type PlateauState,
  ReduceLROnPlateau,
  type ThresholdMode,
} from "./plateau.ts";
export {
  averageProbabilities,
  type BatchMetrics,
  meanNegativeLogLikelihood,
  MetricAccumulator,
  type MetricAccumulatorOptions,
  type MetricSummary,
  topKErrors,
  type TopKResult,
} from "./metrics.ts";
export {
  appendEpochMetrics,
  type EpochMetrics,
  METRICS_CSV,
  METRICS_JSONL,
  readMetrics,
  type ReadMetricsOptions,
  truncateMetrics,
} from "./run_log.ts";
export { CURVES_SVG, type PlotOptions, renderTrainingSvg, writeTrainingPlot } from "./plot_svg.ts";
export {
  formatDuration,
  type ProgressOptions,
  ProgressReporter,
  type ProgressUpdate,
} from "./progress.ts";
export * from "./data/mod.ts";
export * from "./experiment/mod.ts";

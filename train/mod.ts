/**
 * Training: an {@link Optimizer} interface and the paper's SGD (or PyTorch's), a
 * {@link Trainer} loop that takes any model and loss, callbacks for what happens around it
 * (metrics files, checkpoints with exact resume, the learning rate divided by 10 on a plateau
 * of the validation error), `train`/`createTrainer` for the paper's recipe in one call, and the
 * data pipeline (`./data/mod.ts`).
 *
 * The loop never reads the loss back once per step: a GPU-side guard checks each loss for
 * NaN/±∞, skips that step's parameter updates on the GPU when it is not finite, and keeps
 * running totals that are read every `logEvery` steps (see `trainer.ts`).
 *
 * @example Train a small model on synthetic shapes with the paper's recipe
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { alexnetSmall } from "../nn/mod.ts";
 * import { syntheticSplits, train } from "./mod.ts";
 *
 * await defaultDevice();
 * const model = alexnetSmall({ inputSize: 16, width: 1 / 16, numClasses: 4, seed: 0 });
 * const { train: trainData, val: valData } = syntheticSplits({
 *   trainSize: 32, valSize: 16, size: 18, classes: 4,
 * });
 * const result = await train({
 *   model,
 *   trainData,
 *   valData,
 *   epochs: 1,
 *   batchSize: 16,
 *   lr: 0.01,
 *   augment: { crop: 16, flip: true },
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

export type {
  Optimizer,
  OptimizerStateDict,
  OptimizerStepOptions,
  ParamGroup,
  ParamGroupState,
} from "./optimizer.ts";
export {
  type ParamGroupOptions,
  SGD,
  type SgdFormulation,
  type SgdGroupState,
  type SgdParamGroup,
  type SgdStateDict,
} from "./sgd.ts";
export {
  Adam,
  type AdamGroupOptions,
  type AdamGroupState,
  type AdamParamGroup,
  type AdamStateDict,
  AdamW,
} from "./adam.ts";
export { RMSprop, type RmspropGroupOptions, type RmspropParamGroup } from "./rmsprop.ts";
export { Adagrad, type AdagradGroupOptions, type AdagradParamGroup } from "./adagrad.ts";
export {
  type ForeachGroupOptions,
  type ForeachKind,
  ForeachOptimizer,
  type ForeachRule,
  type Hyperparameters,
} from "./foreach_optimizer.ts";
export {
  ConstantLR,
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LrLambda,
  LRScheduler,
  type LRSchedulerOptions,
  type LRSchedulerState,
  MultiplicativeLR,
  MultiStepLR,
  PolynomialLR,
  StepLR,
} from "./lr_scheduler.ts";
export { type CycledGroup, OneCycleLR, type OneCycleOptions } from "./one_cycle_lr.ts";
export { SequentialLR, type SequentialLRState } from "./sequential_lr.ts";
export { ChainedScheduler, type ChainedSchedulerState } from "./chained_scheduler.ts";
export { SchedulerChain, type SchedulerChainState } from "./scheduler_chain.ts";
export { CyclicLR, type CyclicOptions } from "./cyclic_lr.ts";
export {
  CosineAnnealingWarmRestarts,
  type CosineAnnealingWarmRestartsOptions,
  type CosineAnnealingWarmRestartsState,
} from "./cosine_annealing_warm_restarts.ts";
export {
  clipGradNorm,
  type ClipGradNormOptions,
  clipGradValue,
  type GradNormClip,
} from "./clip_grad.ts";
export { NonFiniteLossError, Trainer, type TrainerOptions, type TrainResult } from "./trainer.ts";
export type {
  EpochEnd,
  EpochStart,
  LogUpdate,
  LoopState,
  PartialEpoch,
  StepEnd,
  StopEvent,
  TrainEnd,
  TrainerCallback,
  TrainerContext,
} from "./callback.ts";
export {
  createOptimizer,
  createTrainer,
  type OptimizerChoice,
  type OptimizerName,
  type OptimizerOf,
  train,
  type TrainOptions,
} from "./train.ts";
export { type EvalResult, evaluate, type EvaluateOptions, type LossFunction } from "./evaluate.ts";
export {
  CHECKPOINT_POINTER,
  type CheckpointPointer,
  lastGoodCheckpoint,
  latestCheckpoint,
  type LoadedCheckpoint,
  loadModelWeights,
  loadTrainingCheckpoint,
  type LoadTrainingCheckpointOptions,
  type SaveTrainingCheckpoint,
  saveTrainingCheckpoint,
  type SaveTrainingCheckpointOptions,
  type TrainingState,
} from "./checkpoint.ts";
export { checkpoints, type CheckpointsOptions, resumeFrom } from "./checkpoints.ts";
export {
  type LearningRateGroups,
  type MonitoredMetric,
  type PlateauDecision,
  type PlateauOptions,
  type PlateauState,
  ReduceLROnPlateau,
  type ThresholdMode,
} from "./plateau.ts";
export {
  appendEpochMetrics,
  type EpochMetrics,
  METRICS_CSV,
  METRICS_JSONL,
  metricsFiles,
  readMetrics,
  type ReadMetricsOptions,
  truncateMetrics,
} from "./run_log.ts";
export * from "./data/mod.ts";
export * from "./experiment/mod.ts";

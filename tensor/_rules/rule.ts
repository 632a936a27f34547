/**
 * What an op is to autograd: its name, its parameters, and a {@link Rule} — a forward and a
 * backward written over raw tensors and primitives. {@link OpParams} lists every op the graph
 * can record; the rule table in `mod.ts` is typed `{ [K in Op]: Rule<K> }`, so an op
 * without a gradient rule does not compile (as jax-js does it).
 *
 * @module
 */

import type { Device } from "../../kernels/device.ts";
import type { Described, RawTensor } from "../_core.ts";
import type {
  AvgPool2dGeometry,
  Conv2dGeometry,
  LrnParams,
  Pool2dGeometry,
} from "../_primitives_cnn.ts";
import type { AdaptivePool2dGeometry, ResampleGeometry } from "../_primitives_conv_family.ts";
import type { CrossEntropyParams, DropoutBlock, RandomStream, StagingFor } from "../_primitives.ts";
import type { ActivationFn, LossTerm, MathFn } from "../_primitives_maps.ts";
import type { BatchNormRunning } from "../_primitives_norm.ts";
import type { ScanOp, ScatterMode } from "../_primitives_index.ts";

/** An op without parameters. */
export type NoParams = Record<string, never>;

/** Every op the graph records, with the parameters its forward and backward take. */
export interface OpParams {
  // Elementwise (elementwise.ts).
  identity: NoParams;
  neg: NoParams;
  exp: NoParams;
  log: NoParams;
  log1p: NoParams;
  sqrt: NoParams;
  relu: NoParams;
  tanh: NoParams;
  sigmoid: NoParams;
  abs: NoParams;
  // Bounds ±∞ where not given.
  clamp: { min: number; max: number };
  pow: { exponent: number };
  // The exponent a tensor (broadcast with the base).
  powTensor: NoParams;
  addScalar: { value: number };
  mulScalar: { value: number };
  divScalar: { value: number };
  add: NoParams;
  sub: NoParams;
  mul: NoParams;
  div: NoParams;
  maximum: NoParams;
  minimum: NoParams;
  // Inputs: the condition (f32 or i32, no gradient), then the two branches.
  where: NoParams;
  // Scalar-function maps (activation.ts): an activation of x, a loss term of x and a target t
  // (the two broadcast together), their parameters in the order the function lists them.
  activation: { fn: ActivationFn; params: readonly number[] };
  math: { fn: MathFn };
  lossTerm: { term: LossTerm; params: readonly number[] };
  // Reductions.
  sum: { axes: readonly number[]; keepdim: boolean };
  prod: { axes: readonly number[]; keepdim: boolean };
  max: { axes: readonly number[]; keepdim: boolean };
  min: { axes: readonly number[]; keepdim: boolean };
  // `(Σ |x|^ord)^(1/ord)` over `axes` (±∞: the largest or smallest magnitude; 0: the count of
  // nonzeros), torch.linalg.vector_norm.
  vectorNorm: { ord: number; axes: readonly number[]; keepdim: boolean };
  // Shape.
  contiguous: NoParams;
  reshape: { shape: readonly number[] };
  permute: { order: readonly number[] };
  expand: { shape: readonly number[] };
  slice: { axis: number; start: number; end: number; step: number };
  concat: { axis: number };
  // Indexing along an axis (index.ts): inputs x and an i32 index, then `src` for a scatter.
  gather: { dim: number };
  scatter: { dim: number; mode: ScatterMode; includeSelf: boolean };
  // Reordering and accumulating along axes (reorder.ts): a running sum or product along `dim`;
  // per axis a flip, or a roll by `shift` (0 keeps it); the triangle of the last two axes.
  cumulative: { dim: number; op: ScanOp };
  flipRoll: { flip: readonly boolean[]; shift: readonly number[] };
  triangle: { upper: boolean; diagonal: number };
  // The diagonal between two axes as a view (its axis last).
  diagonal: { offset: number; dim1: number; dim2: number };
  // Products.
  matmul: NoParams;
  linear: { relu: boolean };
  // Convolutional network.
  conv2d: { geometry: Conv2dGeometry; outH: number; outW: number; relu: boolean };
  maxPool2d: { geometry: Pool2dGeometry; outShape: readonly number[] };
  avgPool2d: { geometry: AvgPool2dGeometry };
  lrn: { params: LrnParams };
  // The transposed convolution (conv_family.ts): inputs x, w and an optional bias; `geometry`
  // is the convolution whose input gradient it computes (its input is this op's output).
  convTranspose2d: { geometry: Conv2dGeometry };
  adaptiveMaxPool2d: { geometry: AdaptivePool2dGeometry };
  // Each output a weighted sum of input taps along H and W (interpolation; padding by
  // reflection, replication or wrapping).
  resample: { geometry: ResampleGeometry };
  // Constant padding: per axis, elements added before and after (negative: cropped).
  padConstant: { before: readonly number[]; after: readonly number[]; value: number };
  // Normalisation: inputs x, then the weight and the bias where `weight`/`bias` say so; the
  // running statistics are read, or updated in place when `batchStats` (no gradient).
  batchNorm: {
    // The public op, named in errors: batchNorm, layerNorm, groupNorm or instanceNorm.
    op: string;
    running: BatchNormRunning | null;
    batchStats: boolean;
    // Statistics per sample and channel (layer and group norm), not per channel; the weight
    // and bias are then elementwise, each shared by `affineSpan` consecutive values (default 1).
    perSample: boolean;
    affineSpan?: number;
    eps: number;
    momentum: number | null;
    weight: boolean;
    bias: boolean;
  };
  // Losses: the cross-entropy of logits against i32 labels (log-softmax and NLL fused), with
  // PyTorch's options; the class weights, when given, are input 2.
  crossEntropy: Omit<CrossEntropyParams, "weight">;
  // The negative log-likelihood of log-probabilities against i32 labels (nll.ts); the class
  // weights, when given, are input 2.
  nllLoss: { ignoreIndex: number; reduction: "mean" | "sum" | "none" };
  // Dropout: the mask's draw (drop probability, stream position, place in a wider draw).
  dropout: { p: number; stream: RandomStream; block?: DropoutBlock };
  // Devices.
  to: { device: Device };
  transfer: { state: TransferState };
  transferOut: { state: TransferState; index: number };
}

/** What the token and the copies of one transfer share (see `transfer.ts`). */
export interface TransferState {
  /** The destination of each source. */
  readonly targets: readonly Device[];
  /** Where each direction's staging buffers come from (default: spare ones). */
  readonly staging?: StagingFor;
  /** Records work that needs none of the copies, run while the forward's maps wait. */
  readonly whileWaiting?: () => void;
  /** The copies, until each `transferOut` takes its own. */
  readonly outs: (RawTensor | null)[];
  /** The copies' gradients, handed over by their backward for the token's. */
  readonly grads: (RawTensor | null)[];
}

/** The ops whose forward waits for the host (a readback); so does their backward. */
export type AsyncOp = "to" | "transfer";

/** The {@link AsyncOp}s. */
export const ASYNC_OPS: ReadonlySet<string> = new Set<AsyncOp>(["to", "transfer"]);

/** The name of an op. */
export type Op = keyof OpParams;

/** Gradients for each input, in order; `null` where an input needs none. */
export type Grads = (RawTensor | null)[];

/**
 * What a forward leaves for its backward: the inputs' shapes and devices, which of them need a
 * gradient, and the raw tensors it chose to save (held by their own references until the
 * backward has run, or the graph is dropped).
 */
export class Context {
  /** Shape, dtype and device of each input. */
  readonly inputs: readonly Described[];
  /** Whether each input needs a gradient. */
  readonly needsGrad: readonly boolean[];
  /** Whether the graph is being recorded (else nothing is saved). */
  readonly recording: boolean;
  #saved: RawTensor[] = [];

  /** A context for one application of an op. */
  constructor(inputs: readonly Described[], needsGrad: readonly boolean[], recording: boolean) {
    this.inputs = inputs.map(({ shape, dtype, device }) => ({ shape, dtype, device }));
    this.needsGrad = needsGrad;
    this.recording = recording;
  }

  /** Keeps references to `tensors` for the backward (only while recording). */
  save(...tensors: RawTensor[]): void {
    if (this.recording) this.#saved.push(...tensors.map((t) => t.alias()));
  }

  /** The saved tensors, in the order they were saved. */
  get saved(): readonly RawTensor[] {
    return this.#saved;
  }

  /** Drops the saved tensors. */
  release(): void {
    this.#saved.forEach((t) => t.dispose());
    this.#saved = [];
  }
}

/**
 * How a rule takes part in folding a ReLU's mask into the backward of the op that consumes the
 * ReLU's output, so that `g · (y > 0)` costs no pass over memory of its own (see
 * `_autograd.ts` for when the walk folds). A rule may be either side, or both.
 */
export interface ReluFusion<K extends Op> {
  /**
   * Producer side: the op's output is `max(·, 0)` of what its backward differentiates (relu,
   * and conv2d or linear with `relu`). Returns that output, saved by the forward, to serve as
   * the mask operand; null where these params apply no ReLU. A backward told `gradMasked`
   * must then skip its own mask.
   */
  readonly output?: (params: OpParams[K], ctx: Context) => RawTensor | null;
  /**
   * With `output`: the op keeps the sign of its one input where it keeps the element, and
   * zeroes the rest (dropout: `x · m`, `m ≥ 0`), so its output is positive exactly where the
   * input is and the element is kept. On a ReLU's output that has no other use, the op's output
   * then serves as a ReLU's too: a gradient masked by the output's mask, sent back through the
   * op, comes out masked by the input's, and the ReLU before it skips its mask as well.
   */
  readonly keepsSign?: boolean;
  /**
   * Consumer side: the inputs whose gradients the backward can return already multiplied by
   * the ReLU mask of a tensor it is given (`MaskFold.masks`), inside a kernel it runs anyway.
   */
  readonly foldsInto?: readonly number[];
}

/** What the backward walk tells a backward about ReLU masks. */
export interface MaskFold {
  /** The output's gradient is already multiplied by this op's ReLU mask. */
  readonly gradMasked: boolean;
  /**
   * Per input, a ReLU's output (the input itself) whose mask the input's gradient must be
   * multiplied by, or null: only inputs the rule's `foldsInto` lists get one.
   */
  readonly masks: readonly (RawTensor | null)[];
}

/** The forward and backward of one op, over raw tensors. */
export interface Rule<K extends Op> {
  /** Computes a new output from the inputs (which it must not dispose). */
  forward(
    inputs: readonly RawTensor[],
    params: OpParams[K],
    ctx: Context,
  ): K extends AsyncOp ? Promise<RawTensor> : RawTensor;
  /**
   * Maps the output's gradient (not to be disposed) to new gradients of the inputs. `fold`
   * matters only to a rule with {@link Rule.reluFusion}: the walk sets nothing it does not offer.
   * `whileWaiting` matters only to an {@link AsyncOp}: it records the backward of the nodes that
   * need nothing from this one, and the rule calls it once its copies are under way, so that
   * the devices have that work while the host waits.
   */
  backward(
    grad: RawTensor,
    params: OpParams[K],
    ctx: Context,
    fold: MaskFold,
    whileWaiting: () => void,
  ): Grads | Promise<Grads>;
  /** Whether and how the op folds ReLU masks (none when absent). */
  readonly reluFusion?: ReluFusion<K>;
}

/** A table of rules for the ops in `K`. */
export type Rules<K extends Op> = { readonly [P in K]: Rule<P> };

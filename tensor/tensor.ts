/**
 * The typed tensor. `Tensor<S, D>` carries its shape type `S` (a tuple of literal sizes, names
 * such as `"batch"`, or `number`) and its dtype `D`; ops compute result shapes in their types,
 * so `[M, K]` times `[K2, N]` with literal `K ≠ K2` does not compile. Run-time checks cover the
 * rest (actual sizes, devices, dtypes) with messages that name the op and the shapes.
 *
 * A tensor is a {@link RawTensor} (its data) plus its place in the autograd graph. Every op
 * goes through {@link apply}, which runs the op's rule from the table in `_rules/mod.ts` and
 * records its backward (`_tensor_apply.ts`). The class is the typed face: what its methods are
 * given is checked in `_tensor_args.ts`, `assign` writes through `_tensor_assign.ts`,
 * `toArray` nests through `_tensor_nested.ts`, and the longer methods are computed in
 * `_tensor_arithmetic.ts`, `_tensor_reductions.ts` and `_tensor_indexing.ts`, which see a tensor
 * through `_tensor_handle.ts` (they cannot import this file back).
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { type RawTensor, requireFloat } from "./_core.ts";
import {
  freedGraphMessage,
  type GradNode,
  type GraphAccess,
  isGradEnabled,
  runBackward,
} from "./_autograd.ts";
import { binary, cast, download, fill, unary } from "./_primitives.ts";
import type { AsyncOp, Op, OpParams } from "./_rules/mod.ts";
import { type OpDispatch, opDispatch } from "./_tensor_apply.ts";
import {
  checkUpstreamGradient,
  expandedShape,
  extremumAxes,
  flattenedShape,
  requireDevice,
  requireList,
  resolvePermutation,
  resolveShape,
  resolveSlice,
  sameDtype,
  squeezedShape,
  swappedAxes,
  unsqueezedShape,
} from "./_tensor_args.ts";
import { checkOptions, requireBoolean } from "./options.ts";
import { writeInto } from "./_tensor_assign.ts";
import {
  flippedAxes,
  gatherAxis,
  indexSelectPlan,
  repeatPlan,
  requireMatrix,
  requireNormOrder,
  rollShifts,
} from "./_tensor_index_args.ts";
import { nest, type NestedArray } from "./_tensor_nested.ts";
import { bindTensorAccess } from "./_tensor_handle.ts";
import {
  arithmetic,
  clamped,
  compared,
  integerDivided,
  maskedFilled,
  matrixProduct,
  powerOf,
  selected as selectedHandle,
} from "./_tensor_arithmetic.ts";
import {
  extremumWithIndex,
  indexOfExtremum,
  kthvalueOf,
  logSoftmaxOf,
  logsumexpOf,
  medianOf,
  softmaxOf,
  SORT_OPTIONS,
  type SortOptions,
  sortOrder,
  standardDeviationOf,
  topkOf,
  type TopkOptions,
  varianceOf,
  type VarianceOptions,
} from "./_tensor_reductions.ts";
import {
  indexAdded,
  runningExtremum,
  scattered,
  scatterReduced,
  type ScatterReduction,
} from "./_tensor_indexing.ts";
import { keep, type ScopedResource, tidy, track } from "./memory.ts";
import {
  type Broadcast,
  type Broadcastable,
  type Check,
  describeValue,
  type Dim,
  type DimsAgree,
  type DType,
  type MatmulBatchesAgree,
  type MatmulInnerAgree,
  type MatmulShape,
  normalizeAxes,
  normalizeAxis,
  numel,
  reductionAxes,
  type Shape,
  ShapeError,
  type ShapeValue,
  type TupleOf,
} from "./shape.ts";

export type { NestedArray, ScatterReduction, SortOptions, TopkOptions, VarianceOptions };

/** Axes given to a reduction or softmax: one axis, several, or all when omitted. */
export type Axes = number | readonly number[];

/** A tensor of any shape and dtype (inside this layer). */
type AnyTensor = Tensor<Shape, DType>;

// The rest of the tensor layer reaches a tensor's private state (its data, its graph node) only
// through these, bound in the class's static block where `#` fields are visible (op dispatch,
// the autograd walk); nothing above the layer can (the constructor is private too).
let wrap: (raw: RawTensor, requiresGrad?: boolean) => AnyTensor;
let rawOfTensor: (t: AnyTensor, op?: string) => RawTensor;
let graph: GraphAccess<AnyTensor>;
let ops: OpDispatch<AnyTensor>;

/**
 * An n-dimensional array on a GPU device, with autograd.
 *
 * Create tensors with `tensor`, `zeros`, `randn` … (see `creation.ts`); read them with
 * `await t.toArray()` or `await t.item()`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const loss = w.mul(w).sum();
 * await loss.backward();
 * console.log(await w.grad!.toArray()); // [[2, 4], [6, 8]]
 * ```
 */
export class Tensor<S extends Shape = Shape, D extends DType = DType> implements ScopedResource {
  /** Run-time sizes, one per axis. */
  readonly shape: ShapeValue<S>;
  /** Element type. */
  readonly dtype: D;
  /** The accumulated gradient of a leaf, after `backward()`. */
  grad: Tensor<S, D> | null = null;

  #raw: RawTensor;
  #node: GradNode<AnyTensor> | null = null;
  #graphFreed = false;
  #requiresGrad: boolean;

  static {
    wrap = (raw, requiresGrad) => new Tensor(raw, requiresGrad);
    rawOfTensor = (t, op = "tensor op") => {
      // A number, an array or a typed array where a tensor belongs: named, not "Cannot read
      // private member #raw".
      if (typeof t !== "object" || t === null || !(#raw in t)) {
        throw new TypeError(`${op}: expected a Tensor, got ${describeValue(t)}`);
      }
      t.#raw.storage; // throws for a disposed tensor
      return t.#raw;
    };
    graph = {
      node: (t) => t.#node,
      freed: (t) => t.#graphFreed,
      requiresGrad: (t) => t.#requiresGrad,
      clear: (t) => t.#setNode(null),
      accumulate: (t, g) => t.#accumulateGrad(g),
      describe: (t) => `${t.shape}`,
    };
    ops = opDispatch<AnyTensor>({
      wrap,
      raw: rawOfTensor,
      attachNode: (t, node) => t.#setNode(node),
    });
    bindTensorAccess({
      wrap,
      raw: (t, op) => rawOfTensor(t as AnyTensor, op),
      apply: (op, inputs, params) => ops.apply(op, inputs as readonly AnyTensor[], params),
      isTensor: (x) => x instanceof Tensor,
    });
  }

  private constructor(raw: RawTensor, requiresGrad = false) {
    this.#raw = raw;
    this.shape = raw.shape as unknown as ShapeValue<S>;
    this.dtype = raw.dtype as D;
    this.#requiresGrad = requiresGrad;
    track(this);
  }

  /**
   * Whether backward computes a gradient for this tensor. A leaf (a tensor no recorded op made)
   * may be switched either way, and only an f32 one on; a tensor a recorded op made requires a
   * gradient through its graph and cannot be switched, as PyTorch's "you can only change
   * requires_grad flags of leaf variables": `detach()` gives a leaf of the same data.
   *
   * @example
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const w = tensor([1, 2]);
   * w.requiresGrad = true; // a leaf: allowed
   * const y = w.mul(2);
   * try {
   *   y.requiresGrad = false;
   * } catch (e) {
   *   console.log((e as Error).message.startsWith("requiresGrad: only a leaf")); // true
   * }
   * console.log(y.detach().requiresGrad); // false
   * ```
   */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (!this.isLeaf) {
      throw new Error(
        `requiresGrad: only a leaf's flag can change; this tensor of shape [${this.shape}] was ` +
          `made by a recorded op (${this.#node?.op ?? "its graph already freed"}). To use its ` +
          "value without a gradient, take y.detach()",
      );
    }
    if (value && this.dtype !== "f32") {
      // As torch's "only Tensors of floating point dtype can require gradients".
      throw new TypeError(
        `requiresGrad: only f32 tensors can require gradients, got ${this.dtype}`,
      );
    }
    this.#requiresGrad = value;
  }

  /**
   * Whether this tensor is a leaf of the graph, as PyTorch's `is_leaf`: one that no recorded
   * op made (data created directly, a parameter, a result computed under `noGrad` or from
   * inputs that need no gradient, a `detach()`). Backward leaves `.grad` on leaves only.
   */
  get isLeaf(): boolean {
    return this.#node === null && !this.#graphFreed;
  }

  /** The device holding the data. */
  get device(): Device {
    return this.#raw.device;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape as readonly number[]);
  }

  /** Element strides of each axis (a view may be non-contiguous). */
  get strides(): readonly number[] {
    return this.#raw.strides;
  }

  /** Element offset of the first element in the data (a view may start past it). */
  get offset(): number {
    return this.#raw.offset;
  }

  /** Whether the elements are laid out row-major with no gaps or offset. */
  get isContiguous(): boolean {
    return this.#raw.isContiguous;
  }

  /** Whether this tensor's handle has been disposed. */
  get disposed(): boolean {
    return this.#raw.disposed;
  }

  #setNode(node: GradNode<AnyTensor> | null): void {
    if (!node && this.#node) {
      this.#graphFreed = true;
      unreleasedGraphs.unregister(this);
    }
    this.#node = node;
    if (node) {
      this.#requiresGrad = true;
      unreleasedGraphs.register(this, node, this);
    }
  }

  /** Adds `g` (taken over) into `.grad`, kept across scopes as parameters outlive steps. */
  #accumulateGrad(g: RawTensor): void {
    const previous = this.grad;
    const sum = previous ? binary(rawOfTensor(previous), g, "add") : g;
    if (previous) {
      previous.dispose();
      g.dispose();
    }
    this.grad = keep(wrap(sum)) as unknown as Tensor<S, D>;
  }

  /** Drops this handle's reference to the data. Safe to call twice. */
  dispose(): void {
    this.#raw.dispose();
  }

  /** `using t = …` disposes at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Frees `.grad`. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** A new handle to the same data, cut from the graph (disposing it leaves this one alive). */
  detach(): Tensor<S, D> {
    return wrap(rawOfTensor(this).alias()) as Tensor<S, D>;
  }

  /**
   * Copies `source` into this tensor's data in place (PyTorch's `copy_`): a tensor of the same
   * shape, dtype and device, or host values in row-major order. The way to set weights, load a
   * state or apply an update by hand; views of this tensor see the new values. A tensor that
   * requires a gradient is written only inside `noGrad`, and one that a recorded op produced
   * never (its graph would read the new data), as in PyTorch.
   *
   * @example
   * ```ts
   * import { defaultDevice, noGrad, tensor } from "../mod.ts";
   * await defaultDevice();
   * const w = tensor([1, 2, 3], { requiresGrad: true });
   * noGrad(() => w.assign(w.mul(2)));
   * console.log(await w.toArray()); // [2, 4, 6]
   * noGrad(() => w.assign(new Float32Array([7, 8, 9])));
   * console.log(await w.toArray()); // [7, 8, 9]
   * ```
   */
  assign(source: Tensor<S, D> | Tensor<Shape, D> | Float32Array | Int32Array): this {
    const dst = rawOfTensor(this);
    if (this.#node) {
      throw new Error(
        `assign: the tensor of shape [${this.shape}] was made by a recorded op (${this.#node.op}); ` +
          "write into leaves, or into tensors made under noGrad",
      );
    }
    if (this.requiresGrad && isGradEnabled()) {
      throw new Error(
        `assign: the tensor of shape [${this.shape}] requires a gradient; write into it inside ` +
          "noGrad(() => …), as an optimiser does",
      );
    }
    writeInto(
      dst,
      ArrayBuffer.isView(source) ? source : rawOfTensor(source as AnyTensor, "assign"),
    );
    return this;
  }

  /** Back-propagates from this tensor: scalars need no argument; others take `grad`. */
  async backward(grad?: Tensor<S, D>): Promise<void> {
    if (!this.requiresGrad) {
      throw new Error("backward: this tensor does not require a gradient (no input needs one)");
    }
    checkUpstreamGradient(this, grad);
    if (!this.#node && this.#graphFreed) throw new Error(freedGraphMessage(`${this.shape}`));
    const seed = grad ? rawOfTensor(grad) : fill(this.device, this.shape as readonly number[], 1);
    try {
      if (this.#node) await runBackward<AnyTensor>(this, seed, graph);
      else this.#accumulateGrad(seed.alias());
    } finally {
      if (!grad) seed.dispose();
    }
  }

  /** Reads the data back as a flat typed array (waits for the GPU). */
  async data(): Promise<D extends "i32" ? Int32Array : Float32Array> {
    return await download(rawOfTensor(this)) as D extends "i32" ? Int32Array : Float32Array;
  }

  /** Reads the data back as nested arrays matching the shape. */
  async toArray(): Promise<NestedArray> {
    const flat = Array.from(await this.data());
    return nest(flat, this.shape as readonly number[]);
  }

  /** Reads a one-element tensor back as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new ShapeError(`item: tensor has shape [${this.shape}], not 1 element`);
    }
    return (await this.data())[0];
  }

  /**
   * Copies to another device (through the host; WebGPU devices share no memory). The same
   * data when already there, or the linked replica there (see `linkReplicas`).
   */
  async to(device: Device): Promise<Tensor<S, D>> {
    requireDevice("to", device);
    return await applyAsync("to", [this], { device }) as Tensor<S, D>;
  }

  /** Checks the rank at run time and narrows the shape type to a tuple of that rank. */
  withRank<R extends number>(rank: R): Tensor<TupleOf<number, R>, D> {
    if (this.rank !== rank) {
      throw new ShapeError(`expected a tensor of rank ${rank}, got shape [${this.shape}]`);
    }
    return this as unknown as Tensor<TupleOf<number, R>, D>;
  }

  // Elementwise ------------------------------------------------------------------------------

  /**
   * `this + other` with broadcasting. A number operand keeps this tensor's shape type (`O`
   * defaults to `[]`, which broadcasts to `S`), as for `sub`, `mul` and `div`. An i32 tensor
   * with an f32 one, or with a fraction, is computed in f32, as PyTorch promotes; i32 with i32
   * (or an integer) stays i32, wrapping past ±2³¹ as PyTorch's int32 does (`sub` and `mul`
   * too).
   *
   * @example
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const row = tensor([0, 1, 2], { dtype: "i32" });
   * console.log(await row.mul(4).add(1).data()); // Int32Array [1, 5, 9]
   * ```
   */
  add<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "add: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return arithmetic("add", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /** `this − other` with broadcasting. */
  sub<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "sub: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return arithmetic("sub", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /** `this · other` elementwise with broadcasting. */
  mul<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "mul: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return arithmetic("mul", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /**
   * `this / other` elementwise with broadcasting: true division, so always f32, as PyTorch's
   * (`7 / 2` is 3.5 of i32 tensors too; `floorDivide` is `//`).
   */
  div<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "div: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return arithmetic("div", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /**
   * `this // other` with broadcasting, as `torch.floor_divide` (Python's floor: −7 // 2 = −4),
   * for an i32 tensor and an i32 tensor or integer, into i32. A zero divisor gives 0 there and
   * makes the next read from the device throw (PyTorch raises ZeroDivisionError). No gradient.
   *
   * @example
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * console.log(await tensor([7, -7], { dtype: "i32" }).floorDivide(2).data()); // Int32Array [3, -4]
   * ```
   */
  floorDivide<O extends Shape = []>(
    other:
      | (Tensor<O, D> & Check<Broadcastable<S, O>, "floorDivide: shapes do not broadcast">)
      | number,
  ): Tensor<Broadcast<S, O>, D> {
    return integerDivided("floorDivide", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /**
   * `this % other` with broadcasting, as `torch.remainder` (Python's: the divisor's sign,
   * −7 % 3 = 2), for i32 as {@link Tensor.floorDivide}.
   *
   * @example
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * console.log(await tensor([7, -7], { dtype: "i32" }).remainder(3).data()); // Int32Array [1, 2]
   * ```
   */
  remainder<O extends Shape = []>(
    other:
      | (Tensor<O, D> & Check<Broadcastable<S, O>, "remainder: shapes do not broadcast">)
      | number,
  ): Tensor<Broadcast<S, O>, D> {
    return integerDivided("remainder", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /**
   * C's remainder with broadcasting, as `torch.fmod` (the dividend's sign, −7 fmod 3 = −1), for
   * i32 as {@link Tensor.floorDivide}.
   *
   * @example
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * console.log(await tensor([7, -7], { dtype: "i32" }).fmod(3).data()); // Int32Array [1, -1]
   * ```
   */
  fmod<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "fmod: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return integerDivided("fmod", this, other) as AnyTensor as Tensor<Broadcast<S, O>, D>;
  }

  /** `−this`. */
  neg(): Tensor<S, D> {
    return apply("neg", [this], {}) as Tensor<S, D>;
  }

  /** `e^this`. */
  exp(): Tensor<S, D> {
    return apply("exp", [this], {}) as Tensor<S, D>;
  }

  /** Natural logarithm. */
  log(): Tensor<S, D> {
    return apply("log", [this], {}) as Tensor<S, D>;
  }

  /** `log(1 + this)`, accurate where `this` is small (where `1 + x` would round it away). */
  log1p(): Tensor<S, D> {
    return apply("log1p", [this], {}) as Tensor<S, D>;
  }

  /** Square root. */
  sqrt(): Tensor<S, D> {
    return apply("sqrt", [this], {}) as Tensor<S, D>;
  }

  /**
   * `this^exponent`, as `torch.pow`, with C's special cases (NaN stays NaN; `0^−1` is ∞; a
   * negative base is NaN for a fractional exponent). The exponent is a number, or an f32 tensor
   * that broadcasts with this one (then its gradient is `y · log x`, 0 where `x = 0`). An i32
   * tensor to a non-negative integer power stays i32 (wrapping), to a fraction is f32, and to a
   * negative integer is an error, as PyTorch's.
   */
  pow(exponent: number): Tensor<S, D>;
  /** `this^exponent` elementwise for a tensor of exponents, broadcast. */
  pow(exponent: Tensor<Shape, DType>): Tensor<Shape, "f32">;
  pow(exponent: number | Tensor<Shape, DType>): Tensor<S, D> | Tensor<Shape, "f32"> {
    return powerOf(this, exponent) as Tensor<S, D> | Tensor<Shape, "f32">;
  }

  /** `max(this, 0)`. */
  relu(): Tensor<S, D> {
    return apply("relu", [this], {}) as Tensor<S, D>;
  }

  /** Hyperbolic tangent. */
  tanh(): Tensor<S, D> {
    return apply("tanh", [this], {}) as Tensor<S, D>;
  }

  /** Logistic sigmoid. */
  sigmoid(): Tensor<S, D> {
    return apply("sigmoid", [this], {}) as Tensor<S, D>;
  }

  /** The error function, within about an ulp of f32 (`torch.erf`; see `kernels/_erf.ts`). */
  erf(): Tensor<S, D> {
    return apply("activation", [this], { fn: "erf", params: [] }) as Tensor<S, D>;
  }

  /** The inverse error function (`torch.erfinv`): ±∞ at ±1, NaN outside [−1, 1]. */
  erfinv(): Tensor<S, D> {
    return apply("activation", [this], { fn: "erfinv", params: [] }) as Tensor<S, D>;
  }

  /** The sine, as `torch.sin`; the gradient is `cos x`. */
  sin(): Tensor<S, D> {
    return apply("math", [this], { fn: "sin" }) as Tensor<S, D>;
  }

  /** The cosine, as `torch.cos`; the gradient is `−sin x`. */
  cos(): Tensor<S, D> {
    return apply("math", [this], { fn: "cos" }) as Tensor<S, D>;
  }

  /** The tangent, as `torch.tan`; the gradient is `1 + tan² x`. */
  tan(): Tensor<S, D> {
    return apply("math", [this], { fn: "tan" }) as Tensor<S, D>;
  }

  /** The arcsine, as `torch.asin` (NaN outside [−1, 1]); the gradient is `1/√(1 − x²)`. */
  asin(): Tensor<S, D> {
    return apply("math", [this], { fn: "asin" }) as Tensor<S, D>;
  }

  /** The arccosine, as `torch.acos` (NaN outside [−1, 1]); the gradient is `−1/√(1 − x²)`. */
  acos(): Tensor<S, D> {
    return apply("math", [this], { fn: "acos" }) as Tensor<S, D>;
  }

  /** The arctangent, as `torch.atan`; the gradient is `1/(1 + x²)`. */
  atan(): Tensor<S, D> {
    return apply("math", [this], { fn: "atan" }) as Tensor<S, D>;
  }

  /** The hyperbolic sine, as `torch.sinh`; the gradient is `cosh x`. */
  sinh(): Tensor<S, D> {
    return apply("math", [this], { fn: "sinh" }) as Tensor<S, D>;
  }

  /** The hyperbolic cosine, as `torch.cosh`; the gradient is `sinh x`. */
  cosh(): Tensor<S, D> {
    return apply("math", [this], { fn: "cosh" }) as Tensor<S, D>;
  }

  /** `1/√x`, as `torch.rsqrt`; the gradient is `−½·x^(−3/2)`. */
  rsqrt(): Tensor<S, D> {
    return apply("math", [this], { fn: "rsqrt" }) as Tensor<S, D>;
  }

  /** `1/x`, as `torch.reciprocal`; the gradient is `−1/x²`. */
  reciprocal(): Tensor<S, D> {
    return apply("math", [this], { fn: "reciprocal" }) as Tensor<S, D>;
  }

  /** `x²`, as `torch.square`; the gradient is `2x`. */
  square(): Tensor<S, D> {
    return apply("math", [this], { fn: "square" }) as Tensor<S, D>;
  }

  /** `2^x`, as `torch.exp2`; the gradient is `2^x·ln 2`. */
  exp2(): Tensor<S, D> {
    return apply("math", [this], { fn: "exp2" }) as Tensor<S, D>;
  }

  /** The base-2 logarithm, as `torch.log2`; the gradient is `1/(x·ln 2)`. */
  log2(): Tensor<S, D> {
    return apply("math", [this], { fn: "log2" }) as Tensor<S, D>;
  }

  /** The base-10 logarithm, as `torch.log10`; the gradient is `1/(x·ln 10)`. */
  log10(): Tensor<S, D> {
    return apply("math", [this], { fn: "log10" }) as Tensor<S, D>;
  }

  /** `eˣ − 1`, as `torch.expm1`, accurate near 0 (where `exp(x) − 1` cancels); the gradient is `eˣ`. */
  expm1(): Tensor<S, D> {
    return apply("math", [this], { fn: "expm1" }) as Tensor<S, D>;
  }

  /** The fractional part `x − trunc(x)`, as `torch.frac` (the sign of x); the gradient passes. */
  frac(): Tensor<S, D> {
    return apply("math", [this], { fn: "frac" }) as Tensor<S, D>;
  }

  /** −1, 0 or 1 by the sign, as `torch.sign` (0 for ±0 and NaN); the gradient is 0. */
  sign(): Tensor<S, D> {
    if (this.dtype === "i32") return wrap(unary(rawOfTensor(this), "sign")) as Tensor<S, D>;
    return apply("math", [this], { fn: "sign" }) as Tensor<S, D>;
  }

  /** Rounded down, as `torch.floor`; the gradient is 0. */
  floor(): Tensor<S, D> {
    return apply("math", [this], { fn: "floor" }) as Tensor<S, D>;
  }

  /** Rounded up, as `torch.ceil`; the gradient is 0. */
  ceil(): Tensor<S, D> {
    return apply("math", [this], { fn: "ceil" }) as Tensor<S, D>;
  }

  /** Rounded to the nearest integer, halves to even, as `torch.round`; the gradient is 0. */
  round(): Tensor<S, D> {
    return apply("math", [this], { fn: "round" }) as Tensor<S, D>;
  }

  /** Rounded toward zero, as `torch.trunc`; the gradient is 0. */
  trunc(): Tensor<S, D> {
    return apply("math", [this], { fn: "trunc" }) as Tensor<S, D>;
  }

  /** `|this|`; the gradient is `sign(x)`, 0 at 0 (as PyTorch). */
  abs(): Tensor<S, D> {
    return apply("abs", [this], {}) as Tensor<S, D>;
  }

  /**
   * Each element limited to `[min, max]` (either bound may be omitted, not both), as
   * `torch.clamp`: all `max` where `min > max`, NaN kept. The gradient passes where
   * `min ≤ x ≤ max`, the bounds included, and is 0 outside. An i32 tensor takes integer bounds.
   * A bound may be a tensor (broadcast with this one), which then gets the gradient where it
   * binds: `min` where `x < min ≤ max`, `max` where `x > max` or `max < min`.
   */
  clamp(min?: number | null, max?: number | null): Tensor<S, D>;
  /** {@link Tensor.clamp} with a tensor bound (or two): the result has the broadcast shape. */
  clamp(
    min?: number | Tensor<Shape, D> | null,
    max?: number | Tensor<Shape, D> | null,
  ): Tensor<Shape, D>;
  clamp(
    min?: number | Tensor<Shape, D> | null,
    max?: number | Tensor<Shape, D> | null,
  ): Tensor<Shape, D> {
    return clamped(this, min, max) as Tensor<Shape, D>;
  }

  /**
   * The elementwise maximum with broadcasting, NaN where either is NaN (`torch.maximum`). The
   * gradient goes to the larger; on a tie each side gets half, as PyTorch. Two f32 tensors or
   * two i32.
   */
  maximum<O extends Shape>(
    other: Tensor<O, D> & Check<Broadcastable<S, O>, "maximum: shapes do not broadcast">,
  ): Tensor<Broadcast<S, O>, D> {
    sameDtype("maximum", this, other);
    return apply("maximum", [this, other], {}) as Tensor<Broadcast<S, O>, D>;
  }

  /** The elementwise minimum with broadcasting; see {@link Tensor.maximum}. */
  minimum<O extends Shape>(
    other: Tensor<O, D> & Check<Broadcastable<S, O>, "minimum: shapes do not broadcast">,
  ): Tensor<Broadcast<S, O>, D> {
    sameDtype("minimum", this, other);
    return apply("minimum", [this, other], {}) as Tensor<Broadcast<S, O>, D>;
  }

  // Comparisons ------------------------------------------------------------------------------
  // PyTorch returns bool tensors; with no bool dtype, these return f32 1 and 0 (PyTorch's
  // `(a == b).float()`), which `where`, `mul`, `sum` and `mean` take as they are. No gradient.

  /**
   * `this == other` elementwise with broadcasting, as f32 1 or 0; `other` may be a number.
   * NaN equals nothing. Two i32 tensors compare as integers; an i32 tensor against an f32 one
   * or a number compares as f32 (exact up to 2²⁴), as PyTorch promotes it.
   */
  eq<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "eq: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("eq", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /** `this != other` as f32 1 or 0 (1 where either is NaN); see {@link Tensor.eq}. */
  ne<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "ne: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("ne", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /** `this < other` as f32 1 or 0 (0 where either is NaN); see {@link Tensor.eq}. */
  lt<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "lt: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("lt", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /** `this <= other` as f32 1 or 0 (0 where either is NaN); see {@link Tensor.eq}. */
  le<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "le: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("le", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /** `this > other` as f32 1 or 0 (0 where either is NaN); see {@link Tensor.eq}. */
  gt<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "gt: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("gt", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /** `this >= other` as f32 1 or 0 (0 where either is NaN); see {@link Tensor.eq}. */
  ge<O extends Shape = []>(
    other: (Tensor<O> & Check<Broadcastable<S, O>, "ge: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, "f32"> {
    return compared("ge", this, other) as AnyTensor as Tensor<Broadcast<S, O>, "f32">;
  }

  /**
   * This tensor where `condition` is nonzero, `other` elsewhere (PyTorch's `x.where(c, y)`, that
   * is `where(c, x, y)`), broadcast together.
   */
  where<C extends Shape, O extends Shape = []>(
    condition: Tensor<C>,
    other: Tensor<O, D> | number,
  ): Tensor<Shape, D> {
    return selected(condition, this, other) as Tensor<Shape, D>;
  }

  /**
   * The values as f32 (PyTorch's `.float()`): i32 rounded to the nearest f32; an f32 tensor is
   * returned itself, as PyTorch does.
   */
  float(): Tensor<S, "f32"> {
    if (this.dtype === "f32") return this as unknown as Tensor<S, "f32">;
    return wrap(cast(rawOfTensor(this), "f32")) as Tensor<S, "f32">;
  }

  /**
   * The values as i32 (PyTorch's `.int()`): f32 rounded toward zero (out of range or NaN: not
   * defined, as in PyTorch); an i32 tensor is returned itself. No gradient flows through.
   */
  int(): Tensor<S, "i32"> {
    if (this.dtype === "i32") return this as unknown as Tensor<S, "i32">;
    return wrap(cast(rawOfTensor(this), "i32")) as Tensor<S, "i32">;
  }

  // Reductions -------------------------------------------------------------------------------

  /**
   * Sum over `axes` (all when omitted). An i32 tensor sums to i32 (PyTorch gives int64), which
   * wraps around past 2³¹ − 1: convert with `.float()` first where a sum may overflow. An empty
   * list of axes reduces none, as NumPy's `axis=()`, here and in every reduction: PyTorch's
   * `dim=()` reduces all, a quirk it keeps only for compatibility (pytorch/pytorch#29137).
   */
  sum(axes?: Axes, keepdim = false): Tensor<Shape, SumType<D>> {
    requireBoolean("sum", "keepdim", keepdim);
    const params = { axes: reductionAxes(axes, this.rank, "sum"), keepdim };
    return apply("sum", [this], params) as Tensor<Shape, SumType<D>>;
  }

  /** Mean over `axes` (all when omitted), of an f32 tensor (as PyTorch, which refuses integers). */
  mean(axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    requireFloat("mean", this);
    requireBoolean("mean", "keepdim", keepdim);
    const list = reductionAxes(axes, this.rank, "mean");
    const total = (this as Tensor<Shape, "f32">).sum(list, keepdim);
    const out = total.mul(1 / numel(list.map((i) => this.shape[i] as number)));
    total.dispose();
    return out;
  }

  /**
   * Maximum over `axes` (PyTorch's `amax`); the gradient is shared equally among tied maxima.
   * NaN wins, as PyTorch. f32 or i32 (an i32 result).
   */
  max(axes?: Axes, keepdim = false): Tensor<Shape, D> {
    requireBoolean("max", "keepdim", keepdim);
    const params = { axes: extremumAxes(this, axes, "max"), keepdim };
    return apply("max", [this], params) as Tensor<Shape, D>;
  }

  /** Minimum over `axes` (PyTorch's `amin`); see {@link Tensor.max}. */
  min(axes?: Axes, keepdim = false): Tensor<Shape, D> {
    requireBoolean("min", "keepdim", keepdim);
    const params = { axes: extremumAxes(this, axes, "min"), keepdim };
    return apply("min", [this], params) as Tensor<Shape, D>;
  }

  /**
   * The product over `axes` (all when omitted), as `torch.prod`. Its gradient is the product of
   * the other elements, exact where some are zero (as PyTorch's: one zero in a row sends the
   * others' product to it and 0 elsewhere; two or more send 0 everywhere). An i32 tensor's
   * product is i32, wrapping around on overflow (PyTorch gives int64).
   */
  prod(axes?: Axes, keepdim = false): Tensor<Shape, SumType<D>> {
    requireBoolean("prod", "keepdim", keepdim);
    const params = { axes: reductionAxes(axes, this.rank, "prod"), keepdim };
    return apply("prod", [this], params) as Tensor<Shape, SumType<D>>;
  }

  /**
   * The vector `p`-norm over `dims` (all when omitted), as `torch.linalg.vector_norm` and
   * `Tensor.norm`: `(Σ |x|^p)^(1/p)`, the largest magnitude for `p = Infinity`, the smallest
   * for `-Infinity`, the count of nonzeros for 0. The gradient is PyTorch's: 0 where the norm
   * is 0 (so the 2-norm of zeros does not give NaN), shared among tied magnitudes for ±∞.
   */
  norm(p = 2, dims?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    requireFloat("norm", this);
    requireBoolean("norm", "keepdim", keepdim);
    const axes = reductionAxes(dims, this.rank, "norm");
    requireNormOrder(this.shape as readonly number[], p, axes);
    return apply("vectorNorm", [this], { ord: p, axes, keepdim });
  }

  /**
   * The i32 index of the maximum along `axis`, or into the flattened tensor when `axis` is
   * omitted (then `keepdim` keeps every axis as size 1). The first index on ties; a NaN counts
   * as the maximum (its first index), as PyTorch. f32 or i32; no gradient.
   */
  argmax(axis?: number, keepdim = false): Tensor<Shape, "i32"> {
    return indexOfExtremum(this, "argmax", axis, keepdim) as Tensor<Shape, "i32">;
  }

  /** The i32 index of the minimum along `axis`; see {@link Tensor.argmax} (a NaN counts too). */
  argmin(axis?: number, keepdim = false): Tensor<Shape, "i32"> {
    return indexOfExtremum(this, "argmin", axis, keepdim) as Tensor<Shape, "i32">;
  }

  /**
   * The maximum along `dim` and its i32 index, as `torch.max(x, dim)`: the first index on ties,
   * a NaN the maximum (its first index); `keepdim` keeps the axis as size 1. The gradient goes
   * to the one element the index names (where `max(dim)`, PyTorch's `amax`, shares it among
   * ties).
   */
  maxWithIndices(dim: number, keepdim = false): ValuesAndIndices<Shape, D> {
    return extremumWithIndex(this, "argmax", dim, keepdim) as ValuesAndIndices<Shape, D>;
  }

  /** The minimum along `dim` and its i32 index, as `torch.min(x, dim)`; see {@link Tensor.maxWithIndices}. */
  minWithIndices(dim: number, keepdim = false): ValuesAndIndices<Shape, D> {
    return extremumWithIndex(this, "argmin", dim, keepdim) as ValuesAndIndices<Shape, D>;
  }

  /**
   * The i32 order along `dim` (default last), as `torch.argsort`: at each position, the index of
   * the element that sorts there, ascending unless `descending`, NaN the largest. Always stable
   * (equal elements keep their order), so `stable` changes nothing. No gradient.
   */
  argsort(options: SortOptions = {}): Tensor<S, "i32"> {
    return sortOrder(this, options) as Tensor<S, "i32">;
  }

  /**
   * The elements sorted along `dim` (default last) and the i32 indices they came from, as
   * `torch.sort`; see {@link Tensor.argsort} for the order. The gradient goes back to where each
   * element came from.
   */
  sort(options: SortOptions = {}): ValuesAndIndices<S, D> {
    checkOptions("sort", options, SORT_OPTIONS);
    const indices = this.argsort(options);
    const dim = options.dim ?? -1;
    return { values: this.gather(dim, indices) as Tensor<S, D>, indices };
  }

  /**
   * The `k` largest elements along `dim` (default last; the smallest when `largest` is false)
   * and their i32 indices, as `torch.topk`: in order, largest first (`sorted` is accepted for
   * PyTorch's signature; the result is always sorted), NaN the largest, ties in index order.
   * The gradient goes back to where each came from.
   */
  topk(k: number, options: TopkOptions = {}): ValuesAndIndices<Shape, D> {
    return topkOf(this, k, options) as ValuesAndIndices<Shape, D>;
  }

  /**
   * The `k`-th smallest element along `dim` (default last) and its i32 index, as
   * `torch.kthvalue` (`k` from 1; NaN the largest; of equal values the first in order).
   */
  kthvalue(k: number, dim = -1, keepdim = false): ValuesAndIndices<Shape, D> {
    return kthvalueOf(this, k, dim, keepdim) as ValuesAndIndices<Shape, D>;
  }

  /**
   * The lower median along `dim` and its i32 index, as `torch.median(x, dim)`: of an even count
   * the smaller of the two middle values. A row with a NaN has a NaN median, as PyTorch's, at
   * the index of its first NaN. Without `dim`, the median of all elements (0-d, no index).
   */
  median(dim: number, keepdim?: boolean): ValuesAndIndices<Shape, D>;
  /** The lower median of all elements, as `torch.median(x)`. */
  median(): Tensor<[], D>;
  median(dim?: number, keepdim = false): ValuesAndIndices<Shape, D> | Tensor<[], D> {
    return medianOf(this, dim, keepdim) as ValuesAndIndices<Shape, D> | Tensor<[], D>;
  }

  /**
   * The variance over `axes` (all when omitted), `Σ (x − mean)² / max(0, N − correction)` with
   * `correction` 1 by default (Bessel's, as `torch.var`; 0 for the population variance). Two
   * passes over the centred values, so a large mean costs no precision.
   */
  var(axes?: Axes, options: VarianceOptions = {}): Tensor<Shape, "f32"> {
    return varianceOf(this, axes, options) as Tensor<Shape, "f32">;
  }

  /**
   * The standard deviation over `axes`: the square root of {@link Tensor.var}. Where it is 0
   * (constant values) its gradient is 0, as PyTorch's backward masks `1 / (2 · std)` there
   * rather than give 0 · ∞ = NaN.
   */
  std(axes?: Axes, options: VarianceOptions = {}): Tensor<Shape, "f32"> {
    return standardDeviationOf(this, axes, options) as Tensor<Shape, "f32">;
  }

  /**
   * `log Σ exp(x)` over `axes` (all when omitted), computed stably: the maximum is subtracted
   * first (taken as 0 where infinite, so a row of −∞ gives −∞, as PyTorch). Its gradient is
   * the softmax.
   */
  logsumexp(axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    return logsumexpOf(this, axes, keepdim) as Tensor<Shape, "f32">;
  }

  /** Softmax along `axis` (default last). */
  softmax(axis = -1): Tensor<S, "f32"> {
    return softmaxOf(this, axis) as Tensor<S, "f32">;
  }

  /** Log-softmax along `axis` (default last): `z − log Σ exp z` with `z = x − max x`. */
  logSoftmax(axis = -1): Tensor<S, "f32"> {
    return logSoftmaxOf(this, axis) as Tensor<S, "f32">;
  }

  // Linear algebra ---------------------------------------------------------------------------

  /**
   * The matrix product with `torch.matmul`'s rules: `[M, K] × [K, N]`; a 1-D left operand is a
   * row and a 1-D right one a column, their axes removed from the result (1-D × 1-D is the dot
   * product, a 0-d tensor); operands of rank ≥ 3 are stacks of matrices whose batch axes (all
   * but the last two) broadcast, so `[2, 1, 3, 4, 5] × [7, 1, 5, 6]` is `[2, 7, 3, 4, 6]`. A
   * transposed operand (`w.T()`) is read in place; the gradient of a broadcast operand is
   * summed over the axes it was broadcast along.
   */
  matmul<O extends Shape>(
    this: Tensor<S, "f32">,
    other:
      & Tensor<O, "f32">
      & Check<MatmulInnerAgree<S, O>, "matmul: inner dimensions differ">
      & Check<MatmulBatchesAgree<S, O>, "matmul: batch axes do not broadcast">,
  ): Tensor<MatmulShape<S, O>, "f32"> {
    return matrixProduct(this, other) as Tensor<MatmulShape<S, O>, "f32">;
  }

  /** Batched matrix product `[B, M, K]` × `[B, K, N]` (a batch size of 1 broadcasts). */
  bmm<B extends Dim, M extends Dim, K extends Dim, K2 extends Dim, N extends Dim>(
    this: Tensor<readonly [B, M, K], "f32">,
    other:
      & Tensor<readonly [Dim, K2, N], "f32">
      & Check<DimsAgree<K, K2>, "bmm: inner dimensions differ">,
  ): Tensor<[B, M, N], "f32"> {
    return apply("matmul", [this, other], {}) as Tensor<[B, M, N], "f32">;
  }

  /** The transpose of a matrix, as a view (no copy). */
  T<A extends Dim, B extends Dim>(this: Tensor<readonly [A, B], D>): Tensor<[B, A], D> {
    return this.transpose(0, 1) as Tensor<[B, A], D>;
  }

  // Shape ------------------------------------------------------------------------------------

  /** The same elements in a new shape (one dimension may be −1). Copies only if not contiguous. */
  reshape<const R extends readonly number[]>(shape: R): Tensor<R, D> {
    const resolved = resolveShape(this.shape as readonly number[], shape);
    return apply("reshape", [this], { shape: resolved }) as Tensor<R, D>;
  }

  /**
   * Without the size-1 axes among `axes` (every size-1 axis when omitted), as a view; an axis
   * of another size stays, as PyTorch's `squeeze` leaves it.
   */
  squeeze(axes?: number | readonly number[]): Tensor<Shape, D> {
    const shape = squeezedShape(this.shape as readonly number[], axes);
    return apply("reshape", [this], { shape }) as Tensor<Shape, D>;
  }

  /** With a size-1 axis inserted at `axis` (in `[−rank − 1, rank]`), as a view. */
  unsqueeze(axis: number): Tensor<Shape, D> {
    const shape = unsqueezedShape(this.shape as readonly number[], axis);
    return apply("reshape", [this], { shape }) as Tensor<Shape, D>;
  }

  /**
   * Axes `startDim` to `endDim` (default: all) merged into one, as `torch.flatten`: a view when
   * the layout allows (a copy otherwise); a 0-d tensor becomes `[1]`.
   */
  flatten(startDim = 0, endDim = -1): Tensor<Shape, D> {
    const shape = flattenedShape(this.shape as readonly number[], startDim, endDim);
    return apply("reshape", [this], { shape }) as Tensor<Shape, D>;
  }

  /**
   * This tensor broadcast to `sizes`, as a view with no copy (PyTorch's `expand`): `sizes` has
   * at least the rank, new axes lead, −1 keeps an axis, and only size-1 axes grow. The
   * gradient is summed over the broadcast axes.
   */
  expand(sizes: readonly number[]): Tensor<Shape, D> {
    const shape = expandedShape(this.shape as readonly number[], sizes);
    return apply("expand", [this], { shape }) as Tensor<Shape, D>;
  }

  /** Swaps two axes, as a view. */
  transpose(axis0: number, axis1: number): Tensor<Shape, D> {
    return this.permute(swappedAxes(this.rank, axis0, axis1));
  }

  /** Reorders axes, as a view. */
  permute(order: readonly number[]): Tensor<Shape, D> {
    const axes = resolvePermutation(order, this.rank);
    return apply("permute", [this], { order: axes }) as Tensor<Shape, D>;
  }

  /** A contiguous copy of a view (or this tensor itself, if already contiguous). */
  contiguous(): Tensor<S, D> {
    return this.isContiguous ? this : apply("contiguous", [this], {}) as Tensor<S, D>;
  }

  /**
   * Every `step`-th element of `[start, end)` along `axis`, copied, as Python's
   * `x[start:end:step]`: negative indices count from the end, bounds past either end are
   * clamped, and `end ≤ start` is empty; the step is positive, as PyTorch's.
   */
  slice(axis: number, start: number, end: number, step = 1): Tensor<Shape, D> {
    const bounds = resolveSlice(this.shape as readonly number[], axis, start, end, step);
    return apply("slice", [this], bounds) as Tensor<Shape, D>;
  }

  /** The running sum along `dim`, as `torch.cumsum`; an i32 tensor gives i32 (wrapping on overflow). */
  cumsum(dim: number): Tensor<S, D> {
    const axis = normalizeAxis(dim, Math.max(this.rank, 1), "cumsum");
    return apply("cumulative", [this], { dim: axis, op: "sum" }) as Tensor<S, D>;
  }

  /**
   * The running product along `dim`, as `torch.cumprod`; its gradient is PyTorch's, exact
   * where the input has zeros (no division by one).
   */
  cumprod(dim: number): Tensor<S, D> {
    const axis = normalizeAxis(dim, Math.max(this.rank, 1), "cumprod");
    return apply("cumulative", [this], { dim: axis, op: "prod" }) as Tensor<S, D>;
  }

  /**
   * The running `log Σ exp` along `dim`, as `torch.logcumsumexp`: computed pairwise as
   * `max + log1p(e^−|a−b|)`, so it never overflows; the gradient is a running softmax from the
   * end, in the log domain.
   */
  logcumsumexp(dim: number): Tensor<S, "f32"> {
    requireFloat("logcumsumexp", this);
    const axis = normalizeAxis(dim, Math.max(this.rank, 1), "logcumsumexp");
    return apply("cumulative", [this], { dim: axis, op: "logaddexp" }) as Tensor<S, "f32">;
  }

  /**
   * The running maximum along `dim` and the i32 index where it was found, as `torch.cummax`:
   * the later index on ties, a NaN the maximum from where it stands. The gradient goes to the
   * element each value came from.
   */
  cummax(dim: number): ValuesAndIndices<S, D> {
    return runningExtremum(this, dim, "max") as ValuesAndIndices<S, D>;
  }

  /** The running minimum along `dim` and its i32 index, as `torch.cummin`; see {@link Tensor.cummax}. */
  cummin(dim: number): ValuesAndIndices<S, D> {
    return runningExtremum(this, dim, "min") as ValuesAndIndices<S, D>;
  }

  /** The elements in reverse order along `dims` (an axis or several), copied, as `torch.flip`. */
  flip(dims: number | readonly number[]): Tensor<S, D> {
    const flip = flippedAxes(this.rank, dims);
    return apply("flipRoll", [this], { flip, shift: flip.map(() => 0) }) as Tensor<S, D>;
  }

  /**
   * The elements shifted by `shifts` along `dims`, those past the end coming back at the start,
   * as `torch.roll`; without `dims`, the flattened tensor is rolled and the shape kept.
   */
  roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor<S, D> {
    if (dims === undefined) {
      return tidy(() => this.flatten().roll(shifts, 0).reshape(this.shape)) as Tensor<S, D>;
    }
    const shift = rollShifts(this.shape as readonly number[], shifts, dims);
    return apply("flipRoll", [this], { flip: shift.map(() => false), shift }) as Tensor<S, D>;
  }

  /**
   * This tensor repeated `sizes[a]` times along each axis, as `torch.Tensor.repeat`: `sizes`
   * has at least the rank, extra sizes adding leading axes. The gradient sums the copies.
   */
  repeat(sizes: readonly number[]): Tensor<Shape, D> {
    const plan = repeatPlan("repeat", this.shape as readonly number[], sizes);
    return tidy(() => this.reshape(plan.unit).expand(plan.spread).reshape(plan.shape));
  }

  /**
   * This tensor repeated `dims[a]` times along each axis, as `torch.tile`: fewer `dims` than
   * axes repeat the last axes (the rest once), more add leading axes.
   */
  tile(dims: readonly number[]): Tensor<Shape, D> {
    requireList("tile", "the repeats", dims);
    const ones = Array<number>(Math.max(0, this.rank - dims.length)).fill(1);
    return this.repeat([...ones, ...dims]);
  }

  /**
   * The lower triangle of the last two axes, as `torch.tril`: elements with column − row ≤
   * `diagonal` kept (0: the main diagonal and below), the rest 0.
   */
  tril(diagonal = 0): Tensor<S, D> {
    requireMatrix("tril", this.shape as readonly number[], diagonal);
    return apply("triangle", [this], { upper: false, diagonal }) as Tensor<S, D>;
  }

  /**
   * The upper triangle of the last two axes, as `torch.triu`: elements with column − row ≥
   * `diagonal` kept, the rest 0.
   */
  triu(diagonal = 0): Tensor<S, D> {
    requireMatrix("triu", this.shape as readonly number[], diagonal);
    return apply("triangle", [this], { upper: true, diagonal }) as Tensor<S, D>;
  }

  /**
   * The diagonal between axes `dim1` and `dim2` (default the first two), `offset` above the
   * main one (below where negative), as a view, as `torch.diagonal`: the two axes removed and
   * the diagonal's axis appended. The gradient is written onto the diagonal.
   */
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor<Shape, D> {
    const [a, b] = [dim1, dim2].map((d) => normalizeAxes(d, this.rank, "diagonal")[0]);
    if (a === b || !Number.isInteger(offset)) {
      throw new ShapeError(
        `diagonal: dims ${dim1} and ${dim2} must differ and the offset ${offset} be an integer`,
      );
    }
    return apply("diagonal", [this], { offset, dim1: a, dim2: b }) as Tensor<Shape, D>;
  }

  /** The sum of a matrix's main diagonal, as `torch.trace`. */
  trace(): Tensor<[], SumType<D>> {
    if (this.rank !== 2) {
      throw new ShapeError(`trace: expected a matrix, got shape [${this.shape}]`);
    }
    return tidy(() => this.diagonal().sum()) as Tensor<[], SumType<D>>;
  }

  // Indexing ---------------------------------------------------------------------------------
  // The index is i32, its values checked on the device: one outside the axis is reported at the
  // next read from it (a `DeviceAssertionError` naming the op, the index and the size).

  /**
   * The elements picked along `dim` by an i32 index of this tensor's rank, as `torch.gather`:
   * `out[i][j] = x[index[i][j]][j]` for `dim` 0, `x[i][index[i][j]]` for `dim` 1. The result
   * has the index's shape, which may be larger along `dim` and no larger along the other axes.
   * The gradient is added into the positions read (twice where read twice).
   */
  gather<I extends Shape>(dim: number, index: Tensor<I, "i32">): Tensor<I, D> {
    const axis = gatherAxis("gather", this, dim, index);
    return apply("gather", [this, index], { dim: axis }) as Tensor<I, D>;
  }

  /**
   * A copy of this tensor with `src`'s elements written where an i32 index sends them along
   * `dim`, as `torch.scatter`: `out[index[i][j]][j] = src[i][j]` for `dim` 0. `src` (or a
   * number, written everywhere the index points) covers the index, of this tensor's rank and no
   * larger than it along the other axes. Of duplicated indices the last along `dim` wins
   * (PyTorch leaves it undefined). The gradient of `src` is gathered from the positions
   * written; what was written over gets none.
   */
  scatter(dim: number, index: Tensor<Shape, "i32">, src: Tensor<Shape, D> | number): Tensor<S, D> {
    return scattered("scatter", this, dim, index, src, "assign") as Tensor<S, D>;
  }

  /**
   * A copy of this tensor with `src`'s elements added where an i32 index sends them along
   * `dim`, as `torch.scatter_add`: `out[index[i][j]][j] += src[i][j]` for `dim` 0, every
   * duplicate adding, in order along `dim` (the same sum on every run). The gradient passes to
   * this tensor whole and is gathered for `src`.
   */
  scatterAdd(dim: number, index: Tensor<Shape, "i32">, src: Tensor<Shape, D>): Tensor<S, D> {
    return scattered("scatterAdd", this, dim, index, src, "add") as Tensor<S, D>;
  }

  /**
   * A copy of this tensor with the slices of `source` added at the positions of a 1-D i32
   * index along `dim`, times `alpha`, as `torch.index_add`: `source` has this tensor's shape
   * but the index's length along `dim`; duplicates all add, in order (the same sum every run).
   */
  indexAdd(
    dim: number,
    index: Tensor<Shape, "i32">,
    source: Tensor<Shape, D>,
    alpha = 1,
  ): Tensor<S, D> {
    return indexAdded(this, dim, index, source, alpha) as Tensor<S, D>;
  }

  /**
   * A copy of this tensor with `value` where `mask` is nonzero, as `torch.masked_fill`: the mask
   * (f32 1/0 from a comparison, or i32) broadcasts to this tensor's shape. No gradient flows to
   * the filled elements.
   */
  maskedFill(mask: Tensor, value: number): Tensor<S, D> {
    return maskedFilled(this, mask, value) as Tensor<S, D>;
  }

  /**
   * A copy of this tensor with `src`'s elements reduced into the positions an i32 index sends
   * them to along `dim`, as `torch.scatter_reduce`: `"sum"`, `"prod"`, `"mean"` (f32), `"amax"`
   * or `"amin"` (a NaN wins), over the entries that reach each element and, unless
   * `includeSelf` is false, its own value (elements no entry reaches keep theirs). In order
   * along `dim`, the same result on every run. The gradients are PyTorch's: the mean's divided
   * by the count, the extrema's shared among the values equal to the result, the product's the
   * product of the other factors (exact with zeros).
   */
  scatterReduce(
    dim: number,
    index: Tensor<Shape, "i32">,
    src: Tensor<Shape, D>,
    reduce: ScatterReduction,
    options: { includeSelf?: boolean } = {},
  ): Tensor<S, D> {
    return scatterReduced(this, dim, index, src, reduce, options) as Tensor<S, D>;
  }

  /**
   * The slices at the positions of a 1-D i32 index along `dim`, as `torch.index_select`: this
   * tensor's shape with the index's length along `dim`. The gradient is added into the slices
   * read (index-add).
   */
  indexSelect(dim: number, index: Tensor<Shape, "i32">): Tensor<Shape, D> {
    const plan = indexSelectPlan(this, dim, index);
    return tidy(() => {
      const wide = plan.indexShape.map((d, a) => (a === plan.axis ? d : plan.shape[a] ?? 1));
      const spread = index.reshape(plan.indexShape).expand(wide) as Tensor<Shape, "i32">;
      return this.gather(plan.axis, spread).reshape(plan.shape);
    }) as Tensor<Shape, D>;
  }
}

/**
 * A graph recorded but never back-propagated (say, an evaluation run without `noGrad`) would
 * hold its saved tensors forever; once the tensor that owns a node is garbage, its saved
 * tensors are released. Use `noGrad` to avoid recording in the first place.
 */
const unreleasedGraphs = new FinalizationRegistry<GradNode<AnyTensor>>((node) => node.release());

/** Whether an op on `inputs` records the graph now. */
export function isRecording(inputs: readonly AnyTensor[]): boolean {
  return ops.isRecording(inputs);
}

/**
 * Applies op `op` to `inputs`: runs its forward rule on their data, wraps the result, and
 * records the backward when any input requires a gradient. Internal to the tensor layer.
 */
export function apply<K extends Exclude<Op, AsyncOp>>(
  op: K,
  inputs: readonly AnyTensor[],
  params: OpParams[K],
): Tensor<Shape, "f32"> {
  return ops.apply(op, inputs, params) as Tensor<Shape, "f32">;
}

/** {@link apply} for the ops whose forward waits for the host. */
export async function applyAsync<K extends AsyncOp>(
  op: K,
  inputs: readonly AnyTensor[],
  params: OpParams[K],
): Promise<AnyTensor> {
  return await ops.applyAsync(op, inputs, params);
}

/**
 * `x`, checked to be a tensor: the first argument of a functional op (`abs(x)` is `x.abs()`),
 * which a caller without types may give as a number, an array or nothing; named there rather
 * than as "x.abs is not a function".
 */
export function tensorArgument<T>(op: string, x: T): T {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${op}: expected a Tensor, got ${describeValue(x)}`);
  }
  return x;
}

/** The raw data of a tensor, for the tensor layer's fused ops (throws once disposed). */
export function rawOf(t: AnyTensor): RawTensor {
  return rawOfTensor(t);
}

/** `where(condition, a, b)`, a number branch taking the other's dtype (f32 when both are). */
export function selected(
  condition: AnyTensor,
  a: AnyTensor | number,
  b: AnyTensor | number,
): AnyTensor {
  return selectedHandle(condition, a, b) as AnyTensor;
}

/** A tensor that owns `raw` (for the tensor layer's creation functions and fused ops). */
export function fromRaw<S extends Shape = Shape, D extends DType = DType>(
  raw: RawTensor,
  requiresGrad = false,
): Tensor<S, D> {
  return wrap(raw, requiresGrad) as Tensor<S, D>;
}

/** The op whose recorded node made `t`, or null for a leaf or an unrecorded result. */
export function recordedOp(t: AnyTensor): string | null {
  return graph.node(t)?.op ?? null;
}

/**
 * The dtype of a sum or a product of a `D` tensor: i32 for an i32 tensor, f32 otherwise (a
 * tensor whose dtype the types do not know is taken as f32, the common case).
 */
export type SumType<D extends DType> = [D] extends ["i32"] ? "i32" : "f32";

/** Values and their i32 indices along an axis (PyTorch's `(values, indices)` named tuple). */
export interface ValuesAndIndices<S extends Shape, D extends DType> {
  /** The values chosen. */
  values: Tensor<S, D>;
  /** Where along the axis each value came from. */
  indices: Tensor<S, "i32">;
}

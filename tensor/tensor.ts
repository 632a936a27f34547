/**
 * The typed tensor. `Tensor<S, D>` carries its shape type `S` (a tuple of literal sizes, names
 * such as `"batch"`, or `number`) and its dtype `D`; ops compute result shapes in their types,
 * so `[M, K]` times `[K2, N]` with literal `K ≠ K2` does not compile. Run-time checks cover the
 * rest (actual sizes, devices, dtypes) with messages that name the op and the shapes.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { freedGraphMessage, type GradNode, isGradEnabled, runBackward } from "./_autograd.ts";
import { keep, type ScopedResource, type Storage, track } from "./memory.ts";
import {
  type Broadcast,
  type Broadcastable,
  type Check,
  contiguousStrides,
  type Dim,
  type DimsAgree,
  type DType,
  numel,
  type Shape,
  ShapeError,
  type ShapeValue,
  type TupleOf,
} from "./shape.ts";
import * as elementwise from "./ops_elementwise.ts";
import * as reduce from "./ops_reduce.ts";
import * as shapeOps from "./ops_shape.ts";
import { matmul } from "./ops_matmul.ts";
import { logSoftmax, softmax } from "./ops_loss.ts";
import { copyToDevice } from "./transfer.ts";

/** Axes given to a reduction or softmax: one axis, several, or all when omitted. */
export type Axes = number | readonly number[];

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
  /** Element strides of each axis (a view may be non-contiguous). */
  readonly strides: readonly number[];
  /** Element offset of the first element in the storage. */
  readonly offset: number;
  /** Whether backward computes a gradient for this tensor. */
  requiresGrad: boolean;
  /** The accumulated gradient of a leaf, after `backward()`. */
  grad: Tensor<S, D> | null = null;

  #storage: Storage;
  #node: GradNode | null = null;
  #graphFreed = false;
  #disposed = false;

  /** Wraps a storage; used by ops. Prefer the creation functions. */
  constructor(
    storage: Storage,
    shape: readonly number[],
    dtype: D,
    options: { strides?: readonly number[]; offset?: number; requiresGrad?: boolean } = {},
  ) {
    this.#storage = storage;
    storage.retain();
    this.shape = Object.freeze([...shape]) as unknown as ShapeValue<S>;
    this.dtype = dtype;
    this.strides = Object.freeze([...(options.strides ?? contiguousStrides(shape))]);
    this.offset = options.offset ?? 0;
    this.requiresGrad = options.requiresGrad ?? false;
    track(this);
  }

  /** The device holding the data. */
  get device(): Device {
    return this.#storage.device;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape as readonly number[]);
  }

  /** Whether the elements are laid out row-major with no gaps or offset. */
  get isContiguous(): boolean {
    if (this.offset !== 0) return false;
    const expected = contiguousStrides(this.shape as readonly number[]);
    return this.strides.every((s, i) => s === expected[i] || this.shape[i] === 1);
  }

  /** Whether this tensor's handle has been disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** The storage, for ops; throws if the tensor was disposed. */
  get storage(): Storage {
    if (this.#disposed) {
      throw new Error(`a disposed tensor of shape [${this.shape}] was used`);
    }
    return this.#storage;
  }

  /** The graph node that produced this tensor, if it was recorded (internal). */
  get _node(): GradNode | null {
    return this.#node;
  }

  /** Whether an earlier `backward()` ran through and freed the node that made this tensor. */
  get _graphFreed(): boolean {
    return this.#graphFreed;
  }

  /** Internal: set by ops when they record the graph, cleared by backward. */
  _setNode(node: GradNode | null): void {
    if (!node && this.#node) {
      this.#graphFreed = true;
      unreleasedGraphs.unregister(this);
    }
    this.#node = node;
    if (node) {
      this.requiresGrad = true;
      unreleasedGraphs.register(this, node, this);
    }
  }

  /** Internal: adds `g` into `.grad` (kept across scopes, as parameters outlive steps). */
  _accumulateGrad(g: Tensor): void {
    if (!this.grad) {
      this.grad = keep(g) as unknown as Tensor<S, D>;
      return;
    }
    const sum = this.grad.add(g as Tensor<S, D>);
    this.grad.dispose();
    g.dispose();
    this.grad = keep(sum) as unknown as Tensor<S, D>;
  }

  /** A new handle to the same data and layout, with its own reference (internal). */
  alias(): Tensor<S, D> {
    return new Tensor<S, D>(this.storage, this.shape as readonly number[], this.dtype, {
      strides: this.strides,
      offset: this.offset,
    });
  }

  /** Drops this handle's reference to the data. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#storage.drop();
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

  /** A tensor sharing the data but cut from the graph. */
  detach(): Tensor<S, D> {
    return this.alias();
  }

  /** Back-propagates from this tensor: scalars need no argument; others take `grad`. */
  async backward(grad?: Tensor<S, D>): Promise<void> {
    if (!this.requiresGrad) {
      throw new Error("backward: this tensor does not require a gradient (no input needs one)");
    }
    if (!grad && this.size !== 1) {
      throw new ShapeError(
        `backward: the tensor has shape [${this.shape}]; pass a gradient for non-scalar outputs`,
      );
    }
    if (grad) {
      // An upstream gradient of another shape would flow through the graph unchecked and
      // leave gradients of the wrong shapes in the leaves.
      const shape = this.shape as readonly number[];
      if (grad.rank !== shape.length || grad.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeError(
          `backward: the gradient has shape [${grad.shape}], the tensor [${this.shape}]`,
        );
      }
      elementwise.sameDevice("backward", this, grad);
      elementwise.requireFloat("backward", grad);
    }
    if (!this.#node && this.#graphFreed) {
      throw new Error(freedGraphMessage(this));
    }
    if (!this.#node) {
      this._accumulateGrad(grad ? grad.alias() : elementwise.onesLike(this));
      return;
    }
    const seed = grad ?? elementwise.onesLike(this);
    await runBackward(this, seed);
    if (!grad) seed.dispose();
  }

  /** Reads the data back as a flat typed array (waits for the GPU). */
  async data(): Promise<D extends "i32" ? Int32Array : Float32Array> {
    const source = this.isContiguous ? this : shapeOps.contiguous(this);
    const bytes = await this.device.read(source.storage.buffer, 0, this.size * 4);
    if (source !== this) source.dispose();
    return (this.dtype === "i32" ? new Int32Array(bytes) : new Float32Array(bytes)) as D extends
      "i32" ? Int32Array : Float32Array;
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

  /** Copies to another device (through the host; WebGPU devices share no memory). */
  to(device: Device): Promise<Tensor<S, D>> {
    return copyToDevice(this, device);
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
   * defaults to `[]`, which broadcasts to `S`), as for `sub`, `mul` and `div`.
   */
  add<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "add: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return elementwise.add(this, other) as Tensor<Broadcast<S, O>, D>;
  }

  /** `this − other` with broadcasting. */
  sub<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "sub: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return elementwise.sub(this, other) as Tensor<Broadcast<S, O>, D>;
  }

  /** `this · other` elementwise with broadcasting. */
  mul<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "mul: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return elementwise.mul(this, other) as Tensor<Broadcast<S, O>, D>;
  }

  /** `this / other` elementwise with broadcasting. */
  div<O extends Shape = []>(
    other: (Tensor<O, D> & Check<Broadcastable<S, O>, "div: shapes do not broadcast">) | number,
  ): Tensor<Broadcast<S, O>, D> {
    return elementwise.div(this, other) as Tensor<Broadcast<S, O>, D>;
  }

  /** `−this`. */
  neg(): Tensor<S, D> {
    return elementwise.unaryOp(this, "neg") as Tensor<S, D>;
  }

  /** `e^this`. */
  exp(): Tensor<S, D> {
    return elementwise.unaryOp(this, "exp") as Tensor<S, D>;
  }

  /** Natural logarithm. */
  log(): Tensor<S, D> {
    return elementwise.unaryOp(this, "log") as Tensor<S, D>;
  }

  /** Square root. */
  sqrt(): Tensor<S, D> {
    return elementwise.unaryOp(this, "sqrt") as Tensor<S, D>;
  }

  /** `this^exponent` for a scalar exponent. */
  pow(exponent: number): Tensor<S, D> {
    return elementwise.unaryOp(this, "pow", exponent) as Tensor<S, D>;
  }

  /** `max(this, 0)`. */
  relu(): Tensor<S, D> {
    return elementwise.unaryOp(this, "relu") as Tensor<S, D>;
  }

  /** Hyperbolic tangent. */
  tanh(): Tensor<S, D> {
    return elementwise.unaryOp(this, "tanh") as Tensor<S, D>;
  }

  /** Logistic sigmoid. */
  sigmoid(): Tensor<S, D> {
    return elementwise.unaryOp(this, "sigmoid") as Tensor<S, D>;
  }

  // Reductions -------------------------------------------------------------------------------

  /** Sum over `axes` (all when omitted). */
  sum(axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    return reduce.sum(this, axes, keepdim);
  }

  /** Mean over `axes` (all when omitted). */
  mean(axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    return reduce.mean(this, axes, keepdim);
  }

  /** Maximum over `axes`; the gradient is shared equally among tied maxima. */
  max(axes?: Axes, keepdim = false): Tensor<Shape, "f32"> {
    return reduce.max(this, axes, keepdim);
  }

  // Linear algebra ---------------------------------------------------------------------------

  /**
   * Matrix product of `[M, K]` and `[K, N]`; a transposed operand (`w.T()`) is read in place.
   * For batched products use {@link Tensor.bmm}.
   */
  matmul<M extends Dim, K extends Dim, K2 extends Dim, N extends Dim>(
    this: Tensor<readonly [M, K], "f32">,
    other:
      & Tensor<readonly [K2, N], "f32">
      & Check<DimsAgree<K, K2>, "matmul: inner dimensions differ">,
  ): Tensor<[M, N], "f32"> {
    return matmul(this, other) as Tensor<[M, N], "f32">;
  }

  /** Batched matrix product `[B, M, K]` × `[B, K, N]` (a batch size of 1 broadcasts). */
  bmm<B extends Dim, M extends Dim, K extends Dim, K2 extends Dim, N extends Dim>(
    this: Tensor<readonly [B, M, K], "f32">,
    other:
      & Tensor<readonly [Dim, K2, N], "f32">
      & Check<DimsAgree<K, K2>, "bmm: inner dimensions differ">,
  ): Tensor<[B, M, N], "f32"> {
    return matmul(this, other) as Tensor<[B, M, N], "f32">;
  }

  /** The transpose of a matrix, as a view (no copy). */
  T<A extends Dim, B extends Dim>(this: Tensor<readonly [A, B], D>): Tensor<[B, A], D> {
    return shapeOps.transpose(this, 0, 1) as Tensor<[B, A], D>;
  }

  // Shape ------------------------------------------------------------------------------------

  /** The same elements in a new shape (one dimension may be −1). Copies only if not contiguous. */
  reshape<const R extends readonly number[]>(shape: R): Tensor<R, D> {
    return shapeOps.reshape(this, shape) as Tensor<R, D>;
  }

  /** Swaps two axes, as a view. */
  transpose(axis0: number, axis1: number): Tensor<Shape, D> {
    return shapeOps.transpose(this, axis0, axis1);
  }

  /** Reorders axes, as a view. */
  permute(order: readonly number[]): Tensor<Shape, D> {
    return shapeOps.permute(this, order);
  }

  /** A contiguous copy of a view (or this tensor's data, shared, if already contiguous). */
  contiguous(): Tensor<S, D> {
    return shapeOps.contiguous(this) as Tensor<S, D>;
  }

  /** Elements `[start, end)` along `axis`, copied. */
  slice(axis: number, start: number, end: number): Tensor<Shape, D> {
    return shapeOps.slice(this, axis, start, end);
  }

  /** Softmax along `axis` (default last). */
  softmax(axis = -1): Tensor<S, "f32"> {
    return softmax(this as Tensor<Shape, "f32">, axis) as Tensor<S, "f32">;
  }

  /** Log-softmax along `axis` (default last), computed stably. */
  logSoftmax(axis = -1): Tensor<S, "f32"> {
    return logSoftmax(this as Tensor<Shape, "f32">, axis) as Tensor<S, "f32">;
  }

  /** Whether ops on this tensor currently record the graph. */
  get tracksGrad(): boolean {
    return this.requiresGrad && isGradEnabled();
  }
}

/**
 * A graph recorded but never back-propagated (say, an evaluation run without `noGrad`) would
 * hold its saved tensors forever; once the tensor that owns a node is garbage, its saved
 * tensors are released. Use `noGrad` to avoid recording in the first place.
 */
const unreleasedGraphs = new FinalizationRegistry<GradNode>((node) => node.release());

/** Nested number arrays, as `toArray()` returns them. */
export type NestedArray = number | NestedArray[];

function nest(flat: number[], shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0];
  const [first, ...rest] = shape;
  const inner = numel(rest);
  return Array.from(
    { length: first },
    (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), rest),
  );
}

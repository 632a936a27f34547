/**
 * What the private helpers of `Tensor`'s methods (`_tensor_arithmetic.ts`,
 * `_tensor_reductions.ts`, `_tensor_indexing.ts`) see of a tensor. They cannot import
 * `tensor.ts`, which imports them (the architecture test forbids import cycles, type-only ones
 * too), so they see a tensor as a {@link TensorHandle}: its description and the few methods they
 * call, typed loosely (the class's methods give the precise types); and they reach its data
 * through the {@link TensorAccess} that the class's static block binds, where `#` fields are
 * visible.
 *
 * @module
 */

import type { Described, RawTensor } from "./_core.ts";
import type { AsyncOp, Op, OpParams } from "./_rules/mod.ts";

/** A tensor as the helpers see it; `Tensor` is one (the class checks it implements this). */
export interface TensorHandle extends Described {
  /** Number of axes. */
  readonly rank: number;
  /** Number of elements. */
  readonly size: number;
  /** Drops this handle's reference to the data. */
  dispose(): void;
  /** `using t = …` disposes at the end of the block. */
  [Symbol.dispose](): void;
  /** `this + other`. */
  add(other: TensorHandle | number): TensorHandle;
  /** `this − other`. */
  sub(other: TensorHandle | number): TensorHandle;
  /** `this · other`. */
  mul(other: TensorHandle | number): TensorHandle;
  /** `this / other`. */
  div(other: TensorHandle | number): TensorHandle;
  /** `this == other` as f32 1 or 0. */
  eq(other: TensorHandle | number): TensorHandle;
  /** `|this|`. */
  abs(): TensorHandle;
  /** `√this`. */
  sqrt(): TensorHandle;
  /** `e^this`. */
  exp(): TensorHandle;
  /** `ln this`. */
  log(): TensorHandle;
  /** The sum over `axes`. */
  sum(axes?: number | readonly number[], keepdim?: boolean): TensorHandle;
  /** The mean over `axes`. */
  mean(axes?: number | readonly number[], keepdim?: boolean): TensorHandle;
  /** The i32 order that sorts along `dim`. */
  argsort(options?: { dim?: number; descending?: boolean }): TensorHandle;
  /** Every `step`-th element of `[start, end)` along `axis`. */
  slice(axis: number, start: number, end: number, step?: number): TensorHandle;
  /** The same elements in shape `shape`. */
  reshape(shape: readonly number[]): TensorHandle;
  /** The elements as one axis. */
  flatten(): TensorHandle;
  /** `this != other` as f32 1 or 0. */
  ne(other: TensorHandle | number): TensorHandle;
  /** `this < other` as f32 1 or 0. */
  lt(other: TensorHandle | number): TensorHandle;
  /** `this > other` as f32 1 or 0. */
  gt(other: TensorHandle | number): TensorHandle;
  /** `this^exponent`. */
  pow(exponent: number): TensorHandle;
  /** An f32 copy (this tensor when already f32). */
  float(): TensorHandle;
  /** The maximum along `axes`. */
  max(axes?: number | readonly number[], keepdim?: boolean): TensorHandle;
  /** The elements at an i32 index along `dim`. */
  gather(dim: number, index: TensorHandle): TensorHandle;
  /** Without the given axes of size 1. */
  squeeze(axes?: number | readonly number[]): TensorHandle;
  /** A broadcast view of shape `sizes`. */
  expand(sizes: readonly number[]): TensorHandle;
}

/** The tensor layer's private access to tensors, bound by `Tensor`'s static block. */
export interface TensorAccess {
  /** A tensor that owns `raw`. */
  wrap(raw: RawTensor, requiresGrad?: boolean): TensorHandle;
  /** The data of `t` (throws, naming `op`, for a non-tensor or a disposed one). */
  raw(t: TensorHandle, op?: string): RawTensor;
  /** Runs op `op` on `inputs`, recording its backward when any input requires a gradient. */
  apply<K extends Exclude<Op, AsyncOp>>(
    op: K,
    inputs: readonly TensorHandle[],
    params: OpParams[K],
  ): TensorHandle;
  /** Whether `x` is a tensor. */
  isTensor(x: unknown): x is TensorHandle;
}

/** Values and their i32 indices along an axis, as the helpers see them. */
export interface HandlesWithIndices {
  /** The values chosen. */
  values: TensorHandle;
  /** Where along the axis each value came from. */
  indices: TensorHandle;
}

let access: TensorAccess;

/** Binds the access (once, from `Tensor`'s static block, before any tensor exists). */
export function bindTensorAccess(bound: TensorAccess): void {
  access = bound;
}

// The helpers call these only when a tensor op runs, long after `tensor.ts` has bound them.

/** A tensor that owns `raw`. */
export function wrap(raw: RawTensor, requiresGrad?: boolean): TensorHandle {
  return access.wrap(raw, requiresGrad);
}

/** The data of `t` (throws, naming `op`, for a non-tensor or a disposed one). */
export function rawOfTensor(t: TensorHandle, op?: string): RawTensor {
  return access.raw(t, op);
}

/** Runs op `op` on `inputs`, recording its backward when any input requires a gradient. */
export function apply<K extends Exclude<Op, AsyncOp>>(
  op: K,
  inputs: readonly TensorHandle[],
  params: OpParams[K],
): TensorHandle {
  return access.apply(op, inputs, params);
}

/** Whether `x` is a tensor. */
export function isTensor(x: unknown): x is TensorHandle {
  return access.isTensor(x);
}

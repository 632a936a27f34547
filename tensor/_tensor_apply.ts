/**
 * How an op runs and joins the graph: {@link OpDispatch.apply} runs the op's forward rule (from
 * the table in `_rules/mod.ts`) on its inputs' data, wraps the result, and records the backward
 * when an input requires a gradient.
 *
 * Like `_autograd.ts`, this file sees tensors only through an interface ({@link TensorState}),
 * so it does not depend on the `Tensor` class: the class lends it access to its private state
 * from its static block, where `#` fields are visible.
 *
 * @module
 */

import type { RawTensor } from "./_core.ts";
import { type GradNode, isGradEnabled } from "./_autograd.ts";
import {
  ASYNC_OPS,
  type AsyncOp,
  Context,
  type Op,
  type OpParams,
  type Rule,
  rules,
} from "./_rules/mod.ts";

/** What op dispatch needs of a tensor of type `T`: its data, a new one, its graph node. */
export interface TensorState<T extends { readonly requiresGrad: boolean }> {
  /** A new tensor that owns `raw`. */
  wrap(raw: RawTensor, requiresGrad?: boolean): T;
  /** The data of `t` (throws once disposed, or when `t` is no tensor, naming `op`). */
  raw(t: T, op?: string): RawTensor;
  /** Makes `node` the record of how `t` was made. */
  attachNode(t: T, node: GradNode<T>): void;
}

/** Applying ops to tensors of type `T`; see {@link opDispatch}. */
export interface OpDispatch<T> {
  /** Whether an op on `inputs` records the graph now. */
  isRecording(inputs: readonly T[]): boolean;
  /** Runs `op` on `inputs` and records its backward when recording. */
  apply<K extends Exclude<Op, AsyncOp>>(op: K, inputs: readonly T[], params: OpParams[K]): T;
  /** {@link OpDispatch.apply} for the ops whose forward waits for the host. */
  applyAsync<K extends AsyncOp>(op: K, inputs: readonly T[], params: OpParams[K]): Promise<T>;
}

/** The op dispatch for tensors whose state `state` reaches. */
export function opDispatch<T extends { readonly requiresGrad: boolean }>(
  state: TensorState<T>,
): OpDispatch<T> {
  const isRecording = (inputs: readonly T[]) =>
    isGradEnabled() && inputs.some((t) => t.requiresGrad);

  /** A context for the forward of an op on `inputs`, saving only when recording. */
  const contextFor = (raws: readonly RawTensor[], inputs: readonly T[]) =>
    new Context(raws, inputs.map((t) => t.requiresGrad), isRecording(inputs));

  /** Attaches the node of `op` to `out` when recording; otherwise drops what the rule saved. */
  function record<K extends Op>(
    out: T,
    op: K,
    inputs: readonly T[],
    params: OpParams[K],
    ctx: Context,
  ): T {
    if (!ctx.recording) {
      ctx.release();
      return out;
    }
    const rule = rules[op] as Rule<K>;
    const fusion = rule.reluFusion;
    state.attachNode(out, {
      op,
      inputs,
      backward: (grad, fold, whileWaiting) => rule.backward(grad, params, ctx, fold, whileWaiting),
      waits: ASYNC_OPS.has(op),
      release: () => ctx.release(),
      reluOutput: fusion?.output && (() => fusion.output!(params, ctx)),
      foldsReluMask: fusion?.foldsInto,
      keepsSign: fusion?.keepsSign,
    });
    return out;
  }

  return {
    isRecording,
    apply(op, inputs, params) {
      const raws = inputs.map((t) => state.raw(t, op));
      const ctx = contextFor(raws, inputs);
      const out = (rules[op] as (typeof rules)[typeof op]).forward(raws, params, ctx) as RawTensor;
      return record(state.wrap(out), op, inputs, params, ctx);
    },
    async applyAsync(op, inputs, params) {
      const raws = inputs.map((t) => state.raw(t, op));
      const ctx = contextFor(raws, inputs);
      const out = await (rules[op] as (typeof rules)[typeof op]).forward(raws, params, ctx);
      return record(state.wrap(out), op, inputs, params, ctx);
    },
  };
}

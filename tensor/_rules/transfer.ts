/**
 * Copies between devices. `to` moves one tensor; `transfer` moves several, in any
 * directions, with one host wait, and its backward moves all their gradients back with one
 * wait too. A graph node belongs to one output, so a transfer records a *token* (the op
 * `transfer`, whose inputs are the sources) and one `transferOut` per copy that reads the token:
 * each copy's backward hands its gradient over, and the token's backward, which runs after all
 * of them, moves every gradient back at once.
 *
 * Tensors that hold the same data on different devices (written from the host to each) can
 * be linked as replicas: `to` then returns the copy already there.
 *
 * @module
 */

import type { Device } from "../../kernels/device.ts";
import { empty, type RawTensor, type Storage } from "../_core.ts";
import { transferAll } from "../_primitives.ts";
import type { Grads, Rules } from "./rule.ts";

const replicas = new WeakMap<Storage, readonly RawTensor[]>();

/** Declares raw tensors on different devices to hold the same data. */
export function linkReplicaData(copies: readonly RawTensor[]): void {
  for (const copy of copies) replicas.set(copy.storage, copies);
}

/** A live replica of `x` on `device`, if one was linked. */
function replicaOn(x: RawTensor, device: Device): RawTensor | undefined {
  return replicas.get(x.storage)?.find((r) => r.device === device && !r.disposed);
}

/** The transfer rules. */
export const transferRules: Rules<"to" | "transfer" | "transferOut"> = {
  to: {
    async forward([x], { device }, ctx) {
      if (x.device === device) return x.alias();
      // A replica is a separate leaf: the gradient must flow back to `x`, so only data is reused.
      const here = ctx.needsGrad[0] ? undefined : replicaOn(x, device);
      return here ? here.alias() : (await transferAll([[x, device]]))[0];
    },
    async backward(g, _p, ctx, _fold, whileWaiting) {
      const home = ctx.inputs[0].device;
      if (g.device === home) return [g.alias()];
      return [(await transferAll([[g, home]], undefined, whileWaiting))[0]];
    },
  },
  transfer: {
    async forward(sources, { state }) {
      const outs = await transferAll(
        sources.map((s, i) => [s, state.targets[i]]),
        state.staging,
        state.whileWaiting,
      );
      state.outs.splice(0, state.outs.length, ...outs);
      state.grads.splice(0, state.grads.length, ...outs.map(() => null));
      // The token carries no data: nothing reads it, so it is left unwritten (no dispatch).
      return empty(sources[0].device, [1]);
    },
    async backward(_g, { state }, ctx, _fold, whileWaiting): Promise<Grads> {
      const pending = state.grads.flatMap((g, i) => (g ? [i] : []));
      try {
        const back = await transferAll(
          pending.map((i) => [state.grads[i]!, ctx.inputs[i].device]),
          state.staging,
          whileWaiting,
        );
        return ctx.inputs.map((_, i) => back[pending.indexOf(i)] ?? null);
      } finally {
        state.grads.forEach((g) => g?.dispose());
        state.grads.fill(null);
      }
    },
  },
  transferOut: {
    forward(_token, { state, index }) {
      const out = state.outs[index]!;
      state.outs[index] = null;
      return out;
    },
    backward(g, { state, index }, ctx) {
      state.grads[index]?.dispose();
      state.grads[index] = g.alias();
      // The token's backward runs once any copy hands a gradient to it; what it receives is
      // never read, so one unwritten placeholder from the first copy is enough (none to add up).
      const first = state.grads.filter((x) => x !== null).length === 1;
      return [first ? empty(ctx.inputs[0].device, [1]) : null];
    },
  },
};

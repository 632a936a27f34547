/**
 * Define-by-run reverse-mode autograd. Each op that needs a gradient attaches a node to its
 * output: the inputs, and the backward of the op's rule with the tensors its forward saved.
 * `backward()` walks the nodes in reverse topological order and drops each node's saved tensors
 * right after it has run. The walk sees tensors only through {@link GraphAccess}, so this file
 * does not depend on the `Tensor` class.
 *
 * ReLU masks are folded into the op that consumes a ReLU's output: when the walk reaches a node
 * whose input `y` was made by a ReLU (a node with `reluOutput`), `y` has no other use in the
 * graph, and the node's rule can fold the mask into that input's gradient (`foldsReluMask`),
 * the node returns `∂L/∂y · (y > 0)` from the kernel it runs anyway, with `y` as the mask
 * operand, and the ReLU's node is told that its gradient arrives masked, so its own mask is
 * no pass at all. With another use of `y`, the gradients from both uses are summed first and
 * the ReLU masks the sum, as before. Either way the gradients are the same. An op that keeps
 * the sign of its input (dropout, `keepsSign`) passes a ReLU's output on: the op after it
 * folds the mask of dropout's output, which is the ReLU's mask times dropout's own.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { RawTensor } from "./_core.ts";
import { binary } from "./_primitives.ts";
import type { Grads, MaskFold } from "./_rules/mod.ts";

/** The record an op leaves on its output; `T` is the tensor type. */
export interface GradNode<T> {
  /** The op's name, for errors and debugging. */
  readonly op: string;
  /** The op's inputs, in order. */
  readonly inputs: readonly T[];
  /**
   * Maps the output's gradient to the inputs' gradients, folding ReLU masks as `fold` says. A
   * node that {@link GradNode.waits} may call `whileWaiting` once while it waits: it runs the
   * backward of the nodes that need nothing from this one.
   */
  readonly backward: (
    grad: RawTensor,
    fold: MaskFold,
    whileWaiting: () => void,
  ) => Grads | Promise<Grads>;
  /** The backward waits for the host (a transfer between devices). */
  readonly waits?: boolean;
  /** Drops the saved tensors. */
  readonly release: () => void;
  /** When the op's output is a ReLU's: that output (the mask operand), else null. */
  readonly reluOutput?: () => RawTensor | null;
  /** The inputs whose gradients the backward can multiply by a ReLU mask it is given. */
  readonly foldsReluMask?: readonly number[];
  /** The op keeps its one input's sign (see `ReluFusion.keepsSign`): it passes a mask on. */
  readonly keepsSign?: boolean;
}

/** How the walk reads and updates the graph state of a tensor of type `T`. */
export interface GraphAccess<T> {
  /** The node that made `t`, if it is still recorded. */
  node(t: T): GradNode<T> | null;
  /** Whether an earlier backward freed the node that made `t`. */
  freed(t: T): boolean;
  /** Whether `t` wants a gradient. */
  requiresGrad(t: T): boolean;
  /** Marks `t`'s node as consumed. */
  clear(t: T): void;
  /** Adds `g` (which it takes over) into the `.grad` of the leaf `t`. */
  accumulate(t: T, g: RawTensor): void;
  /** Describes `t` for errors. */
  describe(t: T): string;
}

/**
 * Whether the current code runs in a scope that disables recording ({@link noGrad}, a backward
 * pass), carried by an AsyncLocalStorage: an async scope disables recording for its own
 * continuations only, not for code that runs while it awaits (a global count did: a
 * `noGrad(async …)` awaiting turned recording off for every other task meanwhile).
 */
const noRecording = new AsyncLocalStorage<boolean>();

/**
 * Whether ops currently record the graph (false inside {@link noGrad}).
 *
 * @example
 * ```ts
 * import { isGradEnabled, noGrad } from "../mod.ts";
 * console.log(isGradEnabled()); // true
 * noGrad(() => console.log(isGradEnabled())); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return noRecording.getStore() !== true;
}

/**
 * Runs `fn` without recording the graph (evaluation, optimiser updates, in-place writes).
 *
 * @example
 * ```ts
 * import { defaultDevice, noGrad, tensor } from "../mod.ts";
 * await defaultDevice();
 * const w = tensor([1, 2], { requiresGrad: true });
 * const y = noGrad(() => w.mul(2));
 * console.log(y.requiresGrad); // false
 * ```
 */
export function noGrad<R>(fn: () => R): R {
  return noRecording.run(true, fn);
}

/**
 * Back-propagates from `root` with upstream gradient `seed` (not disposed): accumulates into
 * every leaf that requires a gradient, and frees each intermediate gradient once consumed.
 */
export function runBackward<T>(root: T, seed: RawTensor, graph: GraphAccess<T>): Promise<void> {
  return noRecording.run(true, () => backwardWalk(root, seed, graph));
}

/** {@link runBackward}'s walk, run without recording. */
async function backwardWalk<T>(root: T, seed: RawTensor, graph: GraphAccess<T>): Promise<void> {
  const order = deferPastWaits(topologicalOrder(root, graph), graph);
  const uses = countUses(order, graph);
  // Tensors whose gradient a consumer has already multiplied by their ReLU mask.
  const masked = new Set<T>();
  const grads = new Map<T, RawTensor>([[root, seed.alias()]]);
  /** Runs the node of `tensor` if a gradient reached it; `whileWaiting` as for GradNode. */
  const run = (tensor: T, whileWaiting: () => void): Grads | Promise<Grads> | null => {
    const grad = grads.get(tensor);
    grads.delete(tensor);
    if (!grad) return null;
    const node = graph.node(tensor)!;
    const fold = maskFold(node, uses, graph, masked.has(tensor));
    const finish = (inputGrads: Grads): Grads => {
      node.release();
      graph.clear(tensor);
      grad.dispose();
      node.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!g || !graph.requiresGrad(input)) {
          g?.dispose();
          return;
        }
        if (graph.node(input)) {
          // A masked gradient through a sign-keeping op is masked for the ReLU before it.
          if (fold.masks[i] || (fold.gradMasked && node.keepsSign)) masked.add(input);
          const existing = grads.get(input);
          grads.set(input, existing ? accumulate(existing, g) : g);
        } else {
          graph.accumulate(input, g);
        }
      });
      return inputGrads;
    };
    const inputGrads = node.backward(grad, fold, whileWaiting);
    return inputGrads instanceof Promise ? inputGrads.then(finish) : finish(inputGrads);
  };
  /**
   * Runs now, in order, every node after `order[at]` that needs nothing from its backward (it
   * does not make one of its inputs, even indirectly): while that node's transfer waits, the
   * devices compute these (weight gradients, the parts of a layer's input gradient that stay on
   * the device). A node that waits itself is left for later, with the nodes it needs.
   */
  const runIndependent = (at: number): void => {
    const blocked = new Set<T>();
    const block = (tensor: T): void => {
      for (const input of graph.node(tensor)?.inputs ?? []) {
        if (!blocked.has(input)) {
          blocked.add(input);
          block(input);
        }
      }
    };
    block(order[at]);
    for (const tensor of order.slice(at + 1)) {
      const node = graph.node(tensor);
      if (!node || blocked.has(tensor)) continue;
      if (node.waits) {
        blocked.add(tensor);
        block(tensor);
        continue;
      }
      run(tensor, () => {});
    }
  };
  try {
    for (const [at, tensor] of order.entries()) {
      let called = false;
      await run(tensor, () => {
        if (!called) runIndependent(at);
        called = true;
      });
    }
  } finally {
    for (const g of grads.values()) g.dispose();
  }
}

/** The error for a backward pass through a graph that an earlier backward already freed. */
export function freedGraphMessage(described: string): string {
  return `backward: the graph behind a tensor of shape [${described}] was freed by an earlier ` +
    "backward(); run the forward pass again to back-propagate through it once more";
}

function accumulate(existing: RawTensor, g: RawTensor): RawTensor {
  const sum = binary(existing, g, "add");
  existing.dispose();
  g.dispose();
  return sum;
}

/**
 * `order` with the nodes that a waiting node's backward does not need (they do not use its
 * output, even indirectly) moved from before it to just after it, so that they run while it
 * waits (see `runIndependent`): a layer's weight gradients and the part of its input gradient
 * that stays on its device, where the part that crosses devices is what the transfer waits for.
 */
function deferPastWaits<T>(order: readonly T[], graph: GraphAccess<T>): T[] {
  const result = [...order];
  let start = 0;
  for (let at = 0; at < result.length; at++) {
    const waiting = result[at];
    if (!graph.node(waiting)?.waits) continue;
    const uses = new Map<T, boolean>([[waiting, true]]);
    const usesWaiting = (tensor: T): boolean => {
      let known = uses.get(tensor);
      if (known === undefined) {
        uses.set(tensor, false); // no cycles in a graph; this only guards the recursion
        known = (graph.node(tensor)?.inputs ?? []).some(usesWaiting);
        uses.set(tensor, known);
      }
      return known;
    };
    const before = result.slice(start, at);
    const needed = before.filter(usesWaiting);
    const deferred = before.filter((t) => !usesWaiting(t));
    result.splice(start, at - start + 1, ...needed, waiting, ...deferred);
    at = start + needed.length + deferred.length;
    start = at + 1;
  }
  return result;
}

/** How many times each tensor is an input of a node in `order` (x·x uses x twice). */
function countUses<T>(order: readonly T[], graph: GraphAccess<T>): Map<T, number> {
  const uses = new Map<T, number>();
  for (const tensor of order) {
    for (const input of graph.node(tensor)!.inputs) uses.set(input, (uses.get(input) ?? 0) + 1);
  }
  return uses;
}

let foldingReluMasks = true;

/**
 * Turns the folding of ReLU masks on or off and returns the previous setting. Off, every ReLU
 * masks its own gradient in a separate pass: the tests compare the two, which must agree.
 */
export function setReluMaskFolding(on: boolean): boolean {
  const previous = foldingReluMasks;
  foldingReluMasks = on;
  return previous;
}

/**
 * The masks `node` folds: for each input it can fold into, made by a ReLU and used by nothing
 * else in this graph (so its whole gradient comes from `node`), that ReLU's output.
 */
function maskFold<T>(
  node: GradNode<T>,
  uses: ReadonlyMap<T, number>,
  graph: GraphAccess<T>,
  gradMasked: boolean,
): MaskFold {
  const masks = node.inputs.map((input, i) => {
    if (!foldingReluMasks || !node.foldsReluMask?.includes(i) || uses.get(input) !== 1) {
      return null;
    }
    return reluOutputOf(input, uses, graph);
  });
  return { gradMasked, masks };
}

/**
 * The ReLU output that `t` is, or null: the output of a ReLU's node, or of a sign-keeping op
 * whose input is such an output with no other use.
 */
function reluOutputOf<T>(
  t: T,
  uses: ReadonlyMap<T, number>,
  graph: GraphAccess<T>,
): RawTensor | null {
  const node = graph.node(t);
  if (!node?.reluOutput) return null;
  if (node.keepsSign) {
    const input = node.inputs[0];
    if (uses.get(input) !== 1 || !reluOutputOf(input, uses, graph)) return null;
  }
  return node.reluOutput();
}

/** Tensors with nodes reachable from `root`, each after every tensor that uses it. */
function topologicalOrder<T>(root: T, graph: GraphAccess<T>): T[] {
  const visited = new Set<T>();
  const postorder: T[] = [];
  const stack: [T, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [tensor, expanded] = stack.pop()!;
    if (expanded) {
      postorder.push(tensor);
      continue;
    }
    const node = graph.node(tensor);
    if (visited.has(tensor) || !node) continue;
    visited.add(tensor);
    stack.push([tensor, true]);
    for (const input of node.inputs) {
      // A tensor made by an op whose node an earlier backward freed would otherwise pass for
      // a leaf and silently collect a gradient that never reaches the real leaves.
      if (!graph.node(input) && graph.freed(input)) {
        throw new Error(freedGraphMessage(graph.describe(input)));
      }
      if (!visited.has(input) && graph.node(input)) stack.push([input, false]);
    }
  }
  return postorder.reverse();
}

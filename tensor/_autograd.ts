/**
 * Define-by-run reverse-mode autograd. Each op that needs a gradient attaches a node to its
 * output: the inputs, the tensors its backward needs (held by the node's own references), and
 * the backward function written next to the op's forward. `backward()` walks the nodes in
 * reverse topological order and drops each node's saved tensors right after it has run.
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";
import { keep } from "./memory.ts";

/** Gradients for each input of a node, in order; `null` where an input needs none. */
export type InputGrads = (Tensor | null)[];

/** The record an op leaves on its output. */
export interface GradNode {
  /** The op's name, for errors and debugging. */
  readonly op: string;
  /** The op's inputs, in order. */
  readonly inputs: readonly Tensor[];
  /** Maps the output's gradient to the inputs' gradients. */
  readonly backward: (grad: Tensor) => InputGrads | Promise<InputGrads>;
  /** Drops the saved tensors. */
  readonly release: () => void;
}

let gradEnabled = true;

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording the graph (evaluation, optimiser updates).
 *
 * @example
 * ```ts
 * import { noGrad } from "./_autograd.ts";
 * const y = noGrad(() => 1 + 1);
 * console.log(y); // 2
 * ```
 */
export function noGrad<R>(fn: () => R): R {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.finally(() => (gradEnabled = previous)) as R;
    }
    gradEnabled = previous;
    return result;
  } catch (error) {
    gradEnabled = previous;
    throw error;
  }
}

/**
 * Attaches a node to `out` when any input requires a gradient. `saved` tensors are aliased
 * (their storage stays alive even if the caller disposes them) and handed to `makeBackward`.
 */
export function recordOp<T extends Tensor>(
  out: T,
  op: string,
  inputs: readonly Tensor[],
  saved: readonly Tensor[],
  makeBackward: (saved: Tensor[]) => (grad: Tensor) => InputGrads | Promise<InputGrads>,
): T {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  const aliases = saved.map((t) => keep(t.alias()));
  out._setNode({
    op,
    inputs,
    backward: makeBackward(aliases),
    release: () => aliases.forEach((a) => a.dispose()),
  });
  return out;
}

/**
 * Back-propagates from `root` with upstream gradient `seed`: accumulates into `.grad` of every
 * leaf that requires a gradient, and frees each intermediate gradient once consumed.
 */
export async function runBackward(root: Tensor, seed: Tensor): Promise<void> {
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    for (const tensor of order) {
      const node = tensor._node!;
      const grad = grads.get(tensor);
      grads.delete(tensor);
      if (!grad) continue;
      const inputGrads = await node.backward(grad);
      node.release();
      tensor._setNode(null);
      if (grad !== seed) grad.dispose();
      node.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!g || !input.requiresGrad) {
          g?.dispose();
          return;
        }
        if (input._node) {
          const existing = grads.get(input);
          grads.set(input, existing ? accumulate(existing, g) : g);
        } else {
          input._accumulateGrad(g);
        }
      });
    }
  } finally {
    gradEnabled = previous;
    for (const g of grads.values()) if (g !== seed) g.dispose();
  }
}

/** The error for a backward pass through a graph that an earlier backward already freed. */
export function freedGraphMessage(t: Tensor): string {
  return `backward: the graph behind a tensor of shape [${t.shape}] was freed by an earlier ` +
    "backward(); run the forward pass again to back-propagate through it once more";
}

function accumulate(existing: Tensor, g: Tensor): Tensor {
  const sum = existing.add(g);
  existing.dispose();
  g.dispose();
  return sum;
}

/** Tensors with nodes reachable from `root`, each after every tensor that uses it. */
function topologicalOrder(root: Tensor): Tensor[] {
  const visited = new Set<Tensor>();
  const postorder: Tensor[] = [];
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [tensor, expanded] = stack.pop()!;
    if (expanded) {
      postorder.push(tensor);
      continue;
    }
    if (visited.has(tensor) || !tensor._node) continue;
    visited.add(tensor);
    stack.push([tensor, true]);
    for (const input of tensor._node.inputs) {
      // A tensor made by an op whose node an earlier backward freed would otherwise pass for
      // a leaf and silently collect a gradient that never reaches the real leaves.
      if (!input._node && input._graphFreed) throw new Error(freedGraphMessage(input));
      if (!visited.has(input) && input._node) stack.push([input, false]);
    }
  }
  return postorder.reverse();
}

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

import type { RawTensor } from "./_core.ts";
import { binary } from "./_primitives.ts";
import type { Grads, MaskFold } from "./_rules/mod.ts";

/** The record an op leaves on its output; `T` is the tensor type. */
export interface GradNode<T> {
  /** The op's name, for errors and debugging. */
  readonly op: string;
  /** The op's inputs, in order. */
  readonly inputs: readonly T[];
  /** Maps the output's gradient to the inputs' gradients, folding ReLU masks as `fold` says. */
  readonly backward: (grad: RawTensor, fold: MaskFold) => Grads | Promise<Grads>;
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

let gradEnabled = true;

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
  return gradEnabled;
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
 * Back-propagates from `root` with upstream gradient `seed` (not disposed): accumulates into
 * every leaf that requires a gradient, and frees each intermediate gradient once consumed.
 */
export async function runBackward<T>(root: T, seed: RawTensor, graph: GraphAccess<T>) {
  const order = topologicalOrder(root, graph);
  const uses = countUses(order, graph);
  // Tensors whose gradient a consumer has already multiplied by their ReLU mask.
  const masked = new Set<T>();
  const grads = new Map<T, RawTensor>([[root, seed.alias()]]);
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    for (const tensor of order) {
      const node = graph.node(tensor)!;
      const grad = grads.get(tensor);
      grads.delete(tensor);
      if (!grad) continue;
      const fold = maskFold(node, uses, graph, masked.has(tensor));
      const inputGrads = await node.backward(grad, fold);
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
    }
  } finally {
    gradEnabled = previous;
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

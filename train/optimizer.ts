/**
 * What every optimiser offers the training loop and its callbacks, in PyTorch's terms:
 * `step`, `zeroGrad`, `stateDict`, `loadStateDict` and `paramGroups`.
 *
 * @module
 */

import { optionNames } from "../tensor/options.ts";
import type { StepGuard } from "../tensor/step_guard.ts";
import type { StateValue } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A group of parameters that share hyperparameters, as an optimiser holds it. */
export interface ParamGroup {
  /** The parameters. */
  readonly params: readonly Tensor[];
  /** One unique name per parameter: the keys of its entries in the state dict. */
  readonly names: readonly string[];
  /** Learning rate; schedulers change it here, and the next `step` uses it. */
  lr: number;
  /**
   * Whether the group maximises its objective (PyTorch's `maximize`): each step sees −g, the
   * gradient's sign flipped before anything else, weight decay included. Default false.
   */
  maximize?: boolean;
}

/** A parameter group's entry in a state dict: its names and hyperparameters, as JSON. */
export interface ParamGroupState {
  /** Parameter names, in order. */
  names: string[];
  /** Learning rate. */
  lr: number;
  /** Whether the group maximises (absent in states from before it existed: false). */
  maximize?: boolean;
}

/**
 * An optimiser's state in the manner of `Module.stateDict()`: tensors by name (per-parameter
 * buffers such as SGD's velocities, keyed by the parameter's name), plus JSON for the rest.
 * `stateDict()` returns tensors (the caller disposes them); `loadStateDict` also takes host
 * data `{ shape, data }`, as `Module.loadStateDict` does.
 */
export interface OptimizerStateDict<
  Group extends ParamGroupState = ParamGroupState,
  Value extends StateValue = Tensor,
> {
  /** Format version of the optimiser. */
  version: number;
  /** Steps taken. */
  steps: number;
  /** Groups in order. */
  paramGroups: Group[];
  /** Per-parameter buffers by name; a parameter without one has never been stepped. */
  state: Record<string, Value>;
}

/** Options of {@link Optimizer.step}. */
export interface OptimizerStepOptions {
  /**
   * The training step's guard, begun on its loss (`StepGuard.begin`): every update is skipped
   * on the GPU when the loss, a gradient or an updated weight would be non-finite. With
   * parameters on several devices, the loop runs {@link Optimizer.check} and
   * `await guard.settle()` before `step`. Without a guard every update runs.
   */
  guard?: StepGuard;
}

/** The names of {@link OptimizerStepOptions}, for `checkOptions`. */
export const OPTIMIZER_STEP_OPTIONS = optionNames<OptimizerStepOptions>({ guard: true });

/**
 * An optimiser: updates parameters from their gradients.
 *
 * @example Any optimiser in a hand-written loop
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { type Optimizer, SGD } from "./mod.ts";
 * await defaultDevice();
 * const w = tensor([1, 2], { requiresGrad: true });
 * const opt: Optimizer = new SGD({ params: [w], lr: 0.1 });
 * for (let i = 0; i < 3; i++) {
 *   const loss = w.mul(w).sum();
 *   await loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   loss.dispose();
 * }
 * for (const group of opt.paramGroups) group.lr /= 10;
 * console.log(await w.toArray());
 * ```
 */
export interface Optimizer {
  /** The parameter groups; a scheduler sets their `lr`. */
  readonly paramGroups: readonly ParamGroup[];
  /** Updates every parameter that has a gradient (records GPU work; reads nothing back). */
  step(options?: OptimizerStepOptions): void;
  /**
   * Checks the updates `step` would make into `guard` without making them, lowering its flag
   * when one would be non-finite (SGD: `sgdCheckAll` over every parameter).
   */
  check(guard: StepGuard): void;
  /**
   * Frees every parameter's gradient (PyTorch's default, `set_to_none=True`: a parameter
   * without one is not stepped); with `setToNone` false, zeroes the existing gradients in place
   * instead, so a step still updates those parameters (momentum and weight decay acting on a
   * zero gradient), as PyTorch's `set_to_none=False`.
   */
  zeroGrad(setToNone?: boolean): void;
  /** The state, tensors included (read back only when this is called). */
  stateDict(): Promise<OptimizerStateDict>;
  /** Restores a state from `stateDict()`: all checked before anything changes. */
  loadStateDict(state: OptimizerStateDict<ParamGroupState, StateValue>): Promise<void>;
  /** Frees the optimiser's buffers (not the parameters). */
  dispose(): void;
}

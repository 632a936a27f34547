/**
 * Stochastic gradient descent with momentum and weight decay, in the paper's formulation or
 * PyTorch's, over parameter groups, with `torch.optim.SGD`'s dampening and Nesterov momentum. Each step updates every parameter that has a gradient in
 * one multi-tensor dispatch per device on a GPU (the tensor layer's `sgdUpdateAll`, each
 * parameter with its own group's constants; lavapipe takes two parameters a dispatch); nothing
 * is read back except when a checkpoint asks for the state. With a `StepGuard`, every update is
 * first checked on the GPU (`sgdCheckAll`, dispatched alike) and all of them are skipped when
 * the loss, a gradient or an updated weight would be non-finite.
 *
 * The check is a pass of its own, not folded into the update kernel: skipping the whole step
 * needs every parameter's verdict before the first write (folded, a NaN in fc8's update would
 * find conv1 already updated). It reads weight, velocity and gradient once more: for the
 * paper's 61 M parameters about 0.7 GB a step, which at an H200's bandwidth is some 0.2 ms of
 * its 50 ms step (estimated, not measured).
 *
 * Nesterov momentum and dampening follow PyTorch: d = g + λ·w; the momentum buffer b starts
 * as d at a parameter's first step and then b ← μ·b + (1 − τ)·d; the step is −ε·b, or
 * −ε·(d + μ·b) with Nesterov (which needs μ > 0 and τ = 0). In the paper's formulation the
 * velocity is v = −ε·b accumulated with the current ε (v ← μ·v − (1 − τ)·ε·d, and with
 * Nesterov w ← w + μ·v − ε·d): the same steps while ε is constant, and an ε change acting on
 * new gradients only, as the paper's rule does. Whether a parameter's momentum buffer exists
 * (PyTorch's `momentum_buffer is not None`) is a count on the device, advanced by the guarded
 * update: a step the guard skips does not begin it, nor does a step with momentum 0, where
 * PyTorch keeps no buffer (the step is then −ε·d, undampened); the state dict holds the
 * velocities of the parameters whose buffer exists, and loading one begins exactly those.
 *
 * @module
 */

import { checkOptions } from "../tensor/options.ts";
import { OPTIMIZER_STEP_OPTIONS } from "./optimizer.ts";
import type { Module, StateValue } from "../nn/module.ts";
import { fromTypedArray, zeros } from "../tensor/creation.ts";
import {
  checkSgdHyperparameters,
  sgdCheckAll,
  type SgdFormulation,
  type SgdHyperparameters,
  type SgdParamUpdate,
  sgdUpdateAll,
} from "../tensor/fused_sgd.ts";
import { keep } from "../tensor/memory.ts";
import { optionNames } from "../tensor/options.ts";
import { StepCounts } from "./_step_counts.ts";
import type { StepGuard } from "../tensor/step_guard.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type {
  Optimizer,
  OptimizerStateDict,
  OptimizerStepOptions,
  ParamGroup,
  ParamGroupState,
} from "./optimizer.ts";
import {
  checkGroupNames,
  groupParams,
  moduleParams,
  readStateTensors,
  requireGroupKeys,
  zeroGrads,
} from "./_param_groups.ts";

export type { SgdFormulation } from "../tensor/fused_sgd.ts";

/** One parameter group as given to {@link SGD}. */
export interface ParamGroupOptions {
  /** The parameters: contiguous f32 leaf tensors (any device). */
  params: readonly Tensor[];
  /** A unique name per parameter, used as the key of its velocity in the state dict. */
  names?: readonly string[];
  /** Learning rate ε. */
  lr: number;
  /** Momentum μ; default 0.9. */
  momentum?: number;
  /** Weight decay λ; default 5e-4. */
  weightDecay?: number;
  /** Update rule; default "paper". */
  formulation?: SgdFormulation;
  /** Dampening τ of the momentum; default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov?: boolean;
  /** Maximise the objective: steps along +g (PyTorch's `maximize`); default false. */
  maximize?: boolean;
}

const SGD_GROUP_OPTIONS = optionNames<ParamGroupOptions>({
  params: true,
  names: true,
  lr: true,
  momentum: true,
  weightDecay: true,
  formulation: true,
  dampening: true,
  nesterov: true,
  maximize: true,
});

/** A parameter group as SGD holds it: the parameters and their hyperparameters. */
export interface SgdParamGroup extends ParamGroup {
  /** Momentum μ. */
  momentum: number;
  /** Weight decay λ. */
  weightDecay: number;
  /** Update rule. */
  formulation: SgdFormulation;
  /** Dampening τ. */
  dampening: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Whether it maximises (the gradient's sign flipped before weight decay). */
  maximize: boolean;
}

/** A group's entry in SGD's state dict. */
export interface SgdGroupState extends ParamGroupState {
  /** Momentum. */
  momentum: number;
  /** Weight decay. */
  weightDecay: number;
  /** Update rule. */
  formulation: SgdFormulation;
  /** Dampening τ. */
  dampening: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Whether it maximises (the gradient's sign flipped before weight decay). */
  maximize: boolean;
}

/**
 * SGD's state dict: the groups' hyperparameters, the step count, and each stepped parameter's
 * velocity under the parameter's name (a parameter with no entry has a zero velocity).
 */
export type SgdStateDict<Value extends StateValue = Tensor> = OptimizerStateDict<
  SgdGroupState,
  Value
>;

/**
 * SGD with momentum and weight decay.
 *
 * @example Two steps of the paper's rule, then a learning-rate cut
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SGD } from "./sgd.ts";
 * await defaultDevice();
 * const w = tensor([1, 2, 3], { requiresGrad: true });
 * const opt = new SGD({ params: [w], lr: 0.1, momentum: 0.9, weightDecay: 0 });
 * for (let i = 0; i < 2; i++) {
 *   const loss = w.mul(w).sum();
 *   await loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   loss.dispose();
 * }
 * opt.setLearningRate(0.01);
 * console.log(await w.toArray());
 * ``` *
 * @example PyTorch's rule with Nesterov momentum
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SGD } from "./sgd.ts";
 * await defaultDevice();
 * const w = tensor([1], { requiresGrad: true });
 * const opt = new SGD({
 *   params: [w], lr: 0.1, momentum: 0.9, weightDecay: 0, formulation: "pytorch", nesterov: true,
 * });
 * const loss = w.mul(w).sum();
 * await loss.backward();
 * opt.step(); // d = 2, b = 2, w = 1 − 0.1·(2 + 0.9·2)
 * console.log(await w.toArray()); // about [0.62]
 * ```
 */
export class SGD implements Optimizer {
  readonly #groups: SgdParamGroup[];
  readonly #velocity = new Map<Tensor, Tensor>();
  /** Each parameter's count of momentum steps: > 0 once its momentum buffer exists. */
  readonly #momentumSteps: StepCounts;
  #steps = 0;

  /**
   * SGD over one parameter group or several.
   *
   * @param groups One group or several; each parameter may appear in one group only.
   */
  constructor(groups: ParamGroupOptions | readonly ParamGroupOptions[]) {
    const list: readonly ParamGroupOptions[] = "params" in groups
      ? [groups as ParamGroupOptions]
      : groups as readonly ParamGroupOptions[];
    const resolved = groupParams("SGD", list, SGD_GROUP_OPTIONS);
    this.#groups = list.map((g, gi) => resolveGroup(g, resolved[gi], gi));
    this.#momentumSteps = new StepCounts(this.#groups.flatMap((g) => g.params));
  }

  /**
   * Adds a parameter group (PyTorch's `add_param_group`), its hyperparameters defaulting as the
   * constructor's; its parameters begin with no momentum, and its names (default
   * `group<i>.param<j>`) must be new.
   *
   * @example Unfreezing a layer
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * import { SGD } from "./sgd.ts";
   * await defaultDevice();
   * const head = tensor([1], { requiresGrad: true }), body = tensor([2], { requiresGrad: true });
   * const opt = new SGD({ params: [head], lr: 0.1 });
   * opt.addParamGroup({ params: [body], lr: 0.01 });
   * console.log(opt.paramGroups.length); // 2
   * ```
   */
  addParamGroup(group: ParamGroupOptions): void {
    const index = this.#groups.length;
    const existing = this.#groups.map((g) => ({ params: g.params, names: g.names }));
    const resolved =
      groupParams("SGD.addParamGroup", [...existing, group], SGD_GROUP_OPTIONS)[index];
    this.#groups.push(resolveGroup(group, resolved, index));
    this.#momentumSteps.add(resolved.params);
  }

  /**
   * SGD over a module's parameters (a frozen one is skipped while it has no gradient), named as
   * `Module.namedParameters()` names them (so its state dict lines up with the model's in a
   * checkpoint).
   *
   * @example
   * ```ts
   * import { defaultDevice } from "../mod.ts";
   * import { Linear } from "../nn/mod.ts";
   * import { SGD } from "./sgd.ts";
   * await defaultDevice();
   * const sgd = SGD.forModule(new Linear({ inFeatures: 4, outFeatures: 2 }), { lr: 0.01 });
   * console.log(sgd.paramGroups[0].names); // ["weight", "bias"]
   * ```
   */
  static forModule(
    model: Module,
    hyperparameters: Omit<ParamGroupOptions, "params" | "names">,
  ): SGD {
    return new SGD({
      ...hyperparameters,
      ...moduleParams(model),
    });
  }

  /**
   * The groups. A scheduler lowers a group's `lr` here (the next step uses it); the other
   * hyperparameters are checked at every step.
   */
  get paramGroups(): readonly SgdParamGroup[] {
    return this.#groups;
  }

  /** The first group's learning rate. */
  get lr(): number {
    return this.#groups[0].lr;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Sets the learning rate of one group (by index) or, with no index, of every group. */
  setLearningRate(lr: number, group?: number): void {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`SGD: learning rate must be a finite number ≥ 0, got ${lr}`);
    }
    if (group === undefined) {
      for (const g of this.#groups) g.lr = lr;
      return;
    }
    if (!Number.isInteger(group) || group < 0 || group >= this.#groups.length) {
      throw new RangeError(`SGD: no parameter group ${group} (have ${this.#groups.length})`);
    }
    this.#groups[group].lr = lr;
  }

  /**
   * Updates every parameter that has a gradient (parameters without one are skipped, so
   * frozen or newly added ones need nothing special), in one fused dispatch per device on a
   * GPU.
   * Records GPU work only; returns the number of parameters updated. With a guard that the
   * loop has not settled, checks every update first and settles it (one device).
   */
  step(options: OptimizerStepOptions = {}): number {
    checkOptions("SGD.step", options, OPTIMIZER_STEP_OPTIONS);
    const { guard } = options;
    if (guard?.pending) {
      this.check(guard);
      guard.settleOnDevice();
    }
    const updates = this.#updates();
    sgdUpdateAll(updates, guard);
    if (updates.length > 0) this.#steps++;
    return updates.length;
  }

  /**
   * Checks the updates {@link SGD.step} would make into `guard`, without making them: its flag
   * is lowered when a gradient, a new velocity or a new weight would hold a NaN or ±∞.
   */
  check(guard: StepGuard): void {
    sgdCheckAll(this.#updates(), guard);
  }

  /** Each parameter with a gradient: its tensors and its group's hyperparameters. */
  #updates(): SgdParamUpdate[] {
    const out: SgdParamUpdate[] = [];
    for (const group of this.#groups) {
      const hyperparameters = hyperparametersOf(group);
      group.params.forEach((param, pi) => {
        const grad = param.grad;
        if (!grad) return;
        if (grad.device !== param.device) {
          throw new Error(`SGD: the gradient of ${group.names[pi]} is on another device`);
        }
        const { counts, slot } = this.#momentumSteps.slotOf(param);
        const velocity = this.#velocityOf(param);
        out.push({ param, velocity, grad, hyperparameters, steps: counts, stepSlot: slot });
      });
    }
    return out;
  }

  /**
   * Frees every parameter's gradient (backward then starts from none), or with `setToNone`
   * false zeroes the existing ones in place (see {@link Optimizer.zeroGrad}).
   */
  zeroGrad(setToNone = true): void {
    zeroGrads(this.#groups, setToNone);
  }

  /**
   * The velocity of a parameter, if a step has updated it or loaded it (zeros after a step the
   * guard skipped, until one is applied).
   */
  velocity(param: Tensor): Tensor | undefined {
    return this.#velocity.get(param);
  }

  /**
   * The state dict: hyperparameters, steps, and the velocities as tensors that share the
   * optimiser's data (don't write to them; dispose them). Reading them back to the host is the
   * caller's choice, as with `Module.stateDict()`. A parameter's velocity is there once its
   * momentum buffer exists (PyTorch's `momentum_buffer`): after a step applied with momentum,
   * or a load (which waits for the device's counts).
   */
  async stateDict(): Promise<SgdStateDict> {
    const momentumSteps = await this.#momentumSteps.read();
    const state: Record<string, Tensor> = {};
    for (const group of this.#groups) {
      group.params.forEach((p, pi) => {
        const v = this.#velocity.get(p);
        if (v && momentumSteps.get(p)! > 0) state[group.names[pi]] = v.detach();
      });
    }
    return {
      version: 1,
      steps: this.#steps,
      paramGroups: this.#groups.map((g) => ({
        names: [...g.names],
        lr: g.lr,
        momentum: g.momentum,
        weightDecay: g.weightDecay,
        formulation: g.formulation,
        dampening: g.dampening,
        nesterov: g.nesterov,
        maximize: g.maximize,
      })),
      state,
    };
  }

  /**
   * Restores a state dict from {@link SGD.stateDict} (velocities as tensors on any device, or
   * host data `{ shape, data }`). The groups must hold the same parameter names; every name,
   * shape and hyperparameter is checked before anything changes.
   */
  async loadStateDict(dict: OptimizerStateDict<ParamGroupState, StateValue>): Promise<void> {
    const op = "SGD.loadStateDict";
    if (dict.version !== 1) throw new Error(`${op}: unknown version ${dict.version}`);
    checkGroupNames(op, dict.paramGroups, this.#groups);
    requireGroupKeys(op, "SGD", dict.paramGroups, ["momentum", "weightDecay", "formulation"]);
    // Dampening, Nesterov and maximize came later: a state without them had none.
    const groups = (dict.paramGroups as Partial<SgdGroupState>[]).map((s) => ({
      dampening: 0,
      nesterov: false,
      maximize: false,
      ...s,
    }));
    groups.forEach((s, gi) => checkGroup({ ...this.#groups[gi], ...s }, gi));
    const byName = new Map<string, Tensor>();
    for (const group of this.#groups) group.params.forEach((p, i) => byName.set(group.names[i], p));
    // Every velocity is read first: a failed read must not leave half the state loaded.
    const host = await readStateTensors(op, dict.state, (name) => byName.get(name)?.shape);
    groups.forEach((s, gi) => {
      Object.assign(this.#groups[gi], {
        lr: s.lr,
        momentum: s.momentum,
        weightDecay: s.weightDecay,
        formulation: s.formulation,
        dampening: s.dampening,
        nesterov: s.nesterov,
        maximize: s.maximize,
      });
    });
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
    const begun = new Map<Tensor, number>();
    for (const [name, data] of host) {
      const p = byName.get(name)!;
      this.#velocity.set(p, keep(fromTypedArray(data, p.shape, { device: p.device })));
      begun.set(p, 1);
    }
    this.#momentumSteps.load(begun);
    this.#steps = dict.steps;
  }

  /** Frees the velocities and the momentum counts. */
  dispose(): void {
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
    this.#momentumSteps.dispose();
  }

  #velocityOf(p: Tensor): Tensor {
    let v = this.#velocity.get(p);
    if (!v) {
      v = keep(zeros(p.shape as readonly number[], { device: p.device }));
      this.#velocity.set(p, v);
    }
    return v;
  }
}

/** A group as SGD holds it: `options` with the defaults filled in, checked. */
function resolveGroup(
  options: ParamGroupOptions,
  resolved: { params: Tensor[]; names: string[] },
  index: number,
): SgdParamGroup {
  const group: SgdParamGroup = {
    ...resolved,
    lr: options.lr,
    momentum: options.momentum ?? 0.9,
    weightDecay: options.weightDecay ?? 5e-4,
    formulation: options.formulation ?? "paper",
    dampening: options.dampening ?? 0,
    nesterov: options.nesterov ?? false,
    maximize: options.maximize ?? false,
  };
  checkGroup(group, index);
  return group;
}

function checkGroup(g: Omit<SgdParamGroup, "params" | "names">, index: number): void {
  checkSgdHyperparameters(hyperparametersOf(g), `SGD: group ${index}`);
}

/** A group's constants as the kernel takes them. */
function hyperparametersOf(g: Omit<SgdParamGroup, "params" | "names">): SgdHyperparameters {
  const { formulation, lr, momentum, weightDecay, dampening, nesterov, maximize } = g;
  return { formulation, lr, momentum, weightDecay, dampening, nesterov, maximize };
}

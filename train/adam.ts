/**
 * Adam and AdamW with `torch.optim.Adam`'s and `torch.optim.AdamW`'s semantics and defaults:
 * learning rate, betas, eps, weight decay (Adam: L2 added to the gradient; AdamW: decoupled,
 * `w ← w·(1 − lr·λ)` before the Adam step), bias correction with each parameter's own step
 * count, AMSGrad, parameter groups with their own hyperparameters, and state dicts that resume
 * exactly. The formula, in f32, is in `kernels/adam.ts`.
 *
 * As {@link SGD} does, a step updates every parameter that has a gradient in one multi-tensor
 * dispatch per device, and a parameter without a gradient is skipped: its moments and step
 * count stay as they are, as in PyTorch. Adam is a {@link ForeachOptimizer} of Adam's rule
 * (the groups, the states under PyTorch's names and the step counts are that class's). With a `StepGuard`,
 * every update is first checked on the GPU (`adamCheckAll`) and a step that would turn anything
 * non-finite changes nothing: weights, moments and step counts alike (the step counts live on
 * the device for that reason, as in PyTorch's fused Adam).
 *
 * @module
 */

import { moduleParams } from "./_param_groups.ts";
import type { Module, StateValue } from "../nn/module.ts";
import {
  ADAM_RULE,
  adamConstants,
  type AdamHyperparameters,
  adamVariant,
  checkAdamHyperparameters,
} from "../tensor/fused_adam.ts";
import { optionNames } from "../tensor/options.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { OptimizerStateDict, ParamGroup, ParamGroupState } from "./optimizer.ts";
import {
  type ForeachGroupOptions,
  type ForeachKind,
  ForeachOptimizer,
  type Hyperparameters,
} from "./foreach_optimizer.ts";

/** One parameter group as given to {@link Adam} or {@link AdamW}; unset values take defaults. */
export interface AdamGroupOptions extends ForeachGroupOptions {
  /** The parameters: contiguous f32 leaf tensors (any device). */
  params: readonly Tensor[];
  /** A unique name per parameter: the prefix of its state's keys in the state dict. */
  names?: readonly string[];
  /** Learning rate; default 1e-3. */
  lr?: number;
  /** Decays of the first and second moments; default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator; default 1e-8. */
  eps?: number;
  /** Weight decay; default 0 (Adam) or 1e-2 (AdamW). */
  weightDecay?: number;
  /** Whether to use AMSGrad (the maximum of the second moments); default false. */
  amsgrad?: boolean;
}

/** A parameter group as Adam holds it: the parameters and their hyperparameters. */
export interface AdamParamGroup extends ParamGroup {
  /** Decays of the first and second moments. */
  betas: [number, number];
  /** Added to the denominator. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  /** Whether AMSGrad is on. */
  amsgrad: boolean;
}

/** A group's entry in Adam's state dict. */
export interface AdamGroupState extends ParamGroupState {
  /** Decays of the first and second moments. */
  betas: [number, number];
  /** Added to the denominator. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  /** Whether AMSGrad is on. */
  amsgrad: boolean;
}

/**
 * Adam's state dict: the groups' hyperparameters, the count of `step` calls, and per stepped
 * parameter, under `<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.max_exp_avg_sq` (AMSGrad)
 * and `<name>.step` (shape [1]), PyTorch's per-parameter state.
 */
export type AdamStateDict<Value extends StateValue = Tensor> = OptimizerStateDict<
  AdamGroupState,
  Value
>;

/** The rule's reading of Adam's groups, for Adam (`decoupled` false) or AdamW. */
function adamKind(name: string, decoupled: boolean): ForeachKind<AdamParamGroup> {
  const hyperparameters = (g: Hyperparameters<AdamParamGroup>): AdamHyperparameters => ({
    lr: g.lr,
    beta1: g.betas[0],
    beta2: g.betas[1],
    eps: g.eps,
    weightDecay: g.weightDecay,
    decoupled,
    amsgrad: g.amsgrad,
  });
  return {
    name,
    optionNames: optionNames<AdamGroupOptions>({
      params: true,
      names: true,
      maximize: true,
      lr: true,
      betas: true,
      eps: true,
      weightDecay: true,
      amsgrad: true,
    }),
    family: "Adam or AdamW",
    rule: ADAM_RULE,
    keys: ["betas", "eps", "weightDecay", "amsgrad"],
    variant: (g) => adamVariant(hyperparameters(g)),
    constants: (g) => adamConstants(hyperparameters(g)),
    initialValue: () => 0,
    check(g, where) {
      if (!Array.isArray(g.betas) || g.betas.length !== 2) {
        throw new RangeError(`${where}: betas must be a pair of numbers`);
      }
      if (typeof g.amsgrad !== "boolean") {
        throw new TypeError(`${where}: amsgrad must be true or false`);
      }
      checkAdamHyperparameters(hyperparameters(g), where);
    },
  };
}

/**
 * Adam (Kingma and Ba, 2015) as `torch.optim.Adam`: weight decay is L2, added to the gradient.
 *
 * @example A few steps, then the state of the first parameter
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Adam } from "./adam.ts";
 * await defaultDevice();
 * const w = tensor([1, 2, 3], { requiresGrad: true });
 * const opt = new Adam({ params: [w], lr: 0.1 });
 * for (let i = 0; i < 3; i++) {
 *   const loss = w.mul(w).sum();
 *   await loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   loss.dispose();
 * }
 * console.log(await w.toArray()); // each weight about 0.3 nearer 0
 * const state = await opt.stateDict();
 * console.log(await state.state["group0.param0.step"].toArray()); // [3]
 * ```
 */
export class Adam extends ForeachOptimizer<AdamParamGroup, AdamGroupOptions> {
  /**
   * Adam over one parameter group or several.
   *
   * @param groups One group or several; each parameter may appear in one group only.
   */
  constructor(groups: AdamGroupOptions | readonly AdamGroupOptions[]) {
    const list = "params" in groups ? [groups as AdamGroupOptions] : [...groups];
    // The subclass's constants (AdamW's), read from its prototype before `this` exists.
    const own = new.target.prototype as Adam;
    super(adamKind(own.kind, own.decoupled), list, (g: AdamGroupOptions) => ({
      lr: g.lr ?? 1e-3,
      betas: [g.betas?.[0] ?? 0.9, g.betas?.[1] ?? 0.999],
      eps: g.eps ?? 1e-8,
      weightDecay: g.weightDecay ?? own.defaultWeightDecay,
      amsgrad: g.amsgrad ?? false,
    }));
  }

  /** Whether weight decay is decoupled from the gradient (AdamW) or added to it (Adam). */
  protected get decoupled(): boolean {
    return false;
  }

  /** The weight decay of a group that sets none. */
  protected get defaultWeightDecay(): number {
    return 0;
  }

  /** The optimiser's name in errors. */
  protected get kind(): string {
    return "Adam";
  }

  /**
   * The optimiser over a module's parameters (a frozen one is skipped while it has no gradient),
   * named as `Module.namedParameters()` names them.
   *
   * @example
   * ```ts
   * import { defaultDevice } from "../mod.ts";
   * import { Linear } from "../nn/mod.ts";
   * import { AdamW } from "./adam.ts";
   * await defaultDevice();
   * const opt = AdamW.forModule(new Linear({ inFeatures: 4, outFeatures: 2 }), { lr: 1e-3 });
   * console.log(opt.paramGroups[0].names, opt.paramGroups[0].weightDecay); // ["weight", "bias"] 0.01
   * ```
   */
  static forModule<T extends Adam>(
    this: new (groups: AdamGroupOptions) => T,
    model: Module,
    hyperparameters: Omit<AdamGroupOptions, "params" | "names"> = {},
  ): T {
    return new this({
      ...hyperparameters,
      ...moduleParams(model),
    });
  }
}

/**
 * AdamW (Loshchilov and Hutter, 2019) as `torch.optim.AdamW`: Adam with decoupled weight decay,
 * `w ← w·(1 − lr·λ)` before the Adam step, λ 1e-2 by default.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { AdamW } from "./adam.ts";
 * await defaultDevice();
 * const w = tensor([1, -1], { requiresGrad: true });
 * const opt = new AdamW({ params: [w], lr: 0.01, weightDecay: 0.1 });
 * const loss = w.mul(w).sum();
 * await loss.backward();
 * opt.step();
 * console.log(await w.toArray()); // about [0.989, -0.989]
 * ```
 */
export class AdamW extends Adam {
  /** Decoupled: AdamW. */
  protected override get decoupled(): boolean {
    return true;
  }

  /** PyTorch's AdamW default, 1e-2. */
  protected override get defaultWeightDecay(): number {
    return 1e-2;
  }

  /** "AdamW". */
  protected override get kind(): string {
    return "AdamW";
  }
}

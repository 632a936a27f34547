/**
 * RMSprop with `torch.optim.RMSprop`'s semantics and defaults (lr 1e-2, α 0.99, eps 1e-8, no
 * weight decay, no momentum, not centered): parameter groups with their own hyperparameters,
 * fused multi-tensor updates guarded by the step guard, and state dicts with PyTorch's
 * per-parameter names (`square_avg`, `grad_avg`, `momentum_buffer`, `step`) that resume
 * exactly. The formula, in f32, is in `kernels/rmsprop.ts`.
 *
 * @module
 */

import { moduleParams } from "./_param_groups.ts";
import type { Module } from "../nn/module.ts";
import {
  checkRmspropHyperparameters,
  RMSPROP_RULE,
  rmspropConstants,
  rmspropVariant,
} from "../tensor/fused_foreach.ts";
import { optionNames } from "../tensor/options.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { ParamGroup } from "./optimizer.ts";
import {
  type ForeachGroupOptions,
  type ForeachKind,
  ForeachOptimizer,
} from "./foreach_optimizer.ts";

/** One parameter group as given to {@link RMSprop}; unset values take PyTorch's defaults. */
export interface RmspropGroupOptions extends ForeachGroupOptions {
  /** The parameters: contiguous f32 leaf tensors (any device). */
  params: readonly Tensor[];
  /** A unique name per parameter: the prefix of its state's keys in the state dict. */
  names?: readonly string[];
  /** Learning rate; default 1e-2. */
  lr?: number;
  /** Smoothing constant of the squares' average; default 0.99. */
  alpha?: number;
  /** Added to the denominator; default 1e-8. */
  eps?: number;
  /** Weight decay (L2, added to the gradient); default 0. */
  weightDecay?: number;
  /** Momentum; default 0 (no momentum buffer). */
  momentum?: number;
  /** Divide by the gradient's estimated variance instead of its second moment; default false. */
  centered?: boolean;
}

/** A parameter group as RMSprop holds it. */
export interface RmspropParamGroup extends ParamGroup {
  /** Smoothing constant α. */
  alpha: number;
  /** Added to the denominator. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  /** Momentum. */
  momentum: number;
  /** Whether centered. */
  centered: boolean;
}

const KIND: ForeachKind<RmspropParamGroup> = {
  name: "RMSprop",
  optionNames: optionNames<RmspropGroupOptions>({
    params: true,
    names: true,
    maximize: true,
    lr: true,
    alpha: true,
    eps: true,
    weightDecay: true,
    momentum: true,
    centered: true,
  }),
  rule: RMSPROP_RULE,
  keys: ["alpha", "eps", "weightDecay", "momentum", "centered"],
  variant: rmspropVariant,
  constants: rmspropConstants,
  initialValue: () => 0,
  check: checkRmspropHyperparameters,
};

/**
 * RMSprop (Hinton, lecture 6e) as `torch.optim.RMSprop`.
 *
 * @example A few steps with momentum, then the state of the parameter
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { RMSprop } from "./rmsprop.ts";
 * await defaultDevice();
 * const w = tensor([1, -2], { requiresGrad: true });
 * const opt = new RMSprop({ params: [w], lr: 0.01, momentum: 0.9 });
 * for (let i = 0; i < 3; i++) {
 *   const loss = w.mul(w).sum();
 *   await loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   loss.dispose();
 * }
 * const state = await opt.stateDict();
 * console.log(Object.keys(state.state)); // square_avg, momentum_buffer and step of group0.param0
 * ```
 */
export class RMSprop extends ForeachOptimizer<RmspropParamGroup, RmspropGroupOptions> {
  /**
   * RMSprop over one parameter group or several.
   *
   * @param groups One group or several; each parameter may appear in one group only.
   */
  constructor(groups: RmspropGroupOptions | readonly RmspropGroupOptions[]) {
    const list = "params" in groups ? [groups as RmspropGroupOptions] : [...groups];
    super(KIND, list, (g: RmspropGroupOptions) => ({
      lr: g.lr ?? 1e-2,
      alpha: g.alpha ?? 0.99,
      eps: g.eps ?? 1e-8,
      weightDecay: g.weightDecay ?? 0,
      momentum: g.momentum ?? 0,
      centered: g.centered ?? false,
    }));
  }

  /**
   * RMSprop over a module's parameters (a frozen one is skipped while it has no gradient), named as
   * `Module.namedParameters()` names them.
   *
   * @example
   * ```ts
   * import { defaultDevice } from "../mod.ts";
   * import { Linear } from "../nn/mod.ts";
   * import { RMSprop } from "./rmsprop.ts";
   * await defaultDevice();
   * const opt = RMSprop.forModule(new Linear({ inFeatures: 4, outFeatures: 2 }), { centered: true });
   * console.log(opt.paramGroups[0].names, opt.paramGroups[0].alpha); // ["weight", "bias"] 0.99
   * ```
   */
  static forModule(
    model: Module,
    hyperparameters: Omit<RmspropGroupOptions, "params" | "names"> = {},
  ): RMSprop {
    return new RMSprop({
      ...hyperparameters,
      ...moduleParams(model),
    });
  }
}

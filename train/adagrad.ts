/**
 * Adagrad with `torch.optim.Adagrad`'s semantics and defaults (lr 1e-2, no learning-rate
 * decay, no weight decay, accumulator starting at 0, eps 1e-10): parameter groups with their
 * own hyperparameters, fused multi-tensor updates guarded by the step guard, and state dicts
 * with PyTorch's per-parameter names (`sum`, `step`) that resume exactly. The formula, in f32,
 * is in `kernels/adagrad.ts`; the step counts that the learning-rate decay uses live on the
 * device, so a skipped step leaves them as they were.
 *
 * @module
 */

import { moduleParams } from "./_param_groups.ts";
import type { Module } from "../nn/module.ts";
import {
  ADAGRAD_RULE,
  adagradConstants,
  checkAdagradHyperparameters,
} from "../tensor/fused_foreach.ts";
import { optionNames } from "../tensor/options.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { ParamGroup } from "./optimizer.ts";
import {
  type ForeachGroupOptions,
  type ForeachKind,
  ForeachOptimizer,
} from "./foreach_optimizer.ts";

/** One parameter group as given to {@link Adagrad}; unset values take PyTorch's defaults. */
export interface AdagradGroupOptions extends ForeachGroupOptions {
  /** The parameters: contiguous f32 leaf tensors (any device). */
  params: readonly Tensor[];
  /** A unique name per parameter: the prefix of its state's keys in the state dict. */
  names?: readonly string[];
  /** Learning rate; default 1e-2. */
  lr?: number;
  /** Decay of the learning rate: lr / (1 + (step − 1)·lrDecay); default 0. */
  lrDecay?: number;
  /** Weight decay (L2, added to the gradient); default 0. */
  weightDecay?: number;
  /** The accumulator's starting value; default 0. */
  initialAccumulatorValue?: number;
  /** Added to the denominator; default 1e-10. */
  eps?: number;
}

/** A parameter group as Adagrad holds it. */
export interface AdagradParamGroup extends ParamGroup {
  /** Learning-rate decay. */
  lrDecay: number;
  /** Weight decay. */
  weightDecay: number;
  /** The accumulator's starting value. */
  initialAccumulatorValue: number;
  /** Added to the denominator. */
  eps: number;
}

const KIND: ForeachKind<AdagradParamGroup> = {
  name: "Adagrad",
  optionNames: optionNames<AdagradGroupOptions>({
    params: true,
    names: true,
    maximize: true,
    lr: true,
    lrDecay: true,
    weightDecay: true,
    initialAccumulatorValue: true,
    eps: true,
  }),
  rule: ADAGRAD_RULE,
  keys: ["lrDecay", "weightDecay", "initialAccumulatorValue", "eps"],
  variant: () => 0,
  constants: adagradConstants,
  initialValue: (g) => g.initialAccumulatorValue,
  check(g, where) {
    checkAdagradHyperparameters(g, where);
    const v = g.initialAccumulatorValue;
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(
        `${where}: initialAccumulatorValue must be a finite number ≥ 0, got ${v}`,
      );
    }
  },
};

/**
 * Adagrad (Duchi, Hazan and Singer, 2011) as `torch.optim.Adagrad`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Adagrad } from "./adagrad.ts";
 * await defaultDevice();
 * const w = tensor([1, 2], { requiresGrad: true });
 * const opt = new Adagrad({ params: [w], lr: 0.1 });
 * const loss = w.mul(w).sum();
 * await loss.backward();
 * opt.step(); // Σ = g², so each weight moves by lr
 * console.log(await w.toArray()); // about [0.9, 1.9]
 * ```
 */
export class Adagrad extends ForeachOptimizer<AdagradParamGroup, AdagradGroupOptions> {
  /**
   * Adagrad over one parameter group or several.
   *
   * @param groups One group or several; each parameter may appear in one group only.
   */
  constructor(groups: AdagradGroupOptions | readonly AdagradGroupOptions[]) {
    const list = "params" in groups ? [groups as AdagradGroupOptions] : [...groups];
    super(KIND, list, (g: AdagradGroupOptions) => ({
      lr: g.lr ?? 1e-2,
      lrDecay: g.lrDecay ?? 0,
      weightDecay: g.weightDecay ?? 0,
      initialAccumulatorValue: g.initialAccumulatorValue ?? 0,
      eps: g.eps ?? 1e-10,
    }));
  }

  /**
   * Adagrad over a module's parameters (a frozen one is skipped while it has no gradient), named as
   * `Module.namedParameters()` names them.
   *
   * @example
   * ```ts
   * import { defaultDevice } from "../mod.ts";
   * import { Linear } from "../nn/mod.ts";
   * import { Adagrad } from "./adagrad.ts";
   * await defaultDevice();
   * const opt = Adagrad.forModule(new Linear({ inFeatures: 4, outFeatures: 2 }), { lrDecay: 1e-4 });
   * console.log(opt.paramGroups[0].names); // ["weight", "bias"]
   * ```
   */
  static forModule(
    model: Module,
    hyperparameters: Omit<AdagradGroupOptions, "params" | "names"> = {},
  ): Adagrad {
    return new Adagrad({
      ...hyperparameters,
      ...moduleParams(model),
    });
  }
}

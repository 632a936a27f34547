/**
 * Adam and AdamW with `torch.optim.Adam`'s and `torch.optim.AdamW`'s semantics and defaults:
 * learning rate, betas, eps, weight decay (Adam: L2 added to the gradient; AdamW: decoupled,
 * `w ← w·(1 − lr·λ)` before the Adam step), bias correction with each parameter's own step
 * count, AMSGrad, parameter groups with their own hyperparameters, and state dicts that resume
 * exactly. The formula, in f32, is in `kernels/adam.ts`.
 *
 * As {@link SGD} does, a step updates every parameter that has a gradient in one multi-tensor
 * dispatch per device (the tensor layer's `adamUpdateAll`), and a parameter without a gradient
 * is skipped: its moments and step count stay as they are, as in PyTorch. With a `StepGuard`,
 * every update is first checked on the GPU (`adamCheckAll`) and a step that would turn anything
 * non-finite changes nothing: weights, moments and step counts alike (the step counts live on
 * the device for that reason, as in PyTorch's fused Adam).
 *
 * @module
 */

import type { Module, StateValue } from "../nn/module.ts";
import { fromTypedArray, zeros } from "../tensor/creation.ts";
import {
  adamCheckAll,
  type AdamHyperparameters,
  type AdamParamUpdate,
  adamUpdateAll,
  checkAdamHyperparameters,
} from "../tensor/fused_adam.ts";
import { keep } from "../tensor/memory.ts";
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
  readStateTensors,
  requireGroupKeys,
} from "./_param_groups.ts";

/** One parameter group as given to {@link Adam} or {@link AdamW}; unset values take defaults. */
export interface AdamGroupOptions {
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

/** The device a parameter lives on. */
type Device = Tensor["device"];

/** A parameter's moments. */
interface Moments {
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq?: Tensor;
}

/** The step counts of the parameters on one device, and each parameter's slot in them. */
interface StepCounts {
  counts: Tensor;
  slots: Map<Tensor, number>;
}

const STATE_KEYS = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] as const;
const MOMENT_OF = { exp_avg: "expAvg", exp_avg_sq: "expAvgSq", max_exp_avg_sq: "maxExpAvgSq" };

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
export class Adam implements Optimizer {
  readonly #groups: AdamParamGroup[];
  readonly #moments = new Map<Tensor, Moments>();
  readonly #steps = new Map<Device, StepCounts>();
  #stepCalls = 0;

  /**
   * Adam over one parameter group or several.
   *
   * @param groups One group or several; each parameter may appear in one group only.
   */
  constructor(groups: AdamGroupOptions | readonly AdamGroupOptions[]) {
    const list: readonly AdamGroupOptions[] = "params" in groups
      ? [groups as AdamGroupOptions]
      : groups as readonly AdamGroupOptions[];
    const resolved = groupParams(this.kind, list);
    this.#groups = list.map((g, gi) => {
      const group: AdamParamGroup = {
        ...resolved[gi],
        lr: g.lr ?? 1e-3,
        betas: [g.betas?.[0] ?? 0.9, g.betas?.[1] ?? 0.999],
        eps: g.eps ?? 1e-8,
        weightDecay: g.weightDecay ?? this.defaultWeightDecay,
        amsgrad: g.amsgrad ?? false,
      };
      this.#check(group, gi);
      return group;
    });
    for (const group of this.#groups) {
      for (const p of group.params) {
        const counts = this.#steps.get(p.device) ?? { counts: undefined!, slots: new Map() };
        counts.slots.set(p, counts.slots.size);
        this.#steps.set(p.device, counts);
      }
    }
    for (const [device, counts] of this.#steps) {
      counts.counts = keep(zeros([counts.slots.size], { device }));
    }
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
   * The optimiser over a module's parameters, named as `Module.namedParameters()` names them.
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
    const named = model.namedParameters();
    return new this({
      ...hyperparameters,
      params: named.map(([, p]) => p),
      names: named.map(([name]) => name),
    });
  }

  /** The groups; a scheduler sets a group's `lr` here and the next step uses it. */
  get paramGroups(): readonly AdamParamGroup[] {
    return this.#groups;
  }

  /** The count of `step` calls that updated a parameter. */
  get steps(): number {
    return this.#stepCalls;
  }

  /**
   * Updates every parameter that has a gradient, in one fused dispatch per device on a GPU.
   * Records GPU work only; returns the number of parameters updated. With a guard that the
   * loop has not settled, checks every update first and settles it (one device).
   */
  step(options: OptimizerStepOptions = {}): number {
    const { guard } = options;
    if (guard?.pending) {
      this.check(guard);
      guard.settleOnDevice();
    }
    const updates = this.#updates();
    adamUpdateAll(updates, guard);
    if (updates.length > 0) this.#stepCalls++;
    return updates.length;
  }

  /**
   * Checks the updates {@link Adam.step} would make into `guard` without making them: its flag
   * is lowered when a gradient, a new weight or a new moment would hold a NaN or ±∞.
   */
  check(guard: StepGuard): void {
    adamCheckAll(this.#updates(), guard);
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const group of this.#groups) for (const p of group.params) p.zeroGrad();
  }

  /**
   * The state dict: hyperparameters, and each stepped parameter's moments (tensors sharing the
   * optimiser's data: don't write to them; dispose them) and step count (read back here).
   */
  async stateDict(): Promise<AdamStateDict> {
    const counts = new Map<Device, Float32Array>();
    for (const [device, s] of this.#steps) {
      counts.set(device, await s.counts.data() as Float32Array);
    }
    const state: Record<string, Tensor> = {};
    for (const group of this.#groups) {
      group.params.forEach((p, pi) => {
        const moments = this.#moments.get(p);
        if (!moments) return;
        const name = group.names[pi];
        for (const key of STATE_KEYS) {
          const t = moments[MOMENT_OF[key] as keyof Moments];
          if (t) state[`${name}.${key}`] = t.detach();
        }
        const step = counts.get(p.device)![this.#steps.get(p.device)!.slots.get(p)!];
        state[`${name}.step`] = fromTypedArray(Float32Array.of(step), [1], { device: p.device });
      });
    }
    return {
      version: 1,
      steps: this.#stepCalls,
      paramGroups: this.#groups.map((g) => ({
        names: [...g.names],
        lr: g.lr,
        betas: [...g.betas],
        eps: g.eps,
        weightDecay: g.weightDecay,
        amsgrad: g.amsgrad,
      })),
      state,
    };
  }

  /**
   * Restores a state dict from {@link Adam.stateDict} (tensors on any device, or host data
   * `{ shape, data }`). The groups must hold the same parameter names; every name, shape and
   * hyperparameter is checked before anything changes.
   */
  async loadStateDict(dict: OptimizerStateDict<ParamGroupState, StateValue>): Promise<void> {
    const op = `${this.kind}.loadStateDict`;
    if (dict.version !== 1) throw new Error(`${op}: unknown version ${dict.version}`);
    checkGroupNames(op, dict.paramGroups, this.#groups);
    requireGroupKeys(op, "Adam or AdamW", dict.paramGroups, [
      "betas",
      "eps",
      "weightDecay",
      "amsgrad",
    ]);
    const groups = dict.paramGroups as Partial<AdamGroupState>[];
    groups.forEach((s, gi) => this.#check({ ...this.#groups[gi], ...s }, gi));
    const byName = new Map<string, Tensor>();
    for (const group of this.#groups) group.params.forEach((p, i) => byName.set(group.names[i], p));
    const split = (key: string): [Tensor | undefined, string] => {
      const dot = key.lastIndexOf(".");
      return [byName.get(key.slice(0, dot)), key.slice(dot + 1)];
    };
    const host = await readStateTensors(op, dict.state, (key) => {
      const [p, field] = split(key);
      if (!p) return undefined;
      if (field === "step") return [1];
      return (STATE_KEYS as readonly string[]).includes(field)
        ? p.shape as readonly number[]
        : undefined;
    });
    for (const name of byName.keys()) {
      const has = [...STATE_KEYS, "step"].map((k) => host.has(`${name}.${k}`));
      // The maximum (index 2) is AMSGrad's only; the rest come together or not at all.
      if (has.some((h) => h) && !(has[0] && has[1] && has[3])) {
        throw new Error(`${op}: the state of ${name} is incomplete`);
      }
    }
    groups.forEach((s, gi) => {
      Object.assign(this.#groups[gi], {
        lr: s.lr,
        betas: [...s.betas!],
        eps: s.eps,
        weightDecay: s.weightDecay,
        amsgrad: s.amsgrad,
      });
    });
    this.#disposeMoments();
    const counts = new Map<Device, Float32Array>();
    for (const [device, s] of this.#steps) counts.set(device, new Float32Array(s.slots.size));
    for (const group of this.#groups) {
      group.params.forEach((p, pi) => {
        const name = group.names[pi];
        const expAvg = host.get(`${name}.exp_avg`);
        if (!expAvg) return;
        const upload = (data: Float32Array) =>
          keep(fromTypedArray(data, p.shape as readonly number[], { device: p.device }));
        const max = host.get(`${name}.max_exp_avg_sq`);
        this.#moments.set(p, {
          expAvg: upload(expAvg),
          expAvgSq: upload(host.get(`${name}.exp_avg_sq`)!),
          maxExpAvgSq: max ? upload(max) : undefined,
        });
        counts.get(p.device)![this.#steps.get(p.device)!.slots.get(p)!] =
          host.get(`${name}.step`)![0];
      });
    }
    for (const [device, s] of this.#steps) {
      s.counts.dispose();
      s.counts = keep(fromTypedArray(counts.get(device)!, [s.slots.size], { device }));
    }
    this.#stepCalls = dict.steps;
  }

  /** Frees the moments and step counts (not the parameters). */
  dispose(): void {
    this.#disposeMoments();
    for (const s of this.#steps.values()) s.counts.dispose();
    this.#steps.clear();
  }

  #disposeMoments(): void {
    for (const m of this.#moments.values()) {
      m.expAvg.dispose();
      m.expAvgSq.dispose();
      m.maxExpAvgSq?.dispose();
    }
    this.#moments.clear();
  }

  /** Each parameter with a gradient: its tensors, step slot and group's hyperparameters. */
  #updates(): AdamParamUpdate[] {
    const out: AdamParamUpdate[] = [];
    for (const group of this.#groups) {
      const hyperparameters = this.#hyperparameters(group);
      group.params.forEach((param, pi) => {
        const grad = param.grad;
        if (!grad) return;
        if (grad.device !== param.device) {
          throw new Error(`${this.kind}: the gradient of ${group.names[pi]} is on another device`);
        }
        const steps = this.#steps.get(param.device)!;
        out.push({
          param,
          grad,
          ...this.#momentsOf(param, group.amsgrad),
          steps: steps.counts,
          stepSlot: steps.slots.get(param)!,
          hyperparameters,
        });
      });
    }
    return out;
  }

  /** A parameter's moments, made (zeros) at its first step; AMSGrad's maximum when asked. */
  #momentsOf(p: Tensor, amsgrad: boolean): Moments {
    const make = () => keep(zeros(p.shape as readonly number[], { device: p.device }));
    let m = this.#moments.get(p);
    if (!m) {
      m = { expAvg: make(), expAvgSq: make() };
      this.#moments.set(p, m);
    }
    // Turned on mid-run (PyTorch then starts the maximum from zeros too).
    if (amsgrad && !m.maxExpAvgSq) m.maxExpAvgSq = make();
    if (!amsgrad) return { expAvg: m.expAvg, expAvgSq: m.expAvgSq };
    return m;
  }

  #check(g: Omit<AdamParamGroup, "params" | "names">, index: number): void {
    if (!Array.isArray(g.betas) || g.betas.length !== 2) {
      throw new RangeError(`${this.kind}: group ${index}: betas must be a pair of numbers`);
    }
    if (typeof g.amsgrad !== "boolean") {
      throw new TypeError(`${this.kind}: group ${index}: amsgrad must be true or false`);
    }
    checkAdamHyperparameters(this.#hyperparameters(g), `${this.kind}: group ${index}`);
  }

  /** A group's constants as the kernel takes them. */
  #hyperparameters(g: Omit<AdamParamGroup, "params" | "names">): AdamHyperparameters {
    return {
      lr: g.lr,
      beta1: g.betas[0],
      beta2: g.betas[1],
      eps: g.eps,
      weightDecay: g.weightDecay,
      decoupled: this.decoupled,
      amsgrad: g.amsgrad,
    };
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

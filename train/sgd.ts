/**
 * Stochastic gradient descent with momentum and weight decay, in the paper's formulation or
 * PyTorch's, over parameter groups. Each step is one fused update per parameter (the tensor
 * layer's `sgdUpdate`); nothing is read back except when a checkpoint asks for the state.
 * With a `StepGuard`, every update is first checked on the GPU (`sgdCheck`) and all of them
 * are skipped when the loss, a gradient or an updated weight would be non-finite.
 *
 * @module
 */

import { fromTypedArray, zeros } from "../tensor/creation.ts";
import {
  sgdCheck,
  type SgdFormulation,
  type SgdHyperparameters,
  type SgdSlot,
  sgdUpdate,
} from "../tensor/fused_sgd.ts";
import { keep } from "../tensor/memory.ts";
import type { StepGuard } from "../tensor/step_guard.ts";
import type { Tensor } from "../tensor/tensor.ts";

export type { SgdFormulation } from "../tensor/fused_sgd.ts";

/** One parameter group as given to {@link SGD}. */
export interface ParamGroupOptions {
  /** The parameters: contiguous f32 leaf tensors (any device). */
  params: readonly Tensor[];
  /** A unique name per parameter, used as the key of its velocity in the state. */
  names?: readonly string[];
  /** Learning rate ε. */
  lr: number;
  /** Momentum μ; default 0.9. */
  momentum?: number;
  /** Weight decay λ; default 5e-4. */
  weightDecay?: number;
  /** Update rule; default "paper". */
  formulation?: SgdFormulation;
}

/** A parameter group as the optimiser holds it. */
export interface ParamGroup {
  /** The parameters. */
  readonly params: readonly Tensor[];
  /** Their names. */
  readonly names: readonly string[];
  /** Learning rate ε. */
  lr: number;
  /** Momentum μ. */
  momentum: number;
  /** Weight decay λ. */
  weightDecay: number;
  /** Update rule. */
  formulation: SgdFormulation;
}

/** The hyperparameters of a group in a saved state. */
export interface SgdGroupState {
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  momentum: number;
  /** Weight decay. */
  weightDecay: number;
  /** Update rule. */
  formulation: SgdFormulation;
  /** Parameter names, in order. */
  names: string[];
}

/** A velocity read back for a checkpoint. */
export interface VelocityState {
  /** The parameter's shape. */
  shape: number[];
  /** Its elements, row-major. */
  data: Float32Array;
}

/**
 * The optimiser's state: JSON-friendly hyperparameters plus velocities by parameter name (a
 * parameter with no entry has never been stepped: its velocity is zero).
 */
export interface SgdState {
  /** Format version. */
  version: 1;
  /** Steps taken (calls of `step` that updated at least one parameter). */
  steps: number;
  /** Groups in order. */
  groups: SgdGroupState[];
  /** Velocities by parameter name. */
  velocities: Record<string, VelocityState>;
}

/** Options of {@link SGD.step}. */
export interface SgdStepOptions {
  /**
   * The training step's guard, begun on its loss: every update is checked first, and all are
   * skipped on the GPU when the loss, a gradient, a new velocity or a new weight would be
   * non-finite. With parameters on several devices, call {@link SGD.check} and
   * `await guard.settle()` before `step`. Without a guard every update runs.
   */
  guard?: StepGuard;
}

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
 * ```
 */
export class SGD {
  readonly #groups: ParamGroup[];
  readonly #velocity = new Map<Tensor, Tensor>();
  #steps = 0;

  /** @param groups One group or several; each parameter may appear in one group only. */
  constructor(groups: ParamGroupOptions | readonly ParamGroupOptions[]) {
    const list: readonly ParamGroupOptions[] = "params" in groups
      ? [groups as ParamGroupOptions]
      : groups as readonly ParamGroupOptions[];
    if (list.length === 0) throw new RangeError("SGD: no parameter groups");
    const seen = new Set<Tensor>();
    const names = new Set<string>();
    this.#groups = list.map((g, gi) => {
      const group: ParamGroup = {
        params: [...g.params],
        names: g.names
          ? [...g.names]
          : g.params.map((_: Tensor, pi: number) => `group${gi}.param${pi}`),
        lr: g.lr,
        momentum: g.momentum ?? 0.9,
        weightDecay: g.weightDecay ?? 5e-4,
        formulation: g.formulation ?? "paper",
      };
      checkGroup(group, gi);
      group.params.forEach((p, pi) => {
        if (seen.has(p)) throw new Error(`SGD: parameter ${group.names[pi]} is in two groups`);
        seen.add(p);
        if (names.has(group.names[pi])) {
          throw new Error(`SGD: duplicate parameter name ${group.names[pi]}`);
        }
        names.add(group.names[pi]);
        if (p.dtype !== "f32" || !p.isContiguous) {
          throw new TypeError(
            `SGD: parameter ${group.names[pi]} must be a contiguous f32 tensor ` +
              `(got ${p.dtype} [${p.shape}]${p.isContiguous ? "" : ", a view"})`,
          );
        }
      });
      return group;
    });
  }

  /** The groups; change `lr` through {@link SGD.setLearningRate}. */
  get groups(): readonly Readonly<ParamGroup>[] {
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
   * Updates every parameter that has a gradient (parameters without one are skipped), one
   * fused kernel each. Records GPU work only; returns the number of parameters updated.
   */
  step(options: SgdStepOptions = {}): number {
    const { guard } = options;
    if (guard?.pending) {
      this.check(guard);
      guard.settleOnDevice();
    }
    const updates = this.#updates();
    for (const [slot, h] of updates) sgdUpdate(slot, h, guard);
    if (updates.length > 0) this.#steps++;
    return updates.length;
  }

  /**
   * Checks this step's updates into `guard` without making them (lowering its flag when one
   * would be non-finite). {@link SGD.step} does it itself when the guard is not settled yet.
   */
  check(guard: StepGuard): void {
    const updates = this.#updates();
    for (const [slot, h] of updates) sgdCheck(slot, h, guard);
  }

  /** Each parameter with a gradient: its slot and its group's hyperparameters. */
  #updates(): [SgdSlot, SgdHyperparameters][] {
    const out: [SgdSlot, SgdHyperparameters][] = [];
    for (const group of this.#groups) {
      const h: SgdHyperparameters = {
        formulation: group.formulation,
        lr: group.lr,
        momentum: group.momentum,
        weightDecay: group.weightDecay,
      };
      group.params.forEach((param, pi) => {
        const grad = param.grad;
        if (!grad) return;
        if (grad.device !== param.device) {
          throw new Error(`SGD: the gradient of ${group.names[pi]} is on another device`);
        }
        out.push([{ param, velocity: this.#velocityOf(param), grad }, h]);
      });
    }
    return out;
  }

  /** Frees every parameter's gradient (backward then starts from none). */
  zeroGrad(): void {
    for (const group of this.#groups) for (const p of group.params) p.zeroGrad();
  }

  /** The velocity of a parameter, if it has been stepped or loaded. */
  velocity(param: Tensor): Tensor | undefined {
    return this.#velocity.get(param);
  }

  /** Reads the state back (velocities come from the GPU: call only when checkpointing). */
  async state(): Promise<SgdState> {
    const velocities: Record<string, VelocityState> = {};
    for (const group of this.#groups) {
      for (let pi = 0; pi < group.params.length; pi++) {
        const v = this.#velocity.get(group.params[pi]);
        if (!v) continue;
        velocities[group.names[pi]] = {
          shape: [...(v.shape as readonly number[])],
          data: (await v.data()) as Float32Array,
        };
      }
    }
    return {
      version: 1,
      steps: this.#steps,
      groups: this.#groups.map((g) => ({
        lr: g.lr,
        momentum: g.momentum,
        weightDecay: g.weightDecay,
        formulation: g.formulation,
        names: [...g.names],
      })),
      velocities,
    };
  }

  /**
   * Restores a state from {@link SGD.state}: hyperparameters and velocities. The groups must
   * have the same number of parameters with the same names and shapes.
   */
  loadState(state: SgdState): void {
    if (state.version !== 1) throw new Error(`SGD.loadState: unknown version ${state.version}`);
    if (state.groups.length !== this.#groups.length) {
      throw new Error(
        `SGD.loadState: state has ${state.groups.length} groups, optimiser has ` +
          `${this.#groups.length}`,
      );
    }
    state.groups.forEach((s, gi) => {
      const group = this.#groups[gi];
      if (s.names.length !== group.names.length || s.names.some((n, i) => n !== group.names[i])) {
        throw new Error(`SGD.loadState: group ${gi} has different parameters`);
      }
      checkGroup({ ...group, ...s }, gi);
    });
    // Validate every velocity before touching anything.
    const byName = new Map<string, Tensor>();
    for (const group of this.#groups) group.params.forEach((p, i) => byName.set(group.names[i], p));
    for (const [name, v] of Object.entries(state.velocities)) {
      const p = byName.get(name);
      if (!p) throw new Error(`SGD.loadState: velocity for unknown parameter ${name}`);
      const shape = p.shape as readonly number[];
      if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
        throw new Error(
          `SGD.loadState: velocity of ${name} has shape [${v.shape}], not [${shape}]`,
        );
      }
      if (v.data.length !== p.size) {
        throw new Error(`SGD.loadState: velocity of ${name} has ${v.data.length} values`);
      }
    }
    state.groups.forEach((s, gi) => {
      Object.assign(this.#groups[gi], {
        lr: s.lr,
        momentum: s.momentum,
        weightDecay: s.weightDecay,
        formulation: s.formulation,
      });
    });
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
    for (const [name, v] of Object.entries(state.velocities)) {
      const p = byName.get(name)!;
      const t = keep(fromTypedArray(v.data, v.shape, { device: p.device }));
      this.#velocity.set(p, t);
    }
    this.#steps = state.steps;
  }

  /** Frees the velocities. */
  dispose(): void {
    for (const v of this.#velocity.values()) v.dispose();
    this.#velocity.clear();
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

function checkGroup(g: Omit<ParamGroup, "params" | "names">, index: number): void {
  if (g.formulation !== "paper" && g.formulation !== "pytorch") {
    throw new RangeError(`SGD: group ${index}: formulation must be "paper" or "pytorch"`);
  }
  for (const key of ["lr", "momentum", "weightDecay"] as const) {
    if (!Number.isFinite(g[key]) || g[key] < 0) {
      throw new RangeError(
        `SGD: group ${index}: ${key} must be a finite number ≥ 0, got ${g[key]}`,
      );
    }
  }
}

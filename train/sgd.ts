/**
 * Stochastic gradient descent with momentum and weight decay, in the paper's formulation or
 * PyTorch's, over parameter groups. Each step is one fused GPU kernel per parameter
 * (`kernels/sgd.ts`); nothing is read back except when a checkpoint asks for the state.
 *
 * @module
 */

import type { Device, GpuBuffer } from "../kernels/device.ts";
import { type SgdFormulation, type SgdHyperparameters, sgdUpdate } from "../kernels/sgd.ts";
import { fromTypedArray, zeros } from "../tensor/creation.ts";
import { keep } from "../tensor/memory.ts";
import type { Tensor } from "../tensor/tensor.ts";

export type { SgdFormulation } from "../kernels/sgd.ts";

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
   * Step guards (see `stepGuard` in `kernels/sgd.ts`): one buffer for the device it lives on,
   * or one per device. A parameter's update is skipped on the GPU when its device's guard flag
   * is down (the loss was not finite). Without guards every update runs.
   */
  guard?: GpuBuffer | ReadonlyMap<Device, GpuBuffer>;
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
    let updated = 0;
    for (const group of this.#groups) {
      const h: SgdHyperparameters = {
        formulation: group.formulation,
        lr: group.lr,
        momentum: group.momentum,
        weightDecay: group.weightDecay,
      };
      group.params.forEach((p, pi) => {
        const grad = p.grad;
        if (!grad) return;
        if (grad.device !== p.device) {
          throw new Error(`SGD: the gradient of ${group.names[pi]} is on another device`);
        }
        const g = grad.isContiguous ? grad : grad.contiguous();
        const v = this.#velocityOf(p);
        sgdUpdate(
          p.device,
          {
            weight: p.storage.buffer,
            velocity: v.storage.buffer,
            grad: g.storage.buffer,
            n: p.size,
          },
          h,
          { guard: guardFor(options.guard, p.device, group.names[pi]) },
        );
        if (g !== grad) g.dispose();
        updated++;
      });
    }
    if (updated > 0) this.#steps++;
    return updated;
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

function guardFor(
  guard: SgdStepOptions["guard"],
  device: Device,
  name: string,
): GpuBuffer | undefined {
  if (guard === undefined) return undefined;
  if (guard instanceof Map) {
    const g = guard.get(device);
    if (!g) throw new Error(`SGD.step: no guard for ${device.label}, where ${name} lives`);
    return g;
  }
  const g = guard as GpuBuffer;
  if (g.device !== device) {
    throw new Error(
      `SGD.step: the guard is on ${g.device.label}, but ${name} is on ${device.label}`,
    );
  }
  return g;
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

/**
 * An optimiser whose update is an element-wise rule, fused multi-tensor (the tensor layer's
 * `foreachUpdateAll`), as RMSprop and Adagrad are, and as one's own can be: parameter groups, each parameter's state tensors under
 * PyTorch's names, step counts on the device (so that a step the guard skips changes nothing,
 * counts included, as Adam's), the guarded step, and state dicts that resume exactly, under
 * `<name>.<state>` and `<name>.step` as PyTorch's per-parameter state.
 *
 * @module
 */

import { checkOptions } from "../tensor/options.ts";
import { OPTIMIZER_STEP_OPTIONS } from "./optimizer.ts";
import type { StateValue } from "../nn/module.ts";
import { fromTypedArray, full } from "../tensor/creation.ts";
import {
  foreachCheckAll,
  type ForeachParamUpdate,
  type ForeachRule,
  foreachUpdateAll,
} from "../tensor/fused_foreach.ts";
import { keep } from "../tensor/memory.ts";
import type { StepGuard } from "../tensor/step_guard.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { StepCounts } from "./_step_counts.ts";

export type { ForeachRule } from "../tensor/fused_foreach.ts";
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
  zeroGrads,
} from "./_param_groups.ts";

/** A group's hyperparameters: everything but its parameters and names. */
export type Hyperparameters<G extends ParamGroup> = Omit<G, "params" | "names">;

/** How an optimiser of this kind reads its groups. */
export interface ForeachKind<G extends ParamGroup> {
  /** The optimiser's name in errors. */
  name: string;
  /** The names of a group's options (built by `optionNames`): any other key is an error. */
  optionNames: readonly string[];
  /** Whose state dicts it loads, in errors ("Adam or AdamW"); default `name`. */
  family?: string;
  /** The element-wise rule. */
  rule: ForeachRule;
  /** The group's keys in a state dict besides `names` and `lr` (to recognise its state). */
  keys: readonly (keyof Hyperparameters<G> & string)[];
  /** The rule's variant for a group. */
  variant(group: Hyperparameters<G>): number;
  /** The rule's constants for a group. */
  constants(group: Hyperparameters<G>): number[];
  /** The value a new state tensor starts at. */
  initialValue(group: Hyperparameters<G>, state: string): number;
  /** Throws a one-line error for a bad group (`where` names it). */
  check(group: Hyperparameters<G>, where: string): void;
}

/** The part of a group's options the optimiser itself reads. */
export interface ForeachGroupOptions {
  /** The parameters. */
  params: readonly Tensor[];
  /** A unique name per parameter (default `group<i>.param<j>`). */
  names?: readonly string[];
  /** Maximise the objective: the rule sees −g (PyTorch's `maximize`); default false. */
  maximize?: boolean;
}

/**
 * An optimiser over parameter groups whose update is `kind`'s rule (see the module notes).
 * Subclasses give the kind and their groups' defaults.
 *
 * @example An optimiser of one's own: steps along an average of the gradients
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ForeachOptimizer, type ForeachKind } from "./foreach_optimizer.ts";
 * import type { ParamGroup } from "./optimizer.ts";
 * await defaultDevice();
 * interface AveragedGroup extends ParamGroup { beta: number }
 * const kind: ForeachKind<AveragedGroup> = {
 *   name: "Averaged",
 *   optionNames: ["params", "names", "maximize", "lr", "beta"],
 *   rule: {
 *     name: "averaged",
 *     stateNames: () => ["average"],
 *     // c0 = (lr, β, 1 − β, 0); s[0] the average of the gradients.
 *     wgsl: () => `  let m = c0.y * s[0] + c0.z * g;
 *   return Update(w - c0.x * m, array<vec4f, 1>(m));`,
 *   },
 *   keys: ["beta"],
 *   variant: () => 0,
 *   constants: (g) => [g.lr, g.beta, 1 - g.beta, 0],
 *   initialValue: () => 0,
 *   check: () => {},
 * };
 * const w = tensor([1, 2], { requiresGrad: true });
 * const opt = new ForeachOptimizer(kind, [{ params: [w] }], () => ({ lr: 1, beta: 0.5 }));
 * w.grad = tensor([2, 2]);
 * opt.step();
 * console.log(await w.toArray()); // [0, 1]
 * ```
 */
export class ForeachOptimizer<
  G extends ParamGroup,
  O extends ForeachGroupOptions = ForeachGroupOptions,
> implements Optimizer {
  readonly #kind: ForeachKind<G>;
  readonly #groups: G[];
  readonly #states = new Map<Tensor, Map<string, Tensor>>();
  readonly #resolve: (options: O, index: number) => Hyperparameters<G>;
  readonly #steps: StepCounts;
  #stepCalls = 0;

  /**
   * The groups, each made whole by `resolve` from its options and checked.
   *
   * @param kind The rule and its groups' reading.
   * @param list The groups' options.
   * @param resolve A group's hyperparameters from its options (defaults filled in).
   */
  constructor(
    kind: ForeachKind<G>,
    list: readonly O[],
    resolve: (options: O, index: number) => Hyperparameters<G>,
  ) {
    this.#kind = kind;
    this.#resolve = resolve;
    const resolved = groupParams(kind.name, list, kind.optionNames);
    this.#groups = list.map((g, gi) => this.#group(g, resolved[gi], gi));
    this.#steps = new StepCounts(this.#groups.flatMap((g) => g.params));
  }

  /**
   * Adds a parameter group (PyTorch's `add_param_group`), its hyperparameters defaulting as the
   * constructor's; its parameters begin with no state and a step count of 0, and its names
   * (default `group<i>.param<j>`) must be new.
   *
   * @example Unfreezing a layer
   * ```ts
   * import { defaultDevice, tensor } from "../mod.ts";
   * import { Adam } from "./adam.ts";
   * await defaultDevice();
   * const head = tensor([1], { requiresGrad: true }), body = tensor([2], { requiresGrad: true });
   * const opt = new Adam({ params: [head], lr: 0.1 });
   * opt.addParamGroup({ params: [body], lr: 0.01 });
   * console.log(opt.paramGroups.length); // 2
   * ```
   */
  addParamGroup(options: O): void {
    const index = this.#groups.length;
    const existing = this.#groups.map((g) => ({ params: g.params, names: g.names }));
    const resolved = groupParams(
      `${this.#kind.name}.addParamGroup`,
      [...existing, options],
      this.#kind.optionNames,
    );
    this.#groups.push(this.#group(options, resolved[index], index));
    this.#steps.add(resolved[index].params);
  }

  /** A group from its options, with its checked parameters and names, checked. */
  #group(options: O, resolved: { params: Tensor[]; names: string[] }, gi: number): G {
    const maximize = options.maximize ?? false;
    const group = { ...resolved, ...this.#resolve(options, gi), maximize } as unknown as G;
    checkMaximize(group, `${this.#kind.name}: group ${gi}`);
    this.#kind.check(group, `${this.#kind.name}: group ${gi}`);
    return group;
  }

  /** The groups; a scheduler sets a group's `lr` here and the next step uses it. */
  get paramGroups(): readonly G[] {
    return this.#groups;
  }

  /** The count of `step` calls that updated a parameter. */
  get steps(): number {
    return this.#stepCalls;
  }

  /**
   * Updates every parameter that has a gradient, in one fused dispatch per device (and rule
   * variant) on a GPU. Records GPU work only; returns the number of parameters updated. With a
   * guard that the loop has not settled, checks every update first and settles it.
   */
  step(options: OptimizerStepOptions = {}): number {
    checkOptions("ForeachOptimizer.step", options, OPTIMIZER_STEP_OPTIONS);
    const { guard } = options;
    if (guard?.pending) {
      this.check(guard);
      guard.settleOnDevice();
    }
    const updates = this.#updates();
    foreachUpdateAll(this.#kind.rule, updates, guard);
    if (updates.length > 0) this.#stepCalls++;
    return updates.length;
  }

  /** Checks the updates `step` would make into `guard`, without making them. */
  check(guard: StepGuard): void {
    foreachCheckAll(this.#kind.rule, this.#updates(), guard);
  }

  /**
   * Frees every parameter's gradient, or with `setToNone` false zeroes the existing ones in
   * place (see `Optimizer.zeroGrad`).
   */
  zeroGrad(setToNone = true): void {
    zeroGrads(this.#groups, setToNone);
  }

  /**
   * The state dict: the groups' hyperparameters, and each stepped parameter's state tensors
   * (sharing the optimiser's data: don't write to them; dispose them) and step count.
   */
  async stateDict(): Promise<OptimizerStateDict> {
    const counts = await this.#steps.read();
    const state: Record<string, Tensor> = {};
    for (const group of this.#groups) {
      group.params.forEach((p, pi) => {
        const states = this.#states.get(p);
        if (!states) return;
        const name = group.names[pi];
        // The group's current form's states (one a changed hyperparameter turned off stays
        // here, unused, until it is turned on again).
        for (const key of this.#kind.rule.stateNames(this.#kind.variant(group))) {
          const t = states.get(key);
          if (t) state[`${name}.${key}`] = t.detach();
        }
        const step = counts.get(p)!;
        state[`${name}.step`] = fromTypedArray(Float32Array.of(step), [1], { device: p.device });
      });
    }
    return {
      version: 1,
      steps: this.#stepCalls,
      paramGroups: this.#groups.map((g) => {
        const { params: _p, names, ...rest } = g;
        return { names: [...names], ...structuredClone(rest) } as ParamGroupState;
      }),
      state,
    };
  }

  /**
   * Restores a state dict from `stateDict` (tensors on any device, or host data
   * `{ shape, data }`). The groups must hold the same parameter names; every name, shape and
   * hyperparameter is checked before anything changes.
   */
  async loadStateDict(dict: OptimizerStateDict<ParamGroupState, StateValue>): Promise<void> {
    const kind = this.#kind;
    const op = `${kind.name}.loadStateDict`;
    if (dict.version !== 1) throw new Error(`${op}: unknown version ${dict.version}`);
    checkGroupNames(op, dict.paramGroups, this.#groups);
    requireGroupKeys(op, kind.family ?? kind.name, dict.paramGroups, kind.keys);
    const groups = dict.paramGroups.map((s, gi) => {
      const { names: _n, ...rest } = s;
      // A state from before `maximize` existed did not maximise.
      const merged = { ...this.#groups[gi], maximize: false, ...rest } as G;
      checkMaximize(merged, `${op}: group ${gi}`);
      kind.check(merged, `${op}: group ${gi}`);
      return merged;
    });
    const byName = new Map<string, [Tensor, G]>();
    groups.forEach((g) => g.params.forEach((p, i) => byName.set(g.names[i], [p, g])));
    const split = (key: string): [Tensor | undefined, G | undefined, string] => {
      const dot = key.lastIndexOf(".");
      const [p, g] = byName.get(key.slice(0, dot)) ?? [];
      return [p, g, key.slice(dot + 1)];
    };
    const host = await readStateTensors(op, dict.state, (key) => {
      const [p, g, field] = split(key);
      if (!p || !g) return undefined;
      if (field === "step") return [1];
      return kind.rule.stateNames(kind.variant(g)).includes(field)
        ? p.shape as readonly number[]
        : undefined;
    });
    for (const [name, [, g]] of byName) {
      const keys = [...kind.rule.stateNames(kind.variant(g)), "step"];
      const has = keys.map((k) => host.has(`${name}.${k}`));
      if (has.some((h) => h) && !has.every((h) => h)) {
        throw new Error(`${op}: the state of ${name} is incomplete`);
      }
    }
    groups.forEach((g, gi) => Object.assign(this.#groups[gi], g));
    this.#disposeStates();
    const counts = new Map<Tensor, number>();
    for (const [name, [p, g]] of byName) {
      const step = host.get(`${name}.step`);
      if (!step) continue;
      const states = new Map<string, Tensor>();
      for (const key of kind.rule.stateNames(kind.variant(g))) {
        const data = host.get(`${name}.${key}`)!;
        states.set(
          key,
          keep(fromTypedArray(data, p.shape as readonly number[], { device: p.device })),
        );
      }
      this.#states.set(p, states);
      counts.set(p, step[0]);
    }
    this.#steps.load(counts);
    this.#stepCalls = dict.steps;
  }

  /** Frees the states and step counts (not the parameters). */
  dispose(): void {
    this.#disposeStates();
    this.#steps.dispose();
  }

  #disposeStates(): void {
    for (const states of this.#states.values()) for (const t of states.values()) t.dispose();
    this.#states.clear();
  }

  /** Each parameter with a gradient: its tensors, step slot and group's constants. */
  #updates(): ForeachParamUpdate[] {
    const kind = this.#kind;
    const out: ForeachParamUpdate[] = [];
    for (const group of this.#groups) {
      const variant = kind.variant(group);
      const constants = kind.constants(group);
      group.params.forEach((param, pi) => {
        const grad = param.grad;
        if (!grad) return;
        if (grad.device !== param.device) {
          throw new Error(`${kind.name}: the gradient of ${group.names[pi]} is on another device`);
        }
        const { counts, slot } = this.#steps.slotOf(param);
        out.push({
          param,
          grad,
          states: this.#statesOf(param, group),
          steps: counts,
          stepSlot: slot,
          variant,
          constants,
          maximize: group.maximize === true,
        });
      });
    }
    return out;
  }

  /**
   * A parameter's state tensors for its group's variant, each made at its first use (a state
   * that a changed hyperparameter turns on starts from its initial value, as in PyTorch).
   */
  #statesOf(p: Tensor, group: G): Tensor[] {
    let states = this.#states.get(p);
    if (!states) this.#states.set(p, states = new Map());
    const kind = this.#kind;
    return kind.rule.stateNames(kind.variant(group)).map((key) => {
      let t = states.get(key);
      if (!t) {
        const value = kind.initialValue(group, key);
        const shape = p.shape as readonly number[];
        t = keep(full(shape, value, { device: p.device }));
        states.set(key, t);
      }
      return t;
    });
  }
}

/** Throws unless a group's `maximize` is true or false. */
function checkMaximize(group: ParamGroup, where: string): void {
  if (typeof group.maximize !== "boolean") {
    throw new TypeError(`${where}: maximize must be true or false`);
  }
}

/**
 * Containers of submodules without a computation of their own, as PyTorch's `nn.ModuleList`
 * and `nn.ModuleDict`: they register what they hold, so its parameters, buffers and state-dict
 * names (`blocks.0.conv.weight`, `heads.age.weight`) are the parent's, and the parent's
 * `forward` decides how to use them.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Module, swapInList } from "./module.ts";

/**
 * Modules in a list, named `"0"`, `"1"`, … (`nn.ModuleList`): iterate over it in the parent's
 * `forward`. Its own `forward` is an error, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn, type Tensor } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { Module } from "./module.ts";
 * import { ModuleList } from "./module_list.ts";
 * await defaultDevice();
 * class Deep extends Module {
 *   blocks = this.registerModule(
 *     "blocks",
 *     new ModuleList([0, 1, 2].map(() => new Linear({ inFeatures: 4, outFeatures: 4 }))),
 *   );
 *   forward(x: Tensor<[number, 4], "f32">): Tensor {
 *     let y = x;
 *     for (const block of this.blocks) y = block.forward(y).relu() as typeof y;
 *     return y;
 *   }
 * }
 * const net = new Deep();
 * console.log(net.namedParameters()[2][0], net.forward(randn([2, 4])).shape); // "blocks.1.weight" [2, 4]
 * ```
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly #modules: M[] = [];

  /** Holds `modules`, in order. */
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds `module` at the end (named by its index); returns this list. */
  append(module: M): this {
    this.#modules.push(this.registerModule(String(this.#modules.length), module));
    return this;
  }

  /** The number of modules. */
  get length(): number {
    return this.#modules.length;
  }

  /** The module at `index` (negative counts from the end); throws when there is none. */
  at(index: number): M {
    const m = Number.isInteger(index) ? this.#modules.at(index) : undefined;
    if (!m) {
      throw new RangeError(`ModuleList: no module at index ${index} of ${this.#modules.length}`);
    }
    return m;
  }

  /** The modules, in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#modules[Symbol.iterator]();
  }

  /** Puts `replacement` in `old`'s place in the list (for `replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    swapInList(this.#modules, old, replacement as M);
  }

  /** An error: a list has no computation (iterate over it in the parent's `forward`). */
  forward(_x: Tensor): Tensor {
    throw new Error("ModuleList has no forward: iterate over its modules in the parent's forward");
  }
}

/**
 * Modules by name (`nn.ModuleDict`), in insertion order; each name must be a valid module name
 * (letters, digits, `_`). Its own `forward` is an error, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { ModuleDict } from "./module_list.ts";
 * await defaultDevice();
 * const heads = new ModuleDict({
 *   age: new Linear({ inFeatures: 8, outFeatures: 1 }),
 *   kind: new Linear({ inFeatures: 8, outFeatures: 5 }),
 * });
 * console.log(heads.keys(), heads.get("kind").namedParameters()[0][1].shape); // ["age", "kind"] [5, 8]
 * ```
 */
export class ModuleDict<M extends Module = Module> extends Module {
  readonly #modules = new Map<string, M>();

  /** Holds the values of `modules` under their keys. */
  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [name, m] of Object.entries(modules)) this.set(name, m);
  }

  /** Adds `module` under `name` (a name already used is an error); returns this dict. */
  set(name: string, module: M): this {
    this.#modules.set(name, this.registerModule(name, module));
    return this;
  }

  /** Puts `replacement` under `old`'s name (for `replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    for (const [name, m] of this.#modules) {
      if (m === old) this.#modules.set(name, replacement as M);
    }
  }

  /** The module under `name`; throws naming the keys when there is none. */
  get(name: string): M {
    const m = this.#modules.get(name);
    if (!m) throw new Error(`ModuleDict: no module "${name}" (keys: ${this.keys().join(", ")})`);
    return m;
  }

  /** Whether a module is held under `name`. */
  has(name: string): boolean {
    return this.#modules.has(name);
  }

  /** The names, in insertion order. */
  keys(): string[] {
    return [...this.#modules.keys()];
  }

  /** The names and modules, in insertion order. */
  entries(): [string, M][] {
    return [...this.#modules];
  }

  /** An error: a dict has no computation (use its modules in the parent's `forward`). */
  forward(_x: Tensor): Tensor {
    throw new Error("ModuleDict has no forward: use its modules in the parent's forward");
  }
}

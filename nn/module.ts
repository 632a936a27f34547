/**
 * The base class of every layer and network: a tree of named parameters and submodules.
 *
 * One mechanism registers both: a subclass calls {@link Module.registerParameter} and
 * {@link Module.registerModule} in its constructor, and the order of those calls is the order
 * of `namedParameters()`, `stateDict()` and checkpoints. Nothing is discovered by reflection,
 * so a helper field never turns into a parameter by accident.
 *
 * Buffers are the rest of a module's state: tensors that are not trained but belong to it (a
 * batch norm's running statistics). {@link Module.registerBuffer} adds one; it is moved by
 * `to()`, freed by `dispose()`, never listed by `parameters()` (so no optimiser sees it), and,
 * when persistent (the default), saved in state dicts and checkpoints under PyTorch's names
 * (`bn1.running_mean`), after the module's own parameters, as `torch.nn.Module.state_dict`
 * orders them.
 *
 * Two views of the parameters exist because a network may be split over devices:
 *
 * - `namedParameters()` lists the physical tensors, one per buffer, with PyTorch-style dotted
 *   names (`conv1.0.weight` for the first tower of a split layer). Optimisers use it.
 * - `stateSlots()` lists the logical parameters that `stateDict()`, `loadStateDict()` and
 *   checkpoints use: each slot is one PyTorch-named tensor made of one or more shards stacked
 *   along axis 0 (the output axis). A layer on one device is a slot of one shard; a layer split
 *   in two towers is one slot of two shards, so checkpoints do not depend on placement.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import { noGrad } from "../tensor/_autograd.ts";
import { keep } from "../tensor/memory.ts";
import { concat } from "../tensor/ops_shape.ts";
import {
  describeValue,
  type DType,
  numel,
  plural,
  sameShape,
  type Shape,
  ShapeError,
} from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * A tensor's data on the host: a row-major array and its shape. A Float32Array is f32 data;
 * an Int32Array is integer data, which only an i32 buffer (`num_batches_tracked`) takes.
 */
export interface HostTensor {
  /** Dimensions. */
  readonly shape: readonly number[];
  /** `numel(shape)` elements, row-major. */
  readonly data: Float32Array | Int32Array;
}

/** A value `loadStateDict` accepts: a tensor on any device, or host data. */
export type StateValue = Tensor | HostTensor;

/**
 * One logical tensor of the state dict, a parameter or a persistent buffer: its dotted name and
 * the shards that hold it, in order. The logical tensor is the shards concatenated along axis 0;
 * every shard has the same trailing shape.
 */
export interface ParameterSlot {
  /** PyTorch-style dotted name, such as `conv2.weight` or `bn1.running_mean`. */
  readonly name: string;
  /** The physical tensors, stacked along axis 0. */
  readonly shards: readonly Tensor[];
  /** True for a buffer (not trained: initialisers and optimisers leave it alone). */
  readonly buffer?: boolean;
  /** True when a state dict may leave it out (see {@link BufferOptions.optional}). */
  readonly optional?: boolean;
}

/** Options of {@link Module.registerBuffer}. */
export interface BufferOptions {
  /**
   * Whether the buffer belongs to the state dict and checkpoints (default true, as in
   * PyTorch); a non-persistent buffer is still moved by `to()` and freed by `dispose()`.
   */
  persistent?: boolean;
  /**
   * Whether a state dict may leave the buffer out (default false): `loadStateDict` then keeps
   * its value and does not report it missing, as PyTorch's batch norm treats
   * `num_batches_tracked`, which checkpoints from before its version 2 (and plain dicts of
   * weights and statistics) lack.
   */
  optional?: boolean;
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /**
   * Require the names to match exactly (default). When false, missing and unexpected names
   * are returned instead of thrown.
   */
  strict?: boolean;
  /**
   * Leave out the entries whose shape differs from the module's, keeping the module's values,
   * and return them as `mismatched` (Hugging Face's `ignore_mismatched_sizes`; default false:
   * a wrong shape is an error, as in PyTorch). For fine-tuning: a model built for 10 classes
   * takes an ImageNet checkpoint's weights but its own new classifier.
   */
  ignoreMismatchedSizes?: boolean;
}

const LOAD_STATE_DICT_OPTIONS = optionNames<LoadStateDictOptions>({
  strict: true,
  ignoreMismatchedSizes: true,
});

/** What {@link Module.loadStateDict} reports when it succeeds. */
export interface LoadStateDictResult {
  /** Parameters of the module that the dictionary did not provide (non-strict only). */
  missing: string[];
  /** Names in the dictionary that the module does not have (non-strict only). */
  unexpected: string[];
  /** Entries left out for their shape (with `ignoreMismatchedSizes` only). */
  mismatched: ShapeMismatch[];
}

/** A name whose shape disagrees between a state dict and a module. */
export interface ShapeMismatch {
  /** The parameter's name. */
  name: string;
  /** The module's shape. */
  expected: readonly number[];
  /** The dictionary's shape. */
  actual: readonly number[];
}

/**
 * A state dict that does not fit a module; lists every problem at once.
 *
 * @example
 * ```ts
 * import { StateDictError } from "./module.ts";
 * const e = new StateDictError(["fc.bias"], ["extra"], []);
 * console.log(e.message); // state dict does not match the module: missing: fc.bias; unexpected: extra
 * ```
 */
export class StateDictError extends Error {
  /** `"StateDictError"`. */
  override name = "StateDictError";
  /** Module parameters the dictionary lacks. */
  readonly missing: readonly string[];
  /** Dictionary names the module lacks. */
  readonly unexpected: readonly string[];
  /** Names present in both with different shapes. */
  readonly mismatched: readonly ShapeMismatch[];

  /** Builds the message from the three lists (empty lists are left out). */
  constructor(missing: string[], unexpected: string[], mismatched: ShapeMismatch[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing: ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected: ${unexpected.join(", ")}`);
    if (mismatched.length) {
      const shapes = mismatched.map((m) =>
        `${m.name} (module [${m.expected}], dict [${m.actual}])`
      );
      parts.push(`wrong shape: ${shapes.join(", ")}`);
    }
    super(`state dict does not match the module: ${parts.join("; ")}`);
    this.missing = missing;
    this.unexpected = unexpected;
    this.mismatched = mismatched;
  }
}

const NAME = /^[A-Za-z0-9_]+$/;

/** A parameter: an f32 tensor of any shape that requires a gradient. */
export type Parameter = Tensor<Shape, "f32">;

/**
 * A node of a network: parameters, submodules and the training flag.
 *
 * @example A layer with one parameter
 * ```ts
 * import { defaultDevice, randn, type Tensor } from "../mod.ts";
 * import { Module } from "./module.ts";
 * await defaultDevice();
 * class Scale extends Module {
 *   constructor() {
 *     super();
 *     this.registerParameter("weight", randn([3]));
 *   }
 *   forward(x: Tensor): Tensor {
 *     return x.mul(this.getParameter("weight"));
 *   }
 * }
 * const m = new Scale();
 * console.log(m.namedParameters().map(([name]) => name)); // ["weight"]
 * ```
 *
 * @example A layer with a buffer: state that is saved and moved but not trained
 * ```ts
 * import { defaultDevice, noGrad, type Tensor, zeros } from "../mod.ts";
 * import { Module } from "./module.ts";
 * await defaultDevice();
 * class RunningMax extends Module {
 *   constructor() {
 *     super();
 *     this.registerBuffer("peak", zeros([1]));
 *   }
 *   forward(x: Tensor): Tensor {
 *     const peak = this.getBuffer("peak");
 *     noGrad(() => peak.assign(peak.maximum(x.max().reshape([1]))));
 *     return x;
 *   }
 * }
 * const m = new RunningMax();
 * m.forward(zeros([2]).add(3));
 * console.log(m.parameters().length, Object.keys(await m.stateDict())); // 0 ["peak"]
 * ```
 */
export abstract class Module {
  #parameters = new Map<string, Parameter>();
  #buffers = new Map<string, { tensor: Tensor } & Required<BufferOptions>>();
  #children = new Map<string, Module>();
  #training = true;

  /**
   * The module's computation, one signature for every module: a tensor in (and the module's
   * own further arguments: a loss's target, a transposed convolution's output size), a tensor
   * out, returned directly or as a
   * promise. Layers compute synchronously; a network that waits on the host (AlexNet over two
   * devices copies activations between them) returns a promise. Code that takes any module
   * `await`s the result, which is a no-op for a tensor. Subclasses may narrow the types (a
   * typed shape in, a typed shape out).
   */
  abstract forward(x: Tensor, ...more: unknown[]): Tensor | Promise<Tensor>;

  /**
   * Adds a parameter: it is marked `requiresGrad` and kept out of every `tidy` scope, since a
   * parameter lives as long as its module. A tensor that a recorded op made (`w.mul(0.1)` of a
   * tensor requiring a gradient) is detached first, as `nn.Parameter` takes only its data: a
   * parameter is a leaf. Returns the parameter, so use the returned tensor.
   */
  protected registerParameter<T extends Tensor>(name: string, tensor: T): T {
    this.#checkName(name);
    if (tensor.dtype !== "f32") {
      throw new TypeError(`parameter ${name}: expected f32, got ${tensor.dtype}`);
    }
    const leaf = tensor.isLeaf ? tensor : tensor.detach() as T;
    leaf.requiresGrad = true;
    this.#parameters.set(name, keep(leaf) as Tensor as Parameter);
    return leaf;
  }

  /**
   * Adds a buffer: state that is not trained (a running statistic). It is kept out of every
   * `tidy` scope and never requires a gradient; an op may update it in place. Fetch it with
   * {@link Module.getBuffer} when it is used, since `to()` replaces it. Returns the tensor.
   */
  protected registerBuffer<T extends Tensor>(
    name: string,
    tensor: T,
    options: BufferOptions = {},
  ): T {
    this.#checkName(name);
    if (tensor.requiresGrad) {
      throw new TypeError(`buffer ${name}: a buffer must not require a gradient`);
    }
    this.#buffers.set(name, {
      tensor: keep(tensor),
      persistent: options.persistent ?? true,
      optional: options.optional ?? false,
    });
    return tensor;
  }

  /** Adds a submodule; its parameters are named `name.<its names>`. Returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name);
    // A layer class not constructed (Sequential(ReLU)), a function or a number would otherwise
    // be held and fail only in the forward, or be skipped by parameters().
    if (!(module instanceof Module)) {
      throw new TypeError(
        `${this.constructor.name}: submodule "${name}" must be a Module, got ${
          typeof module === "function"
            ? `the function ${(module as { name: string }).name}`
            : describeValue(module)
        }`,
      );
    }
    this.#children.set(name, module);
    return module;
  }

  /** This module's own parameter `name` (not a submodule's); throws if there is none. */
  getParameter(name: string): Parameter {
    const p = this.#parameters.get(name);
    if (!p) throw new Error(`${this.constructor.name} has no parameter "${name}"`);
    return p;
  }

  /** This module's own buffer `name` (not a submodule's); throws if there is none. */
  getBuffer(name: string): Tensor {
    const b = this.#buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name} has no buffer "${name}"`);
    return b.tensor;
  }

  /**
   * Every buffer with its dotted name, persistent or not: own buffers first, then
   * submodules', as `torch.nn.Module.named_buffers` lists them (a buffer reached twice, through
   * a module registered under two names, once: under its first name).
   */
  namedBuffers(): [string, Tensor][] {
    return firstNames(
      this.#namedModulesOnce().flatMap(([prefix, m]) =>
        [...m.#buffers].map(([name, b]): [string, Tensor] => [dotted(prefix, name), b.tensor])
      ),
    );
  }

  /** Every buffer, in the order of {@link Module.namedBuffers}. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /** Whether the module is in training mode (dropout active). */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and every submodule. */
  train(mode = true): this {
    this.#training = mode;
    for (const child of this.#children.values()) child.train(mode);
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** The direct submodules, by name, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  /**
   * This module (name `prefix`, default `""`) and every submodule below it, depth first, with
   * dotted names. A module registered under two names (shared, as a tied layer) is listed once,
   * under its first name, as `torch.nn.Module.named_modules` does.
   */
  namedModules(prefix = ""): [string, Module][] {
    return this.#namedModulesOnce(prefix);
  }

  #namedModulesOnce(prefix = "", seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) {
      out.push(...child.#namedModulesOnce(dotted(prefix, name), seen));
    }
    return out;
  }

  /**
   * Every physical parameter with its dotted name: own parameters first, then submodules'. A
   * parameter reached twice (a module registered under two names) is listed once, under its
   * first name, as `torch.nn.Module.named_parameters` does, so an optimiser updates it once;
   * the state dict still has both names.
   */
  namedParameters(): [string, Parameter][] {
    return firstNames(
      this.#namedModulesOnce().flatMap(([prefix, m]) =>
        [...m.#parameters].map(([name, p]): [string, Parameter] => [dotted(prefix, name), p])
      ),
    );
  }

  /** Every physical parameter, in the order of {@link Module.namedParameters}. */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /**
   * The logical tensors of the state dict, as state dicts name and shape them: each module's
   * parameters, then its persistent buffers (marked `buffer`), then its submodules'. A module
   * that splits a layer over devices overrides this to merge its parts' slots (see the module
   * notes).
   */
  stateSlots(): ParameterSlot[] {
    const out: ParameterSlot[] = [...this.#parameters].map(([name, p]) => ({
      name,
      shards: [p],
    }));
    for (const [name, b] of this.#buffers) {
      if (b.persistent) {
        out.push({ name, shards: [b.tensor], buffer: true, ...(b.optional && { optional: true }) });
      }
    }
    for (const [name, child] of this.#children) {
      for (const slot of child.stateSlots()) out.push({ ...slot, name: `${name}.${slot.name}` });
    }
    return out;
  }

  /**
   * The logical parameters and persistent buffers by name, detached from the graph (f32, but
   * an integer buffer such as `num_batches_tracked`, which is i32). A tensor held as one shard
   * is returned as a view of it (it shares the data: don't write to it); one split over devices
   * is concatenated on its first shard's device. The caller owns the tensors: dispose them.
   */
  async stateDict(): Promise<Record<string, Tensor<Shape, DType>>> {
    const out: Record<string, Tensor<Shape, DType>> = {};
    for (const slot of this.stateSlots()) {
      out[slot.name] = await noGrad(() => joinShards(slot.shards));
    }
    return out;
  }

  /**
   * Copies values into the parameters, in place (optimisers holding the parameters keep
   * working). Every name and shape is checked before anything is written, so a dictionary that
   * does not fit leaves the module untouched and the {@link StateDictError} lists all
   * missing, unexpected and mis-shaped names. An optional buffer the dictionary lacks keeps
   * its value (a batch norm's `num_batches_tracked`, as in PyTorch). Tensors may live on any
   * device.
   */
  async loadStateDict(
    dict: Record<string, StateValue> | ReadonlyMap<string, StateValue>,
    options: LoadStateDictOptions = {},
  ): Promise<LoadStateDictResult> {
    checkOptions("Module.loadStateDict", options, LOAD_STATE_DICT_OPTIONS);
    const strict = options.strict ?? true;
    const entries = dict instanceof Map ? new Map(dict) : new Map(Object.entries(dict));
    const slots = this.stateSlots();
    const missing: string[] = [], mismatched: ShapeMismatch[] = [];
    const known = new Set<string>();
    for (const slot of slots) {
      known.add(slot.name);
      const value = entries.get(slot.name);
      if (!value) {
        if (!slot.optional) missing.push(slot.name);
        continue;
      }
      const expected = slotShape(slot);
      if (!sameShape(expected, value.shape)) {
        mismatched.push({ name: slot.name, expected, actual: [...value.shape] });
      } else if (dtypeOf(value) !== slot.shards[0].dtype) {
        throw new TypeError(
          `loadStateDict: ${slot.name} has dtype ${dtypeOf(value)}, not ${slot.shards[0].dtype}`,
        );
      }
    }
    const unexpected = [...entries.keys()].filter((name) => !known.has(name));
    const wrongShape = options.ignoreMismatchedSizes ? [] : mismatched;
    if (wrongShape.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      throw new StateDictError(missing, unexpected, wrongShape);
    }
    for (const { name } of mismatched) entries.delete(name); // (ignored: kept as they are)
    // Read every tensor first: a failed read must not leave half the parameters written.
    const host = new Map<string, Float32Array | Int32Array>();
    for (const slot of slots) {
      const value = entries.get(slot.name);
      if (!value) continue;
      const data = isHostTensor(value) ? value.data : await value.data();
      if (data.length !== numel(slotShape(slot))) {
        throw new ShapeError(
          `loadStateDict: ${slot.name} has ${
            plural(data.length, "value")
          } for shape [${value.shape}]`,
        );
      }
      host.set(slot.name, data);
    }
    noGrad(() => {
      for (const slot of slots) {
        const data = host.get(slot.name);
        if (!data) continue;
        let at = 0;
        for (const shard of slot.shards) {
          shard.assign(data.subarray(at, at + shard.size));
          at += shard.size;
        }
      }
    });
    return { missing, unexpected, mismatched };
  }

  /**
   * Replaces the submodule at `path` (dotted, as the state dict's names: `"fc"`,
   * `"classifier.6"`, `"layer4.1.conv2"`) by `module`, as PyTorch's `model.fc = nn.Linear(…)`:
   * the new module takes the old one's place in the forward, in the state dict's order and in
   * `parameters()` (rebuild an optimiser made before). Returns the old module, still holding its
   * parameters: dispose it when it is no longer needed. The way to fine-tune with a new number
   * of classes: load the checkpoint into the model it was saved from, then replace the head.
   *
   * @example A 10-class head on a 1000-class network
   * ```ts
   * import { defaultDevice, randn } from "../mod.ts";
   * import { Linear } from "./linear.ts";
   * import { ReLU } from "./activation.ts";
   * import { Sequential } from "./sequential.ts";
   * await defaultDevice();
   * const net = new Sequential(new Linear({ inFeatures: 8, outFeatures: 16 }), new ReLU(),
   *   new Linear({ inFeatures: 16, outFeatures: 1000 }));
   * net.replaceModule("2", new Linear({ inFeatures: 16, outFeatures: 10 })).dispose();
   * console.log(net.forward(randn([4, 8])).shape); // [4, 10]
   * console.log(net.namedParameters().map(([name, p]) => `${name} [${p.shape}]`).at(-1)); // "2.bias [10]"
   * ```
   */
  replaceModule(path: string, module: Module): Module {
    const names = path.split(".");
    const last = names.pop()!;
    const parent = names.reduce<Module | undefined>(
      (at, name) => at && at.#children.get(name),
      this,
    );
    const old = parent && parent.#children.get(last);
    if (!parent || !old) {
      const known = (parent ?? this).namedChildren().map(([name]) => name).join(", ");
      throw new RangeError(
        `${this.constructor.name}.replaceModule: no submodule "${path}" (` +
          `${parent && names.length ? `"${names.join(".")}" holds` : "the children are"}: ` +
          `${known || "none"})`,
      );
    }
    if (old === module) return old;
    parent.swapChild(old, module);
    parent.#children.set(last, module);
    return old;
  }

  /**
   * Points this module's own references to its submodule `old` at `replacement`, for
   * {@link Module.replaceModule}. The default rewrites the module's properties that hold `old`
   * (`this.fc = this.registerModule("fc", …)`) and throws when none does, since the forward
   * would go on using `old`; a module that keeps its submodules elsewhere (a private list)
   * overrides it.
   */
  protected swapChild(old: Module, replacement: Module): void {
    if (swapProperties(this, old, replacement) === 0) {
      throw new Error(
        `${this.constructor.name}: no property holds the submodule being replaced, so its ` +
          "forward would go on using it; override swapChild to replace it where it is kept",
      );
    }
  }

  /**
   * Moves every parameter and buffer to `device` (through the host when it is another
   * device). The tensors are replaced, so fetch them again (and rebuild optimisers) afterwards;
   * gradients are dropped, and a frozen parameter (`requiresGrad = false`) stays frozen, as in
   * PyTorch.
   */
  async to(device: Device): Promise<this> {
    for (const [name, p] of this.#parameters) {
      if (p.device === device) continue;
      const moved = await noGrad(() => p.to(device));
      p.dispose();
      p.grad?.dispose();
      moved.requiresGrad = p.requiresGrad;
      this.#parameters.set(name, keep(moved));
    }
    for (const [name, b] of this.#buffers) {
      if (b.tensor.device === device) continue;
      const moved = await noGrad(() => b.tensor.to(device));
      b.tensor.dispose();
      this.#buffers.set(name, { ...b, tensor: keep(moved) });
    }
    for (const child of this.#children.values()) await child.to(device);
    return this;
  }

  /** The distinct devices holding this module's parameters, in parameter order. */
  devices(): Device[] {
    return [...new Set(this.parameters().map((p) => p.device))];
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Frees the parameters, their gradients and the buffers; the module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.zeroGrad();
      p.dispose();
    }
    for (const b of this.buffers()) b.dispose();
  }

  #checkName(name: string): void {
    if (!NAME.test(name)) {
      throw new Error(`${this.constructor.name}: invalid name "${name}" (letters, digits, _)`);
    }
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new Error(`${this.constructor.name}: "${name}" is registered twice`);
    }
  }
}

/**
 * Points the own properties of `owner` that hold `old` at `replacement`; returns how many did.
 *
 * @example
 * ```ts
 * import { swapProperties } from "./module.ts";
 * const owner = { head: "old", body: "kept" };
 * console.log(swapProperties(owner, "old", "new"), owner.head); // 1 "new"
 * ```
 */
export function swapProperties(owner: object, old: unknown, replacement: unknown): number {
  const fields = owner as Record<string, unknown>;
  const holders = Object.keys(fields).filter((key) => fields[key] === old);
  for (const key of holders) fields[key] = replacement;
  return holders.length;
}

/**
 * Replaces `old` by `replacement` wherever `list` holds it (a module's private list of its
 * submodules, for {@link Module.replaceModule}); returns how many places did.
 *
 * @example
 * ```ts
 * import { swapInList } from "./module.ts";
 * const list = ["a", "b"];
 * console.log(swapInList(list, "b", "c"), list); // 1 ["a", "c"]
 * ```
 */
export function swapInList<T>(list: T[], old: unknown, replacement: T): number {
  let count = 0;
  list.forEach((item, i) => {
    if (item === old) {
      list[i] = replacement;
      count++;
    }
  });
  return count;
}

/** `name` under `prefix` (the root's prefix is empty). */
function dotted(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** The entries whose value is seen for the first time (a tensor shared by two modules once). */
function firstNames<T>(entries: [string, T][]): [string, T][] {
  const seen = new Set<T>();
  return entries.filter(([, value]) => !seen.has(value) && seen.add(value));
}

function isHostTensor(value: StateValue): value is HostTensor {
  return "data" in value && ArrayBuffer.isView(value.data);
}

/** The dtype of a state value: a host Int32Array is i32 data, a Float32Array f32. */
function dtypeOf(value: StateValue): string {
  if (!isHostTensor(value)) return value.dtype;
  return value.data instanceof Int32Array ? "i32" : "f32";
}

/** The logical shape of a slot: shards stacked along axis 0. */
export function slotShape(slot: ParameterSlot): number[] {
  const [first, ...rest] = slot.shards;
  const rows = slot.shards.reduce((n, s) => n + s.shape[0], 0);
  for (const s of rest) {
    if (!sameShape(s.shape.slice(1), first.shape.slice(1))) {
      throw new ShapeError(`${slot.name}: shards [${first.shape}] and [${s.shape}] differ`);
    }
  }
  return first.rank === 0 ? [] : [rows, ...first.shape.slice(1)];
}

/**
 * Shards stacked along axis 0 on the first shard's device. Contiguous shards stacked on the
 * outer axis are byte ranges laid end to end, so the concatenation is buffer copies: no kernel,
 * and no binding-size limit (fc6's joined weight is 151 MB).
 */
async function joinShards(shards: readonly Tensor[]): Promise<Tensor> {
  if (shards.length === 1) return shards[0].detach();
  const device = shards[0].device;
  const parts = await Promise.all(shards.map((s) => noGrad(() => s.to(device))));
  const out = noGrad(() => concat(parts, 0));
  parts.forEach((p) => p.dispose());
  return out;
}

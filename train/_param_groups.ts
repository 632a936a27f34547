/**
 * What the optimisers share of their parameter groups and state dicts: the groups' checks at
 * construction (each parameter in one group, unique names, contiguous f32 tensors), and the
 * reading of a state dict's tensors, every one checked before anything changes.
 *
 * @module
 */

import type { Module, StateValue } from "../nn/module.ts";
import { zeros } from "../tensor/creation.ts";
import { checkOptions } from "../tensor/options.ts";
import { describeValue, sameShape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** The part of a group's options every optimiser takes. */
export interface GroupParams {
  /** The parameters. */
  params: readonly Tensor[];
  /** A unique name per parameter. */
  names?: readonly string[];
}

/**
 * A module's parameters and their names, as an optimiser's `forModule` takes them: all of them,
 * as PyTorch's `model.parameters()`. A frozen one (`requiresGrad` false) gets no gradient, so a
 * step skips it and it holds no optimiser state, and unfreezing it later lets it train on.
 */
export function moduleParams(model: Module): { params: Tensor[]; names: string[] } {
  const named = model.namedParameters();
  return { params: named.map(([, p]) => p), names: named.map(([name]) => name) };
}

/**
 * Each group's parameters and names (default `group<i>.param<j>`), checked: every key of a
 * group one of `optionNames` (as PyTorch refuses an unknown keyword: a typo such as
 * `weight_decay` would otherwise train without weight decay), a parameter in one group only,
 * names unique, parameters contiguous f32 tensors.
 */
export function groupParams(
  op: string,
  groups: readonly GroupParams[],
  optionNames: readonly string[],
): { params: Tensor[]; names: string[] }[] {
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new RangeError(`${op}: no parameter groups`);
  }
  const seen = new Set<Tensor>();
  const seenNames = new Set<string>();
  return groups.map((g, gi) => {
    checkOptions(groups.length === 1 ? op : `${op}: group ${gi}`, g, optionNames, true);
    if (typeof g.params?.[Symbol.iterator] !== "function") {
      throw new TypeError(
        `${op}: group ${gi}'s params must be an array of tensors (model.parameters()), got ` +
          describeValue(g.params),
      );
    }
    const params = [...g.params];
    const names = g.names ? [...g.names] : params.map((_, pi) => `group${gi}.param${pi}`);
    if (names.length !== params.length) {
      throw new RangeError(
        `${op}: group ${gi} has ${params.length} parameters and ${names.length} names`,
      );
    }
    params.forEach((p, pi) => {
      if (seen.has(p)) throw new Error(`${op}: parameter ${names[pi]} is in two groups`);
      seen.add(p);
      if (seenNames.has(names[pi])) throw new Error(`${op}: duplicate parameter name ${names[pi]}`);
      seenNames.add(names[pi]);
      if (p.dtype !== "f32" || !p.isContiguous) {
        throw new TypeError(
          `${op}: parameter ${names[pi]} must be a contiguous f32 tensor ` +
            `(got ${p.dtype} [${p.shape}]${p.isContiguous ? "" : ", a view"})`,
        );
      }
    });
    return { params, names };
  });
}

/** Throws unless the state's groups hold the optimiser's groups' parameter names, in order. */
export function checkGroupNames(
  op: string,
  state: readonly { names?: readonly string[] }[],
  groups: readonly { names: readonly string[] }[],
): void {
  if (state.length !== groups.length) {
    throw new Error(`${op}: state has ${state.length} groups, optimiser has ${groups.length}`);
  }
  state.forEach((s, gi) => {
    const names = s.names ?? [];
    const own = groups[gi].names;
    if (names.length !== own.length || names.some((n, i) => n !== own[i])) {
      throw new Error(`${op}: group ${gi} has different parameters`);
    }
  });
}

/**
 * Throws unless every group of the state holds each of `keys` (a state dict of another
 * optimiser, SGD's given to Adam say, lacks them).
 */
export function requireGroupKeys(
  op: string,
  kind: string,
  state: readonly object[],
  keys: readonly string[],
): void {
  state.forEach((s, gi) => {
    const missing = keys.filter((k) => !(k in s));
    if (missing.length > 0) {
      throw new Error(
        `${op}: group ${gi} has no ${missing.join(", ")}: not the state of ${kind}`,
      );
    }
  });
}

/**
 * Reads a state dict's tensors to the host, checking each against the shape `expected` gives
 * for its key (undefined: an unknown key). Everything is read before the caller changes
 * anything, so a failed read leaves the optimiser as it was.
 */
export async function readStateTensors(
  op: string,
  state: Record<string, StateValue>,
  expected: (key: string) => readonly number[] | undefined,
): Promise<Map<string, Float32Array>> {
  for (const [key, v] of Object.entries(state)) {
    const shape = expected(key);
    if (!shape) throw new Error(`${op}: state for unknown parameter ${key}`);
    if (!sameShape(v.shape, shape)) {
      throw new Error(`${op}: state ${key} has shape [${v.shape}], not [${shape}]`);
    }
  }
  const host = new Map<string, Float32Array>();
  for (const [key, v] of Object.entries(state)) {
    const data = "data" in v && v.data instanceof Float32Array
      ? v.data
      : await (v as Tensor).data() as Float32Array;
    const size = expected(key)!.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`${op}: state ${key} has ${data.length} values`);
    host.set(key, data);
  }
  return host;
}

/**
 * An optimiser's `zeroGrad`: frees every parameter's gradient (PyTorch's default,
 * `set_to_none=True`), or with `setToNone` false zeroes in place the gradients that exist, so
 * the next step still updates those parameters, as PyTorch's `set_to_none=False`.
 */
export function zeroGrads(
  groups: readonly { params: readonly Tensor[] }[],
  setToNone = true,
): void {
  for (const group of groups) {
    for (const p of group.params) {
      if (setToNone || !p.grad) {
        p.zeroGrad();
        continue;
      }
      using zero = zeros(p.grad.shape as readonly number[], { device: p.grad.device });
      p.grad.assign(zero);
    }
  }
}

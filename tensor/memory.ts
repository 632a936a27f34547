/**
 * The lifetime policy for GPU memory, in one place:
 *
 * - Every tensor owns a reference to a storage (see `_core.ts`); its buffer returns to the
 *   device's pool when the last reference is dropped.
 * - `tensor.dispose()` (or `using`) drops a tensor's reference explicitly.
 * - {@link tidy} runs a function and disposes every tensor created inside it, except what it
 *   returns and what was {@link keep}-marked (parameters' gradients are kept automatically).
 * - The autograd graph holds its own references to the tensors backward needs, and drops each
 *   as soon as the node that needed it has run.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/** Anything a scope can dispose. */
export interface ScopedResource {
  /** Drops this object's GPU references. */
  dispose(): void;
  /** Whether it has been disposed already. */
  readonly disposed: boolean;
}

/** A {@link tidy} scope: what it tracks, and the scope it was opened in. */
interface Scope {
  readonly resources: Set<ScopedResource>;
  readonly parent: Scope | undefined;
  open: boolean;
}

/*
 * The current scope is carried by an AsyncLocalStorage, which JavaScript's promise machinery
 * hands to every continuation: an async callback's scope follows it across each `await` while
 * other code (another async `tidy`, say) runs in between, so scopes may interleave. A global
 * stack of scopes, which this replaced, let two interleaved async scopes adopt each other's
 * tensors. Entering a context costs about 1 µs a `tidy` in Deno 2.9 (`AsyncLocalStorage.run`;
 * an `add` of three elements costs 25–40 µs of host time on lavapipe), and reading it 10 ns.
 */
const currentStore = new AsyncLocalStorage<Scope>();
const kept = new WeakSet<ScopedResource>();

/** The innermost scope still open where the caller runs, if any. */
function currentScope(): Scope | undefined {
  let scope = currentStore.getStore();
  // A callback that outlives its scope (a timer set inside it, say) falls back to its parent's.
  while (scope && !scope.open) scope = scope.parent;
  return scope;
}

/** Registers a new tensor with the innermost open scope, if any. */
export function track<T extends ScopedResource>(resource: T): T {
  currentScope()?.resources.add(resource);
  return resource;
}

/**
 * Exempts a tensor from disposal by the scopes it was created in, so it outlives a {@link tidy}.
 *
 * @example
 * ```ts
 * import { keep, tidy } from "./memory.ts";
 * import { tensor } from "./creation.ts";
 * import { defaultDevice } from "./default_device.ts";
 * await defaultDevice();
 * let total;
 * tidy(() => {
 *   total = keep(tensor([1, 2, 3]).sum());
 * });
 * console.log(await total!.item()); // 6
 * ```
 */
export function keep<T extends ScopedResource>(resource: T): T {
  kept.add(resource);
  for (let scope = currentScope(); scope; scope = scope.parent) scope.resources.delete(resource);
  return resource;
}

/**
 * Runs `fn` and disposes every tensor created while it ran, except those it returns (a tensor,
 * an array of them, or an object whose values are tensors) and those marked with {@link keep}.
 * An async `fn` keeps its scope open until it settles, and its scope follows it across each
 * `await`: async scopes may interleave (two `tidy(async () => …)` awaited together each track
 * their own tensors), and what one returns joins the scope it was called in. A callback that
 * outlives its scope (a timer set inside it) tracks what it makes in the nearest open scope
 * around it.
 *
 * @example
 * ```ts
 * import { tidy } from "./memory.ts";
 * import { tensor } from "./creation.ts";
 * import { defaultDevice } from "./default_device.ts";
 * await defaultDevice();
 * const y = tidy(() => tensor([1, -2, 3]).relu().mul(2)); // intermediates freed here
 * console.log(await y.toArray()); // [2, 0, 6]
 * ```
 */
export function tidy<R>(fn: () => R): R {
  const scope: Scope = { resources: new Set(), parent: currentScope(), open: true };
  let result: R;
  try {
    result = currentStore.run(scope, fn);
  } catch (error) {
    closeScope(scope, undefined);
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        closeScope(scope, value);
        return value;
      },
      (error) => {
        closeScope(scope, undefined);
        throw error;
      },
    ) as R;
  }
  closeScope(scope, result);
  return result;
}

function closeScope(scope: Scope, result: unknown): void {
  scope.open = false;
  const survivors = new Set<unknown>();
  collect(result, survivors);
  let parent = scope.parent;
  while (parent && !parent.open) parent = parent.parent;
  for (const resource of scope.resources) {
    if (survivors.has(resource)) {
      parent?.resources.add(resource);
    } else if (!kept.has(resource) && !resource.disposed) {
      resource.dispose();
    }
  }
  scope.resources.clear();
}

function collect(value: unknown, into: Set<unknown>): void {
  if (value === null || typeof value !== "object") return;
  if ("dispose" in value && "disposed" in value) {
    into.add(value);
    return;
  }
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) collect(item, into);
}

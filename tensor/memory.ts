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

/** Anything a scope can dispose. */
export interface ScopedResource {
  /** Drops this object's GPU references. */
  dispose(): void;
  /** Whether it has been disposed already. */
  readonly disposed: boolean;
}

const scopes: Set<ScopedResource>[] = [];
const kept = new WeakSet<ScopedResource>();

/** Registers a new tensor with the innermost open scope, if any. */
export function track<T extends ScopedResource>(resource: T): T {
  scopes.at(-1)?.add(resource);
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
  for (const scope of scopes) scope.delete(resource);
  return resource;
}

/**
 * Runs `fn` and disposes every tensor created while it ran, except those it returns (a tensor,
 * an array of them, or an object whose values are tensors) and those marked with {@link keep}.
 * An async `fn` keeps its scope open until it settles: don't interleave two async scopes.
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
  const scope = new Set<ScopedResource>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
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

function closeScope(scope: Set<ScopedResource>, result: unknown): void {
  const index = scopes.lastIndexOf(scope);
  if (index >= 0) scopes.splice(index, 1);
  const survivors = new Set<unknown>();
  collect(result, survivors);
  const parent = scopes.at(-1);
  for (const resource of scope) {
    if (survivors.has(resource)) {
      parent?.add(resource);
    } else if (!kept.has(resource) && !resource.disposed) {
      resource.dispose();
    }
  }
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

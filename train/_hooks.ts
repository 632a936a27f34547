/**
 * How the trainer calls its callbacks: each hook of every callback in the order given,
 * awaiting each, with the trainer as the callback's context.
 *
 * @module
 */

import type { TrainerCallback, TrainerContext } from "./callback.ts";

/** The hooks of a {@link TrainerCallback}. */
export type Hook = Exclude<keyof TrainerCallback, "name" | "stateDict" | "loadStateDict">;

/** A hook's event argument (none for `onTrainStart`). */
export type HookEvent<K extends Hook> = Parameters<NonNullable<TrainerCallback[K]>> extends
  [TrainerContext, ...infer E] ? E : never;

/** Any hook, as the trainer calls it. */
type HookFunction = (trainer: TrainerContext, ...event: unknown[]) => void | Promise<void>;

/** Calls `hook` of every callback in order, awaiting each (a callback's `this` is itself). */
export async function callHooks<K extends Hook>(
  callbacks: readonly TrainerCallback[],
  trainer: TrainerContext,
  hook: K,
  ...event: HookEvent<K>
): Promise<void> {
  for (const c of callbacks) {
    await (c[hook] as HookFunction | undefined)?.call(c, trainer, ...event);
  }
}

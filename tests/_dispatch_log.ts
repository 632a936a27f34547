/**
 * Records the name of every kernel a device dispatches, for tests that count passes.
 *
 * @module
 */

import type { Device } from "../mod.ts";

/** The names of `device`'s dispatches from now on, in order (clear it with `length = 0`). */
export function logDispatches(device: Device): string[] {
  const names: string[] = [];
  const dispatch = device.dispatch.bind(device);
  device.dispatch = (d, bindings) => {
    names.push(d.name);
    dispatch(d, bindings);
  };
  return names;
}

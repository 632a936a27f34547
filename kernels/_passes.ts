/**
 * Multi-pass kernels (a merge sort's merges, a scan's steps) whose every pass reads what the
 * previous one wrote: the passes alternate between the output and one spare buffer, ordered so
 * that the last pass writes the output.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";

/**
 * Runs `count` passes (at least 1): pass `k` reads `source` (`first` for pass 0, which may be
 * null for a pass that needs no input of its kind) and writes `target`. A spare of `bytes` is
 * allocated only when there are two passes or more, and released after the last.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { alternatingPasses } from "./_passes.ts";
 * const device = await Device.acquire();
 * const out = device.alloc(4);
 * const order: string[] = [];
 * alternatingPasses(device, out, 4, 3, null, "example", (source, target, k) => {
 *   order.push(`${k}: ${source === null ? "-" : source === out ? "out" : "spare"} → ${target === out ? "out" : "spare"}`);
 * });
 * console.log(order); // ["0: - → out", "1: out → spare", "2: spare → out"]
 * ```
 */
export function alternatingPasses(
  device: Device,
  out: GpuBuffer,
  bytes: number,
  count: number,
  first: GpuBuffer | null,
  label: string,
  pass: (source: GpuBuffer | null, target: GpuBuffer, k: number) => void,
): void {
  const spare = count > 1 ? device.alloc(bytes, label) : out;
  const targets = [out, spare];
  let source = first;
  for (let k = 0; k < count; k++) {
    const target = targets[(count - 1 - k) % 2];
    pass(source, target, k);
    source = target;
  }
  if (spare !== out) device.release(spare);
}

/**
 * Wall-clock timing of GPU work: warm up (compiles pipelines), then run `iterations` times and
 * wait for the device once at the end, so the per-iteration time excludes readback latency.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { autotune } from "../kernels/autotune.ts";

/**
 * The middle value of `xs` (the upper of the two middle ones for an even count), the median
 * the benches report; `xs` keeps its order.
 */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

/** One measurement. */
export interface Timing {
  /** Mean milliseconds per iteration. */
  ms: number;
  /** Iterations timed. */
  iterations: number;
}

/** Times `body` (which records GPU work) with `sync` waiting for the device. */
export async function timeGpu(
  body: () => void | Promise<void>,
  sync: () => Promise<void>,
  options: { warmup?: number; iterations?: number; minMs?: number } = {},
): Promise<Timing> {
  for (let i = 0; i < (options.warmup ?? 1); i++) await body();
  await sync();
  let iterations = options.iterations ?? 3;
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await body();
  await sync();
  let elapsed = performance.now() - start;
  // Short kernels: repeat until the window is long enough for the clock and sync to vanish.
  while (elapsed < (options.minMs ?? 0) && iterations < 1000) {
    const more = iterations;
    const again = performance.now();
    for (let i = 0; i < more; i++) await body();
    await sync();
    elapsed += performance.now() - again;
    iterations += more;
  }
  return { ms: elapsed / iterations, iterations };
}

/**
 * Waits for `device`, first tuning the shapes the warm-up met (where tuning is on), so the
 * timed runs use the autotuner's choices and no tuning runs among them.
 */
export async function tunedSync(device: Device): Promise<void> {
  await autotune(device);
  await device.sync();
}

/** GFLOP/s of `flops` floating-point operations done in `ms` milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / ms / 1e6;
}

/** Formats a table of rows under a header, columns padded to their widest cell. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padStart(widths[i])).join("  ")).join("\n");
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return "-";
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

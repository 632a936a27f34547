/**
 * The GPU profiler of a training step: runs one step cold (compiling; its pipelines and time
 * are counted), lets the autotuner time the shapes it met (where tuning is on), measures the
 * warm step's wall time, then times one more step kernel by kernel with `timestamp-query`. One
 * row per dispatch (name with shape, variant, ms, TFLOP/s or GB/s), the rows grouped by kernel
 * and variant, and the rows' sum beside the GPU span and the wall time of the step.
 *
 * @module
 */

import {
  autotune,
  autotuneChoices,
  autotuneEnabled,
  type Device,
  type ProfileRow,
  type TuneResult,
} from "../tensor/backend.ts";

/** One row of the grouped table. */
export interface ProfileGroup {
  /** The kernel: the first word of its dispatches' names. */
  kernel: string;
  variant: string;
  calls: number;
  ms: number;
  /** From the FLOPs where the kernels state them, else from the bytes; NaN if neither. */
  rate: number;
  unit: RateUnit;
}

/** The unit of a rate: TFLOP/s (GFLOP/s below 0.1 TFLOP/s), or GB/s. */
export type RateUnit = "TFLOP/s" | "GFLOP/s" | "GB/s" | "";

/** What {@link profileTrainingStep} measured. */
export interface StepProfile {
  /** Wall milliseconds of the first (cold) step, and the pipelines it compiled. */
  coldMs: number;
  pipelines: number;
  /** Host milliseconds spent creating those pipelines. */
  compileMs: number;
  /** Shapes the autotuner timed after the cold step. */
  tuned: TuneResult[];
  /** Median wall milliseconds of 3 warm steps, without timestamps. */
  wallMs: number;
  /** One row per dispatch of the profiled step. */
  rows: ProfileRow[];
  /** Rows grouped by kernel and variant, largest time first. */
  groups: ProfileGroup[];
  /** Sum of the rows (GPU busy time) and the GPU span of the profiled step, in ms. */
  busyMs: number;
  spanMs: number;
  /** The autotuner's choices in force. */
  choices: Record<string, string>;
}

/** The rate of `ms` for `flops` (preferred) or `bytes`. */
export function rateOf(ms: number, flops?: number, bytes?: number): [number, RateUnit] {
  if (!(ms > 0)) return [NaN, ""];
  if (flops) {
    return flops / ms < 1e8 ? [flops / ms / 1e6, "GFLOP/s"] : [flops / ms / 1e9, "TFLOP/s"];
  }
  if (bytes) return [bytes / ms / 1e6, "GB/s"];
  return [NaN, ""];
}

/** Groups rows by kernel (the name's first word) and variant, largest time first. */
export function groupRows(rows: readonly ProfileRow[]): ProfileGroup[] {
  const groups = new Map<string, ProfileRow[]>();
  for (const row of rows) {
    const key = `${row.name.split(/[ [(]/)[0]}\u0000${row.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups].map(([key, list]) => {
    const [kernel, variant] = key.split("\u0000");
    const ms = list.reduce((s, x) => s + x.ms, 0);
    const total = (k: "flops" | "bytes") =>
      list.every((x) => x[k]) ? list.reduce((s, x) => s + x[k]!, 0) : undefined;
    const [rate, unit] = rateOf(ms, total("flops"), total("bytes"));
    return { kernel, variant, calls: list.length, ms, rate, unit };
  }).sort((a, b) => b.ms - a.ms);
}

/**
 * Profiles `step` (one whole training step: forward, backward, update) on `device`, which must
 * offer `timestamp-query`.
 *
 * @example A made-up step (a real one runs forward, backward and the optimiser)
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { formatProfile, profileTrainingStep } from "./profile.ts";
 * const device = await defaultDevice();
 * if (device.hasTimestamps) {
 *   const x = tensor([1, 2, 3], { requiresGrad: true });
 *   const profile = await profileTrainingStep(device, async () => {
 *     const loss = x.mul(x).sum();
 *     await loss.backward();
 *     loss.dispose();
 *   });
 *   console.log(formatProfile(profile)); // one row per kernel, slowest first
 * }
 * ```
 */
export async function profileTrainingStep(
  device: Device,
  step: () => Promise<void>,
): Promise<StepProfile> {
  if (!device.hasTimestamps) {
    throw new Error(`${device.describe()} offers no timestamp-query: cannot profile`);
  }
  const before = device.memory();
  let start = performance.now();
  await step();
  await device.sync();
  const coldMs = performance.now() - start;
  const after = device.memory();
  const tuned = autotuneEnabled(device) ? await autotune(device) : [];
  await step();
  await device.sync();
  const walls: number[] = [];
  for (let i = 0; i < 3; i++) {
    start = performance.now();
    await step();
    await device.sync();
    walls.push(performance.now() - start);
  }
  device.startProfile();
  await step();
  const { rows, spanMs } = await device.stopProfile();
  return {
    coldMs,
    pipelines: after.pipelines - before.pipelines,
    compileMs: after.compileMs - before.compileMs,
    tuned,
    wallMs: walls.sort((a, b) => a - b)[1],
    rows,
    groups: groupRows(rows),
    busyMs: rows.reduce((s, r) => s + r.ms, 0),
    spanMs,
    choices: autotuneChoices(device),
  };
}

/** Formats a number for a table: 3 significant digits, `-` for NaN. */
function num(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
  ).join("\n");
}

/** The profile as text: the per-dispatch table (unless `perDispatch` is false), groups, totals. */
export function formatProfile(p: StepProfile, perDispatch = true): string {
  const out: string[] = [
    `first step: ${num(p.coldMs)} ms, ${p.pipelines} pipelines compiled ` +
    `(${num(p.compileMs)} ms creating them)`,
  ];
  for (const t of p.tuned) {
    const times = t.times.map((x) => `${x.name} ${x.ms.toFixed(3)}`).join(", ");
    out.push(`autotune ${t.op} ${t.key}: ${t.chosen} [${times} ms]`);
  }
  if (perDispatch) {
    out.push(
      "",
      `one training step, kernel by kernel (${p.rows.length} dispatches)`,
      table(
        ["kernel (shape)", "variant", "ms", "rate", "unit"],
        p.rows.map((r) => {
          const [rate, unit] = rateOf(r.ms, r.flops, r.bytes);
          return [r.name, r.variant, num(r.ms), num(rate), unit];
        }),
      ),
    );
  }
  out.push(
    "",
    "by kernel and variant",
    table(
      ["kernel", "variant", "calls", "ms", "share", "rate", "unit"],
      p.groups.map((g) => [
        g.kernel,
        g.variant,
        String(g.calls),
        num(g.ms),
        `${(100 * g.ms / p.busyMs).toFixed(1)}%`,
        num(g.rate),
        g.unit,
      ]),
    ),
    "",
    `rows sum ${num(p.busyMs)} ms; GPU span of the profiled step ${num(p.spanMs)} ms ` +
      `(${num(p.spanMs - p.busyMs)} ms between passes); wall time of a step without ` +
      `timestamps ${num(p.wallMs)} ms (median of 3)`,
  );
  const choices = Object.entries(p.choices);
  if (choices.length > 0) {
    out.push("", "autotuner choices", ...choices.map(([k, v]) => `  ${k}: ${v}`));
  }
  return out.join("\n");
}

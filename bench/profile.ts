/**
 * The GPU profiler: times one real training step of AlexNet (forward, backward, SGD update)
 * kernel by kernel with `timestamp-query`, one row per dispatch (name with shape, variant, ms,
 * TFLOP/s or GB/s), then the same rows grouped by kernel and variant. The rows add up to the
 * GPU busy time; the step's wall time (measured separately, without timestamps) and the GPU span
 * of the profiled step are printed beside them, so the rows are checked against the step.
 *
 *     deno run -A bench/profile.ts [--model full|small] [--batch N] [--no-autotune] [--out f.json]
 *     deno task bench --profile [--model full|small] [--batch N] [--no-autotune]
 *
 * With tuning on (the default on GPUs; see kernels/autotune.ts), the warm-up step's shapes are
 * tuned first, so the profiled step runs the choices, which are printed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { crossEntropy, Device, fromTypedArray, Generator, tidy } from "../mod.ts";
import { AlexNet, alexnetSmall } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { autotune, autotuneChoices, autotuneEnabled } from "../kernels/autotune.ts";
import type { ProfileRow } from "../kernels/device.ts";
import { table } from "./_timing.ts";

/** One row of the grouped table. */
export interface ProfileGroup {
  kernel: string;
  variant: string;
  calls: number;
  ms: number;
  /** TFLOP/s where the kernel states its FLOPs, else GB/s where it states its bytes. */
  rate: number;
  unit: "TFLOP/s" | "GFLOP/s" | "GB/s" | "";
}

/** The rate of a row or group: TFLOP/s from its FLOPs, else GB/s from its bytes. */
function rate(ms: number, flops?: number, bytes?: number): [number, ProfileGroup["unit"]] {
  if (ms <= 0) return [NaN, ""];
  // GFLOP/s below 0.1 TFLOP/s (software adapters), so the figure keeps its digits.
  if (flops) {
    return flops / ms < 1e8 ? [flops / ms / 1e6, "GFLOP/s"] : [flops / ms / 1e9, "TFLOP/s"];
  }
  if (bytes) return [bytes / ms / 1e6, "GB/s"];
  return [NaN, ""];
}

/** Groups rows by kernel (the name's first word) and variant, largest time first. */
export function groupRows(rows: readonly ProfileRow[]): ProfileGroup[] {
  const groups = new Map<string, { r: ProfileRow[] }>();
  for (const row of rows) {
    const key = `${row.name.split(/[ [(]/)[0]}\u0000${row.variant}`;
    const g = groups.get(key) ?? { r: [] };
    g.r.push(row);
    groups.set(key, g);
  }
  return [...groups.entries()].map(([key, { r }]) => {
    const [kernel, variant] = key.split("\u0000");
    const ms = r.reduce((s, x) => s + x.ms, 0);
    const flops = r.every((x) => x.flops) ? r.reduce((s, x) => s + x.flops!, 0) : undefined;
    const bytes = r.every((x) => x.bytes) ? r.reduce((s, x) => s + x.bytes!, 0) : undefined;
    const [v, unit] = rate(ms, flops, bytes);
    return { kernel, variant, calls: r.length, ms, rate: v, unit };
  }).sort((a, b) => b.ms - a.ms);
}

/** Options of {@link profileStep}. */
export interface ProfileOptions {
  /** `full` (the paper's net) or `small` (the scaled one); default by adapter. */
  model?: string;
  /** Default 128 for the full net, 32 for the small one. */
  batch?: number;
  /** Tune the warm-up step's shapes before profiling (default: as kernels/autotune.ts says). */
  autotune?: boolean;
  /** Write the rows, groups and choices as JSON here. */
  out?: string;
}

/** Profiles one training step and prints the tables (see the module doc). */
export async function profileStep(options: ProfileOptions = {}): Promise<void> {
  if (options.autotune === false) Deno.env.set("ALEXNET_AUTOTUNE", "0");
  const device = await Device.acquire();
  if (!device.hasTimestamps) {
    throw new Error(`${device.describe()} offers no timestamp-query: cannot profile`);
  }
  const kind = options.model ?? (device.isSoftware ? "small" : "full");
  if (kind !== "small" && kind !== "full") throw new Error("--model must be small or full");
  const batch = options.batch ?? (kind === "small" ? 32 : 128);
  if (!Number.isInteger(batch) || batch < 1) throw new Error("--batch must be a positive integer");
  const size = kind === "small" ? 32 : 227;
  const model = kind === "small"
    ? alexnetSmall({ seed: 0 }, device)
    : new AlexNet({ seed: 0 }, device);
  model.train();
  const sgd = new SGD({ params: model.parameters(), lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const classes = model.config.numClasses;
  const labels = fromTypedArray(
    Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes),
    [batch],
    { device },
  );
  const data = new Generator(1);
  const images = data.normal([batch, 3, size, size], 0, 1, device).withRank(4);
  const step = async (): Promise<void> => {
    const loss = await tidy(async () => crossEntropy(await model.forward(images), labels));
    await loss.backward();
    sgd.step();
    sgd.zeroGrad();
    loss.dispose();
  };
  console.log(`profile: ${kind} AlexNet, batch ${batch}, ${device.describe()}`);
  const cold = device.memory();
  const t0 = performance.now();
  await step();
  await device.sync();
  const coldMs = performance.now() - t0;
  const compiled = device.memory().pipelines - cold.pipelines;
  console.log(
    `first step: ${coldMs.toFixed(0)} ms, ${compiled} pipelines compiled ` +
      `(${(device.memory().compileMs - cold.compileMs).toFixed(0)} ms creating them)`,
  );
  const tuned = autotuneEnabled(device) ? await autotune(device) : [];
  for (const t of tuned) {
    const times = t.times.map((x) => `${x.name} ${x.ms.toFixed(3)}`).join(", ");
    console.log(`autotune ${t.op} ${t.key}: ${t.chosen}  [${times} ms]`);
  }
  // Wall time of a step without timestamps (median of 3), then one step profiled.
  const walls: number[] = [];
  await step();
  await device.sync();
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    await step();
    await device.sync();
    walls.push(performance.now() - s);
  }
  const wallMs = walls.sort((a, b) => a - b)[1];
  device.startProfile();
  await step();
  const result = await device.stopProfile();
  const busy = result.rows.reduce((s, r) => s + r.ms, 0);
  console.log(
    `\none training step, kernel by kernel (${result.rows.length} dispatches` +
      `${result.untimed ? `, ${result.untimed} untimed` : ""})\n` + table(
        ["#", "kernel (shape)", "variant", "ms", "rate", "unit"],
        result.rows.map((r, i) => {
          const [v, unit] = rate(r.ms, r.flops, r.bytes);
          return [String(i), r.name, r.variant, r.ms, v, unit];
        }),
      ),
  );
  const groups = groupRows(result.rows);
  console.log(
    `\nby kernel and variant\n` + table(
      ["kernel", "variant", "calls", "ms", "share", "rate", "unit"],
      groups.map((g) => [
        g.kernel,
        g.variant,
        String(g.calls),
        g.ms,
        `${(100 * g.ms / busy).toFixed(1)}%`,
        g.rate,
        g.unit,
      ]),
    ),
  );
  console.log(
    `\nrows sum ${busy.toFixed(2)} ms; GPU span of the profiled step ${
      result.spanMs.toFixed(2)
    } ms ` +
      `(gaps between passes ${(result.spanMs - busy).toFixed(2)} ms); ` +
      `wall step without profiling ${wallMs.toFixed(2)} ms (median of 3)`,
  );
  const choices = autotuneChoices(device);
  if (Object.keys(choices).length > 0) {
    console.log(
      `\nautotuner choices\n` + Object.entries(choices).map(([k, v]) => `  ${k}: ${v}`).join("\n"),
    );
  }
  if (options.out) {
    await Deno.writeTextFile(
      options.out,
      JSON.stringify(
        {
          model: kind,
          batch,
          adapter: device.describe(),
          coldMs,
          pipelines: compiled,
          wallMs,
          busyMs: busy,
          spanMs: result.spanMs,
          rows: result.rows,
          groups,
          tuned,
          choices,
        },
        null,
        1,
      ) + "\n",
    );
  }
  device.destroy();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      batch: { type: "string" },
      "no-autotune": { type: "boolean", default: false },
      out: { type: "string" },
    },
    strict: true,
  });
  await profileStep({
    model: values.model,
    batch: values.batch === undefined ? undefined : Number(values.batch),
    autotune: values["no-autotune"] ? false : undefined,
    out: values.out,
  });
  Deno.exit(0);
}

/**
 * Scans side by side: `kernels/scan.ts` against another implementation of the same two functions
 * given as a module path (`SCAN_BEFORE=kernels/_scan_before.ts`, a copy of an earlier scan.ts),
 * interleaved, median of `RUNS` (default 5) per shape; and the largest relative error of a long
 * f32 running sum against float64 for each.
 *
 *     deno run -A bench/scan.ts [--big]
 *
 * `--variants` times the two variants of `kernels/scan.ts` (`"blocked"`, `"rows"`) on rows of 7 to
 * 256 elements instead (a million elements each). `--big` adds the flat i32 running sum of 55M elements that `nonzero` and `maskedSelect` place
 * their outputs with (one run of each).
 *
 * @module
 */

import { Device, type GpuBuffer } from "../kernels/device.ts";
import * as after from "../kernels/scan.ts";
import { median } from "./_timing.ts";

type Scans = Pick<typeof after, "scanRows" | "cumulativeExtremumRows">;

/** `kernels/scan.ts` held to one variant whatever the shape. */
const held = (variant: after.ScanVariant): Scans => ({
  scanRows: (device, op, type, x, out, rows, length, reverse) =>
    after.scanRows(device, op, type, x, out, rows, length, reverse, variant),
  cumulativeExtremumRows: (device, op, type, keys, out, rows, length) =>
    after.cumulativeExtremumRows(device, op, type, keys, out, rows, length, variant),
});

const device = await Device.acquire();
const runs = Number(Deno.env.get("RUNS") ?? 5);
const beforePath = Deno.env.get("SCAN_BEFORE");
const before: Scans | null = beforePath
  ? await import(new URL(`../${beforePath}`, import.meta.url).href)
  : null;
const variants = Deno.args.includes("--variants");
const mine: [string, Scans][] = variants
  ? [["blocked", held("blocked")], ["rows", held("rows")]]
  : [["after", after]];
const impls: [string, Scans][] = before ? [["before", before], ...mine] : mine;

interface Case {
  name: string;
  rows: number;
  length: number;
  type: "f32" | "i32";
  run: (s: Scans, x: GpuBuffer, out: GpuBuffer) => void;
  runs?: number;
}

const sum = (rows: number, length: number, type: "f32" | "i32" = "f32"): Case => ({
  name: `cumsum ${type} [${rows}, ${length}]`,
  rows,
  length,
  type,
  run: (s, x, out) => s.scanRows(device, "sum", type, x, out, rows, length),
});

const cases: Case[] = [
  sum(1, 1_000_000),
  sum(256, 4096),
  sum(4096, 33),
  sum(65536, 7),
  sum(1, 1_000_000, "i32"),
  {
    name: "cummax f32 [1, 1000000]",
    rows: 1,
    length: 1_000_000,
    type: "f32",
    run: (s, x, out) => s.cumulativeExtremumRows(device, "max", "f32", x, out, 1, 1_000_000),
  },
];
if (variants) {
  cases.splice(0, cases.length, ...[7, 16, 33, 64, 128, 256].map((l) => sum(2 ** 20 / l | 0, l)));
}
if (Deno.args.includes("--big")) cases.push({ ...sum(1, 55_000_000, "i32"), runs: 1 });

async function time(body: () => void): Promise<number> {
  await device.sync();
  const start = performance.now();
  body();
  await device.sync();
  return performance.now() - start;
}

for (const c of cases) {
  const n = c.rows * c.length;
  const x = device.alloc(n * 4), out = device.alloc(n * 4);
  const data = c.type === "f32"
    ? Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000)
    : Int32Array.from({ length: n }, (_, i) => (i * 7919) % 2);
  device.write(x, data);
  const times = new Map(impls.map(([name]) => [name, [] as number[]]));
  for (const [, s] of impls) await time(() => c.run(s, x, out)); // compile
  for (let r = 0; r < (c.runs ?? runs); r++) {
    for (const [name, s] of impls) times.get(name)!.push(await time(() => c.run(s, x, out)));
  }
  const line = impls.map(([name]) => `${name} ${median(times.get(name)!).toFixed(1)} ms`);
  console.log(`${c.name}: ${line.join(", ")}`);
  device.release(x);
  device.release(out);
}

// The largest relative error of an f32 running sum of 1e6 positive values against float64.
{
  const n = 1_000_000;
  const data = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 + 1e-3);
  const x = device.alloc(n * 4), out = device.alloc(n * 4);
  device.write(x, data);
  for (const [name, s] of impls) {
    s.scanRows(device, "sum", "f32", x, out, 1, n);
    const got = new Float32Array(await device.read(out, 0, n * 4));
    let acc = 0, worst = 0;
    for (let i = 0; i < n; i++) {
      acc += data[i];
      worst = Math.max(worst, Math.abs(got[i] - acc) / acc);
    }
    console.log(`max relative error of cumsum f32 [1, ${n}], ${name}: ${worst.toExponential(2)}`);
  }
}
device.destroy();

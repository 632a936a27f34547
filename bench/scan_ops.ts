/**
 * `nonzero` and `maskedSelect` of a flat f32 tensor, which place their outputs with a running sum
 * of the mask: median of `RUNS` (default 3) wall-clock milliseconds each, on 1e6 elements, and
 * 55M with `--big` (one run). Run it once per scan implementation to compare them.
 *
 *     deno run -A bench/scan_ops.ts [--big]
 *
 * @module
 */

import * as t from "../mod.ts";
import { median } from "./_timing.ts";

const device = await t.defaultDevice();
const runs = Number(Deno.env.get("RUNS") ?? 3);
const sizes = Deno.args.includes("--big") ? [1_000_000, 55_000_000] : [1_000_000];

for (const n of sizes) {
  const data = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000);
  const x = t.tensor(data);
  const mask = x.gt(0.5);
  const cases: [string, () => Promise<t.Tensor>][] = [
    ["nonzero", () => t.nonzero(mask)],
    ["maskedSelect", () => t.maskedSelect(x, mask)],
  ];
  for (const [name, op] of cases) {
    const times: number[] = [];
    for (let r = 0; r < (n > 2e6 ? 1 : runs + 1); r++) {
      await device.sync();
      const start = performance.now();
      const out = await op();
      await device.sync();
      times.push(performance.now() - start);
      out.dispose();
    }
    if (times.length > 1) times.shift(); // the first compiles
    console.log(`${name} [${n}]: ${median(times).toFixed(0)} ms`);
  }
  x.dispose();
  mask.dispose();
}
device.destroy();

/**
 * The host's cost of recording a dispatch: the peers comparison's ops (`bench/peers.ts`), their
 * three passes recorded again and again with the pipelines already compiled, timed on the host
 * only (the GPU runs behind; every 10 runs the device is awaited so the queue stays short).
 * Prints the median milliseconds per run and microseconds per dispatch. On a real GPU this is
 * the time a step spends in JavaScript before the kernels can start.
 *
 *     deno run -A bench/host_record.ts [--ops 1×1,matmul] [--runs 400]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { ourOp, peerOps } from "./peers.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { ops: { type: "string" }, runs: { type: "string", default: "400" } },
  strict: true,
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");
const device = await Device.acquire();
const batch = 2;
const ops = peerOps(batch, values.ops);

const rows: (string | number)[][] = [];
for (const op of ops) {
  const { passes, read, buffers } = ourOp(device, op);
  passes();
  await read();
  const before = device.memory().dispatches;
  passes();
  const dispatches = device.memory().dispatches - before;
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    passes();
    ms.push(performance.now() - start);
    if (i % 10 === 9) await device.sync();
  }
  await device.sync();
  for (const b of buffers) device.release(b);
  const ms50 = median(ms);
  rows.push([op.name, String(dispatches), ms50, (ms50 * 1000) / dispatches]);
}
console.log(
  `host time recording one run (value and both gradients), median of ${runs}; ` +
    `${device.describe()}\n` + table(["op", "dispatches", "ms", "µs per dispatch"], rows),
);

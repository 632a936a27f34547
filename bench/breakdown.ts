/**
 * Where one run of the peers comparison's ops goes (`bench/peers.ts` times the same work): the
 * host recording the three passes, the GPU running their kernels (timestamps, one row per
 * kernel with its variant), and the map wait of reading the three results back, measured apart as
 * one more read with the GPU idle. Deno's mapAsync waits for an idle device and then polls about
 * every 10 ms, so the wait is a floor under every library's run alike. Last column: the wall time
 * per run of 8 runs started back to back, read back, the reads awaited together (the peers
 * bench's pipelined measure), where the runs share one map wait.
 *
 *     deno run -A bench/breakdown.ts [--ops conv2,1×1,matmul] [--rows]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { opReadBytes, ourOp, peerOps, timePipelined } from "./peers.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { ops: { type: "string" }, rows: { type: "boolean", default: false } },
  strict: true,
});
const device = await Device.acquire();
const batch = 2;
const ops = peerOps(batch, values.ops);

/** Runs per pipelined batch. */
const PIPELINED_RUNS = 8;

const out: string[][] = [];
for (const op of ops) {
  const { passes, read, buffers } = ourOp(device, op);
  passes();
  await read();
  const total: number[] = [], record: number[] = [], wait: number[] = [], pipelined: number[] = [];
  const oneRun = () => {
    passes();
    return read();
  };
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    passes();
    record.push(performance.now() - start);
    await read();
    total.push(performance.now() - start);
    await device.sync();
    const idle = performance.now();
    await read();
    wait.push(performance.now() - idle);
    pipelined.push(await timePipelined(oneRun, opReadBytes(op), PIPELINED_RUNS));
  }
  device.startProfile();
  passes();
  const profile = await device.stopProfile();
  const gpu = profile.rows.reduce((s, r) => s + r.ms, 0);
  out.push(
    [op.name, median(total), median(record), gpu, median(wait), median(pipelined)].map(String),
  );
  for (const b of buffers) device.release(b);
  if (values.rows) {
    for (const r of profile.rows) {
      console.log(`${op.name}: ${r.ms.toFixed(2)} ms ${r.variant} ${r.name}`);
    }
  }
}
console.log(
  `one run (value and both gradients, read back), ms: median of 5; GPU: timestamps of one run; ` +
    `pipelined: ms per run of ${PIPELINED_RUNS} runs started back to back; ${device.describe()}\n` +
    table(
      ["op", "run", "record", "GPU", "idle map wait", "pipelined"],
      out.map(([name, ...ms]) => [name, ...ms.map(Number)]),
    ),
);
device.destroy();

/**
 * The peers comparison's ops (`bench/peers.ts`) on two versions of our kernels in one process,
 * on one device: another checkout's (`--base`, e.g. a worktree of main) against this one's,
 * the two alternating round by round so the machine's load falls on both alike. Per op and
 * version, medians over the rounds of: one run awaited alone (latency: the three passes and
 * their readback), the ms per run of 8 runs started back to back (pipelined), the GPU time of
 * one run (timestamps) and the CPU time the process spends per run (lavapipe's threads: on a
 * loaded machine it stretches far less than the wall clock).
 *
 *     git worktree add --detach /tmp/base main
 *     deno run -A bench/ops_side_by_side.ts --base /tmp/base [--ops s2,conv1] [--rounds 7]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import process from "node:process";
import { Device } from "../kernels/device.ts";
import { type OpKernels, opReadBytes, ourOp, peerOps, timePipelined, timeRun } from "./peers.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string" },
    ops: { type: "string" },
    rounds: { type: "string", default: "7" },
    batch: { type: "string", default: "2" },
  },
  strict: true,
});
if (!values.base) throw new Error("--base <checkout> is required");
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer");
const root = `file://${resolve(values.base)}/kernels`;
const baseKernels: OpKernels = {
  conv2d: (await import(`${root}/conv2d.ts`)).conv2d,
  conv2dBackwardInput: (await import(`${root}/conv2d_backward.ts`)).conv2dBackwardInput,
  conv2dBackwardWeight: (await import(`${root}/conv2d_backward.ts`)).conv2dBackwardWeight,
  matmul: (await import(`${root}/matmul.ts`)).matmul,
};

/** Runs per pipelined batch, as `bench/breakdown.ts`. */
const PIPELINED_RUNS = 8;

const device = await Device.acquire();
const rows: (string | number)[][] = [];
for (const op of peerOps(Number(values.batch), values.ops)) {
  const versions = [
    ["base", ourOp(device, op, baseKernels)],
    ["this", ourOp(device, op)],
  ] as const;
  const expected = opReadBytes(op);
  const stats = versions.map(() => ({ latency: [], pipelined: [], gpu: [], cpu: [] } as Record<
    "latency" | "pipelined" | "gpu" | "cpu",
    number[]
  >));
  for (const [, v] of versions) {
    v.passes();
    await v.read();
  }
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < versions.length; j++) {
      // Alternate which goes first, so neither always follows the other's work.
      const i = (j + r) % versions.length, v = versions[i][1], s = stats[i];
      const start = () => {
        v.passes();
        return v.read();
      };
      s.latency.push(await timeRun(start, expected));
      s.pipelined.push(await timePipelined(start, expected, PIPELINED_RUNS));
      device.startProfile();
      v.passes();
      s.gpu.push((await device.stopProfile()).rows.reduce((sum, row) => sum + row.ms, 0));
      await device.sync();
      const cpu = process.cpuUsage();
      for (let k = 0; k < PIPELINED_RUNS; k++) v.passes();
      await device.sync();
      const used = process.cpuUsage(cpu);
      s.cpu.push((used.user + used.system) / 1000 / PIPELINED_RUNS);
    }
  }
  versions.forEach(([name], i) => {
    const s = stats[i];
    rows.push([op.name, name, ...[s.latency, s.pipelined, s.gpu, s.cpu].map(median)]);
  });
  for (const [, v] of versions) for (const b of v.buffers) device.release(b);
}
const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(
  `ms per run, medians of ${rounds} rounds (base: ${values.base}); load ${load}; ` +
    device.describe(),
);
console.log(table(["op", "version", "latency", "pipelined", "GPU", "CPU"], rows));
device.destroy();

/**
 * The peers bench's two measures (bench/peers.ts): latency awaits each run; the pipelined
 * measure starts every run of a batch before awaiting any, checks that every run read back all
 * its results, and, for our kernels, each run reads its own results even though the next run
 * overwrites the same buffers. Every library (ours, TensorFlow.js, jax-js) runs a tiny conv and
 * matmul through both measures.
 */

import assert from "node:assert/strict";
import { Device } from "../kernels/device.ts";
import { matmul } from "../kernels/matmul.ts";
import {
  benchPeers,
  jaxRunner,
  oursRunner,
  type PeerOp,
  pipelineDepth,
  tfjsRunner,
  timePipelined,
  timeRun,
} from "../bench/peers.ts";
import { squareConv } from "../bench/cnn_layers.ts";

Deno.test("timePipelined starts every run before awaiting any and reports ms per run", async () => {
  let started = 0;
  const startedWhenSettled: number[] = [];
  const start = () => {
    started++;
    return new Promise<number>((resolve) =>
      setTimeout(() => {
        startedWhenSettled.push(started);
        resolve(12);
      }, 20)
    );
  };
  const before = performance.now();
  const perRun = await timePipelined(start, 12, 4);
  const total = performance.now() - before;
  assert.deepEqual(startedWhenSettled, [4, 4, 4, 4]);
  // Four runs of 20 ms overlapping: about 20 ms in all, so about 5 a run.
  assert.ok(perRun * 4 <= total + 1 && perRun < 15, `${perRun} ms a run of ${total}`);
});

Deno.test("a run that reads back less than the op's results stops both measures", async () => {
  const short = () => Promise.resolve(8);
  await assert.rejects(timeRun(short, 12), /read back 8 bytes, expected 12: it skipped work/);
  await assert.rejects(timePipelined(short, 12, 3), /read back 8 bytes, expected 12/);
});

Deno.test("pipeline depth: 8 runs for fast ops, fewer for slow ones, at least 2", () => {
  assert.equal(pipelineDepth(15), 8);
  assert.equal(pipelineDepth(60), 4);
  assert.equal(pipelineDepth(5000), 2);
});

Deno.test("pipelined reads each see their own run although the next run overwrites", async () => {
  const device = await Device.acquire();
  try {
    const [m, n, k] = [3, 5, 7];
    const a = device.alloc(m * k * 4), b = device.alloc(k * n * 4), out = device.alloc(m * n * 4);
    device.write(b, new Float32Array(k * n).fill(1));
    const seen: number[][] = [];
    const reads: Promise<void>[] = [];
    for (let run = 0; run < 4; run++) {
      device.write(a, new Float32Array(m * k).fill(run + 1));
      matmul(device, { a, b, out, m, n, k });
      const consume = (
        bytes: Uint8Array,
      ) => (seen[run] = [...new Float32Array(bytes.slice().buffer)]);
      reads.push(Device.readTogether([{ source: out, bytes: m * n * 4, consume }]));
    }
    await Promise.all(reads);
    seen.forEach((values, run) => assert.deepEqual(values, Array(m * n).fill((run + 1) * k)));
    for (const buffer of [a, b, out]) device.release(buffer);
  } finally {
    device.destroy();
  }
});

Deno.test("every library reads every run under both measures", async () => {
  const device = await Device.acquire();
  try {
    const ops: PeerOp[] = [
      // Grouped and strided, so tfjs's group-by-group path runs too.
      { name: "conv", kind: "conv", g: squareConv(2, 4, 7, 6, 3, 2, 1, 2) },
      { name: "matmul", kind: "matmul", m: 7, n: 5, k: 3 },
    ];
    const timings = await benchPeers(
      { ours: oursRunner(device), tfjs: tfjsRunner, jax: jaxRunner },
      ops,
      1,
    );
    for (const [lib, byOp] of Object.entries(timings)) {
      for (const op of ops) {
        const t = byOp.get(op.name)!;
        assert.equal(t.error, undefined, `${lib} ${op.name}: ${t.error}`);
        assert.ok(t.ms! > 0 && t.pipelinedMs! > 0 && t.coldMs! > 0, `${lib} ${op.name}`);
        assert.equal(t.depth, 8);
      }
    }
  } finally {
    device.destroy();
  }
});

/**
 * How Deno's WebGPU makes the host wait, measured with a spin kernel: the facts the two-device
 * schedule rests on (issue 11).
 *
 *     deno run -A bench/two_devices_polling.ts [--repeats 3]
 *
 * It times, on the adapter at hand:
 * - an idle map: a 16-byte copy, `mapAsync`, resolved (Deno 2.9: ~11 ms, its polling sleep);
 * - a map behind work: how long the `mapAsync()` CALL itself blocks (Deno polls the device once,
 *   waiting until it is idle, before returning the promise) and when the map resolves;
 * - work submitted right after `mapAsync()`: whether the map's wait covers it or it runs during
 *   the sleep (the map resolves before it finishes);
 * - the next `queue.submit` while work runs (on lavapipe it blocks until the device's previous
 *   submission is done: one submission in flight per device);
 * - two devices' spins submitted together, and their maps awaited together.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { requestAdapter } from "../kernels/adapters.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { repeats: { type: "string", default: "3" } },
  strict: true,
});
const repeats = Number(values.repeats);

const SPIN = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> n: vec4<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var x = f32(g.x);
  for (var i = 0u; i < n.x; i++) { x = fract(x * 1.0001 + 0.37); }
  out[g.x] = x;
}`;

const adapter = await requestAdapter();
if (!adapter) throw new Error("no WebGPU adapter");

/** One device with a spin kernel and a 16-byte staging buffer. */
async function spinner(iterations: number) {
  const device = await adapter!.requestDevice();
  const module = device.createShaderModule({ code: SPIN });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const usage = GPUBufferUsage;
  const out = device.createBuffer({ size: 64 * 64 * 4, usage: usage.STORAGE | usage.COPY_SRC });
  const n = device.createBuffer({ size: 16, usage: usage.UNIFORM | usage.COPY_DST });
  device.queue.writeBuffer(n, 0, new Uint32Array([iterations, 0, 0, 0]));
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: out } }, { binding: 1, resource: { buffer: n } }],
  });
  const staging = device.createBuffer({ size: 16, usage: usage.MAP_READ | usage.COPY_DST });
  return {
    /** Submits `spins` spin dispatches, then (if `copy`) the copy to staging: one submission.
     * Returns how long the submit call blocked. */
    submit(spins: number, copy: boolean): number {
      const encoder = device.createCommandEncoder();
      if (spins > 0) {
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let i = 0; i < spins; i++) pass.dispatchWorkgroups(64);
        pass.end();
      }
      if (copy) encoder.copyBufferToBuffer(out, 0, staging, 0, 16);
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      return performance.now() - start;
    },
    /** Maps the staging buffer: [ms the mapAsync() call blocked, ms until resolved]. */
    async map(): Promise<[number, number]> {
      const start = performance.now();
      const mapped = staging.mapAsync(GPUMapMode.READ);
      const call = performance.now() - start;
      await mapped;
      staging.unmap();
      return [call, performance.now() - start];
    },
    /** Issues the map, then runs `then` before awaiting it; ms until resolved. */
    async mapThen(then: () => void): Promise<number> {
      const start = performance.now();
      const mapped = staging.mapAsync(GPUMapMode.READ);
      then();
      await mapped;
      staging.unmap();
      return performance.now() - start;
    },
  };
}

const a = await spinner(20000), b = await spinner(20000);
a.submit(1, true);
await a.map();
// One spin dispatch, timed as the block of the submit after it (lavapipe) or by a map.
const start = performance.now();
a.submit(1, true);
await a.map();
const spinMs = performance.now() - start;
const f = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`${adapter.info.description || adapter.info.vendor}: one spin ≈ ${f(spinMs)}`);
for (let r = 0; r < repeats; r++) {
  a.submit(0, true);
  const [, idle] = await a.map();
  a.submit(1, true);
  const [call, resolved] = await a.map();
  console.log(
    `idle map resolved after ${f(idle)}; behind a spin: the mapAsync() call blocked ${
      f(call)
    }, resolved after ${f(resolved)}`,
  );
  a.submit(0, true);
  let blocked = 0;
  const resolvedBeside = await a.mapThen(() => (blocked = a.submit(1, false)));
  const t = performance.now();
  const nextBlocked = a.submit(0, true);
  await a.map();
  console.log(
    `a spin submitted right after mapAsync() (submit blocked ${f(blocked)}): the map resolved ` +
      `after ${f(resolvedBeside)}; the next submit blocked ${f(nextBlocked)}, the spin was done ${
        f(performance.now() - t)
      } after the map`,
  );
  const both = performance.now();
  const submitA = a.submit(1, true), submitB = b.submit(1, true);
  await Promise.all([a.map(), b.map()]);
  console.log(
    `two devices, one spin each (submits blocked ${f(submitA)}, ${f(submitB)}), maps together: ${
      f(performance.now() - both)
    }`,
  );
}
console.log(`load average ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
Deno.exit(0);

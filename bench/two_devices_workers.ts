/**
 * An experiment behind the two-device design: what keeps two devices busy while a map waits?
 * A synthetic "tower" step (`--segments` compute segments per device, an exchange of
 * `--floats` values each way between segments) runs three ways on two devices:
 *
 * - `blocking`: one thread records both devices, then waits for the exchange's maps before
 *   recording the next segment (the library's first two-device path);
 * - `ahead`: one thread records the next segment while the maps wait and submits it once the
 *   exchanged data is written (what `Device.copyAcross` does);
 * - `workers`: one Deno Worker per device, each owning its device and recording its own
 *   segments, the exchanges going through a SharedArrayBuffer (Atomics wait/notify).
 *
 *     deno run -A bench/two_devices_workers.ts [--segments 8] [--work 4] [--floats 65536]
 *       [--steps 5] [--repeats 5]
 *
 * `--work` scales each segment's compute (dispatches per segment). Prints the median ms/step
 * of each way over `--repeats` interleaved blocks.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, table } from "./_timing.ts";
import { requestAdapter } from "../kernels/adapters.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    segments: { type: "string", default: "8" },
    work: { type: "string", default: "4" },
    floats: { type: "string", default: "65536" },
    steps: { type: "string", default: "5" },
    repeats: { type: "string", default: "5" },
  },
  strict: true,
});

/** The shape of the experiment, shared with the workers. */
interface Plan {
  segments: number;
  work: number;
  floats: number;
}

/** Busy work: each invocation runs a dependent multiply-add loop over its element. */
const SHADER = `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= arrayLength(&data)) { return; }
  var x = data[i];
  for (var k = 0u; k < 256u; k++) { x = x * 0.999 + 0.001; }
  data[i] = x;
}`;

/** One device's tower: its buffers, pipeline and the recording of one segment. */
class Tower {
  readonly device: GPUDevice;
  readonly data: GPUBuffer;
  readonly staging: GPUBuffer;
  readonly #pipeline: GPUComputePipeline;
  readonly #group: GPUBindGroup;
  readonly #plan: Plan;

  private constructor(device: GPUDevice, plan: Plan) {
    this.device = device;
    this.#plan = plan;
    const bytes = plan.floats * 4;
    this.data = device.createBuffer({ size: bytes, usage: 0x80 | 0x04 | 0x08 });
    this.staging = device.createBuffer({ size: bytes, usage: 0x01 | 0x08 });
    this.#pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code: SHADER }), entryPoint: "main" },
    });
    this.#group = device.createBindGroup({
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: this.data } }],
    });
  }

  static async create(plan: Plan): Promise<Tower> {
    // The library's request: native backends only, so the Workers' exit cannot crash in libEGL.
    const adapter = await requestAdapter();
    if (!adapter) throw new Error("no WebGPU adapter");
    return new Tower(await adapter.requestDevice(), plan);
  }

  /** A segment's compute, then the copy of the outgoing half into the staging buffer. */
  segment(): GPUCommandBuffer {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#group);
    for (let i = 0; i < this.#plan.work; i++) {
      pass.dispatchWorkgroups(Math.ceil(this.#plan.floats / 64));
    }
    pass.end();
    encoder.copyBufferToBuffer(this.data, 0, this.staging, 0, this.#plan.floats * 4);
    return encoder.finish();
  }

  /** Maps the staging buffer and hands its bytes to `use`. */
  async readOut(use: (bytes: Float32Array) => void): Promise<void> {
    await this.staging.mapAsync(1);
    use(new Float32Array(this.staging.getMappedRange()));
    this.staging.unmap();
  }

  /** Writes the other tower's values into this tower's data. */
  writeIn(values: Float32Array): void {
    this.device.queue.writeBuffer(this.data, 0, values as Float32Array<ArrayBuffer>);
  }
}

// ---- the worker side ------------------------------------------------------------------------

interface WorkerStart {
  plan: Plan;
  index: number;
  shared: SharedArrayBuffer;
}

/** Shared layout: [flag0, flag1, stop] as Int32 (generation counters), then two data halves. */
const HEADER_BYTES = 16;

async function workerMain(start: WorkerStart): Promise<void> {
  const { plan, index, shared } = start;
  const flags = new Int32Array(shared, 0, 4);
  const halves = [0, 1].map((i) =>
    new Float32Array(shared, HEADER_BYTES + i * plan.floats * 4, plan.floats)
  );
  const tower = await Tower.create(plan);
  const post = (message: unknown) => (self as unknown as Worker).postMessage(message);
  post({ ready: true });
  let generation = 0;
  (self as unknown as Worker).onmessage = async (event: MessageEvent) => {
    if (event.data.stop) {
      tower.device.destroy();
      self.close();
      return;
    }
    const steps = event.data.steps as number;
    for (let s = 0; s < steps; s++) {
      for (let g = 0; g < plan.segments; g++) {
        tower.device.queue.submit([tower.segment()]);
        await tower.readOut((bytes) => halves[index].set(bytes));
        generation++;
        Atomics.store(flags, index, generation);
        Atomics.notify(flags, index);
        const other = 1 - index;
        while (Atomics.load(flags, other) < generation) {
          const r = Atomics.waitAsync(flags, other, Atomics.load(flags, other), 1000);
          if ((r.async ? await r.value : r.value) === "timed-out" && Atomics.load(flags, 2)) {
            throw new Error(`tower ${index}: the other tower stopped`);
          }
        }
        tower.writeIn(halves[other]);
      }
    }
    await tower.device.queue.onSubmittedWorkDone();
    post({ done: true });
  };
}

// ---- the main side --------------------------------------------------------------------------

async function blockingStep(towers: Tower[], plan: Plan): Promise<void> {
  for (let g = 0; g < plan.segments; g++) {
    for (const t of towers) t.device.queue.submit([t.segment()]);
    const outs: Float32Array[] = [];
    await Promise.all(towers.map((t, i) => t.readOut((b) => (outs[i] = b.slice()))));
    towers.forEach((t, i) => t.writeIn(outs[1 - i]));
  }
}

async function aheadStep(towers: Tower[], plan: Plan): Promise<void> {
  let next = towers.map((t) => t.segment());
  for (let g = 0; g < plan.segments; g++) {
    towers.forEach((t, i) => t.device.queue.submit([next[i]]));
    const maps = Promise.all(towers.map((t, i) => t.readOut((b) => towers[1 - i].writeIn(b))));
    // Recorded while the maps wait; submitted after the exchanged data is written.
    if (g + 1 < plan.segments) next = towers.map((t) => t.segment());
    await maps;
  }
}

async function workersRun(
  plan: Plan,
): Promise<{ run: (steps: number) => Promise<void>; stop: () => void }> {
  const shared = new SharedArrayBuffer(HEADER_BYTES + 2 * plan.floats * 4);
  const workers = [0, 1].map(() =>
    new Worker(new URL(import.meta.url).href + "?worker", { type: "module" })
  );
  const listen = (w: Worker, key: string) =>
    new Promise<void>((resolve, reject) => {
      w.onmessage = (e) => e.data[key] && resolve();
      w.onerror = (e) => {
        e.preventDefault();
        Atomics.store(new Int32Array(shared, 0, 4), 2, 1);
        reject(new Error(`worker: ${e.message}`));
      };
    });
  await Promise.all(workers.map((w, index) => {
    const ready = listen(w, "ready");
    w.postMessage({ plan, index, shared } satisfies WorkerStart);
    return ready;
  }));
  const run = async (steps: number): Promise<void> => {
    const done = workers.map((w) => listen(w, "done"));
    for (const w of workers) w.postMessage({ steps });
    await Promise.all(done);
  };
  return { run, stop: () => workers.forEach((w) => w.postMessage({ stop: true })) };
}

if (import.meta.url.endsWith("?worker")) {
  (self as unknown as Worker).onmessage = (e: MessageEvent) => workerMain(e.data as WorkerStart);
} else if (import.meta.main) {
  const plan: Plan = {
    segments: Number(values.segments),
    work: Number(values.work),
    floats: Number(values.floats),
  };
  const steps = Number(values.steps), repeats = Number(values.repeats);
  const towers = [await Tower.create(plan), await Tower.create(plan)];
  const workers = await workersRun(plan);
  const ways: [string, (n: number) => Promise<void>][] = [
    ["blocking", async (n) => {
      for (let s = 0; s < n; s++) await blockingStep(towers, plan);
      await Promise.all(towers.map((t) => t.device.queue.onSubmittedWorkDone()));
    }],
    ["ahead", async (n) => {
      for (let s = 0; s < n; s++) await aheadStep(towers, plan);
      await Promise.all(towers.map((t) => t.device.queue.onSubmittedWorkDone()));
    }],
    ["workers", workers.run],
  ];
  const times = ways.map(() => [] as number[]);
  for (const [, run] of ways) await run(1);
  for (let r = 0; r < repeats; r++) {
    for (const [i, [, run]] of ways.entries()) {
      const start = performance.now();
      await run(steps);
      times[i].push((performance.now() - start) / steps);
    }
  }
  console.log(
    `two logical devices, ${plan.segments} segments × ${plan.work} dispatches, ` +
      `${plan.floats} floats exchanged each way per segment; median of ${repeats} blocks\n` +
      table(
        ["way", "ms/step", "blocks (ms/step)"],
        ways.map(([name], i) => [
          name,
          median(times[i]),
          times[i].map((t) => t.toFixed(0)).join(" "),
        ]),
      ),
  );
  workers.stop();
  for (const t of towers) t.device.destroy();
  Deno.exit(0);
}

/**
 * The same work in our kernels and in two peer libraries on the same WebGPU adapter:
 * TensorFlow.js's WebGPU backend and jax-js. Every library is timed the same way: the value and
 * both gradients of `sum(op(a, b))` (a convolution or a matmul), every run read back to the host,
 * after a first call whose time (compiling) is reported apart. Two measures: latency, the median
 * of several runs each awaited before the next; and throughput, the median ms per run of batches
 * of runs started back to back whose reads are awaited together at the end. In Deno 2.9 every
 * map waits for the device to go idle and then sleeps ~10 ms, and maps waiting together share
 * that sleep: it is a floor under each latency run, shared by a pipelined batch.
 * jax-js's `jit(grad(f))` would drop the forward pass (the gradient of a sum does not need it),
 * so it runs `jit(valueAndGrad(f))`. Benchmark-only dependencies.
 *
 * @module
 */

import { Device, type GpuBuffer } from "../kernels/device.ts";
import { conv2d, type Conv2dGeometry, conv2dOutputSize } from "../kernels/conv2d.ts";
import { conv2dBackwardInput, conv2dBackwardWeight } from "../kernels/conv2d_backward.ts";
import { matmul } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";
import { autotune } from "../kernels/autotune.ts";
import { alexnetConvs, squareConv } from "./cnn_layers.ts";
import { median } from "./_timing.ts";

/** One benchmarked op: a convolution or an M×K·K×N product. */
export type PeerOp =
  | { name: string; kind: "conv"; g: Conv2dGeometry }
  | { name: string; kind: "matmul"; m: number; n: number; k: number };

/** A library's timings for one op, or why it could not run. */
export interface PeerTiming {
  /** Latency: median milliseconds of one run (value, both gradients, read back), awaited alone. */
  ms: number | null;
  /**
   * Throughput: median milliseconds per run of `depth` runs issued back to back, each run's
   * results read back, the reads awaited together at the end.
   */
  pipelinedMs?: number | null;
  /** Runs in each pipelined batch (the same for every library of an op). */
  depth?: number;
  /** Milliseconds of the first run (compiling included). */
  coldMs?: number | null;
  /** Why a measure failed (the library did not load, a run threw or read back too little). */
  error?: string;
}

/** One op prepared on one library: its inputs allocated, its step built. */
export interface PeerSession {
  /**
   * Starts one run: records or dispatches the value and both gradients and starts reading all
   * three to the host, without waiting for earlier runs. Settles with the bytes read once every
   * result of this run is on the host.
   */
  start(): Promise<number>;
  /** Releases the op's inputs. */
  close(): void;
}

/** Prepares an op on one library. */
export type Runner = (op: PeerOp) => Promise<PeerSession>;

/** Floating-point operations of the value and both gradients of an op. */
export function opFlops(op: PeerOp): number {
  if (op.kind === "matmul") return 3 * 2 * op.m * op.n * op.k;
  const g = op.g, { outH, outW } = conv2dOutputSize(g);
  return 3 * 2 * g.batch * g.outChannels * outH * outW * (g.inChannels / g.groups) * g.kernelH *
    g.kernelW;
}

/**
 * Bytes every run reads back, whatever the library: the value (one float) and both gradients
 * (as many floats as the operands). A run that reads less has skipped work, and the bench stops.
 */
export function opReadBytes(op: PeerOp): number {
  if (op.kind === "matmul") return 4 * (1 + op.m * op.k + op.k * op.n);
  const g = op.g;
  const nx = g.batch * g.inChannels * g.height * g.width;
  const nw = g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW;
  return 4 * (1 + nx + nw);
}

/**
 * Runs per pipelined batch for an op whose fastest library takes `fastestMs` a run: enough
 * runs to span about 200 ms, from 2 to 8. Deno's maps share one ~10 ms wait per batch, so from 8
 * runs on its share per run is small; long runs need few, and memory stays bounded.
 */
export function pipelineDepth(fastestMs: number): number {
  return Math.min(8, Math.max(2, Math.ceil(200 / fastestMs)));
}

function checkRead(bytes: number, expected: number): void {
  if (bytes !== expected) {
    throw new Error(`a run read back ${bytes} bytes, expected ${expected}: it skipped work`);
  }
}

/** Milliseconds of one run (`start`, as {@link PeerSession.start}), awaited alone (latency). */
export async function timeRun(
  start: () => Promise<number>,
  expectedBytes: number,
): Promise<number> {
  const started = performance.now();
  checkRead(await start(), expectedBytes);
  return performance.now() - started;
}

/**
 * Milliseconds per run of `depth` runs (`start`, as {@link PeerSession.start}) started back to
 * back, their reads awaited together at the end (throughput, as a training loop that does not
 * wait on every step).
 */
export async function timePipelined(
  start: () => Promise<number>,
  expectedBytes: number,
  depth: number,
): Promise<number> {
  const started = performance.now();
  const runs: Promise<number>[] = [];
  for (let i = 0; i < depth; i++) runs.push(start());
  // Every run's reads are awaited (a failed one still lets the others settle first).
  const outcomes = await Promise.allSettled(runs);
  const elapsed = performance.now() - started;
  for (const outcome of outcomes) {
    if (outcome.status === "rejected") throw outcome.reason;
    checkRead(outcome.value, expectedBytes);
  }
  return elapsed / depth;
}

/** One op on our kernels: its three passes, the three results to read back, its buffers. */
export interface OurOp {
  /** Records the forward pass and both gradients (or the three products). */
  passes: () => void;
  /**
   * Records copies of the three results into staging of their own and settles with the bytes
   * read once they are on the host (ONE host wait; copied out as the peers' `data()` copies).
   * The copies are recorded at the call, ahead of anything recorded later, so the next run's
   * passes cannot overwrite the results before they are copied.
   */
  read: () => Promise<number>;
  /** Every buffer it allocated, for the caller to release. */
  buffers: GpuBuffer[];
}

/** The kernels {@link ourOp} records (another checkout's, to compare two versions). */
export interface OpKernels {
  conv2d: typeof conv2d;
  conv2dBackwardInput: typeof conv2dBackwardInput;
  conv2dBackwardWeight: typeof conv2dBackwardWeight;
  matmul: typeof matmul;
}

/**
 * Allocates `op`'s operands (random normal) and results on `device` and returns its passes and
 * readback. Deno's maps poll about every 10 ms and maps issued together share the wait, so the
 * three results come back through one `Device.readTogether`. The passes run `kernels` (by
 * default this checkout's).
 */
export function ourOp(
  device: Device,
  op: PeerOp,
  kernels: OpKernels = { conv2d, conv2dBackwardInput, conv2dBackwardWeight, matmul },
): OurOp {
  const { conv2d, conv2dBackwardInput, conv2dBackwardWeight, matmul } = kernels;
  const buffers: GpuBuffer[] = [];
  const random = (count: number): GpuBuffer => {
    const b = device.alloc(count * 4);
    const dist = { kind: "normal", mean: 0, std: 1 } as const;
    fillRandom(device, b, count, dist, { seed: [5, 6], offset: 0 });
    buffers.push(b);
    return b;
  };
  let passes: () => void;
  let results: [GpuBuffer, number][];
  if (op.kind === "conv") {
    const g = op.g, { outH, outW } = conv2dOutputSize(g);
    const nx = g.batch * g.inChannels * g.height * g.width;
    const nw = g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW;
    const x = random(nx), w = random(nw), out = random(g.batch * g.outChannels * outH * outW);
    const gradX = random(nx), gradW = random(nw);
    passes = () => {
      conv2d(device, g, { x, w, out });
      // The gradient of a sum is ones; any buffer of that size costs the same.
      conv2dBackwardInput(device, g, { gradOut: out, w, gradX });
      conv2dBackwardWeight(device, g, { x, gradOut: out, gradW });
    };
    results = [[out, 4], [gradX, nx * 4], [gradW, nw * 4]];
  } else {
    const { m, n, k } = op;
    const a = random(m * k), b = random(k * n), out = random(m * n);
    const ga = random(m * k), gb = random(k * n);
    passes = () => {
      matmul(device, { a, b, out, m, n, k });
      matmul(device, { a: out, b, out: ga, m, n: k, k: n, transB: true });
      matmul(device, { a, b: out, out: gb, m: k, n, k: m, transA: true });
    };
    results = [[out, 4], [ga, m * k * 4], [gb, k * n * 4]];
  }
  const read = async () => {
    let read = 0;
    const consume = (b: Uint8Array) => (read += b.slice().byteLength);
    await Device.readTogether(results.map(([source, bytes]) => ({ source, bytes, consume })));
    return read;
  };
  return { passes, read, buffers };
}

/** Our kernels: forward, input gradient and weight gradient (or the three products). */
export function oursRunner(device: Device): () => Promise<Runner> {
  return () =>
    Promise.resolve((op) => {
      const { passes, read, buffers } = ourOp(device, op);
      // Where tuning is on, the first run also tunes its shapes (as cudnn.benchmark's first
      // call does): its time counts in "first call", and the timed runs use the choices.
      let tuned = false;
      return Promise.resolve({
        start: async () => {
          passes();
          const bytes = await read();
          if (!tuned) {
            tuned = true;
            await autotune(device);
          }
          return bytes;
        },
        close: () => {
          for (const b of buffers) device.release(b);
        },
      });
    });
}

/** TensorFlow.js (webgpu backend), NHWC; grouped convolutions run group by group. */
export async function tfjsRunner(): Promise<Runner> {
  const tf = await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-webgpu");
  await tf.setBackend("webgpu");
  await tf.ready();
  type T = import("@tensorflow/tfjs").Tensor;
  type T4 = import("@tensorflow/tfjs").Tensor4D;
  return (op) => {
    let inputs: T[], f: (a: T, b: T) => T;
    if (op.kind === "conv") {
      const g = op.g, cg = g.inChannels / g.groups;
      inputs = [
        tf.randomNormal([g.batch, g.height, g.width, g.inChannels]),
        tf.randomNormal([g.kernelH, g.kernelW, cg, g.outChannels], 0, 0.01),
      ];
      const pad = g.padH === 0 && g.padW === 0 ? "valid" : [
        [0, 0],
        [g.padH, g.padH],
        [g.padW, g.padW],
        [0, 0],
      ] as [[number, number], [number, number], [number, number], [number, number]];
      f = (xi, wi) => {
        const xs = g.groups === 1 ? [xi] : tf.split(xi, g.groups, 3);
        const ws = g.groups === 1 ? [wi] : tf.split(wi, g.groups, 3);
        const ys = xs.map((xg, i) => tf.conv2d(xg as T4, ws[i] as T4, [g.strideH, g.strideW], pad));
        return tf.sum(g.groups === 1 ? ys[0] : tf.concat(ys, 3));
      };
    } else {
      inputs = [tf.randomNormal([op.m, op.k]), tf.randomNormal([op.k, op.n])];
      f = (a, b) => tf.sum(tf.matMul(a, b));
    }
    const step = tf.valueAndGrads(f);
    return Promise.resolve({
      // Eager: the step dispatches its kernels at the call; each data() copies its tensor to
      // staging and maps it at the call (in Deno the map blocks until the device is idle).
      start: async () => {
        const { value, grads } = step(inputs);
        const read = await Promise.all([value, ...grads].map((t) => t.data()));
        tf.dispose([value, ...grads]);
        return read.reduce((sum, data) => sum + data.byteLength, 0);
      },
      close: () => tf.dispose(inputs),
    });
  };
}

/** jax-js (webgpu device), NCHW with feature groups, `jit(valueAndGrad(f))`. */
export async function jaxRunner(): Promise<Runner> {
  const jax = await import("@jax-js/jax");
  await jax.init("webgpu");
  jax.defaultDevice("webgpu");
  const { lax, numpy: np, random } = jax;
  return (op) => {
    const [k1, k2] = random.split(random.key(0), 2) as unknown as [
      ReturnType<typeof random.key>,
      ReturnType<typeof random.key>,
    ];
    const shapes = op.kind === "conv"
      ? [
        [op.g.batch, op.g.inChannels, op.g.height, op.g.width],
        [op.g.outChannels, op.g.inChannels / op.g.groups, op.g.kernelH, op.g.kernelW],
      ]
      : [[op.m, op.k], [op.k, op.n]];
    const a = random.normal(k1, shapes[0]), b = random.normal(k2, shapes[1]);
    const f = op.kind === "conv"
      ? (x: typeof a, w: typeof b) =>
        np.sum(
          lax.convGeneralDilated(
            x,
            w,
            [op.g.strideH, op.g.strideW],
            [[op.g.padH, op.g.padH], [op.g.padW, op.g.padW]],
            { featureGroupCount: op.g.groups },
          ),
        )
      : (x: typeof a, w: typeof b) => np.sum(np.matmul(x, w));
    const step = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1] }));
    return Promise.resolve({
      // Lazy: the call only plans the kernels; each data() dispatches what its result needs,
      // reads it and disposes it. Every result is read, so no part of a run is skipped.
      start: async () => {
        const [value, [ga, gb]] = step(a.ref, b.ref) as unknown as [
          typeof a,
          [typeof a, typeof a],
        ];
        const read = await Promise.all([value.data(), ga.data(), gb.data()]);
        return read.reduce((sum, data) => sum + data.byteLength, 0);
      },
      close: () => {
        a.dispose();
        b.dispose();
      },
    });
  };
}

/**
 * Times every library on every op, op by op (each op's libraries back to back, so a change in the
 * machine's load between ops falls on all of them alike), catching failures so the bench still
 * reports the rest. Per op and library: the first run (compiling), the median of `runs` runs
 * awaited one by one (latency), then the median of `runs` pipelined batches, every library
 * with the same depth ({@link pipelineDepth} of the op's fastest latency). Returns each
 * library's timings by op name.
 */
export async function benchPeers<L extends string>(
  makers: Record<L, () => Promise<Runner>>,
  ops: readonly PeerOp[],
  runs: number,
): Promise<Record<L, Map<string, PeerTiming>>> {
  const libraries = Object.keys(makers) as L[];
  const out = {} as Record<L, Map<string, PeerTiming>>;
  const runners = new Map<L, Runner | string>();
  for (const lib of libraries) {
    out[lib] = new Map();
    try {
      runners.set(lib, await makers[lib]());
    } catch (error) {
      runners.set(lib, String(error));
    }
  }
  const failed = (error: unknown): PeerTiming => ({
    ms: null,
    error: String(error).slice(0, 200),
  });
  for (const op of ops) {
    const expected = opReadBytes(op);
    const sessions = new Map<L, PeerSession>();
    try {
      for (const lib of libraries) {
        const runner = runners.get(lib)!;
        if (typeof runner === "string") {
          out[lib].set(op.name, { ms: null, error: runner });
          continue;
        }
        try {
          const session = await runner(op);
          sessions.set(lib, session);
          const start = () => session.start();
          const coldMs = await timeRun(start, expected);
          const times: number[] = [];
          for (let i = 0; i < runs; i++) times.push(await timeRun(start, expected));
          out[lib].set(op.name, { ms: median(times), coldMs });
        } catch (error) {
          out[lib].set(op.name, failed(error));
        }
      }
      const timed = libraries.filter((lib) => out[lib].get(op.name)!.ms !== null);
      const depth = pipelineDepth(Math.min(...timed.map((lib) => out[lib].get(op.name)!.ms!)));
      for (const lib of timed) {
        const timing = out[lib].get(op.name)!, session = sessions.get(lib)!;
        try {
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            times.push(await timePipelined(() => session.start(), expected, depth));
          }
          Object.assign(timing, { pipelinedMs: median(times), depth });
        } catch (error) {
          Object.assign(timing, { pipelinedMs: null, error: failed(error).error });
        }
      }
    } finally {
      for (const session of sessions.values()) session.close();
    }
  }
  return out;
}

/**
 * The ops the peers comparison runs: AlexNet's convolutions, then {@link extraOps}; with
 * `wanted` (comma-separated parts of names, as `--ops` gives them), only those it names.
 */
export function peerOps(batch: number, wanted?: string): PeerOp[] {
  const parts = wanted?.split(",");
  return [
    ...alexnetConvs(batch).map(({ name, g }) => ({ name, kind: "conv" as const, g })),
    ...extraOps(batch),
  ].filter((op) => !parts || parts.some((w) => op.name.includes(w)));
}

/**
 * The ops the peers comparison runs beyond AlexNet's layers: a 1×1 convolution (a plain GEMM),
 * stride 2, odd channel counts, and matmuls whose sizes are multiples of no tile.
 */
export function extraOps(batch: number): PeerOp[] {
  const conv = (name: string, ...shape: [number, number, number, number, number, number]) => ({
    name,
    kind: "conv" as const,
    g: squareConv(batch, ...shape),
  });
  return [
    conv("1×1 64→96 27²", 64, 27, 96, 1, 1, 0),
    conv("3×3 s2 48→64 28²", 48, 28, 64, 3, 2, 1),
    conv("5×5 odd 37→53 19²", 37, 19, 53, 5, 1, 2),
    conv("7×7 s2 odd 5→29 33²", 5, 33, 29, 7, 2, 3),
    { name: "matmul 127×253×129", kind: "matmul", m: 127, n: 253, k: 129 },
    { name: "matmul 33×517×1031", kind: "matmul", m: 33, n: 517, k: 1031 },
    { name: "matmul 257×1023×511", kind: "matmul", m: 257, n: 1023, k: 511 },
    { name: "matmul 509×257×1021", kind: "matmul", m: 509, n: 257, k: 1021 },
  ];
}

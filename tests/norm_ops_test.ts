/**
 * The functional normalisations against float64: batchNorm in training (batch statistics, the
 * running ones updated as PyTorch does) and evaluation, momentum null, without affine, at odd
 * sizes (C = 1, 3, 7; N = 2, 5; S = 1, 7·5, 33·17); gradients against the analytic float64
 * backward, itself checked by finite differences; a channel of mean 1e3 and spread 0.1; the
 * reduction split in runs of samples; layerNorm and groupNorm with their gradients; errors.
 */

import assert from "node:assert/strict";
import {
  batchNorm,
  defaultDevice,
  fromTypedArray,
  groupNorm,
  instanceNorm,
  layerNorm,
  noGrad,
  ones,
  type Shape,
  type Tensor,
  zeros,
} from "../mod.ts";
import { Device } from "../kernels/device.ts";
import {
  batchNormAffineGradFinalize,
  batchNormAffineGradPartials,
  batchNormApply,
  batchNormFinalize,
  batchNormGradFinalize,
  batchNormGradPartials,
  batchNormPartials,
} from "../kernels/batch_norm.ts";
import { logDispatches } from "./_dispatch_log.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";
import { Draw, fuzzSeeds } from "./_fuzz.ts";
import { type F64, mulberry32, randn } from "./_reference.ts";
import {
  batchNormBackward,
  batchNormForward,
  type ChannelStats,
  channelStats,
  groupNormForward,
  layerNormForward,
  runningUpdate,
} from "./_norm_reference.ts";

await defaultDevice();

/** Random f32-representable values (the GPU sees exactly these). */
function random(shape: number[], seed: number, std = 1, mean = 0): F64 {
  const x = randn(shape, mulberry32(seed), std);
  const data = Float64Array.from(Float32Array.from(x.data.map((v) => v + mean)));
  return { shape, data };
}

function upload(
  x: F64 | Float64Array,
  shape?: number[],
  requiresGrad = false,
): Tensor<Shape, "f32"> {
  const data = Float32Array.from("data" in x ? x.data : x);
  const t = fromTypedArray(data, shape ?? (x as F64).shape) as Tensor<Shape, "f32">;
  t.requiresGrad = requiresGrad;
  return t;
}

async function host(t: Tensor): Promise<Float32Array> {
  return await t.data() as Float32Array;
}

const SHAPES: number[][] = [
  [2, 3],
  [5, 7],
  [2, 1, 7],
  [5, 3, 1, 1],
  [2, 7, 7, 5],
  [5, 3, 33, 17],
  [2, 1, 33, 17],
  [3, 700], // more channels than one workgroup of the finalizing kernels
];

/** What {@link checkBatchNorm} varies besides the shape. */
interface BatchNormCase {
  training: boolean;
  /** Which of the weight and the bias are given. */
  affine: "both" | "weight" | "bias" | "none";
  momentum: number | null;
  /** x fed as a permuted view of an `[N, *, C]` tensor (PyTorch's channels last). */
  channelsLast: boolean;
  /** The input's spread and offset. */
  std: number;
  mean: number;
}

/**
 * Runs one batchNorm forward and backward and checks the output, the running statistics, the
 * count, and the gradients of x, weight and bias against float64.
 */
async function checkBatchNorm(shape: number[], seed: number, k: BatchNormCase): Promise<void> {
  const c = shape[1];
  const x = random(shape, seed, k.std, k.mean), g = random(shape, seed + 1);
  const w = k.affine === "both" || k.affine === "weight" ? random([c], seed + 2).data : null;
  const b = k.affine === "both" || k.affine === "bias" ? random([c], seed + 3).data : null;
  const rm0 = random([c], seed + 4).data;
  const rv0 = random([c], seed + 5).data.map((v) => 1 + v * v);
  // Channels last: the same values stored [N, *, C] and viewed as [N, C, *].
  const order = [0, shape.length - 1, ...shape.slice(2).map((_, i) => i + 1)];
  const stored = [shape[0], ...shape.slice(2), c];
  const xt = k.channelsLast
    ? upload(permuted(x), stored).permute(order)
    : upload(x, undefined, true);
  if (k.channelsLast) xt.requiresGrad = true;
  const wt = w && upload(w, [c], true), bt = b && upload(b, [c], true);
  const runningMean = upload(rm0, [c]), runningVar = upload(rv0, [c]);
  const tracked = fromTypedArray(Int32Array.of(3), [], { dtype: "i32" });
  const y = batchNorm(xt, {
    weight: wt,
    bias: bt,
    runningMean,
    runningVar,
    numBatchesTracked: tracked,
    training: k.training,
    momentum: k.momentum,
  });
  const label = `[${shape}] ${JSON.stringify(k)}`;
  const running = k.training ? null : { mean: rm0, variance: rv0 };
  assertClose(await host(y), batchNormForward(x, w, b, 1e-5, running ?? undefined).data, {
    rtol: 1e-4,
    atol: 1e-4,
    label: `${label} y`,
  });
  const next = k.training
    ? runningUpdate({ mean: rm0, variance: rv0 }, x, k.momentum ?? 1 / 4)
    : { mean: rm0, variance: rv0 };
  assertClose(await host(runningMean), next.mean, { rtol: 1e-5, atol: 1e-6, label });
  assertClose(await host(runningVar), next.variance, { rtol: 1e-5, atol: 1e-6, label });
  assert.deepEqual(await tracked.data(), Int32Array.of(k.training ? 4 : 3), label);
  await y.backward(upload(g));
  const ref = batchNormBackward(x, g, w, 1e-5, running);
  const tol = { rtol: 1e-3, atol: 1e-4 };
  assertClose(await host(xt.grad!), ref.gradX, { ...tol, label: `${label} dx` });
  if (wt) assertClose(await host(wt.grad!), ref.gradWeight, { ...tol, label: `${label} dw` });
  if (bt) assertClose(await host(bt.grad!), ref.gradBias, { ...tol, label: `${label} db` });
  for (const t of [xt, wt, bt, runningMean, runningVar, tracked, y]) {
    t?.grad?.dispose();
    t?.dispose();
  }
}

/** `x [N, C, *]`'s values laid out as `[N, *, C]`. */
function permuted(x: F64): Float64Array {
  const [n, c] = x.shape, s = x.data.length / (n * c);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < s; j++) out[(i * s + j) * c + ch] = x.data[(i * c + ch) * s + j];
    }
  }
  return out;
}

const TRAINING: BatchNormCase = {
  training: true,
  affine: "both",
  momentum: 0.1,
  channelsLast: false,
  std: 2,
  mean: 0.5,
};

Deno.test("batchNorm in training: output, gradients and running statistics against float64", async () => {
  for (const [k, shape] of SHAPES.entries()) await checkBatchNorm(shape, 10 * k, TRAINING);
});

Deno.test("batchNorm on random shapes and options against float64", async () => {
  for (const seed of fuzzSeeds("batchNorm", 12)) {
    const d = new Draw(seed);
    const training = d.chance(0.7);
    const shape = [d.int(training ? 2 : 1, 6), d.int(1, 9)];
    for (let axes = d.int(0, 2); axes > 0; axes--) shape.push(d.int(1, 19));
    if (training && shape.slice(2).reduce((p, v) => p * v, shape[0]) === 1) shape[0] = 2;
    await checkBatchNorm(shape, seed, {
      training,
      affine: d.pick(["both", "both", "weight", "bias", "none"] as const),
      momentum: d.pick([0.1, 0.5, null]),
      channelsLast: shape.length > 2 && d.chance(0.4),
      std: d.pick([0.5, 1, 3]),
      mean: d.pick([0, 1, -4, 10]),
    });
  }
});

Deno.test("the float64 backward matches finite differences (batch and running statistics)", () => {
  const shape = [3, 2, 5];
  const x = random(shape, 1), g = random(shape, 2), w = random([2], 3).data;
  const b = random([2], 4).data;
  const running: ChannelStats = { mean: random([2], 5).data, variance: Float64Array.of(0.7, 1.9) };
  for (const stats of [null, running]) {
    const f = ([xs, ws, bs]: F64[]) =>
      batchNormForward(xs, ws.data, bs.data, 1e-5, stats ?? undefined);
    const inputs = [x, { shape: [2], data: w }, { shape: [2], data: b }];
    const ref = batchNormBackward(x, g, w, 1e-5, stats);
    const label = stats ? "running" : "batch";
    assertClose(ref.gradX, numericGrad(f, inputs, 0, g).data, { rtol: 1e-5, atol: 1e-7, label });
    assertClose(ref.gradWeight, numericGrad(f, inputs, 1, g).data, {
      rtol: 1e-5,
      atol: 1e-7,
      label,
    });
    assertClose(ref.gradBias, numericGrad(f, inputs, 2, g).data, { rtol: 1e-5, atol: 1e-7, label });
  }
});

Deno.test("batchNorm in evaluation: the running statistics, untouched; gradients of constants", async () => {
  const shape = [5, 3, 7, 5];
  const x = random(shape, 7), g = random(shape, 8);
  const w = random([3], 9).data, b = random([3], 10).data;
  const running: ChannelStats = {
    mean: random([3], 11).data,
    variance: Float64Array.of(0.5, 2, 4),
  };
  const xt = upload(x, undefined, true), wt = upload(w, [3], true), bt = upload(b, [3], true);
  const runningMean = upload(running.mean, [3]), runningVar = upload(running.variance, [3]);
  const y = batchNorm(xt, { weight: wt, bias: bt, runningMean, runningVar });
  assertClose(await host(y), batchNormForward(x, w, b, 1e-5, running).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  assert.deepEqual(await host(runningMean), Float32Array.from(running.mean));
  await y.backward(upload(g));
  const ref = batchNormBackward(x, g, w, 1e-5, running);
  assertClose(await host(xt.grad!), ref.gradX, { rtol: 1e-4, atol: 1e-5, label: "dx" });
  assertClose(await host(wt.grad!), ref.gradWeight, { rtol: 1e-3, atol: 1e-4, label: "dweight" });
  assertClose(await host(bt.grad!), ref.gradBias, { rtol: 1e-3, atol: 1e-4, label: "dbias" });
});

Deno.test("batchNorm in evaluation reads running statistics that are views", async () => {
  const x = random([4, 3, 5], 30), mean = random([3], 31).data;
  const stats = { mean, variance: Float64Array.of(2.5, 2.5, 2.5) };
  // A broadcast view (stride 0) of one variance for every channel.
  const runningMean = upload(mean, [3]), runningVar = upload(Float64Array.of(2.5), [1]).expand([3]);
  assert.ok(!runningVar.isContiguous);
  const y = batchNorm(upload(x), { runningMean, runningVar });
  assertClose(await host(y), batchNormForward(x, null, null, 1e-5, stats).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  assert.throws(
    () => batchNorm(upload(x), { runningMean, runningVar, training: true }),
    /runningVar is updated in place and must be contiguous/,
  );
});

Deno.test("batchNorm without affine, and without running statistics in evaluation", async () => {
  const shape = [2, 7, 7, 5];
  const x = random(shape, 12), g = random(shape, 13);
  const xt = upload(x, undefined, true);
  const y = batchNorm(xt); // no running statistics: the batch's, even in evaluation
  assertClose(await host(y), batchNormForward(x, null, null, 1e-5).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  await y.backward(upload(g));
  assertClose(await host(xt.grad!), batchNormBackward(x, g, null, 1e-5, null).gradX, {
    rtol: 1e-3,
    atol: 1e-4,
  });
});

Deno.test("running statistics after k steps equal the float64 recurrence; momentum null averages", async () => {
  const shape = [5, 3, 7, 5];
  for (const momentum of [0.1, null]) {
    let expected: ChannelStats = {
      mean: new Float64Array(3),
      variance: new Float64Array(3).fill(1),
    };
    const runningMean = zeros([3]), runningVar = ones([3]);
    const tracked = fromTypedArray(new Int32Array(1), [], { dtype: "i32" });
    for (let step = 1; step <= 4; step++) {
      const x = random(shape, 100 + step, step, step - 2);
      const out = noGrad(() =>
        batchNorm(upload(x), {
          runningMean,
          runningVar,
          numBatchesTracked: tracked,
          training: true,
          momentum,
        })
      );
      out.dispose();
      expected = runningUpdate(expected, x, momentum ?? 1 / step);
    }
    const label = `momentum ${momentum}`;
    assertClose(await host(runningMean), expected.mean, { rtol: 1e-5, atol: 1e-6, label });
    assertClose(await host(runningVar), expected.variance, { rtol: 1e-5, atol: 1e-6, label });
    assert.deepEqual(await tracked.data(), Int32Array.of(4));
  }
});

Deno.test("a channel of mean 1e3 and spread 0.1 keeps its variance and its normalised values", async () => {
  const shape = [5, 2, 33, 17];
  const x = random(shape, 14, 0.1, 1000);
  const runningMean = zeros([2]), runningVar = ones([2]);
  const y = batchNorm(upload(x), { runningMean, runningVar, training: true, momentum: 1 });
  const unbiased = channelStats(x, true).variance;
  assertClose(await host(runningVar), unbiased, { rtol: 1e-3, label: "variance" });
  assertClose(await host(y), batchNormForward(x, null, null, 1e-5).data, {
    rtol: 1e-3,
    atol: 2e-3,
    label: "y",
  });
});

Deno.test("a non-finite batch leaves the running statistics as they were", async () => {
  const data = Float32Array.of(1, 2, NaN, 4, 5, 6);
  const runningMean = zeros([2]), runningVar = ones([2]);
  batchNorm(fromTypedArray(data, [3, 2]), { runningMean, runningVar, training: true }).dispose();
  // Channel 0 saw a NaN; channel 1 (2, 4, 6: mean 4, variance 4) is updated.
  assertClose(await host(runningMean), [0, 0.4], { label: "mean" });
  assertClose(await host(runningVar), [1, 1.3], { label: "variance" });
});

Deno.test("batch norm's passes split in runs of samples give the one-run results, per channel and per sample", async () => {
  const gpu = await Device.acquire();
  // 35 values a sample and channel: a workgroup's tree; 7: a thread per group (columns).
  for (const spatial of [35, 7]) {
    const x = random([5, 3, spatial], 15, 3, 2);
    const xb = gpu.alloc(4 * x.data.length), out = gpu.alloc(4 * x.data.length);
    gpu.write(xb, Float32Array.from(x.data));
    for (const perSample of [false, true]) {
      const shape = { batch: 5, channels: 3, spatial, perSample };
      // Per sample, the statistics of x viewed as [1, 15, S]: one group per (sample, channel).
      const view = perSample ? { shape: [1, 15, spatial], data: x.data } : x;
      const groups = view.shape[1];
      const expected = batchNormForward(view, null, null, 1e-5).data;
      let oneRun = 0;
      for (const maxBindingBytes of [undefined, 2 * 3 * spatial * 4 + 64]) {
        const options = { maxBindingBytes };
        const partials = gpu.alloc(16 * groups * 64), coef = gpu.alloc(16 * groups);
        const chunks = batchNormPartials(gpu, shape, { x: xb, partials }, options);
        const split = maxBindingBytes !== undefined;
        if (!split) oneRun = chunks;
        // Per channel each run of samples adds its chunks; per sample a group is in one run.
        if (split) assert.equal(chunks > oneRun, !perSample, "chunks of the runs");
        const p = { eps: 1e-5, momentum: 0.1 };
        batchNormFinalize(gpu, shape, chunks, p, { partials, coef });
        // A value a thread (GPUs), or several in a row (software adapters), at odd counts.
        for (const valuesPerThread of [1, 3, 8]) {
          batchNormApply(gpu, shape, { x: xb, coef, out }, { ...options, valuesPerThread });
          const label = `S ${spatial}, ${perSample ? "per sample" : "per channel"}${
            split ? ", in runs" : ""
          }, ${valuesPerThread} a thread`;
          assertClose(new Float32Array(await gpu.read(out, 0, 4 * x.data.length)), expected, {
            rtol: 1e-4,
            atol: 1e-5,
            label,
          });
        }
      }
    }
  }
  gpu.destroy();
});

Deno.test("batch norm's two reduction layouts give the same statistics and gradients", async () => {
  const gpu = await Device.acquire();
  // Per channel: 3 channels of 6·41 values in 2 runs of samples; per sample: 12 groups of 41
  // (3 weights of 41, or 41 of 1 as a layer norm's); values per thread split chunks unevenly.
  const x = random([6, 3, 41], 61, 2, 1), dy = random([6, 3, 41], 62);
  const buffer = (v: Float64Array) => {
    const out = gpu.alloc(4 * v.length);
    gpu.write(out, Float32Array.from(v));
    return out;
  };
  const [xb, dyb, wb] = [x.data, dy.data, random([123], 63).data].map(buffer);
  const read = async (b: ReturnType<typeof buffer>, n: number) =>
    new Float32Array(await gpu.read(b, 0, 4 * n));
  const shapes = [
    { batch: 6, channels: 3, spatial: 41 },
    { batch: 6, channels: 3, spatial: 41, perSample: true, affineSpan: 41 },
    { batch: 6, channels: 1, spatial: 123, perSample: true, affineSpan: 1 },
  ];
  for (const shape of shapes) {
    const results: Float32Array[][] = [];
    for (const layout of ["tree", "columns"] as const) {
      const options = { layout, maxBindingBytes: 4 * 123 * 4 + 64 };
      const groups = shape.perSample ? 6 * shape.channels : shape.channels;
      const partials = gpu.alloc(16 * 123 * 256), coef = gpu.alloc(16 * groups);
      const chunks = batchNormPartials(gpu, shape, { x: xb, partials }, options);
      batchNormFinalize(gpu, shape, chunks, { eps: 1e-5, momentum: 0.1 }, { partials, coef });
      const weight = shape.perSample ? wb : undefined;
      const io = { gradOut: dyb, x: xb, coef, weight, partials };
      const gradChunks = batchNormGradPartials(gpu, shape, io, options);
      const [gw, gb, gc] = [gpu.alloc(4 * groups), gpu.alloc(4 * groups), gpu.alloc(16 * groups)];
      batchNormGradFinalize(gpu, shape, gradChunks, true, {
        partials,
        coef,
        gradWeight: gw,
        gradBias: gb,
        gradCoef: gc,
      });
      const got = [await read(coef, 4 * groups), await read(gc, 4 * groups)];
      if (shape.perSample) {
        const sums = gpu.alloc(16 * 123 * 256), aw = gpu.alloc(4 * 123), ab = gpu.alloc(4 * 123);
        const weights = 3 * 41 / shape.affineSpan!;
        const n = batchNormAffineGradPartials(gpu, shape, {
          gradOut: dyb,
          x: xb,
          coef,
          partials: sums,
        }, options);
        batchNormAffineGradFinalize(gpu, shape, n, {
          partials: sums,
          gradWeight: aw,
          gradBias: ab,
        });
        got.push(await read(aw, weights), await read(ab, weights));
      }
      results.push(got);
    }
    const [tree, columns] = results;
    for (const [i, values] of tree.entries()) {
      assertClose(columns[i], Float64Array.from(values), {
        rtol: 1e-4,
        atol: 1e-5,
        label: `${JSON.stringify(shape)} result ${i}: columns against tree`,
      });
    }
  }
  gpu.destroy();
});

Deno.test("batchNorm of an empty batch: an empty output, zero gradients for weight and bias", async () => {
  const x = zeros([0, 3, 2, 2]), weight = ones([3]), bias = zeros([3]);
  for (const t of [x, weight, bias]) t.requiresGrad = true;
  const y = batchNorm(x, { weight, bias, runningMean: zeros([3]), runningVar: ones([3]) });
  assert.deepEqual(y.shape, [0, 3, 2, 2]);
  await y.backward(zeros([0, 3, 2, 2]));
  assert.deepEqual(await weight.grad!.data(), new Float32Array(3));
  assert.deepEqual(await bias.grad!.data(), new Float32Array(3));
});

Deno.test("batchNorm's errors", () => {
  const one = zeros([1, 3]);
  assert.throws(
    () => batchNorm(one, { training: true }),
    /Expected more than 1 value per channel when training, got input size \[1,3\]/,
  );
  // Evaluation with running statistics takes a single value per channel.
  batchNorm(one, { runningMean: zeros([3]), runningVar: ones([3]) }).dispose();
  assert.throws(
    () => batchNorm(zeros([2, 3]), { weight: ones([4]) }),
    /weight must have shape \[3\]/,
  );
  assert.throws(() => batchNorm(zeros([3])), /expected \[N, C, \*\]/);
  assert.throws(
    () =>
      batchNorm(zeros([2, 3]), {
        runningMean: zeros([3]),
        runningVar: ones([3]),
        training: true,
        momentum: null,
      }),
    /needs numBatchesTracked/,
  );
  assert.throws(() => batchNorm(zeros([2, 3]), { runningMean: zeros([3]) }), /both/);
});

/**
 * Checks `op(x, weight, bias)` against the float64 `reference`, forward and every gradient by
 * finite differences, for random inputs of `shape` and an affine of `affineShape`.
 */
async function checkAffineNorm(
  label: string,
  shape: number[],
  affineShape: number[],
  op: (x: Tensor, weight: Tensor, bias: Tensor) => Tensor,
  reference: (x: F64, weight: Float64Array, bias: Float64Array) => F64,
): Promise<void> {
  const inputs = [random(shape, 16), random(affineShape, 18), random(affineShape, 19)];
  const g = random(shape, 17);
  const tensors = inputs.map((t) => upload(t, undefined, true));
  const y = op(tensors[0], tensors[1], tensors[2]);
  const f = ([xs, ws, bs]: F64[]) => reference(xs, ws.data, bs.data);
  assertClose(await host(y), f(inputs).data, { rtol: 1e-4, atol: 1e-5, label });
  await y.backward(upload(g));
  for (const [i, t] of tensors.entries()) {
    assertClose(await host(t.grad!), numericGrad(f, inputs, i, g).data, {
      rtol: 1e-3,
      atol: 1e-4,
      label: `${label} grad ${i}`,
    });
  }
}

Deno.test("layerNorm and groupNorm against float64, gradients by finite differences", async () => {
  for (
    const [shape, d] of [[[3, 5], [5]], [[2, 3, 7], [3, 7]], [[2, 4, 1], [1]], [[300, 3], [3]]]
  ) {
    const size = d.reduce((a, b) => a * b, 1);
    await checkAffineNorm(
      `layerNorm [${shape}] over [${d}]`,
      shape,
      d,
      (x, weight, bias) => layerNorm(x, d, { weight, bias }),
      (x, w, b) => layerNormForward(x, size, w, b, 1e-5),
    );
  }
  for (const [shape, groups] of [[[2, 6, 7, 5], 3], [[5, 3, 4], 1], [[2, 4], 4]] as const) {
    await checkAffineNorm(
      `groupNorm [${shape}] in ${groups}`,
      [...shape],
      [shape[1]],
      (x, weight, bias) => groupNorm(x, groups, { weight, bias }),
      (x, w, b) => groupNormForward(x, groups, w, b, 1e-5),
    );
  }
  for (const shape of [[2, 3, 7, 5], [5, 2, 4]]) {
    await checkAffineNorm(
      `instanceNorm [${shape}]`,
      shape,
      [shape[1]],
      (x, weight, bias) => instanceNorm(x, { weight, bias }),
      (x, w, b) => groupNormForward(x, shape[1], w, b, 1e-5),
    );
  }
  assert.throws(() => layerNorm(zeros([2, 3]), [4]), /trailing axes/);
  assert.throws(() => groupNorm(zeros([2, 6]), 4), /divisible by num_groups/);
});

Deno.test("layerNorm and groupNorm with only a weight, only a bias, or neither; empty inputs", async () => {
  const cases = [
    {
      label: "layerNorm [5, 2, 3] over [2, 3]",
      shape: [5, 2, 3],
      affineShape: [2, 3],
      op: (x: Tensor, w: Tensor | null, b: Tensor | null) =>
        layerNorm(x, [2, 3], { weight: w, bias: b }),
      reference: (x: F64, w: Float64Array | null, b: Float64Array | null) =>
        layerNormForward(x, 6, w, b, 1e-5),
    },
    {
      label: "groupNorm [3, 6, 5] in 2",
      shape: [3, 6, 5],
      affineShape: [6],
      op: (x: Tensor, w: Tensor | null, b: Tensor | null) =>
        groupNorm(x, 2, { weight: w, bias: b }),
      reference: (x: F64, w: Float64Array | null, b: Float64Array | null) =>
        groupNormForward(x, 2, w, b, 1e-5),
    },
  ];
  for (const { label, shape, affineShape, op, reference } of cases) {
    for (const [hasWeight, hasBias] of [[true, false], [false, true], [false, false]]) {
      const what = `${label}, ${hasWeight ? "weight" : "no weight"}, ${
        hasBias ? "bias" : "no bias"
      }`;
      const x = random(shape, 31), w = random(affineShape, 32), b = random(affineShape, 33);
      const inputs = [x, ...(hasWeight ? [w] : []), ...(hasBias ? [b] : [])];
      const f = (values: F64[]) => {
        const [xs, ...rest] = values;
        return reference(xs, hasWeight ? rest[0].data : null, hasBias ? rest.at(-1)!.data : null);
      };
      const tensors = inputs.map((t) => upload(t, undefined, true));
      const [xt, ...affine] = tensors;
      const y = op(xt, hasWeight ? affine[0] : null, hasBias ? affine.at(-1)! : null);
      assertClose(await host(y), f(inputs).data, { rtol: 1e-4, atol: 1e-5, label: what });
      const g = random(shape, 34);
      await y.backward(upload(g));
      for (const [i, t] of tensors.entries()) {
        assertClose(await host(t.grad!), numericGrad(f, inputs, i, g).data, {
          rtol: 1e-3,
          atol: 1e-4,
          label: `${what} grad ${i}`,
        });
      }
    }
  }
  // No values: an empty output, zero gradients of the weight's and bias's shapes.
  const empties: [string, number[], number[], (x: Tensor, w: Tensor, b: Tensor) => Tensor][] = [
    ["groupNorm [0, 4]", [0, 4], [4], (x, weight, bias) => groupNorm(x, 2, { weight, bias })],
    [
      "layerNorm [3, 0, 2]",
      [3, 0, 2],
      [0, 2],
      (x, weight, bias) => layerNorm(x, [0, 2], { weight, bias }),
    ],
  ];
  for (const [label, shape, affineShape, op] of empties) {
    const x = zeros(shape), weight = ones(affineShape), bias = zeros(affineShape);
    for (const t of [x, weight, bias]) t.requiresGrad = true;
    const out = op(x, weight, bias);
    assert.deepEqual(out.shape, shape, label);
    await out.backward(zeros(shape));
    for (const t of [weight, bias]) {
      assert.deepEqual(t.grad!.shape, affineShape, label);
      assert.deepEqual(await t.grad!.data(), new Float32Array(t.size), label);
    }
  }
});

Deno.test("layerNorm and groupNorm apply the weight and bias inside batch norm's passes", async () => {
  const device = await defaultDevice();
  const x = upload(random([4, 6, 3], 41), undefined, true);
  const weight = upload(random([6], 42), undefined, true);
  const bias = upload(random([6], 43), undefined, true);
  const names = logDispatches(device);
  const y = groupNorm(x, 3, { weight, bias });
  // Forward: moments, finalize, the normalising pass with the affine map.
  assert.deepEqual(names.map((n) => n.replace(/\[.*/, "")), [
    "batchNormPartials",
    "batchNormFinalize",
    "batchNormApply",
  ]);
  names.length = 0;
  await y.backward(upload(random([4, 6, 3], 44)));
  // Backward: dx's sums, finalize and pass (dy scaled by the weight inside them), then the
  // weight's and bias's sums over the samples and their finalize.
  assert.deepEqual(names.map((n) => n.replace(/\[.*/, "")), [
    "batchNormGradPartials",
    "batchNormGradFinalize",
    "batchNormBackward",
    "batchNormAffineGradPartials",
    "batchNormAffineGradFinalize",
  ]);
  // Only x needs a gradient: no reduction for the weight and bias.
  weight.requiresGrad = false;
  bias.requiresGrad = false;
  names.length = 0;
  await layerNorm(x, [6, 3], { weight: upload(random([6, 3], 45)) }).backward(
    upload(random([4, 6, 3], 46)),
  );
  assert.ok(!names.some((n) => n.startsWith("batchNormAffine")), names.join(", "));
});

Deno.test("the per-sample affine map's passes split in runs of samples give the one-run results", async () => {
  const gpu = await Device.acquire();
  // Group norm of [5, 6, 7] in 2 groups: per sample, 2 groups of 21 values, 6 weights of 7.
  const x = random([5, 6, 7], 51), dy = random([5, 6, 7], 52);
  const w = random([6], 53), b = random([6], 54);
  const buffer = (v: Float64Array) => {
    const out = gpu.alloc(4 * v.length);
    gpu.write(out, Float32Array.from(v));
    return out;
  };
  const [xb, dyb, wb, bb] = [x.data, dy.data, w.data, b.data].map(buffer);
  const shape = { batch: 5, channels: 2, spatial: 21, perSample: true, affineSpan: 7 };
  const coef = gpu.alloc(16 * 10), partials = gpu.alloc(16 * 10 * 128);
  batchNormFinalize(gpu, shape, batchNormPartials(gpu, shape, { x: xb, partials }), {
    eps: 1e-5,
    momentum: 0.1,
  }, { partials, coef });
  const expected = groupNormForward(x, 2, w.data, b.data, 1e-5).data;
  const f = ([xs, ws, bs]: F64[]) => groupNormForward(xs, 2, ws.data, bs.data, 1e-5);
  const wantW = numericGrad(f, [x, w, b], 1, dy).data,
    wantB = numericGrad(f, [x, w, b], 2, dy).data;
  let oneRun = 0;
  for (const maxBindingBytes of [undefined, 2 * 6 * 7 * 4 + 64]) {
    const options = { maxBindingBytes }, label = maxBindingBytes ? "in runs" : "one run";
    const out = gpu.alloc(4 * x.data.length);
    for (const valuesPerThread of [1, 3, 8]) {
      const buffers = { x: xb, coef, out, weight: wb, bias: bb };
      batchNormApply(gpu, shape, buffers, { ...options, valuesPerThread });
      assertClose(new Float32Array(await gpu.read(out, 0, 4 * x.data.length)), expected, {
        rtol: 1e-4,
        atol: 1e-5,
        label: `y, ${label}, ${valuesPerThread} a thread`,
      });
    }
    const sums = gpu.alloc(16 * 6 * 128), gradWeight = gpu.alloc(24), gradBias = gpu.alloc(24);
    const io = { gradOut: dyb, x: xb, coef, partials: sums };
    const chunks = batchNormAffineGradPartials(gpu, shape, io, options);
    // Each run of samples adds its chunks to a weight's.
    if (maxBindingBytes === undefined) oneRun = chunks;
    else assert.ok(chunks > oneRun, `${chunks} chunks in runs, ${oneRun} in one`);
    batchNormAffineGradFinalize(gpu, shape, chunks, { partials: sums, gradWeight, gradBias });
    const read = async (g: typeof gradWeight) => new Float32Array(await gpu.read(g, 0, 24));
    assertClose(await read(gradWeight), wantW, { rtol: 1e-3, atol: 1e-4, label: `∂w, ${label}` });
    assertClose(await read(gradBias), wantB, { rtol: 1e-3, atol: 1e-4, label: `∂b, ${label}` });
  }
  assert.throws(
    () =>
      batchNormAffineGradPartials(gpu, { ...shape, affineSpan: 4 }, {
        gradOut: dyb,
        x: xb,
        coef,
        partials,
      }),
    /affineSpan 4 does not divide a group's 21 values/,
  );
  gpu.destroy();
});

Deno.test("instanceNorm's running statistics: the batch's mean of the instances', PyTorch's update", async () => {
  const x = random([3, 2, 5], 40, 2, 1);
  const runningMean = zeros([2]), runningVar = ones([2]);
  instanceNorm(upload(x), { runningMean, runningVar, momentum: 0.1 }).dispose();
  const instances = channelStats({ shape: [1, 6, 5], data: x.data }, true);
  const batchMean = (v: Float64Array) => [0, 1].map((c) => (v[c] + v[2 + c] + v[4 + c]) / 3);
  assertClose(await host(runningMean), batchMean(instances.mean).map((m) => 0.1 * m), {
    label: "mean",
  });
  assertClose(await host(runningVar), batchMean(instances.variance).map((v) => 0.9 + 0.1 * v), {
    label: "variance",
  });
  // Without the input's statistics, the running ones normalise, as batch norm's evaluation.
  const running = {
    mean: Float64Array.from(await host(runningMean)),
    variance: Float64Array.from(await host(runningVar)),
  };
  const y = instanceNorm(upload(x), { runningMean, runningVar, useInputStats: false });
  assertClose(await host(y), batchNormForward(x, null, null, 1e-5, running).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  assert.throws(
    () => instanceNorm(zeros([2, 3, 1])),
    /Expected more than 1 spatial element when training, got input size \[2,3,1\]/,
  );
  assert.throws(() => instanceNorm(zeros([2, 3])), /expected \[N, C, \*\]/);
});

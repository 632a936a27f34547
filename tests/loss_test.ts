/**
 * The losses against float64 transcriptions of PyTorch's definitions: mseLoss, l1Loss,
 * smoothL1Loss, huberLoss (broadcasting, kinks), binaryCrossEntropy (weights, the −100 clamp),
 * binaryCrossEntropyWithLogits (weights, posWeight, extreme logits), klDiv, and nllLoss
 * (weights, ignoreIndex, every reduction, per-position and unbatched forms, −∞ entries, bad
 * labels); gradients of input and target by central differences; the loss layers; bad input.
 */

import assert from "node:assert/strict";
import {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  cosineEmbeddingLoss,
  crossEntropy,
  defaultDevice,
  Device,
  DeviceAssertionError,
  gaussianNllLoss,
  hingeEmbeddingLoss,
  huberLoss,
  klDiv,
  l1Loss,
  logSoftmax,
  marginRankingLoss,
  mseLoss,
  multilabelSoftMarginLoss,
  nllLoss,
  poissonNllLoss,
  type Reduction,
  smoothL1Loss,
  softMarginLoss,
  type Tensor,
  tensor,
  tripletMarginLoss,
  zeros,
} from "../mod.ts";
import {
  BCELoss,
  BCEWithLogitsLoss,
  CosineEmbeddingLoss,
  CrossEntropyLoss,
  GaussianNLLLoss,
  HingeEmbeddingLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  MarginRankingLoss,
  Module,
  MSELoss,
  MultiLabelSoftMarginLoss,
  NLLLoss,
  PoissonNLLLoss,
  SmoothL1Loss,
  SoftMarginLoss,
  TripletMarginLoss,
} from "../nn/mod.ts";
import type { LossFunction } from "../train/mod.ts";
import { nllGather, nllScatter } from "../kernels/nll_loss.ts";
import { lossTerm } from "../kernels/loss_terms.ts";
import type { Device as Backend } from "../kernels/device.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal, type OpCase, uniform } from "./_tensor_check.ts";

type F64 = ref.F64;

/** `term(x, t)` over the broadcast of the two, reduced as PyTorch reduces it. */
function elementwise(
  x: F64,
  t: F64,
  term: (x: number, t: number) => number,
  reduction: Reduction = "mean",
  weight?: F64,
): F64 {
  const shape = ref.broadcastShapes(x.shape, t.shape);
  const pairs = ref.add(ref.mul(x, ref.full(shape, 1)), ref.full(shape, 0));
  const targets = ref.add(ref.mul(t, ref.full(shape, 1)), ref.full(shape, 0));
  let terms = ref.f64(shape, pairs.data.map((v, i) => term(v, targets.data[i])));
  if (weight) terms = ref.mul(terms, weight);
  if (reduction === "none") return terms;
  const sum = terms.data.reduce((a, b) => a + b, 0);
  return ref.f64([], [reduction === "sum" ? sum : sum / terms.data.length]);
}

const smoothL1 = (beta: number) => (x: number, t: number) => {
  const d = Math.abs(x - t);
  return d < beta ? (0.5 * d * d) / beta : d - 0.5 * beta;
};
const huber = (delta: number) => (x: number, t: number) => {
  const d = Math.abs(x - t);
  return d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
};
const bce = (x: number, t: number) =>
  -(t * Math.max(Math.log(x), -100) + (1 - t) * Math.max(Math.log1p(-x), -100));
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const bceLogits = (p = 1) => (x: number, t: number) =>
  (1 - t) * x + (1 + (p - 1) * t) * softplus(-x);

Deno.test("regression losses: values and both gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(3);
  const cases: OpCase[] = [];
  for (const reduction of ["mean", "sum", "none"] as const) {
    const pairs: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, t: number) => number][] = [
      ["mseLoss", (x, y) => mseLoss(x, y, { reduction }), (x, t) => (x - t) ** 2],
      ["l1Loss", (x, y) => l1Loss(x, y, { reduction }), (x, t) => Math.abs(x - t)],
      [
        "smoothL1Loss β=0.7",
        (x, y) => smoothL1Loss(x, y, { reduction, beta: 0.7 }),
        smoothL1(0.7),
      ],
      ["huberLoss δ=1.3", (x, y) => huberLoss(x, y, { reduction, delta: 1.3 }), huber(1.3)],
    ];
    for (const [name, run, term] of pairs) {
      cases.push({
        name: `${name} ${reduction} [5, 7]`,
        inputs: [normal([5, 7], rng, 2), normal([5, 7], rng, 2)],
        run: ([x, y]) => run(x, y),
        ref: ([x, y]) => elementwise(x, y, term, reduction),
        gradTol: 1e-3,
      });
      // PyTorch broadcasts input and target: [3, 1, 4] against [5, 1].
      cases.push({
        name: `${name} ${reduction} broadcast [3, 1, 4] × [5, 1]`,
        inputs: [normal([3, 1, 4], rng, 2), normal([5, 1], rng, 2)],
        run: ([x, y]) => run(x, y),
        ref: ([x, y]) => elementwise(x, y, term, reduction),
        gradTol: 1e-3,
      });
    }
  }
  await checkAll(t, device, cases, rng);
});

/** The loss and the input's gradient (an upstream of 1) at the given pairs. */
async function lossAndGrad(
  run: (x: Tensor, y: Tensor) => Tensor,
  xs: number[],
  ts: number[],
): Promise<{ loss: number[]; grad: number[] }> {
  const x = tensor(xs, { requiresGrad: true });
  const y = tensor(ts);
  const loss = run(x, y);
  await loss.sum().backward();
  const out = { loss: Array.from(await loss.data()), grad: Array.from(await x.grad!.data()) };
  for (const v of [x, y, loss]) v.dispose();
  return out;
}

Deno.test("regression losses: PyTorch's gradients at the kinks, and β = 0", async () => {
  await defaultDevice();
  const none = { reduction: "none" } as const;
  // smooth_l1_loss_backward: d < −β → −1; d > β → 1; else d/β (±1 at ±β). l1: sign(d), 0 at 0.
  const smooth = await lossAndGrad(
    (x, y) => smoothL1Loss(x, y, { ...none, beta: 0.5 }),
    [0.5, -0.5, 0],
    [0, 0, 0],
  );
  assert.deepEqual(smooth.grad, [1, -1, 0]);
  const l1 = await lossAndGrad((x, y) => l1Loss(x, y, none), [2, -1, 3], [2, 0, 0]);
  assert.deepEqual(l1.grad, [0, -1, 1]);
  // huber_loss_backward: ±δ beyond ±δ, d inside (δ·±1 at ±δ).
  const h = await lossAndGrad((x, y) => huberLoss(x, y, { ...none, delta: 2 }), [2, -5, 1], [
    0,
    0,
    0,
  ]);
  assert.deepEqual(h.grad, [2, -2, 1]);
  // β = 0 is the L1 loss, as PyTorch (no division by zero).
  const zero = await lossAndGrad((x, y) => smoothL1Loss(x, y, { ...none, beta: 0 }), [2, -1], [
    0,
    0,
  ]);
  assert.deepEqual(zero, { loss: [2, 1], grad: [1, -1] });
});

Deno.test("binary cross-entropy: probabilities and logits, weights, posWeight", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(9);
  const probabilities = (shape: number[]) => uniform(shape, rng, 0.02, 0.98);
  const cases: OpCase[] = [];
  for (const reduction of ["mean", "sum", "none"] as const) {
    cases.push(
      {
        name: `binaryCrossEntropy ${reduction} [4, 9]`,
        inputs: [probabilities([4, 9]), probabilities([4, 9])],
        run: ([x, y]) => binaryCrossEntropy(x, y, { reduction }),
        ref: ([x, y]) => elementwise(x, y, bce, reduction),
        gradTol: 1e-3,
      },
      {
        name: `binaryCrossEntropy ${reduction} weight [9] over [4, 9]`,
        inputs: [probabilities([4, 9]), probabilities([4, 9]), uniform([9], rng, 0.5, 2)],
        wrt: [0, 1],
        run: ([x, y, w]) => binaryCrossEntropy(x, y, { reduction, weight: w }),
        ref: ([x, y, w]) => elementwise(x, y, bce, reduction, ref.mul(ref.full([4, 9], 1), w)),
        gradTol: 1e-3,
      },
      {
        name: `binaryCrossEntropyWithLogits ${reduction} [3, 5]`,
        inputs: [normal([3, 5], rng, 3), probabilities([3, 5])],
        run: ([x, y]) => binaryCrossEntropyWithLogits(x, y, { reduction }),
        ref: ([x, y]) => elementwise(x, y, bceLogits(), reduction),
        gradTol: 1e-3,
      },
      {
        name: `binaryCrossEntropyWithLogits ${reduction} weight and posWeight [5]`,
        inputs: [
          normal([3, 5], rng, 3),
          probabilities([3, 5]),
          uniform([3, 1], rng, 0.5, 2),
          uniform([5], rng, 0.5, 4),
        ],
        wrt: [0, 1],
        run: ([x, y, w, p]) =>
          binaryCrossEntropyWithLogits(x, y, { reduction, weight: w, posWeight: p }),
        ref: ([x, y, w, p]) => {
          const terms = ref.f64(
            [3, 5],
            x.data.map((v, i) =>
              bceLogits(p.data[i % 5])(v, y.data[i]) * w.data[Math.floor(i / 5)]
            ),
          );
          return elementwise(terms, ref.full([3, 5], 0), (v) => v, reduction);
        },
        gradTol: 1e-3,
      },
    );
  }
  await checkAll(t, device, cases, rng);
});

Deno.test("binary cross-entropy: the −100 clamp, extreme logits, inputs outside [0, 1]", async () => {
  await defaultDevice();
  const none = { reduction: "none" } as const;
  // log 0 is clamped at −100; the gradient's denominator at 1e-12 (PyTorch's EPSILON).
  const edge = await lossAndGrad((x, y) => binaryCrossEntropy(x, y, none), [0, 1, 0, 1], [
    1,
    0,
    0,
    1,
  ]);
  assert.deepEqual(edge.loss.map((v) => v + 0), [100, 100, 0, 0]); // −0 where PyTorch has −0 too
  [-1e12, 1e12, 0, 0].forEach((want, i) =>
    assert.ok(Math.abs(edge.grad[i] - want) <= 1e-6 * Math.abs(want), `grad ${edge.grad[i]}`)
  );
  // Outside [0, 1]: PyTorch's error, at the next read (it was a NaN without a word).
  const outside = binaryCrossEntropy(
    tensor([0.5, 0.2, 0.9, 1, 0, 1.5, -0.1]),
    tensor([1, 1, 1, 1, 1, 1, 1]),
  );
  await assert.rejects(outside.item(), (e: Error) => {
    assert.ok(e instanceof DeviceAssertionError, `${e}`);
    assert.match(
      e.message,
      /: binaryCrossEntropy: input 1\.5 at position 5 is outside \[0, 1\] \(all elements of input should be between 0 and 1/,
    );
    return true;
  });
  // Reported once; NaN stays a NaN loss (a step guard's business), and [0, 1] is fine.
  assert.ok(Number.isNaN(await binaryCrossEntropy(tensor([NaN]), tensor([1])).item()));
  assert.equal(await binaryCrossEntropy(tensor([1, 0]), tensor([1, 0])).item(), 0);
  // Logits of ±100 and ±1e4: exact, finite, and σ(x) − t for the gradient.
  const logits = await lossAndGrad(
    (x, y) => binaryCrossEntropyWithLogits(x, y, none),
    [100, -100, 1e4, -1e4, 0],
    [0, 1, 1, 0, 1],
  );
  assert.deepEqual(logits.loss.slice(0, 4), [100, 100, 0, 0]);
  assert.ok(Math.abs(logits.loss[4] - Math.LN2) < 1e-6, `log 2: ${logits.loss[4]}`);
  assert.deepEqual(logits.grad, [1, -1, 0, 0, -0.5]);
});

Deno.test("klDiv: values and both gradients, logTarget, batchmean, t = 0", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(13);
  const kl = (x: number, t: number) => (t === 0 ? 0 : t * (Math.log(t) - x));
  const klLog = (x: number, t: number) => Math.exp(t) * (t - x);
  const logProbabilities = (shape: number[]) => ref.logSoftmax(normal(shape, rng), 1);
  const targets = uniform([4, 6], rng, 0.01, 1);
  targets.data[3] = 0; // PyTorch's xlogy: 0·log 0 = 0.
  await checkAll(t, device, [
    {
      name: "klDiv mean",
      inputs: [logProbabilities([4, 6]), targets],
      wrt: [0],
      run: ([x, y]) => klDiv(x, y),
      ref: ([x, y]) => elementwise(x, y, kl),
    },
    {
      name: "klDiv batchmean",
      inputs: [logProbabilities([4, 6]), uniform([4, 6], rng, 0.01, 1)],
      run: ([x, y]) => klDiv(x, y, { reduction: "batchmean" }),
      ref: ([x, y]) => ref.f64([], [elementwise(x, y, kl, "sum").data[0] / 4]),
      gradTol: 1e-3,
    },
    {
      name: "klDiv logTarget none",
      inputs: [logProbabilities([3, 5]), logProbabilities([3, 5])],
      run: ([x, y]) => klDiv(x, y, { logTarget: true, reduction: "none" }),
      ref: ([x, y]) => elementwise(x, y, klLog, "none"),
      gradTol: 1e-3,
    },
  ], rng);
});

/** PyTorch's `nll_loss` in float64 for `[N, C, d…]` log-probabilities and `[N, d…]` labels. */
function nll64(
  x: F64,
  labels: Int32Array,
  options: { reduction?: Reduction; ignoreIndex?: number; weight?: F64 } = {},
): F64 {
  const { reduction = "mean", ignoreIndex = -100, weight } = options;
  const [n, c, ...d] = x.shape;
  const positions = d.reduce((a, b) => a * b, 1);
  const losses = new Float64Array(n * positions);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < positions; s++) {
      const y = labels[i * positions + s];
      if (y === ignoreIndex) continue;
      const w = weight ? weight.data[y] : 1;
      losses[i * positions + s] = -w * x.data[(i * c + y) * positions + s];
      total += w;
    }
  }
  if (reduction === "none") return ref.f64([n, ...d], losses);
  const sum = losses.reduce((a, b) => a + b, 0);
  return ref.f64([], [reduction === "sum" ? sum : sum / total]);
}

Deno.test("nllLoss: weights, ignoreIndex, reductions, per-position and unbatched", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(21);
  const labels = (count: number, classes: number, ignored = -100) =>
    Int32Array.from(
      { length: count },
      (_, i) => (i % 4 === 3 ? ignored : Math.floor(rng() * classes)),
    );
  const cases: OpCase[] = [];
  for (const reduction of ["mean", "sum", "none"] as const) {
    const flat = labels(7, 5);
    const spatial = labels(2 * 3 * 2, 4, 2);
    const weight = uniform([5], rng, 0.5, 2);
    cases.push(
      {
        name: `nllLoss ${reduction} [7, 5]`,
        inputs: [normal([7, 5], rng)],
        run: ([x]) => nllLoss(x, tensor(Array.from(flat), { dtype: "i32" }), { reduction }),
        ref: ([x]) => nll64(x, flat, { reduction }),
      },
      {
        name: `nllLoss ${reduction} [7, 5] weighted`,
        inputs: [normal([7, 5], rng), weight],
        wrt: [0],
        run: ([x, w]) =>
          nllLoss(x, tensor(Array.from(flat), { dtype: "i32" }), { reduction, weight: w }),
        ref: ([x, w]) => nll64(x, flat, { reduction, weight: w }),
      },
      {
        name: `nllLoss ${reduction} [2, 4, 3, 2] ignoring class 2`,
        inputs: [normal([2, 4, 3, 2], rng)],
        run: ([x]) =>
          nllLoss(x, tensor(Array.from(spatial), { dtype: "i32" }).reshape([2, 3, 2]), {
            reduction,
            ignoreIndex: 2,
          }),
        ref: ([x]) => nll64(x, spatial, { reduction, ignoreIndex: 2 }),
      },
    );
  }
  cases.push({
    name: "nllLoss unbatched [6] against a 0-d label",
    inputs: [normal([6], rng)],
    run: ([x]) => nllLoss(x, tensor(4, { dtype: "i32" })),
    ref: ([x]) => ref.f64([], [-x.data[4]]),
  });
  await checkAll(t, device, cases, rng);
});

Deno.test("nllLoss: is crossEntropy after logSoftmax; −∞ entries; every sample ignored; bad labels", async () => {
  await defaultDevice();
  const logits = tensor([[2, -1, 0.5], [0, 0, 3], [1, 1, 1]]);
  const labels = tensor([0, 2, -100], { dtype: "i32" });
  const weight = tensor([1, 2, 3]);
  for (const options of [{}, { weight }, { reduction: "sum" as const, weight }]) {
    const a = await nllLoss(logSoftmax(logits, 1), labels, options).item();
    const b = await crossEntropy(logits, labels, options).item();
    assert.ok(Math.abs(a - b) < 1e-6, `nll(logSoftmax) ${a} vs crossEntropy ${b}`);
  }
  // A class with probability 0 (log-probability −∞) costs nothing unless it is the label.
  const masked = tensor([[-Infinity, -0.1, -2.4]], { requiresGrad: true });
  const loss = nllLoss(masked, tensor([1], { dtype: "i32" }));
  assert.equal(await loss.item(), Math.fround(0.1));
  await loss.backward();
  assert.deepEqual(Array.from(await masked.grad!.data()), [0, -1, 0]);
  // Every sample ignored: the mean is 0/0, NaN, as PyTorch.
  const none = await nllLoss(logits, tensor([-100, -100, -100], { dtype: "i32" })).item();
  assert.ok(Number.isNaN(none));
  // A label out of range: NaN, and the next read names the op and the label.
  const bad = nllLoss(logits, tensor([0, 3, 1], { dtype: "i32" }));
  await assert.rejects(
    () => bad.item(),
    (e: Error) => e instanceof DeviceAssertionError && /nllLoss/.test(e.message),
  );
});

Deno.test("loss layers: each is its function, and forward is bound", async () => {
  await defaultDevice();
  const x = tensor([[0.2, 0.7], [0.9, 0.4]]);
  const y = tensor([[0, 1], [1, 1]]);
  const labels = tensor([1, 0], { dtype: "i32" });
  const pairs: [{ forward: (a: Tensor, b: Tensor) => Tensor }, () => Tensor, Tensor][] = [
    [new MSELoss({ reduction: "sum" }), () => mseLoss(x, y, { reduction: "sum" }), y],
    [new L1Loss(), () => l1Loss(x, y), y],
    [new SmoothL1Loss({ beta: 0.3 }), () => smoothL1Loss(x, y, { beta: 0.3 }), y],
    [new HuberLoss({ delta: 0.3 }), () => huberLoss(x, y, { delta: 0.3 }), y],
    [new BCELoss(), () => binaryCrossEntropy(x, y), y],
    [new BCEWithLogitsLoss(), () => binaryCrossEntropyWithLogits(x, y), y],
    [new KLDivLoss({ reduction: "batchmean" }), () => klDiv(x, y, { reduction: "batchmean" }), y],
    [new NLLLoss({ reduction: "none" }), () => nllLoss(x, labels, { reduction: "none" }), labels],
    [new CrossEntropyLoss(), () => crossEntropy(x, labels), labels],
  ];
  for (const [layer, direct, target] of pairs) {
    const { forward } = layer;
    assert.deepEqual(
      Array.from(await forward(x, target).data()),
      Array.from(await direct().data()),
      layer.constructor.name,
    );
  }
});

Deno.test("losses: bad input is a one-line error", async () => {
  await defaultDevice();
  const x = tensor([0.5, 0.5]);
  const bad: [() => unknown, RegExp][] = [
    [() => mseLoss(x, tensor([1, 2, 3])), /mseLoss: shapes \[2\] and \[3\] do not broadcast/],
    [
      () => l1Loss(x, x, { reduction: "avg" as "mean" }),
      /l1Loss: reduction must be "mean", "sum", "none", got "avg"/,
    ],
    [
      () => smoothL1Loss(x, x, { beta: -1 }),
      /smoothL1Loss: beta must be a finite number ≥ 0, got -1/,
    ],
    [() => huberLoss(x, x, { delta: 0 }), /huberLoss: delta must be a finite number > 0, got 0/],
    [
      () => binaryCrossEntropy(x, tensor([[1, 0]])),
      /binaryCrossEntropy: target \[1,2\] and input \[2\] must have the same shape/,
    ],
    [
      () => binaryCrossEntropy(x, x, { weight: tensor([1, 2, 3]) }),
      /binaryCrossEntropy: shapes \[2\] and \[3\] do not broadcast/,
    ],
    [
      () => binaryCrossEntropyWithLogits(x, x, { posWeight: tensor([[1], [2]]) }),
      /posWeight \[2,1\] does not broadcast to the input's shape \[2\]/,
    ],
    [
      () => nllLoss(tensor([[0, 0]]), tensor([0])),
      /nllLoss: target must be i32 class indices, got f32/,
    ],
    [
      () => nllLoss(tensor([[0, 0]]), tensor([0, 1], { dtype: "i32" })),
      /nllLoss: target \[2\] does not match input \[1,2\] \(need \[1\] class indices\)/,
    ],
    [
      () => nllLoss(tensor([[0, 0]]), tensor([0], { dtype: "i32" }), { weight: tensor([1]) }),
      /nllLoss: weight must be a \[2\] f32 tensor \(one per class\), got f32 \[1\]/,
    ],
    [() => mseLoss(tensor([1], { dtype: "i32" }), x), /mseLoss: expected an f32 tensor, got i32/],
    [
      () => nllLoss(zeros([2, 0]), tensor([0, 0], { dtype: "i32" })),
      /nllLoss: input \[2,0\] has no classes/,
    ],
    [() => klDiv(x, x, { reduction: "batch" as "sum" }), /klDiv: reduction must be .*"batchmean"/],
    [
      () => huberLoss(x, x, { beta: 2 } as unknown as { delta: number }),
      /huberLoss: unknown option "beta" \(did you mean "delta"\?\)/,
    ],
    [
      () => nllLoss(tensor([[0, 0]]), tensor([0], { dtype: "i32" }), { ignore_index: 1 } as object),
      /nllLoss: unknown option "ignore_index" \(did you mean "ignoreIndex"\?\)/,
    ],
  ];
  for (const [call, message] of bad) {
    assert.throws(call, (e: Error) => message.test(e.message) && !e.message.includes("\n"));
  }
});

Deno.test("losses: NaN in an input is NaN in the loss, and a loss layer is a LossFunction", async () => {
  await defaultDevice();
  const x = tensor([0.5, NaN]), y = tensor([0.25, 0.5]);
  const none = { reduction: "none" } as const;
  const losses: [string, Tensor][] = [
    ["mseLoss", mseLoss(x, y, none)],
    ["l1Loss", l1Loss(x, y, none)],
    ["smoothL1Loss", smoothL1Loss(x, y, none)],
    ["huberLoss", huberLoss(x, y, none)],
    ["binaryCrossEntropy", binaryCrossEntropy(x, y, none)],
    ["binaryCrossEntropyWithLogits", binaryCrossEntropyWithLogits(x, y, none)],
    ["klDiv of a NaN target", klDiv(y, x, none)],
  ];
  for (const [name, loss] of losses) {
    const [finite, nan] = await loss.data();
    assert.ok(Number.isFinite(finite) && Number.isNaN(nan), `${name}: ${finite}, ${nan}`);
  }
  // The trainer's loss option takes a loss layer's (bound) forward.
  const loss: LossFunction = new CrossEntropyLoss({ labelSmoothing: 0.1 }).forward;
  const value = await loss(tensor([[0, 0]]), tensor([1], { dtype: "i32" })).item();
  assert.ok(Math.abs(value - Math.LN2) < 1e-6);
});

Deno.test("nllLoss kernels: inputs larger than one binding run in windows of whole samples", async () => {
  const device = await defaultDevice();
  const [rows, classes, positions] = [7, 13, 3];
  const rng = mulberry32(4);
  const input = Float32Array.from({ length: rows * classes * positions }, () => rng() - 2);
  const labels = Int32Array.from(
    { length: rows * positions },
    (_, i) => (i % 5 === 4 ? -100 : Math.floor(rng() * classes)),
  );
  const weights = Float32Array.from({ length: classes }, () => 0.5 + rng());
  const buffer = (data: Float32Array | Int32Array) => {
    const b = device.alloc(data.byteLength);
    device.write(b, data);
    return b;
  };
  const [x, y, w] = [buffer(input), buffer(labels), buffer(weights)];
  const grad = buffer(Float32Array.from({ length: rows * positions }, () => rng()));
  const run = async (maxBindingBytes?: number) => {
    const [loss, counted] = [0, 1].map(() => device.alloc(rows * positions * 4));
    const out = device.alloc(input.byteLength);
    const sizes = { rows, classes, positions, ignoreIndex: -100, weight: w, maxBindingBytes };
    nllGather(device, { ...sizes, input: x, labels: y, loss, counted, op: "nllLoss" });
    nllScatter(device, { ...sizes, labels: y, grad, out, scalarGrad: false });
    const read = async (b: typeof out, n: number) =>
      Array.from(new Float32Array(await device.read(b, 0, n * 4)));
    return [
      await read(loss, rows * positions),
      await read(counted, rows * positions),
      await read(out, input.length),
    ];
  };
  const whole = await run();
  // About two samples' input a binding (312 bytes, and room for an unaligned start): several
  // runs, their starts not aligned.
  const windowed = await run(
    2 * classes * positions * 4 + device.limits.minStorageBufferOffsetAlignment,
  );
  assert.deepEqual(windowed, whole);
  // And against the definition.
  labels.forEach((label, p) => {
    const n = Math.floor(p / positions), s = p % positions;
    const want = label === -100
      ? 0
      : -weights[label] * input[(n * classes + label) * positions + s];
    assert.equal(whole[0][p], Math.fround(want) + 0);
  });
});

Deno.test("softMargin, Poisson, hinge embedding and margin ranking losses against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(44);
  const signs = (shape: number[]) =>
    ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => (rng() < 0.5 ? -1 : 1)));
  const counts = (shape: number[]) =>
    ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => Math.floor(rng() * 5)));
  const stirling = (
    t: number,
  ) => (t > 1 ? t * Math.log(t) - t + 0.5 * Math.log(2 * Math.PI * t) : 0);
  // Inputs away from the hinges' kinks (central differences need that).
  const away = (shape: number[], kink: number) =>
    ref.map(normal(shape, rng, 2), (v) => (Math.abs(v - kink) < 0.05 ? v + 0.2 : v));
  const cases: OpCase[] = [];
  for (const reduction of ["mean", "sum", "none"] as const) {
    cases.push(
      {
        name: `softMarginLoss ${reduction}`,
        inputs: [normal([4, 5], rng, 2), signs([4, 5])],
        wrt: [0],
        run: ([x, y]) => softMarginLoss(x, y, { reduction }),
        ref: ([x, y]) => elementwise(x, y, (a, b) => softplus(-a * b), reduction),
      },
      {
        name: `poissonNllLoss log input, full, ${reduction}`,
        inputs: [normal([3, 5], rng), counts([3, 5])],
        wrt: [0],
        run: ([x, y]) => poissonNllLoss(x, y, { reduction, full: true }),
        ref: ([x, y]) => elementwise(x, y, (a, b) => Math.exp(a) - b * a + stirling(b), reduction),
      },
      {
        name: `poissonNllLoss rates ${reduction}`,
        inputs: [uniform([3, 5], rng, 0.2, 3), counts([3, 5])],
        run: ([x, y]) => poissonNllLoss(x, y, { reduction, logInput: false }),
        ref: ([x, y]) => elementwise(x, y, (a, b) => a - b * Math.log(a + 1e-8), reduction),
        gradTol: 1e-3,
      },
      {
        name: `hingeEmbeddingLoss margin 1.5 ${reduction}`,
        inputs: [away([4, 6], 1.5), signs([4, 6])],
        wrt: [0],
        run: ([x, y]) => hingeEmbeddingLoss(x, y, { reduction, margin: 1.5 }),
        ref: ([x, y]) =>
          elementwise(
            x,
            y,
            (a, b) => (b !== 1 ? Math.max(1.5 - a, 0) : 0) + (b !== -1 ? a : 0),
            reduction,
          ),
      },
      {
        name: `marginRankingLoss margin 0.3 ${reduction}`,
        inputs: [normal([9], rng, 2), normal([9], rng, 2), signs([9])],
        wrt: [0, 1],
        run: ([a, b, y]) => marginRankingLoss(a, b, y, { reduction, margin: 0.3 }),
        ref: ([a, b, y]) =>
          elementwise(ref.sub(a, b), y, (d, s) => Math.max(-s * d + 0.3, 0), reduction),
      },
    );
  }
  await checkAll(t, device, cases, rng);
  // The layers are the functions.
  const [x, y] = [tensor([0.5, -1]), tensor([1, -1])];
  const { forward } = new MarginRankingLoss({ margin: 0.2 });
  assert.equal(
    await forward(x, y, tensor([1, 1])).item(),
    await marginRankingLoss(x, y, tensor([1, 1]), { margin: 0.2 }).item(),
  );
  for (
    const [layer, direct] of [
      [new SoftMarginLoss(), () => softMarginLoss(x, y)],
      [new PoissonNLLLoss({ full: true }), () => poissonNllLoss(x, tensor([2, 3]), { full: true })],
      [new HingeEmbeddingLoss({ margin: 2 }), () => hingeEmbeddingLoss(x, y, { margin: 2 })],
    ] as const
  ) {
    const target = layer instanceof PoissonNLLLoss ? tensor([2, 3]) : y;
    assert.equal(await layer.forward(x, target).item(), await direct().item());
  }
});

/** Each row (along the last axis) of `a` and `b` through `f`, as an `[N]` reference. */
function rows(a: F64, b: F64, f: (x: number[], y: number[], i: number) => number): F64 {
  const d = a.shape[a.shape.length - 1], n = a.data.length / d;
  const row = (t: F64, i: number) => Array.from(t.data.slice(i * d, (i + 1) * d));
  return ref.f64(
    a.shape.slice(0, -1),
    Array.from({ length: n }, (_, i) => f(row(a, i), row(b, i), i)),
  );
}

/** `terms` reduced as PyTorch reduces them. */
function reduce64(terms: F64, reduction: Reduction): F64 {
  if (reduction === "none") return terms;
  const sum = terms.data.reduce((x, y) => x + y, 0);
  return ref.f64([], [reduction === "sum" ? sum : sum / terms.data.length]);
}

Deno.test("Gaussian NLL, cosine embedding and triplet margin losses against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(61);
  const signs = (n: number) =>
    ref.f64([n], Array.from({ length: n }, () => (rng() < 0.5 ? -1 : 1)));
  const dot = (x: number[], y: number[]) => x.reduce((a, v, i) => a + v * y[i], 0);
  const norm = (x: number[], p: number, eps: number) =>
    x.reduce((a, v) => a + Math.abs(v + eps) ** p, 0) ** (1 / p);
  const cases: OpCase[] = [];
  for (const reduction of ["mean", "sum", "none"] as const) {
    const [y] = [signs(4)];
    cases.push(
      {
        name: `gaussianNllLoss ${reduction} full`,
        inputs: [normal([4, 3], rng), normal([4, 3], rng), uniform([4, 3], rng, 0.5, 2)],
        run: ([x, target, v]) => gaussianNllLoss(x, target, v, { reduction, full: true }),
        ref: ([x, target, v]) =>
          reduce64(
            ref.f64(
              [4, 3],
              x.data.map((m, i) =>
                0.5 * (Math.log(v.data[i]) + (m - target.data[i]) ** 2 / v.data[i]) +
                0.5 * Math.log(2 * Math.PI)
              ),
            ),
            reduction,
          ),
        gradTol: 1e-3,
      },
      {
        name: `gaussianNllLoss ${reduction}, one variance per sample`,
        inputs: [normal([4, 3], rng), normal([4, 3], rng), uniform([4], rng, 0.5, 2)],
        run: ([x, target, v]) => gaussianNllLoss(x, target, v, { reduction }),
        ref: ([x, target, v]) =>
          reduce64(
            ref.f64(
              [4, 3],
              x.data.map((m, i) => {
                const variance = v.data[Math.floor(i / 3)];
                return 0.5 * (Math.log(variance) + (m - target.data[i]) ** 2 / variance);
              }),
            ),
            reduction,
          ),
        gradTol: 1e-3,
      },
      {
        name: `cosineEmbeddingLoss ${reduction} margin 0.1`,
        inputs: [normal([4, 5], rng), normal([4, 5], rng)],
        run: ([a, b]) =>
          cosineEmbeddingLoss(a, b, tensor(Array.from(y.data)), { reduction, margin: 0.1 }),
        ref: ([a, b]) =>
          reduce64(
            rows(a, b, (u, v, i) => {
              const cos = dot(u, v) / Math.sqrt((dot(u, u) + 1e-12) * (dot(v, v) + 1e-12));
              return y.data[i] === 1 ? 1 - cos : Math.max(cos - 0.1, 0);
            }),
            reduction,
          ),
        gradTol: 1e-3,
      },
    );
    for (const [p, swap] of [[2, false], [1.5, true]] as const) {
      cases.push({
        name: `tripletMarginLoss ${reduction} p ${p}${swap ? " swap" : ""}`,
        inputs: [normal([5, 4], rng), normal([5, 4], rng), normal([5, 4], rng)],
        run: ([a, pos, neg]) => tripletMarginLoss(a, pos, neg, { reduction, p, swap, margin: 3 }),
        ref: ([a, pos, neg]) => {
          const d = (x: F64, z: F64) =>
            rows(x, z, (u, v) => norm(u.map((w, i) => w - v[i]), p, 1e-6));
          const [ap, an, pn] = [d(a, pos), d(a, neg), d(pos, neg)];
          return reduce64(
            ref.f64(
              [5],
              ap.data.map((v, i) =>
                Math.max(v - (swap ? Math.min(an.data[i], pn.data[i]) : an.data[i]) + 3, 0)
              ),
            ),
            reduction,
          );
        },
        gradTol: 1e-3,
      });
    }
  }
  await checkAll(t, device, cases, rng);
  // Variances below eps count as eps; a variance that fits no layout is a one-line error.
  const small = await gaussianNllLoss(tensor([0]), tensor([0]), tensor([0]), { eps: 0.5 }).item();
  assert.ok(Math.abs(small - 0.5 * Math.log(0.5)) < 1e-6);
  // A negative variance is PyTorch's error, at the next read (it counted as eps).
  const negative = gaussianNllLoss(
    tensor([[0, 1], [2, 3]]),
    tensor([[0, 0], [0, 0]]),
    tensor([1, -2]),
  );
  await assert.rejects(
    negative.item(),
    /: gaussianNllLoss: variance -2 at position 2 \(of the broadcast terms\) is negative \(var has negative entry\/entries\)/,
  );
  assert.throws(
    () => gaussianNllLoss(tensor([[0, 0]]), tensor([[0, 0]]), tensor([1, 2, 3])),
    /gaussianNllLoss: variance \[3\] fits neither the input \[1,2\] nor one variance per sample/,
  );
  // The layers are the functions.
  const [a, b, c] = [tensor([[1, 2]]), tensor([[0, 1]]), tensor([[3, 1]])];
  assert.equal(
    await new TripletMarginLoss({ margin: 2 }).forward(a, b, c).item(),
    await tripletMarginLoss(a, b, c, { margin: 2 }).item(),
  );
  assert.equal(
    await new CosineEmbeddingLoss().forward(a, b, tensor([-1])).item(),
    await cosineEmbeddingLoss(a, b, tensor([-1])).item(),
  );
  const { forward } = new GaussianNLLLoss({ full: true });
  assert.equal(
    await forward(a, b, c).item(),
    await gaussianNllLoss(a, b, c, { full: true }).item(),
  );
});

Deno.test("losses called outside tidy free their intermediates", async () => {
  const device = await defaultDevice();
  const [x, y, v] = [
    tensor([[0.2, 0.7], [0.4, 0.1]]),
    tensor([[0, 1], [1, 0]]),
    tensor([[1, 2], [1, 1]]),
  ];
  const labels = tensor([1, 0], { dtype: "i32" });
  const [posWeight, signs] = [tensor([2, 3]), tensor([1, -1])];
  const calls: (() => Tensor)[] = [
    () => mseLoss(x, y),
    () => l1Loss(x, y, { reduction: "sum" }),
    () => smoothL1Loss(x, y),
    () => huberLoss(x, y),
    () => binaryCrossEntropy(x, y, { weight: v }),
    () => binaryCrossEntropyWithLogits(x, y, { posWeight }),
    () => klDiv(x, y, { reduction: "batchmean" }),
    () => klDiv(x, y),
    () => nllLoss(x, labels),
    () => softMarginLoss(x, y),
    () => poissonNllLoss(x, y, { full: true }),
    () => hingeEmbeddingLoss(x, y),
    () => marginRankingLoss(x, y, v),
    () => gaussianNllLoss(x, y, v),
    () => cosineEmbeddingLoss(x, y, signs),
    () => tripletMarginLoss(x, y, v),
  ];
  for (const call of calls) {
    call().dispose(); // compiles, and makes whatever the first call makes once
    const before = device.memory().liveBytes;
    const loss = call();
    await loss.data();
    loss.dispose();
    assert.equal(device.memory().liveBytes, before, `${call}: bytes left behind`);
  }
});

Deno.test("multilabelSoftMarginLoss: each sample's mean over its classes, weighted", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(71);
  const bits = (shape: number[]) =>
    ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => (rng() < 0.5 ? 0 : 1)));
  const perSample = (x: F64, y: F64, w: F64 | null) =>
    rows(
      x,
      y,
      (u, v) => u.reduce((a, z, c) => a + bceLogits()(z, v[c]) * (w ? w.data[c] : 1), 0) / u.length,
    );
  const cases: OpCase[] = (["mean", "sum", "none"] as const).flatMap((reduction) => [
    {
      name: `multilabelSoftMarginLoss ${reduction}`,
      inputs: [normal([4, 5], rng, 2), bits([4, 5])],
      wrt: [0],
      run: ([x, y]: Tensor[]) => multilabelSoftMarginLoss(x, y, { reduction }),
      ref: ([x, y]: F64[]) => reduce64(perSample(x, y, null), reduction),
    },
    {
      name: `multilabelSoftMarginLoss ${reduction} weighted`,
      inputs: [normal([4, 5], rng, 2), bits([4, 5]), uniform([5], rng, 0.5, 2)],
      wrt: [0],
      run: ([x, y, w]: Tensor[]) => multilabelSoftMarginLoss(x, y, { reduction, weight: w }),
      ref: ([x, y, w]: F64[]) => reduce64(perSample(x, y, w), reduction),
    },
  ]);
  await checkAll(t, device, cases, rng);
  const [a, b] = [tensor([[1, -2]]), tensor([[1, 0]])];
  assert.equal(
    await new MultiLabelSoftMarginLoss().forward(a, b).item(),
    await multilabelSoftMarginLoss(a, b).item(),
  );
});

// Last in the file: the refused backward leaves its graph to the garbage collector, whose
// release of it would upset the byte counts of the tests after it.
Deno.test("nllLoss: class weights that require a gradient are refused at backward", async () => {
  await defaultDevice();
  const logits = tensor([[2, -1, 0.5], [0, 0, 3]]);
  const trained = tensor([1, 2, 3], { requiresGrad: true });
  const weighted = nllLoss(logSoftmax(logits, 1), tensor([0, 2], { dtype: "i32" }), {
    weight: trained,
  });
  await assert.rejects(() => weighted.backward(), /nllLoss: the class weight requires a gradient/);
});

Deno.test("loss layers are modules: class weights are buffers (state dict, to()), as PyTorch's", async () => {
  const [a, b] = await Device.acquireMany(2, { label: "loss" });
  const weight = tensor([1, 3], { device: a });
  const logits = tensor([[0, 0], [2, 0]], { device: a });
  const labels = tensor([1, 0], { dtype: "i32", device: a });
  const criterion = new CrossEntropyLoss({ weight });
  assert.ok(criterion instanceof Module);
  // PyTorch's CrossEntropyLoss(weight=w).state_dict() is {"weight": w}; it was not a module.
  const state = await criterion.stateDict();
  assert.deepEqual(Object.keys(state), ["weight"]);
  assert.deepEqual(await state.weight.data(), Float32Array.of(1, 3));
  Object.values(state).forEach((t) => t.dispose());
  const here = await criterion.forward(logits, labels).item();
  // to() moves the weight: the loss then runs on the other device (it failed naming both).
  await criterion.to(b);
  assert.equal(criterion.getBuffer("weight").device, b);
  const there = await criterion.forward(await logits.to(b), await labels.to(b)).item();
  assert.equal(there, here);
  assert.equal(weight.device, a); // the caller's tensor is untouched
  criterion.dispose();
  assert.deepEqual(await weight.data(), Float32Array.of(1, 3)); // and outlives the loss
  const both = new BCEWithLogitsLoss({ weight: tensor([1, 2]), posWeight: tensor([3, 4]) });
  assert.deepEqual(Object.keys(await both.stateDict()), ["weight", "pos_weight"]);
  await both.loadStateDict({
    weight: { shape: [2], data: Float32Array.of(1, 1) },
    pos_weight: { shape: [2], data: Float32Array.of(1, 1) },
  });
  assert.ok(
    Math.abs(await both.forward(tensor([[0, 0]]), tensor([[1, 1]])).item() - Math.LN2) < 1e-6,
  );
  // Losses without weights have an empty state dict; three-input losses are modules too.
  assert.deepEqual(Object.keys(await new MSELoss().stateDict()), []);
  assert.ok(new TripletMarginLoss() instanceof Module);
  for (const t of [weight, logits, labels]) t.dispose();
});

Deno.test("a loss term's domain check names the global position when the term runs in windows", async () => {
  const device = await defaultDevice();
  // The same device seen with a binding limit of 1 KiB (64 vec4s), so 1000 elements take
  // several windows, each checking from its own first element.
  const limits = {
    ...device.limits,
    maxStorageBufferBindingSize: Math.max(1024, device.limits.minStorageBufferOffsetAlignment),
  };
  const narrow = new Proxy(device, {
    get(target, key) {
      if (key === "limits") return limits;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as Backend;
  const n = 1000, bad = 701;
  const probabilities = Float32Array.from(
    { length: n },
    (_, i) => (i === bad ? 1.25 : (i % 9) / 9),
  );
  const [x, t, out] = [0, 1, 2].map(() => device.alloc(n * 4));
  device.write(x, probabilities);
  device.write(t, new Float32Array(n).fill(1));
  lossTerm(narrow, "binaryCrossEntropy", x, t, out, n);
  await assert.rejects(
    device.read(out, 0, n * 4),
    /binaryCrossEntropy: input 1\.25 at position 701 is outside \[0, 1\]/,
  );
  // Every window computed its terms: −log x (clamped at 100), NaN at the bad one.
  const terms = new Float32Array(await device.read(out, 0, n * 4));
  terms.forEach((v, i) => {
    if (i === bad) assert.ok(Number.isNaN(v));
    else assert.ok(Math.abs(v - Math.min(-Math.log(probabilities[i]), 100)) < 1e-4, `${i}: ${v}`);
  });
  for (const b of [x, t, out]) device.release(b);
});

/**
 * The paper's ablation switches (activation, LRN, pooling, dropout, towers) and the Figure 1
 * network: parameter counts and shapes as documented, and every variant's logits against a
 * float64 forward pass written from the switch's meaning (not from the plan the net is built
 * from), on weights large enough that each switch changes the output. Each check also asserts
 * that the paper's network gives clearly different logits, so a switch that did nothing fails.
 */

import assert from "node:assert/strict";
import { Device, fromTypedArray } from "../mod.ts";
import {
  AlexNet,
  type AlexNetConfig,
  alexnetOutputShapes,
  alexnetParameterShapes,
  Dropout,
  Figure1Net,
  type Module,
  type PoolingConfig,
  summary,
} from "../nn/mod.ts";
import { relativeError } from "./_gradcheck.ts";
import * as ref from "./_reference.ts";

const [gpuA, gpuB] = await Device.acquireMany(2);

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const total = (shapes: Record<string, number[]>): number =>
  Object.values(shapes).reduce((n, s) => n + numel(s), 0);

/** Random weights N(0, 2/fan_in) and biases N(0, 0.1²), as a host state dict and as F64. */
function randomWeights(
  shapes: Record<string, number[]>,
  seed: number,
): { dict: Record<string, { shape: number[]; data: Float32Array }>; f64: Record<string, ref.F64> } {
  const rng = ref.mulberry32(seed);
  const dict: Record<string, { shape: number[]; data: Float32Array }> = {};
  const f64: Record<string, ref.F64> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const std = shape.length > 1 ? Math.sqrt(2 / numel(shape.slice(1))) : 0.1;
    const data = Float32Array.from(ref.randn(shape, rng, std).data);
    dict[name] = { shape, data };
    f64[name] = ref.f64(shape, data);
  }
  return { dict, f64 };
}

interface Switches {
  activation: "relu" | "tanh";
  lrn: boolean;
  pooling: PoolingConfig;
  towers: 1 | 2;
}

const PAPER: Switches = {
  activation: "relu",
  lrn: true,
  pooling: { kernelSize: 3, stride: 2 },
  towers: 2,
};

/**
 * The scaled AlexNet (inputs ≤ 48: conv1 5×5 s1 p2) in float64, evaluation mode: what each
 * switch means, independently of the library's plan.
 */
function alexnetReference(s: Switches, w: Record<string, ref.F64>, x: ref.F64): ref.F64 {
  const act = s.activation === "tanh" ? ref.tanh : ref.relu;
  const groups = s.towers;
  const k = s.pooling.kernelSize, st = s.pooling.stride;
  const pool = (y: ref.F64) => ref.maxPool2d(y, { kernel: [k, k], stride: [st, st] });
  const norm = (y: ref.F64) =>
    s.lrn
      ? ref.lrn(y, { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: y.shape[1] / groups })
      : y;
  const conv = (y: ref.F64, name: string, pad: number, g: number) =>
    act(ref.conv2d(y, w[`${name}.weight`], w[`${name}.bias`], { padding: [pad, pad], groups: g }));
  const fc = (y: ref.F64, name: string) => ref.linear(y, w[`${name}.weight`], w[`${name}.bias`]);
  let y = pool(norm(conv(x, "conv1", 2, 1)));
  y = pool(norm(conv(y, "conv2", 2, groups)));
  y = pool(conv(conv(conv(y, "conv3", 1, 1), "conv4", 1, groups), "conv5", 1, groups));
  y = ref.reshape(y, [y.shape[0], numel(y.shape.slice(1))]);
  return fc(act(fc(act(fc(y, "fc6")), "fc7")), "fc8");
}

/** The Figure 1 net in float64. */
function figure1Reference(
  s: { activation: "relu" | "tanh"; lrn: boolean },
  w: Record<string, ref.F64>,
  x: ref.F64,
): ref.F64 {
  const act = s.activation === "tanh" ? ref.tanh : ref.relu;
  const pool = (y: ref.F64) => ref.maxPool2d(y, { kernel: [3, 3], stride: [2, 2] });
  const norm = (y: ref.F64) =>
    s.lrn ? ref.lrn(y, { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: y.shape[1] }) : y;
  const conv = (y: ref.F64, name: string) =>
    act(ref.conv2d(y, w[`${name}.weight`], w[`${name}.bias`], { padding: [2, 2] }));
  let y = pool(norm(conv(x, "conv1")));
  y = pool(norm(conv(y, "conv2")));
  y = pool(conv(y, "conv3"));
  y = ref.reshape(y, [y.shape[0], numel(y.shape.slice(1))]);
  return ref.linear(y, w["fc4.weight"], w["fc4.bias"]);
}

/** The model's evaluation logits for `x`, and its parameter shapes by name. */
async function logitsOf(model: Module & { forward(x: unknown): unknown }, x: ref.F64) {
  const input = fromTypedArray(Float32Array.from(x.data), x.shape, { device: gpuA });
  const y = await (model.eval().forward(input) as Promise<{ data(): Promise<ArrayLike<number>> }>);
  return await y.data();
}

function shapesOf(model: Module): Record<string, number[]> {
  return Object.fromEntries(
    model.stateSlots().map((slot) => [
      slot.name,
      [slot.shards.reduce((n, t) => n + t.shape[0], 0), ...slot.shards[0].shape.slice(1)],
    ]),
  );
}

Deno.test("AlexNet switches: parameter counts and shapes", async (t) => {
  await t.step("defaults stay the paper's", () => {
    assert.equal(total(alexnetParameterShapes()), 60965224);
    const net = { ...alexnetParameterShapes() };
    assert.deepEqual(alexnetParameterShapes({ activation: "tanh", lrn: false, dropout: 0 }), net);
  });

  await t.step("towers: 1 halves conv1–conv4, keeps conv5 and fc, no groups", () => {
    const one = alexnetParameterShapes({ towers: 1 });
    assert.deepEqual(one["conv1.weight"], [48, 3, 11, 11]);
    assert.deepEqual(one["conv2.weight"], [128, 48, 5, 5]);
    assert.deepEqual(one["conv3.weight"], [192, 128, 3, 3]);
    assert.deepEqual(one["conv4.weight"], [192, 192, 3, 3]);
    assert.deepEqual(one["conv5.weight"], [256, 192, 3, 3]);
    assert.deepEqual(one["fc6.weight"], [4096, 9216]);
    // 17,472 + 153,728 + 221,376 + 331,968 + 442,624 conv, fc as the paper's.
    assert.equal(total(one), 59798312);
    assert.deepEqual(alexnetOutputShapes({ towers: 1 }).conv4, [1, 192, 13, 13]);
    assert.throws(
      () => new AlexNet({ towers: 1, width: 1 / 8, inputSize: 32 }, [gpuA, gpuB]),
      /one device/,
    );
  });

  await t.step("pooling: 2×2 s2 matches 3×3 s2 on odd sides, differs on even ones", () => {
    const two = { pooling: { kernelSize: 2, stride: 2 } };
    assert.deepEqual(alexnetOutputShapes(two), alexnetOutputShapes());
    assert.equal(total(alexnetParameterShapes(two)), 60965224);
    const small = { width: 1 / 8, inputSize: 32, numClasses: 10 };
    assert.deepEqual(alexnetOutputShapes(small).pool5, [1, 32, 3, 3]);
    assert.deepEqual(alexnetOutputShapes({ ...small, ...two }).pool5, [1, 32, 4, 4]);
    assert.deepEqual(alexnetParameterShapes({ ...small, ...two })["fc6.weight"], [512, 512]);
    const odd = { ...small, inputSize: 31 };
    assert.deepEqual(alexnetOutputShapes({ ...odd, ...two }), alexnetOutputShapes(odd));
    assert.throws(
      () => alexnetParameterShapes({ pooling: { kernelSize: 0, stride: 2 } }),
      /pooling/,
    );
  });

  await t.step("LRN off and dropout 0 remove their layers; bad values are refused", () => {
    const rows = Object.keys(alexnetOutputShapes({ lrn: false, dropout: 0 }));
    assert.deepEqual(rows, [
      "conv1",
      "pool1",
      "conv2",
      "pool2",
      "conv3",
      "conv4",
      "conv5",
      "pool5",
      "flatten",
      "fc6",
      "fc7",
      "fc8",
    ]);
    assert.throws(() => alexnetParameterShapes({ dropout: 1.5 }), /dropout/);
    assert.throws(
      () => alexnetParameterShapes({ activation: "swish" as "relu" }),
      /activation must be one of relu, tanh, .*, got 'swish'/,
    );
    assert.throws(() => alexnetParameterShapes({ towers: 3 as 2 }), /towers/);
  });

  await t.step("the summary shows what each switch changes", () => {
    const net = new AlexNet({
      width: 1 / 8,
      inputSize: 32,
      numClasses: 10,
      activation: "tanh",
      lrn: false,
      pooling: { kernelSize: 2, stride: 2 },
      dropout: 0.3,
      towers: 1,
      seed: 0,
    }, gpuA);
    const text = summary(net, [1, 3, 32, 32]);
    assert.match(text, /changed: activation tanh \(paper: relu\)/);
    assert.match(text, /changed: no LRN/);
    assert.match(text, /changed: max pooling 2×2 s2 \(paper: 3×3 s2 \(overlapping\)\)/);
    assert.match(text, /changed: dropout 0.3 in fc6 and fc7 \(paper: 0.5\)/);
    assert.match(text, /changed: one tower/);
    assert.match(text, /conv2\s+\[1, 16, 16, 16\]\s+[\d,]+\s+gpu\d+\s+conv 5×5 s1 p2, tanh/);
    assert.match(text, /pool5\s+\[1, 32, 4, 4\]\s+0\s+gpu\d+\s+max pool 2×2 s2/);
    assert.match(text, /drop6\s+\[1, 512\]\s+0\s+gpu\d+\s+dropout 0.3/);
    assert.doesNotMatch(text, /norm1/);
    assert.equal(net.parameterCount(), total(shapesOf(net)));
    net.dispose();
    const paper = new AlexNet({ width: 1 / 8, inputSize: 32, numClasses: 10, seed: 0 }, gpuA);
    const paperText = summary(paper, [1, 3, 32, 32]);
    assert.match(paperText, /the paper's network/);
    assert.match(paperText, /conv2 .* conv 5×5 s1 p2, 2 groups, relu/);
    assert.match(paperText, /norm1 .* LRN n=5 within each tower/);
    paper.dispose();
  });
});

Deno.test("AlexNet switches: logits against the float64 reference", async (t) => {
  const base: AlexNetConfig = { width: 1 / 8, inputSize: 23, numClasses: 10, seed: 0 };
  const x = ref.randn([2, 3, 23, 23], ref.mulberry32(7));
  const cases: [string, Partial<Switches> & { dropout?: number }][] = [
    ["the paper's switches", {}],
    ["tanh", { activation: "tanh" }],
    ["no LRN", { lrn: false }],
    ["2×2 s2 pooling", { pooling: { kernelSize: 2, stride: 2 } }],
    ["one tower", { towers: 1 }],
    ["all switched at once", {
      activation: "tanh",
      lrn: false,
      pooling: { kernelSize: 2, stride: 2 },
      towers: 1,
    }],
  ];
  for (const [label, change] of cases) {
    await t.step(label, async () => {
      const switches = { ...PAPER, ...change };
      const net = new AlexNet({ ...base, ...change }, gpuA);
      const { dict, f64 } = randomWeights(shapesOf(net), 3);
      await net.loadStateDict(dict);
      const got = await logitsOf(net, x);
      const want = alexnetReference(switches, f64, x);
      const e = relativeError(got, want.data);
      assert.ok(e < 1e-4, `${label}: logits differ from the reference by ${e}`);
      if (Object.keys(change).length > 0 && change.towers === undefined) {
        const paper = alexnetReference(PAPER, f64, x);
        assert.ok(relativeError(paper.data, want.data) > 1e-2, `${label} changes nothing`);
      }
      net.dispose();
    });
  }

  await t.step("two devices with switches compute what one does", async () => {
    const change = { activation: "tanh", lrn: false, dropout: 0 } as const;
    const one = new AlexNet({ ...base, ...change }, gpuA);
    const two = new AlexNet({ ...base, ...change }, [gpuA, gpuB]);
    const { dict, f64 } = randomWeights(shapesOf(one), 4);
    await one.loadStateDict(dict);
    await two.loadStateDict(dict);
    const want = alexnetReference({ ...PAPER, ...change }, f64, x);
    for (const net of [one, two]) {
      // Training mode: with dropout 0 the training forward is the evaluation forward.
      const input = fromTypedArray(Float32Array.from(x.data), x.shape, { device: gpuA });
      const e = relativeError(
        await (await net.train().forward(input.withRank(4))).data(),
        want.data,
      );
      assert.ok(e < 1e-4, `${net.placement.length} device(s): ${e}`);
    }
    one.dispose();
    two.dispose();
  });

  await t.step("dropout rate: the layers drop that fraction in training", async () => {
    const net = new AlexNet({ ...base, dropout: 0.25 }, gpuA);
    const drops = net.namedModules().filter(([, m]) => m instanceof Dropout) as [string, Dropout][];
    assert.deepEqual(drops.map(([n, d]) => [n, d.p]), [["drop6", 0.25], ["drop7", 0.25]]);
    const ones = fromTypedArray(new Float32Array(8192).fill(1), [16, 512], { device: gpuA });
    const out = await drops[0][1].train().forward(ones).data();
    const zeros = Array.from(out).filter((v) => v === 0).length / out.length;
    // 8,192 draws: the standard error of the fraction is under 0.005.
    assert.ok(Math.abs(zeros - 0.25) < 0.025, `dropped ${zeros}`);
    assert.ok(Array.from(out).every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    net.dispose();
  });
});

Deno.test("Figure 1 net: shapes, parameters and logits against the float64 reference", async (t) => {
  const x = ref.randn([2, 3, 32, 32], ref.mulberry32(11));
  await t.step("three 5×5 convolutions and one linear layer: 85,098 parameters", () => {
    const net = new Figure1Net({}, gpuA);
    assert.deepEqual(shapesOf(net), {
      "conv1.weight": [32, 3, 5, 5],
      "conv1.bias": [32],
      "conv2.weight": [32, 32, 5, 5],
      "conv2.bias": [32],
      "conv3.weight": [64, 32, 5, 5],
      "conv3.bias": [64],
      "fc4.weight": [10, 576],
      "fc4.bias": [10],
    });
    assert.equal(net.parameterCount(), 85098);
    const text = summary(net, [1, 3, 32, 32]);
    assert.match(text, /pool3\s+\[1, 64, 3, 3\]/);
    assert.match(text, /Figure 1 net: relu, no LRN/);
    assert.match(text, /conv2\s+\[1, 32, 15, 15\]\s+25,632\s+gpu\d+\s+conv 5×5 s1 p2, relu/);
    assert.match(text, /pool3 .* max pool 3×3 s2/);
    assert.throws(() => new Figure1Net({ inputSize: 6 }, gpuA), /does not fit/);
    net.dispose();
  });
  for (
    const s of [
      { activation: "relu", lrn: false },
      { activation: "tanh", lrn: false },
      { activation: "relu", lrn: true },
    ] as const
  ) {
    await t.step(`${s.activation}${s.lrn ? " with LRN" : ""}`, async () => {
      const net = new Figure1Net({ ...s, seed: 1 }, gpuA);
      const { dict, f64 } = randomWeights(shapesOf(net), 5);
      await net.loadStateDict(dict);
      const got = await logitsOf(net, x);
      const e = relativeError(got, figure1Reference(s, f64, x).data);
      assert.ok(e < 1e-4, `logits differ by ${e}`);
      const other = figure1Reference({ activation: "relu", lrn: !s.lrn }, f64, x);
      assert.ok(relativeError(got, other.data) > 1e-2, "the switch changed nothing");
      net.dispose();
    });
  }
});

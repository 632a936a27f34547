/**
 * VGGs as torchvision's: state-dict keys (`features.N`, `classifier.N`), shapes and order as
 * torchvision's `vgg.py` builds them, its parameter counts and initialisation; narrow nets with
 * and without batch norm against a float64 reference in training and evaluation mode; dropout
 * active in training only.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, Generator } from "../mod.ts";
import {
  init,
  VGG,
  vgg11,
  vgg11Bn,
  vgg13,
  vgg13Bn,
  vgg16,
  vgg16Bn,
  vgg19,
  vgg19Bn,
  VGG_CONFIGS,
  vggMinInputSize,
  vggStateShapes,
} from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { referenceState, torchvisionVGG, vggReference } from "./_zoo_reference.ts";
import { assertClose } from "./_gradcheck.ts";
import { brightChannel } from "./_optim.ts";
import { train } from "../train/train.ts";
import { readMetrics } from "../train/run_log.ts";

const device = await defaultDevice();

const MODELS = [
  ["vgg11", vgg11, "A", false, 132_863_336],
  ["vgg11_bn", vgg11Bn, "A", true, 132_868_840],
  ["vgg13", vgg13, "B", false, 133_047_848],
  ["vgg13_bn", vgg13Bn, "B", true, 133_053_736],
  ["vgg16", vgg16, "D", false, 138_357_544],
  ["vgg16_bn", vgg16Bn, "D", true, 138_365_992],
  ["vgg19", vgg19, "E", false, 143_667_240],
  ["vgg19_bn", vgg19Bn, "E", true, 143_678_248],
] as const;

/** torchvision's cfgs, transcribed from vgg.py. */
const TORCHVISION_CFGS = {
  A: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  B: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  D: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  E: [
    ...[64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"],
    ...[512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
  ],
} as const;

Deno.test("every VGG's state dict has torchvision's keys, shapes and order, and its parameter count", () => {
  for (const [name, , cfg, bn, count] of MODELS) {
    assert.deepEqual(VGG_CONFIGS[cfg], TORCHVISION_CFGS[cfg], `${name}: cfg ${cfg}`);
    const planned = vggStateShapes({ layers: cfg, batchNorm: bn });
    assert.deepEqual(
      planned.map((e) => [e.name, e.shape]),
      torchvisionVGG(TORCHVISION_CFGS[cfg], bn),
    );
    const params = planned.filter((e) => !e.buffer);
    assert.equal(params.reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0), count, name);
  }
  assert.equal(vggMinInputSize("A"), 32);
});

Deno.test("every narrow VGG builds the state dict its plan gives, initialised as torchvision's", async () => {
  for (const [name, factory, , bn] of MODELS) {
    const net = factory({ width: 1 / 16, hidden: 64, poolSize: 2, numClasses: 3, seed: 1 });
    const dict = await net.stateDict();
    const planned = vggStateShapes(net.config);
    assert.deepEqual(
      Object.entries(dict).map(([k, t]) => [k, [...t.shape]]),
      planned.map((e) => [e.name, e.shape]),
      name,
    );
    assert.equal(net.config.batchNorm, bn);
    for (const [key, t] of Object.entries(dict)) {
      const data = Array.from(await t.data());
      if (/bias|running_mean|num_batches_tracked/.test(key)) {
        assert.ok(data.every((v) => v === 0), `${name} ${key}: zeros`);
      } else if (t.rank === 1) {
        assert.ok(data.every((v) => v === 1), `${name} ${key}: ones`);
      } else {
        // Convolutions: kaiming_normal_(fan_out, relu); linear layers: N(0, 0.01²).
        const fanOut = t.shape[0] * (t.rank === 4 ? t.shape[2] * t.shape[3] : 0);
        const want = t.rank === 4 ? Math.sqrt(2 / fanOut) : 0.01;
        const got = Math.sqrt(data.reduce((s, v) => s + v * v, 0) / data.length);
        assert.ok(Math.abs(got / want - 1) < 6 / Math.sqrt(data.length), `${name} ${key}: ${got}`);
      }
      t.dispose();
    }
    net.dispose();
  }
  assert.throws(() => vgg11({ width: 1 / 128 }), /width 0.0078125 does not give whole channel/);
  const small = vgg11({ width: 1 / 64, hidden: 4, poolSize: 1 });
  const x = fromTypedArray(new Float32Array(3 * 16 * 31), [1, 3, 16, 31], { device });
  assert.throws(() => small.forward(x), /VGG: input \[1,3,16,31\] is smaller than the 32×32/);
  small.dispose();
  x.dispose();
});

for (const bn of [false, true]) {
  Deno.test(`a narrow VGG-11${bn ? " with batch norm" : ""} computes torchvision's function in training and evaluation`, async () => {
    const net = new VGG({
      layers: "A",
      batchNorm: bn,
      width: 1 / 16,
      hidden: 12,
      poolSize: 2,
      numClasses: 5,
      dropout: 0,
      seed: 2,
    });
    const shape = [2, 3, 35, 33];
    const host = ref.randn(shape, ref.mulberry32(4));
    const x = fromTypedArray(Float32Array.from(host.data), shape, { device });
    for (const training of [true, false]) {
      const state = await referenceState(net);
      const want = vggReference(state, host, VGG_CONFIGS.A, bn, 2, { training });
      const got = net.train(training).forward(x);
      const scale = Math.max(...want.data.map(Math.abs));
      assertClose(await got.data(), want.data, {
        atol: 2e-5 * scale,
        rtol: 1e-4,
        label: training ? "train" : "eval",
      });
      got.dispose();
    }
    x.dispose();
    net.dispose();
  });
}

Deno.test("VGG's dropout drops in training only, from the seeded stream", async () => {
  const make = () => vgg11({ width: 1 / 16, hidden: 32, poolSize: 1, numClasses: 2, seed: 3 });
  const noise = ref.randn([2, 3, 32, 32], ref.mulberry32(5));
  const x = fromTypedArray(Float32Array.from(noise.data), noise.shape, { device });
  const [a, b] = [make(), make()];
  const ya = await a.forward(x).data(), yb = await b.forward(x).data();
  assert.deepEqual(ya, yb, "the same seed draws the same masks");
  const evaluated = await a.eval().forward(x).data();
  assert.notDeepEqual(evaluated, ya, "evaluation does not drop");
  assert.deepEqual(await b.eval().forward(x).data(), evaluated);
  for (const m of [a, b]) m.dispose();
  x.dispose();
});

Deno.test("a narrow VGG with batch norm learns under the Trainer; a resumed run, dropout masks and all, is bit for bit", async () => {
  // torchvision's N(0, 0.01²) classifier is tuned to 4096 features: narrowed to 32, its logits
  // start too small to learn in a few steps, so its weights are drawn He's way here.
  const make = () => {
    const net = vgg11Bn({
      width: 1 / 16,
      hidden: 32,
      poolSize: 1,
      numClasses: 3,
      dropout: 0.3,
      seed: 4,
    });
    const generator = new Generator(9);
    for (const [name, p] of net.namedParameters()) {
      if (/^classifier\.\d\.weight$/.test(name)) init.kaimingNormal(p, { generator });
    }
    return net;
  };
  const trainData = brightChannel(64, 1, 32), valData = brightChannel(32, 2, 32);
  /** A fresh net trained to `epochs` in `runDir` (resumed from its checkpoint if asked). */
  const run = async (runDir: string, epochs: number, resume = false) => {
    const model = make();
    const generators = { dropout: model.dropoutGenerator! };
    await train({
      trainData,
      valData,
      batchSize: 16,
      lr: 0.05,
      model,
      epochs,
      runDir,
      resume,
      generators,
    });
    const state: Record<string, Float32Array | Int32Array> = {};
    for (const [k, t] of Object.entries(await model.stateDict())) {
      state[k] = await t.data() as Float32Array | Int32Array;
      t.dispose();
    }
    model.dispose();
    return state;
  };
  const [straightDir, resumedDir] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const state = await run(straightDir, 3);
  const rows = await readMetrics(straightDir);
  assert.ok(rows[2].trainLoss < rows[0].trainLoss * 0.9, `loss: ${rows.map((r) => r.trainLoss)}`);
  await run(resumedDir, 2);
  assert.deepEqual(await run(resumedDir, 3, true), state);
  for (const d of [straightDir, resumedDir]) await Deno.remove(d, { recursive: true });
});

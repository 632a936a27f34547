/**
 * AlexNet: the paper's parameter shapes and count (from the plan, no allocation), every
 * layer's output shape at 227×227, the full net built once (count, summary, initialisation
 * statistics), and the scaled net placed on one device and on two (sharing one GPUDevice, and
 * two GPUDevices): same function, same gradients through the state-dict layout, and every
 * parameter on the device it belongs to.
 */

import assert from "node:assert/strict";
import { crossEntropy, Device, fromTypedArray, randn, type Tensor } from "../mod.ts";
import {
  AlexNet,
  alexnetOutputShapes,
  alexnetParameterShapes,
  alexnetSmall,
  type Module,
  summary,
} from "../nn/mod.ts";
import { relativeError } from "./_gradcheck.ts";

const [gpuA, gpuB] = await Device.acquireMany(2);

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Each logical parameter's gradient on the host, its towers' parts joined along axis 0. */
async function gradients(model: Module): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const slot of model.stateSlots()) {
    const parts: Float32Array[] = [];
    for (const shard of slot.shards) {
      assert.ok(shard.grad, `${slot.name}: no gradient`);
      parts.push(await shard.grad.data() as Float32Array);
    }
    const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
    out.set(slot.name, joined);
  }
  return out;
}

async function stateArrays(model: Module): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(await model.stateDict())) {
    out.set(name, await t.data() as Float32Array);
    t.dispose();
  }
  return out;
}

function stats(v: Float32Array): { mean: number; std: number } {
  let s = 0, s2 = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean) };
}

Deno.test("nn AlexNet: the paper's architecture", async (t) => {
  await t.step("parameter shapes and the total 60,965,224", () => {
    const shapes: Record<string, number[]> = alexnetParameterShapes();
    assert.deepEqual({ ...shapes }, {
      "conv1.weight": [96, 3, 11, 11],
      "conv1.bias": [96],
      "conv2.weight": [256, 48, 5, 5],
      "conv2.bias": [256],
      "conv3.weight": [384, 256, 3, 3],
      "conv3.bias": [384],
      "conv4.weight": [384, 192, 3, 3],
      "conv4.bias": [384],
      "conv5.weight": [256, 192, 3, 3],
      "conv5.bias": [256],
      "fc6.weight": [4096, 9216],
      "fc6.bias": [4096],
      "fc7.weight": [4096, 4096],
      "fc7.bias": [4096],
      "fc8.weight": [1000, 4096],
      "fc8.bias": [1000],
    });
    const perLayer = (name: string): number =>
      numel(shapes[`${name}.weight`]) + numel(shapes[`${name}.bias`]);
    const expected: Record<string, number> = {
      conv1: 34944,
      conv2: 307456,
      conv3: 885120,
      conv4: 663936,
      conv5: 442624,
      fc6: 37752832,
      fc7: 16781312,
      fc8: 4097000,
    };
    for (const [name, count] of Object.entries(expected)) assert.equal(perLayer(name), count);
    assert.equal(Object.values(shapes).reduce((n, s) => n + numel(s), 0), 60965224);
  });

  await t.step("every layer's output shape at 227×227", () => {
    assert.deepEqual(alexnetOutputShapes({}, 2), {
      conv1: [2, 96, 55, 55],
      norm1: [2, 96, 55, 55],
      pool1: [2, 96, 27, 27],
      conv2: [2, 256, 27, 27],
      norm2: [2, 256, 27, 27],
      pool2: [2, 256, 13, 13],
      conv3: [2, 384, 13, 13],
      conv4: [2, 384, 13, 13],
      conv5: [2, 256, 13, 13],
      pool5: [2, 256, 6, 6],
      flatten: [2, 9216],
      fc6: [2, 4096],
      drop6: [2, 4096],
      fc7: [2, 4096],
      drop7: [2, 4096],
      fc8: [2, 1000],
    });
  });

  await t.step("scaled variants: 32×32 and 64×64 keep every output ≥ 1", () => {
    const small = alexnetOutputShapes({ width: 1 / 8, inputSize: 32, numClasses: 10 });
    assert.deepEqual(small.conv1, [1, 12, 32, 32]);
    assert.deepEqual(small.pool5, [1, 32, 3, 3]);
    assert.deepEqual(small.fc8, [1, 10]);
    const mid = alexnetOutputShapes({ width: 1 / 4, inputSize: 64 });
    assert.deepEqual(mid.conv1, [1, 24, 32, 32]);
    assert.deepEqual(mid.fc6, [1, 1024]);
    assert.throws(
      () =>
        alexnetOutputShapes({ inputSize: 40, conv1: { kernelSize: 11, stride: 4, padding: 0 } }),
      /does not fit/,
    );
    assert.throws(() => alexnetParameterShapes({ numClasses: 0 }), /numClasses/);
  });
});

Deno.test("nn AlexNet: the full paper net, built once", async (t) => {
  const started = performance.now();
  const net = new AlexNet({ seed: 0 }, gpuA);
  await gpuA.sync();
  const seconds = (performance.now() - started) / 1000;
  console.log(`full AlexNet built in ${seconds.toFixed(1)} s`);

  await t.step("60,965,224 parameters and the summary table", () => {
    assert.equal(net.parameterCount(), 60965224);
    const text = summary(net, [1, 3, 227, 227]);
    assert.match(text, /conv1\s+\[1, 96, 55, 55\]\s+34,944\s+gpu/);
    assert.match(text, /pool5\s+\[1, 256, 6, 6\]\s+0/);
    assert.match(text, /fc6\s+\[1, 4096\]\s+37,752,832/);
    assert.match(text, /Total parameters: 60,965,224/);
    assert.throws(() => summary(net, [1, 3, 224, 224]), /expected input \[N, 3, 227, 227\]/);
  });

  await t.step("initialisation: weights N(0, 0.01²), biases 1 or 0 as section 5 says", async () => {
    const ones = ["conv2", "conv4", "conv5", "fc6", "fc7"];
    for (const [name, p] of net.namedParameters()) {
      const v = await p.data() as Float32Array;
      if (name.endsWith(".bias")) {
        const want = ones.includes(name.split(".")[0]) ? 1 : 0;
        assert.ok(v.every((x) => x === want), `${name} is all ${want}`);
        continue;
      }
      const { mean, std } = stats(v);
      // Tolerances: a few standard errors for the smallest tensor (conv1, 34,848 values).
      assert.ok(Math.abs(std - 0.01) < 2e-4, `${name}: std ${std}`);
      assert.ok(Math.abs(mean) < 2e-4, `${name}: mean ${mean}`);
    }
  });
  net.dispose();
});

// The equivalence holds in both placements of two logical devices of one adapter: sharing one
// GPUDevice (transfers are GPU copies) and two GPUDevices (transfers cross through the host).
const placements = [
  ["one shared GPUDevice", [gpuA, gpuB]],
  ["two GPUDevices", await Device.acquireMany(2, { separateDevices: true })],
] as const;

for (const [placement, [gpuA, gpuB]] of placements) {
  Deno.test(`nn AlexNet: one device and two devices compute the same function (${placement})`, async (t) => {
    const x = randn([4, 3, 32, 32], { device: gpuA });
    const labels = fromTypedArray(new Int32Array([1, 0, 7, 3]), [4], { device: gpuA });

    await t.step("the same seed gives the same weights in either placement", async () => {
      const one = alexnetSmall({ seed: 5 }, gpuA), two = alexnetSmall({ seed: 5 }, [gpuA, gpuB]);
      assert.deepEqual(await stateArrays(one), await stateArrays(two));
      one.dispose();
      two.dispose();
    });

    const one = alexnetSmall({ seed: 1 }, gpuA);
    const two = alexnetSmall({ seed: 2 }, [gpuA, gpuB]);

    await t.step("each tower's parameters live on its device; fc8 on the first", () => {
      const names = two.namedParameters().map(([n]) => n);
      assert.equal(names.length, 7 * 2 * 2 + 2);
      assert.deepEqual(names.slice(0, 4), [
        "conv1.0.weight",
        "conv1.0.bias",
        "conv1.1.weight",
        "conv1.1.bias",
      ]);
      for (const [name, p] of two.namedParameters()) {
        const tower = /^\w+\.(\d)\./.exec(name)?.[1];
        const want = name.startsWith("fc8.") ? gpuA : tower === "1" ? gpuB : gpuA;
        assert.equal(p.device, want, `${name} on ${p.device.label}`);
      }
      const conv2 = two.stateSlots().find((s) => s.name === "conv2.weight")!;
      assert.deepEqual(conv2.shards.map((s) => s.shape), [[16, 6, 5, 5], [16, 6, 5, 5]]);
      assert.deepEqual(one.devices(), [gpuA]);
      assert.deepEqual(two.devices(), [gpuA, gpuB]);
      assert.match(summary(two, [4, 3, 32, 32]), /conv3 .* gpu\d+ \| gpu\d+ {2}conv 3×3/);
    });

    await t.step("loading one net's state dict into the other", async () => {
      const dict = await one.stateDict();
      assert.deepEqual(dict["conv2.weight"].shape, [32, 6, 5, 5]);
      await two.loadStateDict(dict);
      for (const v of Object.values(dict)) v.dispose();
      assert.deepEqual(await stateArrays(two), await stateArrays(one));
    });

    await t.step("eval: equal logits and equal gradients of every parameter", async () => {
      one.eval();
      two.eval();
      const y1 = await one.forward(x), y2 = await two.forward(x);
      assert.equal(y2.device, gpuA);
      assert.deepEqual(y2.shape, [4, 10]);
      const e = relativeError(await y2.data(), await y1.data());
      assert.ok(e < 1e-5, `logits differ by ${e}`);
      await crossEntropy(y1, labels).backward();
      await crossEntropy(y2, labels).backward();
      const g1 = await gradients(one), g2 = await gradients(two);
      let worst = 0;
      for (const [name, g] of g1) {
        const err = relativeError(g2.get(name)!, g);
        assert.ok(err < 1e-5, `${name}: gradients differ by ${err}`);
        worst = Math.max(worst, err);
      }
      console.log(
        `max relative difference: logits ${e.toExponential(2)}, gradients ${
          worst.toExponential(2)
        }`,
      );
      one.zeroGrad();
      two.zeroGrad();
    });

    await t.step("train: the towers draw the same dropout masks as one device", async () => {
      const a = alexnetSmall({ seed: 9 }, gpuA), b = alexnetSmall({ seed: 9 }, [gpuA, gpuB]);
      const ya = await a.forward(x) as Tensor, yb = await b.forward(x) as Tensor;
      const e = relativeError(await yb.data(), await ya.data());
      assert.ok(e < 1e-5, `training logits differ by ${e}`);
      const evaluated = await (await a.eval().forward(x)).data();
      assert.ok(relativeError(evaluated, await ya.data()) > 1e-3, "dropout was active");
      a.dispose();
      b.dispose();
    });

    await t.step("bad inputs and placements fail clearly; one-device nets move", async () => {
      await assert.rejects(
        two.forward(randn([1, 3, 30, 30], { device: gpuA }).withRank(4)),
        /\[N, 3, 32, 32\]/,
      );
      assert.throws(() => new AlexNet({}, [gpuA, gpuB, gpuA]), /one or two devices/);
      await assert.rejects(two.to(gpuA), /cannot move/);
      const moved = await alexnetSmall({ seed: 0 }, gpuA).to(gpuB);
      assert.deepEqual([moved.placement, moved.devices()], [[gpuB], [gpuB]]);
      assert.equal((await moved.eval().forward(x)).device, gpuB);
      moved.dispose();
    });
    one.dispose();
    two.dispose();
  });
}

/**
 * The multi-tensor SGD update: one dispatch over every parameter equals one dispatch per
 * parameter bit for bit (both rules, several groups, odd sizes, forced binding windows, and a
 * forced split over several dispatches) and an f32 evaluation of the rule on the host within an
 * ulp; a NaN in any one gradient leaves every weight and velocity as it was; one dispatch
 * checks and one updates every parameter where the device binds enough buffers, a step splits
 * them as the device's policy says (per device, per binding window); and a state dict taken
 * mid-run resumes exactly.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, StepGuard, type Tensor, tensor } from "../mod.ts";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  MAX_SEGMENTS_PER_DISPATCH,
  segmentsPerDispatch,
  sgdCheckAll,
  type SgdHyperparameters,
  sgdUpdate,
  sgdUpdateAll,
  type SgdUpdateOptions,
} from "../kernels/sgd.ts";
import { SGD } from "../train/sgd.ts";
import { mulberry32 } from "./_reference.ts";

const device = await defaultDevice();

const SIZES = [1, 7, 33, 129, 1027];
const GROUPS: SgdHyperparameters[] = [
  { formulation: "paper", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  { formulation: "pytorch", lr: 0.03, momentum: 0.7, weightDecay: 1e-3 },
  { formulation: "paper", lr: 0.3, momentum: 0, weightDecay: 0.1 },
  { formulation: "pytorch", lr: 0.2, momentum: 0.5, weightDecay: 0 },
];

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** The rule in f32 on the host, one rounding per operation (no fused multiply-add). */
function hostStep(h: SgdHyperparameters, w: Float32Array, v: Float32Array, g: Float32Array) {
  const f = Math.fround, mu = f(h.momentum), lr = f(h.lr);
  for (let i = 0; i < w.length; i++) {
    if (h.formulation === "paper") {
      v[i] = f(f(f(mu * v[i]) - f(f(h.weightDecay * h.lr) * w[i])) - f(lr * g[i]));
      w[i] = f(w[i] + v[i]);
    } else {
      v[i] = f(f(mu * v[i]) + f(g[i] + f(f(h.weightDecay) * w[i])));
      w[i] = f(w[i] - f(lr * v[i]));
    }
  }
}

/** Distance in units in the last place between two f32 values of the same sign. */
function ulps(a: number, b: number): number {
  const bits = (x: number) => new Int32Array(new Float32Array([x]).buffer)[0];
  return Math.abs(bits(a) - bits(b));
}

interface Param {
  n: number;
  h: SgdHyperparameters;
  buffers: GpuBuffer[]; // weight, velocity, grad
}

/** Parameters of every size, spread over the groups, with equal random contents per seed. */
function makeParams(seed: number): Param[] {
  return SIZES.flatMap((n, k) =>
    GROUPS.map((h, gi) => {
      const buffers = [0, 1, 2].map((i) => {
        const b = device.alloc(n * 4);
        device.write(b, randomArray(n, seed + 100 * k + 10 * gi + i, i === 2 ? 3 : 1));
        return b;
      });
      return { n, h, buffers };
    })
  );
}

async function contents(params: Param[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of params) {
    for (const b of p.buffers.slice(0, 2)) {
      out.push(new Float32Array(await device.read(b, 0, p.n * 4)));
    }
  }
  return out;
}

function releaseAll(params: Param[]): void {
  for (const p of params) for (const b of p.buffers) device.release(b);
}

const asParameter = (p: Param) => ({
  weight: p.buffers[0],
  velocity: p.buffers[1],
  grad: p.buffers[2],
  n: p.n,
  hyperparameters: p.h,
});

const LAYOUTS: [string, SgdUpdateOptions][] = [
  ["the device's default split", {}],
  ["as many segments a dispatch as the device binds", { segmentsPerDispatch: 64 }],
  ["forced binding windows", {
    maxBindingBytes: Math.max(device.limits.minStorageBufferOffsetAlignment, 512),
    segmentsPerDispatch: 64,
  }],
  ["one segment a dispatch", { segmentsPerDispatch: 1 }],
];

for (const [layout, options] of LAYOUTS) {
  Deno.test(`one multi-tensor update equals per-parameter updates bit for bit (${layout})`, async () => {
    const together = makeParams(1), apart = makeParams(1);
    const host = await contents(apart);
    const grads = await Promise.all(
      apart.map(async (p) => new Float32Array(await device.read(p.buffers[2], 0, p.n * 4))),
    );
    for (let step = 0; step < 3; step++) {
      if (step === 2) {
        for (const p of [...together, ...apart]) p.h = { ...p.h, lr: p.h.lr / 10 };
      }
      sgdUpdateAll(device, together.map(asParameter), options);
      for (const p of apart) sgdUpdate(device, asParameter(p), p.h);
      apart.forEach((p, i) => hostStep(p.h, host[2 * i], host[2 * i + 1], grads[i]));
    }
    const [got, want] = [await contents(together), await contents(apart)];
    got.forEach((values, i) => {
      assert.deepEqual(
        new Uint32Array(values.buffer),
        new Uint32Array(want[i].buffer),
        `parameter ${i >> 1} ${i & 1 ? "velocity" : "weight"}`,
      );
      values.forEach((x, j) => {
        if (ulps(x, host[i][j]) > 1) {
          assert.fail(`parameter ${i >> 1}[${j}]: GPU ${x}, host f32 ${host[i][j]}`);
        }
      });
    });
    releaseAll(together);
    releaseAll(apart);
  });
}

Deno.test("a NaN in any one gradient, in any dispatch of a split, lowers the flag", async () => {
  const params = makeParams(2);
  const flag = device.alloc(16);
  const check = async (options: SgdUpdateOptions) => {
    device.write(flag, new Uint32Array([1, 0, 0, 0]));
    sgdCheckAll(device, params.map(asParameter), flag, options);
    return new Uint32Array(await device.read(flag, 0, 4))[0];
  };
  for (const [layout, options] of LAYOUTS) {
    assert.equal(await check(options), 1, `${layout}: finite updates lowered the flag`);
    for (const k of [0, 7, params.length - 1]) {
      const p = params[k];
      const g = new Float32Array(await device.read(p.buffers[2], 0, p.n * 4));
      const saved = g[p.n - 1];
      g[p.n - 1] = NaN;
      device.write(p.buffers[2], g);
      assert.equal(await check(options), 0, `${layout}: a NaN in parameter ${k} was missed`);
      g[p.n - 1] = saved;
      device.write(p.buffers[2], g);
    }
  }
  device.release(flag);
  releaseAll(params);
});

Deno.test("a buffer written twice in one update is refused before anything runs", () => {
  const params = makeParams(5), [a, b] = params;
  const twice = [asParameter(a), { ...asParameter(b), velocity: a.buffers[0] }];
  assert.throws(
    () => sgdUpdateAll(device, twice),
    /the velocity of parameter 1 is also the weight of parameter 0/,
  );
  const gradIsWeight = [asParameter(a), { ...asParameter(b), grad: a.buffers[1] }];
  assert.throws(
    () => sgdUpdateAll(device, gradIsWeight),
    /the gradient of parameter 1 is also the velocity of parameter 0/,
  );
  releaseAll(params);
});

/** Names of the SGD dispatches `run` records on `on`, by GPU timestamps. */
async function sgdDispatches(on: Device, run: () => void | Promise<void>): Promise<string[]> {
  await on.sync();
  on.startProfile();
  await run();
  const { rows } = await on.stopProfile();
  return rows.map((r) => r.name).filter((name) => name.startsWith("sgd "));
}

/** Tensors of every size in `SIZES`, each with a gradient, on `on`. */
function parametersWithGrads(on: Device, seed: number): Tensor[] {
  return SIZES.map((n, k) => {
    const p = keep(fromTypedArray(randomArray(n, seed + k), [n], { device: on }));
    p.grad = keep(fromTypedArray(randomArray(n, seed + 50 + k), [n], { device: on }));
    return p;
  });
}

/** Each SGD dispatch's mode and segment count, from its name ("sgd apply 5 segments …"). */
function modesAndSegments(names: string[]): [string, number][] {
  return names.map((name) => {
    const [, mode, segments] = name.split(" ");
    return [mode, Number(segments)];
  });
}

/** What a step over `count` one-window parameters dispatches in `mode`, split as the device does. */
function expectedSplit(mode: string, count: number, perDispatch: number): [string, number][] {
  return Array.from(
    { length: Math.ceil(count / perDispatch) },
    (_, d) => [mode, Math.min(perDispatch, count - d * perDispatch)],
  );
}

Deno.test(
  "where the device binds enough buffers, one dispatch checks and one updates every parameter",
  { ignore: !device.hasTimestamps },
  async () => {
    const params = makeParams(4).slice(0, SIZES.length);
    const flag = device.alloc(16);
    device.write(flag, new Uint32Array([1, 0, 0, 0]));
    const options = { segmentsPerDispatch: SIZES.length };
    const names = await sgdDispatches(device, () => {
      sgdCheckAll(device, params.map(asParameter), flag, options);
      sgdUpdateAll(device, params.map(asParameter), { ...options, guard: flag });
    });
    assert.deepEqual(modesAndSegments(names), [["check", SIZES.length], ["apply", SIZES.length]]);
    device.release(flag);
    releaseAll(params);
  },
);

Deno.test(
  "a guarded SGD step over several groups checks, then updates, in the device's dispatches",
  { ignore: !device.hasTimestamps },
  async () => {
    const params = parametersWithGrads(device, 10);
    const opt = new SGD([
      { params: params.slice(0, 2), lr: 0.1 },
      { params: params.slice(2), lr: 0.01, formulation: "pytorch", weightDecay: 0 },
    ]);
    const guard = new StepGuard(device);
    const loss = keep(tensor([1]));
    const names = await sgdDispatches(device, () => {
      guard.begin(loss, 1);
      opt.step({ guard });
    });
    const perDispatch = segmentsPerDispatch(device);
    assert.deepEqual(modesAndSegments(names), [
      ...expectedSplit("check", SIZES.length, perDispatch),
      ...expectedSplit("apply", SIZES.length, perDispatch),
      // The momentum counts, advanced after every update.
      ["steps", SIZES.length],
    ]);
    assert.equal((await guard.read()).steps, 1);
    loss.dispose();
    guard.dispose();
    opt.dispose();
    for (const p of params) p.dispose();
  },
);

Deno.test(
  "with parameters on two devices, each device updates its own in its own dispatches",
  { ignore: !device.hasTimestamps },
  async () => {
    const other = await Device.acquire({ label: "second" });
    try {
      const mine = parametersWithGrads(device, 20), theirs = parametersWithGrads(other, 30);
      const opt = new SGD({ params: [...mine, ...theirs], lr: 0.1 });
      other.startProfile();
      const names = await sgdDispatches(device, () => void opt.step());
      const { rows } = await other.stopProfile();
      const elsewhere = rows.map((r) => r.name).filter((name) => name.startsWith("sgd "));
      for (const [on, list] of [[device, names], [other, elsewhere]] as const) {
        assert.deepEqual(
          modesAndSegments(list),
          [...expectedSplit("apply", SIZES.length, segmentsPerDispatch(on)), [
            "steps",
            SIZES.length,
          ]],
        );
      }
      opt.dispose();
      for (const p of [...mine, ...theirs]) p.dispose();
    } finally {
      other.destroy();
    }
  },
);

Deno.test(
  "a split over binding windows and segments a dispatch takes the fewest dispatches",
  { ignore: !device.hasTimestamps },
  async () => {
    const params = makeParams(3);
    const align = device.limits.minStorageBufferOffsetAlignment;
    const maxBindingBytes = Math.max(align, 512);
    const windowsOf = (n: number) => Math.ceil((Math.ceil(n / 4) * 16) / maxBindingBytes);
    const segments = params.reduce((sum, p) => sum + windowsOf(p.n), 0);
    const bindable = Math.min(
      Math.floor((device.limits.maxStorageBuffersPerShaderStage - 1) / 3),
      MAX_SEGMENTS_PER_DISPATCH,
    );
    for (const wanted of [1, 2, 7, segments]) {
      const names = await sgdDispatches(
        device,
        () =>
          sgdUpdateAll(device, params.map(asParameter), {
            maxBindingBytes,
            segmentsPerDispatch: wanted,
          }),
      );
      const perDispatch = Math.min(wanted, bindable);
      assert.deepEqual(modesAndSegments(names), expectedSplit("apply", segments, perDispatch));
    }
    releaseAll(params);
  },
);

Deno.test("a NaN in any one parameter's gradient leaves every weight and velocity as it was", async () => {
  const params = parametersWithGrads(device, 90);
  const opt = new SGD([
    { params: params.slice(0, 3), lr: 0.1 },
    { params: params.slice(3), lr: 0.05, formulation: "pytorch" },
  ]);
  const guard = new StepGuard(device);
  const loss = keep(tensor([1]));
  const step = () => {
    guard.begin(loss, 1);
    opt.step({ guard });
  };
  step(); // momentum in every velocity
  const snapshot = async () => {
    const out: number[][] = [];
    for (const p of params) {
      out.push(Array.from(await p.data()), Array.from(await opt.velocity(p)!.data()));
    }
    return out;
  };
  const before = await snapshot();
  for (const [k, p] of params.entries()) {
    const g = await p.grad!.data() as Float32Array;
    g[k % p.size] = NaN;
    p.grad!.dispose();
    p.grad = keep(fromTypedArray(g, [p.size]));
    step();
    assert.deepEqual(
      await snapshot(),
      before,
      `a NaN in parameter ${k}'s gradient changed something`,
    );
    g[k % p.size] = 1;
    p.grad!.dispose();
    p.grad = keep(fromTypedArray(g, [p.size]));
  }
  const s = await guard.read();
  assert.deepEqual([s.steps, s.skipped], [1, params.length]);
  loss.dispose();
  guard.dispose();
  opt.dispose();
  for (const p of params) p.dispose();
});

Deno.test("a state dict taken mid-run resumes every group exactly", async () => {
  const make = () => SIZES.map((n, k) => keep(fromTypedArray(randomArray(n, 40 + k), [n])));
  const groupsOf = (params: Tensor[]) => [
    { params: params.slice(0, 2), names: ["a", "b"], lr: 0.1 },
    {
      params: params.slice(2),
      names: ["c", "d", "e"],
      lr: 0.05,
      formulation: "pytorch" as const,
      momentum: 0.8,
    },
  ];
  const stepWith = (opt: SGD, params: Tensor[], seed: number) => {
    params.forEach((p, k) => {
      p.grad = keep(fromTypedArray(randomArray(p.size, seed + k), [p.size]));
    });
    opt.step();
    opt.zeroGrad();
  };
  const first = make(), second = make();
  const a = new SGD(groupsOf(first));
  stepWith(a, first, 60);
  a.setLearningRate(0.02, 1);
  stepWith(a, first, 70);
  const state = await a.stateDict();
  for (const [p, q] of first.map((p, k) => [p, second[k]] as const)) {
    q.assign(p);
  }
  const b = new SGD(groupsOf(second).map((g) => ({ ...g, lr: 1 })));
  await b.loadStateDict(state);
  stepWith(a, first, 80);
  stepWith(b, second, 80);
  for (let k = 0; k < SIZES.length; k++) {
    assert.deepEqual(await second[k].data(), await first[k].data(), `parameter ${k}`);
    assert.deepEqual(await b.velocity(second[k])!.data(), await a.velocity(first[k])!.data());
  }
  for (const t of Object.values(state.state)) t.dispose();
  a.dispose();
  b.dispose();
  for (const p of [...first, ...second]) p.dispose();
});

/**
 * The Module base class: registration order and dotted names, train/eval, state dicts (round
 * trip, strict and non-strict loading, errors that list every problem and leave the module
 * untouched), moving between devices, parameters outliving tidy scopes, and summary().
 */

import assert from "node:assert/strict";
import { defaultDevice, Device, randn, type Tensor, tidy } from "../mod.ts";
import {
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  Module,
  ReLU,
  Sequential,
  StateDictError,
  summary,
} from "../nn/mod.ts";

const device = await defaultDevice();

class Net extends Module {
  readonly body: Sequential;
  readonly head: Linear;

  constructor() {
    super();
    this.registerParameter("scale", randn([1]));
    this.body = this.registerModule(
      "body",
      new Sequential(
        new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 }),
        new ReLU(),
        new Flatten(),
        new Dropout({ p: 0.5 }),
      ),
    );
    this.head = this.registerModule("head", new Linear({ inFeatures: 12, outFeatures: 2 }));
  }

  forward(x: Tensor): Tensor {
    const h = this.body.forward(x);
    const y = this.head.forward(h as Tensor<[number, number], "f32">);
    return y.mul(this.getParameter("scale"));
  }
}

async function values(m: Module): Promise<Float32Array[]> {
  return await Promise.all(m.parameters().map((p) => p.data() as Promise<Float32Array>));
}

Deno.test("nn Module", async (t) => {
  await t.step("namedParameters: registration order, PyTorch dotted names", () => {
    const net = new Net();
    assert.deepEqual(net.namedParameters().map(([n]) => n), [
      "scale",
      "body.0.weight",
      "body.0.bias",
      "head.weight",
      "head.bias",
    ]);
    assert.equal(net.parameters().length, 5);
    assert.ok(net.parameters().every((p) => p.requiresGrad));
    assert.equal(net.parameterCount(), 1 + 3 * 2 * 9 + 3 + 12 * 2 + 2);
    assert.deepEqual(net.namedModules().map(([n]) => n), [
      "",
      "body",
      "body.0",
      "body.1",
      "body.2",
      "body.3",
      "head",
    ]);
    assert.deepEqual(net.stateSlots().map((s) => s.name), net.namedParameters().map(([n]) => n));
  });

  await t.step("registration rejects bad and duplicate names", () => {
    class Bad extends Module {
      constructor(name: string, twice = false) {
        super();
        this.registerModule(name, new ReLU());
        if (twice) this.registerModule(name, new ReLU());
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    assert.throws(() => new Bad("a.b"), /invalid name/);
    assert.throws(() => new Bad("x", true), /registered twice/);
  });

  await t.step("train() and eval() reach every submodule", async () => {
    const net = new Net();
    assert.equal(net.training, true);
    net.eval();
    assert.ok(net.namedModules().every(([, m]) => !m.training));
    const x = randn([4, 2, 4, 4]);
    const a = await net.forward(x).data(), b = await net.forward(x).data();
    assert.deepEqual(a, b, "eval is deterministic");
    net.train();
    assert.ok(net.namedModules().every(([, m]) => m.training));
  });

  await t.step("parameters outlive tidy scopes; intermediates do not", async () => {
    let net: Net | undefined;
    const y = tidy(() => {
      net = new Net().eval();
      return net.forward(randn([1, 2, 4, 4]));
    });
    assert.ok(net!.parameters().every((p) => !p.disposed));
    assert.equal(y.shape[1], 2);
    await y.backward(randn([1, 2]));
    assert.ok(net!.parameters().every((p) => p.grad !== null));
    net!.zeroGrad();
    assert.ok(net!.parameters().every((p) => p.grad === null));
    net!.dispose();
    assert.ok(net!.parameters().every((p) => p.disposed));
  });

  await t.step("stateDict → loadStateDict round trip", async () => {
    const a = new Net(), b = new Net();
    const dict = await a.stateDict();
    assert.deepEqual(Object.keys(dict), a.namedParameters().map(([n]) => n));
    assert.deepEqual(dict["body.0.weight"].shape, [3, 2, 3, 3]);
    assert.equal(dict["head.bias"].requiresGrad, false, "detached");
    assert.notDeepEqual(await values(a), await values(b));
    const before = b.parameters();
    const result = await b.loadStateDict(dict);
    assert.deepEqual(result, { missing: [], unexpected: [], mismatched: [] });
    assert.deepEqual(await values(a), await values(b));
    assert.ok(b.parameters().every((p, i) => p === before[i]), "loaded in place");
    for (const v of Object.values(dict)) v.dispose();
    assert.ok(a.parameters().every((p) => !p.disposed), "the dict's views are separate handles");
    // A Map of host arrays works too.
    const host = new Map([["scale", { shape: [1], data: new Float32Array([7]) }]]);
    await b.loadStateDict(host, { strict: false });
    assert.deepEqual(await b.getParameter("scale").data(), new Float32Array([7]));
  });

  await t.step(
    "strict load lists missing, unexpected and mis-shaped names; no change",
    async () => {
      const net = new Net();
      const before = await values(net);
      const dict = await new Net().stateDict();
      delete dict["head.bias"];
      dict["extra.weight"] = randn([2]);
      dict["body.0.weight"] = randn([3, 2, 2, 2]);
      await assert.rejects(net.loadStateDict(dict), (e: unknown) => {
        assert.ok(e instanceof StateDictError);
        assert.deepEqual(e.missing, ["head.bias"]);
        assert.deepEqual(e.unexpected, ["extra.weight"]);
        assert.deepEqual(e.mismatched, [{
          name: "body.0.weight",
          expected: [3, 2, 3, 3],
          actual: [3, 2, 2, 2],
        }]);
        assert.match(e.message, /missing: head\.bias/);
        assert.match(e.message, /unexpected: extra\.weight/);
        assert.match(e.message, /body\.0\.weight \(module \[3,2,3,3\], dict \[3,2,2,2\]\)/);
        return true;
      });
      assert.deepEqual(await values(net), before, "untouched");
      // Non-strict: missing and unexpected are reported, a wrong shape still fails.
      await assert.rejects(net.loadStateDict(dict, { strict: false }), StateDictError);
      dict["body.0.weight"] = randn([3, 2, 3, 3]);
      const result = await net.loadStateDict(dict, { strict: false });
      assert.deepEqual(result, {
        missing: ["head.bias"],
        unexpected: ["extra.weight"],
        mismatched: [],
      });
      assert.deepEqual((await values(net))[4], before[4], "head.bias kept");
    },
  );

  await t.step("to(device) moves every parameter and the module still runs", async () => {
    const other = await Device.acquire({ label: "other" });
    const net = new Net().eval();
    const x = randn([2, 2, 4, 4]);
    const expected = await net.forward(x).data();
    await net.to(other);
    assert.ok(net.parameters().every((p) => p.device === other && p.requiresGrad));
    assert.deepEqual(net.devices(), [other]);
    const y = net.forward(await x.to(other));
    assert.equal(y.device, other);
    assert.deepEqual(await y.data(), expected);
    await net.to(device);
    assert.deepEqual(net.devices(), [device]);
    // A frozen parameter stays frozen across devices (it used to come back trainable, so an
    // optimiser updated it after a move), as PyTorch's requires_grad does.
    const [[frozenName, frozen]] = net.namedParameters();
    frozen.requiresGrad = false;
    await net.to(other);
    for (const [name, p] of net.namedParameters()) {
      assert.equal(p.requiresGrad, name !== frozenName, `${name} after to()`);
    }
    await net.to(device);
    await device.sync();
    other.destroy();
  });

  await t.step("summary of a Sequential", () => {
    const net = new Sequential({
      conv: new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1 }),
      relu: new ReLU(),
      flat: new Flatten(),
      fc: new Linear({ inFeatures: 8 * 4 * 4, outFeatures: 10 }),
    });
    const text = summary(net, [2, 3, 4, 4]);
    assert.match(text, /conv\s+\[2, 8, 4, 4\]\s+224\s+gpu\d+/);
    assert.match(text, /relu\s+\[2, 8, 4, 4\]\s+0\s+-/);
    assert.match(text, /fc\s+\[2, 10\]\s+1,290/);
    assert.match(text, /Total parameters: 1,514$/);
  });
});

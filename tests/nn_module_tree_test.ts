/**
 * Module trees as a PyTorch user builds them: a module shared under two names (a tied layer)
 * counts once in parameters(), namedModules() and the optimiser, and keeps both state-dict
 * names; ModuleList and ModuleDict name their modules as PyTorch's containers do; a layer
 * with no inputs initialises as PyTorch's.
 */

import assert from "node:assert/strict";
import { defaultDevice, type Tensor, tensor, tidy, zeros } from "../mod.ts";
import {
  BatchNorm1d,
  Conv2d,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  ReLU,
  summary,
} from "../nn/mod.ts";
import { SGD } from "../train/mod.ts";

type Rows = Tensor<[number, number], "f32">;

class Tied extends Module {
  a = this.registerModule("a", new Linear({ inFeatures: 2, outFeatures: 2 }));
  b = this.registerModule("b", this.a); // the same layer, applied twice
  forward(x: Rows): Tensor {
    return this.b.forward(this.a.forward(x));
  }
}

Deno.test("a module registered under two names counts once, as PyTorch's named_parameters", async () => {
  await defaultDevice();
  const net = new Tied();
  // They were listed twice: parameterCount() 12, and SGD(net.parameters()) threw
  // "SGD: parameter group0.param2 is in two groups".
  assert.deepEqual(net.namedParameters().map(([name]) => name), ["a.weight", "a.bias"]);
  assert.equal(net.parameterCount(), 6);
  assert.deepEqual(net.namedModules().map(([name]) => name), ["", "a"]);
  // The state dict keeps every name, as PyTorch's state_dict does.
  const state = await net.stateDict();
  assert.deepEqual(Object.keys(state), ["a.weight", "a.bias", "b.weight", "b.bias"]);
  Object.values(state).forEach((t) => t.dispose());
  const optimizer = new SGD({ params: net.parameters(), lr: 1, momentum: 0, weightDecay: 0 });
  await tidy(async () => await net.forward(tensor([[1, 1]])).sum().backward());
  const [before, grad] = [await net.a.weight.data(), await net.a.weight.grad!.data()];
  optimizer.step(); // once, with the gradient of both uses
  const after = await net.a.weight.data();
  after.forEach((v, i) => assert.ok(Math.abs(v - (before[i] - grad[i])) < 1e-6));
  assert.match(summary(net, [1, 2]), /Total parameters: 6\n/);
  net.dispose();
});

Deno.test("ModuleList and ModuleDict: PyTorch's names, iteration, no forward of their own", async () => {
  await defaultDevice();
  class Net extends Module {
    blocks = this.registerModule(
      "blocks",
      new ModuleList<Module>([0, 1].map(() => new Linear({ inFeatures: 3, outFeatures: 3 }))),
    );
    heads = this.registerModule(
      "heads",
      new ModuleDict<Module>({
        age: new Linear({ inFeatures: 3, outFeatures: 1 }),
        norm: new BatchNorm1d({ numFeatures: 3 }),
      }),
    );
    forward(x: Rows): Tensor {
      let y = x;
      for (const block of this.blocks) {
        if (block instanceof Linear) y = block.forward(y).relu() as Rows;
      }
      return (this.heads.get("age") as Linear).forward(y);
    }
  }
  const net = new Net();
  net.blocks.append(new ReLU());
  assert.equal(net.blocks.length, 3);
  assert.ok(net.blocks.at(-1) instanceof ReLU);
  assert.throws(() => net.blocks.at(3), /ModuleList: no module at index 3 of 3/);
  assert.deepEqual(Object.keys(await net.stateDict()), [
    "blocks.0.weight",
    "blocks.0.bias",
    "blocks.1.weight",
    "blocks.1.bias",
    "heads.age.weight",
    "heads.age.bias",
    "heads.norm.weight",
    "heads.norm.bias",
    "heads.norm.running_mean",
    "heads.norm.running_var",
    "heads.norm.num_batches_tracked",
  ]);
  assert.deepEqual(net.heads.keys(), ["age", "norm"]);
  assert.throws(() => net.heads.get("kind"), /ModuleDict: no module "kind" \(keys: age, norm\)/);
  assert.throws(() => net.heads.set("age", new ReLU()), /"age" is registered twice/);
  assert.throws(() => net.blocks.forward(tensor([1])), /ModuleList has no forward/);
  net.eval();
  assert.ok(!net.heads.get("norm").training);
  assert.deepEqual(net.forward(tensor([[1, 2, 3]])).shape, [1, 1]);
  net.dispose();
});

Deno.test("a Linear or Conv2d with no inputs gets PyTorch's zero bias, not NaN", async () => {
  await defaultDevice();
  // ±1/√fan_in with fan_in 0 drew NaN, so the layer's output was NaN where PyTorch's is 0.
  const linear = new Linear({ inFeatures: 0, outFeatures: 2 });
  assert.deepEqual(await linear.bias!.toArray(), [0, 0]);
  assert.deepEqual(await linear.forward(zeros([3, 0])).toArray(), [[0, 0], [0, 0], [0, 0]]);
  const conv = new Conv2d({ inChannels: 0, outChannels: 2, kernelSize: 1 });
  assert.deepEqual(await conv.bias!.toArray(), [0, 0]);
  conv.dispose();
  linear.dispose();
});

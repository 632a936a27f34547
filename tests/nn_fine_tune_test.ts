/**
 * Fine-tuning with a new class count, both PyTorch ways: load the checkpoint into the network
 * it came from and replace the head (`Module.replaceModule`, `model.fc = nn.Linear(…)`), or build
 * the new network and load with `ignoreMismatchedSizes` (Hugging Face's `ignore_mismatched_sizes`):
 * the replaced network against float64 with every gradient by central differences, the state
 * dict's names, shapes and order, the containers (Sequential, ModuleList, ResNet, VGG, a module
 * with a field), the loads from a dictionary and a file, and the errors.
 */

import assert from "node:assert/strict";
import { defaultDevice, randn, type Shape, type Tensor } from "../mod.ts";
import {
  AlexNet,
  CheckpointError,
  Linear,
  loadCheckpoint,
  Module,
  ModuleList,
  ReLU,
  ResNet,
  saveCheckpoint,
  Sequential,
  StateDictError,
  VGG,
} from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { check, randF32, upload } from "./_layer_check.ts";

/** A Linear with reproducible weights drawn from `seed`. */
function linear(inFeatures: number, outFeatures: number, seed: number): Linear {
  return new Linear({
    inFeatures,
    outFeatures,
    init: (name, shape) => upload(randF32([...shape], seed + name.length, 0.5)),
  });
}

/** A small "pretrained" classifier: 5 → 8, ReLU, 8 → `classes`. */
function classifier(classes: number, seed: number): Sequential {
  return new Sequential(linear(5, 8, seed), new ReLU(), linear(8, classes, seed + 7));
}

/** Every state dict entry's values on the host, by name. */
async function values(model: Module): Promise<Map<string, number[]>> {
  const dict = await model.stateDict();
  const out = new Map<string, number[]>();
  for (const [name, t] of Object.entries(dict)) {
    out.set(name, Array.from(await t.data()));
    t.dispose();
  }
  return out;
}

Deno.test("replaceModule: a new head, against float64 with its gradients", async () => {
  await defaultDevice();
  const net = classifier(1000, 1);
  const old = net.replaceModule("2", linear(8, 3, 40));
  assert.equal((old as Linear).outFeatures, 1000);
  old.dispose();
  const names = net.namedParameters().map(([name, p]) => `${name} [${p.shape}]`);
  assert.deepEqual(names, ["0.weight [8,5]", "0.bias [8]", "2.weight [3,8]", "2.bias [3]"]);
  assert.deepEqual(net.outputShape([4, 5]), [4, 3]);
  await check({
    label: "Sequential with a replaced head",
    layer: net,
    input: randF32([4, 5], 9),
    reference: (x, [w0, b0, w2, b2]) => ref.linear(ref.relu(ref.linear(x, w0, b0)), w2, b2),
  });
  net.dispose();
});

Deno.test("replaceModule: nested paths and the containers keep their order", async () => {
  await defaultDevice();
  // Sequential in Sequential: "1.2" is the inner one's head.
  const outer = new Sequential(new ReLU(), classifier(10, 2));
  outer.replaceModule("1.2", linear(8, 4, 3)).dispose();
  assert.deepEqual([...(await values(outer)).keys()], [
    "1.0.weight",
    "1.0.bias",
    "1.2.weight",
    "1.2.bias",
  ]);
  const y = outer.forward(randn([2, 5]));
  assert.deepEqual([...y.shape], [2, 4]);

  // A ModuleList, iterated by its parent's forward.
  const list = new ModuleList([linear(3, 3, 4), linear(3, 3, 5)]);
  const replacement = linear(3, 3, 6);
  list.replaceModule("1", replacement).dispose();
  assert.equal(list.at(1), replacement);
  assert.equal([...list][1], replacement);

  // A user's module that keeps its head in a field, as PyTorch's `self.fc`.
  class Net extends Module {
    body = this.registerModule("body", linear(5, 8, 7));
    fc = this.registerModule("fc", linear(8, 10, 8));
    forward(x: Tensor<Shape, "f32">): Tensor {
      return this.fc.forward(this.body.forward(x.withRank(2)).relu());
    }
  }
  const net = new Net();
  const head = linear(8, 2, 9);
  net.replaceModule("fc", head).dispose();
  assert.equal(net.fc, head);
  assert.deepEqual([...net.forward(randn([3, 5])).shape], [3, 2]);

  // One that keeps it where the base class cannot see: a clear error, nothing replaced.
  class Hidden extends Module {
    #fc = this.registerModule("fc", linear(8, 10, 10));
    forward(x: Tensor<Shape, "f32">): Tensor {
      return this.#fc.forward(x.withRank(2));
    }
  }
  const hidden = new Hidden();
  assert.throws(
    () => hidden.replaceModule("fc", linear(8, 2, 11)),
    /Hidden: no property holds the submodule being replaced, so its forward would go on using it; override swapChild/,
  );
  assert.deepEqual(hidden.namedParameters().map(([, p]) => p.shape[0]), [10, 10]);
  assert.throws(
    () => outer.replaceModule("1.5", new ReLU()),
    /Sequential.replaceModule: no submodule "1.5" \("1" holds: 0, 1, 2\)/,
  );
  assert.throws(
    () => outer.replaceModule("fc", new ReLU()),
    /Sequential.replaceModule: no submodule "fc" \(the children are: 0, 1\)/,
  );
  for (const m of [outer, list, net, hidden]) m.dispose();
});

Deno.test("replaceModule: ResNet's fc and VGG's classifier.6, as torchvision fine-tuning", async () => {
  await defaultDevice();
  const resnet = new ResNet({
    block: "basic",
    layers: [1, 1, 1, 1],
    numClasses: 1000,
    stem: "cifar",
    width: 1 / 16,
    seed: 0,
  });
  const before = [...(await values(resnet)).keys()];
  assert.equal(resnet.config.numClasses, 1000);
  resnet.replaceModule("fc", new Linear({ inFeatures: 32, outFeatures: 10 })).dispose();
  assert.equal(resnet.config.numClasses, 10, "config.numClasses follows the new head");
  const after = await values(resnet);
  assert.deepEqual([...after.keys()], before, "the state dict's names and order");
  assert.equal(after.get("fc.weight")!.length, 10 * 32);
  assert.deepEqual([...resnet.forward(randn([2, 3, 16, 16])).shape], [2, 10]);
  assert.deepEqual(resnet.outputShape([2, 3, 16, 16]), [2, 10]);
  // Inside a block: its main path runs the replacement.
  let calls = 0;
  class CountingReLU extends ReLU {
    override forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
      calls++;
      return super.forward(x);
    }
  }
  assert.ok(resnet.replaceModule("layer1.0.relu", new CountingReLU()) instanceof ReLU);
  resnet.forward(randn([1, 3, 16, 16])).dispose();
  assert.equal(calls, 1, "the main path runs the replacement (after bn1)");

  const vgg = new VGG({
    layers: [4, "M", 8, "M"],
    numClasses: 1000,
    poolSize: 1,
    hidden: 16,
    seed: 0,
  });
  vgg.replaceModule("classifier.6", new Linear({ inFeatures: 16, outFeatures: 7 })).dispose();
  assert.deepEqual([...vgg.forward(randn([1, 3, 8, 8])).shape], [1, 7]);
  assert.equal(vgg.config.numClasses, 7);
  // Replaced inside the classifier, not through the VGG: the same.
  const classifierOfVgg = vgg.namedModules().find(([name]) => name === "classifier")![1];
  classifierOfVgg.replaceModule("6", new Linear({ inFeatures: 16, outFeatures: 5 })).dispose();
  assert.equal(vgg.config.numClasses, 5);
  const alexnet = new AlexNet({ width: 1 / 16, inputSize: 32, numClasses: 1000, seed: 0 });
  alexnet.replaceModule("fc8", new Linear({ inFeatures: 256, outFeatures: 3 })).dispose();
  assert.equal(alexnet.config.numClasses, 3);
  assert.deepEqual([...(await alexnet.forward(randn([1, 3, 32, 32]))).shape], [1, 3]);
  alexnet.dispose();
  resnet.dispose();
  vgg.dispose();
});

Deno.test("loadStateDict ignoreMismatchedSizes: the backbone loads, the new head keeps its values", async () => {
  await defaultDevice();
  const pretrained = classifier(1000, 20);
  const dict = await pretrained.stateDict();
  const model = classifier(3, 30);
  const head = await values(model);
  await assert.rejects(
    () => model.loadStateDict(dict),
    (e: Error) =>
      e instanceof StateDictError &&
      /wrong shape: 2.weight \(module \[3,8\], dict \[1000,8\]\), 2.bias \(module \[3\], dict \[1000\]\)/
        .test(e.message),
  );
  const result = await model.loadStateDict(dict, { ignoreMismatchedSizes: true });
  assert.deepEqual(result.mismatched.map((m) => m.name), ["2.weight", "2.bias"]);
  assert.deepEqual(result.mismatched[0], { name: "2.weight", expected: [3, 8], actual: [1000, 8] });
  const loaded = await values(model);
  const source = await values(pretrained);
  assert.deepEqual(loaded.get("0.weight"), source.get("0.weight"), "the backbone is loaded");
  assert.deepEqual(loaded.get("2.weight"), head.get("2.weight"), "the head keeps its values");
  // Strictness is unchanged: a missing name is still an error.
  const partial = { ...dict };
  delete partial["0.bias"];
  await assert.rejects(
    () => model.loadStateDict(partial, { ignoreMismatchedSizes: true }),
    /missing: 0.bias/,
  );

  // The same from a checkpoint file.
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveCheckpoint(path, pretrained);
  const fresh = classifier(3, 50);
  await assert.rejects(() => loadCheckpoint(path, fresh), CheckpointError);
  await loadCheckpoint(path, fresh, { ignoreMismatchedSizes: true });
  const fromFile = await values(fresh);
  assert.deepEqual(fromFile.get("0.bias"), source.get("0.bias"));
  assert.equal(fromFile.get("2.bias")!.length, 3);
  await Deno.remove(path);
  for (const t of Object.values(dict)) t.dispose();
  for (const m of [pretrained, model, fresh]) m.dispose();
});

/**
 * `nn/` and `train/` as a JavaScript caller without the type checker meets them: an unknown
 * option key (a typo, PyTorch's snake_case name) in a layer's config, an optimiser's parameter
 * group, a data loader's or a trainer's options is a one-line `TypeError` naming the class and
 * the nearest name (the one mechanism of `tensor/options.ts`), as PyTorch raises on an unknown
 * keyword; a count given as a string, a fraction or a negative number is named where it is
 * given, not as a tensor shape deep in a kernel; a submodule that is not a `Module` is named.
 */

import assert from "node:assert/strict";
import { defaultDevice, tensor } from "../mod.ts";
import {
  AvgPool2d,
  BatchNorm2d,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  GroupNorm,
  init,
  LayerNorm,
  Linear,
  MaxPool2d,
  ModuleDict,
  ModuleList,
  ReLU,
  resnet18,
  Sequential,
  Upsample,
  VGG,
} from "../nn/mod.ts";
import {
  Adagrad,
  Adam,
  AdamW,
  CosineAnnealingLR,
  CyclicLR,
  DataLoader,
  evaluate,
  OneCycleLR,
  ReduceLROnPlateau,
  RMSprop,
  SGD,
  StepLR,
  syntheticSplits,
  Trainer,
} from "../train/mod.ts";
import { decodeSafetensors, encodeSafetensors } from "../nn/safetensors.ts";
import { requireCount } from "../tensor/options.ts";
import { throwsLine, type Untyped } from "./_throws_line.ts";

Deno.test("nn layers refuse unknown options and bad counts where they are given", async () => {
  await defaultDevice();
  const unknown: [() => unknown, RegExp][] = [
    [
      () =>
        new Conv2d(
          { inChannels: 3, outChannels: 4, kernelSize: 3, padding_mode: "zeros" } as Untyped,
        ),
      /^Conv2d: unknown option "padding_mode" \(did you mean "paddingMode"\?\)$/,
    ],
    [
      () => new Linear({ inFeatures: 2, outFeatures: 3, bais: false } as Untyped),
      /^Linear: unknown option "bais" \(did you mean "bias"\?\)$/,
    ],
    [
      () => new MaxPool2d({ kernelSize: 2, ceil_mode: true } as Untyped),
      /^MaxPool2d: unknown option "ceil_mode" \(did you mean "ceilMode"\?\)$/,
    ],
    [
      () => new AvgPool2d({ kernelSize: 2, countIncludePad: false, strides: 2 } as Untyped),
      /^AvgPool2d: unknown option "strides" \(did you mean "stride"\?\)$/,
    ],
    [
      () => new BatchNorm2d({ numFeatures: 4, track_running_stats: false } as Untyped),
      /^BatchNorm: unknown option "track_running_stats" \(did you mean "trackRunningStats"\?\)$/,
    ],
    [
      () => new GroupNorm({ numGroups: 2, numChannels: 4, epsilon: 1e-5 } as Untyped),
      /^GroupNorm: unknown option "epsilon" \(did you mean "eps"\?\)$/,
    ],
    [
      () => new LayerNorm({ normalizedShape: [4], elementwise_affine: true } as Untyped),
      /^LayerNorm: unknown option "elementwise_affine"/,
    ],
    [() => new Dropout({ rate: 0.5 } as Untyped), /^Dropout: unknown option "rate"/],
    [
      () => new Upsample({ scaleFactor: 2, mdoe: "nearest" } as Untyped),
      /^Upsample: unknown option "mdoe" \(did you mean "mode"\?\)$/,
    ],
    [
      () => resnet18({ num_classes: 10 } as Untyped),
      /^ResNet: unknown option "num_classes" \(did you mean "numClasses"\?\)$/,
    ],
    [
      () => new VGG({ layers: [1, 1, 1, 1, 1], numClass: 10 } as Untyped),
      /^VGG: unknown option "numClass" \(did you mean "numClasses"\?\)$/,
    ],
    [() => new Linear(undefined as Untyped), /^Linear: options must be an object/],
  ];
  for (const [make, pattern] of unknown) throwsLine(make, TypeError, pattern);

  const counts: [() => unknown, RegExp][] = [
    [
      () => new Linear({ inFeatures: "3", outFeatures: 2 } as Untyped),
      /^Linear: inFeatures must be a non-negative integer, got the string "3"$/,
    ],
    [
      () => new Linear({ inFeatures: 3, outFeatures: -1 }),
      /^Linear: outFeatures must be a non-negative integer, got -1$/,
    ],
    [
      () => new Conv2d({ inChannels: 2.5, outChannels: 2, kernelSize: 3 }),
      /^Conv2d: inChannels must be a non-negative integer, got 2.5$/,
    ],
    [
      () => new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: "3" } as Untyped),
      /^Conv2d: kernelSize must be a positive integer \(or a pair of them\), got the string "3"$/,
    ],
    [
      () => new Conv1d({ inChannels: 3, outChannels: NaN, kernelSize: 3 }),
      /^Conv1d: outChannels must be a non-negative integer, got NaN$/,
    ],
    [
      () => new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: 3, groups: 0 }),
      /^ConvTranspose2d: groups must be a positive integer, got 0$/,
    ],
    [
      () => new MaxPool2d({ kernelSize: "2" } as Untyped),
      /^MaxPool2d: kernelSize must be a positive integer \(or a pair of them\), got the string "2"$/,
    ],
    [
      () => new BatchNorm2d({ numFeatures: "4" } as Untyped),
      /^BatchNorm2d: numFeatures must be a positive integer, got the string "4"$/,
    ],
    [
      () => new GroupNorm({ numGroups: 1.5, numChannels: 3 }),
      /^GroupNorm: numGroups must be a positive integer, got 1.5$/,
    ],
  ];
  for (const [make, pattern] of counts) throwsLine(make, RangeError, pattern);
  throwsLine(
    () => new BatchNorm2d({ numFeatures: 4, eps: "1e-5" } as Untyped),
    TypeError,
    /^BatchNorm2d: eps must be a number, got the string "1e-5"$/,
  );
  throwsLine(
    () => new BatchNorm2d({ numFeatures: 4, affine: "no" } as Untyped),
    TypeError,
    /^BatchNorm2d: affine must be true or false, got the string "no"$/,
  );
  throwsLine(
    () => new Dropout({ p: "0.5" } as Untyped),
    TypeError,
    /^Dropout: p must be a number, got the string "0.5"$/,
  );
});

Deno.test("containers hold only modules", async () => {
  await defaultDevice();
  throwsLine(
    () => new Sequential(ReLU as Untyped),
    TypeError,
    /^Sequential: submodule "0" must be a Module, got the function ReLU$/,
  );
  throwsLine(
    () => new Sequential(3 as Untyped),
    TypeError,
    /^Sequential: submodule "0" must be a Module, got the number 3$/,
  );
  throwsLine(
    () => new Sequential({ relu: new ReLU(), head: "linear" } as Untyped),
    TypeError,
    /^Sequential: submodule "head" must be a Module, got the string "linear"$/,
  );
  throwsLine(
    () => new ModuleList([new ReLU(), null] as Untyped),
    TypeError,
    /^ModuleList: submodule "1" must be a Module, got null$/,
  );
  throwsLine(
    () => new ModuleDict({ a: {} } as Untyped),
    TypeError,
    /^ModuleDict: submodule "a" must be a Module, got an object with keys \(none\)$/,
  );
  // What they take still works: layers, or one object naming them.
  assert.deepEqual(new Sequential({ a: new ReLU() }).namedModules().map(([n]) => n), ["", "a"]);
  assert.equal(new Sequential(new ReLU(), new ReLU()).layers.length, 2);
});

Deno.test("optimisers refuse unknown group options, as torch.optim does", async () => {
  await defaultDevice();
  const w = tensor([1, 2], { requiresGrad: true }), b = tensor([3], { requiresGrad: true });
  const cases: [() => unknown, RegExp][] = [
    [
      () => new SGD({ params: [w], lr: 0.1, weight_decay: 0 } as Untyped),
      /^SGD: unknown option "weight_decay" \(did you mean "weightDecay"\?\)$/,
    ],
    [
      () =>
        new SGD([{ params: [w], lr: 0.1 }, { params: [b], lr: 0.1, nesterof: true }] as Untyped),
      /^SGD: group 1: unknown option "nesterof" \(did you mean "nesterov"\?\)$/,
    ],
    [
      () => new Adam({ params: [w], lr: 0.1, beta: [0.9, 0.99] } as Untyped),
      /^Adam: unknown option "beta" \(did you mean "betas"\?\)$/,
    ],
    [
      () => new AdamW({ params: [w], amsGrad: true } as Untyped),
      /^AdamW: unknown option "amsGrad" \(did you mean "amsgrad"\?\)$/,
    ],
    [
      () => new RMSprop({ params: [w], centred: true } as Untyped),
      /^RMSprop: unknown option "centred" \(did you mean "centered"\?\)$/,
    ],
    [
      () => new Adagrad({ params: [w], lr_decay: 0.1 } as Untyped),
      /^Adagrad: unknown option "lr_decay" \(did you mean "lrDecay"\?\)$/,
    ],
    [
      // SGD's momentum given to Adam: an option of another optimiser.
      () => new Adam({ params: [w], momentum: 0.9 } as Untyped),
      /^Adam: unknown option "momentum"/,
    ],
    [
      () => new SGD({ params: w, lr: 0.1 } as Untyped),
      /^SGD: group 0's params must be an array of tensors \(model\.parameters\(\)\), got a Tensor \[2\]$/,
    ],
  ];
  for (const [make, pattern] of cases) throwsLine(make, TypeError, pattern);
  const sgd = new SGD({ params: [w], lr: 0.1 });
  throwsLine(
    () => sgd.addParamGroup({ params: [b], lr: 0.1, dampning: 0 } as Untyped),
    TypeError,
    /^SGD\.addParamGroup: group 1: unknown option "dampning" \(did you mean "dampening"\?\)$/,
  );
  assert.equal(sgd.paramGroups.length, 1, "a refused group is not added");
  const adam = new Adam({ params: [w] });
  throwsLine(
    () => adam.addParamGroup({ params: [b], eps_: 1e-8 } as Untyped),
    TypeError,
    /^Adam\.addParamGroup: group 1: unknown option "eps_" \(did you mean "eps"\?\)$/,
  );
  for (const o of [sgd, adam]) o.dispose();
  w.dispose();
  b.dispose();
});

Deno.test("data loaders, evaluate and the trainer refuse unknown options", async () => {
  await defaultDevice();
  const { train, val } = syntheticSplits({ trainSize: 8, valSize: 8, size: 8, classes: 2 });
  throwsLine(
    () => new DataLoader(train, { batchSize: 4, drop_last: true } as Untyped),
    TypeError,
    /^DataLoader: unknown option "drop_last" \(did you mean "dropLast"\?\)$/,
  );
  throwsLine(
    () => new DataLoader(train, { batchSize: 4, augment: { flipp: true } } as Untyped),
    TypeError,
    /^DataLoader: augment: unknown option "flipp" \(did you mean "flip"\?\)$/,
  );
  throwsLine(
    () => new DataLoader(train, { batchSize: 4, shuffle: "yes" } as Untyped),
    TypeError,
    /^DataLoader: shuffle must be true or false, got the string "yes"$/,
  );
  throwsLine(
    () => new DataLoader(train, { batchSize: 4, crops: "centre" } as Untyped),
    RangeError,
    /^DataLoader: crops must be "random", "center" or "ten", got the string "centre"$/,
  );
  const model = new Sequential(new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 2 }));
  await assert.rejects(
    evaluate(model, val, { batch_size: 4 } as Untyped),
    /^TypeError: evaluate: unknown option "batch_size" \(did you mean "batchSize"\?\)$/,
  );
  const optimizer = new SGD({ params: model.parameters(), lr: 0.1 });
  throwsLine(
    () =>
      new Trainer({
        model,
        optimizer,
        trainData: train,
        epochs: 1,
        batchSize: 4,
        valdata: val,
      } as Untyped),
    TypeError,
    /^Trainer: unknown option "valdata" \(did you mean "valData"\?\)$/,
  );
  optimizer.dispose();
});

Deno.test("learning-rate schedulers refuse unknown options", async () => {
  await defaultDevice();
  const w = tensor([1], { requiresGrad: true });
  const sgd = new SGD({ params: [w], lr: 0.1 });
  const cases: [() => unknown, RegExp][] = [
    [
      () => new StepLR(sgd, { step_size: 2 } as Untyped),
      /^StepLR: unknown option "step_size" \(did you mean "stepSize"\?\)$/,
    ],
    [
      () => new CosineAnnealingLR(sgd, { tMax: 4, eta_min: 0 } as Untyped),
      /^CosineAnnealingLR: unknown option "eta_min" \(did you mean "etaMin"\?\)$/,
    ],
    [
      () => new ReduceLROnPlateau(sgd, { patience: 2, min_lr: 0 } as Untyped),
      /^ReduceLROnPlateau: unknown option "min_lr" \(did you mean "minLr"\?\)$/,
    ],
    [
      () => new CyclicLR(sgd, { baseLr: 0.01, maxLr: 0.1, step_size_up: 4 } as Untyped),
      /^CyclicLR: unknown option "step_size_up" \(did you mean "stepSizeUp"\?\)$/,
    ],
    [
      () => new OneCycleLR(sgd, { maxLr: 0.1, totalSteps: 8, pct_start: 0.3 } as Untyped),
      /^OneCycleLR: unknown option "pct_start" \(did you mean "pctStart"\?\)$/,
    ],
  ];
  for (const [make, pattern] of cases) throwsLine(make, TypeError, pattern);
  sgd.dispose();
  w.dispose();
});

Deno.test("state dicts, files and init functions refuse unknown options", async () => {
  await defaultDevice();
  const layer = new Linear({ inFeatures: 2, outFeatures: 2 });
  await assert.rejects(
    layer.loadStateDict({}, { stict: false } as Untyped),
    /^TypeError: Module\.loadStateDict: unknown option "stict" \(did you mean "strict"\?\)$/,
  );
  const bytes = encodeSafetensors({});
  throwsLine(
    () => decodeSafetensors(bytes, { maxHeader: 1 } as Untyped),
    TypeError,
    /^decodeSafetensors: unknown option "maxHeader" \(did you mean "maxHeaderBytes"\?\)$/,
  );
  const w = tensor([[0, 0], [0, 0]]);
  throwsLine(
    () => init.kaimingUniform(w, { nonLinearity: "relu" } as Untyped),
    TypeError,
    /^kaimingUniform: unknown option "nonLinearity" \(did you mean "nonlinearity"\?\)$/,
  );
  throwsLine(
    () => init.truncNormal(w, { sd: 1 } as Untyped),
    TypeError,
    /^truncNormal: unknown option "sd"/,
  );
  w.dispose();
});

Deno.test("requireCount names the option and the value", () => {
  requireCount("op", "n", 3);
  requireCount("op", "n", 0, 0);
  throwsLine(
    () => requireCount("op", "n", 0),
    RangeError,
    /^op: n must be a positive integer, got 0$/,
  );
  throwsLine(
    () => requireCount("op", "n", "2", 0),
    RangeError,
    /^op: n must be a non-negative integer, got the string "2"$/,
  );
  throwsLine(() => requireCount("op", "n", undefined), RangeError, /got undefined$/);
});

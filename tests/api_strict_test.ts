/**
 * The tensor API as a JavaScript caller without the type checker meets it: nothing it is given
 * is silently ignored. Unknown option keys (typos, PyTorch's snake_case names), options where
 * the API is positional, a dtype a creation function cannot make, sizes and axes that are not
 * integers, a number or an array where a tensor belongs, operands on two devices: each is a
 * one-line error naming the op and the problem. And what PyTorch accepts works: `dtype: "i32"`
 * in `zeros`, `ones`, `full`, `arange`; an i32 operand with an f32 one, promoted to f32.
 */

import assert from "node:assert/strict";
import {
  add,
  arange,
  avgPool2d,
  batchNorm,
  bucketize,
  clipGradNormAll,
  concat,
  conv2d,
  convTranspose2d,
  crossEntropy,
  defaultDevice,
  Device,
  diff,
  dropout,
  eye,
  fromTypedArray,
  full,
  fullLike,
  Generator,
  interpolate,
  layerNorm,
  leakyRelu,
  maxPool2d,
  oneHot,
  ones,
  onesLike,
  pad,
  rand,
  randn,
  searchsorted,
  ShapeError,
  split,
  stack,
  type Tensor,
  tensor,
  tidy,
  where,
  zeros,
  zerosLike,
} from "../mod.ts";
import { checkOptions, nearestName } from "../tensor/options.ts";
import { throwsLine, type Untyped } from "./_throws_line.ts";

Deno.test("the tensor API refuses what it would otherwise ignore", async (t) => {
  const device = await defaultDevice();
  const live = () => device.memory().liveBytes;
  const start = live();

  await t.step("tensor(data, shape) names the options form", () => {
    throwsLine(
      () => tensor(new Float32Array(6), [2, 3] as Untyped),
      TypeError,
      /^tensor: the shape goes in the options, as tensor\(data, \{ shape: \[2,3\] \}\)$/,
    );
    tidy(() => {
      assert.deepEqual(tensor(new Float32Array(6), { shape: [2, 3] }).shape, [2, 3]);
    });
    throwsLine(
      () => tensor(new Uint8Array(2) as Untyped),
      TypeError,
      /tensor: typed arrays are Float32Array or Int32Array, got a Uint8Array/,
    );
    throwsLine(
      () => tensor([1, 2], { shape: 2 } as Untyped),
      TypeError,
      /tensor: the shape is an array of sizes/,
    );
    throwsLine(
      () => fromTypedArray(new Float32Array(2), [2], { dtype: "i32" }),
      TypeError,
      /fromTypedArray: a Float32Array holds f32, not i32/,
    );
  });

  await t.step("creation takes dtype i32 where PyTorch takes an integer dtype", async () => {
    await tidy(async () => {
      const z: Tensor<[2, 3], "i32"> = zeros([2, 3], { dtype: "i32" });
      assert.equal(z.dtype, "i32");
      assert.deepEqual(await z.toArray(), [[0, 0, 0], [0, 0, 0]]);
      const o: Tensor<[3], "i32"> = ones([3], { dtype: "i32" });
      assert.deepEqual(await o.toArray(), [1, 1, 1]);
      // Past 2^24 (not exact in f32) and −1 (a NaN's bits as f32): exact.
      for (const value of [2 ** 30 + 1, -1, -(2 ** 31), 2 ** 31 - 1]) {
        const f: Tensor<[2], "i32"> = full([2], value, { dtype: "i32" });
        assert.deepEqual(Array.from(await f.data()), [value, value], `${value}`);
      }
      assert.deepEqual(await full([0], 5, { dtype: "i32" }).toArray(), []);
      assert.deepEqual(await full([], 5, { dtype: "i32" }).toArray(), 5);
      const r: Tensor<[number], "i32"> = arange(1, 8, 3, { dtype: "i32" });
      assert.deepEqual(await r.toArray(), [1, 4, 7]);
      assert.equal(r.dtype, "i32");
      assert.deepEqual(await arange(4).toArray(), [0, 1, 2, 3]);
      assert.deepEqual(await arange(2, 5, { dtype: "i32" }).toArray(), [2, 3, 4]);
      assert.deepEqual(await arange(3, 0, -1).toArray(), [3, 2, 1]);
      assert.deepEqual(await arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
      assert.equal(zeros([2]).dtype, "f32");
      // The *Like family takes the tensor's dtype and device unless given; eye takes i32 too.
      const labels = tensor([[3, 1, 2]], { dtype: "i32" });
      const counts: Tensor<[1, 3], "i32"> = zerosLike(labels);
      assert.deepEqual(await counts.toArray(), [[0, 0, 0]]);
      assert.deepEqual(await onesLike(labels).toArray(), [[1, 1, 1]]);
      assert.deepEqual(Array.from(await fullLike(labels, 2 ** 30 + 1).data()), [
        2 ** 30 + 1,
        2 ** 30 + 1,
        2 ** 30 + 1,
      ]);
      const halves: Tensor<[1, 3], "f32"> = fullLike(labels, 0.5, { dtype: "f32" });
      assert.deepEqual(await halves.toArray(), [[0.5, 0.5, 0.5]]);
      assert.equal(onesLike(halves, { requiresGrad: true }).requiresGrad, true);
      assert.deepEqual(await eye(2, 3).toArray(), [[1, 0, 0], [0, 1, 0]]);
      const identity: Tensor<[number, number], "i32"> = eye(3, { dtype: "i32" });
      assert.deepEqual(await identity.toArray(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
      assert.deepEqual(eye(0).shape, [0, 0]);
    });
    tidy(() => {
      throwsLine(
        () => fullLike(zeros([1]), 0.5, { dtype: "i32" }),
        RangeError,
        /^fullLike: 0.5 is not a 32-bit integer/,
      );
      throwsLine(
        () => zerosLike([1, 2] as Untyped),
        TypeError,
        /^zerosLike: expected a Tensor, got an array \[1,2\]$/,
      );
      throwsLine(
        () => onesLike(zeros([1]), { dtpye: "i32" } as Untyped),
        TypeError,
        /^onesLike: unknown option "dtpye" \(did you mean "dtype"\?\)$/,
      );
    });
    throwsLine(() => eye(2.5), ShapeError, /^eye: invalid shape \[2.5,2.5\]/);
    throwsLine(
      () => full([2], 1.5, { dtype: "i32" }),
      RangeError,
      /^full: 1.5 is not a 32-bit integer, and the dtype is i32$/,
    );
    throwsLine(() => full([2], 2 ** 31, { dtype: "i32" }), RangeError, /not a 32-bit integer/);
    throwsLine(
      () => zeros([2], { dtype: "i32", requiresGrad: true }),
      TypeError,
      /^zeros: only f32 tensors can require gradients, got i32$/,
    );
    throwsLine(
      () => zeros([2], { dtype: "float32" } as Untyped),
      TypeError,
      /^zeros: dtype must be "f32" or "i32", got the string "float32"$/,
    );
    throwsLine(
      () => ones([2], { requiresGrad: 1 } as Untyped),
      TypeError,
      /ones: requiresGrad must be a boolean, got the number 1/,
    );
    throwsLine(
      () => arange(0, 3, 0.5, { dtype: "i32" }),
      TypeError,
      /arange: start 0 and step 0.5 must be integers for dtype i32/,
    );
    throwsLine(() => arange(0, 5, -1), RangeError, /arange: step -1 does not lead from 0 to 5/);
    throwsLine(() => arange(0, 5, 0), RangeError, /arange: step is 0/);
    throwsLine(() => arange(0, Infinity), RangeError, /arange: end must be a finite number/);
    throwsLine(() => arange(NaN), RangeError, /arange: end must be a finite number/);
    throwsLine(
      () => (arange as Untyped)(0, { dtype: "i32" }, 2),
      TypeError,
      /arange: the options come last/,
    );
    throwsLine(
      () => full([2], undefined as Untyped),
      TypeError,
      /full: the fill value must be a number/,
    );
  });

  await t.step("random draws refuse what they cannot make", () => {
    throwsLine(
      () => randn([2], { dtype: "i32" } as Untyped),
      TypeError,
      /^randn: draws are f32 only, got dtype i32; convert with \.int\(\)$/,
    );
    throwsLine(() => rand([2], { dtype: "i32" } as Untyped), TypeError, /rand: draws are f32 only/);
    throwsLine(() => randn([2], { std: -1 }), RangeError, /normal: needs std ≥ 0/);
    throwsLine(
      () => rand([2], { low: 2, high: 1 }),
      RangeError,
      /uniform: needs finite low ≤ high/,
    );
    throwsLine(() => new Generator(1.5), RangeError, /seed must be an integer in \[0, 2\^53\)/);
    throwsLine(() => new Generator(-1), RangeError, /seed must be an integer/);
    throwsLine(() => new Generator(0).bernoulli([2], 2), RangeError, /bernoulli: p must be in/);
    throwsLine(
      () => randn([2], { sd: 2 } as Untyped),
      TypeError,
      /randn: unknown option "sd" \(did you mean "std"\?\)/,
    );
  });

  await t.step("shapes and sizes: integers ≥ 0, in an array", () => {
    for (const bad of [[NaN], [-1], [2.5], ["3"]]) {
      throwsLine(() => zeros(bad as Untyped), ShapeError, /^zeros: invalid shape .*integers ≥ 0$/);
    }
    throwsLine(
      () => zeros(3 as Untyped),
      TypeError,
      /^zeros: the shape is an array of sizes, as zeros\(\[2, 3\]\), got the number 3$/,
    );
    throwsLine(
      () => (zeros as Untyped)(3, 4),
      TypeError,
      /^zeros: options must be an object such as \{ device: … \}, got the number 4$/,
    );
    tidy(() => {
      const x = zeros([2, 3]);
      throwsLine(() => x.reshape([NaN, 3]), ShapeError, /reshape: cannot view/);
      throwsLine(() => x.expand([NaN, 3]), ShapeError, /expand: cannot expand/);
      throwsLine(() => x.permute([0.5, 1]), ShapeError, /permute: \[0.5,1\] is not a permutation/);
    });
  });

  await t.step("unknown option keys name the op and the nearest name", () => {
    tidy(() => {
      const x = ones([1, 1, 4, 4]), w = ones([1, 1, 2, 2]), v = ones([2, 3]);
      const labels = tensor([0, 1], { dtype: "i32" });
      const cases: [() => unknown, RegExp][] = [
        [
          () => zeros([2], { requiresgrad: true } as Untyped),
          /^zeros: unknown option "requiresgrad" \(did you mean "requiresGrad"\?\)$/,
        ],
        [
          () => tensor([1], { requires_grad: true } as Untyped),
          /^tensor: unknown option "requires_grad" \(did you mean "requiresGrad"\?\)$/,
        ],
        [
          () => v.var(1, { keepdims: true } as Untyped),
          /^var: unknown option "keepdims" \(did you mean "keepdim"\?\)$/,
        ],
        [
          () => v.std(1, { ddof: 1 } as Untyped),
          /^std: unknown option "ddof" \(known: correction, unbiased, keepdim\)$/,
        ],
        [
          () => v.sort({ dims: 0 } as Untyped),
          /^sort: unknown option "dims" \(did you mean "dim"\?\)$/,
        ],
        [
          () => v.argsort({ descend: true } as Untyped),
          /^argsort: unknown option "descend" \(did you mean "descending"\?\)$/,
        ],
        [
          () => v.topk(1, { largets: true } as Untyped),
          /^topk: unknown option "largets" \(did you mean "largest"\?\)$/,
        ],
        [
          () => conv2d(x, w, null, { strides: 2 } as Untyped),
          /^conv2d: unknown option "strides" \(did you mean "stride"\?\)$/,
        ],
        [
          () => convTranspose2d(x, w, null, { output_padding: 1 } as Untyped),
          /^convTranspose2d: unknown option "output_padding" \(did you mean "outputPadding"\?\)$/,
        ],
        [
          () => maxPool2d(x, { kernel: 2, ceil_mode: true } as Untyped),
          /^maxPool2d: unknown option "ceil_mode" \(did you mean "ceilMode"\?\)$/,
        ],
        [
          () => avgPool2d(x, { kernel_size: 2 } as Untyped),
          /^avgPool2d: unknown option "kernel_size" \(did you mean "kernel"\?\)$/,
        ],
        [
          () => dropout(v, 0.5, { training: true, seed: 1 } as Untyped),
          /^dropout: unknown option "seed" \(known: training, generator, within\)$/,
        ],
        [
          () => batchNorm(v, { epsilon: 1e-5 } as Untyped),
          /^batchNorm: unknown option "epsilon" \(did you mean "eps"\?\)$/,
        ],
        [
          () => layerNorm(v, [3], { elementwiseAffine: false } as Untyped),
          /^layerNorm: unknown option "elementwiseAffine"/,
        ],
        [
          () => pad(x, [1, 1], { padding_mode: "reflect" } as Untyped),
          /^pad: unknown option "padding_mode"/,
        ],
        [
          () => interpolate(x, { scale_factor: 2 } as Untyped),
          /^interpolate: unknown option "scale_factor" \(did you mean "scaleFactor"\?\)$/,
        ],
        [
          () => diff(v, 1, -1, { prepnd: v } as Untyped),
          /^diff: unknown option "prepnd" \(did you mean "prepend"\?\)$/,
        ],
        [
          () => searchsorted(ones([3]), ones([2]), { sorted: true } as Untyped),
          /^searchsorted: unknown option "sorted" \(did you mean "sorter"\?\)$/,
        ],
        [
          () => bucketize(ones([2]), ones([3]), { rigth: true } as Untyped),
          /^bucketize: unknown option "rigth" \(did you mean "right"\?\)$/,
        ],
        [
          () => clipGradNormAll([v], 1, { norm_type: 2 } as Untyped),
          /^clipGradNorm: unknown option "norm_type" \(did you mean "normType"\?\)$/,
        ],
        [
          () => crossEntropy(v, labels, { reductions: "sum" } as Untyped),
          /^crossEntropy: unknown option "reductions" \(did you mean "reduction"\?\)$/,
        ],
      ];
      for (const [call, pattern] of cases) throwsLine(call, TypeError, pattern);
    });
  });

  await t.step("options where an object belongs, flags where a boolean does", async () => {
    await tidy(async () => {
      const v = ones([2, 3]);
      throwsLine(
        () => dropout(v, 0.5, 0.5 as Untyped),
        TypeError,
        /^dropout: options must be an object such as \{ training: … \}, got the number 0.5$/,
      );
      // A missing flag once read as evaluation: dropout silently off.
      throwsLine(
        () => dropout(v, 0.5, {} as Untyped),
        TypeError,
        /^dropout: options.training must be true or false, got undefined$/,
      );
      throwsLine(
        () => zeros([2], v as Untyped),
        TypeError,
        /^zeros: options must be a plain object such as \{ device: … \}, got a Tensor \[2,3\]$/,
      );
      throwsLine(() => v.sort([0] as Untyped), TypeError, /^sort: options must be an object/);
      // Positional APIs given an options object.
      throwsLine(
        () => v.sum({ dim: 1 } as Untyped),
        TypeError,
        /^sum: the axes are a number or an array of numbers, given positionally \(as sum\(1\)\), got an object with keys dim$/,
      );
      throwsLine(
        () => v.sum(1, { keepdim: true } as Untyped),
        TypeError,
        /^sum: keepdim must be true or false, got an object with keys keepdim$/,
      );
      throwsLine(() => v.mean(0, 1 as Untyped), TypeError, /^mean: keepdim must be true or false/);
      throwsLine(() => v.max(0, "yes" as Untyped), TypeError, /^max: keepdim must be true/);
      throwsLine(() => v.argmax(0, {} as Untyped), TypeError, /^argmax: keepdim must be true/);
      throwsLine(() => v.maxWithIndices(0, 1 as Untyped), TypeError, /^maxWithIndices: keepdim/);
      throwsLine(() => v.var(0, { keepdim: 1 } as Untyped), TypeError, /^var: keepdim must be/);
      throwsLine(() => v.softmax({ dim: 1 } as Untyped), TypeError, /^softmax: the axes are/);
      throwsLine(() => v.softmax(2), ShapeError, /^softmax: axis 2 is out of range/);
      throwsLine(() => v.sum(1.5), TypeError, /^sum: axis 1.5 is not an integer$/);
      throwsLine(
        () => v.sum(2),
        ShapeError,
        /^sum: axis 2 is out of range for a tensor of rank 2$/,
      );
      throwsLine(
        () => v.pow(undefined as Untyped),
        TypeError,
        /^pow: the exponent must be a number/,
      );
      throwsLine(() => v.clamp("1" as Untyped), TypeError, /^clamp: min must be a number/);
      throwsLine(
        () => v.maskedFill(v, "0" as Untyped),
        TypeError,
        /^maskedFill: the value must be/,
      );
      // What is allowed still works.
      assert.deepEqual(await v.sum(1, true).toArray(), [[3], [3]]);
      // null for the axes is PyTorch's dim=None: every axis.
      assert.deepEqual(await v.sum(null as Untyped, true).toArray(), [[6]]);
      assert.deepEqual((await v.sort({ dim: 0, descending: true })).values.shape, [2, 3]);
    });
  });

  await t.step("a non-tensor where a tensor belongs is named", () => {
    tidy(() => {
      const x = ones([2, 3]);
      const bad: [() => unknown, RegExp][] = [
        [
          () => x.add("2" as Untyped),
          /^add: the operand is a Tensor or a number, got the string "2"$/,
        ],
        [
          () => x.mul([1, 2, 3] as Untyped),
          /^mul: the operand is a Tensor or a number, got an array \[1,2,3\]$/,
        ],
        [
          () => x.sub(new Float32Array(3) as Untyped),
          /^sub: the operand is a Tensor or a number, got a Float32Array$/,
        ],
        [() => x.div(null as Untyped), /^div: the operand is a Tensor or a number, got null$/],
        [() => x.matmul(2 as Untyped), /^matmul: expected a Tensor, got the number 2$/],
        [() => x.lt([1] as Untyped), /^lt: expected a Tensor, got an array \[1\]$/],
        [() => add(1 as Untyped, x), /^add: the first operand must be a Tensor, got the number 1/],
        [() => where(1 as Untyped, x, x), /^where: expected a Tensor, got the number 1$/],
        [
          () => conv2d(x as Untyped, [1] as Untyped, null),
          /^conv2d: expected a Tensor, got an array \[1\]$/,
        ],
      ];
      for (const [call, pattern] of bad) throwsLine(call, TypeError, pattern);
    });
  });

  await t.step("lists, required axes, parameters given positionally, devices", async () => {
    await tidy(async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      throwsLine(
        () => concat(x as Untyped, 0),
        TypeError,
        /^concat: takes an array of tensors, as concat\(\[a, b\], axis\), got a Tensor \[2,3\]$/,
      );
      throwsLine(() => stack(x as Untyped), TypeError, /^stack: takes an array of tensors/);
      throwsLine(
        () => concat([x, 1] as Untyped, 0),
        TypeError,
        /^concat: expected a Tensor, got the number 1$/,
      );
      // torch.split's one size: parts of that size, the last smaller.
      assert.deepEqual(split(x, 2, 1).map((p) => p.shape), [[2, 2], [2, 1]]);
      throwsLine(
        () => split(x, 1.5, 1),
        ShapeError,
        /^split: the part size must be an integer ≥ 1, got 1.5$/,
      );
      // An omitted axis once read as every axis.
      throwsLine(
        () => (x.cumsum as Untyped)(),
        TypeError,
        /^cumsum: dim must be one axis \(a number\), got undefined$/,
      );
      throwsLine(() => (x.cummax as Untyped)(), TypeError, /^cummax: dim must be one axis/);
      throwsLine(
        () => (x.flip as Untyped)(),
        TypeError,
        /^flip: give the axes to flip, as flip\(\[0\]\)$/,
      );
      throwsLine(
        () => leakyRelu(x, { negativeSlope: 0.1 } as Untyped),
        TypeError,
        /^leakyRelu: negativeSlope must be a finite number, given positionally, got an object with keys negativeSlope$/,
      );
      throwsLine(
        () => oneHot(tensor([0, 1], { dtype: "i32" }), 2.5),
        RangeError,
        /^oneHot: the number of classes must be an integer ≥ 0, got 2.5$/,
      );
      throwsLine(
        () => x.assign([1, 2, 3, 4, 5, 6] as Untyped),
        TypeError,
        /^assign: expected a Tensor, got an array/,
      );
      await assert.rejects(
        x.to("gpu1" as Untyped),
        /^TypeError: to: expected a Device \(from defaultDevice\(\) or Device.acquire\(\)\), got the string "gpu1"$/,
      );
      throwsLine(
        () => zeros([2], { device: "gpu0" } as Untyped),
        TypeError,
        /^zeros: expected a Device/,
      );
      // PyTorch's sizes as separate arguments: the one form this API takes is named.
      const positional: [() => unknown, RegExp][] = [
        [
          () => (x.reshape as Untyped)(3, 2),
          /^reshape: takes the shape as one array, as reshape\(\[2, 3\]\), not separate numbers; got the number 3$/,
        ],
        [() => (x.permute as Untyped)(1, 0), /^permute: takes the axis order as one array/],
        [() => (x.expand as Untyped)(2, 3), /^expand: takes the sizes as one array/],
        [() => (x.repeat as Untyped)(2, 1), /^repeat: takes the repeats as one array/],
        [() => (x.tile as Untyped)(2), /^tile: takes the repeats as one array/],
      ];
      for (const [call, pattern] of positional) throwsLine(call, TypeError, pattern);
      // Options an op cannot do without, and option values of the wrong type.
      const x4 = x.reshape([1, 1, 2, 3]);
      throwsLine(
        () => (maxPool2d as Untyped)(x4),
        TypeError,
        /^maxPool2d: options must be an object such as \{ kernel: … \}, got undefined$/,
      );
      throwsLine(
        () => (interpolate as Untyped)(x4),
        TypeError,
        /^interpolate: options must be an object/,
      );
      throwsLine(
        () => x.sort({ descending: "yes" } as Untyped),
        TypeError,
        /^argsort: descending must be true or false, got the string "yes"$/,
      );
      throwsLine(
        () => x.sort({ dim: "0" } as Untyped),
        TypeError,
        /^argsort: dim must be one axis \(a number\), got the string "0"$/,
      );
      throwsLine(
        () => x.topk(1, { largest: 0 } as Untyped),
        TypeError,
        /^topk: largest must be true or false/,
      );
      throwsLine(
        () => x.var(1, { correction: "1" } as Untyped),
        TypeError,
        /^var: correction must be a number/,
      );
      throwsLine(
        () => x.std(1, { unbiased: "no" } as Untyped),
        TypeError,
        /^var: unbiased must be true or false, got the string "no"$/,
      );
      throwsLine(
        () => pad(x.reshape([1, 2, 3]), [1, 1], { value: "1" } as Untyped),
        TypeError,
        /^pad: value must be a number/,
      );
      throwsLine(
        () => dropout(x, "0.5" as Untyped, { training: true }),
        TypeError,
        /^dropout: p must be a number, got the string "0.5"$/,
      );
    });
  });

  await t.step("i32 with f32 is computed in f32, as PyTorch promotes", async () => {
    await tidy(async () => {
      const ints = tensor([1, 2, 3], { dtype: "i32" }) as Untyped as Tensor<[3], "f32">;
      const floats = tensor([0.5, 0.25, 2], { requiresGrad: true });
      const sum = floats.add(ints);
      assert.equal(sum.dtype, "f32");
      assert.deepEqual(await sum.toArray(), [1.5, 2.25, 5]);
      const product = ints.mul(floats);
      assert.deepEqual(await product.toArray(), [0.5, 0.5, 6]);
      assert.deepEqual(await ints.div(2.5).toArray(), [0.4, 0.8, 1.2].map(Math.fround));
      assert.deepEqual(await ints.sub(floats).toArray(), [0.5, 1.75, 1]);
      // The gradient reaches the f32 operand; the i32 one has none.
      await product.sum().backward();
      assert.deepEqual(await floats.grad!.toArray(), [1, 2, 3]);
      floats.grad!.dispose(); // (kept past the scope, as a parameter's)
      // i32 with an integer stays i32 (tests/integer_ops_test.ts).
      const doubled = ints.mul(2);
      assert.equal(doubled.dtype, "i32");
      assert.deepEqual(await doubled.toArray(), [2, 4, 6]);
    });
  });

  await t.step("operands on two devices name both", async () => {
    const [a, b] = await Device.acquireMany(2);
    try {
      const x = ones([2], { device: a }), y = ones([2], { device: b });
      assert.throws(() => x.add(y), (error: Error) => {
        assert.match(error.message, /^add: tensors are on different devices \(.*\); move one/);
        assert.ok(error.message.includes(`(${a.describe()} and ${b.describe()})`), error.message);
        return true;
      });
      throwsLine(
        () => x.matmul(y.reshape([2, 1])),
        Error,
        /^matmul: tensors are on different devices/,
      );
      throwsLine(() => where(x, x, y), Error, /^where: tensors are on different devices/);
      x.dispose();
      y.dispose();
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  assert.equal(live(), start, "the checks leak nothing");
});

Deno.test("checkOptions: the one check of options objects", () => {
  const names = ["stride", "padding", "requiresGrad"];
  checkOptions("op", undefined, names);
  checkOptions("op", {}, names);
  checkOptions("op", { stride: 1, padding: undefined }, names);
  checkOptions("op", Object.create(null), names);
  throwsLine(
    () => checkOptions("op", { strid: 1 }, names),
    TypeError,
    /^op: unknown option "strid" \(did you mean "stride"\?\)$/,
  );
  throwsLine(
    () => checkOptions("op", { zzz: 1 }, names),
    TypeError,
    /^op: unknown option "zzz" \(known: stride, padding, requiresGrad\)$/,
  );
  throwsLine(
    () => checkOptions("op", null, names),
    TypeError,
    /^op: options must be an object such as \{ stride: … \}, got null$/,
  );
  throwsLine(
    () => checkOptions("op", new Map(), names),
    TypeError,
    /^op: options must be a plain object .*got a Map$/,
  );
  assert.equal(nearestName("requires_grad", names), "requiresGrad");
  assert.equal(nearestName("REQUIRESGRAD", names), "requiresGrad");
  assert.equal(nearestName("pading", names), "padding");
  assert.equal(nearestName("dilation", names), undefined);
});

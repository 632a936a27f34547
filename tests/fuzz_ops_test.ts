/**
 * A seeded randomized sweep of the tensor ops through the public API, forward and gradients
 * against the float64 reference: max pooling (overlapping windows, padding, ties from
 * quantised and all-equal inputs, ±0, magnitudes of 1e4: the gradient goes to the first maximum
 * in window order, as PyTorch's; floor and ceil mode), average and adaptive average pooling
 * (padding counted or not, divisor override, ceil mode, output larger than the input), local
 * response normalisation, softmax and log-softmax on any
 * axis, reductions over random axes, chains of views and copies (permute, slice, reshape,
 * concat, split), dropout's statistics and the agreement of its forward and backward masks, the
 * fused SGD steps, and small networks whose ReLUs fold into the next op's gradient.
 * `FUZZ_SEED=s FUZZ_ITERS=k` runs k times as many cases.
 */

import assert from "node:assert/strict";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  concat,
  conv2d,
  crossEntropy,
  defaultDevice,
  dropout,
  dropoutMask,
  fromTypedArray,
  Generator,
  linear,
  lrn,
  matmul,
  max,
  maxPool2d,
  mean,
  permute,
  reshape,
  sgdUpdate,
  slice,
  softmax,
  split,
  sum,
  tensor,
  zeros,
} from "../mod.ts";
import { logSoftmax } from "../tensor/ops_loss.ts";
import type { Device, GpuBuffer } from "../kernels/device.ts";
import { stridedWindows } from "../kernels/_program.ts";
import * as ref from "./_reference.ts";
import { awayFromZero, check, normal, type OpCase, warmUp } from "./_tensor_check.ts";
import { assertAccumulated, Draw, fuzzSeeds, UNIT_ROUNDOFF } from "./_fuzz.ts";

/** A random shape of `rank` axes, each 1–`most`. */
function shapeOf(d: Draw, rank: number, most: number): number[] {
  return Array.from({ length: rank }, () => d.int(1, most));
}

/** Values for max pooling: normal, quantised to a few levels (ties), all equal, ±0, or ±1e4. */
function poolValues(d: Draw, shape: number[]): { kind: string; x: ref.F64 } {
  const n = ref.numel(shape);
  const kind = d.pick(["normal", "levels", "equal", "zeros", "large"]);
  const value = (): number => {
    switch (kind) {
      case "levels":
        return d.int(-2, 2);
      case "equal":
        return 0.75;
      case "zeros":
        return d.chance(0.5) ? 0 : -0;
      case "large":
        return 1e4 * ref.gaussian(d.next);
      default:
        return ref.gaussian(d.next);
    }
  };
  return { kind, x: ref.f64(shape, Float32Array.from({ length: n }, value)) };
}

Deno.test("fuzz: tensor ops on random shapes against float64", async (t) => {
  const device = await defaultDevice();

  for (const seed of fuzzSeeds("maxPool2d", 12)) {
    await t.step(`maxPool2d, seed ${seed}`, async () => {
      const d = new Draw(seed);
      let shape: number[], kernel: [number, number], stride: [number, number];
      let padding: [number, number];
      do {
        shape = [d.int(1, 3), d.int(1, 5), d.int(1, 20), d.int(1, 20)];
        kernel = [d.int(1, 4), d.int(1, 4)];
        if (d.chance(0.4)) kernel = [3, 3];
        stride = d.chance(0.4) ? [2, 2] : [d.int(1, 4), d.int(1, 4)];
        padding = [d.int(0, kernel[0] >> 1), d.int(0, kernel[1] >> 1)];
      } while (shape[2] + 2 * padding[0] < kernel[0] || shape[3] + 2 * padding[1] < kernel[1]);
      const ceilMode = d.chance(0.4);
      const { kind, x: X } = poolValues(d, shape);
      const label = `${kind} [${shape}] kernel ${kernel} stride ${stride} padding ${padding}` +
        (ceilMode ? " ceil" : "");
      const opts = { kernel, stride, padding, ceilMode };
      const want = ref.maxPool2d(X, opts);
      const DY = normal(want.shape, d.next);
      // The gradient goes to the first maximum of each window, in row-major window order.
      const argmax = ref.maxPool2dArgmax(X, opts);
      const plane = shape[2] * shape[3];
      const dx = ref.zeros(shape), dxMag = ref.zeros(shape);
      const perPlane = want.shape[2] * want.shape[3];
      argmax.data.forEach((at, o) => {
        const i = Math.floor(o / perPlane) * plane + at;
        dx.data[i] += DY.data[o];
        dxMag.data[i] += Math.abs(DY.data[o]);
      });
      const x = fromTypedArray(Float32Array.from(X.data), shape, { requiresGrad: true });
      const y = maxPool2d(x, opts);
      const got = await y.data();
      assert.deepEqual([...y.shape], want.shape, `${label}: shape`);
      // A maximum is one of the inputs: exact, to the sign of a zero.
      got.forEach((v, i) => {
        if (!Object.is(v, want.data[i])) {
          assert.fail(`${label}: y[${i}] = ${v}, want ${want.data[i]}`);
        }
      });
      await y.mul(fromTypedArray(Float32Array.from(DY.data), DY.shape)).sum().backward();
      const windows = Math.ceil(kernel[0] / stride[0]) * Math.ceil(kernel[1] / stride[1]);
      assertAccumulated(`${label}: gradient`, await x.grad!.data(), dx.data, dxMag.data, windows);
      x.dispose();
      y.dispose();
    });
  }

  for (const seed of fuzzSeeds("unary", 4)) {
    await t.step(`relu, tanh, sigmoid, exp and broadcast arithmetic, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const shape = shapeOf(d, d.int(1, 4), 8);
      // The second operand broadcast along random axes (size 1 there), or shorter.
      const other = shape.slice(d.int(0, shape.length - 1)).map((s) => (d.chance(0.4) ? 1 : s));
      const scale = d.pick([1, 3]);
      await check(device, {
        name: `[${shape}] with [${other}], values ×${scale}`,
        // ReLU's kink at 0 is not differentiable: values at least 0.05 away from it.
        inputs: [awayFromZero(shape, d.next, 0.05), normal(other, d.next, scale)],
        run: ([x, y]) => [
          x.relu().mul(y),
          x.tanh().sub(y.sigmoid()),
          y.mul(0.5).exp().div(x.mul(x).add(1)),
        ],
        ref: ([x, y]) => [
          ref.mul(ref.relu(x), y),
          ref.sub(ref.tanh(x), ref.sigmoid(y)),
          ref.div(ref.exp(ref.map(y, (v) => v / 2)), ref.map(x, (v) => v * v + 1)),
        ],
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("avgPool2d", 8)) {
    await t.step(`avgPool2d and adaptiveAvgPool2d, seed ${seed}`, async () => {
      const d = new Draw(seed);
      let shape: number[], kernel: [number, number], stride: [number, number];
      let padding: [number, number];
      do {
        shape = [d.int(1, 2), d.int(1, 4), d.int(1, 11), d.int(1, 11)];
        kernel = [d.int(1, 4), d.int(1, 4)];
        stride = d.chance(0.4) ? [2, 2] : [d.int(1, 3), d.int(1, 3)];
        padding = [d.int(0, kernel[0] >> 1), d.int(0, kernel[1] >> 1)];
      } while (shape[2] + 2 * padding[0] < kernel[0] || shape[3] + 2 * padding[1] < kernel[1]);
      const opts = {
        kernel,
        stride,
        padding,
        ceilMode: d.chance(0.5),
        countIncludePad: d.chance(0.5),
        divisorOverride: d.chance(0.2) ? d.int(1, 9) : undefined,
      };
      // Adaptive: smaller, equal or larger than the input (windows then overlap or repeat).
      const cells: [number, number] = [d.int(1, shape[2] + 2), d.int(1, shape[3] + 2)];
      const std = d.pick([1, 100]);
      await check(device, {
        name: `avgPool2d [${shape}] ${JSON.stringify(opts)}; adaptive to ${cells}, ×${std}`,
        inputs: [normal(shape, d.next, std)],
        run: ([x]) => [avgPool2d(x, opts), adaptiveAvgPool2d(x, cells)],
        ref: ([x]) => [ref.avgPool2d(x, opts), ref.adaptiveAvgPool2d(x, cells)],
        eps: 1e-6 * std,
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("lrn", 6)) {
    await t.step(`lrn, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const groups = d.int(1, 3);
      const groupSize = d.int(1, 7);
      const shape = [d.int(1, 2), groups * groupSize, d.int(1, 4), d.int(1, 4)];
      const params = {
        size: d.pick([1, 3, 5, 7]),
        k: d.pick([0.5, 1, 2]),
        alpha: d.pick([0, 1e-4, 1e-2, 0.3]),
        beta: d.pick([0.5, 0.75, 1, 1.5]),
        groupSize,
      };
      const std = d.pick([1, 10, 100]);
      await check(device, {
        name: `lrn [${shape}] ${JSON.stringify(params)}, values ×${std}`,
        inputs: [normal(shape, d.next, std)],
        run: ([x]) => lrn(x, params),
        ref: ([x]) => ref.lrn(x, params),
        eps: 1e-6 * std,
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("softmax", 6)) {
    await t.step(`softmax and logSoftmax, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const shape = shapeOf(d, d.int(1, 4), 7);
      const axis = d.int(-shape.length, shape.length - 1);
      const scale = d.pick([1, 30]);
      await check(device, {
        name: `softmax, logSoftmax [${shape}] axis ${axis}, values ×${scale}`,
        inputs: [normal(shape, d.next, scale)],
        run: ([x]) => [softmax(x, axis), logSoftmax(x, axis)],
        ref: ([x]) => [ref.softmax(x, axis), ref.logSoftmax(x, axis)],
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("crossEntropy", 8)) {
    await t.step(`crossEntropy with random options, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const probabilities = d.chance(0.3);
      // One class of probabilities has a gradient of exactly 0 that f32 misses by an ulp.
      const [n, c] = [
        d.int(1, 6),
        d.pick([probabilities ? 2 : 1, 2, d.int(3, 40), d.int(100, 300)]),
      ];
      const positions = d.chance(0.4) ? shapeOf(d, d.int(1, 2), 3) : [];
      const options: ref.CrossEntropyOptions = {
        reduction: d.pick(["mean", "sum", "none"] as const),
        // With one class the gradient is exactly 0, and stays so in f32 only where 1 − ε + ε
        // rounds to 1 (0.1 leaves 6e-8: no error, but no relative error to 0 either).
        labelSmoothing: d.pick(c === 1 ? [0, 0.5] : [0, 0, 0.1, 0.5]),
      };
      if (!probabilities && c > 1 && d.chance(0.4)) options.ignoreIndex = d.pick([-100, 0, c - 1]);
      const weighted = d.chance(0.4);
      const count = n * ref.numel(positions);
      // Keep one label not ignored, so that a mean has a divisor.
      const labels = Int32Array.from({ length: count }, (_, i) => {
        const label = d.int(0, c - 1);
        return i > 0 && d.chance(0.2) ? options.ignoreIndex ?? -100 : label;
      });
      if (labels[0] === options.ignoreIndex) labels[0] = (labels[0] + 1) % c;
      const shape = [n, c, ...positions];
      const std = d.pick([1, 10]);
      const inputs = [normal(shape, d.next, std)];
      if (probabilities) inputs.push(ref.randu(shape, d.next, 0, 1));
      if (weighted) inputs.push(ref.randu([c], d.next, 0, 2));
      const target = probabilities ? 1 : -1, weight = weighted ? inputs.length - 1 : -1;
      const reference = (xs: ref.F64[]) =>
        ref.torchCrossEntropyNd(xs[0], probabilities ? xs[target] : labels, {
          ...options,
          weight: weighted ? xs[weight] : undefined,
        });
      // A row's loss, lse − z (z = x − max), rounds to u·(|z| + lse) at best in f32, so a
      // confident row (a loss near 0 beside logits of 10) is off by far more than 1e-5 of
      // itself; each row carries at most its weight and its targets' sum of that, against the
      // largest loss.
      const losses = reference(inputs).data.map(Math.abs);
      const most = Math.max(...losses, Number.MIN_VALUE);
      const terms = (probabilities ? c : 1) * (weighted ? 2 : 1);
      const forwardTol = Math.max(
        1e-5,
        16 * UNIT_ROUNDOFF * terms * (6 * std + Math.log(c)) / most,
      );
      await check(device, {
        name: `[${shape}] ${probabilities ? "probabilities" : "indices"}` +
          `${weighted ? ", weighted" : ""} ${JSON.stringify(options)}`,
        inputs,
        wrt: probabilities ? [0, 1] : [0],
        run: (xs) =>
          crossEntropy(
            xs[0],
            probabilities
              ? xs[target]
              : tensor(labels, { dtype: "i32" }).reshape([n, ...positions]),
            { ...options, weight: weighted ? xs[weight] : undefined },
          ),
        ref: reference,
        forwardTol,
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("reductions", 6)) {
    await t.step(`sum, mean and max over axes, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const rank = d.int(1, 4);
      const shape = shapeOf(d, rank, 9);
      const axes = [...Array(rank).keys()].filter(() => d.chance(0.5)).map((a) =>
        d.chance(0.5) ? a - rank : a
      );
      const keepdim = d.chance(0.5);
      await check(device, {
        name: `[${shape}] axes [${axes}] keepdim ${keepdim}`,
        // Distinct values: the maximum's gradient is then that of one element.
        inputs: [normal(shape, d.next)],
        run: ([x]) => [sum(x, axes, keepdim), mean(x, axes, keepdim), max(x, axes, keepdim)],
        ref: (
          [x],
        ) => [ref.sum(x, axes, keepdim), ref.mean(x, axes, keepdim), ref.max(x, axes, keepdim)],
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("views", 8)) {
    await t.step(`permute, slice, reshape, concat and split, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const rank = d.int(2, 4);
      const shape = shapeOf(d, rank, 6);
      const order = [...Array(rank).keys()].sort(() => d.next() - 0.5);
      const permuted = order.map((a) => shape[a]);
      const axis = d.int(0, rank - 1);
      const start = d.int(0, permuted[axis] - 1), end = d.int(start + 1, permuted[axis]);
      const other = permuted.map((s, a) => (a === axis ? d.int(1, 3) : s));
      const sliced = permuted.map((s, a) => (a === axis ? end - start : s));
      const joined = sliced.map((s, a) => (a === axis ? s + other[a] : s));
      const flat = [ref.numel(joined) / joined[0], joined[0]];
      const pieces = [1, joined[0] - 1].filter((p) => p > 0);
      const starts = sliced.map((_, a) => (a === axis ? start : 0));
      const ends = permuted.map((s, a) => (a === axis ? end : s));
      await check(device, {
        name: `[${shape}] permute [${order}], axis ${axis} [${start}, ${end}) + [${other}]`,
        inputs: [normal(shape, d.next), normal(other, d.next)],
        run: ([x, y]) => {
          const joined = concat([slice(permute(x, order), axis, start, end), y], axis);
          return split(reshape(joined, [joined.shape[0], flat[0]]), pieces, 0);
        },
        ref: ([x, y]) => {
          const joinedRef = ref.concat([ref.slice(ref.permute(x, order), starts, ends), y], axis);
          return ref.split(ref.reshape(joinedRef, [joined[0], flat[0]]), pieces, 0);
        },
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("products", 8)) {
    await t.step(`matmul and linear on views and broadcast batches, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const [m, k, n] = [d.int(1, 40), d.int(1, 40), d.int(1, 40)];
      const batch = d.chance(0.5) ? d.int(2, 3) : 0;
      const lead = () => (batch === 0 ? [] : [d.pick([1, batch])]);
      const [leadA, leadB] = [lead(), lead()];
      // An operand stored transposed and read through a swapped view, or stored as read.
      const [flipA, flipB] = [d.chance(0.5), d.chance(0.5)];
      const swap = (shape: number[]) => [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!];
      const order = (rank: number) => [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const shapeA = [...leadA, m, k], shapeB = [...leadB, k, n];
      const stored = [flipA ? swap(shapeA) : shapeA, flipB ? swap(shapeB) : shapeB];
      // A ReLU before the product: its mask folds into the product's gradient.
      const relu = d.chance(0.5);
      const asLinear = batch === 0 && d.chance(0.5);
      const view = <T extends { shape: readonly number[] }>(
        x: T,
        flip: boolean,
        f: (x: T, o: number[]) => T,
      ) => flip ? f(x, order(x.shape.length)) : x;
      await check(device, {
        name: `[${shapeA}]${flipA ? "ᵀ" : ""} · [${shapeB}]${flipB ? "ᵀ" : ""}` +
          `${relu ? " after a ReLU" : ""}${asLinear ? " as linear" : ""}`,
        inputs: [normal(stored[0], d.next), normal(stored[1], d.next)],
        run: ([x, y]) => {
          const a = view(relu ? x.relu() : x, flipA, permute);
          const b = view(y, flipB, permute);
          return asLinear ? linear(a, permute(b, [1, 0]), null) : matmul(a, b);
        },
        ref: ([x, y]) => {
          const a = view(relu ? ref.relu(x) : x, flipA, ref.permute);
          return ref.matmul(a, view(y, flipB, ref.permute));
        },
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("network", 4)) {
    await t.step(`conv, ReLU, pool, LRN, linear, cross-entropy, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const [n, c, o, size, classes] = [d.int(1, 3), d.int(1, 3), d.int(1, 4), d.int(5, 8), 3];
      const k = d.pick([1, 2, 3]), stride = d.pick([1, 2]), padding = d.int(0, 1);
      const conv = { stride, padding, relu: true };
      const outSize = Math.floor((size + 2 * padding - k) / stride) + 1;
      const pool = { kernel: 2, stride: 1 };
      const lrnParams = { size: 3, k: 1, alpha: 0.1, beta: 0.75, groupSize: o };
      const features = o * (outSize - 1) ** 2;
      const labels = Int32Array.from({ length: n }, () => d.int(0, classes - 1));
      const net: OpCase = {
        name: `x [${n}, ${c}, ${size}, ${size}], ${o} maps ${k}×${k} s${stride} p${padding}`,
        inputs: [
          normal([n, c, size, size], d.next),
          normal([o, c, k, k], d.next, 0.5),
          normal([o], d.next, 0.5),
          normal([classes, features], d.next, 0.3),
        ],
        run: ([x, w, b, fc]) => {
          const h = lrn(maxPool2d(conv2d(x, w, b, conv), pool), lrnParams);
          const logits = linear(h.reshape([n, features]).relu(), fc, null);
          return crossEntropy(logits, tensor(labels, { dtype: "i32" }));
        },
        ref: ([x, w, b, fc]) => {
          const convRef = ref.relu(
            ref.conv2d(x, w, b, { stride: [stride, stride], padding: [padding, padding] }),
          );
          const h = ref.lrn(ref.maxPool2d(convRef, { kernel: [2, 2], stride: [1, 1] }), lrnParams);
          return ref.crossEntropy(
            ref.linear(ref.relu(ref.reshape(h, [n, features])), fc, null),
            labels,
          );
        },
      };
      // The convolution GEMMs keep an offset table per geometry, built on first use: built
      // here, the case's memory check sees only what the case itself leaves behind.
      await warmUp(net);
      await check(device, net, d.next);
    });
  }

  for (const seed of fuzzSeeds("relu folds", 8)) {
    await t.step(`ReLU masks folded into the op after them, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const [n, c, size] = [d.int(1, 2), d.int(1, 3), d.int(3, 6)];
      const o = d.int(1, 4);
      // Where the ReLU is: fused into the convolution, or an op of its own.
      const fused = d.chance(0.5);
      const p = d.pick([0, 0, 0.5]);
      const consumer = d.pick(["maxPool", "lrn", "conv", "linear", "matmul"] as const);
      // A second use of the ReLU's output: its gradients must be summed before the mask.
      const twice = d.chance(0.4);
      const mask = p > 0
        ? await dropoutMask([n, o, size, size], p, new Generator(seed)).data()
        : new Float32Array(n * o * size * size).fill(1);
      const lrnParams = { size: 3, k: 1, alpha: 0.2, beta: 0.75, groupSize: o };
      const flat = o * size * size;
      const inputs = [
        normal([n, c, size, size], d.next),
        normal([o, c, 3, 3], d.next, 0.5),
        normal([o], d.next, 0.5),
        normal(consumer === "conv" ? [2, o, 3, 3] : [3, flat], d.next, 0.3),
      ];
      const net: OpCase = {
        name: `${fused ? "fused" : "separate"} ReLU, dropout ${p}, into ${consumer}` +
          `${twice ? ", used twice" : ""}, x [${inputs[0].shape}], ${o} maps`,
        inputs,
        // The weights after the ReLU, where the consumer has any.
        wrt: consumer === "maxPool" || consumer === "lrn" ? [0, 1, 2] : [0, 1, 2, 3],
        run: ([x, w, b, v]) => {
          const conv = conv2d(x, w, b, { padding: 1, relu: fused });
          const r = fused ? conv : conv.relu();
          const h = p > 0 ? dropout(r, p, { training: true, generator: new Generator(seed) }) : r;
          const outs = [
            consumer === "maxPool"
              ? maxPool2d(h, { kernel: 2, stride: 1 })
              : consumer === "lrn"
              ? lrn(h, lrnParams)
              : consumer === "conv"
              ? conv2d(h, v, null)
              : consumer === "linear"
              ? linear(h.reshape([n, flat]), v, null)
              : matmul(h.reshape([n, flat]), permute(v, [1, 0])),
          ];
          if (twice) outs.push(h.mul(h));
          return outs;
        },
        ref: ([x, w, b, v]) => {
          const r = ref.relu(ref.conv2d(x, w, b, { padding: [1, 1] }));
          const h = ref.dropoutApply(r, Float64Array.from(mask, (m) => +(m !== 0)), p);
          const outs = [
            consumer === "maxPool"
              ? ref.maxPool2d(h, { kernel: [2, 2], stride: [1, 1] })
              : consumer === "lrn"
              ? ref.lrn(h, lrnParams)
              : consumer === "conv"
              ? ref.conv2d(h, v, null)
              : ref.linear(ref.reshape(h, [n, flat]), v, null),
          ];
          if (twice) outs.push(ref.mul(h, h));
          return outs;
        },
      };
      await warmUp(net);
      await check(device, net, d.next);
    });
  }

  for (const seed of fuzzSeeds("dropout", 4)) {
    await t.step(
      `dropout: statistics, and one mask forward and backward, seed ${seed}`,
      async () => {
        const d = new Draw(seed);
        const shape = shapeOf(d, d.int(1, 3), 40);
        const p = d.pick([0.1, 0.5, 0.9, 0.25]);
        const n = ref.numel(shape);
        const X = ref.f64(shape, Float32Array.from({ length: n }, () => 1 + d.next()));
        const DY = normal(shape, d.next);
        const x = fromTypedArray(Float32Array.from(X.data), shape, { requiresGrad: true });
        const y = dropout(x, p, { training: true, generator: new Generator(seed) });
        await y.mul(fromTypedArray(Float32Array.from(DY.data), shape)).sum().backward();
        const [got, grad] = [await y.data(), await x.grad!.data()];
        const scale = Math.fround(1 / (1 - p));
        let kept = 0;
        for (let i = 0; i < n; i++) {
          const keep = got[i] !== 0;
          kept += +keep;
          const wantY = keep ? Math.fround(X.data[i] * scale) : 0;
          const wantG = keep ? Math.fround(DY.data[i] * scale) : 0;
          if (got[i] !== wantY || grad[i] !== wantG) {
            assert.fail(
              `[${shape}] p ${p}: element ${i}: y ${got[i]} grad ${grad[i]}, ` +
                `want ${wantY} and ${wantG} (the same mask both ways)`,
            );
          }
        }
        // The kept count is Binomial(n, 1 − p): six standard deviations either way.
        const sigma = Math.sqrt(n * p * (1 - p));
        assert.ok(
          Math.abs(kept - n * (1 - p)) <= 6 * sigma + 1,
          `[${shape}] p ${p}: kept ${kept} of ${n}, expected ${n * (1 - p)} ± ${6 * sigma}`,
        );
        x.dispose();
        y.dispose();
      },
    );
  }

  for (const seed of fuzzSeeds("sgd", 4)) {
    await t.step(`fused SGD steps against a float64 step, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const shape = shapeOf(d, d.int(1, 3), 30);
      const formulation = d.pick(["paper", "pytorch"] as const);
      const h = {
        formulation,
        lr: d.pick([0.01, 0.1, 0.5]),
        momentum: d.pick([0, 0.9, 0.5]),
        weightDecay: d.pick([0, 5e-4, 0.1]),
      };
      let W = normal(shape, d.next), V = ref.zeros(shape);
      // The same steps over absolute values with every term added (−lr): the magnitudes that
      // each value's roundings scale with, though the weight itself may cancel to near 0.
      let mag = { w: ref.map(W, Math.abs), v: V };
      const param = fromTypedArray(Float32Array.from(W.data), shape);
      const velocity = zeros(shape);
      for (let step = 0; step < 3; step++) {
        const G = normal(shape, d.next);
        const grad = fromTypedArray(Float32Array.from(G.data), shape);
        sgdUpdate({ param, velocity, grad }, h);
        const step = formulation === "paper" ? ref.sgdPaperStep : ref.sgdTorchStep;
        const next = step({ w: W, v: V, g: G, ...h });
        [W, V] = [next.w, next.v];
        mag = step({ w: mag.w, v: mag.v, g: ref.map(G, Math.abs), ...h, lr: -h.lr });
        grad.dispose();
      }
      const label = `[${shape}] ${JSON.stringify(h)}`;
      // Three steps of at most four roundings each.
      assertAccumulated(`${label}: weights`, await param.data(), W.data, mag.w.data, 12);
      assertAccumulated(`${label}: velocity`, await velocity.data(), V.data, mag.v.data, 12);
      param.dispose();
      velocity.dispose();
    });
  }
});

Deno.test("fuzz: strided passes split into binding windows cover every element once, within the limit", () => {
  for (const seed of fuzzSeeds("strided windows", 200)) {
    const d = new Draw(seed);
    const shape = shapeOf(d, d.int(1, 4), 9);
    const align = d.pick([4, 16, 256]);
    // Views of random layouts: permuted or sliced (gaps), broadcast (stride 0), offset.
    const views = Array.from({ length: d.int(1, 3) }, () => {
      const strides = shape.map(() => 0);
      let step = 1;
      for (const axis of [...shape.keys()].sort(() => d.next() - 0.5)) {
        if (d.chance(0.2)) continue; // broadcast along this axis
        strides[axis] = step;
        step *= shape[axis] + d.int(0, 2);
      }
      const offset = d.int(0, 9);
      const span = offset + shape.reduce((t, s, a) => t + (s - 1) * strides[a], 0) + 1;
      const buffer = { capacity: 4 * (span + d.int(0, 5)) } as GpuBuffer;
      return { buffer, strides, offset, span };
    });
    const largest = Math.max(...views.map((v) => v.buffer.capacity));
    const limit = d.chance(0.2) ? largest : align + 4 * d.int(1, 2 * Math.max(...shape) + 4);
    const device = {
      limits: { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align },
    } as Device;
    const label = `seed ${seed}: [${shape}], limit ${limit}, align ${align}, ` +
      JSON.stringify(views.map(({ strides, offset }) => ({ strides, offset })));
    const n = ref.numel(shape);
    const seen = new Uint8Array(n);
    for (const w of stridedWindows(device, shape, views)) {
      for (const [k, b] of w.bindings.entries()) {
        const [offset, size] = [b.offset ?? 0, b.size ?? b.buffer.capacity - (b.offset ?? 0)];
        assert.ok(
          size <= limit && offset % align === 0,
          `${label}: binding ${k} ${offset}+${size}`,
        );
        assert.equal(offset, 4 * w.bases[k], `${label}: base ${k}`);
        // Every element the window's outputs touch lies inside the binding.
        for (let i = w.start; i < w.start + w.count; i++) {
          let e = views[k].offset, rest = i;
          for (let a = shape.length - 1; a >= 0; a--) {
            e += (rest % shape[a]) * views[k].strides[a];
            rest = Math.floor(rest / shape[a]);
          }
          assert.ok(e * 4 >= offset && e * 4 + 4 <= offset + size, `${label}: element ${e}`);
        }
      }
      for (let i = w.start; i < w.start + w.count; i++) seen[i]++;
    }
    assert.ok(seen.every((c) => c === 1), `${label}: outputs covered ${seen}`);
  }
});

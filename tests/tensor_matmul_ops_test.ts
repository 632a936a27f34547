/**
 * Matrix products, linear layers, softmax, log-softmax and cross-entropy of the public `Tensor`
 * API against the float64 reference, forward and backward (see `_tensor_check.ts`). Products
 * cover 2-D and batched operands, transposed views read in place (`.T()`, `transpose`) and
 * batch broadcasting. Each distinct product shape compiles its own kernel (slow on lavapipe),
 * so the shapes are few and small.
 */

import {
  crossEntropy,
  defaultDevice,
  linear,
  logSoftmax,
  matmul,
  softmax,
  type Tensor,
  tensor,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal } from "./_tensor_check.ts";

/** A dynamically shaped tensor narrowed to a matrix, as user code would do. */
const m2 = (t: Tensor) => t.withRank(2) as Tensor<[number, number], "f32">;
const m3 = (t: Tensor) => t.withRank(3) as Tensor<[number, number, number], "f32">;

Deno.test("tensor ops: matmul, linear, softmax, cross-entropy", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(7);
  const n = (...shape: number[]) => normal(shape, rng);
  const T = (x: ref.F64) => ref.transpose(x, -1, -2);

  await t.step("matmul 2-D", async (t) => {
    await checkAll(t, device, [
      {
        name: "[7, 33] · [33, 5]",
        inputs: [n(7, 33), n(33, 5)],
        run: ([a, b]) => m2(a).matmul(m2(b)),
        ref: ([a, b]) => ref.matmul(a, b),
      },
      {
        name: "[1, 129]ᵀ-view · [129, 7]ᵀ-view (both operands transposed in place)",
        inputs: [n(129, 1), n(7, 129)],
        run: ([a, b]) => m2(a).T().matmul(m2(b).T()),
        ref: ([a, b]) => ref.matmul(T(a), T(b)),
      },
      {
        name: "[9, 4] · [4, 33] with b read as transpose(0, 1) of a [33, 4] tensor (function form)",
        inputs: [n(9, 4), n(33, 4)],
        run: ([a, b]) => matmul(a, b.transpose(0, 1)),
        ref: ([a, b]) => ref.matmul(a, T(b)),
      },
    ], rng);
  });

  await t.step("batched matmul (bmm)", async (t) => {
    await checkAll(t, device, [
      {
        name: "[3, 4, 6] · [3, 6, 5]",
        inputs: [n(3, 4, 6), n(3, 6, 5)],
        run: ([a, b]) => m3(a).bmm(m3(b)),
        ref: ([a, b]) => ref.matmul(a, b),
      },
      {
        name: "[3, 4, 6] · [1, 6, 5] (broadcast batch on the right)",
        inputs: [n(3, 4, 6), n(1, 6, 5)],
        run: ([a, b]) => m3(a).bmm(m3(b)),
        ref: ([a, b]) => ref.matmul(a, b),
      },
      {
        name: "[1, 4, 6] · [3, 6, 5] (broadcast batch on the left)",
        inputs: [n(1, 4, 6), n(3, 6, 5)],
        run: ([a, b]) => m3(a).bmm(m3(b)),
        ref: ([a, b]) => ref.matmul(a, b),
      },
      {
        name: "transpose(1, 2) views of [3, 6, 4] and [3, 5, 6]",
        inputs: [n(3, 6, 4), n(3, 5, 6)],
        run: ([a, b]) => m3(a.transpose(1, 2)).bmm(m3(b.transpose(-1, -2))),
        ref: ([a, b]) => ref.matmul(T(a), T(b)),
      },
      {
        name: "a permuted operand that needs a copy ([6, 3, 4] → [3, 4, 6])",
        inputs: [n(6, 3, 4), n(3, 6, 5)],
        run: ([a, b]) => m3(a.permute([1, 2, 0])).bmm(m3(b)),
        ref: ([a, b]) => ref.matmul(ref.permute(a, [1, 2, 0]), b),
      },
    ], rng);
  });

  await t.step("linear", async (t) => {
    await checkAll(t, device, [
      {
        name: "[8, 16] · [4, 16]ᵀ + [4]",
        inputs: [n(8, 16), n(4, 16), n(4)],
        run: ([x, w, b]) => linear(x, w, b),
        ref: ([x, w, b]) => ref.linear(x, w, b),
      },
      {
        name: "[8, 16] · [4, 16]ᵀ + [4], ReLU",
        inputs: [n(8, 16), n(4, 16), n(4)],
        run: ([x, w, b]) => linear(x, w, b, { relu: true }),
        ref: ([x, w, b]) => ref.relu(ref.linear(x, w, b)),
      },
      {
        name: "[8, 16] · [4, 16]ᵀ without bias, ReLU",
        inputs: [n(8, 16), n(4, 16)],
        run: ([x, w]) => linear(x, w, null, { relu: true }),
        ref: ([x, w]) => ref.relu(ref.linear(x, w, null)),
      },
      {
        name: "weights only (input without gradient)",
        inputs: [n(8, 16), n(4, 16), n(4)],
        wrt: [1, 2],
        run: ([x, w, b]) => linear(x, w, b),
        ref: ([x, w, b]) => ref.linear(x, w, b),
      },
    ], rng);
  });

  await t.step("softmax and log-softmax", async (t) => {
    await checkAll(t, device, [
      {
        name: "softmax [4, 7] last axis",
        inputs: [n(4, 7)],
        run: ([x]) => x.softmax(),
        ref: ([x]) => ref.softmax(x, -1),
      },
      {
        name: "softmax [3, 5, 2] axis 1 (function form)",
        inputs: [n(3, 5, 2)],
        run: ([x]) => softmax(x, 1),
        ref: ([x]) => ref.softmax(x, 1),
      },
      {
        name: "logSoftmax [2, 129] of logits ×30 (stability)",
        inputs: [ref.map(n(2, 129), (v) => Math.fround(30 * v))],
        run: ([x]) => x.logSoftmax(),
        ref: ([x]) => ref.logSoftmax(x, -1),
        // Values reach ~−200 and are sums of f32 terms of that size.
        gradTol: 2e-4,
      },
      {
        name: "softmax of a transposed view [5, 4]ᵀ",
        inputs: [n(5, 4)],
        run: ([x]) => m2(x).T().softmax(),
        ref: ([x]) => ref.softmax(T(x), -1),
      },
      {
        name: "logSoftmax [7, 3] axis 0 (function form)",
        inputs: [n(7, 3)],
        run: ([x]) => logSoftmax(x, 0),
        ref: ([x]) => ref.logSoftmax(x, 0),
      },
    ], rng);
  });

  await t.step("crossEntropy", async (t) => {
    const labels = (count: number, classes: number) =>
      Int32Array.from({ length: count }, () => Math.floor(rng() * classes));
    const ce = (rows: number, classes: number, scale = 1) => {
      const y = labels(rows, classes);
      return {
        name: `logits [${rows}, ${classes}]${scale !== 1 ? ` ×${scale}` : ""}`,
        inputs: [ref.map(n(rows, classes), (v) => Math.fround(scale * v))],
        run: ([x]: Tensor[]) => crossEntropy(x, tensor(y, { dtype: "i32" })),
        ref: ([x]: ref.F64[]) => ref.crossEntropy(x, y),
      };
    };
    await checkAll(t, device, [ce(6, 7), ce(1, 129), ce(33, 3), ce(4, 5, 40)], rng);
  });
});

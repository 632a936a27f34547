/**
 * Shapes in the types. `deno check` (and `deno test`, which type-checks first) verifies that
 * every line under a `// @ts-expect-error` is still an error — an unused directive fails the
 * check — and that the positive cases compile with the expected result types. The test body
 * then runs the positive cases on small tensors, so the file also checks the run-time shapes
 * the types promise.
 */

import assert from "node:assert/strict";
import { defaultDevice, type DType, noGrad, type Tensor, tensor, tidy, zeros } from "../mod.ts";
import { Linear } from "../nn/mod.ts";

/** `true` only when `A` and `B` are the same type (both directions, no `any` leaks). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Fails to compile unless `T` is `true`. */
function expectType<T extends true>(_proof?: T): void {}

type F32<S extends readonly (number | string)[]> = Tensor<S, "f32">;

/** The operands of the cases below, named by their shapes. */
interface Operands {
  m23: F32<[2, 3]>;
  m45: F32<[4, 5]>;
  m34: F32<[3, 4]>;
  v3: F32<[3]>;
  v4: F32<[4]>;
  b234: F32<[2, 3, 4]>;
  b245: F32<[2, 4, 5]>;
  x: F32<["batch", 784]>;
  w: F32<[784, 10]>;
  logits: F32<["batch", 10]>;
  labels: Tensor<["batch"], "i32">;
  bias: F32<[10]>;
}

/** Lines that must not compile. Never called: each would also fail at run time. */
export function compileErrors(
  { m23, m45, m34, v3, v4, b234, b245, x, w, logits, labels }: Operands,
): unknown[] {
  return [
    // @ts-expect-error shapes inferred from literals: [1, 2] × [3, 1] has inner 2 vs 3
    tensor([[1, 2]]).matmul(tensor([[1], [2], [3]])),
    // @ts-expect-error matmul: inner dimensions differ (3 vs 4)
    m23.matmul(m45),
    // @ts-expect-error add: [3] and [4] do not broadcast
    v3.add(v4),
    // @ts-expect-error sub: [2, 3] and [4] do not broadcast
    m23.sub(v4),
    // @ts-expect-error mul: [2, 3] and [4, 5] do not broadcast
    m23.mul(m45),
    // @ts-expect-error div: [3] and [4] do not broadcast
    v3.div(v4),
    // @ts-expect-error T() needs a matrix, not a 3-D tensor
    b234.T(),
    // @ts-expect-error matmul: 1-D × 1-D is a dot product of equal lengths (3 vs 4)
    v3.matmul(v4),
    // @ts-expect-error matmul: a matrix times a vector needs the vector's length 3, not 4
    m23.matmul(v4),
    // @ts-expect-error matmul: batch axes 2 and 3 do not broadcast
    b234.matmul(zeros([3, 4, 5])),
    // @ts-expect-error matmul: a 0-d tensor is no operand
    v3.matmul(zeros([])),
    // @ts-expect-error bmm needs 3-D tensors, not matrices
    m23.bmm(m34),
    // @ts-expect-error bmm: inner dimensions differ (4 vs 5)
    b234.bmm(b245.transpose(1, 2) as F32<[2, 5, 4]>),
    // @ts-expect-error x · w needs [784, N], w.T() is [10, 784]
    x.matmul(w.T()),
    // @ts-expect-error maximum: [3] and [4] do not broadcast
    v3.maximum(v4),
    // @ts-expect-error eq: [2, 3] and [4] do not broadcast
    m23.eq(v4),
    // @ts-expect-error i32 labels cannot be added to f32 logits
    logits.add(labels),
    // @ts-expect-error nn.Linear takes [*, in]: a 0-d tensor has no feature axis
    new Linear({ inFeatures: 3, outFeatures: 2 }).forward(zeros([])),
  ];
}

/** Compile-time positive cases, as a function so that the test can also run them. */
function shapes(
  { m23, m34, v3, v4, b234, b245, x, w, logits, bias }: Omit<Operands, "m45" | "labels">,
  fc: Linear,
) {
  // Positive cases with the right result types. An annotation alone proves little: `S` is not
  // part of a Tensor's structure (`shape` is `readonly number[]` of the same rank either way),
  // so `Tensor<[2, 4]>` is assignable to `Tensor<[2, 3]>`. Hence the exact `Equals` checks.
  const r: F32<["batch", 10]> = x.matmul(w);
  expectType<Equals<typeof r, Tensor<["batch", 10], "f32">>>();
  const literal = tensor([[1, 2, 3], [4, 5, 6]]).matmul(tensor([[1], [2], [3]]));
  expectType<Equals<typeof literal, Tensor<[2, 1], "f32">>>();
  const p = m23.matmul(m34);
  expectType<Equals<typeof p, Tensor<[2, 4], "f32">>>();
  const q = b234.bmm(b245);
  expectType<Equals<typeof q, Tensor<[2, 3, 5], "f32">>>();
  const t = m23.T();
  expectType<Equals<typeof t, Tensor<[3, 2], "f32">>>();
  const back = m23.T().T().matmul(m34);
  expectType<Equals<typeof back, Tensor<[2, 4], "f32">>>();
  // torch.matmul's ranks: 1-D operands lose their axis, batch axes broadcast.
  const dot = v3.matmul(v3);
  expectType<Equals<typeof dot, Tensor<[], "f32">>>();
  const row = v3.matmul(m34);
  expectType<Equals<typeof row, Tensor<[4], "f32">>>();
  const column = m34.matmul(v4);
  expectType<Equals<typeof column, Tensor<[3], "f32">>>();
  const stacked = b234.matmul(b245);
  expectType<Equals<typeof stacked, Tensor<[2, 3, 5], "f32">>>();
  const rowsOfStack = v3.matmul(b234);
  expectType<Equals<typeof rowsOfStack, Tensor<[2, 4], "f32">>>();
  const broadcast = zeros([2, 1, 3, 4, 5]).matmul(zeros([7, 1, 5, 6]));
  expectType<Equals<typeof broadcast, Tensor<[2, 7, 3, 4, 6], "f32">>>();

  const shifted = logits.add(bias); // [B, 10] + [10] keeps [B, 10]
  expectType<Equals<typeof shifted, Tensor<["batch", 10], "f32">>>();
  const rows = m23.mul(zeros([2, 1])); // [2, 3] · [2, 1] → [2, 3]
  expectType<Equals<typeof rows, Tensor<[2, 3], "f32">>>();
  const outer = v3.reshape([3, 1]).sub(v4); // [3, 1] − [4] → [3, 4]
  expectType<Equals<typeof outer, Tensor<[3, 4], "f32">>>();
  const scaled = m23.mul(2).add(1).div(3).sub(0.5).exp().relu();
  expectType<Equals<typeof scaled, Tensor<[2, 3], "f32">>>();
  const probabilities = logits.softmax();
  expectType<Equals<typeof probabilities, Tensor<["batch", 10], "f32">>>();
  // Comparisons are f32 1/0 of the broadcast shape; elementwise maps keep the shape; argmax is i32.
  const positive = logits.gt(0);
  expectType<Equals<typeof positive, Tensor<["batch", 10], "f32">>>();
  const atLeast = m23.ge(v3);
  expectType<Equals<typeof atLeast, Tensor<[2, 3], "f32">>>();
  const limited = m23.clamp(0, 1).abs().log1p();
  expectType<Equals<typeof limited, Tensor<[2, 3], "f32">>>();
  const larger = m23.maximum(v3);
  expectType<Equals<typeof larger, Tensor<[2, 3], "f32">>>();
  const predicted = logits.argmax(1);
  expectType<Equals<typeof predicted, Tensor<readonly (number | string)[], "i32">>>();

  // A dynamic batch dimension (a name) agrees with any size at compile time.
  const named = logits.add(zeros([7, 10]));
  expectType<Equals<typeof named, Tensor<[7, 10], "f32">>>();
  // A tensor of unknown shape can be narrowed by rank, checked at run time.
  const dynamic = m23 as Tensor;
  const narrowed = dynamic.withRank(2);
  expectType<Equals<typeof narrowed, Tensor<[number, number], DType>>>();

  // nn.Linear keeps every leading axis, names included, and replaces the last.
  const perToken = fc.forward(b234);
  expectType<Equals<typeof perToken, Tensor<[2, 3, number], "f32">>>();
  const perRow = fc.forward(zeros([4]));
  expectType<Equals<typeof perRow, Tensor<[number], "f32">>>();

  return {
    r,
    p,
    q,
    t,
    back,
    dot,
    row,
    column,
    stacked,
    rowsOfStack,
    broadcast,
    shifted,
    rows,
    outer,
    scaled,
    probabilities,
    positive,
    atLeast,
    limited,
    larger,
    predicted,
    perToken,
    perRow,
  };
}

Deno.test("typed shapes: the positive cases run with the shapes their types promise", async () => {
  const device = await defaultDevice();
  const start = device.memory().liveBytes;
  const fc = new Linear({ inFeatures: 4, outFeatures: 6 });
  // Without gradients: only the shapes are under test, and no graph keeps the layer's inputs.
  const out = noGrad(() =>
    tidy(() => {
      const f = (shape: number[]) => zeros(shape) as unknown as F32<never>;
      const result = shapes({
        m23: tensor([[1, 2, 3], [4, 5, 6]]) as unknown as F32<[2, 3]>,
        m34: f([3, 4]),
        v3: f([3]),
        v4: f([4]),
        b234: f([2, 3, 4]),
        b245: f([2, 4, 5]),
        x: f([7, 784]),
        w: f([784, 10]),
        logits: f([7, 10]),
        bias: f([10]),
      }, fc);
      return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.shape]));
    })
  );
  assert.deepEqual(out, {
    r: [7, 10],
    p: [2, 4],
    q: [2, 3, 5],
    t: [3, 2],
    back: [2, 4],
    dot: [],
    row: [4],
    column: [3],
    stacked: [2, 3, 5],
    rowsOfStack: [2, 4],
    broadcast: [2, 7, 3, 4, 6],
    shifted: [7, 10],
    rows: [2, 3],
    outer: [3, 4],
    scaled: [2, 3],
    probabilities: [7, 10],
    positive: [7, 10],
    atLeast: [2, 3],
    limited: [2, 3],
    larger: [2, 3],
    predicted: [7],
    perToken: [2, 3, 6],
    perRow: [6],
  });
  fc.dispose();
  assert.equal(device.memory().liveBytes, start);
});

/**
 * i32 arithmetic as PyTorch's integer tensors compute it: `add`, `sub`, `mul` wrapping at ±2³¹,
 * `div` as true division into f32, `floorDivide`, `remainder` and `fmod` with Python's and C's
 * signs, a zero divisor as a device fault, `pow` by repeated squaring, `neg`, `abs`, `sign`; each
 * against an exact integer reference on the host, at an odd size, broadcast and with scalars.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  Device,
  DeviceAssertionError,
  diff,
  floorDivide,
  fmod,
  remainder,
  type Shape,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";

await defaultDevice();

const MIN = -(2 ** 31), MAX = 2 ** 31 - 1;

/** An i32 tensor of shape `shape` from a flat list. */
const ints = (values: number[], shape: number[] = [values.length]) =>
  tensor(values, { dtype: "i32" }).reshape(shape) as Tensor<Shape, "i32">;

/** Dividends: signs, zero, both ends of the range and their neighbours; 13 of them (odd). */
const DIVIDENDS = [-7, 7, -8, 8, 0, 1, -1, MAX, MIN, MIN + 1, MAX - 1, 123456789, -98765];
/** Divisors, none zero, the same count so the two pair up element by element. */
const DIVISORS = [2, -2, 3, -3, 5, -1, 1, 7, -1, MAX, MIN, 10, -4];

/** The host references, in exact integer arithmetic (BigInt), wrapped to 32 bits. */
const wrap32 = (v: bigint) => Number(BigInt.asIntN(32, v));
const REFERENCE = {
  add: (a: number, b: number) => wrap32(BigInt(a) + BigInt(b)),
  sub: (a: number, b: number) => wrap32(BigInt(a) - BigInt(b)),
  mul: (a: number, b: number) => wrap32(BigInt(a) * BigInt(b)),
  fmod: (a: number, b: number) => wrap32(BigInt(a) % BigInt(b)),
  remainder: (a: number, b: number) => {
    const r = BigInt(a) % BigInt(b);
    return wrap32(r !== 0n && (r < 0n) !== (b < 0) ? r + BigInt(b) : r);
  },
  floorDivide: (a: number, b: number) => {
    const [x, y] = [BigInt(a), BigInt(b)];
    const q = x / y; // truncated
    return wrap32(x % y !== 0n && (x < 0n) !== (y < 0n) ? q - 1n : q);
  },
};

Deno.test("i32 ⊕ i32 gives i32, wrapping, against exact integers", async () => {
  await tidy(async () => {
    const a = ints(DIVIDENDS), b = ints(DIVISORS);
    for (const op of ["add", "sub", "mul", "floorDivide", "remainder", "fmod"] as const) {
      const got = a[op](b);
      assert.equal(got.dtype, "i32", op);
      const want = DIVIDENDS.map((x, i) => REFERENCE[op](x, DIVISORS[i]));
      assert.deepEqual(Array.from(await got.data()), want, op);
    }
    // Python's signs, C's, and the wrap at both ends, spelled out.
    assert.deepEqual(await ints([-7]).floorDivide(2).toArray(), [-4]);
    assert.deepEqual(await ints([-7]).remainder(3).toArray(), [2]);
    assert.deepEqual(await ints([-7]).fmod(3).toArray(), [-1]);
    assert.deepEqual(await ints([MAX, MIN]).add(1).toArray(), [MIN, MIN + 1]);
    assert.deepEqual(await ints([MIN]).floorDivide(-1).toArray(), [MIN]);
  });
});

Deno.test("i32 with integer scalars and broadcast tensors", async () => {
  await tidy(async () => {
    const values = [...DIVIDENDS, 4, -4]; // 15 = [3, 5]
    const a = ints(values, [3, 5]);
    for (const scalar of [3, -3, 1, -(2 ** 31), 2 ** 31 - 1]) {
      for (const op of ["add", "sub", "mul", "floorDivide", "remainder", "fmod"] as const) {
        const want = values.map((x) => REFERENCE[op](x, scalar));
        assert.deepEqual(Array.from(await a[op](scalar).data()), want, `${op} ${scalar}`);
      }
    }
    // [3, 5] with [5] and [3, 1]: `idx * stride + offset`, and `labels % classes` by row.
    const row = [2, -3, 5, 7, -11], column = [4, -6, 9];
    const wantRow = values.map((x, i) => REFERENCE.remainder(x, row[i % 5]));
    assert.deepEqual(Array.from(await a.remainder(ints(row)).data()), wantRow);
    const wantColumn = values.map((x, i) => REFERENCE.floorDivide(x, column[Math.floor(i / 5)]));
    assert.deepEqual(Array.from(await a.floorDivide(ints(column, [3, 1])).data()), wantColumn);
    const offsets = ints([1, 2, 3, 4, 5]);
    const index = ints([0, 1, 2], [3, 1]).mul(5).add(offsets);
    assert.deepEqual(await index.toArray(), [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [
      11,
      12,
      13,
      14,
      15,
    ]]);
    // The functional forms.
    assert.deepEqual(await floorDivide(ints([9, -9]), 4).toArray(), [2, -3]);
    assert.deepEqual(await remainder(ints([9, -9]), 4).toArray(), [1, 3]);
    assert.deepEqual(await fmod(ints([9, -9]), 4).toArray(), [1, -1]);
  });
});

Deno.test("i32 promotes where PyTorch does: true division, fractions, f32 operands", async () => {
  await tidy(async () => {
    const a = ints([7, -7, 1, 0]);
    const quotient = a.div(2);
    assert.equal(quotient.dtype, "f32");
    assert.deepEqual(await quotient.toArray(), [3.5, -3.5, 0.5, 0]);
    assert.deepEqual(await a.div(ints([2, 2, 4, 1])).toArray(), [3.5, -3.5, 0.25, 0]);
    const half = a.add(0.5);
    assert.equal(half.dtype, "f32");
    assert.deepEqual(await half.toArray(), [7.5, -6.5, 1.5, 0.5]);
    assert.equal(a.mul(tensor([1, 1, 1, 1])).dtype, "f32");
    // An integer scalar past the i32 range is refused, as PyTorch's overflow error.
    assert.throws(() => a.add(2 ** 31), /add: 2147483648 does not fit an i32/);
  });
});

Deno.test("an integer division by zero faults at the next read, and the element is 0", async () => {
  await tidy(async () => {
    for (const op of ["floorDivide", "remainder", "fmod"] as const) {
      const out = ints([5, -3, 4])[op](ints([2, 0, 3]));
      await assert.rejects(out.data(), (e: Error) => {
        assert.ok(e instanceof DeviceAssertionError, `${e}`);
        assert.match(e.message, new RegExp(`${op}: integer division by zero`));
        return true;
      });
      // Reported once: the next read sees the element as 0 and no fault.
      assert.deepEqual(await out.toArray(), [REFERENCE[op](5, 2), 0, REFERENCE[op](4, 3)]);
    }
    // A scalar zero too.
    await assert.rejects(ints([1]).remainder(0).data(), /remainder: integer division by zero/);
  });
});

Deno.test("integer divisions larger than one binding, and their faults, run in windows", async () => {
  // 8 KiB bindings and 16-workgroup dimensions: 5,001 elements (20 KB) take several windows.
  const narrow = await Device.acquire({
    label: "narrow",
    limits: { maxStorageBufferBindingSize: 8192, maxComputeWorkgroupsPerDimension: 16 },
  });
  try {
    await tidy(() => divideInWindows(narrow));
  } finally {
    narrow.destroy();
  }
});

/** The integer divisions on `narrow`'s small bindings against the reference, then a fault. */
async function divideInWindows(narrow: Device): Promise<void> {
  const n = 5001;
  const dividends = Array.from({ length: n }, (_, i) => (i * 7919) % 20011 - 10005);
  const divisors = Array.from({ length: n }, (_, i) => (i % 13) - 6 || 7);
  const on = (values: number[]) => tensor(values, { dtype: "i32", device: narrow });
  for (const op of ["floorDivide", "remainder", "fmod"] as const) {
    const got = on(dividends)[op](on(divisors));
    const want = dividends.map((x, i) => REFERENCE[op](x, divisors[i]));
    assert.deepEqual(Array.from(await got.data()), want, op);
  }
  divisors[n - 1] = 0; // the last element, in the last window
  await assert.rejects(
    on(dividends).remainder(on(divisors)).data(),
    /remainder: integer division by zero/,
  );
}

Deno.test("pow, neg, abs, sign of i32", async () => {
  await tidy(async () => {
    const bases = [-3, -2, -1, 0, 1, 2, 3, 7, 46341];
    const a = ints(bases);
    for (const exponent of [0, 1, 2, 3, 5, 10, 31]) {
      const got = a.pow(exponent);
      assert.equal(got.dtype, "i32");
      const want = bases.map((b) => wrap32(BigInt(b) ** BigInt(exponent)));
      assert.deepEqual(Array.from(await got.data()), want, `pow ${exponent}`);
    }
    const root = (await ints([9]).pow(0.5).data())[0];
    assert.ok(Math.abs(root - 3) < 1e-6, `${root}`);
    assert.equal(ints([4]).pow(0.5).dtype, "f32");
    assert.throws(() => a.pow(-1), /pow: integers to negative integer powers are not allowed/);
    const edges = ints([MIN, MAX, -5, 0, 5]);
    // −MIN wraps to MIN, as PyTorch's int32 (and |MIN| too).
    assert.deepEqual(await edges.neg().toArray(), [MIN, -MAX, 5, 0, -5]);
    assert.deepEqual(await edges.abs().toArray(), [MIN, MAX, 5, 0, 5]);
    assert.deepEqual(await edges.sign().toArray(), [-1, 1, -1, 0, 1]);
    assert.equal(edges.sign().dtype, "i32");
  });
});

Deno.test("diff of i32 is i32, wrapping", async () => {
  await tidy(async () => {
    const x = ints([1, 4, 9, 16, MAX, MIN, 0]);
    const first = diff(x);
    assert.equal(first.dtype, "i32");
    const d1 = [3, 5, 7, REFERENCE.sub(MAX, 16), REFERENCE.sub(MIN, MAX), REFERENCE.sub(0, MIN)];
    assert.deepEqual(await first.toArray(), d1);
    const d2 = d1.slice(1).map((v, i) => REFERENCE.sub(v, d1[i]));
    assert.deepEqual(await diff(x, 2).toArray(), d2);
    assert.deepEqual(await diff(ints([2, 5]), 1, 0, { prepend: ints([-1]) }).toArray(), [3, 3]);
  });
});

/** `true` only when `A` and `B` are the same type (as tests/types_test.ts). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Fails to compile unless `T` is `true`. */
function expectType<T extends true>(_proof?: T): void {}

Deno.test("the result dtype is in the types: i32 stays i32, true division is f32", async () => {
  await tidy(async () => {
    const index = tensor([[0], [1]], { dtype: "i32" }) as Tensor<[2, 1], "i32">;
    const offsets = tensor([1, 2, 3], { dtype: "i32" }) as Tensor<[3], "i32">;
    const flat = index.mul(3).add(offsets);
    expectType<Equals<typeof flat, Tensor<[2, 3], "i32">>>();
    const halves = flat.div(2);
    expectType<Equals<typeof halves, Tensor<[2, 3], "f32">>>();
    const wrapped = flat.remainder(4).floorDivide(offsets).fmod(3).pow(2);
    expectType<Equals<typeof wrapped, Tensor<[2, 3], "i32">>>();
    assert.deepEqual([flat.dtype, halves.dtype, wrapped.dtype], ["i32", "f32", "i32"]);
    assert.deepEqual(await flat.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const floats = tensor([1, 2, 3]) as Tensor<[3], "f32">;
    // @ts-expect-error an i32 tensor takes an f32 one only through .float() in the types
    assert.equal(index.add(floats).dtype, "f32"); // (at run time it promotes, as PyTorch)
  });
});

Deno.test("i32 tensors take no gradient", () => {
  assert.throws(
    () => tensor([1, 2], { dtype: "i32", requiresGrad: true }),
    /only f32 tensors can require gradients, got i32/,
  );
});

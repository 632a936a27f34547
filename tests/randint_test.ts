/**
 * `randint` and `Generator.integers`: every value against a host replay of the same Philox
 * words and Lemire's multiply-and-reject (so the draw is exactly uniform by construction, and the
 * test checks that construction bit for bit), at ranges that reject often, the full i32 range,
 * and an odd count; the counts of a small range; seeding; and the errors.
 */

import assert from "node:assert/strict";
import { philoxCpu } from "../kernels/_philox.ts";
import { defaultDevice, Generator, manualSeed, randint, randperm, tidy } from "../mod.ts";

await defaultDevice();

/**
 * The host replay of element `i` of a draw from a generator seeded `seed`, the draw starting at
 * Philox counter `start` (0 for a fresh generator's first draw).
 */
function replay(seed: number, i: number, low: number, high: number, start = 0): number {
  const range = BigInt(high - low);
  const threshold = (2n ** 32n) % range;
  const quad = start + Math.floor(i / 4), lane = i % 4;
  let word = BigInt(philoxCpu([quad, 0, 0, 0], [seed, 0])[lane]);
  for (let attempt = 1; attempt <= 64 && (word * range) % 2n ** 32n < threshold; attempt++) {
    word = BigInt(philoxCpu([quad, 0, attempt, 0], [seed, 0])[lane]);
  }
  return Number(BigInt(low) + (word * range) / 2n ** 32n);
}

Deno.test("randint: each value as the host replays it, rejections included", async () => {
  await tidy(async () => {
    const ranges: [number, number][] = [
      [0, 10],
      [-7, 6],
      [-(2 ** 31), -(2 ** 31) + 3 * 2 ** 30], // a quarter of the words rejected
      [-(2 ** 31), 2 ** 31], // every word a value
      [5, 6], // one value
      [-1, 2 ** 31], // just under half the words rejected
    ];
    for (const [low, high] of ranges) {
      const got = await new Generator(11).integers([1001], low, high).data();
      const want = Array.from({ length: 1001 }, (_, i) => replay(11, i, low, high));
      assert.deepEqual(Array.from(got), want, `[${low}, ${high})`);
    }
  });
});

Deno.test("randint: a small range's counts are uniform, and the seed repeats the draw", async () => {
  await tidy(async () => {
    manualSeed(3);
    const draw = await randint(-3, 4, [70_000]).data();
    const counts = new Array(7).fill(0);
    for (const v of draw) counts[v + 3]++;
    // 10,000 each; a binomial's standard deviation is ~93, so 500 is over 5 of them.
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `counts ${counts}`);
    manualSeed(3);
    assert.deepEqual(await randint(-3, 4, [70_000]).data(), draw);
    const floats = randint(0, 10, [5], { dtype: "f32" });
    assert.equal(floats.dtype, "f32");
    assert.ok((await floats.data()).every((v) => Number.isInteger(v) && v >= 0 && v < 10));
    const labels = randint(0, 10, [2, 3]);
    assert.equal(labels.dtype, "i32");
    assert.deepEqual(labels.shape, [2, 3]);
  });
});

Deno.test("randint: bad bounds and options are one-line errors", () => {
  for (const [low, high] of [[3, 3], [4, 3], [0.5, 3], [0, 2 ** 31 + 1e3 * 2 ** 22], [NaN, 1]]) {
    assert.throws(() => randint(low, high, [2]), /^RangeError: randint: needs integers low < high/);
  }
  assert.throws(
    () => randint(0, 2, [2], { requiresGrad: true }),
    /randint: only f32 tensors can require gradients, got i32/,
  );
  assert.throws(() => randint(0, 2, 3 as unknown as [number]), /randint: the shape is an array/);
});

Deno.test("randperm: the order of two draws' keys, as the host replays it", async () => {
  await tidy(async () => {
    for (const n of [0, 1, 7, 1001]) {
      manualSeed(5);
      const got = Array.from(await randperm(n).data());
      const full = (i: number, start: number) => replay(5, i, -(2 ** 31), 2 ** 31, start);
      const keys = Array.from({ length: n }, (_, i) => [full(i, 0), full(i, Math.ceil(n / 4))]);
      const want = keys.map((_, i) => i).sort((a, b) =>
        keys[a][0] - keys[b][0] || keys[a][1] - keys[b][1] || a - b
      );
      assert.deepEqual(got, want, `n = ${n}`);
      assert.deepEqual([...got].sort((a, b) => a - b), want.map((_, i) => i));
    }
    const floats = randperm(4, { dtype: "f32" });
    assert.equal(floats.dtype, "f32");
    assert.throws(() => randperm(-1), /randperm: n must be an integer ≥ 0, got the number -1/);
    assert.throws(() => randperm(2.5), /randperm: n must be an integer ≥ 0, got the number 2\.5/);
  });
});

/**
 * A sweep of the indexing and reordering ops over random shapes (rank 1 to 4), axes, index
 * shapes (larger along the axis, smaller along the others), duplicated indices, permuted input
 * views and lengths that are not powers of two, against the float64 reference, forward only
 * (the op tests check the gradients). `FUZZ_SEED=s FUZZ_ITERS=k` runs other seeds.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, type Tensor, tidy } from "../mod.ts";
import { assertClose } from "./_gradcheck.ts";
import { Draw, fuzzSeeds } from "./_fuzz.ts";
import * as ix from "./_index_reference.ts";
import * as ref from "./_reference.ts";

type F32 = Tensor<number[], "f32">;

/** A random f32 tensor of `shape`, read through a random permutation (a strided view). */
function permutedInput(draw: Draw, shape: number[]): { x: F32; values: ref.F64 } {
  const values = ref.f64(
    shape,
    Float32Array.from({ length: ref.numel(shape) }, () => draw.next() * 4 - 2),
  );
  const order = shape.map((_, a) => a);
  for (let k = order.length - 1; k > 0; k--) {
    const j = draw.int(0, k);
    [order[k], order[j]] = [order[j], order[k]];
  }
  // Stored in the permuted order, then permuted back: the same values, a non-contiguous view.
  const inverse = order.map((_, a) => order.indexOf(a));
  const stored = ref.permute(values, order);
  const x = fromTypedArray(Float32Array.from(stored.data), stored.shape).permute(inverse) as F32;
  return { x, values };
}

Deno.test("indexing and reordering ops on random shapes and views match float64", async (t) => {
  await defaultDevice();
  for (const seed of fuzzSeeds("index ops", 12)) {
    await t.step(`seed ${seed}`, async () => {
      const draw = new Draw(seed);
      const rank = draw.int(1, 4);
      const shape = Array.from({ length: rank }, () => draw.int(1, rank > 2 ? 6 : 40));
      const dim = draw.int(0, rank - 1);
      const { x, values } = permutedInput(draw, shape);
      const indexShape = shape.map((d, a) => (a === dim ? draw.int(1, 2 * d + 3) : draw.int(1, d)));
      const index = ix.randomIndex(indexShape, shape[dim], draw.next);
      const label = `[${shape}] dim ${dim} index [${indexShape}]`;
      await tidy(async () => {
        const at = fromTypedArray(index.data, indexShape) as Tensor<number[], "i32">;
        const got = async (y: Tensor) => Array.from(await y.data());
        assert.deepEqual(
          await got(x.gather(dim, at)),
          Array.from(Float32Array.from(ix.gather(values, dim, index).data)),
          `gather ${label}`,
        );
        const src = ref.f64(
          indexShape,
          Float32Array.from({ length: index.data.length }, () => draw.int(-8, 8)),
        );
        const srcT = fromTypedArray(Float32Array.from(src.data), indexShape) as F32;
        // Small integers: every order of summation gives the same f32 sum.
        const whole = ref.map(values, Math.round);
        const wholeT = fromTypedArray(Float32Array.from(whole.data), shape) as F32;
        assert.deepEqual(
          await got(wholeT.scatterAdd(dim, at, srcT)),
          Array.from(ix.scatter(whole, dim, index, src, true).data),
          `scatterAdd ${label}`,
        );
        assert.deepEqual(
          await got(x.scatter(dim, at, srcT)),
          Array.from(Float32Array.from(ix.scatter(values, dim, index, src, false).data)),
          `scatter ${label}`,
        );
        const rows = index.data.slice(0, indexShape[dim]);
        const rowsT = fromTypedArray(rows, [rows.length]) as Tensor<number[], "i32">;
        assert.deepEqual(
          await got(x.indexSelect(dim, rowsT)),
          Array.from(Float32Array.from(ix.indexSelect(values, dim, rows).data)),
          `indexSelect ${label}`,
        );
        const descending = draw.next() < 0.5;
        const order = ix.argsort(values, dim, descending);
        assert.deepEqual(
          await got(x.argsort({ dim, descending })),
          Array.from(order.data),
          `argsort ${label}`,
        );
        assertClose(await x.cumsum(dim).data(), ix.cumulative(values, dim, false).data, {
          rtol: 1e-5,
          atol: 1e-5,
          label: `cumsum ${label}`,
        });
        const shift = draw.int(-50, 50);
        const mod = (a: number, m: number) => ((a % m) + m) % m;
        const rolled = ix.moved(
          values,
          shape,
          (c) => c.map((v, a) => (a === dim ? mod(v - shift, shape[a]) : v)),
        );
        assert.deepEqual(
          await got(x.roll(shift, dim)),
          Array.from(Float32Array.from(rolled.data)),
          `roll ${shift} ${label}`,
        );
        const flipped = ix.moved(
          values,
          shape,
          (c) => c.map((v, a) => (a === dim ? shape[a] - 1 - v : v)),
        );
        assert.deepEqual(
          await got(x.flip(dim)),
          Array.from(Float32Array.from(flipped.data)),
          `flip ${label}`,
        );
        if (rank >= 2) {
          const k = draw.int(-3, 3);
          const lower = ix.moved(values, shape, (c) => (c[rank - 1] - c[rank - 2] <= k ? c : null));
          assert.deepEqual(
            await got(x.tril(k)),
            Array.from(Float32Array.from(lower.data)),
            `tril ${k} ${label}`,
          );
        }
      });
      x.dispose();
    });
  }
});

Deno.test("argsort of long rows matches a stable sort (lengths around powers of two)", async () => {
  await defaultDevice();
  const draw = new Draw(4242);
  for (const length of [2, 3, 255, 256, 257, 1023, 4099]) {
    const data = Float32Array.from(
      { length: 2 * length },
      () => draw.int(-20, 20) + (draw.next() < 0.01 ? NaN : 0),
    );
    const x = fromTypedArray(data, [2, length]);
    for (const descending of [false, true]) {
      const got = await x.argsort({ descending }).data();
      assert.deepEqual(
        Array.from(got),
        Array.from(ix.argsort({ shape: [2, length], data }, 1, descending).data),
        `length ${length}`,
      );
    }
    x.dispose();
  }
});

Deno.test("a new shape of the same rank compiles no new pipeline (shapes are uniforms)", async () => {
  const device = await defaultDevice();
  const exercise = async (rows: number, cols: number) => {
    const x = fromTypedArray(
      Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i)),
      [rows, cols],
      { requiresGrad: true },
    ) as F32;
    const index = fromTypedArray(
      Int32Array.from({ length: rows * 2 }, (_, i) => i % cols),
      [rows, 2],
    ) as Tensor<number[], "i32">;
    const rowsPicked = fromTypedArray(Int32Array.of(1, 0, 1), [3]) as Tensor<number[], "i32">;
    const loss = tidy(() =>
      [
        x.gather(1, index).sum(),
        x.scatterAdd(1, index, x.gather(1, index)).sum(),
        x.scatter(1, index, 0.5).sum(),
        x.indexSelect(0, rowsPicked).sum(),
        x.sort({ dim: 1 }).values.sum(),
        x.topk(2, { dim: 1 }).values.sum(),
        x.maxWithIndices(0).values.sum(),
        x.cumsum(1).sum(),
        x.cumprod(0).sum(),
        x.flip(0).roll(2, 1).tril(1).triu(-1).sum(),
        x.norm(3, 1).sum(),
        x.sin().atan().sum(),
      ].reduce((a, b) => a.add(b))
    );
    await loss.backward();
    await x.grad!.sum().item();
    for (const t of [x, index, rowsPicked, loss]) t.dispose();
  };
  await exercise(5, 7);
  const before = device.compiledKernels().length;
  await exercise(9, 3);
  assert.deepEqual(device.compiledKernels().slice(before), []);
});

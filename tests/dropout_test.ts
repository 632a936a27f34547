/**
 * Dropout draws its mask inside the kernel that applies it: bit for bit the mask that
 * `dropoutMask` draws from the same generator state (odd sizes, several states, p = 0, 0.5, 1),
 * the generator advanced as far, the backward applying the same mask to the gradient, a column
 * block of a wider draw (the towers' halves), evaluation mode, and no mask kept between the
 * forward and the backward.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, Generator, type Shape, type Tensor } from "../mod.ts";
import { dropout, dropoutMask } from "../tensor/ops_cnn.ts";
import { slice } from "../tensor/ops_shape.ts";
import { dropout as dropoutKernel } from "../kernels/random.ts";
import { mulberry32 } from "./_reference.ts";

function values(shape: number[], seed: number, grad = false): Tensor<Shape, "f32"> {
  const rng = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: size }, () => rng() * 4 - 2);
  return fromTypedArray(data, shape, { requiresGrad: grad }) as Tensor<Shape, "f32">;
}

/** A generator at `seed` moved to stream position `offset`. */
function at(seed: number, offset: number): Generator {
  const g = new Generator(seed);
  g.setState({ seed, offset });
  return g;
}

/** The bits of `x`'s elements. */
async function bits(x: Tensor): Promise<Uint32Array> {
  return new Uint32Array((await x.data()).buffer);
}

// Seeds with and without a high word; offsets at 0, odd, and where the counter's low word wraps.
const STATES: [number, number][] = [[0, 0], [1, 3], [2 ** 40 + 5, 12345], [7, 2 ** 32 - 2]];
const SHAPES: number[][] = [[1], [7], [33], [129], [5, 13], [3, 4, 7]];

Deno.test("dropout draws its mask in the kernel that applies it", async (t) => {
  const device = await defaultDevice();

  await t.step(
    "bit for bit the mask of dropoutMask, and the generator advanced as far",
    async () => {
      let seed = 1;
      for (const [s, offset] of STATES) {
        for (const shape of SHAPES) {
          for (const p of [0.5, 0.1, 1]) {
            const x = values(shape, seed++);
            const fused = at(s, offset), old = at(s, offset);
            const y = dropout(x, p, { training: true, generator: fused });
            const mask = dropoutMask(shape, p, old);
            const want = x.mul(mask);
            const label = `seed ${s} offset ${offset} [${shape}] p ${p}`;
            assert.deepEqual(await bits(y), await bits(want), label);
            assert.deepEqual(fused.state(), old.state(), `${label}: generator state`);
            for (const z of [x, y, mask, want]) z.dispose();
          }
        }
      }
    },
  );

  await t.step("p = 0 and evaluation mode: the identity, the generator untouched", async () => {
    const x = values([5, 13], 50);
    for (const [p, training] of [[0, true], [0.5, false]] as const) {
      const g = at(3, 17);
      const y = dropout(x, p, { training, generator: g });
      assert.deepEqual(await bits(y), await bits(x));
      assert.deepEqual(g.state(), { seed: 3, offset: 17 });
      y.dispose();
    }
    x.dispose();
  });

  await t.step("the backward applies the same mask to the gradient", async () => {
    for (const [s, offset] of STATES) {
      for (const p of [0.5, 1]) {
        const x = values([9, 11], 60, true), dy = values([9, 11], 61);
        const y = dropout(x, p, { training: true, generator: at(s, offset) });
        await y.mul(dy).sum().backward();
        const mask = dropoutMask([9, 11], p, at(s, offset));
        const want = dy.mul(mask);
        assert.deepEqual(await bits(x.grad!), await bits(want), `seed ${s} p ${p}`);
        for (const z of [x, dy, y, mask, want]) z.dispose();
      }
    }
  });

  await t.step("a block of columns gets those columns of the wider tensor's mask", async () => {
    // Two towers holding half of a layer's outputs each: 7 columns (a quad spans two rows) and
    // 8 columns (rows of whole quads).
    for (const [rows, half] of [[5, 7], [3, 8]]) {
      const whole = values([rows, 2 * half], 70), g = at(11, 9);
      const mask = dropoutMask([rows, 2 * half], 0.5, g);
      const want = whole.mul(mask);
      const after = g.state();
      for (const part of [0, 1]) {
        const cut = (t: Tensor) => slice(t, 1, part * half, (part + 1) * half).contiguous();
        const input = cut(whole), own = cut(want), tower = at(11, 9);
        const got = dropout(input, 0.5, {
          training: true,
          generator: tower,
          within: { width: 2 * half, first: part * half },
        });
        const label = `${half} columns, tower ${part}`;
        assert.deepEqual(await bits(got), await bits(own), label);
        assert.deepEqual(tower.state(), after, `${label}: the stream passes the whole mask`);
        for (const z of [input, got, own]) z.dispose();
      }
      assert.throws(
        () => dropout(whole, 0.5, { training: true, within: { width: 20, first: 7 } }),
        /not a block of columns 7… of a 20-wide tensor/,
      );
      for (const z of [whole, mask, want]) z.dispose();
    }
  });

  await t.step("no mask is kept between the forward and the backward", async () => {
    const x = values([64, 64], 80, true);
    const before = device.memory().liveBytes;
    const y = dropout(x, 0.5, { training: true, generator: new Generator(1) });
    // The output alone: no saved mask (nor input) waits for the backward.
    assert.equal(device.memory().liveBytes - before, 64 * 64 * 4);
    await y.sum().backward();
    x.dispose();
    y.dispose();
  });

  await t.step("the kernel checks its block and probability", () => {
    const a = device.alloc(64), b = device.alloc(64), stream = { seed: [1, 0] as const, offset: 0 };
    assert.throws(
      () =>
        dropoutKernel(device, {
          x: a,
          out: b,
          n: 10,
          p: 0.5,
          stream,
          block: { columns: 4, width: 8, first: 0 },
        }),
      /10 elements are not rows of 4 columns/,
    );
    assert.throws(
      () => dropoutKernel(device, { x: a, out: b, n: 4, p: 2, stream }),
      /probability 2/,
    );
    assert.throws(
      () => dropoutKernel(device, { x: a, out: a, n: 4, p: 0.5, stream }),
      /same buffer/,
    );
    device.release(a);
    device.release(b);
  });
});

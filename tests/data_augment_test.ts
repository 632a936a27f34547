import assert from "node:assert/strict";
import { augmentBatch, centerCrop, tenCrop } from "../train/data/augment.ts";
import type { Sample } from "../train/data/dataset.ts";
import { Rng } from "../train/data/rng.ts";

const S = 16;
/** Pixel (x, y) holds R = x, G = y, B = 100 + label, so crops reveal where they came from. */
function coordSample(label: number, h = S, w = S): Sample {
  const pixels = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels.set([x, y, 100 + label], (y * w + x) * 3);
  }
  return { pixels, label };
}

/** Value of channel c at (y, x) of image n in an NCHW batch. */
function at(
  images: Float32Array,
  shape: number[],
  n: number,
  c: number,
  y: number,
  x: number,
): number {
  const [, C, H, W] = shape;
  return images[((n * C + c) * H + y) * W + x];
}

Deno.test("augmentation", async (t) => {
  await t.step("random crops stay inside the image and cover every position", () => {
    const samples = Array.from({ length: 400 }, (_, i) => coordSample(i % 10));
    const crop = 11;
    const b = augmentBatch(samples, { crop, flip: false, scale: 1 }, new Rng(1));
    assert.deepEqual(b.batchShape, [400, 3, crop, crop]);
    const seenX = new Set<number>(), seenY = new Set<number>();
    for (let n = 0; n < 400; n++) {
      const x0 = at(b.images, b.batchShape, n, 0, 0, 0),
        y0 = at(b.images, b.batchShape, n, 1, 0, 0);
      assert.ok(x0 >= 0 && y0 >= 0 && x0 + crop <= S && y0 + crop <= S);
      for (let y = 0; y < crop; y++) {
        for (let x = 0; x < crop; x++) {
          assert.equal(at(b.images, b.batchShape, n, 0, y, x), x0 + x);
          assert.equal(at(b.images, b.batchShape, n, 1, y, x), y0 + y);
        }
      }
      assert.equal(b.labels[n], n % 10);
      seenX.add(x0);
      seenY.add(y0);
    }
    assert.equal(seenX.size, S - crop + 1);
    assert.equal(seenY.size, S - crop + 1);
  });

  await t.step("flip is an exact horizontal reflection, with probability ~0.5", () => {
    const samples = Array.from({ length: 1000 }, () => coordSample(0));
    const b = augmentBatch(samples, { crop: 12, flip: true, scale: 1 }, new Rng(2));
    let flipped = 0;
    for (let n = 0; n < 1000; n++) {
      const first = at(b.images, b.batchShape, n, 0, 0, 0),
        last = at(b.images, b.batchShape, n, 0, 0, 11);
      const isFlip = first > last;
      if (isFlip) flipped++;
      const x0 = isFlip ? last : first, y0 = at(b.images, b.batchShape, n, 1, 0, 0);
      for (let y = 0; y < 12; y++) {
        for (let x = 0; x < 12; x++) {
          assert.equal(at(b.images, b.batchShape, n, 0, y, x), isFlip ? x0 + 11 - x : x0 + x);
          assert.equal(at(b.images, b.batchShape, n, 1, y, x), y0 + y);
        }
      }
    }
    assert.ok(flipped > 430 && flipped < 570, `${flipped} of 1000 flipped`);
  });

  await t.step("the same rng state gives the same batch", () => {
    const samples = Array.from({ length: 8 }, (_, i) => coordSample(i));
    const opts = {
      crop: 9,
      pca: {
        eigenvalues: [0.2, 0.1, 0.05],
        eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        sigma: 0.1,
      },
    };
    const r = new Rng(3);
    const saved = r.state();
    const a = augmentBatch(samples, opts, r);
    r.restore(saved);
    assert.deepEqual(augmentBatch(samples, opts, r), a);
    assert.notDeepEqual(augmentBatch(samples, opts, r).images, a.images);
  });

  await t.step("PCA colour noise: mean 0 and std σ·λ_i along each eigenvector", () => {
    const c = Math.SQRT1_2, k = 1 / Math.sqrt(3), q = 1 / Math.sqrt(6);
    const eigenvectors = [[k, k, k], [c, 0, -c], [q, -2 * q, q]];
    const eigenvalues = [0.25, 0.04, 0.01], sigma = 0.1;
    const n = 20000;
    const samples = Array.from(
      { length: n },
      () => ({ pixels: new Uint8Array(2 * 2 * 3).fill(128), label: 0 }),
    );
    const b = augmentBatch(
      samples,
      { flip: false, pca: { eigenvalues, eigenvectors, sigma } },
      new Rng(4),
    );
    const base = 128 / 255;
    const sum = [0, 0, 0], sum2 = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const off = [0, 1, 2].map((ch) => at(b.images, b.batchShape, i, ch, 0, 0) - base);
      for (let ch = 0; ch < 3; ch++) { // the same offset on every pixel of the image
        for (const [y, x] of [[0, 1], [1, 0], [1, 1]]) {
          assert.ok(Math.abs(at(b.images, b.batchShape, i, ch, y, x) - base - off[ch]) < 1e-6);
        }
      }
      for (let e = 0; e < 3; e++) {
        const proj = off[0] * eigenvectors[e][0] + off[1] * eigenvectors[e][1] +
          off[2] * eigenvectors[e][2];
        sum[e] += proj;
        sum2[e] += proj * proj;
      }
    }
    for (let e = 0; e < 3; e++) {
      const mean = sum[e] / n,
        std = Math.sqrt(sum2[e] / n - mean * mean),
        want = sigma * eigenvalues[e];
      assert.ok(Math.abs(mean) < (4 * want) / Math.sqrt(n), `mean along p${e + 1}: ${mean}`);
      assert.ok(Math.abs(std / want - 1) < 0.03, `std along p${e + 1}: ${std}, want ${want}`);
    }
  });

  await t.step(
    "mean subtraction: per channel, and a mean image indexed at the source pixel",
    () => {
      const s = coordSample(1);
      const perChannel = centerCrop([s], { mean: [1, 2, 3], scale: 1 });
      for (let y = 0; y < S; y++) {
        assert.equal(at(perChannel.images, perChannel.batchShape, 0, 0, y, 5), 5 - 1);
        assert.equal(at(perChannel.images, perChannel.batchShape, 0, 1, y, 5), y - 2);
        assert.equal(at(perChannel.images, perChannel.batchShape, 0, 2, y, 5), 101 - 3);
      }
      // Mean image = the image itself (scaled): every crop, flipped or not, becomes exactly 0.
      const meanImage = Float32Array.from(s.pixels, (v) => v / 255);
      const samples = Array.from({ length: 50 }, () => s);
      const b = augmentBatch(samples, { crop: 7, flip: true, mean: meanImage }, new Rng(5));
      assert.ok(b.images.every((v) => Math.abs(v) < 1e-6));
      const t10 = tenCrop([s], { crop: 7, mean: meanImage });
      assert.ok(t10.images.every((v) => Math.abs(v) < 1e-6));
    },
  );

  await t.step("centerCrop and tenCrop positions and reflections", () => {
    const s = coordSample(4, 10, 13); // height 10, width 13
    const cc = centerCrop([s], { crop: 6, height: 10, width: 13, scale: 1 });
    assert.deepEqual(cc.batchShape, [1, 3, 6, 6]);
    // torchvision's CenterCrop: round((13 − 6) / 2) = round(3.5) = 4, a half to even (it was
    // floor, 3, a column left of PyTorch's crop); (10 − 6) / 2 = 2.
    assert.equal(at(cc.images, cc.batchShape, 0, 0, 0, 0), 4);
    assert.equal(at(cc.images, cc.batchShape, 0, 1, 0, 0), 2);
    const five = centerCrop([coordSample(0, 10, 13)], { crop: 8, height: 10, width: 13, scale: 1 });
    assert.equal(at(five.images, five.batchShape, 0, 0, 0, 0), 2); // round(2.5) = 2

    const b = tenCrop([coordSample(7, 10, 13), s], { crop: 6, height: 10, width: 13, scale: 1 });
    assert.deepEqual(b.batchShape, [20, 3, 6, 6]);
    assert.deepEqual([...b.labels], [7, 4]);
    const origins = [[0, 0], [7, 0], [0, 4], [7, 4], [4, 2]];
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < 10; k++) {
        const [x0, y0] = origins[k % 5], flip = k >= 5;
        for (let y = 0; y < 6; y++) {
          for (let x = 0; x < 6; x++) {
            assert.equal(
              at(b.images, b.batchShape, n * 10 + k, 0, y, x),
              flip ? x0 + 5 - x : x0 + x,
            );
            assert.equal(at(b.images, b.batchShape, n * 10 + k, 1, y, x), y0 + y);
          }
        }
      }
    }
  });

  await t.step("rejects crops and means that do not fit", () => {
    const s = [coordSample(0)];
    assert.throws(() => centerCrop(s, { crop: 17 }), RangeError);
    assert.throws(() => centerCrop(s, { mean: new Float32Array(5) }), RangeError);
    assert.throws(
      () => augmentBatch([{ pixels: new Uint8Array(12), label: 0 }, ...s], {}, new Rng(0)),
      RangeError,
    );
  });
});

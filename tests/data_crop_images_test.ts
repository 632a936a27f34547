/**
 * The device's image crops (`cropImages`, one kernel from u8 pixels) against the host reference
 * (`cropImagesOnHost`, the loader's `images`) bit for bit: the paper's random crops with
 * reflection, PCA noise and a mean image or per-channel mean, the centre and ten crops, odd
 * sizes, a batch of one, batches cut into several bindings (shifted, out-of-order samples), two
 * devices; the host reference against the float64 formula the augmentation had before; the
 * one-line errors.
 */

import assert from "node:assert/strict";
import { Device, resetTransferStats, transferStats } from "../kernels/device.ts";
import { cropImages as cropImagesKernel } from "../kernels/crop_images.ts";
import {
  cropImages,
  cropImagesOnHost,
  type ImageCrops,
  type ImagePatch,
  replicateImages,
} from "../tensor/images.ts";
import {
  augmentedCrops,
  type AugmentOptions,
  centerCrops,
  tenCrops,
} from "../train/data/augment.ts";
import type { Sample } from "../train/data/dataset.ts";
import { DataLoader } from "../train/data/loader.ts";
import { Rng } from "../train/data/rng.ts";
import { SyntheticDataset, syntheticSplits } from "../train/data/synthetic.ts";
import { Flatten, Linear, Module, Sequential } from "../nn/mod.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { setDefaultDevice } from "../tensor/default_device.ts";
import { SGD } from "../train/sgd.ts";
import { Trainer } from "../train/trainer.ts";

const device = await Device.acquire();
setDefaultDevice(device);

function randomSamples(count: number, h: number, w: number, seed: number): Sample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    pixels: Uint8Array.from({ length: h * w * 3 }, () => rng.int(256)),
    label: i % 5,
  }));
}

function meanImageOf(h: number, w: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: h * w * 3 }, () => 0.3 + 0.4 * rng.next());
}

const pca = {
  eigenvalues: [0.2175, 0.0188, 0.0045],
  eigenvectors: [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]],
  sigma: 0.1,
};

/** The bits of a float32 array (so −0 and 0 differ, and NaN compares). */
function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Asserts that the device's crops equal the host reference's, bit for bit. */
async function assertDeviceMatchesHost(crops: ImageCrops, what: string): Promise<void> {
  const onDevice = cropImages(crops, { device });
  assert.deepEqual(onDevice.shape, [crops.patches.length, 3, crops.cropHeight, crops.cropWidth]);
  const got = await onDevice.data() as Float32Array;
  onDevice.dispose();
  const want = cropImagesOnHost(crops);
  const a = bits(got), b = bits(want);
  const first = a.findIndex((v, i) => v !== b[i]);
  assert.equal(a.length, b.length, what);
  assert.equal(
    first,
    -1,
    `${what}: element ${first} is ${got[first]} on the device, ${want[first]} on the host`,
  );
}

/**
 * The augmentation's arithmetic before the patches: `pixel · scale + Σ p·α·λ − mean` in float64,
 * rounded once (the same draws, from the same Rng).
 */
function float64Augment(samples: Sample[], o: AugmentOptions, rng: Rng, h: number, w: number) {
  const ch = o.crop ?? h, cw = o.crop ?? w, scale = o.scale ?? 1 / 255;
  const out = new Float32Array(samples.length * 3 * ch * cw);
  const perChannel = o.mean && o.mean.length === 3 ? o.mean : [0, 0, 0];
  const image = o.mean && o.mean.length !== 3 ? o.mean : null;
  samples.forEach((s, n) => {
    const x0 = w > cw ? rng.int(w - cw + 1) : 0, y0 = h > ch ? rng.int(h - ch + 1) : 0;
    const flip = (o.flip ?? true) && rng.next() < 0.5;
    const add = perChannel.map((m) => -m);
    if (o.pca) {
      for (let i = 0; i < 3; i++) {
        const k = rng.normal(0, o.pca.sigma) * o.pca.eigenvalues[i];
        for (let c = 0; c < 3; c++) add[c] += o.pca.eigenvectors[i][c] * k;
      }
    }
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < ch; y++) {
        for (let x = 0; x < cw; x++) {
          const src = ((y0 + y) * w + (flip ? x0 + cw - 1 - x : x0 + x)) * 3 + c;
          out[((n * 3 + c) * ch + y) * cw + x] = s.pixels[src] * scale + add[c] -
            (image ? image[src] : 0);
        }
      }
    }
  });
  return out;
}

Deno.test("cropImages equals the host reference bit for bit", async (t) => {
  await t.step(
    "random crops, reflection, PCA noise, mean image (the paper's augmentation)",
    async () => {
      const h = 19, w = 23, samples = randomSamples(9, h, w, 1);
      const options = {
        crop: 15,
        flip: true,
        pca,
        mean: meanImageOf(h, w, 2),
        height: h,
        width: w,
      };
      const { crops } = augmentedCrops(samples, options, new Rng(3));
      assert.ok(crops.patches.some((p) => p.flip) && crops.patches.some((p) => !p.flip));
      await assertDeviceMatchesHost(crops, "mean image");
    },
  );

  await t.step("per-channel mean, PCA noise, scale 1 and an unusual scale", async () => {
    const samples = randomSamples(6, 16, 16, 4);
    for (const scale of [1, 1 / 255, 0.0173]) {
      const options = { crop: 13, flip: true, pca, mean: [0.485, 0.456, 0.406], scale };
      const { crops } = augmentedCrops(samples, options, new Rng(5));
      await assertDeviceMatchesHost(crops, `scale ${scale}`);
    }
  });

  await t.step("the centre crop and the ten crops, with either mean", async () => {
    const h = 12, w = 17, samples = randomSamples(3, h, w, 6);
    for (const mean of [[0.5, 0.25, 0.125], meanImageOf(h, w, 7), null]) {
      const options = { crop: 9, mean, height: h, width: w };
      await assertDeviceMatchesHost(centerCrops(samples, options).crops, "centre");
      const ten = tenCrops(samples, options).crops;
      assert.equal(ten.patches.length, 30);
      await assertDeviceMatchesHost(ten, "ten crops");
    }
  });

  await t.step("odd sizes: 7×5 images, crop 3; a batch of one; no crop", async () => {
    const samples = randomSamples(5, 7, 5, 8);
    const odd = { crop: 3, flip: true, pca, mean: meanImageOf(7, 5, 9), height: 7, width: 5 };
    await assertDeviceMatchesHost(augmentedCrops(samples, odd, new Rng(10)).crops, "7×5");
    await assertDeviceMatchesHost(
      augmentedCrops(samples.slice(0, 1), odd, new Rng(11)).crops,
      "batch 1",
    );
    const whole = { flip: true, height: 7, width: 5 };
    await assertDeviceMatchesHost(augmentedCrops(samples, whole, new Rng(12)).crops, "no crop");
  });

  await t.step(
    "crops 1 to 9 wide at every column, mirrored or not, up to the pixels' last byte",
    async () => {
      // A thread writes 4 adjacent columns from the words that hold their bytes: every width
      // leaves a different partial group, every x0 a different byte alignment, and the last
      // sample's right edge ends the binding (its 3·h·w bytes are not whole words).
      const h = 3, w = 11, samples = randomSamples(3, h, w, 41), rng = new Rng(42);
      const pixels = new Uint8Array(samples.flatMap((s) => [...s.pixels]));
      for (const cropWidth of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
        const patches: ImagePatch[] = [];
        for (let x0 = 0; x0 + cropWidth <= w; x0++) {
          for (const flip of [false, true]) {
            const offset = [rng.next() - 0.5, 0, rng.next()] as const;
            patches.push({ sample: 2 - (x0 % 3), x0, y0: x0 % h, flip, offset });
          }
        }
        for (const meanImage of [meanImageOf(h, w, cropWidth), null]) {
          const crops = { pixels, height: h, width: w, cropHeight: 1, cropWidth, scale: 1 / 255 };
          await assertDeviceMatchesHost(
            { ...crops, patches, meanImage },
            `crop width ${cropWidth}${meanImage ? ", mean image" : ""}`,
          );
        }
      }
    },
  );

  await t.step("the mean image is uploaded once while the same array comes back", async () => {
    const h = 5, w = 6, samples = randomSamples(2, h, w, 51);
    const options = { crop: 4, flip: true, pca, mean: meanImageOf(h, w, 52), height: h, width: w };
    const { crops } = augmentedCrops(samples, options, new Rng(53));
    await assertDeviceMatchesHost(crops, "first batch"); // uploads this mean image
    resetTransferStats();
    await assertDeviceMatchesHost(crops, "same mean image");
    const pixelBytes = crops.pixels.byteLength, patchBytes = 32 * crops.patches.length;
    assert.equal(transferStats().bytesWritten, pixelBytes + patchBytes);
    // Another array replaces it, and the arrays alternate correctly.
    const other = { ...crops, meanImage: meanImageOf(h, w, 54) };
    await assertDeviceMatchesHost(other, "another mean image");
    await assertDeviceMatchesHost(crops, "the first mean image again");
  });

  await t.step(
    "a batch cut into several bindings, patches reading samples out of order",
    async () => {
      const h = 9, w = 7, count = 13, samples = randomSamples(count, h, w, 13);
      const { crops } = augmentedCrops(samples, {
        crop: 5,
        flip: true,
        pca,
        mean: meanImageOf(h, w, 14),
        height: h,
        width: w,
      }, new Rng(15));
      // Reverse and repeat samples so that slices bind shifted, overlapping source ranges.
      const rng = new Rng(16);
      const patches: ImagePatch[] = Array.from({ length: 29 }, () => ({
        ...crops.patches[rng.int(count)],
        sample: rng.int(count),
      }));
      const shuffled = { ...crops, patches };
      const want = bits(cropImagesOnHost(shuffled));
      for (const maxBindingBytes of [700, 1300, 4096]) {
        const pixels = device.alloc(crops.pixels.byteLength), mean = device.alloc(h * w * 12);
        const out = device.alloc(want.byteLength);
        device.write(pixels, crops.pixels);
        device.write(mean, crops.meanImage!);
        const before = device.memory().dispatches;
        cropImagesKernel(device, {
          ...shuffled,
          pixels,
          samples: count,
          meanImage: mean,
          out,
          maxBindingBytes,
        });
        const got = new Uint32Array(await device.read(out, 0, want.byteLength));
        assert.deepEqual(got, want, `bindings of at most ${maxBindingBytes} bytes`);
        const dispatches = device.memory().dispatches - before;
        assert.ok(dispatches >= 3, `${dispatches} slices`);
        for (const b of [pixels, mean, out]) device.release(b);
      }
    },
  );

  await t.step("a binding too small for one crop is refused in one line", () => {
    const { crops } = centerCrops(randomSamples(1, 8, 8, 17), { crop: 8 });
    const pixels = device.alloc(192), out = device.alloc(768);
    assert.throws(
      () =>
        cropImagesKernel(device, {
          ...crops,
          pixels,
          samples: 1,
          meanImage: null,
          out,
          maxBindingBytes: 512,
        }),
      /cropImages: one 8×8 crop \(768 bytes\) or one 8×8 sample \(192 bytes\) exceeds the 512-byte binding limit/,
    );
    device.release(pixels);
    device.release(out);
  });
});

Deno.test("the patches' host reference keeps the float64 augmentation within float32 rounding", () => {
  const h = 20, w = 18, samples = randomSamples(12, h, w, 20);
  for (const mean of [[0.485, 0.456, 0.406], meanImageOf(h, w, 21)]) {
    const options = { crop: 14, flip: true, pca, mean, height: h, width: w };
    const now = cropImagesOnHost(augmentedCrops(samples, options, new Rng(22)).crops);
    const before = float64Augment(samples, options, new Rng(22), h, w);
    let worst = 0;
    for (let i = 0; i < now.length; i++) {
      // One rounding then against three: a few units in the last place of the inputs' size.
      worst = Math.max(worst, Math.abs(now[i] - before[i]));
    }
    assert.ok(worst <= 4 * 2 ** -24, `largest difference ${worst}`);
    assert.ok(worst > 0, "the reference rounds each step, so it differs somewhere");
  }
});

Deno.test("the loader's batches: images on first read equal the device's input", async () => {
  const ds = new SyntheticDataset({ count: 10, size: 12, seed: 3 });
  const loader = new DataLoader(ds, {
    batchSize: 4,
    seed: 7,
    augment: { crop: 9, flip: true, pca, mean: [0.5, 0.4, 0.3] },
  });
  for (let i = 0; i < 3; i++) {
    const batch = await loader.next();
    assert.deepEqual(batch.batchShape, [batch.labels.length, 3, 9, 9]);
    assert.equal(batch.images, batch.images, "computed once");
    const x = cropImages(batch.crops, { device });
    assert.deepEqual(bits(await x.data() as Float32Array), bits(batch.images));
    x.dispose();
  }
  loader.close();
});

/** A linear classifier that keeps a copy of every input it is given, by mode. */
class Recorder extends Module {
  readonly net = this.registerModule(
    "net",
    new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 9 * 9, outFeatures: 4 })),
  );
  readonly seen: { training: boolean; images: Float32Array }[] = [];
  async forward(x: Tensor): Promise<Tensor> {
    this.seen.push({ training: this.training, images: await x.data() as Float32Array });
    return this.net.forward(x);
  }
}

Deno.test("the trainer's inputs are the loader's batches: the same draws, the float64 values to rounding", async () => {
  const { train, val } = syntheticSplits({
    trainSize: 20,
    valSize: 6,
    size: 12,
    classes: 4,
    seed: 5,
  });
  const augment = { crop: 9, flip: true, pca, mean: [0.5, 0.4, 0.3] };
  const model = new Recorder();
  const optimizer = SGD.forModule(model, { lr: 0.01 });
  const trainer = new Trainer({
    model,
    optimizer,
    trainData: train,
    valData: val,
    epochs: 2,
    batchSize: 8,
    seed: 9,
    augment,
  });
  await trainer.run();
  const { dropLast, batchesPerEpoch: per } = trainer.loader;
  trainer.dispose();
  optimizer.dispose();
  const loader = new DataLoader(train, { batchSize: 8, seed: 9, augment, dropLast });
  const training = model.seen.filter((s) => s.training).map((s) => s.images);
  assert.equal(training.length, 2 * per);
  for (const [i, images] of training.entries()) {
    const [epoch, index] = [Math.floor(i / per), i % per];
    const batch = loader.batchAt(epoch, index);
    assert.deepEqual(bits(images), bits(batch.images), `training batch ${i}`);
    const samples = Array.from(batch.indices, (k) => train.get(k));
    const before = float64Augment(samples, augment, new Rng(9, 2, epoch, index), 12, 12);
    assert.ok(images.every((v, k) => Math.abs(v - before[k]) <= 4 * 2 ** -24), `batch ${i}`);
  }
  // Validation: the centre crop of every sample, in order, once per epoch.
  const centre = centerCrops(Array.from({ length: 6 }, (_, k) => val.get(k)), augment).crops;
  const validation = model.seen.filter((s) => !s.training).map((s) => s.images);
  assert.equal(validation.length, 2);
  for (const images of validation) assert.deepEqual(bits(images), bits(cropImagesOnHost(centre)));
});

Deno.test("two devices build the same input, declared replicas", async () => {
  const [a, b] = await Device.acquireMany(2);
  const samples = randomSamples(4, 10, 10, 30);
  const { crops } = augmentedCrops(samples, { crop: 8, pca, mean: [0.1, 0.2, 0.3] }, new Rng(31));
  const [onA, onB] = replicateImages(crops, [a, b, a]);
  assert.equal(onA.device, a);
  assert.equal(onB.device, b);
  resetTransferStats();
  const moved = await onA.to(b);
  assert.deepEqual([transferStats().bytesCopied, transferStats().syncPoints], [0, 0], "no copy");
  const want = bits(cropImagesOnHost(crops));
  assert.deepEqual(bits(await onA.data() as Float32Array), want);
  assert.deepEqual(bits(await onB.data() as Float32Array), want);
  for (const x of [onA, onB, moved]) x.dispose();
});

Deno.test("cropImages refuses what does not fit, in one line", () => {
  const base: ImageCrops = {
    pixels: new Uint8Array(2 * 4 * 6 * 3),
    height: 4,
    width: 6,
    cropHeight: 3,
    cropWidth: 3,
    patches: [{ sample: 1, x0: 3, y0: 1, flip: false, offset: [0, 0, 0] }],
    scale: 1 / 255,
    meanImage: null,
  };
  const cases: [Partial<ImageCrops>, RegExp][] = [
    [{ cropHeight: 5 }, /cropImages: a 5×3 crop does not fit in 4×6 images/],
    [
      { pixels: new Uint8Array(100) },
      /cropImages: 100 bytes of pixels are not whole 4×6×3 samples/,
    ],
    [
      { meanImage: new Float32Array(3) },
      /cropImages: meanImage has 3 values, expected 4×6×3 = 72/,
    ],
    [{ width: 0 }, /cropImages: width must be a positive integer, got 0/],
    [{ scale: NaN }, /cropImages: scale must be finite, got NaN/],
    [
      { patches: [{ sample: 2, x0: 0, y0: 0, flip: false, offset: [0, 0, 0] }] },
      /cropImages: patch 0 reads sample 2 of 2/,
    ],
    [
      { patches: [{ sample: 0, x0: 4, y0: 0, flip: true, offset: [0, 0, 0] }] },
      /cropImages: patch 0's 3×3 crop at x 4, y 0 leaves the 4×6 image/,
    ],
  ];
  for (const [change, message] of cases) {
    const crops = { ...base, ...change };
    assert.throws(() => cropImages(crops, { device }), message);
    assert.throws(() => cropImagesOnHost(crops), message);
  }
  assert.equal(cropImagesOnHost(base).length, 27);
});

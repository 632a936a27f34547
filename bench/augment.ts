/**
 * The paper's augmentation of one batch, host and device: the host milliseconds from
 * `loader.next()` to the network's input recorded on the device, for the device kernel
 * (`cropImages`: the batch's u8 bytes uploaded, one dispatch) against the host path (float32
 * images made in JavaScript and uploaded, as `train` did before), side by side; and the GPU
 * time of the kernel (timestamps where the adapter has them, else wall time around a sync).
 * Batch 128 of 256² samples, random 224² crop, reflection, PCA noise, mean image (default).
 *
 *     deno run -A bench/augment.ts [--batch 128] [--side 256] [--crop 224] [--repeats 7] [--out f.json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { replicate } from "../tensor/creation.ts";
import { replicateImages } from "../tensor/images.ts";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { DataLoader } from "../train/data/loader.ts";
import { Rng } from "../train/data/rng.ts";
import { median } from "./_timing.ts";

/** Options of {@link benchAugment}. */
export interface AugmentBenchOptions {
  /** Samples per batch; default 128. */
  batch?: number;
  /** Side of the square samples; default 256. */
  side?: number;
  /** Side of the crop; default 224. */
  crop?: number;
  /** Timed batches per path; default 7. */
  repeats?: number;
}

/** What {@link benchAugment} measures (milliseconds, medians). */
export interface AugmentBenchResult {
  batch: number;
  side: number;
  crop: number;
  /** Host: `next()` to the input recorded, device kernel. */
  deviceHostMs: number;
  /** Host: `next()` to the input recorded, floats made on the host and uploaded. */
  hostPathMs: number;
  /** GPU time of the crop kernel. */
  kernelMs: number;
  /** How `kernelMs` was measured. */
  kernelClock: "timestamps" | "wall";
  /** Bytes uploaded per batch and device: u8 pixels against float32 images. */
  uploadBytes: { device: number; host: number };
}

/** Measures both paths on `device` (see the module doc). */
export async function benchAugment(
  device: Device,
  options: AugmentBenchOptions = {},
): Promise<AugmentBenchResult> {
  const { batch = 128, side = 256, crop = 224, repeats = 7 } = options;
  const rng = new Rng(1);
  const count = batch * 2;
  const pixels = Uint8Array.from({ length: count * side * side * 3 }, () => rng.int(256));
  const data = new ArrayDataset({
    pixels,
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`),
    height: side,
    width: side,
  });
  const meanImage = Float32Array.from({ length: side * side * 3 }, () => 0.4 + 0.2 * rng.next());
  const augment = {
    crop,
    flip: true,
    scale: 1 / 255,
    mean: meanImage,
    pca: {
      eigenvalues: [0.2175, 0.0188, 0.0045],
      eigenvectors: [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [
        -0.5836,
        -0.6948,
        0.4203,
      ]],
      sigma: 0.1,
    },
  };
  // No prefetch: the batch is built inside next(), as in `train` between drains.
  const loader = new DataLoader(data, { batchSize: batch, seed: 3, augment, prefetch: 0 });
  const onDevice: number[] = [], onHost: number[] = [];
  for (let i = 0; i < repeats + 1; i++) {
    for (const [times, path] of [[onDevice, "device"], [onHost, "host"]] as const) {
      await device.sync();
      const start = performance.now();
      const b = await loader.next();
      const [x] = path === "device"
        ? replicateImages(b.crops, [device])
        : replicate(b.images, b.batchShape, [device]);
      const ms = performance.now() - start;
      await device.sync();
      x.dispose();
      if (i > 0) times.push(ms); // the first compiles the kernel
    }
  }
  const b = await loader.next();
  loader.close();
  const kernel: number[] = [];
  for (let i = 0; i < repeats; i++) {
    if (device.hasTimestamps) {
      device.startProfile();
      const [x] = replicateImages(b.crops, [device]);
      const { rows } = await device.stopProfile();
      kernel.push(
        rows.filter((r) => r.name.startsWith("crop images")).reduce((t, r) => t + r.ms, 0),
      );
      x.dispose();
    } else {
      const [x] = replicateImages(b.crops, [device]);
      device.flush(); // the upload is submitted by the write; the wall time then covers the kernel
      const start = performance.now();
      await device.sync();
      kernel.push(performance.now() - start);
      x.dispose();
    }
  }
  return {
    batch,
    side,
    crop,
    deviceHostMs: median(onDevice),
    hostPathMs: median(onHost),
    kernelMs: median(kernel),
    kernelClock: device.hasTimestamps ? "timestamps" : "wall",
    uploadBytes: { device: batch * side * side * 3, host: batch * 3 * crop * crop * 4 },
  };
}

/** One line per figure. */
export function formatAugment(r: AugmentBenchResult): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return [
    `augmentation of a batch of ${r.batch} ${r.side}² samples, random ${r.crop}² crop, flip, PCA, mean image:`,
    `  host ms, next() to the input recorded: device kernel ${r.deviceHostMs.toFixed(1)}, ` +
    `host floats ${r.hostPathMs.toFixed(1)} (${(r.hostPathMs / r.deviceHostMs).toFixed(1)}x)`,
    `  upload per device: ${mb(r.uploadBytes.device)} MB u8, was ${mb(r.uploadBytes.host)} MB f32`,
    `  crop kernel GPU time: ${r.kernelMs.toFixed(2)} ms (${r.kernelClock})`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batch: { type: "string", default: "128" },
      side: { type: "string", default: "256" },
      crop: { type: "string", default: "224" },
      repeats: { type: "string", default: "7" },
      out: { type: "string" },
    },
    strict: true,
  });
  const numbers = ["batch", "side", "crop", "repeats"].map((k) => {
    const n = Number(values[k as keyof typeof values]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer`);
    return n;
  });
  const [batch, side, crop, repeats] = numbers;
  const device = await Device.acquire();
  console.log(`adapter: ${device.describe()}`);
  const result = await benchAugment(device, { batch, side, crop, repeats });
  console.log(formatAugment(result));
  if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(result) + "\n");
  device.destroy();
}

/** One SGD step of a model on random images, as the kernel tests that count a step's work run it. */

import { crossEntropy, type Device, fromTypedArray, type Generator, tidy } from "../mod.ts";
import type { AlexNet } from "../nn/mod.ts";
import type { SGD } from "../train/sgd.ts";

/** Forward, loss, backward and update of `model` on `batch` random `size`×`size` images. */
export async function trainStep(
  device: Device,
  model: AlexNet,
  opt: SGD,
  data: Generator,
  batch: number,
  size: number,
): Promise<void> {
  const host = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const labels = fromTypedArray(host, [batch], { device });
  const loss = await tidy(async () => {
    const x = data.normal([batch, 3, size, size], 0, 1, device).withRank(4);
    return crossEntropy(await model.forward(x), labels);
  });
  await loss.backward();
  opt.step();
  opt.zeroGrad();
  await loss.item();
  loss.dispose();
  labels.dispose();
}

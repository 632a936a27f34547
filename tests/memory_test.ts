/**
 * GPU memory stays flat over a training loop: 500 SGD steps of a 16→32→4 MLP, each inside
 * `tidy`, must hold exactly as many live and pooled bytes after step 500 as after step 10, and
 * the loss must fall. The weights are updated by computing new tensors under `noGrad` and
 * swapping them in (the old ones and their gradients are disposed).
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  defaultDevice,
  Generator,
  keep,
  linear,
  noGrad,
  type Tensor,
  tensor,
  tidy,
} from "../mod.ts";

Deno.test("memory is flat over 500 training steps of an MLP", async () => {
  const device = await defaultDevice();
  const start = device.memory();
  const g = new Generator(2024);
  const x = keep(g.normal([8, 16]));
  const y = keep(tensor([0, 1, 2, 3, 3, 2, 1, 0], { dtype: "i32" }));
  const init = (shape: number[], fanIn: number) => {
    const p = keep(g.normal(shape, 0, Math.sqrt(2 / fanIn)));
    p.requiresGrad = true;
    return p;
  };
  let params: Tensor[] = [init([32, 16], 16), init([32], 16), init([4, 32], 32), init([4], 32)];
  const lr = 0.05;

  const step = (read: boolean): Promise<number | null> =>
    tidy(async () => {
      const [w1, b1, w2, b2] = params;
      const loss = crossEntropy(linear(linear(x, w1, b1, { relu: true }), w2, b2), y);
      await loss.backward();
      params = noGrad(() =>
        params.map((p) => {
          const next = keep(p.sub(p.grad!.mul(lr)));
          next.requiresGrad = true;
          p.zeroGrad();
          p.dispose();
          return next;
        })
      );
      return read ? await loss.item() : null;
    });

  const losses: number[] = [];
  let at10 = device.memory();
  const began = performance.now();
  for (let i = 1; i <= 500; i++) {
    const loss = await step(i === 1 || i % 50 === 0);
    if (loss !== null) losses.push(loss);
    if (i === 10) at10 = device.memory();
  }
  await device.sync();
  const at500 = device.memory();
  const seconds = (performance.now() - began) / 1000;

  assert.equal(at500.liveBytes, at10.liveBytes, "live bytes are flat");
  assert.equal(
    at500.liveBytes + at500.pooledBytes,
    at10.liveBytes + at10.pooledBytes,
    "live + pooled bytes are flat",
  );
  assert.equal(at500.peakBytes, at10.peakBytes, "the peak was reached in the first 10 steps");
  assert.equal(at500.buffersCreated, at10.buffersCreated, "no buffer created after step 10");
  // Parameters (and x, y) only: the step's tensors and gradients are all gone.
  const paramBytes = (32 * 16 + 32 + 4 * 32 + 4) * 4 + 8 * 16 * 4 + 8 * 4;
  assert.ok(
    at500.liveBytes - start.liveBytes <= paramBytes * 1.25,
    `${at500.liveBytes - start.liveBytes} live bytes for ${paramBytes} bytes of tensors`,
  );

  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(
    losses.at(-1)! < 0.25 * losses[0],
    `the loss fell from ${losses[0]} to ${losses.at(-1)} (${losses.map((l) => l.toFixed(3))})`,
  );
  for (let i = 1; i < losses.length; i++) {
    assert.ok(losses[i] < losses[i - 1], `loss rose between reads: ${losses}`);
  }
  console.log(
    `500 steps in ${seconds.toFixed(1)} s; loss ${losses[0].toFixed(3)} → ` +
      `${losses.at(-1)!.toFixed(4)}; live ${at500.liveBytes} B, pooled ${at500.pooledBytes} B`,
  );

  for (const t of [x, y, ...params]) t.dispose();
  assert.equal(device.memory().liveBytes, start.liveBytes, "all freed at the end");
});

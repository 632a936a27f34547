/**
 * The step guard in a real training loop, at the library level: with learning rates that make
 * training diverge (100 and 1e6 on a small AlexNet), no parameter and no velocity ever holds a
 * NaN or ±∞ — every step that would have made one is skipped and counted — and either the run
 * stops with `NonFiniteLossError` or it ends with finite weights.
 */

import assert from "node:assert/strict";
import { defaultDevice } from "../mod.ts";
import { alexnetSmall } from "../nn/mod.ts";
import { createTrainer, NonFiniteLossError, syntheticSplits } from "../train/mod.ts";

await defaultDevice();

for (const lr of [100, 1e6]) {
  Deno.test(`lr ${lr}: the weights and the momentum stay finite; bad steps are skipped`, async () => {
    const { train: trainData, val: valData } = syntheticSplits({
      trainSize: 32,
      valSize: 8,
      size: 16,
      classes: 4,
      seed: 5,
    });
    const model = alexnetSmall({ inputSize: 16, width: 1 / 16, numClasses: 4, seed: 6 });
    let skipped = 0;
    const trainer = createTrainer({
      model,
      trainData,
      valData,
      epochs: 3,
      batchSize: 8,
      lr,
      weightDecay: 0,
      maxConsecutiveNonFinite: 6,
      callbacks: [{ onEpochEnd: (_, { metrics }) => void (skipped += metrics.skippedSteps) }],
    });
    try {
      const result = await trainer.run();
      assert.equal(result.epochsDone, 3);
    } catch (error) {
      assert.ok(error instanceof NonFiniteLossError, `${error}`);
      skipped += 6; // the run of skipped steps that stopped it
    }
    assert.ok(skipped > 0, `lr ${lr} never produced a non-finite step: the test proves nothing`);
    for (const [name, p] of model.namedParameters()) {
      const weights = await p.data();
      assert.ok(weights.every(Number.isFinite), `${name} holds a non-finite weight (lr ${lr})`);
      const velocity = await trainer.optimizer.velocity(p)?.data();
      assert.ok(velocity?.every(Number.isFinite) ?? true, `${name}'s velocity is not finite`);
    }
    trainer.optimizer.dispose();
    model.dispose();
  });
}

/**
 * Checkpoints: a file written from the two-device AlexNet loads onto the one-device net and
 * gives the same logits; the bytes follow safetensors; metadata survives the round trip; and
 * corrupt, truncated, mis-shaped or non-finite checkpoints fail clearly without touching the
 * model.
 */

import assert from "node:assert/strict";
import { Device, noGrad, randn } from "../mod.ts";
import {
  alexnetSmall,
  CheckpointError,
  loadCheckpoint,
  type Module,
  saveCheckpoint,
  StateDictError,
} from "../nn/mod.ts";
import { entryFromTypedArray, SafetensorsError, writeSafetensorsFile } from "../nn/safetensors.ts";
import { CIFAR10_CLASS_NAMES } from "../train/data/cifar10.ts";
import { relativeError } from "./_gradcheck.ts";

const [gpuA, gpuB] = await Device.acquireMany(2);
const dir = await Deno.makeTempDir({ prefix: "nn_checkpoint_test" });

async function snapshot(model: Module): Promise<Float32Array[]> {
  return await Promise.all(model.parameters().map((p) => p.data() as Promise<Float32Array>));
}

Deno.test("nn checkpoints", async (t) => {
  const two = alexnetSmall({ seed: 1 }, [gpuA, gpuB]).eval();
  const path = `${dir}/two.safetensors`;
  const metadata = {
    config: two.config,
    classNames: [...CIFAR10_CLASS_NAMES],
    epoch: 3,
    note: "ünïcode ✓",
  };
  await saveCheckpoint(path, two, { metadata });

  await t.step("two devices → file → one device: same logits, metadata round trip", async () => {
    const one = alexnetSmall({ seed: 2 }, gpuA).eval();
    const meta = await loadCheckpoint(path, one);
    assert.deepEqual(meta, JSON.parse(JSON.stringify(metadata)));
    const x = randn([2, 3, 32, 32], { device: gpuA });
    const e = relativeError(
      await (await one.forward(x)).data(),
      await (await two.forward(x)).data(),
    );
    assert.ok(e < 1e-5, `logits differ by ${e}`);
    // And back onto two devices from a one-device file.
    const onePath = `${dir}/one.safetensors`;
    await saveCheckpoint(onePath, one);
    const again = alexnetSmall({ seed: 3 }, [gpuA, gpuB]);
    assert.deepEqual(await loadCheckpoint(onePath, again), {});
    assert.deepEqual(await snapshot(again), await snapshot(two));
    for (const m of [one, again]) m.dispose();
  });

  await t.step("the byte layout is safetensors: u64 header length, JSON, F32 data", async () => {
    const bytes = await Deno.readFile(path);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0, "header padded to 8 bytes");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.equal(header.__metadata__.format, "pt");
    assert.equal(header.__metadata__.epoch, "3");
    assert.deepEqual(
      JSON.parse(header.__metadata__.config),
      JSON.parse(JSON.stringify(two.config)),
    );
    const names = two.stateSlots().map((s) => s.name);
    assert.deepEqual(
      Object.keys(header).filter((k) => k !== "__metadata__").sort(),
      [...names].sort(),
    );
    let total = 0;
    for (const name of names) {
      const entry = header[name];
      assert.equal(entry.dtype, "F32");
      const [begin, end] = entry.data_offsets;
      assert.equal(end - begin, 4 * entry.shape.reduce((a: number, b: number) => a * b, 1));
      total += end - begin;
    }
    assert.equal(bytes.length, 8 + n + total);
    assert.deepEqual(header["conv2.weight"].shape, [32, 6, 5, 5], "PyTorch's grouped layout");
    // Tower B's half of conv2.weight is the second half of the stored tensor.
    const [begin, end] = header["conv2.weight"].data_offsets;
    const stored = new Float32Array(bytes.slice(8 + n + begin, 8 + n + end).buffer);
    const towerB = two.namedParameters().find(([name]) => name === "conv2.1.weight")![1];
    assert.deepEqual(stored.subarray(stored.length / 2), await towerB.data());
  });

  await t.step("truncated and corrupt files fail clearly; the model is untouched", async () => {
    const one = alexnetSmall({ seed: 4 }, gpuA);
    const before = await snapshot(one);
    const bytes = await Deno.readFile(path);
    const cut = `${dir}/cut.safetensors`;
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(loadCheckpoint(cut, one), (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.ok(e.cause instanceof SafetensorsError);
      assert.match(e.message, /cut\.safetensors/);
      return true;
    });
    const garbled = bytes.slice();
    garbled.set(new TextEncoder().encode("{{{{"), 8);
    await Deno.writeFile(cut, garbled);
    await assert.rejects(loadCheckpoint(cut, one), /cannot read checkpoint.*header/);
    await assert.rejects(loadCheckpoint(`${dir}/absent.safetensors`, one), CheckpointError);
    await assert.rejects(
      loadCheckpoint(dir, one),
      (e: unknown) => e instanceof CheckpointError && e.message.includes(`${dir}: a folder`),
    );
    assert.deepEqual(await snapshot(one), before);
    one.dispose();
  });

  await t.step("a checkpoint of another shape lists the mismatches; untouched", async () => {
    const other = `${dir}/five.safetensors`;
    const five = alexnetSmall({ seed: 5, numClasses: 5 }, gpuA);
    await saveCheckpoint(other, five);
    const one = alexnetSmall({ seed: 6 }, gpuA);
    const before = await snapshot(one);
    await assert.rejects(loadCheckpoint(other, one), (e: unknown) => {
      assert.ok(e instanceof CheckpointError && e.cause instanceof StateDictError);
      assert.deepEqual(e.cause.mismatched.map((m) => m.name), ["fc8.weight", "fc8.bias"]);
      assert.match(e.message, /fc8\.weight \(module \[10,512\], dict \[5,512\]\)/);
      return true;
    });
    assert.deepEqual(await snapshot(one), before);
    for (const m of [five, one]) m.dispose();
  });

  await t.step("non-finite values are reported by name, unless allowed", async () => {
    const one = alexnetSmall({ seed: 7 }, gpuA);
    const bad = `${dir}/nan.safetensors`;
    const bias = one.stateSlots().find((slot) => slot.name === "conv1.bias")!.shards[0];
    const poisoned = (await bias.data()) as Float32Array;
    poisoned.set([Number.NaN, Infinity]);
    noGrad(() => bias.assign(poisoned));
    // Saving refuses (and writes nothing) unless allowed.
    await assert.rejects(
      saveCheckpoint(bad, one),
      /not written: non-finite model .* conv1\.bias \(2\)/,
    );
    await assert.rejects(Deno.stat(bad), Deno.errors.NotFound);
    await saveCheckpoint(bad, one, { allowNonFinite: true });
    const fresh = alexnetSmall({ seed: 8 }, gpuA);
    const before = await snapshot(fresh);
    await assert.rejects(loadCheckpoint(bad, fresh), /non-finite .* conv1\.bias \(2\)/);
    assert.deepEqual(await snapshot(fresh), before);
    await loadCheckpoint(bad, fresh, { allowNonFinite: true });
    assert.ok(Number.isNaN((await fresh.stateSlots()[1].shards[0].data())[0]));
    for (const m of [one, fresh]) m.dispose();
  });

  await t.step("partial checkpoints: strict lists the names, non-strict loads", async () => {
    const one = alexnetSmall({ seed: 10 }, gpuA);
    const partial = `${dir}/partial.safetensors`;
    await writeSafetensorsFile(partial, {
      "fc8.bias": entryFromTypedArray("F32", [10], new Float32Array(10).fill(0.5)),
      "extra": entryFromTypedArray("F32", [1], new Float32Array([1])),
    });
    await assert.rejects(loadCheckpoint(partial, one), (e: unknown) => {
      assert.ok(e instanceof CheckpointError && e.cause instanceof StateDictError);
      assert.equal(e.cause.missing.length, 15);
      assert.deepEqual(e.cause.unexpected, ["extra"]);
      return true;
    });
    await loadCheckpoint(partial, one, { strict: false });
    const fc8 = one.stateSlots().find((slot) => slot.name === "fc8.bias")!.shards[0];
    assert.deepEqual(await fc8.data(), new Float32Array(10).fill(0.5));
    const ints = `${dir}/ints.safetensors`;
    await writeSafetensorsFile(ints, {
      "fc8.bias": entryFromTypedArray("I32", [10], new Int32Array(10)),
    });
    await assert.rejects(
      loadCheckpoint(ints, one, { strict: false }),
      /floating point: fc8\.bias \(I32\)/,
    );
    await assert.rejects(
      saveCheckpoint(`${dir}/x.safetensors`, one, { metadata: { format: 1 } }),
      /reserved/,
    );
    two.dispose();
    one.dispose();
  });
  await Deno.remove(dir, { recursive: true });
});

import assert from "node:assert/strict";
import { CIFAR10_CLASS_NAMES, loadCifar10, parseCifar10 } from "../train/data/cifar10.ts";

/** A CIFAR-10 record: label, then R, G, B planes with pixel (y, x) = f(c, y, x). */
function record(label: number, f: (c: number, y: number, x: number) => number): Uint8Array {
  const r = new Uint8Array(3073);
  r[0] = label;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) r[1 + c * 1024 + y * 32 + x] = f(c, y, x);
    }
  }
  return r;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const pattern = (n: number) => (c: number, y: number, x: number) =>
  (n * 7 + c * 80 + y * 3 + x) & 255;

Deno.test("CIFAR-10 binary format", async (t) => {
  await t.step("parses records from CHW planes into HWC", () => {
    const bytes = concat([record(3, pattern(0)), record(9, pattern(1))]);
    const b = parseCifar10(bytes, "x.bin");
    assert.equal(b.count, 2);
    assert.deepEqual([...b.labels], [3, 9]);
    for (const [n, y, x, c] of [[0, 0, 0, 0], [1, 31, 5, 2], [0, 7, 30, 1]]) {
      assert.equal(b.pixels[n * 3072 + (y * 32 + x) * 3 + c], pattern(n)(c, y, x));
    }
  });

  await t.step("rejects a bad length or label, naming the file", () => {
    assert.throws(
      () => parseCifar10(new Uint8Array(3073 * 2 - 1), "short.bin"),
      /short\.bin.*3073/,
    );
    assert.throws(() => parseCifar10(new Uint8Array(0), "empty.bin"), /empty\.bin/);
    const bad = concat([record(1, pattern(0)), record(10, pattern(1))]);
    assert.throws(() => parseCifar10(bad, "lab.bin"), /lab\.bin: record 1 has label 10/);
  });

  await t.step("loads the train/test files and batches.meta.txt from a folder", async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (let i = 1; i <= 5; i++) {
        await Deno.writeFile(
          `${dir}/data_batch_${i}.bin`,
          concat([record(i, pattern(i)), record(0, pattern(0))]),
        );
      }
      await Deno.writeFile(`${dir}/test_batch.bin`, record(7, pattern(7)));
      const train = await loadCifar10({ dir, split: "train" });
      assert.equal(train.length, 10);
      assert.deepEqual(train.classNames, CIFAR10_CLASS_NAMES);
      assert.deepEqual(Array.from({ length: 10 }, (_, i) => train.get(i).label), [
        1,
        0,
        2,
        0,
        3,
        0,
        4,
        0,
        5,
        0,
      ]);
      assert.equal(train.get(2).pixels[(4 * 32 + 5) * 3 + 1], pattern(2)(1, 4, 5));
      assert.equal(train.height, 32);
      const names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
      await Deno.writeTextFile(`${dir}/batches.meta.txt`, names.join("\n") + "\n\n");
      const test = await loadCifar10({ dir, split: "test" });
      assert.equal(test.length, 1);
      assert.equal(test.get(0).label, 7);
      assert.deepEqual(test.classNames, names);
      await Deno.remove(`${dir}/data_batch_3.bin`);
      await assert.rejects(loadCifar10({ dir }), /data_batch_3\.bin/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

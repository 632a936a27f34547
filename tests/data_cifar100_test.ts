/**
 * CIFAR-100's binary distribution as a data format: records of a coarse and a fine label byte
 * and three colour planes, the fine labels as the classes (torchvision's CIFAR100), found in
 * its folder or the folder above, named by fine_label_names.txt or the standard names.
 */

import assert from "node:assert/strict";
import {
  CIFAR100_CLASS_NAMES,
  CIFAR100_RECORD_BYTES,
  detectDataFormat,
  loadCifar100,
  loadDataSplits,
} from "../train/mod.ts";

/** `count` records: coarse label n % 20, fine label (7n) % 100, planes R = n, G = 2n, B = 255 − n. */
function records(count: number): Uint8Array {
  const out = new Uint8Array(count * CIFAR100_RECORD_BYTES);
  for (let n = 0; n < count; n++) {
    const r = n * CIFAR100_RECORD_BYTES;
    out.set([n % 20, (7 * n) % 100], r);
    out.fill(n, r + 2, r + 2 + 1024);
    out.fill(2 * n, r + 2 + 1024, r + 2 + 2048);
    out.fill(255 - n, r + 2 + 2048, r + 2 + 3072);
  }
  return out;
}

Deno.test("CIFAR-100 binaries: fine labels, HWC pixels, class names, found from the parent", async () => {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/cifar-100-binary`;
  await Deno.mkdir(dir);
  await Deno.writeFile(`${dir}/train.bin`, records(6));
  await Deno.writeFile(`${dir}/test.bin`, records(3));
  // It was "found none of CIFAR-10 binaries (data_batch_1.bin), IDX files …".
  assert.deepEqual(await detectDataFormat(parent), { kind: "cifar100", dir });
  const { train, val, description } = await loadDataSplits({ kind: "cifar100", dir });
  assert.equal(description, `CIFAR-100 ${dir}, 6 / 3`);
  assert.deepEqual([train.length, val.length, train.numClasses, train.height], [6, 3, 100, 32]);
  const sample = train.get(5);
  assert.equal(sample.label, 35); // the fine label, not the coarse 5
  assert.equal(train.classNames[35], "girl"); // the standard names without the file
  assert.deepEqual([...sample.pixels.subarray(0, 3)], [5, 10, 250]); // HWC from the planes
  assert.deepEqual([...sample.pixels.subarray(3069)], [5, 10, 250]);
  assert.equal(CIFAR100_CLASS_NAMES.length, 100);

  const names = Array.from({ length: 100 }, (_, i) => `class_${i}`);
  await Deno.writeTextFile(`${dir}/fine_label_names.txt`, names.join("\n") + "\n\n");
  assert.equal((await loadCifar100(dir, "test")).classNames[7], "class_7");
  await Deno.writeTextFile(`${dir}/fine_label_names.txt`, "apple\npear\n");
  await assert.rejects(
    loadCifar100(dir),
    /fine_label_names\.txt: expected 100 class names, found 2/,
  );
  await Deno.remove(parent, { recursive: true });
});

Deno.test("CIFAR-100 binaries: bad files are one error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const bad = records(2);
  bad[CIFAR100_RECORD_BYTES + 1] = 100;
  await Deno.writeFile(`${dir}/train.bin`, bad);
  await Deno.writeTextFile(`${dir}/fine_label_names.txt`, CIFAR100_CLASS_NAMES.join("\n"));
  await assert.rejects(
    loadCifar100(dir),
    /train\.bin: record 1 has label 100, CIFAR-100 labels are 0–99/,
  );
  await Deno.writeFile(`${dir}/train.bin`, records(2).subarray(1));
  await assert.rejects(
    loadCifar100(dir),
    /train\.bin: CIFAR-100 file length 6147 is not a positive multiple of 3074 \(coarse and fine label bytes \+ 3072 pixel bytes per record\)/,
  );
  // Recognised by train.bin and its class names; the missing test.bin is named.
  assert.deepEqual(await detectDataFormat(dir), { kind: "cifar100", dir });
  await assert.rejects(
    loadDataSplits({ kind: "cifar100", dir }),
    /no test\.bin \(CIFAR-100 data is two files: train\.bin and test\.bin\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

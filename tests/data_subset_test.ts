import assert from "node:assert/strict";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { loadDataSplits } from "../train/data/formats.ts";
import { balancedIndices, balancedSubset, SubsetDataset } from "../train/data/subset.ts";

Deno.test("balanced, seeded subsets", async (t) => {
  // 3 classes of 50, 30 and 4 samples, interleaved unevenly.
  const labels: number[] = [];
  for (let i = 0; i < 84; i++) labels.push(i < 4 ? 2 : i % 8 < 5 ? 0 : 1);
  const counts = (picked: number[]) => {
    const c = [0, 0, 0];
    for (const i of picked) c[labels[i]]++;
    return c;
  };
  const have = counts(labels.map((_, i) => i));

  await t.step("each class gives its share; a small class gives all it has", () => {
    const picked = balancedIndices(labels, 3, 30, 7);
    assert.equal(picked.length, 30);
    assert.equal(new Set(picked).size, 30);
    assert.deepEqual(picked, [...picked].sort((a, b) => a - b));
    const c = counts(picked);
    assert.equal(c[2], 4, `class 2 has only 4: ${c}`);
    assert.ok(Math.abs(c[0] - c[1]) <= 1, `the rest split evenly: ${c}`);
    assert.deepEqual(counts(balancedIndices(labels, 3, 9, 7)), [3, 3, 3]);
    assert.deepEqual(counts(balancedIndices(labels, 3, 1000, 7)), have);
  });

  await t.step("a function of the seed", () => {
    assert.deepEqual(balancedIndices(labels, 3, 20, 1), balancedIndices(labels, 3, 20, 1));
    assert.notDeepEqual(balancedIndices(labels, 3, 20, 1), balancedIndices(labels, 3, 20, 2));
  });

  await t.step("datasets: a view with the same classes, or the set itself", () => {
    const ds = new ArrayDataset({
      pixels: Uint8Array.from({ length: 84 * 3 }, (_, i) => i % 256),
      labels,
      height: 1,
      width: 1,
      classNames: ["a", "b", "c"],
    });
    const part = balancedSubset(ds, 12, 0) as SubsetDataset;
    assert.ok(part instanceof SubsetDataset);
    assert.deepEqual(part.classNames, ["a", "b", "c"]);
    for (let i = 0; i < part.length; i++) {
      assert.deepEqual(part.get(i), ds.get(part.indices[i]));
      assert.equal(part.label(i), labels[part.indices[i]]);
    }
    assert.equal(balancedSubset(ds, 84, 0), ds);
    assert.throws(() => part.label(12), /SubsetDataset\.label: index 12 outside \[0, 12\)/);
  });

  await t.step("any format: the data source's subset, described", async () => {
    const splits = await loadDataSplits({
      kind: "synthetic",
      trainSize: 40,
      valSize: 20,
      size: 8,
      subset: { train: 10, val: 5, seed: 3 },
    });
    assert.equal(splits.train.length, 10);
    assert.equal(splits.val.length, 5);
    assert.match(
      splits.description,
      /using 10 of 40 training and 5 of 20 validation images, balanced across classes \(seed 3\)/,
    );
  });

  await t.step("a size larger than the data: all of it, and the description says so", async () => {
    const source = { kind: "synthetic", trainSize: 40, valSize: 20, size: 8 } as const;
    const more = await loadDataSplits({ ...source, subset: { train: 99, val: 5, seed: 0 } });
    assert.equal(more.train.length, 40);
    assert.equal(more.val.length, 5);
    assert.match(
      more.description,
      /using all 40 training \(99 asked for\) and 5 of 20 validation images, balanced/,
    );
    const all = await loadDataSplits({ ...source, subset: { train: 50, val: 20, seed: 0 } });
    assert.match(all.description, /using all 40 training \(50 asked for\) images$/);
  });
});

Deno.test("ArrayDataset: pixels other than bytes are a TypeError naming the fix", () => {
  // A Float32Array of images in [0, 1] was taken as bytes and truncated to 0 in every batch.
  const options = { labels: [0], height: 2, width: 2, classNames: ["a", "b"] };
  assert.throws(
    () => new ArrayDataset({ ...options, pixels: new Float32Array(12) as unknown as Uint8Array }),
    /^TypeError: ArrayDataset: pixels must be a Uint8Array of bytes \(0–255, HWC\), got a Float32Array: scale float images by 255 and round them into one$/,
  );
  assert.equal(new ArrayDataset({ ...options, pixels: new Uint8Array(12) }).length, 1);
});

Deno.test("ArrayDataset: greyscale bytes given as RGB are an error naming storedChannels", () => {
  // It read '4 pixel bytes do not hold 1 images of 2×2×3', with no word of greyscale.
  const options = { labels: [0], height: 2, width: 2, classNames: ["a"] };
  assert.throws(
    () => new ArrayDataset({ ...options, pixels: new Uint8Array(4) }),
    /^RangeError: ArrayDataset: 4 pixel bytes do not hold 1 image of 2×2×3: they hold 2×2×1 images, so pass storedChannels: 1$/,
  );
  assert.throws(
    () => new ArrayDataset({ ...options, pixels: new Uint8Array(12), storedChannels: 1 }),
    /do not hold 1 image of 2×2×1: they hold 2×2×3 images, so pass storedChannels: 3$/,
  );
  assert.throws(
    () => new ArrayDataset({ ...options, labels: [0, 0], pixels: new Uint8Array(5) }),
    /^RangeError: ArrayDataset: 5 pixel bytes do not hold 2 images of 2×2×3$/,
  );
  const grey = new ArrayDataset({
    ...options,
    pixels: Uint8Array.of(1, 2, 3, 4),
    storedChannels: 1,
  });
  assert.deepEqual([...grey.get(0).pixels.subarray(0, 6)], [1, 1, 1, 2, 2, 2]);
});

import assert from "node:assert/strict";
import type { Dataset, Sample } from "../train/data/dataset.ts";
import { DataLoader, type DataLoaderOptions, type LoaderBatch } from "../train/data/loader.ts";
import { SyntheticDataset } from "../train/data/synthetic.ts";

const ds = new SyntheticDataset({ count: 50, size: 12, seed: 1 });
const augment = {
  crop: 10,
  flip: true,
  pca: {
    eigenvalues: [0.2, 0.05, 0.01],
    eigenvectors: [[0.58, 0.58, 0.58], [0.71, 0, -0.71], [0.41, -0.82, 0.41]],
    sigma: 0.1,
  },
  mean: [0.5, 0.4, 0.3],
};
const opts: DataLoaderOptions = { batchSize: 8, seed: 42, augment };

async function take(loader: DataLoader, n: number): Promise<LoaderBatch[]> {
  const out: LoaderBatch[] = [];
  for (let i = 0; i < n; i++) out.push(await loader.next());
  return out;
}

/** Counts `get` calls, to observe prefetching. */
class Counting implements Dataset {
  calls = 0;
  readonly length = ds.length;
  readonly numClasses = ds.numClasses;
  readonly classNames = ds.classNames;
  readonly channels = 3;
  readonly height = ds.height;
  readonly width = ds.width;
  get(i: number): Sample {
    this.calls++;
    return ds.get(i);
  }
}

Deno.test("DataLoader", async (t) => {
  await t.step("every sample appears once per epoch; a new order each epoch", async () => {
    const loader = new DataLoader(ds, opts);
    assert.equal(loader.batchesPerEpoch, 7);
    const orders: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const seen: number[] = [];
      const sizes: number[] = [];
      for await (const b of loader) {
        assert.equal(b.epoch, e);
        seen.push(...b.indices);
        sizes.push(b.batchShape[0]);
        assert.deepEqual(b.batchShape.slice(1), [3, 10, 10]);
        assert.equal(b.images.length, b.batchShape[0] * 300);
        assert.deepEqual([...b.labels], [...b.indices].map((i) => ds.get(i).label));
      }
      assert.deepEqual(sizes, [8, 8, 8, 8, 8, 8, 2]);
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
      orders.push(seen);
    }
    assert.notDeepEqual(orders[0], orders[1]);
    assert.equal(loader.epoch, 3);
    loader.close();

    const dropped = new DataLoader(ds, { ...opts, dropLast: true, shuffle: false });
    const all = await take(dropped, 7);
    assert.deepEqual(all.map((b) => b.epoch), [0, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual([...all[0].indices], [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([...all[6].indices], [0, 1, 2, 3, 4, 5, 6, 7]);
    dropped.close();
  });

  await t.step("deterministic per seed, whatever the prefetch depth", async () => {
    const a = new DataLoader(ds, opts), b = new DataLoader(ds, { ...opts, prefetch: 0 });
    const c = new DataLoader(ds, { ...opts, prefetch: 5 }),
      d = new DataLoader(ds, { ...opts, seed: 43 });
    const ba = await take(a, 16);
    assert.deepEqual(await take(b, 16), ba);
    assert.deepEqual(await take(c, 16), ba);
    assert.notDeepEqual((await take(d, 1))[0].indices, ba[0].indices);
    for (const l of [a, b, c, d]) l.close();
  });

  await t.step("a restored state continues with exactly the same batches", async () => {
    const reference = new DataLoader(ds, opts);
    const want = await take(reference, 20); // almost three epochs
    reference.close();
    for (const cut of [3, 6, 7, 13]) {
      const first = new DataLoader(ds, opts);
      await take(first, cut);
      await new Promise((r) => setTimeout(r, 5)); // let prefetch run ahead
      const saved = JSON.parse(JSON.stringify(first.state()));
      first.close();
      assert.deepEqual([saved.epoch, saved.position], [Math.floor(cut / 7), cut % 7]);
      const resumed = new DataLoader(ds, opts);
      resumed.restore(saved);
      assert.deepEqual(await take(resumed, 20 - cut), want.slice(cut));
      resumed.close();
    }
    const same = new DataLoader(ds, opts);
    await take(same, 2);
    const at2 = same.state();
    const x = await take(same, 3);
    same.restore(at2); // rewinding the same loader discards its queue
    assert.deepEqual(await take(same, 3), x);
    same.close();
  });

  await t.step("restore refuses a state from a differently built loader", () => {
    const l = new DataLoader(ds, opts);
    const s = l.state();
    assert.throws(() => new DataLoader(ds, { ...opts, seed: 1 }).restore(s), /seed/);
    assert.throws(() => new DataLoader(ds, { ...opts, batchSize: 5 }).restore(s), /batchSize/);
    assert.throws(() => l.restore({ ...s, position: 7 }), RangeError);
  });

  await t.step("prefetch prepares the next batches in the background", async () => {
    const counting = new Counting();
    const loader = new DataLoader(counting, { ...opts, prefetch: 2 });
    await loader.next();
    const afterFirst = counting.calls;
    assert.equal(afterFirst, 8);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(counting.calls, 8 * 3, "two more batches were built while the consumer waited");
    await loader.next();
    assert.equal(counting.calls, 8 * 3, "the consumer took a prefetched batch");
    loader.close();
  });

  await t.step("evaluation crops", async () => {
    const center = new DataLoader(ds, {
      batchSize: 4,
      shuffle: false,
      crops: "center",
      augment: { crop: 8 },
    });
    const b = await center.next();
    assert.deepEqual(b.batchShape, [4, 3, 8, 8]);
    center.close();
    const ten = new DataLoader(ds, { batchSize: 4, crops: "ten", augment: { crop: 8 } });
    const t10 = await ten.next();
    assert.deepEqual(t10.batchShape, [40, 3, 8, 8]);
    assert.equal(t10.labels.length, 4);
    ten.close();
    const plain = new DataLoader(ds, { batchSize: 50, shuffle: false });
    const p = await plain.next();
    assert.deepEqual(p.batchShape, [50, 3, 12, 12]);
    assert.equal(p.images[0], Math.fround(ds.get(0).pixels[0] / 255));
    plain.close();
    assert.throws(() => new DataLoader(ds, { batchSize: 51, dropLast: true }), RangeError);
  });
});

Deno.test("DataLoader: a failing batch rejects and can be retried", async () => {
  let fail = true;
  const flaky: Dataset = Object.assign(Object.create(ds), {
    get(i: number): Sample {
      if (fail && i === 3) throw new Error("disk hiccup");
      return ds.get(i);
    },
  });
  const loader = new DataLoader(flaky, { batchSize: 4, shuffle: false });
  await assert.rejects(loader.next(), /disk hiccup/);
  assert.equal(loader.position, 0);
  fail = false;
  const b = await loader.next();
  assert.deepEqual([...b.indices], [0, 1, 2, 3]);
  loader.close();
});

/**
 * The data-format registry: each format recognises its folder layout, the first match wins,
 * a folder no format knows is an error naming what each looks for, and a source loads through
 * the format named by its kind.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DATA_FORMATS,
  dataFormat,
  detectDataFormat,
  loadDataSplits,
} from "../train/data/formats.ts";
import { DataFormatError } from "../train/data/data_format.ts";

async function folder(files: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "data_formats_" });
  for (const f of files) {
    await Deno.mkdir(join(dir, f, ".."), { recursive: true });
    await Deno.writeFile(join(dir, f), new Uint8Array(0));
  }
  return dir;
}

Deno.test("each format recognises its own layout", async () => {
  const cases: [string[], string | undefined, (dir: string) => Record<string, unknown>][] = [
    [["data_batch_1.bin"], undefined, (d) => ({ kind: "cifar10", dir: d })],
    [
      ["cifar-10-batches-bin/data_batch_1.bin"],
      undefined,
      (d) => ({ kind: "cifar10", dir: join(d, "cifar-10-batches-bin") }),
    ],
    [["train-images-idx3-ubyte.gz"], undefined, (d) => ({ kind: "idx", dir: d })],
    [["train-images.idx3-ubyte"], undefined, (d) => ({ kind: "idx", dir: d })],
    [
      ["train/manifest.json", "val/manifest.json"],
      undefined,
      (d) => ({ kind: "shards", dir: join(d, "train"), valDir: join(d, "val") }),
    ],
    [
      ["manifest.json"],
      "/elsewhere/val",
      (d) => ({ kind: "shards", dir: d, valDir: "/elsewhere/val" }),
    ],
  ];
  for (const [files, valDir, expected] of cases) {
    const dir = await folder(files);
    assert.deepEqual(await detectDataFormat(dir, valDir), expected(dir), files.join(", "));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder no format knows, or a missing one, is a DataFormatError", async () => {
  const dir = await folder(["readme.txt"]);
  await assert.rejects(detectDataFormat(dir), (e: Error) => {
    assert.ok(e instanceof DataFormatError);
    for (const f of DATA_FORMATS) if (f.looksFor) assert.ok(e.message.includes(f.looksFor));
    return true;
  });
  await assert.rejects(detectDataFormat(join(dir, "missing")), /missing: does not exist$/);
  await assert.rejects(
    detectDataFormat(join(dir, "readme.txt")),
    /readme\.txt: is a file, not a folder: give the folder holding it \(.+\)$/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a validation folder with data that has its own validation split is an error", async () => {
  // It was ignored: an IDX run given --val-data validated on the t10k files without a word.
  const dir = await folder(["train-images-idx3-ubyte.gz"]);
  await assert.rejects(
    detectDataFormat(dir, "/elsewhere/val"),
    (e: Error) => {
      assert.ok(e instanceof DataFormatError);
      assert.equal(
        e.message,
        `${dir} holds idx data, with its own validation split; a separate validation folder ` +
          `(/elsewhere/val) is for prepared shards`,
      );
      return true;
    },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("one prepared folder without its validation folder is an error", async () => {
  const dir = await folder(["manifest.json"]);
  await assert.rejects(detectDataFormat(dir), /one prepared folder.*validation folder/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a source loads through the format its kind names", async () => {
  const splits = await loadDataSplits({
    kind: "synthetic",
    trainSize: 12,
    valSize: 6,
    size: 8,
    seed: 1,
  });
  assert.equal(splits.train.length, 12);
  assert.equal(splits.val.length, 6);
  assert.equal(splits.train.height, 8);
  assert.match(splits.description, /synthetic shapes, 12 train \/ 6 val/);
  assert.throws(() => dataFormat("tfrecord"), /unknown data format "tfrecord" \(known: cifar10/);
  await assert.rejects(loadDataSplits({ kind: "idx" }), /needs "dir"/);
});

Deno.test("an IDX folder missing one of its four files names the file as a user writes it", async () => {
  // It once printed the matching pattern: "no file matching /^t10k-images[.-]idx3-ubyte(\.gz)?$/".
  const dir = await folder([]);
  const idx = (dims: number[]) => {
    const out = new Uint8Array(4 + 4 * dims.length + dims.reduce((a, b) => a * b, 1));
    out[2] = 0x08; // uint8
    out[3] = dims.length;
    dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d));
    return out;
  };
  await Deno.writeFile(join(dir, "train-images-idx3-ubyte"), idx([1, 2, 2]));
  await Deno.writeFile(join(dir, "train-labels-idx1-ubyte"), idx([1]));
  await assert.rejects(
    loadDataSplits({ kind: "idx", dir }),
    (e: Error) => {
      assert.ok(e instanceof DataFormatError);
      assert.equal(
        e.message,
        `${dir}: no t10k-images-idx3-ubyte[.gz] (IDX data is four files: the train- and t10k- ` +
          `images and labels)`,
      );
      return true;
    },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("CIFAR-10 data missing batches names them and says which six files it is", async () => {
  // It read 'data_batch_2.bin: cannot read CIFAR-10 file: No such file or directory (os error
  // 2): readfile …', one file at a time.
  const dir = await folder(["data_batch_1.bin", "data_batch_3.bin", "data_batch_4.bin"]);
  await assert.rejects(
    loadDataSplits(await detectDataFormat(dir)),
    (e: Error) => {
      assert.ok(e instanceof DataFormatError);
      assert.equal(
        e.message,
        `${dir}: no data_batch_2.bin, data_batch_5.bin, test_batch.bin (CIFAR-10 data is six ` +
          `files: data_batch_1.bin to data_batch_5.bin and test_batch.bin)`,
      );
      return true;
    },
  );
  await Deno.remove(dir, { recursive: true });
});

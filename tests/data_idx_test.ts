import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { loadIdx, parseIdx } from "../train/data/idx.ts";

function idx(dtype: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const v = new DataView(out.buffer);
  out[2] = dtype;
  out[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

const N = 5, H = 4, W = 3;
const imageBytes = Uint8Array.from({ length: N * H * W }, (_, i) => (i * 13) & 255);
const labelBytes = Uint8Array.from([0, 9, 3, 3, 7]);

Deno.test("IDX (MNIST) files", async (t) => {
  await t.step("parses uint8 and big-endian wider types", () => {
    const a = parseIdx(idx(0x08, [N, H, W], imageBytes), "a");
    assert.deepEqual(a.dims, [N, H, W]);
    assert.deepEqual(a.data, imageBytes);
    const body = new Uint8Array(8);
    new DataView(body.buffer).setInt32(0, -5, false);
    new DataView(body.buffer).setInt32(4, 70000, false);
    assert.deepEqual([...parseIdx(idx(0x0c, [2], body), "b").data], [-5, 70000]);
    const f = new Uint8Array(4);
    new DataView(f.buffer).setFloat32(0, 1.5, false);
    assert.deepEqual([...parseIdx(idx(0x0d, [1, 1], f), "c").data], [1.5]);
  });

  await t.step("gzipped and raw files load the same dataset; grey becomes RGB", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/img`, idx(0x08, [N, H, W], imageBytes));
      await Deno.writeFile(`${dir}/lab`, idx(0x08, [N], labelBytes));
      await Deno.writeFile(`${dir}/img.gz`, gzipSync(idx(0x08, [N, H, W], imageBytes)));
      await Deno.writeFile(`${dir}/lab.gz`, gzipSync(idx(0x08, [N], labelBytes)));
      const raw = await loadIdx({ images: `${dir}/img`, labels: `${dir}/lab` });
      const gz = await loadIdx({ images: `${dir}/img.gz`, labels: `${dir}/lab.gz` });
      assert.equal(raw.length, N);
      assert.equal(raw.height, H);
      assert.equal(raw.width, W);
      assert.equal(raw.numClasses, 10);
      for (let i = 0; i < N; i++) {
        assert.deepEqual(gz.get(i), raw.get(i));
        const s = raw.get(i);
        assert.equal(s.label, labelBytes[i]);
        assert.equal(s.pixels.length, H * W * 3);
        for (let p = 0; p < H * W; p++) {
          const v = imageBytes[i * H * W + p];
          assert.deepEqual([...s.pixels.subarray(p * 3, p * 3 + 3)], [v, v, v]);
        }
      }
      const named = await loadIdx({
        images: `${dir}/img`,
        labels: `${dir}/lab`,
        classNames: "abcdefghij".split(""),
      });
      assert.equal(named.classNames[9], "j");
      await assert.rejects(
        loadIdx({ images: `${dir}/img`, labels: `${dir}/lab`, classNames: ["x", "y"] }),
        /lab: record \d+ has label 9, outside the 2 classes \[0, 2\)/,
      );
      // Swapped files: wrong dims.
      await assert.rejects(
        loadIdx({ images: `${dir}/lab`, labels: `${dir}/img` }),
        /lab: expected uint8 images/,
      );
      // Label count mismatch.
      await Deno.writeFile(`${dir}/lab4`, idx(0x08, [4], labelBytes.subarray(0, 4)));
      await assert.rejects(
        loadIdx({ images: `${dir}/img`, labels: `${dir}/lab4` }),
        /lab4: 4 labels/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a stray label is an error naming the file, the record and the label", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/img`, idx(0x08, [N, H, W], imageBytes));
      // One byte of 200 among 0–9 would build a 201-class model.
      await Deno.writeFile(`${dir}/stray`, idx(0x08, [N], Uint8Array.from([0, 9, 200, 3, 7])));
      await assert.rejects(
        loadIdx({ images: `${dir}/img`, labels: `${dir}/stray` }),
        /stray: record 2 has label 200, but labels 10–199 never occur: a corrupt label\?/,
      );
      // More than ten classes load when every label up to the largest occurs (EMNIST-style).
      const many = Uint8Array.from([0, 10, 11, 12, 1]);
      await Deno.writeFile(`${dir}/many`, idx(0x08, [N], many));
      assert.equal((await loadIdx({ images: `${dir}/img`, labels: `${dir}/many` })).numClasses, 13);
      // A test set checked against the training set's classes.
      await Deno.writeFile(`${dir}/test`, idx(0x08, [N], Uint8Array.from([0, 1, 2, 12, 3])));
      const names = Array.from({ length: 10 }, (_, i) => String(i));
      await assert.rejects(
        loadIdx({ images: `${dir}/img`, labels: `${dir}/test`, classNames: names }),
        /test: record 3 has label 12, outside the 10 classes \[0, 10\)/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("validates magic, dtype, dims and length, naming the file", () => {
    const good = idx(0x08, [N, H, W], imageBytes);
    const badMagic = good.slice();
    badMagic[0] = 1;
    assert.throws(() => parseIdx(badMagic, "m.idx"), /m\.idx: bad IDX magic/);
    const badType = good.slice();
    badType[2] = 0x0a;
    assert.throws(() => parseIdx(badType, "t.idx"), /t\.idx: unknown IDX dtype 0x0a/);
    assert.throws(
      () => parseIdx(good.subarray(0, good.length - 1), "s.idx"),
      /s\.idx: IDX file is/,
    );
    assert.throws(() => parseIdx(idx(0x08, [2, 3], new Uint8Array(7)), "l.idx"), /l\.idx/);
    assert.throws(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0]), "h.idx"), /h\.idx: truncated/);
    assert.throws(
      () => parseIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), "z.gz"),
      /z\.gz: corrupt gzip/,
    );
    assert.throws(
      () => parseIdx(new Uint8Array([0, 0, 8, 0]), "d.idx"),
      /d\.idx: IDX file has no dimensions/,
    );
  });
});

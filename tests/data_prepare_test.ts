import assert from "node:assert/strict";
import { encode as encodePng } from "npm:fast-png@8.0.0";
import { decodeImage, loadImageFolder } from "../train/data/image_folder.ts";
import { shorterSideCenterCrop } from "../train/data/_resize.ts";
import { prepareImageFolder } from "../train/data/prepare.ts";
import { ShardDataset } from "../train/data/shard_dataset.ts";
import { detectDataFormat, loadDataSplits } from "../train/data/formats.ts";

const png = (w: number, h: number, f: (x: number, y: number, c: number) => number) =>
  encodePng({
    width: w,
    height: h,
    channels: 3,
    data: Uint8Array.from({ length: w * h * 3 }, (_, i) => {
      const p = Math.floor(i / 3);
      return f(p % w, Math.floor(p / w), i % 3);
    }),
  });

Deno.test("prepareImageFolder and ShardDataset", async (t) => {
  const root = await Deno.makeTempDir();
  const input = `${root}/in`, output = `${root}/out`;
  for (const c of ["a", "b", "c"]) await Deno.mkdir(`${input}/${c}`, { recursive: true });
  // 2×2 blocks over 32×16: shorter side 16 → 8 halves it; the central 8 of 16 columns kept.
  const blocks = (x: number, y: number, c: number) =>
    (Math.floor(x / 2) * 23 + Math.floor(y / 2) * 41 + c * 70) & 255;
  await Deno.writeFile(`${input}/a/blocks.png`, png(32, 16, blocks));
  // 4×4 horizontal ramp, enlarged to 8×8 (bilinear).
  const ramp = [0, 100, 200, 255];
  await Deno.writeFile(`${input}/a/ramp.png`, png(4, 4, (x) => ramp[x]));
  for (let i = 0; i < 5; i++) {
    await Deno.writeFile(
      `${input}/${"bc"[i % 2]}/n${i}.png`,
      png(10 + i, 9 + 2 * i, (x, y, c) => (x * 31 + y * 17 + c * (40 + i * 30) + i * 50) & 255),
    );
  }
  await Deno.writeFile(`${input}/c/bad.png`, new Uint8Array([1, 2, 3]));

  await t.step("a bad file stops the run unless skipBad is set", async () => {
    await assert.rejects(prepareImageFolder({ input, output, size: 8 }), /bad\.png/);
  });

  await t.step("round trip, resampling, mean image and PCA", async () => {
    const manifest = await prepareImageFolder({
      input,
      output,
      size: 8,
      shardSize: 3,
      skipBad: true,
      log: () => {},
    });
    assert.equal(manifest.count, 7);
    assert.deepEqual(manifest.classNames, ["a", "b", "c"]);
    assert.deepEqual(manifest.classCounts, [2, 3, 2]);
    assert.deepEqual(manifest.shards.map((s) => s.count), [3, 3, 1]);
    assert.deepEqual(manifest.skippedFiles, [`${input}/c/bad.png`]);
    assert.equal(manifest.skipped, 1);
    for await (const e of Deno.readDir(output)) assert.ok(!e.name.includes(".tmp"), e.name);

    const ds = await ShardDataset.open(output);
    const disk = await ShardDataset.open(output, { inMemory: false, maxOpenFiles: 1 });
    const ref = await loadImageFolder(input, { size: 8, skipBad: true, log: () => {} });
    assert.deepEqual([ds.length, ds.height, ds.width, ds.channels, ds.numClasses], [7, 8, 8, 3, 3]);
    for (const i of [6, 0, 3, 5, 1, 2, 4]) {
      assert.deepEqual(ds.get(i), ref.get(i));
      assert.deepEqual(disk.get(i), ref.get(i));
    }
    disk.close();

    // torchvision's Resize(8) + CenterCrop(8) of the 2×2 blocks, to the byte: PIL's bilinear
    // filter stretched over the halving mixes neighbouring blocks (the values are Pillow's).
    const b = ds.get(0).pixels;
    const row = (y: number, c: number) =>
      Array.from({ length: 8 }, (_, x) => b[(y * 8 + x) * 3 + c]);
    assert.deepEqual(row(0, 0), [98, 121, 144, 167, 190, 208, 204, 195]);
    assert.deepEqual(row(3, 1), [57, 56, 75, 98, 121, 144, 167, 190]);
    assert.equal(b.reduce((sum, v) => sum + v, 0), 24736);
    // Bilinear upscale: output x samples source position x/2 − 1/4 (clamped to the edges).
    const r = ds.get(1).pixels;
    const want = [0, 25, 75, 125, 175, 214, 241, 255];
    assert.deepEqual(Array.from({ length: 8 }, (_, x) => r[(3 * 8 + x) * 3]), want);

    // Mean image and PCA against a direct computation over all prepared pixels.
    const n = ds.length, stride = 8 * 8 * 3;
    const mean = new Float64Array(stride);
    const s = [0, 0, 0], ss = new Float64Array(9);
    for (let i = 0; i < n; i++) {
      const p = ds.get(i).pixels;
      for (let k = 0; k < stride; k++) mean[k] += p[k] / 255 / n;
      for (let q = 0; q < stride; q += 3) {
        for (let a = 0; a < 3; a++) {
          s[a] += p[q + a] / 255;
          for (let b2 = 0; b2 < 3; b2++) ss[a * 3 + b2] += (p[q + a] / 255) * (p[q + b2] / 255);
        }
      }
    }
    assert.ok(ds.mean !== null && ds.pca !== null && ds.meanRgb !== null);
    for (let k = 0; k < stride; k++) assert.ok(Math.abs(ds.mean[k] - mean[k]) < 1e-6);
    const m = n * 64, mu = s.map((v) => v / m);
    for (let a = 0; a < 3; a++) assert.ok(Math.abs(ds.meanRgb[a] - mu[a]) < 1e-12);
    const cov = Array.from({ length: 9 }, (_, k) => ss[k] / m - mu[Math.floor(k / 3)] * mu[k % 3]);
    cov.forEach((v, k) => assert.ok(Math.abs(ds.pca!.covariance[k] - v) < 1e-12, `cov ${k}`));
    const { eigenvalues: l, eigenvectors: p } = ds.pca;
    assert.ok(l[0] >= l[1] && l[1] >= l[2] && l[2] >= 0);
    for (let i = 0; i < 3; i++) {
      for (let a = 0; a < 3; a++) { // C p_i = λ_i p_i
        const cp = cov[a * 3] * p[i][0] + cov[a * 3 + 1] * p[i][1] + cov[a * 3 + 2] * p[i][2];
        assert.ok(Math.abs(cp - l[i] * p[i][a]) < 1e-10, `eigenpair ${i}`);
      }
      for (let j = 0; j < 3; j++) { // orthonormal
        const dot = p[i][0] * p[j][0] + p[i][1] * p[j][1] + p[i][2] * p[j][2];
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-10);
      }
    }
    const trace = cov[0] + cov[4] + cov[8];
    assert.ok(Math.abs(l[0] + l[1] + l[2] - trace) < 1e-12);
  });

  await t.step("stats: false, and a damaged shard is reported by name", async () => {
    const out2 = `${root}/out2`;
    const m = await prepareImageFolder({
      input,
      output: out2,
      size: 4,
      stats: false,
      skipBad: true,
      log: () => {},
    });
    assert.equal(m.mean, null);
    assert.equal(m.pca, null);
    const ds = await ShardDataset.open(out2);
    assert.equal(ds.mean, null);
    assert.equal(ds.get(6).pixels.length, 48);
    const shard = `${out2}/${m.shards[0].file}`;
    const bytes = await Deno.readFile(shard);
    await Deno.writeFile(shard, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(ShardDataset.open(out2), /shard-00000\.bin: shard is/);
    bytes[0] = 0;
    await Deno.writeFile(shard, bytes);
    await assert.rejects(ShardDataset.open(out2), /shard-00000\.bin: not a shard file/);
    await assert.rejects(ShardDataset.open(`${root}/nothing`), /manifest\.json/);
  });

  await t.step("a class whose every file was skipped is an empty class", async () => {
    const only = `${root}/only-bad`;
    await Deno.mkdir(`${only}/good`, { recursive: true });
    await Deno.mkdir(`${only}/broken`);
    await Deno.writeFile(`${only}/good/x.png`, png(4, 4, () => 7));
    await Deno.writeFile(`${only}/broken/y.png`, new Uint8Array([1, 2, 3]));
    const options = { input: only, output: `${root}/out3`, size: 4, skipBad: true, log: () => {} };
    await assert.rejects(prepareImageFolder(options), /broken: empty class folder \(class 0\)/);
    const warned: string[] = [];
    const m = await prepareImageFolder({
      ...options,
      allowEmptyClasses: true,
      log: (s) => warned.push(s),
    });
    assert.deepEqual(m.classCounts, [0, 1]);
    assert.match(warned.at(-1)!, /broken: empty class folder, kept as class 0/);
  });

  await t.step("prepared train and val folders of other image sizes: one error", async () => {
    // Validation crops and subtracts the training mean image: 16-pixel validation images under
    // a 24-pixel training set failed after the first epoch's training ('augment: crop 21 …').
    const input = `${root}/two`;
    for (const c of ["x", "y"]) {
      await Deno.mkdir(`${input}/${c}`, { recursive: true });
      await Deno.writeFile(`${input}/${c}/i.png`, png(6, 6, (x) => x * 40));
    }
    const [train, val] = [`${root}/two-out/train`, `${root}/two-out/val`];
    await prepareImageFolder({ input, output: train, size: 24 });
    await prepareImageFolder({ input, output: val, size: 16, stats: false });
    await assert.rejects(
      loadDataSplits(await detectDataFormat(`${root}/two-out`)),
      new RegExp(
        `^DataFormatError: ${val} holds 16×16 images and ${train} 24×24: prepare both at the same --size$`,
      ),
    );
    // A val/ whose prepare stopped before its manifest: the folder read as no data at all
    // ('found none of … prepared shards'), and given as the validation folder, 'cannot read
    // manifest: No such file or directory (os error 2): readfile …'.
    await Deno.remove(`${val}/manifest.json`);
    const unfinished = `${val}: no manifest.json: not a prepared folder, or its prepare stopped ` +
      `before the end \\(run it again\\)$`;
    await assert.rejects(
      detectDataFormat(`${root}/two-out`),
      new RegExp(`^DataFormatError: ${root}/two-out holds prepared train/, but ${unfinished}`),
    );
    await assert.rejects(
      loadDataSplits({ kind: "shards", dir: train, valDir: val }),
      new RegExp(`: ${unfinished}`),
    );
  });

  await Deno.remove(root, { recursive: true });
});

Deno.test("prepare's resize and centre crop are torchvision's Resize + CenterCrop on PIL, to the byte", async () => {
  // It averaged areas when shrinking and centred the crop in the source: up to 175 levels off
  // torchvision's pipeline on textured images (about 6 on average).
  const fixtures = new URL("./fixtures/resize_pil/", import.meta.url);
  for (const [w, h, size] of [[19, 17, 16], [7, 5, 12], [61, 23, 9]]) {
    const name = `${w}x${h}_to_${size}`;
    const img = await decodeImage(await Deno.readFile(new URL(`${name}.png`, fixtures)), name);
    const pil = await Deno.readFile(new URL(`${name}.rgb`, fixtures));
    assert.deepEqual(shorterSideCenterCrop(img.pixels, w, h, size), pil, name);
  }
});

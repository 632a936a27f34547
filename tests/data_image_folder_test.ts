import assert from "node:assert/strict";
import { encode as encodePng } from "npm:fast-png@8.0.0";
import jpegJs from "npm:jpeg-js@0.4.4";
import { decodeImage, ImageFolder, loadImageFolder } from "../train/data/image_folder.ts";

type PngInput = Parameters<typeof encodePng>[0];
const png = (img: PngInput): Uint8Array => encodePng(img);

/** An RGB JPEG (quality 95) from HWC RGB pixels, via jpeg-js. */
function jpeg(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
    rgba[p * 4 + 3] = 255;
  }
  return new Uint8Array(jpegJs.encode({ width, height, data: rgba }, 95).data);
}

/**
 * A flat 8×8 baseline JPEG with one DC-only block per component, holding `values` (stored
 * component values), with an Adobe APP14 marker when `adobeTransform` is given. jpeg-js
 * cannot write greyscale, CMYK or YCCK files, so the test writes them itself.
 */
function flatJpeg(values: number[], adobeTransform: number | null): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  const seg = (marker: number, body: number[]) =>
    out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  if (adobeTransform !== null) {
    seg(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, adobeTransform]);
  }
  seg(0xdb, [0, ...new Array(64).fill(1)]); // quantisation table 0: all ones
  const nc = values.length;
  seg(0xc0, [8, 0, 8, 0, 8, nc, ...values.flatMap((_, i) => [i + 1, 0x11, 0])]);
  // Standard luminance DC table; an AC table holding only EOB (code "0").
  seg(0xc4, [
    0x00,
    0,
    1,
    5,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...Array.from({ length: 12 }, (_, i) => i),
  ]);
  seg(0xc4, [0x10, 1, ...new Array(15).fill(0), 0x00]);
  seg(0xda, [nc, ...values.flatMap((_, i) => [i + 1, 0x00]), 0, 63, 0]);
  const dcCodes: [number, number][] = [
    [0b00, 2],
    [0b010, 3],
    [0b011, 3],
    [0b100, 3],
    [0b101, 3],
    [
      0b110,
      3,
    ],
    [0b1110, 4],
    [0b11110, 5],
    [0b111110, 6],
    [0b1111110, 7],
    [0b11111110, 8],
    [0b111111110, 9],
  ];
  let acc = 0, nbits = 0;
  const bytes: number[] = [];
  const put = (code: number, len: number) => {
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >> i) & 1);
      if (++nbits === 8) {
        bytes.push(acc);
        if (acc === 0xff) bytes.push(0);
        acc = 0;
        nbits = 0;
      }
    }
  };
  for (const v of values) {
    const d = (v - 128) * 8; // a DC-only block decodes to d / 8 + 128 everywhere
    const cat = d === 0 ? 0 : Math.floor(Math.log2(Math.abs(d))) + 1;
    put(...dcCodes[cat]);
    if (cat > 0) put(d > 0 ? d : d + (1 << cat) - 1, cat);
    put(0, 1); // EOB
  }
  while (nbits !== 0) put(1, 1);
  out.push(...bytes, 0xff, 0xd9);
  return new Uint8Array(out);
}

const W = 6, H = 4;
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37 + 11) & 255);
const pixelAt = (px: Uint8Array, p: number) => [...px.subarray(p * 3, p * 3 + 3)];

Deno.test("image decoding", async (t) => {
  await t.step("PNG colour types become 8-bit RGB", async () => {
    const a = await decodeImage(png({ width: W, height: H, data: rgb, channels: 3 }), "rgb.png");
    assert.deepEqual([a.width, a.height], [W, H]);
    assert.deepEqual(a.pixels, rgb);

    const grey = Uint8Array.from({ length: W * H }, (_, i) => i * 10);
    const g = await decodeImage(png({ width: W, height: H, data: grey, channels: 1 }), "g.png");
    for (let p = 0; p < W * H; p++) {
      assert.deepEqual(pixelAt(g.pixels, p), [grey[p], grey[p], grey[p]]);
    }

    const ga = Uint8Array.from({ length: W * H * 2 }, (_, i) => (i % 2 ? (i * 29) & 255 : 100));
    const gaPng = png({ width: W, height: H, data: ga, channels: 2 });
    const gaImg = await decodeImage(gaPng, "ga.png");
    const gaWhite = await decodeImage(gaPng, "ga.png", { alpha: "white" });
    for (let p = 0; p < W * H; p++) {
      // PIL's convert("RGB") drops alpha: the stored grey, whatever the alpha.
      assert.deepEqual(pixelAt(gaImg.pixels, p), [100, 100, 100]);
      const a = ga[p * 2 + 1] / 255, v = Math.round(100 * a + 255 * (1 - a));
      assert.deepEqual(pixelAt(gaWhite.pixels, p), [v, v, v]);
    }

    const rgba = Uint8Array.from(
      { length: W * H * 4 },
      (_, i) => (i % 4 === 3 ? (i * 7) & 255 : (i * 31) & 255),
    );
    const enc = png({ width: W, height: H, data: rgba, channels: 4 });
    const white = await decodeImage(enc, "rgba.png", { alpha: "white" });
    const byDefault = await decodeImage(enc, "rgba.png");
    assert.deepEqual(
      byDefault.pixels,
      (await decodeImage(enc, "rgba.png", { alpha: "drop" })).pixels,
    );
    const black = await decodeImage(enc, "rgba.png", { alpha: "black" });
    const drop = await decodeImage(enc, "rgba.png", { alpha: "drop" });
    for (let p = 0; p < W * H; p++) {
      const a = rgba[p * 4 + 3] / 255;
      for (let c = 0; c < 3; c++) {
        const v = rgba[p * 4 + c];
        assert.equal(white.pixels[p * 3 + c], Math.round(v * a + 255 * (1 - a)));
        assert.equal(black.pixels[p * 3 + c], Math.round(v * a));
        assert.equal(drop.pixels[p * 3 + c], v);
      }
    }

    const deep = Uint16Array.from({ length: W * H * 3 }, (_, i) => (i * 2741) & 65535);
    const d = await decodeImage(
      png({ width: W, height: H, data: deep, channels: 3, depth: 16 }),
      "16.png",
    );
    // PIL keeps the high byte of 16-bit colour (it read 255/65535 of each sample before).
    deep.forEach((v, i) => assert.equal(d.pixels[i], v >> 8));

    // fast-png's encoder writes tRNS for the non-opaque entries only, so they must come first.
    const palette = [[0, 0, 255, 0], [10, 20, 30, 128], [255, 0, 0, 255]];
    const idx = Uint8Array.from({ length: W * H }, (_, i) => i % 3);
    const pal = await decodeImage(
      png({ width: W, height: H, data: idx, channels: 1, palette }),
      "pal.png",
    );
    const wantPal = [[0, 0, 255], [10, 20, 30], [255, 0, 0]]; // PIL's: the palette's colours
    for (let p = 0; p < W * H; p++) assert.deepEqual(pixelAt(pal.pixels, p), wantPal[idx[p]]);
    const palWhite = await decodeImage(
      png({ width: W, height: H, data: idx, channels: 1, palette }),
      "pal.png",
      { alpha: "white" },
    );
    const overWhite = [[255, 255, 255], [132, 137, 142], [255, 0, 0]]; // v·a + 255·(1 − a)
    for (let p = 0; p < W * H; p++) {
      assert.deepEqual(pixelAt(palWhite.pixels, p), overWhite[idx[p]]);
    }

    const bits = Uint8Array.from([0b10110000, 0b01000000]); // 4×... rows of 1-bit grey
    const one = await decodeImage(
      png({ width: 4, height: 2, data: bits, channels: 1, depth: 1 }),
      "1.png",
    );
    assert.deepEqual([...one.pixels].filter((_, i) => i % 3 === 0), [
      255,
      0,
      255,
      255,
      0,
      255,
      0,
      0,
    ]);
  });

  await t.step('16-bit PNGs give PIL\'s convert("RGB") bytes', async () => {
    // Each sample as Pillow (9.4, and the I;16 conversion of current Pillow) converts it.
    const samples = [0, 100, 255, 256, 300, 1000, 32768, 0x80ff, 65535];
    const highByte = [0, 0, 0, 1, 1, 3, 128, 128, 255];
    const clipped = [0, 100, 255, 255, 255, 255, 255, 255, 255];
    const w = samples.length;
    const grey = await decodeImage(
      png({ width: w, height: 1, data: Uint16Array.from(samples), channels: 1, depth: 16 }),
      "grey16.png",
    );
    assert.deepEqual([...grey.pixels].filter((_, i) => i % 3 === 0), clipped);
    const greyAlpha = await decodeImage(
      png({
        width: w,
        height: 1,
        data: Uint16Array.from(samples.flatMap((v) => [v, 0x1234])),
        channels: 2,
        depth: 16,
      }),
      "la16.png",
    );
    assert.deepEqual([...greyAlpha.pixels].filter((_, i) => i % 3 === 0), highByte);
    const rgba = await decodeImage(
      png({
        width: w,
        height: 1,
        data: Uint16Array.from(samples.flatMap((v) => [v, 65535 - v, v, 0])),
        channels: 4,
        depth: 16,
      }),
      "rgba16.png",
    );
    samples.forEach((v, p) =>
      assert.deepEqual(pixelAt(rgba.pixels, p), [highByte[p], (65535 - v) >> 8, highByte[p]])
    );
  });

  await t.step("subsampled JPEGs give the bytes of PIL over libjpeg-turbo", async () => {
    // jpeg-js replicated the subsampled chroma and truncated the colour conversion: at these
    // colour edges up to 104 levels off torchvision's loader (and about 2 on smooth photos).
    const fixtures = new URL("./fixtures/jpeg_pil/", import.meta.url);
    for (const name of ["edges_420", "edges_422"]) {
      const img = await decodeImage(await Deno.readFile(new URL(`${name}.jpg`, fixtures)), name);
      const pil = await Deno.readFile(new URL(`${name}.rgb`, fixtures));
      assert.deepEqual([img.width, img.height, img.pixels.length], [24, 17, pil.length]);
      let max = 0, sum = 0;
      pil.forEach((v, i) => {
        const d = Math.abs(v - img.pixels[i]);
        max = Math.max(max, d);
        sum += d;
      });
      // What remains is the inverse DCT's rounding (jpeg-js's against libjpeg's islow).
      assert.ok(
        max <= 3 && sum / pil.length < 0.5,
        `${name}: max ${max}, mean ${sum / pil.length}`,
      );
    }
  });

  await t.step("JPEG: RGB, greyscale, Adobe CMYK and YCCK", async () => {
    const smooth = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => {
      const p = Math.floor(i / 3), c = i % 3;
      return 40 + c * 50 + (p % 16) * 4 + Math.floor(p / 16) * 2;
    });
    const j = await decodeImage(jpeg(16, 16, smooth), "a.jpg");
    assert.deepEqual([j.width, j.height], [16, 16]);
    const err = j.pixels.reduce((s, v, i) => s + Math.abs(v - smooth[i]), 0) / smooth.length;
    assert.ok(err < 3, `mean abs JPEG error ${err}`);

    const grey = await decodeImage(flatJpeg([77], null), "grey.jpg");
    for (let p = 0; p < 64; p++) assert.deepEqual(pixelAt(grey.pixels, p), [77, 77, 77]);
    // Adobe CMYK is stored inverted (255 − ink): red ink C=0 M=Y=255 K=0, and 50% black.
    const red = await decodeImage(flatJpeg([255, 0, 0, 255], 0), "cmyk.jpg");
    assert.deepEqual(pixelAt(red.pixels, 0), [255, 0, 0]);
    const halfBlack = await decodeImage(flatJpeg([255, 255, 255, 127], 0), "k.jpg");
    assert.deepEqual(pixelAt(halfBlack.pixels, 63), [127, 127, 127]);
    // YCCK: YCbCr-coded inverted CMY plus K; neutral chroma and no black ink give grey 255 − Y.
    const ycck = await decodeImage(flatJpeg([200, 128, 128, 255], 2), "ycck.jpg");
    assert.deepEqual(pixelAt(ycck.pixels, 10), [55, 55, 55]);
  });

  await t.step("the decoder is chosen by magic bytes; errors name the file", async () => {
    const j = await decodeImage(jpeg(W, H, rgb), "really-a-jpeg.png");
    assert.deepEqual([j.width, j.height], [W, H]);
    await assert.rejects(
      decodeImage(new TextEncoder().encode("hello"), "notes.txt"),
      /notes\.txt: not a PNG or JPEG/,
    );
    const broken = png({ width: W, height: H, data: rgb, channels: 3 }).slice();
    broken.fill(0x55, 40); // keep the signature and IHDR, destroy the pixel data
    await assert.rejects(decodeImage(broken, "broken.png"), /broken\.png: cannot decode PNG/);
    const cut = jpeg(W, H, rgb).subarray(0, 30);
    await assert.rejects(decodeImage(cut, "cut.jpg"), /cut\.jpg/);
  });

  await t.step("the pixel cap is checked from the header before decoding", async () => {
    // A PNG header claiming 20000×20000 followed by garbage: rejected by size, not by decoding.
    const bomb = png({ width: 1, height: 1, data: new Uint8Array(3), channels: 3 }).slice();
    new DataView(bomb.buffer).setUint32(16, 20000);
    new DataView(bomb.buffer).setUint32(20, 20000);
    await assert.rejects(
      decodeImage(bomb, "bomb.png"),
      /bomb\.png: 20000×20000 image exceeds the pixel cap of 50000000/,
    );
    await assert.rejects(
      decodeImage(jpeg(W, H, rgb), "small.jpg", { maxPixels: 23 }),
      /small\.jpg: 6×4 image exceeds the pixel cap of 23/,
    );
    assert.equal((await decodeImage(jpeg(W, H, rgb), "ok.jpg", { maxPixels: 24 })).width, W);
  });
});

Deno.test("image folders", async (t) => {
  const dir = await Deno.makeTempDir();
  const write = (rel: string, bytes: Uint8Array) => Deno.writeFile(`${dir}/${rel}`, bytes);
  const flat = (v: number[], w = 8, h = 8) =>
    Uint8Array.from({ length: w * h * 3 }, (_, i) => v[i % 3]);
  for (const c of ["dogs", "cats", ".hidden", "birds"]) await Deno.mkdir(`${dir}/${c}`);
  await write("cats/b.png", png({ width: 8, height: 8, data: flat([200, 10, 10]), channels: 3 }));
  await write("cats/a.png", jpeg(8, 8, flat([10, 200, 10]))); // a JPEG named .png
  await write("cats/.DS_Store", new Uint8Array([1, 2, 3]));
  await write(
    "dogs/grey.png",
    png({ width: 16, height: 8, data: new Uint8Array(128).fill(90), channels: 1 }),
  );
  await write(
    "birds/rgba.png",
    png({ width: 8, height: 8, data: new Uint8Array(256).fill(0), channels: 4 }),
  );
  await write(
    "dogs/zz-corrupt.png",
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
  );

  await t.step("lists sorted classes and files, skipping hidden entries", async () => {
    const f = await ImageFolder.open(dir);
    assert.deepEqual(f.classNames, ["birds", "cats", "dogs"]);
    assert.deepEqual(
      f.files.map((x) => [x.path.slice(dir.length + 1), x.label]),
      [["birds/rgba.png", 0], ["cats/a.png", 1], ["cats/b.png", 1], ["dogs/grey.png", 2], [
        "dogs/zz-corrupt.png",
        2,
      ]],
    );
    const only = await ImageFolder.open(dir, { extensions: [".PNG"] });
    assert.equal(only.files.length, 5);
  });

  await t.step("a corrupt file fails the load, naming it", async () => {
    await assert.rejects(loadImageFolder(dir, { size: 4 }), /zz-corrupt\.png/);
  });

  await t.step("skipBad skips, counts, names and logs bad files", async () => {
    const logged: string[] = [];
    const ds = await loadImageFolder(dir, { size: 4, skipBad: true, log: (m) => logged.push(m) });
    assert.equal(ds.length, 4);
    assert.equal(ds.skipped, 1);
    assert.deepEqual(ds.skippedFiles, [`${dir}/dogs/zz-corrupt.png`]);
    assert.equal(logged.length, 1);
    assert.match(logged[0], /zz-corrupt\.png/);
    assert.deepEqual([ds.height, ds.width, ds.numClasses], [4, 4, 3]);
    assert.deepEqual(Array.from({ length: 4 }, (_, i) => ds.get(i).label), [0, 1, 1, 2]);
    assert.deepEqual(pixelAt(ds.get(0).pixels, 5), [0, 0, 0]); // transparent black, as PIL keeps it
    const jp = pixelAt(ds.get(1).pixels, 3); // the JPEG named .png
    assert.ok(
      Math.abs(jp[0] - 10) < 6 && Math.abs(jp[1] - 200) < 6 && Math.abs(jp[2] - 10) < 6,
      `${jp}`,
    );
    assert.deepEqual(pixelAt(ds.get(2).pixels, 15), [200, 10, 10]);
    assert.deepEqual(pixelAt(ds.get(3).pixels, 0), [90, 90, 90]); // greyscale 16×8 → 4×4
    assert.equal(ds.paths[3], `${dir}/dogs/grey.png`);
  });

  await t.step("an empty class folder is an error, or a warning when allowed", async () => {
    await Deno.mkdir(`${dir}/empty`);
    await write("empty/.hidden", new Uint8Array(1));
    await assert.rejects(
      ImageFolder.open(dir),
      /empty: empty class folder \(class 3\): remove it, or allow empty classes/,
    );
    const logged: string[] = [];
    const f = await ImageFolder.open(dir, { allowEmptyClasses: true, log: (m) => logged.push(m) });
    assert.deepEqual(f.classNames, ["birds", "cats", "dogs", "empty"]);
    assert.equal(logged.length, 1);
    assert.match(
      logged[0],
      /^warning: .*empty: empty class folder, kept as class 3 with no images/,
    );
    await Deno.remove(`${dir}/empty`, { recursive: true });
  });

  await t.step("files in nested folders belong to their class, as torchvision's", async () => {
    // A class folder holding only a subfolder of images was an "empty class" error, and the
    // images one level down were silently left out of every other class.
    await Deno.mkdir(`${dir}/dogs/puppies/small`, { recursive: true });
    await Deno.mkdir(`${dir}/fish/.cache`, { recursive: true });
    await Deno.mkdir(`${dir}/fish/tank`);
    const img = png({ width: 8, height: 8, data: flat([1, 2, 3]), channels: 3 });
    await write("dogs/puppies/small/p.png", img);
    await write("dogs/puppies/a.png", img);
    await write("fish/tank/f.png", img);
    await write("fish/.cache/hidden.png", img);
    // Symlinks back up the tree (to the class, or to the whole folder) are not walked again.
    await Deno.symlink(`${dir}/fish`, `${dir}/fish/tank/loop`);
    await Deno.symlink(dir, `${dir}/fish/tank/root`);
    const f = await ImageFolder.open(dir);
    assert.deepEqual(f.classNames, ["birds", "cats", "dogs", "fish"]);
    assert.deepEqual(
      f.files.filter((x) => x.label >= 2).map((x) => [x.path.slice(dir.length + 1), x.label]),
      [
        ["dogs/grey.png", 2],
        ["dogs/puppies/a.png", 2],
        ["dogs/puppies/small/p.png", 2],
        ["dogs/zz-corrupt.png", 2],
        ["fish/tank/f.png", 3],
      ],
    );
    assert.equal((await f.read(f.files.length - 1))?.width, 8);
    await Deno.remove(`${dir}/dogs/puppies`, { recursive: true });
    await Deno.remove(`${dir}/fish`, { recursive: true });
  });

  await t.step(
    "files without an image's extension are ignored, in one line, as torchvision's",
    async () => {
      // A notes.txt or Thumbs.db in a class folder stopped prepare as a bad image (unless
      // --skip-bad, which then counted it as one); torchvision's ImageFolder lists by extension.
      await write("cats/notes.txt", new TextEncoder().encode("taken in 2019"));
      await write("dogs/Thumbs.db", new Uint8Array([1, 2, 3]));
      await write("birds/ANOTHER.JPEG", jpeg(8, 8, flat([1, 2, 3])));
      const logged: string[] = [];
      const ds = await loadImageFolder(dir, { size: 4, skipBad: true, log: (m) => logged.push(m) });
      assert.equal(ds.length, 5);
      assert.equal(ds.skipped, 1, "only the corrupt PNG is a bad image");
      assert.deepEqual(logged.filter((m) => m.startsWith("ignoring")), [
        "ignoring 2 files whose extension is not an image's (cats/notes.txt, dogs/Thumbs.db)",
      ]);
      const f = await ImageFolder.open(dir, { log: () => {} });
      assert.deepEqual(f.ignoredFiles, [`${dir}/cats/notes.txt`, `${dir}/dogs/Thumbs.db`]);
      const all = await ImageFolder.open(dir, { extensions: "all" });
      assert.deepEqual(all.ignoredFiles, []);
      assert.equal(all.files.length, f.files.length + 2);
      // A class folder holding only such files is empty, and the error says what it holds.
      await Deno.mkdir(`${dir}/notes`);
      await write("notes/todo.txt", new Uint8Array(1));
      await assert.rejects(
        ImageFolder.open(dir, { log: () => {} }),
        /notes: empty class folder \(class 3\), only files that are not images by their extension \(todo\.txt\): remove it/,
      );
      for (const path of ["cats/notes.txt", "dogs/Thumbs.db", "birds/ANOTHER.JPEG", "notes"]) {
        await Deno.remove(`${dir}/${path}`, { recursive: true });
      }
    },
  );

  await Deno.remove(dir, { recursive: true });
});

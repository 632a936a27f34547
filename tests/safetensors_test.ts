import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  entryFromTypedArray,
  entryToFloat32,
  entryToTypedArray,
  findNonFinite,
  readSafetensorsFile,
  SafetensorsError,
  type TensorEntry,
  writeSafetensorsFile,
} from "../nn/safetensors.ts";

const text = new TextEncoder();
const hex = (s: string): Uint8Array => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const le64 = (n: number): number[] => [...new Uint8Array(new BigUint64Array([BigInt(n)]).buffer)];

/** A file from a header text (unpadded) and `dataLength` zero bytes of data. */
function raw(header: string, dataLength = 0): Uint8Array {
  const h = text.encode(header);
  return new Uint8Array([...le64(h.length), ...h, ...new Uint8Array(dataLength)]);
}

function rejects(rule: string, f: () => unknown, message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.equal(e.rule, rule, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const f32 = (shape: number[], values: number[]): TensorEntry =>
  entryFromTypedArray("F32", shape, new Float32Array(values));

Deno.test("safetensors round trip", async (t) => {
  const tensors: Record<string, TensorEntry> = {
    "conv1.weight": f32([2, 3], [1, 2, 3, 4, 5, 6]),
    scalar: entryFromTypedArray("I32", [], new Int32Array([-7])),
    empty: f32([0, 3], []),
    step: entryFromTypedArray("I64", [2], new BigInt64Array([-1n, 1n << 40n])),
    u64: entryFromTypedArray("U64", [1], new BigUint64Array([2n ** 64n - 1n])),
    half: entryFromTypedArray("F16", [3], new Float32Array([1.5, -2, 65504])),
    brain: entryFromTypedArray("BF16", [2], new Float32Array([1, -3.5])),
    f64: entryFromTypedArray("F64", [1, 1, 1], new Float64Array([Math.PI])),
    mask: entryFromTypedArray("BOOL", [3], new Uint8Array([1, 0, 1])),
    i8: entryFromTypedArray("I8", [2], new Int8Array([-128, 127])),
    i16: entryFromTypedArray("I16", [1], new Int16Array([-300])),
    u16: entryFromTypedArray("U16", [1], new Uint16Array([60000])),
    u32: entryFromTypedArray("U32", [1], new Uint32Array([4e9])),
    'odd "name" \\ {[,]} é': entryFromTypedArray("U8", [1], new Uint8Array([9])),
  };
  const bytes = encodeSafetensors(tensors);
  const { tensors: back, metadata } = decodeSafetensors(bytes);

  await t.step("every tensor comes back with its dtype, shape and bytes", () => {
    assert.deepEqual(metadata, {});
    assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
    for (const [name, e] of Object.entries(tensors)) {
      assert.equal(back[name].dtype, e.dtype, name);
      assert.deepEqual(back[name].shape, e.shape, name);
      assert.deepEqual(back[name].data, e.data, name);
    }
  });

  await t.step("decodes from a view at any offset of a larger buffer", () => {
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    assert.deepEqual(decodeSafetensors(padded.subarray(3)).tensors, back);
  });

  await t.step("data entries are views into the input, not copies", () => {
    assert.equal(back["conv1.weight"].data.buffer, bytes.buffer);
    // The Python order (widest dtype first) leaves every tensor aligned to its element size.
    const sizes: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4 };
    for (const e of Object.values(back)) {
      const size = sizes[e.dtype] ??
        (e.dtype === "U8" || e.dtype === "I8" || e.dtype === "BOOL" ? 1 : 2);
      assert.equal(e.data.byteOffset % size, 0, e.dtype);
    }
  });

  await t.step("typed-array helpers convert back", () => {
    assert.deepEqual(entryToFloat32(back["conv1.weight"]), new Float32Array([1, 2, 3, 4, 5, 6]));
    assert.deepEqual(entryToTypedArray(back.scalar), new Int32Array([-7]));
    assert.deepEqual(entryToTypedArray(back.step), new BigInt64Array([-1n, 1n << 40n]));
    assert.deepEqual(entryToTypedArray(back.u64), new BigUint64Array([2n ** 64n - 1n]));
    assert.deepEqual(entryToFloat32(back.half), new Float32Array([1.5, -2, 65504]));
    assert.deepEqual(entryToFloat32(back.brain), new Float32Array([1, -3.5]));
    assert.deepEqual(entryToFloat32(back.f64), new Float32Array([Math.PI]));
    assert.deepEqual(entryToFloat32(back.mask), new Float32Array([1, 0, 1]));
    assert.deepEqual(entryToFloat32(back.i8), new Float32Array([-128, 127]));
    assert.deepEqual(entryToFloat32(back.step), new Float32Array([-1, 2 ** 40]));
    assert.deepEqual(entryToFloat32(back.empty), new Float32Array(0));
    // A copy: writing to it leaves the file bytes alone.
    const copy = entryToTypedArray(back.scalar) as Int32Array;
    copy[0] = 1;
    assert.deepEqual(entryToTypedArray(back.scalar), new Int32Array([-7]));
  });

  await t.step("entryFromTypedArray checks the array against dtype and shape", () => {
    rejects("bad-shape", () => entryFromTypedArray("F32", [2, 2], new Float32Array(3)));
    rejects("bad-shape", () => entryFromTypedArray("F32", [-1], new Float32Array(0)));
    rejects("array-type", () => entryFromTypedArray("F32", [1], new Float64Array(1)));
    rejects("array-type", () => entryFromTypedArray("I64", [1], new Int32Array(1)));
    // A view into a larger buffer copies only its own elements.
    const big = new Float32Array([9, 1, 2, 9]);
    assert.deepEqual(
      entryToFloat32(f32([2], [1, 2])),
      entryToFloat32(
        entryFromTypedArray("F32", [2], big.subarray(1, 3)),
      ),
    );
  });
});

Deno.test("safetensors byte-exact layout (Python safetensors 0.8.0 output)", async (t) => {
  await t.step("one F32 tensor: length, JSON, space padding, data", () => {
    const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 54 bytes
    const expected = new Uint8Array([
      56,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // header length, u64 little-endian, padded up to 8k
      ...text.encode(header),
      0x20,
      0x20, // padding
      0x00,
      0x00,
      0x80,
      0x3f, // 1.0f
    ]);
    assert.deepEqual(encodeSafetensors({ w: f32([1], [1]) }), expected);
  });

  await t.step("empty file and empty metadata", () => {
    assert.deepEqual(
      encodeSafetensors({}),
      new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, ...text.encode("{}      ")]),
    );
    // Python 0.8.0 writes broken JSON here ('{},"__metadata__":{}}'); we write the valid form.
    const withMeta = encodeSafetensors({}, {});
    assert.equal(new TextDecoder().decode(withMeta.subarray(8)), '{"__metadata__":{}}     ');
    assert.deepEqual(decodeSafetensors(withMeta), { tensors: {}, metadata: {} });
    assert.deepEqual(
      encodeSafetensors({ x: f32([1], [0]) }, {}),
      raw('{"__metadata__":{},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4),
    );
  });

  await t.step("metadata first, widest dtype first, then name", () => {
    const bytes = encodeSafetensors({
      b: f32([2], [1, 2]),
      a: entryFromTypedArray("U8", [], new Uint8Array([7])),
      c: entryFromTypedArray("I64", [0, 3], new BigInt64Array(0)),
      d: entryFromTypedArray("F16", [1], new Float32Array([1.5])),
    }, { z: "1", a: "x" });
    const header = '{"__metadata__":{"a":"x","z":"1"},' +
      '"c":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"d":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},' +
      '"a":{"dtype":"U8","shape":[],"data_offsets":[10,11]}}' + " ".repeat(7);
    assert.equal(header.length, 256);
    assert.deepEqual(
      bytes,
      new Uint8Array([...le64(256), ...text.encode(header), ...hex("0000803f00000040003e07")]),
    );
  });

  await t.step("all 13 dtypes, and names ordered by code point like Rust", () => {
    const rows = [
      '"m_u64":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}',
      '"l_i64":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}',
      '"k_f64":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}',
      '"j_f32":{"dtype":"F32","shape":[],"data_offsets":[24,28]}',
      '"\uff5e":{"dtype":"F32","shape":[0],"data_offsets":[28,28]}',
      '"\u{1F600}":{"dtype":"F32","shape":[0],"data_offsets":[28,28]}',
      '"i_u32":{"dtype":"U32","shape":[1],"data_offsets":[28,32]}',
      '"h_i32":{"dtype":"I32","shape":[1],"data_offsets":[32,36]}',
      '"g_bf16":{"dtype":"BF16","shape":[1],"data_offsets":[36,38]}',
      '"f_f16":{"dtype":"F16","shape":[1],"data_offsets":[38,40]}',
      '"e_u16":{"dtype":"U16","shape":[1],"data_offsets":[40,42]}',
      '"d_i16":{"dtype":"I16","shape":[1],"data_offsets":[42,44]}',
      '"c_i8":{"dtype":"I8","shape":[1],"data_offsets":[44,45]}',
      '"b_u8":{"dtype":"U8","shape":[1],"data_offsets":[45,46]}',
      '"a_bool":{"dtype":"BOOL","shape":[2],"data_offsets":[46,48]}',
    ];
    const header = `{"__metadata__":{"format":"pt"},${rows.join(",")}}  `;
    const data = "0400000000000000feffffffffffffff000000000000f03f0000c03f03000000ffffffff" +
      "803f003c0200018080ff0100";
    const expected = new Uint8Array([...le64(912), ...text.encode(header), ...hex(data)]);
    assert.equal(expected.length, 968);
    const { tensors, metadata } = decodeSafetensors(expected);
    assert.deepEqual(metadata, { format: "pt" });
    assert.deepEqual(entryToFloat32(tensors.g_bf16), new Float32Array([1]));
    assert.deepEqual(entryToFloat32(tensors.f_f16), new Float32Array([1]));
    assert.deepEqual(entryToFloat32(tensors.j_f32), new Float32Array([1.5]));
    assert.deepEqual(entryToTypedArray(tensors.l_i64), new BigInt64Array([-2n]));
    assert.deepEqual(entryToTypedArray(tensors.d_i16), new Int16Array([-32767]));
    // Re-encoding in a different insertion order reproduces the Python bytes exactly.
    const reversed = Object.fromEntries(Object.entries(tensors).reverse());
    assert.deepEqual(encodeSafetensors(reversed, metadata), expected);
  });
});

Deno.test("safetensors metadata round trip", async (t) => {
  await t.step("strings with escapes, non-ASCII and odd keys survive", () => {
    const meta: Record<string, string> = {
      format: "pt",
      'k"\\': "a\nb\u0001\u007f/\u2028",
      "é": "😀",
    };
    // An own "__proto__" key (an object literal would set the prototype instead).
    Object.defineProperty(meta, "__proto__", { value: "p", enumerable: true });
    const back = decodeSafetensors(encodeSafetensors({ w: f32([1], [1]) }, meta)).metadata;
    assert.deepEqual(
      Object.entries(back),
      Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
  });

  await t.step("a tensor named __proto__ is an own property", () => {
    const file = raw('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1);
    const { tensors } = decodeSafetensors(file);
    assert.deepEqual(Object.keys(tensors), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(tensors), Object.prototype);
    const again = decodeSafetensors(encodeSafetensors(tensors)).tensors;
    assert.ok(Object.hasOwn(again, "__proto__"));
    assert.deepEqual(again.__proto__.data, new Uint8Array(1));
  });

  await t.step("null metadata reads as empty (Python accepts it)", () => {
    assert.deepEqual(decodeSafetensors(raw('{"__metadata__":null}')).metadata, {});
  });

  await t.step("encoder rejects non-string metadata and bad names", () => {
    const w = f32([1], [1]);
    rejects("metadata-not-strings", () => encodeSafetensors({ w }, { n: 1 as unknown as string }));
    rejects("metadata-not-strings", () => encodeSafetensors({ w }, { k: "\ud800" }));
    rejects("bad-name", () => encodeSafetensors({ __metadata__: w }));
    rejects("bad-name", () => encodeSafetensors({ ["bad\udc00"]: w }));
    rejects(
      "data-size-mismatch",
      () => encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Uint8Array(4) } }),
      /"w".*8.*4/,
    );
    // The elements themselves rather than their bytes: the message says so (it once read
    // "expected 8 data bytes, got 8").
    const floats = new Float32Array([1, 2]) as unknown as Uint8Array;
    rejects(
      "data-size-mismatch",
      () => encodeSafetensors({ w: { dtype: "F32", shape: [2], data: floats } }),
      /"w": data must be a Uint8Array of its bytes, got Float32Array \(entryFromTypedArray/,
    );
    rejects(
      "unknown-dtype",
      () => encodeSafetensors({ w: { dtype: "F8" as "F32", shape: [1], data: new Uint8Array(1) } }),
    );
    rejects(
      "bad-shape",
      () => encodeSafetensors({ w: { dtype: "U8", shape: [0.5], data: new Uint8Array(0) } }),
    );
  });
});

Deno.test("safetensors rejects malformed files", async (t) => {
  const entry = (dtype: string, shape: unknown, offsets: unknown) =>
    `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${
      JSON.stringify(offsets)
    }}`;
  const good = `{"a":${entry("F32", [2], [0, 8])}}`;

  await t.step("sanity: the well-formed base case decodes", () => {
    assert.deepEqual(decodeSafetensors(raw(good, 8)).tensors.a.shape, [2]);
    // Leading/trailing JSON whitespace is fine, as in Python.
    assert.equal(Object.keys(decodeSafetensors(raw(` \n${good}\t `, 8)).tensors).length, 1);
  });

  await t.step("truncated files", () => {
    rejects("file-length", () => decodeSafetensors(new Uint8Array(0)));
    rejects("file-length", () => decodeSafetensors(new Uint8Array(7)), /7 bytes/);
    rejects("file-length", () => decodeSafetensors(raw(good, 5)), /cover 8 .* holds 5/);
    rejects("file-length", () => decodeSafetensors(raw(good, 9)), /cover 8 .* holds 9/);
  });

  await t.step("header length beyond the file", () => {
    const bytes = raw(good, 8);
    rejects("header-length", () => decodeSafetensors(bytes.subarray(0, 20)), /header length 54/);
    const huge = new Uint8Array([...le64(0), 0x7b, 0x7d]);
    new DataView(huge.buffer).setBigUint64(0, 1n << 62n, true);
    rejects("header-too-large", () => decodeSafetensors(huge));
  });

  await t.step("oversized header", () => {
    rejects(
      "header-too-large",
      () => decodeSafetensors(raw(good, 8), { maxHeaderBytes: 53 }),
      /54.*53/,
    );
    assert.ok(decodeSafetensors(raw(good, 8), { maxHeaderBytes: 54 }));
  });

  await t.step("invalid header text", () => {
    rejects("header-json", () => decodeSafetensors(raw("{")));
    rejects("header-json", () => decodeSafetensors(raw("")));
    rejects("header-json", () => decodeSafetensors(raw('{"a":1}\0')));
    rejects("header-json", () => decodeSafetensors(raw("\ufeff{}"))); // no BOM in JSON
    const badUtf8 = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0x22, 0xff]);
    rejects("header-utf8", () => decodeSafetensors(badUtf8));
    rejects("header-not-object", () => decodeSafetensors(raw("[]")));
    rejects("header-not-object", () => decodeSafetensors(raw("null")));
    rejects(
      "duplicate-name",
      () =>
        decodeSafetensors(
          raw(`{"a":${entry("F32", [1], [0, 4])},"a":${entry("F32", [1], [4, 8])}}`, 8),
        ),
      /"a"/,
    );
    rejects(
      "duplicate-name",
      () => decodeSafetensors(raw('{"__metadata__":{},"__metadata__":{}}')),
    );
    // Nested repeated keys are not top-level duplicates: this fails later, on the field.
    rejects("bad-entry", () => decodeSafetensors(raw('{"a":{"x":{"k":1},"y":{"k":1}}}')));
  });

  await t.step("bad entries", () => {
    rejects(
      "unknown-dtype",
      () => decodeSafetensors(raw(`{"a":${entry("F8_E4M3", [1], [0, 1])}}`, 1)),
      /"a".*F8_E4M3/,
    );
    rejects("unknown-dtype", () => decodeSafetensors(raw(`{"a":${entry("f32", [1], [0, 4])}}`, 4)));
    rejects("bad-entry", () => decodeSafetensors(raw('{"a":[1]}')));
    rejects(
      "bad-entry",
      () => decodeSafetensors(raw(`{"a":${entry("F32", [1], [0, 4]).slice(0, -1)},"x":1}}`, 4)),
    );
    rejects("bad-shape", () => decodeSafetensors(raw(`{"a":${entry("F32", [-1], [0, 4])}}`, 4)));
    rejects("bad-shape", () => decodeSafetensors(raw(`{"a":${entry("F32", [1.5], [0, 4])}}`, 4)));
    rejects("bad-shape", () => decodeSafetensors(raw(`{"a":${entry("F32", "1", [0, 4])}}`, 4)));
    rejects(
      "bad-shape",
      () => decodeSafetensors(raw(`{"a":${entry("F32", [2 ** 30, 2 ** 30], [0, 4])}}`, 4)),
    );
    rejects("bad-offsets", () => decodeSafetensors(raw(`{"a":${entry("F32", [1], [4, 0])}}`, 4)));
    rejects("bad-offsets", () => decodeSafetensors(raw(`{"a":${entry("F32", [1], [4])}}`, 4)));
    rejects("bad-offsets", () => decodeSafetensors(raw(`{"a":${entry("F32", [1], [-4, 0])}}`, 4)));
  });

  await t.step("shape/offset size mismatch", () => {
    rejects(
      "offsets-size-mismatch",
      () => decodeSafetensors(raw(`{"a":${entry("F32", [3], [0, 8])}}`, 8)),
      /"a".*\[0, 8\].*8 bytes.*F32.*\[3\].*12/,
    );
  });

  await t.step("overlapping and gapped offsets", () => {
    const two = (o1: number[], o2: number[], n: number) =>
      raw(`{"a":${entry("F32", [1], o1)},"b":${entry("F32", [1], o2)}}`, n);
    rejects(
      "offsets-gap-or-overlap",
      () => decodeSafetensors(two([0, 4], [2, 6], 6)),
      /"b".*2.*"a".*4.*overlap/,
    );
    rejects("offsets-gap-or-overlap", () => decodeSafetensors(two([0, 4], [0, 4], 4)), /overlap/);
    rejects(
      "offsets-gap-or-overlap",
      () => decodeSafetensors(two([0, 4], [8, 12], 12)),
      /"b".*8.*"a".*4.*gap/,
    );
    rejects(
      "offsets-gap-or-overlap",
      () => decodeSafetensors(two([4, 8], [8, 12], 12)),
      /start of the data/,
    );
    // An empty tensor inside another tensor's bytes is an overlap too (Python rejects it).
    const inside = `{"a":${entry("F32", [1], [0, 4])},"b":${entry("F32", [0], [2, 2])}}`;
    rejects("offsets-gap-or-overlap", () => decodeSafetensors(raw(inside, 4)));
    const edges = `{"a":${entry("F32", [1], [0, 4])},"b":${entry("F32", [0], [0, 0])},"c":${
      entry("F32", [0], [4, 4])
    }}`;
    assert.equal(Object.keys(decodeSafetensors(raw(edges, 4)).tensors).length, 3);
  });

  await t.step("non-string metadata", () => {
    rejects(
      "metadata-not-strings",
      () => decodeSafetensors(raw('{"__metadata__":{"a":1}}')),
      /"a"/,
    );
    rejects("metadata-not-strings", () => decodeSafetensors(raw('{"__metadata__":["a"]}')));
    rejects("metadata-not-strings", () => decodeSafetensors(raw('{"__metadata__":"a"}')));
  });
});

Deno.test("f16 and bf16 conversions match numpy and torch", async (t) => {
  const toF16 = (v: number[]) =>
    entryToTypedArray(entryFromTypedArray("F16", [v.length], new Float32Array(v)));
  const toBF16 = (bits: number[]) =>
    entryToTypedArray(
      entryFromTypedArray("BF16", [bits.length], new Float32Array(new Uint32Array(bits).buffer)),
    );

  await t.step("f32 -> f16 rounds to nearest even (vectors from numpy astype(float16))", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [1.5, 0x3e00],
      [-2.5, 0xc100],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519.98828125, 0x7bff],
      [65520, 0x7c00],
      [1e6, 0x7c00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [2.980232594040899e-8, 0x0001],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [6.1005353927612305e-5, 0x0400],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [0.1, 0x2e66],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [1e-10, 0x0000],
      [1e-45, 0x0000],
    ];
    assert.deepEqual(toF16(cases.map(([v]) => v)), new Uint16Array(cases.map(([, b]) => b)));
    const nan = toF16([NaN])[0] as number;
    assert.equal(nan & 0x7c00, 0x7c00);
    assert.notEqual(nan & 0x3ff, 0);
  });

  await t.step("every finite f16 survives f16 -> f32 -> f16", () => {
    const all = new Uint16Array(65536).map((_, i) => i).filter((b) =>
      (b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0
    );
    const entry = { dtype: "F16" as const, shape: [all.length], data: new Uint8Array(all.buffer) };
    assert.deepEqual(toF16([...entryToFloat32(entry)]), all);
  });

  await t.step("f32 -> bf16 rounds to nearest even, NaN stays NaN", () => {
    assert.deepEqual(
      toBF16([
        0x3f800000,
        0x3f808000,
        0x3f818000,
        0x3f808001,
        0x7f7fffff,
        0xff800000,
        0x7fc00001,
        0x7f800001,
      ]),
      new Uint16Array([0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0xff80, 0x7fc0, 0x7fc0]),
    );
  });
});

Deno.test("findNonFinite counts NaN and infinities in float tensors", () => {
  const bits = (a: number[]) => new Uint8Array(new Uint16Array(a).buffer);
  const found = findNonFinite({
    clean: f32([2], [1, -1e38]),
    w32: f32([4], [NaN, 1, Infinity, -Infinity]),
    w64: entryFromTypedArray("F64", [3], new Float64Array([1e308, NaN, 2])),
    h16: { dtype: "F16", shape: [3], data: bits([0x7c00, 0x7bff, 0xfe00]) },
    b16: { dtype: "BF16", shape: [2], data: bits([0x7f80, 0x7f7f]) },
    ints: entryFromTypedArray("I32", [1], new Int32Array([-1])), // all-ones bits, not a float
    mask: entryFromTypedArray("U8", [1], new Uint8Array([255])),
  });
  assert.deepEqual(found, [
    { name: "b16", count: 1 },
    { name: "h16", count: 2 },
    { name: "w32", count: 3 },
    { name: "w64", count: 1 },
  ]);
});

Deno.test("safetensors files", async (t) => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/model.safetensors`;
  const listing = async () => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

  await t.step("write then read; replacing leaves no temporary file", async () => {
    await writeSafetensorsFile(path, { w: f32([2], [1, 2]) }, { epoch: "1" });
    await writeSafetensorsFile(path, { w: f32([2], [3, 4]) }, { epoch: "2" });
    const { tensors, metadata } = await readSafetensorsFile(path);
    assert.deepEqual(metadata, { epoch: "2" });
    assert.deepEqual(entryToFloat32(tensors.w), new Float32Array([3, 4]));
    assert.deepEqual(
      await Deno.readFile(path),
      encodeSafetensors({ w: f32([2], [3, 4]) }, { epoch: "2" }),
    );
    assert.deepEqual(await listing(), ["model.safetensors"]);
  });

  await t.step("a failed save keeps the previous file intact", async () => {
    const before = await Deno.readFile(path);
    const bad = { w: { dtype: "F32" as const, shape: [3], data: new Uint8Array(4) } };
    await assert.rejects(writeSafetensorsFile(path, bad), SafetensorsError);
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual(await listing(), ["model.safetensors"]);
  });

  await t.step("a failed rename removes the temporary file", async () => {
    // A non-empty folder under the target name: the temp file is written and synced, then
    // the rename over it fails.
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/keep`, "x");
    await assert.rejects(writeSafetensorsFile(`${dir}/taken`, { w: f32([1], [1]) }));
    assert.deepEqual(await listing(), ["model.safetensors", "taken"]);
    assert.equal(await Deno.readTextFile(`${dir}/taken/keep`), "x");
  });

  await t.step("read errors name the path and the rule", async () => {
    const bad = `${dir}/bad.safetensors`;
    const check = async (bytes: Uint8Array, rule: string, opts?: { maxHeaderBytes: number }) => {
      await Deno.writeFile(bad, bytes);
      await assert.rejects(readSafetensorsFile(bad, opts), (e: unknown) => {
        assert.ok(e instanceof SafetensorsError);
        assert.equal(e.rule, rule);
        assert.ok(e.message.startsWith(`${bad}: `), e.message);
        return true;
      });
    };
    const good = encodeSafetensors({ w: f32([4], [1, 2, 3, 4]) });
    await check(good.subarray(0, 5), "file-length");
    await check(good.subarray(0, good.length - 1), "file-length");
    await check(good.subarray(0, 30), "header-length");
    await check(good, "header-too-large", { maxHeaderBytes: 8 });
    await check(
      raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":1}', 4),
      "bad-entry",
    );
    await assert.rejects(readSafetensorsFile(`${dir}/missing`), Deno.errors.NotFound);
    // A JSON file given by mistake: its first 8 bytes are an absurd length, and it says so.
    await Deno.writeTextFile(bad, '{\n "model": {"preset": "small"}\n}\n');
    await assert.rejects(
      readSafetensorsFile(bad),
      /bad\.safetensors: header length \d+ exceeds the limit of 100000000 bytes and the 34-byte file: not a safetensors file/,
    );
    // A folder: the path is named (Deno's own error, "Is a directory (os error 21)", names none).
    await assert.rejects(
      readSafetensorsFile(dir),
      (e: unknown) =>
        e instanceof Deno.errors.IsADirectory && e.message.startsWith(`${dir}: a folder`),
    );
    await Deno.remove(bad);
  });

  await Deno.remove(dir, { recursive: true });
});
